//! `erasure coverage`: personal data no handler covers.

use crate::cli::CoverageArgs;
use crate::config::Config;
use crate::db::{Create, Open, Used, finish, on_backend};
use crate::error::CliError;

pub(crate) async fn run(args: CoverageArgs) -> Result<(), CliError> {
    on_backend!(&args.db.db, |DB| run_on::<DB>(&args).await)
}

async fn run_on<DB: Open>(args: &CoverageArgs) -> Result<(), CliError> {
    let config = Config::load(Some(&args.config))?;
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
    let found = chain.coverage(&mut conn, &tables).await?;
    // What an operator has judged (`[coverage] ignore`) is listed apart, with the reason.
    let (uncovered, ignored) = erasure::coverage::judge(found, &config.coverage.ignore);
    if args.json {
        // One list of findings; a judged one carries its reason.
        #[derive(serde::Serialize)]
        struct Finding<'a> {
            #[serde(flatten)]
            column: &'a erasure::coverage::Uncovered,
            #[serde(skip_serializing_if = "Option::is_none")]
            ignored: Option<&'a str>,
        }
        let findings: Vec<Finding<'_>> = uncovered
            .iter()
            .map(|column| Finding {
                column,
                ignored: None,
            })
            .chain(ignored.iter().map(|i| Finding {
                column: &i.column,
                ignored: Some(&i.reason),
            }))
            .collect();
        super::print_json(&findings)?;
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
            "\nadd a rule or a handler for these tables (docs/mapping.md, docs/custom-handlers.md), \
             map them, or judge them in [coverage] ignore"
        );
    }
    if !args.json && !ignored.is_empty() {
        println!("\nkept as judged ([coverage] ignore):");
        for i in &ignored {
            println!("  {}: {}", i.column, i.reason);
        }
    }
    if uncovered.is_empty() {
        Ok(())
    } else {
        Err(CliError::Uncovered(uncovered.len()))
    }
}
