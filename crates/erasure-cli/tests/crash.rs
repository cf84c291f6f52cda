//! Crashes: the `erasure` process killed with SIGKILL again and again, on SQLite (a file),
//! PostgreSQL and MariaDB (the client process dies; the server goes on).
//!
//! Kills are aimed with the database's own view of open write transactions (see
//! `crash_support`): some right while the erasure's or a purge batch's write transaction is
//! seen open, some right after it closed, some at random delays. After every kill the server is
//! given time to end the dead client's session, then:
//!
//! * an erasure: the SQLite file passes `PRAGMA integrity_check`; the subject is either fully
//!   intact (the dump equals the template's) or fully erased (residue scan clean, exactly the
//!   rows an undisturbed erasure changes were changed), never in between; nobody else's rows
//!   changed. Across the run at least one kill landed inside an open write transaction that
//!   then rolled back, and both outcomes occurred.
//! * a purge: no row that retention, an excluded status or a missing mark keeps was touched;
//!   every due order is whole or gone with its lines and addresses (its promotion-code usages
//!   detached); nothing comes back. A last run deletes exactly the due orders left, and reports
//!   that number.
//!
//! CI runs 10 kills per test on SQLite and 7 on each server; `ERASURE_LONG=1` runs 50 and 20.

mod crash_support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone as _, Utc};
use crash_support::{Place, Template, Watch, column, fresh, int, rows_by_id};
use erasure::sql::{Condition, Select, Update};
use erasure::{Dialect, Value, ident};
use erasure_testkit::dump::{Change, Dump};
use erasure_testkit::residue::scan;
use erasure_testkit::{Owner, Seed, SeedConfig, Shape, TestBackend};

/// Kills per test: 10 on SQLite and 7 on a server, or 50 and 20 with `ERASURE_LONG=1`.
fn rounds(dialect: Dialect) -> u64 {
    let long = std::env::var("ERASURE_LONG").is_ok_and(|v| v == "1");
    match (long, dialect == Dialect::Sqlite) {
        (false, true) => 10,
        (false, false) => 7,
        (true, true) => 50,
        (true, false) => 20,
    }
}

/// A small deterministic generator for kill delays.
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % max.max(1)
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn spawn(args: &[&str], stderr: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(stderr).expect("stderr file"),
        ))
        .spawn()
        .expect("spawn")
}

/// Kills `child` (if it still runs) and reaps it. Returns whether the kill ended it; a process
/// that had already finished must have succeeded.
fn kill(child: &mut Child, stderr: &Path) -> bool {
    let _ = child.kill();
    let status: ExitStatus = child.wait().expect("reap");
    if status.signal() == Some(9) {
        return true;
    }
    assert!(
        status.success(),
        "the process failed on its own ({status}): {}",
        std::fs::read_to_string(stderr).unwrap_or_default()
    );
    false
}

/// Polls until a write transaction is seen open: `true`; `false` when the process ended first.
async fn until_open(watch: &mut Watch, child: &mut Child) -> bool {
    let started = Instant::now();
    loop {
        if watch.write_open().await {
            return true;
        }
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no transaction"
        );
        tokio::time::sleep(ms(1)).await;
    }
}

/// Polls until no write transaction is seen open, or the process ended.
async fn until_closed(watch: &mut Watch, child: &mut Child) {
    let started = Instant::now();
    while watch.write_open().await && child.try_wait().expect("wait").is_none() {
        assert!(started.elapsed() < Duration::from_secs(120), "never closed");
        tokio::time::sleep(ms(1)).await;
    }
}

/// How a round aims its kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aim {
    /// At a random point while the write transaction is seen open.
    Inside,
    /// The moment the write transaction is no longer seen open.
    AfterCommit,
    /// At a random delay after the start.
    Random,
}

async fn erasure_killed<DB: TestBackend>() {
    let Some(db) = fresh::<DB>(1).await else {
        return;
    };
    let began = Instant::now();
    let label = DB::LABEL;
    // A template shop with one large subject (5,000 orders: its erasure's write transaction
    // stays open long enough to be seen and killed) among ordinary ones.
    let seed = Seed::new(SeedConfig::new(40).with_override(
        17,
        Shape {
            orders: erasure_testkit::seed::Count::exactly(5_000),
            ..Shape::typical()
        },
    ));
    seed.insert(&db.pool).await.expect("seed");
    let template = Template::new(db).await;
    let big = seed.customer(17);
    let id = big.id.to_string();
    let logs = tempfile::tempdir().expect("dir");
    let log = logs.path().join("stderr");
    let erase = |url: &str| spawn(&["erase", "--db", url, "--customer", &id], &log);

    // An undisturbed erasure: how long the process runs, how long its write transaction is
    // seen open, and which rows it changes.
    let place = template.copy().await;
    let template_dump = place.dump::<DB>().await;
    let mut watch = place.watch().await;
    let started = Instant::now();
    let mut child = erase(&place.cli_url);
    let (mut first, mut last) = (None, None);
    let status = loop {
        if watch.write_open().await {
            let t = started.elapsed();
            first.get_or_insert(t);
            last = Some(t);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        tokio::time::sleep(ms(1)).await;
    };
    let whole = started.elapsed().as_millis() as u64;
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let (Some(first), Some(last)) = (first, last) else {
        panic!("{label}: the erasure's write transaction was never seen open");
    };
    let open = (last - first).as_millis() as u64;
    watch.settle().await;
    watch.close().await;
    let reference = template_dump.changes(&place.dump::<DB>().await);
    assert!(!reference.is_empty());
    place.remove().await;

    let rounds = rounds(DB::DIALECT);
    let mut delays = Delays(0x2545_f491_4f6c_dd1d);
    let (mut erased, mut intact, mut running) = (0, 0, 0);
    let (mut inside, mut inside_rolled_back) = (0, 0);
    for round in 0..rounds {
        let aim = [Aim::Inside, Aim::AfterCommit, Aim::Random][round as usize % 3];
        let place = template.copy().await;
        let mut watch = place.watch().await;
        let mut child = erase(&place.cli_url);
        let seen_open = match aim {
            Aim::Inside => {
                if until_open(&mut watch, &mut child).await {
                    tokio::time::sleep(ms(delays.next_ms(open * 3 / 4))).await;
                    watch.write_open().await
                } else {
                    false
                }
            }
            Aim::AfterCommit => {
                if until_open(&mut watch, &mut child).await {
                    until_closed(&mut watch, &mut child).await;
                }
                false
            }
            Aim::Random => {
                tokio::time::sleep(ms(delays.next_ms(whole * 5 / 4))).await;
                watch.write_open().await
            }
        };
        let killed = kill(&mut child, &log);
        watch.settle().await;
        watch.close().await;
        running += u32::from(killed);
        inside += u32::from(seen_open && killed);

        let now = place.dump::<DB>().await;
        if rows_by_id(&now, "customers").contains_key(&big.id) {
            assert_eq!(
                template_dump.diff(&now),
                None,
                "{label} round {round} ({aim:?}): the subject exists, so nothing may have changed"
            );
            intact += 1;
            inside_rolled_back += u32::from(seen_open && killed);
        } else {
            let pool = place.pool::<DB>().await;
            let mut conn = pool.acquire().await.expect("conn");
            let residue = scan::<DB>(&mut conn, &big.needles()).await.expect("scan");
            drop(conn);
            pool.close().await;
            assert!(
                residue.is_clean(),
                "{label} round {round} ({aim:?}): half erased: {residue}"
            );
            let changes = template_dump.changes(&now);
            for change in &changes {
                let id: i64 = change.key.parse().expect("id");
                assert_eq!(
                    seed.owner(&change.table, id),
                    Some(Owner::Customer(big.id)),
                    "{label} round {round} ({aim:?}): {change:?}"
                );
            }
            assert_eq!(
                changes, reference,
                "{label} round {round} ({aim:?}): not the rows an undisturbed erasure changes"
            );
            erased += 1;
        }
        place.remove().await;
    }
    eprintln!(
        "{label}: {rounds} kills of an erasure ({whole} ms undisturbed, write transaction seen \
         open for {open} ms); {running} ended the process, {inside} right after its write \
         transaction was seen open ({inside_rolled_back} of these rolled back); {erased} \
         erasures had committed, {intact} had not; none half-way; {:.0} s",
        began.elapsed().as_secs_f64()
    );
    assert!(
        inside_rolled_back > 0,
        "{label}: no kill landed inside an open write transaction that then rolled back"
    );
    assert!(
        erased > 0 && intact > 0,
        "{label}: both outcomes must occur ({erased} committed, {intact} not)"
    );
}

/// Why a seeded order is in the purge test's shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Marked, past retention, not in an excluded status: the purge deletes it.
    Due,
    /// Marked and past retention, but PENDING, MANUAL_INTERVENTION_NEEDED or EXPORTFAILED.
    Excluded,
    /// Marked and not excluded, but ordered 400 days ago: retention (6 years) keeps it.
    Retained,
    /// Past retention and not excluded, but not marked `to_be_deleted`.
    Unmarked,
}

const EXCLUDED: [&str; 3] = ["PENDING", "MANUAL_INTERVENTION_NEEDED", "EXPORTFAILED"];

/// Sorts the seeded orders into the four kinds by id (`id % 8`: 0–3 due, 4 excluded, 5 within
/// retention, 6 unmarked, 7 marked and old with the status the seed drew: due or excluded).
async fn sort_orders<DB: TestBackend>(pool: &sqlx::Pool<DB>) -> BTreeMap<i64, Kind> {
    let mut conn = pool.acquire().await.expect("conn");
    let orders = ident!("orders");
    let rows = DB::fetch_all(
        &mut conn,
        &Select::columns(orders.clone(), [ident!("id"), ident!("status")]).to_sql(),
    )
    .await
    .expect("orders");
    let old: Value = Utc
        .with_ymd_and_hms(2001, 1, 1, 0, 0, 0)
        .single()
        .expect("date")
        .into();
    let recent: Value = (Utc::now().date_naive() - chrono::Days::new(400))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .into();
    let mut kinds = BTreeMap::new();
    // (to_be_deleted, ordered_at, new status or none) → ids
    let mut updates: BTreeMap<(bool, bool, Option<&str>), Vec<Value>> = BTreeMap::new();
    for row in rows {
        let id = int(row.get("id").expect("id")).expect("id");
        let status = match row.get("status") {
            Some(Value::Text(s)) => s.clone(),
            other => panic!("status: {other:?}"),
        };
        let excluded = EXCLUDED.contains(&status.as_str());
        let (kind, marked, is_old, new_status) = match id % 8 {
            0..=3 => (Kind::Due, true, true, excluded.then_some("COMPLETED")),
            4 => (
                Kind::Excluded,
                true,
                true,
                Some(EXCLUDED[(id / 8 % 3) as usize]),
            ),
            5 => (Kind::Retained, true, false, None),
            6 => (Kind::Unmarked, false, true, None),
            _ if excluded => (Kind::Excluded, true, true, None),
            _ => (Kind::Due, true, true, None),
        };
        kinds.insert(id, kind);
        updates
            .entry((marked, is_old, new_status))
            .or_default()
            .push(Value::Int(id));
    }
    for ((marked, is_old, status), ids) in updates {
        for chunk in ids.chunks(500) {
            let mut update = Update::new(
                orders.clone(),
                Condition::is_in(ident!("id"), chunk.to_vec()),
            )
            .set(ident!("to_be_deleted"), marked)
            .set(
                ident!("ordered_at"),
                if is_old { old.clone() } else { recent.clone() },
            );
            if let Some(s) = status {
                update = update.set(ident!("status"), s);
            }
            DB::execute(&mut conn, &update.to_sql())
                .await
                .expect("update");
        }
    }
    kinds
}

/// What the purge may do to each due order: delete its lines and addresses, detach its
/// promotion-code usages, delete it.
struct Orders {
    kinds: BTreeMap<i64, Kind>,
    /// Child row (`table`, id) → its order.
    parent: BTreeMap<(&'static str, i64), i64>,
    /// Order → how many child rows it has (lines, addresses, usages).
    children: BTreeMap<i64, usize>,
}

impl Orders {
    fn of(kinds: BTreeMap<i64, Kind>, initial: &Dump) -> Self {
        let mut parent = BTreeMap::new();
        let mut children = BTreeMap::new();
        for table in ["order_lines", "order_addresses", "promotion_code_usages"] {
            let at = column(initial, table, "order_id");
            for (id, row) in rows_by_id(initial, table) {
                if let Some(order) = int(&row[at]) {
                    parent.insert((table, id), order);
                    *children.entry(order).or_insert(0) += 1;
                }
            }
        }
        Self {
            kinds,
            parent,
            children,
        }
    }

    fn due(&self, order: i64) -> bool {
        self.kinds.get(&order) == Some(&Kind::Due)
    }

    /// Checks what a purge left in `now` against `initial` and returns the orders it deleted.
    /// Panics if a row that must stay was touched, or a due order is half purged.
    fn purged(&self, initial: &Dump, now: &Dump, what: &str) -> BTreeSet<i64> {
        let usages_now = rows_by_id(now, "promotion_code_usages");
        let usages_then = rows_by_id(initial, "promotion_code_usages");
        let at = column(initial, "promotion_code_usages", "order_id");
        let mut gone = BTreeSet::new();
        let mut undone: BTreeMap<i64, usize> = BTreeMap::new();
        for change in initial.changes(now) {
            let id: i64 = change.key.parse().expect("id");
            let table = change.table.as_str();
            let parent = ["order_lines", "order_addresses", "promotion_code_usages"]
                .into_iter()
                .find(|t| *t == table)
                .and_then(|t| self.parent.get(&(t, id)).copied());
            match (table, change.change, parent) {
                ("orders", Change::Removed, _) if self.due(id) => {
                    gone.insert(id);
                }
                ("order_lines" | "order_addresses", Change::Removed, Some(order))
                    if self.due(order) =>
                {
                    *undone.entry(order).or_insert(0) += 1;
                }
                ("promotion_code_usages", Change::Changed, Some(order)) if self.due(order) => {
                    let mut detached = usages_then[&id].clone();
                    detached[at] = Value::Null;
                    assert_eq!(
                        usages_now.get(&id),
                        Some(&detached),
                        "{what}: usage {id} changed otherwise than detached"
                    );
                    *undone.entry(order).or_insert(0) += 1;
                }
                _ => panic!(
                    "{what}: {change:?} touches a row the purge must not touch (the kind of \
                     its order: {:?})",
                    parent
                        .or((table == "orders").then_some(id))
                        .and_then(|order| self.kinds.get(&order))
                ),
            }
        }
        for (&order, kind) in &self.kinds {
            if *kind != Kind::Due {
                continue;
            }
            let expected = if gone.contains(&order) {
                self.children.get(&order).copied().unwrap_or(0)
            } else {
                0
            };
            assert_eq!(
                undone.get(&order).copied().unwrap_or(0),
                expected,
                "{what}: order {order} is half purged (gone: {})",
                gone.contains(&order)
            );
        }
        gone
    }
}

async fn purge_killed<DB: TestBackend>() {
    let Some(db) = fresh::<DB>(1).await else {
        return;
    };
    let began = Instant::now();
    let label = DB::LABEL;
    let rounds = rounds(DB::DIALECT);
    // About 14 due orders per customer; a killed run of the debug build deletes at most a few
    // hundred.
    let customers = 20 * rounds;
    Seed::new(SeedConfig::new(customers).shape(Shape::typical()))
        .insert(&db.pool)
        .await
        .expect("seed");
    let kinds = sort_orders(&db.pool).await;
    db.pool.close().await;
    let place = Place::of(&db);
    let initial = place.dump::<DB>().await;
    let orders = Orders::of(kinds, &initial);
    let count = |kind: Kind| orders.kinds.values().filter(|k| **k == kind).count();
    let due = count(Kind::Due);
    for kind in [Kind::Excluded, Kind::Retained, Kind::Unmarked] {
        assert!(count(kind) > 0, "{kind:?}: none seeded");
    }
    let statuses: BTreeSet<String> = {
        let at = column(&initial, "orders", "status");
        initial
            .table("orders")
            .expect("orders")
            .rows
            .iter()
            .filter(|r| orders.kinds.get(&int(&r[0]).expect("id")) == Some(&Kind::Excluded))
            .map(|r| erasure_testkit::dump::show(&r[at]))
            .collect()
    };
    assert_eq!(
        statuses.len(),
        EXCLUDED.len(),
        "every excluded status seeded"
    );

    let logs = tempfile::tempdir().expect("dir");
    let log = logs.path().join("stderr");
    let mut delays = Delays(0x9e37_79b9_7f4a_7c15);
    let mut gone = BTreeSet::new();
    let (mut kills, mut running, mut inside, mut progressed) = (0, 0, 0, 0);
    for round in 0..rounds {
        let aim = if round % 2 == 0 {
            Aim::Inside
        } else {
            Aim::Random
        };
        let mut watch = place.watch().await;
        let mut child = spawn(
            &[
                "jobs",
                "run",
                "--db",
                &place.cli_url,
                "--only",
                "order-purge",
                "--batch",
                "5",
            ],
            &log,
        );
        let seen_open = if aim == Aim::Inside {
            // Past a few batches, then the moment one is seen open.
            until_open(&mut watch, &mut child).await && {
                tokio::time::sleep(ms(delays.next_ms(100))).await;
                until_open(&mut watch, &mut child).await
            }
        } else {
            tokio::time::sleep(ms(20 + delays.next_ms(200))).await;
            watch.write_open().await
        };
        let killed = kill(&mut child, &log);
        watch.settle().await;
        watch.close().await;
        running += u32::from(killed);
        inside += u32::from(seen_open && killed);
        let now = place.dump::<DB>().await;
        let after = orders.purged(&initial, &now, &format!("{label} round {round} ({aim:?})"));
        assert!(
            gone.is_subset(&after),
            "{label} round {round}: deleted orders came back"
        );
        progressed += u32::from(after.len() > gone.len());
        kills += 1;
        gone = after;
        if due - gone.len() < due / 4 {
            // A fast machine (a release build): leave the last run enough to do.
            break;
        }
    }
    let left = due - gone.len();
    assert!(
        left > 0,
        "{label}: the killed runs finished the purge; nothing is left to check the last run on"
    );

    // Finish: exactly what is left is deleted, and reported.
    let out = Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args([
            "jobs",
            "run",
            "--db",
            &place.cli_url,
            "--only",
            "order-purge",
            "--batch",
            "20",
            "--json",
        ])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summaries: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summaries.as_array().map(Vec::len), Some(1));
    assert_eq!(summaries[0]["job"], "order-purge");
    assert_eq!(summaries[0]["rows"].as_u64(), Some(left as u64));
    let now = place.dump::<DB>().await;
    let finally = orders.purged(&initial, &now, &format!("{label} last run"));
    assert_eq!(finally.len(), due, "{label}: every due order is gone");
    assert!(gone.is_subset(&finally));
    let order_ids: BTreeSet<i64> = rows_by_id(&now, "orders").into_keys().collect();
    let lines = rows_by_id(&now, "order_lines");
    let at = column(&now, "order_lines", "order_id");
    let orphans = lines
        .values()
        .filter(|r| int(&r[at]).is_some_and(|o| !order_ids.contains(&o)))
        .count();
    assert_eq!(orphans, 0);
    let lines_of_kept = lines
        .values()
        .filter(|r| int(&r[at]).is_some_and(|o| !orders.due(o)))
        .count();
    assert!(lines_of_kept > 0);
    eprintln!(
        "{label}: purge of {due} due orders among {} (kept: {} excluded by status, {} within \
         retention, {} unmarked) survived {kills} kills; {running} ended the process, {inside} \
         right after a batch's write transaction was seen open, {progressed} after batches had \
         committed; {left} were left for the last run, which deleted and reported {left}; \
         nothing kept was touched; {:.0} s",
        orders.kinds.len(),
        count(Kind::Excluded),
        count(Kind::Retained),
        count(Kind::Unmarked),
        began.elapsed().as_secs_f64()
    );
    assert!(
        inside > 0,
        "{label}: no kill landed while a batch's write transaction was seen open"
    );
    assert!(
        progressed > 0,
        "{label}: no killed run had committed a batch before its kill"
    );
}

mod an_erasure_killed_inside_and_around_its_transaction_leaves_all_or_nothing {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::erasure_killed::<sqlx::Sqlite>().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::erasure_killed::<sqlx::Postgres>().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        super::erasure_killed::<sqlx::MySql>().await;
    }
}

mod a_purge_killed_again_and_again_keeps_what_it_must_and_deletes_nothing_twice {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::purge_killed::<sqlx::Sqlite>().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::purge_killed::<sqlx::Postgres>().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        super::purge_killed::<sqlx::MySql>().await;
    }
}
