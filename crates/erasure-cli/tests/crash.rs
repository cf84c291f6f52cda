//! Crashes: the `erasure` process killed with SIGKILL at random points, again and again.
//!
//! After every kill the SQLite file passes `PRAGMA integrity_check`, and the subject is either
//! fully erased or fully intact, never in between. A purge job killed again and again resumes,
//! deletes nothing twice and nothing excluded.
//!
//! CI runs a short budget (10 kills each); `ERASURE_LONG=1` runs 50.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use erasure_testkit::dump::{Dump, dump};
use erasure_testkit::residue::scan;
use erasure_testkit::{Owner, Seed, SeedConfig, Shape, TestDb};

fn rounds() -> u64 {
    if std::env::var("ERASURE_LONG").is_ok_and(|v| v == "1") {
        50
    } else {
        10
    }
}

/// A small deterministic generator for kill delays.
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % max
    }
}

async fn open(path: &Path) -> sqlx::SqlitePool {
    erasure::sqlite::open(&format!("sqlite://{}", path.display()), 1)
        .await
        .expect("open")
}

async fn dump_of(pool: &sqlx::SqlitePool) -> Dump {
    let mut conn = pool.acquire().await.expect("conn");
    dump::<sqlx::Sqlite>(&mut conn).await.expect("dump")
}

fn copy_database(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy the template");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", to.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_killed_at_random_points_leaves_all_or_nothing() {
    // A template shop with one large subject (15,000 orders: its erasure takes long enough for
    // kills to land inside it) among ordinary ones.
    let db = TestDb::sqlite_file(1).await.expect("db");
    let seed = Seed::new(SeedConfig::new(40).with_override(
        17,
        Shape {
            orders: erasure_testkit::seed::Count::exactly(15_000),
            ..Shape::typical()
        },
    ));
    seed.insert(&db.pool).await.expect("seed");
    let template_dump = dump_of(&db.pool).await;
    let mut conn = db.pool.acquire().await.expect("conn");
    erasure::sqlite::checkpoint(&mut conn)
        .await
        .expect("checkpoint");
    drop(conn);
    db.pool.close().await;
    let template = db.path().expect("file");
    let big = seed.customer(17);

    let dir = tempfile::tempdir().expect("dir");
    // How long a whole run takes here (debug or release, this machine): kills are spread over
    // that time and a bit beyond, so some land before, inside and after the transaction.
    let timing = dir.path().join("timing.db");
    copy_database(&template, &timing);
    let started = std::time::Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args([
            "erase",
            "--db",
            &format!("sqlite://{}", timing.display()),
            "--customer",
            &big.id.to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .expect("run");
    assert!(status.success());
    let whole = started.elapsed().as_millis() as u64;
    let mut delays = Delays(0x2545_f491_4f6c_dd1d);
    let (mut erased, mut intact) = (0, 0);
    for round in 0..rounds() {
        let path = dir.path().join(format!("crash-{round}.db"));
        copy_database(&template, &path);
        let url = format!("sqlite://{}", path.display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_erasure"))
            .args(["erase", "--db", &url, "--customer", &big.id.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        tokio::time::sleep(Duration::from_millis(delays.next_ms(whole * 5 / 4))).await;
        let _ = child.kill();
        child.wait().expect("reap");

        let pool = open(&path).await;
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .expect("check");
        assert_eq!(check, "ok", "round {round}");
        let customers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE id = ?")
            .bind(big.id)
            .fetch_one(&pool)
            .await
            .expect("count");
        let now = dump_of(&pool).await;
        if customers == 1 {
            assert_eq!(
                template_dump.diff(&now),
                None,
                "round {round}: the subject exists, so nothing may have changed"
            );
            intact += 1;
        } else {
            let mut conn = pool.acquire().await.expect("conn");
            let residue = scan::<sqlx::Sqlite>(&mut conn, &big.needles())
                .await
                .expect("scan");
            assert!(residue.is_clean(), "round {round}: half erased: {residue}");
            for change in template_dump.changes(&now) {
                let id: i64 = change.key.parse().expect("id");
                assert_eq!(
                    seed.owner(&change.table, id),
                    Some(Owner::Customer(big.id)),
                    "round {round}: {change:?}"
                );
            }
            erased += 1;
        }
        pool.close().await;
        let _ = std::fs::remove_file(&path);
    }
    eprintln!(
        "{} kills over {whole} ms runs: {erased} erasures had committed, {intact} had not; none half-way",
        rounds()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_killed_again_and_again_resumes_and_deletes_nothing_twice() {
    let db = TestDb::sqlite_file(1).await.expect("db");
    Seed::new(SeedConfig::new(600).shape(Shape::typical()))
        .insert(&db.pool)
        .await
        .expect("seed");
    sqlx::query("UPDATE orders SET to_be_deleted = 1, ordered_at = '2001-01-01T00:00:00+00:00'")
        .execute(&db.pool)
        .await
        .expect("mark");
    let eligible_sql = "SELECT COUNT(*) FROM orders WHERE status NOT IN ('PENDING', 'MANUAL_INTERVENTION_NEEDED', 'EXPORTFAILED')";
    let excluded_sql = "SELECT COUNT(*) FROM orders WHERE status IN ('PENDING', 'MANUAL_INTERVENTION_NEEDED', 'EXPORTFAILED')";
    let excluded_lines_sql =
        "SELECT COUNT(*) FROM order_lines WHERE order_id IN (SELECT id FROM orders)";
    let count = |sql: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .expect(sql)
        }
    };
    let eligible = count(eligible_sql).await;
    let excluded = count(excluded_sql).await;
    let url = db.connect_url().to_owned();
    let mut delays = Delays(0x9e37_79b9_7f4a_7c15);
    let mut left = eligible;
    let mut kills = 0;
    for _ in 0..rounds() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_erasure"))
            .args([
                "jobs",
                "run",
                "--db",
                &url,
                "--only",
                "order-purge",
                "--batch",
                "5",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        tokio::time::sleep(Duration::from_millis(20 + delays.next_ms(80))).await;
        let _ = child.kill();
        child.wait().expect("reap");
        kills += 1;
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&db.pool)
            .await
            .expect("check");
        assert_eq!(check, "ok");
        let now = count(eligible_sql).await;
        assert!(now <= left, "rows came back");
        assert_eq!(
            count(excluded_sql).await,
            excluded,
            "nothing excluded deleted"
        );
        left = now;
        if left == 0 {
            break;
        }
    }
    // Finish: exactly what is left is deleted.
    let out = Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args([
            "jobs",
            "run",
            "--db",
            &url,
            "--only",
            "order-purge",
            "--batch",
            "20",
            "--json",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let summaries: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summaries[0]["rows"].as_i64(), Some(left));
    assert_eq!(count(eligible_sql).await, 0);
    assert_eq!(count(excluded_sql).await, excluded);
    let lines_of_kept: i64 = count(excluded_lines_sql).await;
    let orphans: i64 =
        count("SELECT COUNT(*) FROM order_lines WHERE order_id NOT IN (SELECT id FROM orders)")
            .await;
    assert_eq!(orphans, 0);
    assert!(lines_of_kept > 0);
    eprintln!(
        "purge of {eligible} orders survived {kills} kills; {left} were left for the last run"
    );
}
