//! `erasure install`: the library's own tables, in a shop's database.

use sqlx::Pool;

use crate::cli::DbArgs;
use crate::db::{Create, Open, Used, finish, on_backend};
use crate::error::CliError;

pub(crate) async fn run(args: DbArgs) -> Result<(), CliError> {
    on_backend!(&args.db, |DB| run_on::<DB>(&args.db).await)
}

async fn run_on<DB: Open>(url: &str) -> Result<(), CliError> {
    let pool = DB::open(url, Create::No).await?;
    let outcome = install(&pool).await;
    finish(pool, Used::Write, outcome).await
}

/// Creates whichever of the library's own tables do not exist yet (the requests table, the
/// evidence tables, the deferral ledger, the consent tables); the shop's own tables are never
/// touched. Idempotent.
pub(crate) async fn install<DB: Open>(pool: &Pool<DB>) -> Result<(), CliError> {
    let store = erasure::requests::Requests::<DB>::new(
        erasure::PseudonymKey::random().map_err(|e| CliError::Other(e.to_string()))?,
    );
    store.install(pool).await?;
    println!("requests table ready: {}", erasure::requests::TABLE);
    erasure::evidence::install(pool).await?;
    println!("evidence tables ready: erasure_receipts, erasure_outbox, erasure_suppressions");
    erasure::ledger::install(pool)
        .await
        .map_err(|e| CliError::Other(erasure::DatabaseError::from(e).to_string()))?;
    println!("deferral ledger ready: {}", erasure::ledger::TABLE);
    erasure::consents::Consents::<DB>::new()
        .install(pool)
        .await
        .map_err(|e| CliError::Other(e.to_string()))?;
    println!(
        "consent tables ready: {}, {}, {}",
        erasure::consents::WORDINGS,
        erasure::consents::CHANGES,
        erasure::consents::DATA_CHANGES
    );
    Ok(())
}
