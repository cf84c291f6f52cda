//! An integrator's own handler, at position 60, on a table of their own schema.
//!
//! The shop keeps loyalty points in `loyalty_points`, a table the standard handlers know nothing
//! about. Without a handler for it, erasing a customer fails at position 100 (the foreign key
//! from `loyalty_points` to `customers` stops the delete) and nothing changes. With the handler
//! (a policy of one step: delete the subject's rows) registered between promotion codes (50) and
//! gift cards (70), the erasure goes through.
//!
//! Run: `cargo run --example custom_handler`

use erasure::policy::{Policy, Reach, Step};
use erasure::{Backend, DeletionHandler, Erasure, SubjectColumns, ident, position};
use erasure_testkit::{Seed, SeedConfig, TestBackend};

/// Deletes the subject's loyalty points. The handler is its policy: the erasure (one `DELETE`),
/// the export (the subject's rows) and the footprint (for coverage checks) follow from it.
/// Generic over the backend: the same code runs on SQLite, PostgreSQL and MySQL.
struct LoyaltyPoints {
    policy: Policy,
}

impl LoyaltyPoints {
    fn new() -> Self {
        // `customer_id = ?` for a customer, `user_id IN (…) AND customer_id = ?` for selected
        // users; no email column, so a guest has no rows here.
        let theirs = SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id"));
        let policy = Policy::new("guests collect no loyalty points")
            .step(Step::delete(ident!("loyalty_points"), Reach::subject(theirs)).key(ident!("id")));
        Self { policy }
    }
}

impl<DB: Backend> DeletionHandler<DB> for LoyaltyPoints {
    fn name(&self) -> &str {
        "loyalty-points"
    }

    fn description(&self) -> &str {
        "deletes the subject's loyalty points"
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the policy as it is: its statement goes with the standard handlers'.
        true
    }
}

/// Between the promotion codes (50) and the gift cards (70), before the customer (100).
const LOYALTY_POINTS: u32 = 60;
const _: () = assert!(position::PROMOTION < LOYALTY_POINTS && LOYALTY_POINTS < position::GIFT_CARD);

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
        .register(LOYALTY_POINTS, LoyaltyPoints::new())
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
