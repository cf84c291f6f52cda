//! The core of `erasure`: an ordered, transactional chain of deletion handlers.
//!
//! A customer asks to be forgotten (GDPR Article 17). Their data lives in many tables; some rows
//! may be deleted now, some must be kept for the law and are anonymized instead, some are marked
//! and removed later by purge jobs. `erasure` runs one [`DeletionHandler`] per area of data, in
//! position order, inside one database transaction, and rolls everything back if anything fails.
//!
//! * [`DeletionHandler`], [`ErasureContext`], [`Outcome`]: write a handler.
//! * [`Chain`], [`ChainBuilder`], [`register_handler!`]: assemble handlers by position.
//! * [`Chain::erase`], [`Chain::dry_run`] and the [`Report`] they return.
//! * [`Chain::export`]: the subject's data as one JSON document, from the same handlers
//!   ([`export`]).
//! * [`Subject`], [`Erasure`]: whose data, and why.
//! * [`Backend`] (SQLite, PostgreSQL, MySQL/MariaDB), [`sql`] (statements from fixed text,
//!   validated [`Ident`]ifiers and bound [`Value`]s).
//!
//! # Feature flags
//!
//! * `sqlite` (default): the SQLite backend (bundled SQLite) and [`sqlite`] helpers that open a
//!   database with the pragmas an erasure library needs.
//! * `postgres`: the PostgreSQL backend.
//! * `mysql`: the MySQL / MariaDB backend.
//!
//! # Privacy
//!
//! Nothing this crate logs, traces, reports or puts in an error message contains a subject's
//! identifiers or personal values: subjects appear as keyed pseudonyms ([`Pseudonymizer`]),
//! `Debug` output of subjects, keys and values is redacted, and database error messages have
//! quoted literals masked ([`DatabaseError`]).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

// The modules in layers, from the bottom up: a module uses only modules of its own layer or
// below (docs/architecture.md). Keep it so.

// 1. Words of SQL.
mod dialect;
mod ident;
pub mod redact;
pub mod sql;
mod value;

// 2. The backend layer: the one place that knows each database.
mod backend;

// 3. Units of work, and whose they are.
mod error;
pub mod ledger;
mod retry;
pub mod schema;
mod subject;
pub mod transaction;

// 4. Describing an erasure.
pub mod clock;
mod erasure;
pub mod footprint;
pub mod mapping;
mod outcome;
pub mod policy;
pub mod position;
pub mod pseudonym;
mod replacement;
mod report;
mod settings;

// 5. Running handlers.
mod builder;
mod chain;
mod context;
pub mod coverage;
pub mod export;
mod handler;
pub mod recorder;
mod registry;
pub mod rule;
mod runner;
mod staged;

// 6. Around the chain.
pub mod batch;
pub mod job;
pub mod retention;

pub use async_trait::async_trait;
#[doc(hidden)]
pub use inventory;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use backend::postgres;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use backend::sqlite;
pub use backend::{Backend, Dialect, Row};
pub use batch::{BatchOptions, ManyError, ManySummary, Pace, SubjectResult};
pub use builder::ChainBuilder;
pub use chain::{Chain, Description, HandlerInfo};
pub use context::ErasureContext;
pub use erasure::{Erasure, Mode, Reason};
pub use error::{BuildError, ChainProblem, DatabaseError, Error, HandlerError, Refusal, Result};
pub use export::{ExportContext, ExportError, ExportSummary, Exported};
pub use footprint::Footprint;
pub use handler::DeletionHandler;
pub use ident::{Ident, IdentError, MAX_IDENT_LEN};
pub use mapping::{Anonymize, ChildTable};
pub use outcome::{Action, Effect, Outcome, Totals};
pub use pseudonym::{PseudonymKey, Pseudonymizer};
pub use registry::{Registered, Registration};
pub use replacement::{Granularity, Replacement};
pub use report::{HandlerReport, Report};
pub use retry::{Retry, RetryPolicy};
pub use settings::Settings;
pub use subject::{
    Key, KeyType, MAX_KEY_LEN, MAX_USERS, Matching, Scalar, Subject, SubjectColumns, SubjectError,
    SubjectKind,
};
pub use value::Value;

#[doc(hidden)]
pub mod __private {
    pub use crate::ident::is_valid_ident;
}
