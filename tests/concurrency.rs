//! Many workers at once: different customers in parallel, the same customer twice, and an
//! erasure racing a new order.
//!
//! Which one wins when an erasure races an order insert for the same customer: whichever commits
//! first. If the order commits first, the erasure either anonymizes it with the others or, when
//! the order arrived after the orders were anonymized, fails at position 100 on the foreign key
//! from the new order to the customer; it rolls back completely and a retry erases everything,
//! the new order included. If the erasure commits first, the insert fails on its foreign key
//! (the customer is gone). Never a half state, never a personal value left behind.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use erasure::sql::{Condition, Insert, Select};
use erasure::transaction::{Isolation, Tx};
use erasure::{Backend, Chain, Erasure, Report, Value, ident};
use erasure_testkit::{SeedConfig, Shape, TestBackend, TestDb};
use support::{Shop, assert_clean, backend_tests, count};

/// Workers per backend: SQLite has one writer, so more workers only queue on the busy timeout.
fn workers<DB: TestBackend>() -> usize {
    if DB::LABEL == "sqlite" { 4 } else { 8 }
}

/// Rounds of the 1,000-customer run: `ERASURE_CONCURRENCY_ROUNDS` (default 1; each round erases
/// 1,000 customers from all workers at once).
fn rounds() -> u64 {
    std::env::var("ERASURE_CONCURRENCY_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1)
}

async fn many_workers_erase_different_customers<DB: TestBackend>(db: TestDb<DB>) {
    let mut db = Some(db);
    for round in 0..rounds() {
        let db = match db.take() {
            Some(db) => db,
            None => DB::fresh(12)
                .await
                .expect("a fresh database for the next round"),
        };
        many_workers_round(db).await;
        eprintln!("{}: round {round} passed", DB::LABEL);
    }
}

async fn many_workers_round<DB: TestBackend>(db: TestDb<DB>) {
    const CUSTOMERS: u64 = 1_000;
    let shop = Shop::new(db, SeedConfig::new(CUSTOMERS).guests(10)).await;
    let orders_before = count(&shop.db.pool, Select::count(ident!("orders"))).await;
    let guest_orders = count(
        &shop.db.pool,
        Select::count(ident!("orders")).filter(Condition::is_null(ident!("customer_id"))),
    )
    .await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers::<DB>() {
        let (chain, pool, next, seed) = (
            chain.clone(),
            shop.db.pool.clone(),
            next.clone(),
            shop.seed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut reports: Vec<Report> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= CUSTOMERS {
                    return reports;
                }
                let subject = seed.customer(i).subject();
                match chain.erase(&pool, &Erasure::new(subject)).await {
                    Ok(report) => reports.push(report),
                    Err(e) => panic!("customer index {i}: {e}"),
                }
            }
        }));
    }
    let mut reports = Vec::new();
    for t in tasks {
        reports.extend(t.await.expect("worker"));
    }
    assert_eq!(reports.len() as u64, CUSTOMERS);
    let retried = reports.iter().filter(|r| r.attempts > 1).count();
    eprintln!(
        "{}: {CUSTOMERS} erasures, {retried} needed a retry after a lock conflict",
        DB::LABEL
    );

    // Every customer is gone, every order is kept (anonymized) and counted exactly once.
    assert_eq!(
        count(&shop.db.pool, Select::count(ident!("customers"))).await,
        0
    );
    assert_eq!(
        count(&shop.db.pool, Select::count(ident!("users"))).await,
        0
    );
    assert_eq!(
        count(&shop.db.pool, Select::count(ident!("orders"))).await,
        orders_before
    );
    let deferred: u64 = reports.iter().map(|r| r.totals().deferred).sum::<u64>()
        - reports
            .iter()
            .map(|r| r.handler(10).map_or(0, |h| h.outcome.totals().deferred))
            .sum::<u64>();
    assert_eq!(
        deferred as i64,
        orders_before - guest_orders,
        "no order lost or counted twice"
    );
    let marked = count(
        &shop.db.pool,
        Select::count(ident!("orders")).filter(Condition::eq(ident!("to_be_deleted"), true)),
    )
    .await;
    assert_eq!(marked, orders_before - guest_orders);
    // Spot checks: nothing of a sample of customers survives; the guests are untouched.
    for i in [0, 1, 9, 99, 500, 999] {
        assert_clean(&shop.residue(&shop.seed.customer(i).needles()).await);
    }
    for g in shop.seed.guests() {
        let found = shop.residue(&g.needles()).await;
        assert!(!found.hits.is_empty(), "guest data must stay");
    }
}

async fn the_same_customer_from_two_workers_erases_once<DB: TestBackend>(db: TestDb<DB>) {
    const ROUNDS: u64 = 20;
    let shop = Shop::new(db, SeedConfig::new(ROUNDS).shape(Shape::typical())).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    for i in 0..ROUNDS {
        let customer = shop.seed.customer(i);
        let run = |chain: Chain<DB>, pool: sqlx::Pool<DB>, subject: erasure::Subject| {
            tokio::spawn(async move { chain.erase(&pool, &Erasure::new(subject)).await })
        };
        let a = run(chain.clone(), shop.db.pool.clone(), customer.subject());
        let b = run(chain.clone(), shop.db.pool.clone(), customer.subject());
        let (a, b) = (a.await.expect("task"), b.await.expect("task"));
        let (a, b) = (
            a.unwrap_or_else(|e| panic!("round {i}: {e}")),
            b.unwrap_or_else(|e| panic!("round {i}: {e}")),
        );
        let noops = [a.is_noop(), b.is_noop()];
        assert!(
            noops == [true, false] || noops == [false, true],
            "round {i}: one full erasure and one no-op, got\n{a}\n{b}"
        );
        let full = if a.is_noop() { &b } else { &a };
        assert_eq!(
            full.handler(100)
                .map(|h| h.outcome.rows("customers", &erasure::Action::Deleted)),
            Some(1)
        );
        assert_clean(&shop.residue(&customer.needles()).await);
    }
}

/// Inserts an order for `customer_id` with a personal email, in its own transaction.
async fn insert_order<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    id: i64,
    customer_id: i64,
    email: &str,
) -> Result<u64, sqlx::Error> {
    let mut insert = Insert::new(
        ident!("orders"),
        [
            "id",
            "order_no",
            "customer_id",
            "email",
            "status",
            "currency",
            "total_cents",
            "ordered_at",
        ]
        .map(|c| erasure::Ident::new(c).expect("ident")),
    );
    insert.row([
        id.into(),
        format!("RACE-{id}").into(),
        customer_id.into(),
        email.into(),
        "PENDING".into(),
        "EUR".into(),
        1_000.into(),
        Value::Timestamp(chrono::Utc::now()),
    ]);
    let mut conn = pool.acquire().await?;
    DB::execute(&mut conn, &insert.to_sql()).await
}

async fn an_erasure_racing_an_order_insert_ends_consistent<DB: TestBackend>(db: TestDb<DB>) {
    const ROUNDS: u64 = 20;
    let shop = Shop::new(db, SeedConfig::new(ROUNDS).shape(Shape::typical())).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let (mut erasure_first, mut order_first, mut retried) = (0, 0, 0);
    for i in 0..ROUNDS {
        let customer = shop.seed.customer(i);
        let email = format!("race-{i}@late-order.example");
        let mut needles = customer.needles();
        needles.push(erasure_testkit::Needle::new(
            "late order email",
            email.clone(),
        ));
        let order_id = 9_000_000_000 + i as i64;
        let erase = {
            let (chain, pool, subject) = (chain.clone(), shop.db.pool.clone(), customer.subject());
            tokio::spawn(async move { chain.erase(&pool, &Erasure::new(subject)).await })
        };
        let insert = {
            let (pool, email, id) = (shop.db.pool.clone(), email.clone(), customer.id);
            tokio::spawn(async move {
                // Vary the head start so both orders of arrival happen.
                tokio::time::sleep(std::time::Duration::from_micros(300 * (i % 7))).await;
                insert_order(&pool, order_id, id, &email).await
            })
        };
        let (erased, inserted) = (erase.await.expect("task"), insert.await.expect("task"));
        match (&erased, &inserted) {
            (Ok(_), Err(_)) => erasure_first += 1,
            (Ok(report), Ok(_)) => {
                // The order came first and was anonymized with the others.
                order_first += 1;
                assert!(!report.is_noop());
            }
            (Err(e), Ok(_)) => {
                // The order arrived after the orders were anonymized: the foreign key stopped the
                // customer delete and everything rolled back; the customer is intact with it.
                assert_eq!(e.position(), Some(100), "round {i}: {e}");
                assert!(!shop.residue(&needles).await.hits.is_empty());
                chain
                    .erase(&shop.db.pool, &Erasure::new(customer.subject()))
                    .await
                    .unwrap_or_else(|e| panic!("round {i}, retry: {e}"));
                retried += 1;
            }
            (Err(e), Err(o)) => panic!("round {i}: both failed: {e}; {o}"),
        }
        assert_clean(&shop.residue(&needles).await);
    }
    eprintln!(
        "{}: erasure first {erasure_first}, order first {order_first}, rolled back and retried {retried}",
        DB::LABEL
    );
}

/// An erasure that has not committed holds locks on its own customer's rows only: erasures of
/// other customers meanwhile wait for none of them. Each statement that selects rows through a
/// parent table must find them by index: one that scans a whole table (MariaDB, for one, reads a
/// join's child table first when its statistics say so) waits here on the first erasure's rows,
/// and in production deadlocks with it.
async fn an_open_erasure_makes_no_other_customer_wait<DB: TestBackend>(db: TestDb<DB>) {
    if DB::LABEL.starts_with("sqlite") {
        // One writer: the second erasure waits for the first by design.
        return;
    }
    const OTHERS: u64 = 6;
    // Enough customers that the optimizer finds rows by index, as on a real shop: on a table of
    // a few dozen rows, a full scan is cheaper, and MySQL's then locks every row it reads.
    let shop = Shop::new(db, SeedConfig::new(200).shape(Shape::typical())).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    // The first erasure runs in a transaction of the caller's, begun as the chain begins its own
    // (on MySQL at READ COMMITTED: InnoDB's default REPEATABLE READ locks index gaps too).
    let mut conn = shop.db.pool.acquire().await.expect("connection");
    let mut first = Tx::<DB>::begin(&mut conn, Isolation::Write)
        .await
        .expect("begin");
    let report = chain
        .erase_on(&mut *first, &Erasure::new(shop.seed.customer(0).subject()))
        .await
        .expect("the first customer's erasure");
    assert!(!report.is_noop());
    let mut other = shop.db.pool.acquire().await.expect("connection");
    let short_wait = if DB::LABEL == "mysql" {
        "SET SESSION innodb_lock_wait_timeout = 1"
    } else {
        "SET lock_timeout = '1s'"
    };
    DB::execute(&mut other, &erasure::sql::Sql::new(short_wait))
        .await
        .expect("set a short lock wait");
    for i in 1..=OTHERS {
        let customer = shop.seed.customer(i);
        let report = chain
            .erase_on(&mut *other, &Erasure::new(customer.subject()))
            .await
            .unwrap_or_else(|e| panic!("customer index {i} waited for another's lock: {e}"));
        assert_eq!(report.attempts, 1, "customer index {i} was retried");
        assert_clean(&shop.residue(&customer.needles()).await);
    }
    first
        .roll_back(Ok::<(), ()>(()))
        .await
        .expect("roll the first erasure back");
    let kept = shop.residue(&shop.seed.customer(0).needles()).await;
    assert!(
        !kept.hits.is_empty(),
        "the first erasure was rolled back, its customer is intact"
    );
}

backend_tests!(
    an_open_erasure_makes_no_other_customer_wait,
    many_workers_erase_different_customers,
    the_same_customer_from_two_workers_erases_once,
    an_erasure_racing_an_order_insert_ends_consistent,
);
