//! `erasure`: GDPR right-to-erasure for commerce platforms.
pub use erasure_core::*;
