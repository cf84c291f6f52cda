//! The life cycle of personal-data requests.
//!
//! Erasure in a real shop is a process, not one call: a request arrives, is confirmed by the
//! person it concerns, is carried out within the legal deadline (one month), and is kept for a
//! while as evidence before it is deleted too. This crate keeps requests in the library's own
//! table, `erasure_requests` ([`Requests::install`], or the DDL in `schema/` for your own
//! migrations), and moves them through checked states:
//!
//! * [`Requests::submit`]: a new request, `pending`, with a confirmation [`Token`] (random, stored
//!   only as a hash, valid 24 h by default). An erasure request of a registered customer
//!   deactivates the account at once. A second request for a subject with one open returns the
//!   open one.
//! * [`Requests::confirm`]: the requester proves it is them; `confirmed`, or `awaiting_operator`
//!   when they are not a registered customer and an operator must identify them
//!   ([`Requests::resolve`]).
//! * [`Worker`]: claims confirmed erasures one at a time and carries them out with the chain;
//!   `completed` (the request forgets the subject) or `failed` ([`Requests::retry`]).
//! * [`Requests::reject`], [`Requests::cancel`] (during the optional erasure delay),
//!   [`Requests::expire_tokens`], [`Requests::overdue`].
//! * [`RequestPurge`]: a job deleting closed requests after 30 days.
//!
//! Every transition is checked against [`State::allows`] and against the state in the
//! database; an invalid one is an error, never a silent change. A [`Notifier`] hears about every
//! committed transition: the library sends no email itself.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod columns;
mod config;
mod error;
mod export;
mod notifier;
mod purge;
mod request;
mod state;
mod store;
mod token;
mod worker;

pub use columns::TABLE;
pub use config::{Deactivate, RequestConfig};
pub use error::RequestError;
pub use export::{DirectoryTarget, ExportTarget};
pub use notifier::{NoNotifier, Notifier, Transition};
pub use purge::RequestPurge;
pub use request::Request;
pub use state::{RequestKind, State};
pub use store::{Requests, Submission};
pub use token::Token;
pub use worker::Worker;
