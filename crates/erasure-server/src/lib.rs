//! `erasure` over HTTP: the privacy center of a shop.
//!
//! One process serves the routes below and carries out the requests they receive (the
//! [`Worker`](erasure_requests::Worker) of `erasure-requests`, in the background), until it is
//! asked to stop: it then finishes the requests in flight and the batch the worker holds.
//!
//! Public routes, for a storefront and for the links in messages:
//!
//! | route | does |
//! | --- | --- |
//! | `POST /v1/requests` | a new erasure or export request: with the shop's service token for a customer it authenticated (`{"kind": "erasure", "customer": 42, "email": …}`), without one for an unknown person by email; the confirmation link goes to the [`Mailer`] |
//! | `GET /v1/requests/confirm?request=…&token=…` | the page the confirmation link opens: confirmed, expired or not valid |
//! | `POST /v1/requests/confirm` | the same as JSON, for a storefront's own page |
//! | `GET /v1/requests/{id}?token=…` | a request's state and due date, through its status link; nothing personal |
//! | `GET /v1/exports/{id}?token=…` | the document of a completed export, streamed, as often and as long as allowed, then removed from disk |
//! | `GET`/`PUT /v1/subjects/customer/{id}/consents` (and `…/users/{user}/consents`, and `/v1/subjects/email/consents` with the `Erasure-Subject-Email` header) | a subject's consents, and one change recorded, with the shop's service token |
//! | `GET /healthz`, `GET /metrics` | liveness (the database answers), counters in Prometheus' text format |
//!
//! Operator routes, with an operator's bearer token, each call in the audit log:
//! `GET /v1/ops/requests[?state=…|?overdue=true]`, `GET /v1/ops/requests/{id}`,
//! `POST /v1/ops/requests/{id}/{resolve|reject|cancel|retry}`, `POST /v1/ops/erase` (with
//! `"dry_run": true` for the preview), `GET /v1/ops/receipts[/{run_id}]`,
//! `GET /v1/ops/outbox`, `POST /v1/ops/outbox/{id}/retry`, `POST /v1/ops/outbox/retry-dead`,
//! `GET /v1/ops/jobs`, `POST /v1/ops/jobs/{name}/run`.
//!
//! The operator's page, server-rendered HTML under `/ops/` on the same operator tokens (a login
//! form, a `Secure`, `HttpOnly`, `SameSite=Strict` session cookie, CSRF tokens on every form):
//! the request queue and each request's actions, erasing a subject after its preview, receipts,
//! the outbox, jobs, the chain and its coverage.
//!
//! Tokens are kept only as SHA-256 ([`TokenHash`]) and compared in constant time; status and
//! download links are signed with the chain's key (nothing is stored for them); a wrong token
//! and an unknown id get the same 401. The public routes are rate-limited per client address,
//! bodies are limited in size and requests in time, and the access log names routes, never
//! paths or queries (which hold tokens).
//!
//! See `docs/serving.md` for running it (`erasure serve`), its configuration and curl
//! examples.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod auth;
mod background;
mod config;
mod consents;
mod downloads;
mod error;
mod jobs;
mod limits;
mod mail;
mod metrics;
mod operator;
mod page;
mod public;
mod server;
pub mod sinks;

pub use auth::{BadTokenHash, TokenHash};
pub use config::{OperatorToken, ServerConfig};
pub use error::ServerError;
pub use mail::{CommandMailer, MailError, Mailer, Message, MessageKind, NoMailer};
pub use server::Server;
pub use sinks::SinkConfig;
