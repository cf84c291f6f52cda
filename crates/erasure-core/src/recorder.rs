//! Recorders: what must be written in the erasure's own transaction, so that it exists if and
//! only if the erasure committed.
//!
//! A [`Recorder`] runs after every handler succeeded and before the commit, on the same
//! connection, inside the same transaction: a receipt of the erasure, events for downstream
//! systems in an outbox, keyed hashes for a suppression list (the `erasure-evidence` crate has
//! all three). If a recorder fails, the erasure rolls back like for any handler error. A dry run
//! never calls recorders.
//!
//! Handlers feed recorders through their context: [`ErasureContext::emit`] asks that a
//! downstream system be told to erase the subject too, and [`ErasureContext::identifier`] hands
//! over an identifier the subject used (their account email) for recorders that
//! [`want identifiers`](Recorder::wants_identifiers).
//!
//! [`ErasureContext::emit`]: crate::ErasureContext::emit
//! [`ErasureContext::identifier`]: crate::ErasureContext::identifier

use std::borrow::Cow;
use std::fmt;

use async_trait::async_trait;
use serde::Serialize;

use crate::backend::Backend;
use crate::error::HandlerError;
use crate::footprint::Footprint;
use crate::pseudonym::Pseudonymizer;
use crate::report::Report;
use crate::subject::Subject;

/// A request, made by a handler, that a downstream system be told to erase the subject too.
///
/// `Debug` does not show `data`, which may identify the subject.
#[derive(Clone, PartialEq, Serialize)]
pub struct Emitted {
    /// The handler's position.
    pub position: u32,
    /// The handler's name.
    pub handler: String,
    /// Where the event goes (`newsletter`, `search-index`): the name a dispatcher maps to a
    /// sink.
    pub destination: String,
    /// What the downstream system needs to find the subject (its own id for them, their email).
    pub data: serde_json::Value,
}

impl fmt::Debug for Emitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitted")
            .field("position", &self.position)
            .field("handler", &self.handler)
            .field("destination", &self.destination)
            .field("data", &"<redacted>")
            .finish()
    }
}

/// An identifier the subject used (kind `email`), handed over by a handler for recorders that
/// keep keyed hashes of them. `Debug` does not show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Identifier {
    /// What kind of identifier (`email`).
    pub kind: Cow<'static, str>,
    /// The identifier.
    pub value: String,
}

impl fmt::Debug for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identifier")
            .field("kind", &self.kind)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// What a committing erasure hands its recorders.
#[derive(Debug)]
#[non_exhaustive]
pub struct Committing<'a> {
    /// The report as it stands before the commit (its `elapsed_us` so far).
    pub report: &'a Report,
    /// The subject. Recorders that write it anywhere hold personal data: say so in their docs.
    pub subject: &'a Subject,
    /// Events the handlers emitted, in position order.
    pub events: &'a [Emitted],
    /// Identifiers the handlers handed over (only collected when a recorder wants them).
    pub identifiers: &'a [Identifier],
    pseudonymizer: &'a Pseudonymizer,
}

impl<'a> Committing<'a> {
    pub(crate) fn new(
        report: &'a Report,
        subject: &'a Subject,
        events: &'a [Emitted],
        identifiers: &'a [Identifier],
        pseudonymizer: &'a Pseudonymizer,
    ) -> Self {
        Self {
            report,
            subject,
            events,
            identifiers,
            pseudonymizer,
        }
    }

    /// A keyed pseudonym of `data` in `domain`, with the chain's key (see [`Pseudonymizer`]).
    pub fn pseudonym(&self, domain: &str, data: &[u8]) -> String {
        self.pseudonymizer.pseudonym(domain, data)
    }

    /// Whether the chain's pseudonym key was configured (rather than drawn at random for this
    /// process): pseudonyms that must be recomputed later (to look up receipts, to check a
    /// suppression list) need a configured key.
    pub fn key_is_configured(&self) -> bool {
        self.pseudonymizer.is_configured()
    }
}

/// Writes something in the erasure's own transaction, just before it commits. See the module
/// docs.
///
/// ```
/// use erasure_core::{async_trait, Backend, HandlerError};
/// use erasure_core::recorder::{Committing, Recorder};
///
/// /// Counts committed erasures in a table of the integrator's.
/// struct Tally;
///
/// #[async_trait]
/// impl<DB: Backend> Recorder<DB> for Tally {
///     fn name(&self) -> &str { "tally" }
///
///     async fn record(&self, conn: &mut DB::Connection, run: &Committing<'_>) -> Result<(), HandlerError> {
///         use erasure_core::{ident, sql::{Condition, Update}};
///         let _ = run.report.totals();
///         let bump = Update::new(ident!("tally"), Condition::eq(ident!("id"), 1)).set(ident!("seen"), true);
///         DB::execute(conn, &bump.to_sql()).await?;
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Recorder<DB: Backend>: Send + Sync {
    /// A short, stable name, used in errors and traces.
    fn name(&self) -> &str;

    /// The tables and columns it writes, so that [`Chain::check_schema`](crate::Chain::check_schema)
    /// finds a missing table before an erasure does.
    fn footprint(&self) -> Footprint {
        Footprint::new()
    }

    /// Whether it wants the identifiers handlers hand over. Handlers skip the reads that find
    /// them when no recorder does.
    fn wants_identifiers(&self) -> bool {
        false
    }

    /// Writes, on `conn`, inside the erasure's transaction.
    ///
    /// # Errors
    ///
    /// Any error rolls the whole erasure back. Messages must not contain personal data.
    async fn record(
        &self,
        conn: &mut DB::Connection,
        run: &Committing<'_>,
    ) -> Result<(), HandlerError>;
}
