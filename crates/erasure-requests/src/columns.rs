//! The table `erasure_requests` and its columns, each named once (the DDL is in `schema/`).

use erasure_core::{Ident, ident};

/// The table the store keeps requests in.
pub const TABLE: &str = "erasure_requests";

/// The table, as statements name it.
pub(crate) fn table() -> Ident {
    ident!("erasure_requests")
}

/// A function per column returning its identifier.
macro_rules! columns {
    ($($(#[doc = $doc:literal])+ $column:ident = $name:literal;)+) => {
        $(
            $(#[doc = $doc])+
            pub(crate) fn $column() -> Ident {
                ident!($name)
            }
        )+
    };
}

columns! {
    /// The request's id (a UUID), its primary key.
    id = "id";
    /// `erasure` or `export`.
    kind = "kind";
    /// Where it is in its life cycle.
    state = "state";
    /// The subject as JSON, while the request holds it.
    subject = "subject";
    /// The email to reach the requester, while the request holds it.
    contact_email = "contact_email";
    /// The subject's (or the contact's) keyed pseudonym, to find a subject's open request.
    subject_hash = "subject_hash";
    /// The confirmation token's hash, until it is used.
    token_hash = "token_hash";
    /// When the confirmation token expires.
    token_expires_at = "token_expires_at";
    /// When the request was received.
    received_at = "received_at";
    /// When it must be carried out.
    due_at = "due_at";
    /// When the requester confirmed it.
    confirmed_at = "confirmed_at";
    /// Not carried out before this instant (the erasure delay).
    not_before = "not_before";
    /// When it was closed.
    closed_at = "closed_at";
    /// When it last changed.
    updated_at = "updated_at";
    /// An operator's note.
    note = "note";
    /// What processing did.
    outcome = "outcome";
    /// Processing attempts.
    attempts = "attempts";
}
