//! The right of access (GDPR Articles 15 and 20): everything the chain's handlers know about a
//! subject, as one machine-readable JSON document.
//!
//! The handlers that know where a subject's data lives for erasure also hand it over: each
//! [`DeletionHandler`](crate::DeletionHandler) may implement
//! [`export`](crate::DeletionHandler::export), reading with the same mapping what
//! [`erase`](crate::DeletionHandler::erase) would erase. [`Chain::export`](crate::Chain::export)
//! runs them in position order inside one read-only snapshot transaction and streams one
//! document:
//!
//! ```json
//! {"format":"erasure-export","schema_version":1,"generated_at":"2027-01-10T09:00:00Z",
//!  "generator":"erasure 0.1.0","export_id":"…","subject":{"kind":"customer","customer":42},
//!  "sections":[
//!   {"position":20,"handler":"wishlist-deletion","description":"…","tables":[
//!     {"table":"wishlists","rows":[{"id":7,"customer_id":42,"name":"…"}],"count":1}],
//!    "exported":true,"notes":[]}],
//!  "included":[{"position":20,"handler":"wishlist-deletion","tables":{"wishlists":1}}],
//!  "not_included":[{"position":60,"handler":"loyalty-points","reason":"…"}],
//!  "read_as_text":[], "unreadable":[], "rows":1, "complete":true}
//! ```
//!
//! Rows are written as they arrive from the database, one at a time, so a customer with
//! 100,000 orders exports in bounded memory. Values are JSON numbers, booleans, strings and
//! `null`; timestamps are RFC 3339 strings, dates `YYYY-MM-DD`, bytes lowercase hex. Columns of
//! types the backend layer does not decode (`NUMERIC`, `UUID`, `INET`, `JSON`, enums …) are read
//! as text and listed under `read_as_text`; a value that could still not be read is written as
//! `null`, listed under `unreadable`, and the document says `"complete": false`.
//!
//! The document holds the subject's personal data: it is meant for the subject. Nothing about
//! it is logged beyond counts.
//!
//! # Sections
//!
//! Each handler writes one section, named by the handler. A subject who asks for part of their
//! data ("my consents and my orders") gets a document limited to the sections named:
//! [`Chain::export_only`](crate::Chain::export_only) with [`Sections::only`]. The header then
//! says `"only":[…]`, and the handlers left out are listed under `not_included` with the
//! reason `not asked for`.

mod context;
mod document;
mod run;

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{DatabaseError, HandlerError};
use crate::subject::{SubjectError, SubjectKind};

pub use context::ExportContext;
pub use document::to_json;

/// The `format` field of every export document.
pub const FORMAT: &str = "erasure-export";

/// The version of the document's structure (`schema_version`). It changes only when a field
/// changes meaning or disappears; new fields may appear without a change.
pub const SCHEMA_VERSION: u32 = 1;

/// Which sections (handlers, by name) an export writes: all of them (the default), or only
/// those named.
///
/// ```
/// use erasure_core::export::Sections;
/// let some = Sections::only(["consents", "order-anonymization"]);
/// assert!(some.includes("consents"));
/// assert!(!some.includes("wishlist-deletion"));
/// assert!(Sections::all().includes("wishlist-deletion"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sections(Option<BTreeSet<String>>);

impl Sections {
    /// Every handler's section.
    pub fn all() -> Self {
        Self(None)
    }

    /// Only the sections of the handlers named (each name must be a handler of the chain, or
    /// the export fails with [`ExportError::UnknownSection`] before reading anything).
    pub fn only<I, S>(handlers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(Some(handlers.into_iter().map(Into::into).collect()))
    }

    /// Whether the section of `handler` is written.
    pub fn includes(&self, handler: &str) -> bool {
        self.0.as_ref().is_none_or(|names| names.contains(handler))
    }

    /// The names asked for, `None` for all.
    pub fn names(&self) -> Option<impl Iterator<Item = &str>> {
        self.0
            .as_ref()
            .map(|names| names.iter().map(String::as_str))
    }
}

/// What a handler's export step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exported {
    /// The handler wrote its tables (possibly none, for a subject it holds nothing of).
    Written,
    /// The handler has no export step; the document lists it under `not_included`.
    NotSupported,
}

/// Why an export did not complete. Whatever the variant, the document written so far is
/// incomplete and must be discarded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The subject breaks a validation rule; nothing was read.
    #[error("invalid subject: {0}")]
    Subject(#[from] SubjectError),
    /// No connection could be acquired.
    #[error("could not acquire a database connection: {0}")]
    Acquire(DatabaseError),
    /// The snapshot transaction could not begin, or the catalog could not be read.
    #[error("could not begin the export: {0}")]
    Begin(DatabaseError),
    /// A handler's export step failed.
    #[error("handler `{handler}` at position {position} failed to export: {cause}")]
    Handler {
        /// The handler's position.
        position: u32,
        /// The handler's name.
        handler: String,
        /// Why it failed.
        cause: HandlerError,
    },
    /// A handler's export step panicked. The payload is not kept: it may hold personal data.
    #[error("handler `{handler}` at position {position} panicked while exporting")]
    Panicked {
        /// The handler's position.
        position: u32,
        /// The handler's name.
        handler: String,
    },
    /// A section asked for names no handler of the chain; nothing was read or written.
    #[error("no handler of the chain is named `{name}`; its handlers are: {known}")]
    UnknownSection {
        /// The name asked for (a handler name, not personal data).
        name: String,
        /// The chain's handler names, comma-separated.
        known: String,
    },
    /// The document could not be written.
    #[error("could not write the export: {0}")]
    Write(#[from] io::Error),
    /// The export's read-only transaction could not be rolled back: the connection's
    /// transaction state is unknown. Discard the document; the connection is closed when it
    /// came from a pool, and must be closed by you otherwise.
    #[error("the export's read transaction could not be rolled back: {0}")]
    InDoubt(DatabaseError),
}

impl ExportError {
    /// The position of the handler that failed or panicked.
    pub fn position(&self) -> Option<u32> {
        match self {
            ExportError::Handler { position, .. } | ExportError::Panicked { position, .. } => {
                Some(*position)
            }
            _ => None,
        }
    }

    /// Whether the connection must be closed rather than reused (see
    /// [`ExportError::InDoubt`]).
    pub fn leaves_connection_unusable(&self) -> bool {
        matches!(self, ExportError::InDoubt(_))
    }
}

/// What an export wrote: counts and completeness, no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// The export's id (also in the document and in traces).
    pub export_id: Uuid,
    /// The clock reading the export used.
    pub generated_at: DateTime<Utc>,
    /// The kind of subject.
    pub subject_kind: SubjectKind,
    /// Rows written, per table (a table written by two handlers counts both).
    pub tables: BTreeMap<String, u64>,
    /// Rows written in all.
    pub rows: u64,
    /// Handlers without an export step, by position.
    pub not_included: Vec<(u32, String)>,
    /// Handlers whose sections were not asked for ([`Sections::only`]), by position.
    pub left_out: Vec<(u32, String)>,
    /// Whether every value could be read (see the module docs).
    pub complete: bool,
    /// Bytes written.
    pub bytes: u64,
}

impl std::fmt::Display for ExportSummary {
    /// One line of counts, no personal data: `export <id>: 36 rows from 19 tables, 10620
    /// bytes`, with `, incomplete (unreadable values)` when a value could not be read.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "export {}: {} rows from {} tables, {} bytes",
            self.export_id,
            self.rows,
            self.tables.len(),
            self.bytes
        )?;
        if !self.complete {
            f.write_str(", incomplete (unreadable values)")?;
        }
        Ok(())
    }
}
