//! An integrator's own handler, at position 60, on a table of their own schema.
//!
//! The shop keeps loyalty points in `loyalty_points`, a table the standard handlers know nothing
//! about. Without a handler for it, erasing a customer fails at position 100 (the foreign key
//! from `loyalty_points` to `customers` stops the delete) and nothing changes. With the handler
//! registered between promotion codes (50) and gift cards (70), the erasure goes through.
//!
//! Run: `cargo run --example custom_handler`

use erasure::sql::Delete;
use erasure::{
    Backend, DeletionHandler, Erasure, ErasureContext, HandlerError, Outcome, SubjectColumns,
    async_trait, footprint::Footprint, ident,
};
use erasure_testkit::{Seed, SeedConfig, TestBackend};

/// Deletes the subject's loyalty points. Generic over the backend: the same code runs on
/// SQLite, PostgreSQL and MySQL.
struct LoyaltyPoints;

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for LoyaltyPoints {
    fn name(&self) -> &str {
        "loyalty-points"
    }

    fn description(&self) -> &str {
        "deletes the subject's loyalty point balances"
    }

    fn footprint(&self) -> Footprint {
        Footprint::new().delete(
            ident!("loyalty_points"),
            [ident!("customer_id"), ident!("user_id")],
        )
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let table = ident!("loyalty_points");
        let cols = SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id"));
        // A guest has no loyalty account: no condition, nothing to do.
        let Some(filter) = cx.subject_condition(&cols) else {
            return Ok(Outcome::new().note("guests collect no loyalty points"));
        };
        let deleted = cx.execute(Delete::new(table.clone(), filter)).await?;
        Ok(Outcome::new().deleted(table, deleted))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A demo shop: the reference schema, 50 seeded customers, and the integrator's table.
    let pool = erasure::sqlite::open("sqlite::memory:", 1).await?;
    sqlx::Sqlite::migrate(&pool).await?;
    let seed = Seed::new(SeedConfig::new(50));
    seed.insert(&pool).await?;
    sqlx::raw_sql(
        "CREATE TABLE loyalty_points (
             id INTEGER PRIMARY KEY,
             customer_id INTEGER NOT NULL REFERENCES customers (id),
             user_id INTEGER REFERENCES users (id),
             points INTEGER NOT NULL);
         INSERT INTO loyalty_points VALUES (1, 7, 56, 120), (2, 7, NULL, 30), (3, 8, 64, 5);",
    )
    .execute(&pool)
    .await?;
    let customer = seed.customer(6); // id 7
    let erasure = Erasure::new(customer.subject()).with_operator("example");

    // The standard chain alone cannot erase customer 7: loyalty_points still points at it.
    let standard = erasure::standard_chain::<sqlx::Sqlite>().build()?;
    let err = standard
        .erase(&pool, &erasure)
        .await
        .expect_err("uncovered table");
    println!("standard chain only: {err}\n");

    // With the integrator's handler at 60.
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .register(60, LoyaltyPoints)
        .build()?;
    println!("{}", chain.describe());
    let report = chain.erase(&pool, &erasure).await?;
    println!("{report}");

    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM loyalty_points")
        .fetch_one(&pool)
        .await?;
    println!("\nloyalty rows left (other customers): {left}");
    Ok(())
}
