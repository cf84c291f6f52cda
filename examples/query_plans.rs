//! Prints SQLite's query plan for every statement the standard chain runs for a whole customer,
//! so that `docs/performance.md` can show that each one uses an index on the subject's key.
//!
//! Run: `cargo run --example query_plans`
//!
//! The statements are caught from sqlx's own statement log (`tracing` target `sqlx::query`),
//! during a dry run on a small seeded shop; each is then explained with every parameter NULL.

#[path = "common/statement_log.rs"]
mod statement_log;

use std::collections::BTreeSet;

use erasure::{Erasure, Subject};
use erasure_testkit::{Seed, SeedConfig, Shape, TestBackend};
use statement_log::Statements;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let statements = Statements::default();
    let subscriber = tracing_subscriber::registry().with(
        statements
            .clone()
            .with_filter(tracing_subscriber::filter::LevelFilter::DEBUG),
    );
    tracing::subscriber::set_global_default(subscriber)?;

    let pool = erasure::sqlite::open("sqlite::memory:", 1).await?;
    sqlx::Sqlite::migrate(&pool).await?;
    let seed = Seed::new(SeedConfig::new(50).shape(Shape::typical()));
    seed.insert(&pool).await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    let chain = erasure::standard_chain::<sqlx::Sqlite>().build()?;
    statements.0.lock().expect("lock").clear();
    let subject: Subject = seed.customer(3).subject();
    chain.dry_run(&pool, &Erasure::new(subject)).await?;

    // Planned handlers send several statements in one query: split them back (the chain
    // joins them with ";\n").
    let seen: Vec<String> = statements
        .0
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|q| {
            q.split(";\n")
                .map(|s| s.trim().trim_end_matches(';').to_owned())
        })
        .filter(|s| !s.is_empty())
        .collect();
    let mut unique = BTreeSet::new();
    for sql in seen {
        let upper = sql.to_ascii_uppercase();
        if !(upper.starts_with("UPDATE")
            || upper.starts_with("DELETE")
            || upper.starts_with("SELECT"))
            || !unique.insert(sql.clone())
        {
            continue;
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
        for _ in 0..sql.matches('?').count() {
            query = query.bind(Option::<i64>::None);
        }
        println!("{sql}");
        for row in query.fetch_all(&pool).await? {
            let detail: String = sqlx::Row::get(&row, "detail");
            println!("    {detail}");
        }
        println!();
    }
    Ok(())
}
