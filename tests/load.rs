//! Load: orders keep arriving for other customers while 1,000 customers are erased, and some
//! arrive for exactly the customers whose erasure is running at that moment.
//!
//! The rule for an erased customer: once the erasure committed, the customer row is gone, so the
//! database refuses any new row that refers to it (foreign keys). An order that races the
//! erasure either commits first and is anonymized with the others, or commits after the orders
//! were anonymized and makes the erasure fail on its foreign key at position 100 (everything
//! rolls back; the retry anonymizes it too), or is refused on its foreign key. It never
//! deadlocks with the erasure: the erasure locks the customer and user rows before any handler
//! writes (the customer handler's prepare step), in the order an insert's foreign-key checks
//! lock them, so a racing insert waits for the erasure instead. Nobody gains personal rows
//! unnoticed, and no other error is acceptable: a deadlock, a lock timeout or a refusal of
//! another kind fails the test.

mod support;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use erasure::sql::{Condition, Insert, Select};
use erasure::{Backend, DatabaseError, Dialect, Erasure, HandlerError, Ident, Value, ident};
use erasure_testkit::{Needle, SeedConfig, TestBackend, TestDb};
use support::{Shop, backend_tests, count};

const ERASED: u64 = 1_000;
const ACTIVE: u64 = 200;
const INSERTERS: u64 = 4;
/// The ids of the orders this test inserts start here, above every seeded id.
const FIRST_ORDER: i64 = 1_000_000_000_000;
/// Attempts of one erasure before the test gives up: each failed attempt lost to an order that
/// arrived after the orders were anonymized, and retries no longer race new orders.
const ATTEMPTS: u32 = 5;

/// A customer id and the id of their first user.
type Person = (i64, i64);

/// The email of the order with `id`: a personal value the erasure must anonymize when the order
/// belongs to an erased customer.
fn order_email(id: i64) -> String {
    format!("load-{id}@orders.example")
}

async fn insert_order<DB: Backend>(
    conn: &mut DB::Connection,
    id: i64,
    customer: i64,
    user: i64,
) -> Result<u64, sqlx::Error> {
    let mut insert = Insert::new(
        ident!("orders"),
        [
            "id",
            "order_no",
            "customer_id",
            "user_id",
            "email",
            "status",
            "currency",
            "total_cents",
            "ordered_at",
        ]
        .map(|c| Ident::new(c).expect("ident")),
    );
    insert.row([
        id.into(),
        format!("LOAD-{id}").into(),
        customer.into(),
        user.into(),
        order_email(id).into(),
        "PENDING".into(),
        "EUR".into(),
        990.into(),
        Value::Timestamp(chrono::Utc::now()),
    ]);
    DB::execute(conn, &insert.to_sql()).await
}

/// Which foreign-key refusal: a new row whose parent is gone, or a delete of a parent that a
/// row still refers to.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    NoParent,
    StillReferenced,
}

/// Panics unless `e` is exactly the foreign-key refusal `which`: the driver's kind and the
/// database's own code (SQLSTATE 23503 on PostgreSQL, the extended result code
/// `SQLITE_CONSTRAINT_FOREIGNKEY` = 787 on SQLite, errno 1452 or 1451 on MySQL). A lock timeout,
/// a deadlock or anything else fails. The message shows the masked error only.
fn assert_foreign_key_refusal<DB: Backend>(e: &DatabaseError, which: Refusal, what: &str) {
    assert_eq!(
        e.kind(),
        Some(sqlx::error::ErrorKind::ForeignKeyViolation),
        "{what}: not a foreign-key refusal: {e}"
    );
    match DB::DIALECT {
        Dialect::Postgres => assert_eq!(e.code().as_deref(), Some("23503"), "{what}: {e}"),
        Dialect::Sqlite => assert_eq!(e.code().as_deref(), Some("787"), "{what}: {e}"),
        Dialect::MySql => {
            let want = match which {
                Refusal::NoParent => 1452,
                Refusal::StillReferenced => 1451,
            };
            assert_eq!(mysql_errno(e), Some(want), "{what}: {e}");
        }
    }
}

/// Whether `e` is exactly a deadlock (SQLSTATE 40P01 on PostgreSQL, errno 1213 on MySQL; SQLite
/// has none, its writers queue).
fn is_deadlock<DB: Backend>(e: &DatabaseError) -> bool {
    match DB::DIALECT {
        Dialect::Postgres => e.code().as_deref() == Some("40P01"),
        Dialect::MySql => mysql_errno(e) == Some(1213),
        Dialect::Sqlite => false,
    }
}

/// PostgreSQL looks for a deadlock only once a lock wait has lasted `deadlock_timeout` (1 s by
/// default), and until then the erasure in the cycle waits too: the connections that send racing
/// orders look after 20 ms instead, so that a deadlock (which fails the test) shows at once
/// instead of stalling it. (A superuser setting: elsewhere the test only runs slower.)
async fn detect_deadlocks_early<DB: Backend>(conn: &mut DB::Connection) {
    if DB::DIALECT == Dialect::Postgres {
        let set = erasure::sql::Sql::new("SET deadlock_timeout = '20ms'");
        let _ = DB::execute(conn, &set).await;
    }
}

#[cfg(feature = "mysql")]
fn mysql_errno(e: &DatabaseError) -> Option<u16> {
    e.as_sqlx()
        .as_database_error()?
        .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .map(sqlx::mysql::MySqlDatabaseError::number)
}

#[cfg(not(feature = "mysql"))]
fn mysql_errno(_: &DatabaseError) -> Option<u16> {
    None
}

/// One erasure's time in flight: from just before `Chain::erase` was called to its return
/// (across retries).
struct Window {
    customer: i64,
    start: Instant,
    end: Instant,
}

/// An order insert for a customer whose erasure was running when the inserter picked it.
struct Race {
    customer: i64,
    order: i64,
    /// When the inserter issued it (before taking a pooled connection).
    issued: Instant,
    /// When the statement went to the database (a connection in hand).
    sent: Instant,
    outcome: Outcome,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Committed (and then anonymized by the erasure, or by its retry).
    Accepted,
    /// Refused on its foreign key: the customer was gone.
    Refused,
    /// Lost a deadlock to the erasure and rolled back (PostgreSQL, MySQL; see the module
    /// documentation).
    Deadlocked,
}

#[derive(Default)]
struct Tally {
    /// Orders for active customers, all accepted.
    active: u64,
    /// Orders for customers whose erasure had already returned, all refused.
    refused_after: u64,
    /// Ids of every order tried for an erased customer, accepted or not.
    tried_for_erased: Vec<i64>,
    races: Vec<Race>,
}

async fn orders_keep_arriving_while_customers_are_erased<DB: TestBackend>(db: TestDb<DB>) {
    let started = Instant::now();
    let shop = Shop::new(db, SeedConfig::new(ERASED + ACTIVE).guests(0)).await;
    let before = count(&shop.db.pool, Select::count(ident!("orders"))).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");

    // Every erased customer's values, found before the erasures: the residue check can fail.
    let mut needles: Vec<Needle> = Vec::new();
    let mut owner_of_needle: Vec<u64> = Vec::new();
    for i in 0..ERASED {
        for n in shop.seed.customer(i).needles() {
            needles.push(n);
            owner_of_needle.push(i);
        }
    }
    let found = support::residue_of_many(&shop.db.pool, &needles).await;
    let owners_found: std::collections::BTreeSet<u64> =
        found.keys().map(|&n| owner_of_needle[n]).collect();
    assert_eq!(
        owners_found.len() as u64,
        ERASED,
        "the scan finds every customer's values before the erasures"
    );

    let workers: u64 = if DB::LABEL == "sqlite" { 2 } else { 4 };
    // Per eraser: the customer (and user) whose erasure it is running right now.
    let in_flight: Arc<Vec<Mutex<Option<Person>>>> =
        Arc::new((0..workers).map(|_| Mutex::new(None)).collect());
    let erased_ids: Arc<Mutex<Vec<Person>>> = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let next_order = Arc::new(AtomicI64::new(FIRST_ORDER));
    // Inserters and erasers start together, so erasures begin with the inserts under way.
    let start = Arc::new(tokio::sync::Barrier::new((INSERTERS + workers) as usize));

    let mut inserters = Vec::new();
    for w in 0..INSERTERS {
        let (pool, done, in_flight, erased_ids, next_order, seed, start) = (
            shop.db.pool.clone(),
            done.clone(),
            in_flight.clone(),
            erased_ids.clone(),
            next_order.clone(),
            shop.seed.clone(),
            start.clone(),
        );
        inserters.push(tokio::spawn(async move {
            start.wait().await;
            let mut tally = Tally::default();
            let mut n = 0u64;
            while !done.load(Ordering::SeqCst) {
                n += 1;
                let id = next_order.fetch_add(1, Ordering::SeqCst);
                // Every fifth order for a customer whose erasure is running, if any is.
                let racing = if n.is_multiple_of(5) {
                    (0..workers)
                        .map(|s| (s + n / 5 + w) % workers)
                        .find_map(|s| *in_flight[s as usize].lock().expect("lock"))
                } else {
                    None
                };
                if let Some((customer, user)) = racing {
                    let issued = Instant::now();
                    let mut conn = pool.acquire().await.expect("a connection");
                    detect_deadlocks_early::<DB>(&mut conn).await;
                    let sent = Instant::now();
                    let outcome = match insert_order::<DB>(&mut conn, id, customer, user).await {
                        Ok(_) => Outcome::Accepted,
                        Err(e) => {
                            let e = DatabaseError::from(e);
                            if is_deadlock::<DB>(&e) {
                                Outcome::Deadlocked
                            } else {
                                assert_foreign_key_refusal::<DB>(
                                    &e,
                                    Refusal::NoParent,
                                    "an order racing an erasure",
                                );
                                Outcome::Refused
                            }
                        }
                    };
                    tally.tried_for_erased.push(id);
                    tally.races.push(Race {
                        customer,
                        order: id,
                        issued,
                        sent,
                        outcome,
                    });
                    continue;
                }
                // Now and then an order for a customer whose erasure already returned.
                if n % 10 == 1 {
                    let gone = {
                        let erased = erased_ids.lock().expect("lock");
                        (!erased.is_empty())
                            .then(|| erased[((n * 7_919 + w) % erased.len() as u64) as usize])
                    };
                    if let Some((customer, user)) = gone {
                        let mut conn = pool.acquire().await.expect("a connection");
                        let e = insert_order::<DB>(&mut conn, id, customer, user)
                            .await
                            .expect_err("an order for an erased customer was accepted");
                        assert_foreign_key_refusal::<DB>(
                            &DatabaseError::from(e),
                            Refusal::NoParent,
                            "an order for an erased customer",
                        );
                        tally.tried_for_erased.push(id);
                        tally.refused_after += 1;
                        continue;
                    }
                }
                let c = seed.customer(ERASED + (n * INSERTERS + w) % ACTIVE);
                let mut conn = pool.acquire().await.expect("a connection");
                insert_order::<DB>(&mut conn, id, c.id, c.users[0].id)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "an order for an active customer failed: {}",
                            DatabaseError::from(e)
                        )
                    });
                tally.active += 1;
            }
            tally
        }));
    }

    let next = Arc::new(AtomicU64::new(0));
    let retried = Arc::new(AtomicU64::new(0));
    let mut erasers = Vec::new();
    for slot in 0..workers as usize {
        let (chain, pool, next, seed, in_flight, erased_ids, retried, start) = (
            chain.clone(),
            shop.db.pool.clone(),
            next.clone(),
            shop.seed.clone(),
            in_flight.clone(),
            erased_ids.clone(),
            retried.clone(),
            start.clone(),
        );
        erasers.push(tokio::spawn(async move {
            start.wait().await;
            let mut windows = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= ERASED {
                    return windows;
                }
                let c = seed.customer(i);
                let begun = Instant::now();
                *in_flight[slot].lock().expect("lock") = Some((c.id, c.users[0].id));
                let mut attempt = 1;
                while let Err(e) = chain.erase(&pool, &Erasure::new(c.subject())).await {
                    // The only acceptable failure: an order committed after the orders were
                    // anonymized, so the customer's delete hit its foreign key.
                    assert_eq!(e.position(), Some(100), "customer index {i}: {e}");
                    match e.handler_error() {
                        Some(HandlerError::Database(db)) => assert_foreign_key_refusal::<DB>(
                            db,
                            Refusal::StillReferenced,
                            "an erasure",
                        ),
                        _ => panic!("customer index {i}: {e}"),
                    }
                    // Retry without new racing orders (those already sent may still land).
                    *in_flight[slot].lock().expect("lock") = None;
                    retried.fetch_add(1, Ordering::SeqCst);
                    attempt += 1;
                    assert!(attempt <= ATTEMPTS, "customer index {i}: {e}");
                }
                let end = Instant::now();
                *in_flight[slot].lock().expect("lock") = None;
                erased_ids.lock().expect("lock").push((c.id, c.users[0].id));
                windows.push(Window {
                    customer: c.id,
                    start: begun,
                    end,
                });
            }
        }));
    }
    let mut windows = std::collections::HashMap::new();
    for e in erasers {
        for w in e.await.expect("eraser") {
            windows.insert(w.customer, w);
        }
    }
    done.store(true, Ordering::SeqCst);
    let mut tally = Tally::default();
    for i in inserters {
        let t = i.await.expect("inserter");
        tally.active += t.active;
        tally.refused_after += t.refused_after;
        tally.tried_for_erased.extend(t.tried_for_erased);
        tally.races.extend(t.races);
    }
    assert_eq!(windows.len() as u64, ERASED);

    // The races happened: inserts issued, and sent, while their customer's erasure was running.
    let inside = |r: &Race, at: Instant| {
        let w = &windows[&r.customer];
        w.start <= at && at <= w.end
    };
    let issued_inside = tally.races.iter().filter(|r| inside(r, r.issued)).count();
    let sent_inside = tally.races.iter().filter(|r| inside(r, r.sent)).count();
    assert!(issued_inside > 0, "no insert raced a running erasure");
    if shop.db.pool.options().get_max_connections() > 1 {
        // With one connection (SQLite in memory) an insert waits for the erasure's connection.
        assert!(
            sent_inside > 0,
            "no insert reached the database mid-erasure"
        );
    }
    let with = |outcome: Outcome| tally.races.iter().filter(move |r| r.outcome == outcome);
    let accepted: Vec<i64> = with(Outcome::Accepted).map(|r| r.order).collect();
    let (refused, deadlocked) = (
        with(Outcome::Refused).count(),
        with(Outcome::Deadlocked).count(),
    );
    // The erasure locks the customer and its users before it writes: an insert waits for it.
    assert_eq!(
        deadlocked, 0,
        "an order insert deadlocked with a running erasure"
    );

    // No order lost: an erasure anonymizes orders, it deletes none.
    let after = count(&shop.db.pool, Select::count(ident!("orders"))).await;
    assert_eq!(after, before + tally.active as i64 + accepted.len() as i64);
    assert!(tally.active > 0);
    // The racing orders that were accepted are there, anonymized with the others (their email
    // is checked with the residue below).
    if !accepted.is_empty() {
        let kept = count(
            &shop.db.pool,
            Select::count(ident!("orders")).filter(Condition::is_in(
                ident!("id"),
                accepted.iter().map(|&id| Value::Int(id)).collect(),
            )),
        )
        .await;
        assert_eq!(kept, accepted.len() as i64);
    }
    // No order of an erased customer still points at them.
    let ids: Vec<Value> = windows.keys().map(|&c| Value::Int(c)).collect();
    let linked = count(
        &shop.db.pool,
        Select::count(ident!("orders")).filter(Condition::is_in(ident!("customer_id"), ids)),
    )
    .await;
    assert_eq!(linked, 0);
    // Nothing of any of the 1,000 erased customers is left, nor any order email written for
    // them while (or after) they were erased.
    needles.extend(tally.tried_for_erased.iter().map(|&id| {
        Needle::new(
            format!("order {id} for an erased customer"),
            order_email(id),
        )
    }));
    let residue = support::residue_of_many(&shop.db.pool, &needles).await;
    let survivors: Vec<String> = residue
        .iter()
        .map(|(&n, places)| {
            let whose = match owner_of_needle.get(n) {
                Some(i) => format!("customer index {i}: {}", needles[n].label),
                None => needles[n].label.clone(),
            };
            format!("{whose} in {places:?}")
        })
        .collect();
    assert!(
        survivors.is_empty(),
        "{} personal values survive: {survivors:#?}",
        survivors.len()
    );
    // The active customers' new orders are all there.
    let active: Vec<Value> = (ERASED..ERASED + ACTIVE)
        .map(|i| Value::Int(shop.seed.customer(i).id))
        .collect();
    let load = count(
        &shop.db.pool,
        Select::count(ident!("orders"))
            .filter(Condition::is_in(ident!("customer_id"), active))
            .filter(Condition::eq(ident!("status"), "PENDING"))
            .filter(Condition::compare(
                ident!("id"),
                erasure::sql::Cmp::Ge,
                FIRST_ORDER,
            )),
    )
    .await;
    assert_eq!(load, tally.active as i64);
    eprintln!(
        "{}: {ERASED} erased ({} attempts rolled back by a racing order and retried) while {} \
         orders arrived for active customers; {} orders raced a running erasure ({issued_inside} \
         issued and {sent_inside} sent inside its window; {} accepted and anonymized, {} refused \
         on the foreign key, {} lost a deadlock to it); {} orders for erased customers refused; \
         {:.0?} in all",
        DB::LABEL,
        retried.load(Ordering::SeqCst),
        tally.active,
        tally.races.len(),
        accepted.len(),
        refused,
        deadlocked,
        tally.refused_after,
        started.elapsed(),
    );
}

backend_tests!(orders_keep_arriving_while_customers_are_erased);
