//! An erasure that loses a lock conflict is retried from the start, when the chain owns the
//! transaction, and returned as an error inside a caller's transaction.

mod support;

use std::time::Duration;

use erasure::{Erasure, RetryPolicy};
use erasure_testkit::TestDb;
use sqlx::Connection as _;
use support::{Shop, assert_clean};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_busy_is_retried_until_the_other_writer_commits() {
    let _traces = support::checked_traces();
    let db = TestDb::sqlite_file(2).await.expect("db");
    let path = db.path().expect("file");
    let shop = Shop::seeded(db, 20).await;
    let customer = shop.customer_where(|c| c.orders > 0);

    // A pool whose busy timeout is short, so that the lock conflict surfaces as SQLITE_BUSY.
    let options = erasure::sqlite::connect_options(&format!("sqlite://{}", path.display()))
        .expect("options")
        .busy_timeout(Duration::from_millis(30));
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .expect("pool");

    // Another writer holds the write lock for a while.
    let mut other = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("other");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("lock");
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::query("COMMIT")
            .execute(&mut other)
            .await
            .expect("release");
    });

    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .retry(RetryPolicy {
            attempts: 20,
            backoff: Duration::from_millis(20),
        })
        .build()
        .expect("chain");
    let report = chain
        .erase(&pool, &Erasure::new(customer.subject()))
        .await
        .expect("retried until the lock was free");
    release.await.expect("release");
    assert!(
        report.attempts > 1,
        "the first attempt must have met the lock"
    );
    assert_clean(&shop.residue(&customer.needles()).await);

    // Without retries the same conflict is an error naming the cause, and nothing changed.
    let mut other = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("other");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("lock");
    let second = shop.customer_where(|c| c.orders > 0 && c.id != customer.id);
    let before = shop.dump().await;
    let strict = erasure::standard_chain::<sqlx::Sqlite>()
        .retry(RetryPolicy::none())
        .build()
        .expect("chain");
    let err = strict
        .erase(&pool, &Erasure::new(second.subject()))
        .await
        .expect_err("busy");
    assert!(matches!(err, erasure::Error::Begin(_)), "{err}");
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("release");
    assert_eq!(before.diff(&shop.dump().await), None);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_lock_timeout_is_retried() {
    let _traces = support::checked_traces();
    let Some(db) = support::server::<sqlx::Postgres>().await else {
        return;
    };
    let shop = Shop::seeded(db, 20).await;
    let customer = shop.customer_where(|c| c.orders > 0);
    // The erasing pool gives up on a lock after 20 ms (lock_not_available, 55P03).
    let pool = {
        let options = shop
            .db
            .pool
            .connect_options()
            .as_ref()
            .clone()
            .options([("lock_timeout", "20ms")]);
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .expect("pool")
    };
    let mut tx = shop.db.pool.begin().await.expect("begin");
    sqlx::query("SELECT id FROM orders WHERE customer_id = $1 FOR UPDATE")
        .bind(customer.id)
        .fetch_all(&mut *tx)
        .await
        .expect("lock the orders");
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        tx.commit().await.expect("release");
    });
    let chain = erasure::standard_chain::<sqlx::Postgres>()
        .retry(RetryPolicy {
            attempts: 20,
            backoff: Duration::from_millis(20),
        })
        .build()
        .expect("chain");
    let report = chain
        .erase(&pool, &Erasure::new(customer.subject()))
        .await
        .expect("retried until the lock was free");
    release.await.expect("release");
    assert!(report.attempts > 1);
    assert_clean(&shop.residue(&customer.needles()).await);
}
