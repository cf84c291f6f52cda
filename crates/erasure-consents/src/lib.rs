//! Consents and opt-ins, with a history that proves them, and their erasure.
//!
//! GDPR Art. 7(1) asks the controller to demonstrate that a person consented: to what text,
//! which version, in which language, when and how. This crate keeps, in the library's own
//! tables ([`Consents::install`], or the DDL in `schema/`):
//!
//! * `erasure_consent_wordings`: each wording shown (display name, exact text, version,
//!   language), once per purpose, version and language. A stored wording never changes: the
//!   same version with another text is refused ([`ConsentError::WordingConflict`]).
//! * `erasure_consent_changes`: the append-only history. Each change names its subject (a
//!   customer, one user of a customer, or a subscriber known by email: [`ConsentSubject`]), a
//!   purpose, an optional [`Channel`], given or withdrawn, the wording shown, its [`Source`] and
//!   its time `at`.
//!
//! * `erasure_data_changes`: the change log of customer data, which fields of a customer or
//!   user changed, who changed them, where and when; never the values
//!   ([`Consents::record_data_change`]).
//!
//! The current state of a subject's (purpose, channel) is its latest change by `at`, ties broken
//! by insertion order: changes may be recorded late and out of order.
//!
//! * [`Consents::record`]: appends a change (validated, in a transaction of its own, or in a
//!   savepoint of yours with [`Consents::record_on`]).
//! * [`Consents::history`], [`Consents::current`]: a subject's changes with their wording, and
//!   its current state.
//! * [`Consents::granted`] (a stream) and [`Consents::granted_page`] (a page and a cursor): the
//!   subjects who currently grant a purpose on a channel, keyset-paged in bounded memory.
//! * [`Consents::counts`]: per purpose, channel and wording version, how many subjects grant and
//!   how many withdrew.
//! * [`Consents::export_list`] and [`Consents::import_list`]: opt-in and opt-out lists out and
//!   in, as CSV or JSON Lines (see [Lists in and out](#lists-in-and-out)).
//! * [`Consents::data_changes`] and [`Consents::timeline`]: a subject's change log, and its
//!   consent and data changes in one list by time.
//! * [`ConsentsHandler`] (`consents`, position [`POSITION`] 85): erases the subject's changes
//!   with the rest of the subject, optionally keeping the withdrawals under the receipt's pseudonym
//!   ([`ConsentsConfig::keep_withdrawals_as_proof`]); its export writes the subject's changes
//!   and the wordings they showed.
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone as _, Utc};
//! use erasure_consents::{Channel, ConsentChange, ConsentSubject, Consents, ConsentsConfig,
//!                        ConsentsHandler, Source, Wording, POSITION};
//! use erasure_core::{Chain, Erasure, Subject};
//! use futures_util::TryStreamExt as _;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = erasure_core::sqlite::open("sqlite::memory:", 1).await?;
//! let consents = Consents::<sqlx::Sqlite>::new();
//! consents.install(&pool).await?;
//!
//! // The checkbox in the checkout, and the wording next to it.
//! let wording = Wording::new("Newsletter", "Send me offers by email. Unsubscribe any time.", "v3", "en");
//! let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
//! let ada = ConsentSubject::customer(42);
//! let opt_in = ConsentChange::new("newsletter", Some(Channel::Email), true, wording.clone(), Source::Checkout, at);
//! consents.record(&pool, &ada, &opt_in).await?;
//! let guest = ConsentSubject::email("reader@example.test")?;
//! consents.record(&pool, &guest, &opt_in).await?;
//!
//! // An older withdrawal arriving late does not override the newer opt-in.
//! let earlier = ConsentChange { given: false, source: Source::Import, at: at - chrono::TimeDelta::days(30), ..opt_in.clone() };
//! consents.record(&pool, &ada, &earlier).await?;
//! assert!(consents.current(&pool, &ada).await?[0].given);
//! assert_eq!(consents.history(&pool, &ada).await?.len(), 2);
//!
//! // Everyone to send the newsletter to, page by page.
//! let to_send: Vec<ConsentSubject> =
//!     consents.granted(&pool, "newsletter", Some(Channel::Email), 500).try_collect().await?;
//! assert_eq!(to_send.len(), 2);
//!
//! // Ada is erased: her consent history goes with her.
//! let chain = Chain::<sqlx::Sqlite>::builder()
//!     .register(POSITION, ConsentsHandler::new(ConsentsConfig::default()))
//!     .build()?;
//! chain.erase(&pool, &Erasure::new(Subject::customer(42))).await?;
//! assert!(consents.history(&pool, &ada).await?.is_empty());
//! assert_eq!(consents.history(&pool, &guest).await?.len(), 1);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
//! ```
//!
//! # Lists in and out
//!
#![doc = include_str!("lists/FORMAT.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod changelog;
mod columns;
mod error;
mod handler;
mod lists;
mod model;
mod queries;
mod store;

pub use changelog::{Actor, DataChange, DataChangeRecord, MAX_FIELDS, TimelineEntry};
pub use columns::{CHANGES, DATA_CHANGES, WORDINGS};
pub use error::{ConsentError, Operation};
pub use handler::{
    CHANGE_LOG_REASON, ConsentsConfig, ConsentsHandler, NAME, POSITION, PROOF_REASON,
};
pub use lists::{
    BadLine, ExportOptions, ImportOptions, ImportSummary, ListFormat, ListSelection, OnBadLine,
    UnknownFormat,
};
pub use model::{
    Channel, ConsentChange, ConsentRecord, ConsentSubject, MAX_LANGUAGE_LEN, MAX_NAME_LEN,
    MAX_PURPOSE_LEN, MAX_TEXT_LEN, MAX_VERSION_LEN, Source, Wording,
};
pub use queries::{ConsentCount, GrantedCursor, GrantedPage};
pub use store::Consents;
