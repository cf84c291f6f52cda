//! The table `erasure_outbox` and its columns, each named once.

use erasure_core::{Ident, ident};

/// The table.
pub(super) fn table() -> Ident {
    ident!("erasure_outbox")
}

/// A function per column returning its identifier.
macro_rules! columns {
    ($($(#[doc = $doc:literal])+ $column:ident = $name:literal;)+) => {
        $(
            $(#[doc = $doc])+
            pub(super) fn $column() -> Ident {
                ident!($name)
            }
        )+
    };
}

columns! {
    /// The event's id (a UUID).
    id = "id";
    /// The erasure's run id.
    run_id = "run_id";
    /// Where the event goes.
    destination = "destination";
    /// The emitting handler's position (`NULL` for a configured destination).
    position = "position";
    /// The emitting handler's name.
    handler = "handler";
    /// When the erasure ran.
    created_at = "created_at";
    /// `pending`, `delivered` or `dead`.
    state = "state";
    /// Delivery attempts so far.
    attempts = "attempts";
    /// When the next attempt is due.
    next_attempt_at = "next_attempt_at";
    /// When it was delivered.
    delivered_at = "delivered_at";
    /// The subject and the handler's data, as JSON; `NULL` once delivered.
    payload = "payload";
    /// Why the last attempt failed.
    last_error = "last_error";
    /// The dispatcher round that holds the event.
    claim = "claim";
    /// Until when that round holds it.
    locked_until = "locked_until";
}
