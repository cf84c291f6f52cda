//! Embedding the chain in a service's own transaction.
//!
//! A shop service closes an account: it records the closure in its own table and erases the
//! customer in the same transaction. Either both happen or neither does: the erasure runs in a
//! savepoint inside the service's transaction, and the service's commit (or rollback) decides.
//!
//! Run: `cargo run --example embedded_transaction`

use erasure::{Chain, Erasure, Reason, Subject};
use erasure_testkit::{Seed, SeedConfig, TestBackend};
use sqlx::{Sqlite, SqlitePool};

/// The service's unit of work: record the closure, erase the customer, commit both or neither.
async fn close_account(
    pool: &SqlitePool,
    chain: &Chain<Sqlite>,
    customer_id: i64,
    simulate_failure: bool,
) -> Result<erasure::Report, Box<dyn std::error::Error>> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO account_closures (customer_id, closed_by) VALUES (?, ?)")
        .bind(customer_id)
        .bind("support-desk")
        .execute(&mut *tx)
        .await?;
    let erasure = Erasure::new(Subject::customer(customer_id))
        .with_reason(Reason::AccountClosure)
        .with_operator("support-desk");
    // `erase_on` joins the open transaction (a savepoint); it never commits it.
    let report = chain.erase_on(&mut tx, &erasure).await?;
    if simulate_failure {
        // Something later in the service fails: returning drops `tx` uncommitted; roll back
        // explicitly rather than leave it to the drop.
        tx.rollback().await?;
        return Err("the service's next step failed".into());
    }
    tx.commit().await?;
    Ok(report)
}

async fn customers(pool: &SqlitePool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM customers")
        .fetch_one(pool)
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = erasure::sqlite::open("sqlite::memory:", 1).await?;
    Sqlite::migrate(&pool).await?;
    Seed::new(SeedConfig::new(20)).insert(&pool).await?;
    sqlx::query("CREATE TABLE account_closures (customer_id INTEGER, closed_by TEXT)")
        .execute(&pool)
        .await?;
    let chain = erasure::standard_chain::<Sqlite>().build()?;

    println!("customers before: {}", customers(&pool).await?);
    let failed = close_account(&pool, &chain, 3, true).await;
    println!(
        "closing customer 3 with a failing service step: {}",
        failed.err().map_or("ok".into(), |e| e.to_string())
    );
    println!(
        "customers after the rollback: {} (customer 3 is intact)",
        customers(&pool).await?
    );

    let report = close_account(&pool, &chain, 3, false).await?;
    println!("closing customer 3 again: committed, {}", report.totals());
    println!("customers now: {}", customers(&pool).await?);
    let closures: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM account_closures")
        .fetch_one(&pool)
        .await?;
    println!("closures recorded: {closures} (only the committed one)");
    Ok(())
}
