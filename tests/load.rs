//! Load: orders keep arriving for other customers while 1,000 customers are erased.
//!
//! The rule for an erased customer: once the erasure committed, the customer row is gone, so the
//! database refuses any new row that refers to it (foreign keys); an order that raced the erasure
//! either committed first (and was anonymized with the others) or fails. Nobody gains personal rows
//! unnoticed.

mod support;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use erasure::sql::{Condition, Insert, Select};
use erasure::{Backend, Erasure, Ident, Value, ident};
use erasure_testkit::{SeedConfig, TestBackend, TestDb};
use support::{Shop, backend_tests, count};

const ERASED: u64 = 1_000;
const ACTIVE: u64 = 200;

async fn insert_order<DB: Backend>(
    pool: &sqlx::Pool<DB>,
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
        format!("load-{id}@orders.example").into(),
        "PENDING".into(),
        "EUR".into(),
        990.into(),
        Value::Timestamp(chrono::Utc::now()),
    ]);
    let mut conn = pool.acquire().await?;
    DB::execute(&mut conn, &insert.to_sql()).await
}

async fn orders_keep_arriving_while_customers_are_erased<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(ERASED + ACTIVE).guests(0)).await;
    let before = count(&shop.db.pool, Select::count(ident!("orders"))).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let done = Arc::new(AtomicBool::new(false));
    let erased_ids: Arc<Mutex<Vec<(i64, i64)>>> = Arc::new(Mutex::new(Vec::new()));
    let next_order = Arc::new(AtomicI64::new(1_000_000_000_000));
    let (inserted, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));

    // Four inserters: orders for active customers, and now and then for one already erased.
    let mut inserters = Vec::new();
    for w in 0..4u64 {
        let (pool, done, erased_ids, next_order, inserted, refused, seed) = (
            shop.db.pool.clone(),
            done.clone(),
            erased_ids.clone(),
            next_order.clone(),
            inserted.clone(),
            refused.clone(),
            shop.seed.clone(),
        );
        inserters.push(tokio::spawn(async move {
            let mut k = w;
            while !done.load(Ordering::SeqCst) {
                k += 4;
                let id = next_order.fetch_add(1, Ordering::SeqCst);
                if k % 10 == 0 {
                    let gone = erased_ids
                        .lock()
                        .expect("lock")
                        .get(k as usize % 97)
                        .copied();
                    if let Some((customer, user)) = gone {
                        let result = insert_order(&pool, id, customer, user).await;
                        assert!(
                            result.is_err(),
                            "an order for an erased customer was accepted"
                        );
                        refused.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                }
                let c = seed.customer(ERASED + k % ACTIVE);
                insert_order(&pool, id, c.id, c.users[0].id)
                    .await
                    .unwrap_or_else(|e| panic!("an order for an active customer failed: {e}"));
                inserted.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }

    // Erasers.
    let workers = if DB::LABEL == "sqlite" { 2 } else { 4 };
    let next = Arc::new(AtomicU64::new(0));
    let mut erasers = Vec::new();
    for _ in 0..workers {
        let (chain, pool, next, seed, erased_ids) = (
            chain.clone(),
            shop.db.pool.clone(),
            next.clone(),
            shop.seed.clone(),
            erased_ids.clone(),
        );
        erasers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= ERASED {
                    return;
                }
                let c = seed.customer(i);
                chain
                    .erase(&pool, &Erasure::new(c.subject()))
                    .await
                    .unwrap_or_else(|e| panic!("erasure of customer index {i} failed: {e}"));
                erased_ids.lock().expect("lock").push((c.id, c.users[0].id));
            }
        }));
    }
    for e in erasers {
        e.await.expect("eraser");
    }
    done.store(true, Ordering::SeqCst);
    for i in inserters {
        i.await.expect("inserter");
    }

    let inserted = inserted.load(Ordering::SeqCst) as i64;
    let after = count(&shop.db.pool, Select::count(ident!("orders"))).await;
    assert_eq!(
        after,
        before + inserted,
        "no order lost (erasure anonymizes orders, it deletes none)"
    );
    assert!(inserted > 0);
    eprintln!(
        "{}: {ERASED} erased while {inserted} orders arrived; {} orders for erased customers refused",
        DB::LABEL,
        refused.load(Ordering::SeqCst)
    );
    // No order of an erased customer still points at them, and nothing of theirs is left.
    let ids: Vec<Value> = erased_ids
        .lock()
        .expect("lock")
        .iter()
        .map(|(c, _)| Value::Int(*c))
        .collect();
    let linked = count(
        &shop.db.pool,
        Select::count(ident!("orders")).filter(Condition::is_in(ident!("customer_id"), ids)),
    )
    .await;
    assert_eq!(linked, 0);
    for i in [0, 333, 999] {
        support::assert_clean(&shop.residue(&shop.seed.customer(i).needles()).await);
    }
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
                1_000_000_000_000i64,
            )),
    )
    .await;
    assert_eq!(load, inserted);
}

backend_tests!(orders_keep_arriving_while_customers_are_erased);
