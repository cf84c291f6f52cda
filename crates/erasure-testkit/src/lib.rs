//! Test kit for `erasure`: the reference commerce schema, deterministic seed data, a residue
//! scanner, a logical dump and a fault-injection handler.
//!
//! * [`db`]: fresh databases with the reference schema ([`TestDb`]).
//! * [`seed`]: N customers with unique, realistic personal values ([`Seed`]).
//! * [`residue`]: where does a person's data still appear ([`residue::scan`])?
//! * [`dump`]: every row of every table, to prove a rollback left the database as before.
//! * [`fault`]: a handler that fails, refuses or panics on demand.
//!
//! The reference schema lives in `migrations/{sqlite,postgres,mysql}/`.
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod db;
pub mod dump;
pub mod fault;
mod names;
pub mod residue;
pub mod seed;

pub use db::{SetupError, TestBackend, TestDb};
pub use residue::Needle;
pub use seed::{Owner, Seed, SeedConfig, SeededCustomer, Shape};
