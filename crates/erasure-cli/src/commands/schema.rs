//! `erasure init` and `erasure seed`.

use erasure_testkit::{Seed, SeedConfig, Shape, TestBackend};
use sqlx::Pool;

use crate::cli::{DbArgs, SeedArgs, SeedShape};
use crate::db::{Create, Open, Used, finish, on_backend};
use crate::error::CliError;

pub(crate) async fn init(args: DbArgs) -> Result<(), CliError> {
    on_backend!(&args.db, |DB| init_on::<DB>(&args.db).await)
}

async fn init_on<DB: Open + TestBackend>(url: &str) -> Result<(), CliError> {
    let pool = DB::open(url, Create::Yes).await?;
    let outcome = create_schema(&pool).await;
    finish(pool, Used::Write, outcome).await
}

async fn create_schema<DB: Open + TestBackend>(pool: &Pool<DB>) -> Result<(), CliError> {
    DB::migrate(pool)
        .await
        .map_err(|e| CliError::Other(format!("could not create the reference schema: {e}")))?;
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| CliError::Other(e.to_string()))?;
    let columns = DB::columns(&mut conn)
        .await
        .map_err(|e| CliError::Other(e.to_string()))?;
    let mut tables: Vec<&str> = columns
        .iter()
        .map(|c| c.table.as_str())
        .filter(|t| !t.starts_with("_sqlx") && !t.starts_with("erasure_"))
        .collect();
    tables.dedup();
    println!("reference schema ready: {} tables", tables.len());
    drop(conn);
    // The library's own tables: requests, evidence, the deferral ledger.
    super::install::install(pool).await
}

pub(crate) async fn seed(args: SeedArgs) -> Result<(), CliError> {
    on_backend!(&args.db.db, |DB| seed_on::<DB>(&args).await)
}

async fn seed_on<DB: Open>(args: &SeedArgs) -> Result<(), CliError> {
    let pool = DB::open(&args.db.db, Create::No).await?;
    let outcome = insert_seed(&pool, args).await;
    finish(pool, Used::Write, outcome).await
}

async fn insert_seed<DB: Open>(pool: &Pool<DB>, args: &SeedArgs) -> Result<(), CliError> {
    let mut config = SeedConfig::new(args.customers).shape(match args.shape {
        SeedShape::Varied => Shape::varied(),
        SeedShape::Typical => Shape::typical(),
        SeedShape::Bare => Shape::bare(),
    });
    config.seed = args.seed;
    if let Some(guests) = args.guests {
        config.guests = guests;
    }
    let seed = Seed::new(config);
    let summary = seed.insert(pool).await.map_err(|e| {
        CliError::Other(format!(
            "seeding failed: {}",
            erasure::DatabaseError::from(e)
        ))
    })?;
    for (table, rows) in &summary.rows {
        println!("{rows:>10}  {table}");
    }
    println!("{:>10}  rows in all", summary.total());
    super::require_table(pool, erasure::consents::CHANGES, "erasure install").await?;
    let consents = super::consent_seed::record(pool, &seed).await?;
    println!(
        "{:>10}  consent changes ({} newsletter subscribers without an account)",
        consents.imported,
        super::consent_seed::subscribers(&seed)
    );
    Ok(())
}
