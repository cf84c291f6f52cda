//! Right of access, evidence and downstream erasure, end to end on an embedded SQLite shop.
//!
//! 1. A customer asks for their data: `Chain::export` writes one JSON document.
//! 2. They ask to be erased: the chain erases them, and in the same transaction writes a
//!    receipt, the keyed hash of their email for the suppression list, and outbox events for
//!    the newsletter service and (emitted by a handler of the integrator) the search index.
//! 3. A dispatcher delivers the events to the integrator's sinks.
//!
//! Run: `cargo run --example evidence`
use std::time::Duration;

use erasure::evidence::receipts;
use erasure::evidence::{
    Dispatcher, EventSink, Outbox, OutboxEvent, Receipts, SinkError, Suppression, SuppressionList,
};
use erasure::export::{ExportContext, Exported};
use erasure::{
    Backend, DeletionHandler, Erasure, ErasureContext, HandlerError, Outcome, PseudonymKey,
    async_trait,
};
use erasure_testkit::{Seed, SeedConfig, TestBackend};

/// The integrator's search index holds a copy of every customer: this handler asks for it to be
/// dropped, with the index's own document id.
struct SearchIndex;

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for SearchIndex {
    fn name(&self) -> &str {
        "search-index"
    }

    fn description(&self) -> &str {
        "asks the search index to drop the subject's document"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        if let Some(customer) = cx.subject().customer_key() {
            cx.emit("search-index", serde_json::json!({ "document": customer }));
        }
        Ok(Outcome::new().note("the search index is told through the outbox"))
    }

    /// Nothing of the subject is stored here; the section says where the copy is.
    async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
        cx.note("the search index holds a copy of the profile, built from the tables above");
        Ok(Exported::Written)
    }
}

/// Stands in for an HTTP client: prints what it would send, never the subject itself.
struct Printer(&'static str);

#[async_trait]
impl EventSink for Printer {
    async fn deliver(&self, event: &OutboxEvent) -> Result<(), SinkError> {
        println!(
            "  {} <- event {} (run {}, attempt {})",
            self.0, event.id, event.run_id, event.attempt
        );
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = erasure::sqlite::open("sqlite::memory:", 1).await?;
    sqlx::Sqlite::migrate(&pool).await?;
    let seed = Seed::new(SeedConfig::new(50));
    seed.insert(&pool).await?;
    erasure::evidence::install(&pool).await?;

    // In production the key comes from a secret store, and stays the same across deployments.
    let key = PseudonymKey::random()?;
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .register(90, SearchIndex)
        .pseudonym_key(key.clone())
        .recorder(Receipts::new())
        .recorder(Suppression::new())
        .recorder(Outbox::new().destination("newsletter")?)
        .build()?;
    let customer = seed
        .customers()
        .find(|c| !c.is_b2b() && c.orders > 1)
        .ok_or("no private customer with orders in the demo shop")?;
    let subject = customer.subject();

    // 1. Right of access.
    let mut document = Vec::new();
    let summary = chain.export(&pool, &subject, &mut document).await?;
    println!(
        "export: {} rows from {} tables, {} bytes, complete: {}",
        summary.rows,
        summary.tables.len(),
        summary.bytes,
        summary.complete
    );
    for (position, handler) in &summary.not_included {
        println!("  not included: {handler} at {position} (no export step)");
    }

    // 2. Erasure, with its evidence.
    let report = chain
        .erase(
            &pool,
            &Erasure::new(subject.clone()).with_operator("support-17"),
        )
        .await?;
    let receipt = receipts::get(&pool, report.run_id)
        .await?
        .ok_or("a committed erasure has a receipt")?;
    println!(
        "receipt of run {}: {} handlers, totals {}",
        receipt.run_id,
        receipt.report.handlers.len(),
        receipt.report.totals()
    );
    let list = SuppressionList::new(key);
    println!(
        "their email is on the suppression list: {}",
        list.is_suppressed(&pool, &customer.users[0].email).await?
    );

    // 3. Delivery.
    let dispatcher = Dispatcher::<sqlx::Sqlite>::new()
        .sink("newsletter", Printer("newsletter"))
        .sink("search-index", Printer("search-index"))
        .backoff(Duration::from_secs(30), Duration::from_secs(3600));
    println!("dispatching:");
    let done = dispatcher.dispatch_once(&pool).await?;
    println!("delivered {} events", done.delivered);
    Ok(())
}
