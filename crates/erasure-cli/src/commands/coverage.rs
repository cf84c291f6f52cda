//! `erasure coverage`: personal data no handler covers.

use crate::cli::CoverageArgs;
use crate::config::Config;
use crate::db::{Create, Open, Used, finish, on_backend};
use crate::error::CliError;

pub(crate) async fn run(args: CoverageArgs) -> Result<(), CliError> {
    on_backend!(&args.db.db, |DB| run_on::<DB>(&args).await)
}

async fn run_on<DB: Open>(args: &CoverageArgs) -> Result<(), CliError> {
    let config = Config::load(args.config.config.as_deref())?;
    let pool = DB::open(&args.db.db, Create::No).await?;
    let outcome = coverage_of(&pool, &config, args).await;
    finish(pool, Used::Read, outcome).await
}

async fn coverage_of<DB: Open>(
    pool: &sqlx::Pool<DB>,
    config: &Config,
    args: &CoverageArgs,
) -> Result<(), CliError> {
    let chain = config
        .chain::<DB>()?
        .build()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut conn = pool.acquire().await.map_err(|e| CliError::Unreachable {
        url: erasure::redact::url(&args.db.db),
        cause: e.to_string(),
    })?;
    chain.check_schema(&mut conn).await?;
    let subject_tables = config.subject_tables();
    let tables: Vec<&str> = subject_tables.iter().map(String::as_str).collect();
    let uncovered = chain.coverage(&mut conn, &tables).await?;
    if args.json {
        super::print_json(&uncovered)?;
    } else if uncovered.is_empty() {
        println!(
            "covered: every column that refers to {} or looks personal is covered by a handler",
            tables.join(" or ")
        );
    } else {
        println!("not covered by any handler:");
        for u in &uncovered {
            println!("  {u}");
        }
        println!(
            "\nadd a handler for these tables (see docs/custom-handlers.md) or map them (docs/mapping.md)"
        );
    }
    if uncovered.is_empty() {
        Ok(())
    } else {
        Err(CliError::Uncovered(uncovered.len()))
    }
}
