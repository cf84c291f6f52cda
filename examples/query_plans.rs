//! Prints SQLite's query plan for every statement the standard chain runs for a whole customer,
//! so that `docs/performance.md` can show that each one uses an index on the subject's key.
//!
//! Run: `cargo run --example query_plans`
//!
//! The statements are caught from sqlx's own statement log (`tracing` target `sqlx::query`),
//! during a dry run on a small seeded shop; each is then explained with every parameter NULL.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use erasure::{Erasure, Subject};
use erasure_testkit::{Seed, SeedConfig, Shape, TestBackend};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Collects the SQL of every statement sqlx logs.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

struct Fields {
    summary: String,
    statement: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.statement = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut f = Fields {
            summary: String::new(),
            statement: String::new(),
        };
        event.record(&mut f);
        // sqlx logs the full text in `db.statement` when the summary had to be shortened.
        let sql = if f.statement.trim().is_empty() {
            f.summary
        } else {
            f.statement
        };
        self.0.lock().expect("lock").push(sql.trim().to_owned());
    }
}

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

    let seen: Vec<String> = statements.0.lock().expect("lock").clone();
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
