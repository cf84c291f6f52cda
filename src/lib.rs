//! `erasure`: the GDPR right to erasure (Article 17) for commerce platforms, as an ordered,
//! transactional chain of deletion handlers over sqlx.
//!
//! A customer asks to be forgotten. Their data lives in many tables: some rows may be deleted
//! now, some must be kept for the law and are anonymized instead, some are only marked and
//! removed later by purge jobs. `erasure` runs one handler per area of data, in position order,
//! inside one database transaction, and rolls everything back if anything fails.
//!
//! ```
//! use erasure::{Erasure, Subject};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! # let pool = erasure::sqlite::open("sqlite::memory:", 1).await?;
//! # erasure_testkit::TestBackend::migrate(&pool).await?;
//! // The standard chain of a commerce platform, for the reference schema.
//! let chain = erasure::standard_chain::<sqlx::Sqlite>().build()?;
//! println!("{}", chain.describe());
//!
//! let erasure = Erasure::new(Subject::customer(42)).with_operator("support-17");
//! let preview = chain.dry_run(&pool, &erasure).await?; // changes nothing
//! let report = chain.erase(&pool, &erasure).await?;    // all or nothing
//! assert_eq!(preview.totals(), report.totals());
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
//! ```
//!
//! This crate re-exports [`erasure_core`] (the trait, the chain, the backends) and, behind
//! features, the standard handler crates.
//!
//! # Feature flags
//!
//! * `sqlite` (default): the SQLite backend, bundled.
//! * `postgres`: the PostgreSQL backend.
//! * `mysql`: the MySQL / MariaDB backend.
//! * `standard` (default): every standard handler, [`standard_chain`], [`StandardMappings`] and
//!   the standard purge jobs ([`jobs`]).
//! * `requests` (default): the life cycle of personal-data requests ([`requests`]).
//! * `evidence` (default): receipts of committed erasures, the suppression list and the outbox
//!   of downstream erasure events ([`evidence`]).
//! * `server`: the HTTP service (`erasure::server`, `erasure serve`), and `[server]` in the
//!   configuration file.
//! * `b2b`, `basket`, `wishlist`, `marketing`, `order`, `recurring`, `promotion`, `giftcard`,
//!   `customer`: the standard handler crates one by one.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub use erasure_core::*;

#[cfg(feature = "b2b")]
pub use erasure_b2b as b2b;
#[cfg(feature = "basket")]
pub use erasure_basket as basket;
#[cfg(feature = "consents")]
pub use erasure_consents as consents;
#[cfg(feature = "customer")]
pub use erasure_customer as customer;
#[cfg(feature = "evidence")]
pub use erasure_evidence as evidence;
#[cfg(feature = "giftcard")]
pub use erasure_giftcard as giftcard;
#[cfg(feature = "marketing")]
pub use erasure_marketing as marketing;
#[cfg(feature = "order")]
pub use erasure_order as order;
#[cfg(feature = "promotion")]
pub use erasure_promotion as promotion;
#[cfg(feature = "recurring")]
pub use erasure_recurring as recurring;
#[cfg(feature = "requests")]
pub use erasure_requests as requests;
#[cfg(feature = "server")]
pub use erasure_server as server;
#[cfg(feature = "wishlist")]
pub use erasure_wishlist as wishlist;

#[cfg(feature = "standard")]
mod standard;
#[cfg(feature = "standard")]
pub use standard::{
    ChainConfig, StandardMappings, configured_chain, standard_chain, standard_chain_with,
    standard_handlers,
};
#[cfg(feature = "standard")]
pub mod config;
#[cfg(feature = "standard")]
pub mod jobs;
#[cfg(feature = "standard")]
pub mod preset;

/// The Rust blocks of the README and of `docs/`, compiled as doc tests so that they cannot drift
/// from the API. They define functions that take a pool rather than open one, so they are
/// compiled, not run; the examples run the same code paths end to end.
#[cfg(doctest)]
mod doc_files {
    #[doc = include_str!("../README.md")]
    struct Readme;
    #[doc = include_str!("../docs/concepts.md")]
    struct Concepts;
    #[doc = include_str!("../docs/custom-handlers.md")]
    struct CustomHandlers;
    #[doc = include_str!("../docs/evidence.md")]
    struct Evidence;
    #[doc = include_str!("../docs/mapping.md")]
    struct Mapping;
    #[doc = include_str!("../docs/requests.md")]
    struct Requests;
}
