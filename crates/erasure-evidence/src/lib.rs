//! Evidence of erasure, written in the erasure's own transaction: receipts, a suppression list,
//! and an outbox of erasure events for downstream systems.
//!
//! Each of the three is a [`Recorder`](erasure_core::recorder::Recorder) registered on the
//! chain's builder. Recorders run after the last handler and before the commit, on the same
//! connection: what they write exists if and only if the erasure committed. A dry run writes
//! nothing.
//!
//! * [`Receipts`]: one row per committed erasure in `erasure_receipts`: run id, time, operator,
//!   the chain's handlers with their outcome counts and retention reasons, and the subject only
//!   as a keyed pseudonym. A receipt holds no personal data of the subject (accountability,
//!   GDPR Article 5(2)). [`receipts`] lists and reads them.
//! * [`Suppression`]: the keyed hash of every email the erased subject used, in
//!   `erasure_suppressions`, so that a later import or sync can refuse to re-create the erased
//!   person ([`SuppressionList::is_suppressed`]). The hashes are pseudonymous data, kept for the
//!   purpose of honouring the erasure.
//! * [`Outbox`]: events telling downstream systems (newsletter service, search index) to erase
//!   the subject too (GDPR Article 19), in `erasure_outbox`; a [`Dispatcher`] delivers them at
//!   least once to your [`EventSink`]s, with retries and backoff.
//!
//! ```
//! use erasure_core::{Chain, Erasure, PseudonymKey, Subject};
//! use erasure_evidence::{Outbox, Receipts, Suppression};
//!
//! # struct Alerts;
//! # #[erasure_core::async_trait]
//! # impl<DB: erasure_core::Backend> erasure_core::DeletionHandler<DB> for Alerts {
//! #     fn name(&self) -> &str { "alerts" }
//! #     fn description(&self) -> &str { "deletes alerts" }
//! #     async fn erase(&self, _: &mut erasure_core::ErasureContext<'_, DB>)
//! #         -> Result<erasure_core::Outcome, erasure_core::HandlerError> {
//! #         Ok(erasure_core::Outcome::new())
//! #     }
//! # }
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = erasure_core::sqlite::open("sqlite::memory:", 1).await?;
//! erasure_evidence::install(&pool).await?;
//! let key = PseudonymKey::from_hex("00112233445566778899aabbccddeeff")?;
//! let chain = Chain::<sqlx::Sqlite>::builder()
//!     .register(80, Alerts) // or erasure::standard_chain()
//!     .pseudonym_key(key.clone())
//!     .recorder(Receipts::new())
//!     .recorder(Suppression::new())
//!     .recorder(Outbox::new().destination("newsletter")?)
//!     .build()?;
//! let report = chain.erase(&pool, &Erasure::new(Subject::guest("ada@example.test")?).with_operator("support-17")).await?;
//!
//! let receipt = erasure_evidence::receipts::get(&pool, report.run_id).await?.expect("committed");
//! assert_eq!(receipt.operator.as_deref(), Some("support-17"));
//! let list = erasure_evidence::SuppressionList::new(key);
//! assert!(list.is_suppressed(&pool, " ADA@example.test").await?);
//! # Ok(()) }
//! # if let Err(e) = tokio::runtime::Runtime::new().unwrap().block_on(run()) { panic!("{e}") }
//! ```
//!
//! The tables' DDL for each database is in `crates/erasure-evidence/schema/`, for your own
//! migration tool; [`install`] runs it.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::borrow::Cow;

use erasure_core::{Backend, DatabaseError, Dialect};
use sqlx::Pool;

pub mod outbox;
pub mod receipts;
pub mod suppression;

pub use outbox::{Dispatcher, EventSink, Outbox, OutboxEvent, SinkError};
pub use receipts::{Receipt, Receipts};
pub use suppression::{Suppression, SuppressionList};

/// Why reading or writing evidence failed. Messages carry no personal data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// A statement failed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// A stored row could not be read back (a column of the wrong type, a body that is not the
    /// JSON this crate wrote).
    #[error("corrupt evidence row in `{table}`: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What was wrong.
        reason: Cow<'static, str>,
    },
    /// An argument was refused.
    #[error("invalid argument: {0}")]
    Invalid(Cow<'static, str>),
}

impl From<sqlx::Error> for EvidenceError {
    fn from(e: sqlx::Error) -> Self {
        EvidenceError::Database(DatabaseError::from(e))
    }
}

/// Creates the tables `erasure_receipts`, `erasure_outbox` and `erasure_suppressions` and their
/// indexes if they do not exist.
///
/// # Errors
///
/// A statement fails.
pub async fn install<DB: Backend>(pool: &Pool<DB>) -> Result<(), EvidenceError> {
    let script: &'static str = match DB::DIALECT {
        Dialect::Sqlite => include_str!("../schema/sqlite.sql"),
        Dialect::Postgres => include_str!("../schema/postgres.sql"),
        Dialect::MySql => include_str!("../schema/mysql.sql"),
    };
    let mut conn = pool.acquire().await?;
    erasure_core::schema::run_script::<DB>(&mut conn, script).await?;
    Ok(())
}

/// A corrupt-row error for `table`.
pub(crate) fn corrupt(table: &'static str, reason: impl Into<Cow<'static, str>>) -> EvidenceError {
    EvidenceError::Corrupt {
        table,
        reason: reason.into(),
    }
}

/// The recorder error for a pseudonym key that was drawn at random for this process.
pub(crate) fn needs_configured_key(recorder: &'static str) -> erasure_core::HandlerError {
    erasure_core::HandlerError::Config(Cow::Owned(format!(
        "the `{recorder}` recorder needs a configured pseudonym key (ChainBuilder::pseudonym_key): \
         with a key drawn at random for this process its hashes could never be matched again"
    )))
}
