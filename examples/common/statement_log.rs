//! sqlx's statement log as a `tracing` layer: the SQL text of every statement sqlx runs (target
//! `sqlx::query`), for the examples that show or check what the chain sends. Included with
//! `#[path]` by the examples that use it.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// Collects the SQL of every statement sqlx logs, in order.
#[derive(Clone, Default)]
pub(crate) struct Statements(pub(crate) Arc<Mutex<Vec<String>>>);

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
