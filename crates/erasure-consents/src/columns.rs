//! The tables and their columns, each named once (the DDL is in `schema/`).

use erasure_core::{Ident, ident};

/// The table of wordings: what was shown, once per purpose, version and language.
pub const WORDINGS: &str = "erasure_consent_wordings";
/// The table of consent changes: the append-only history.
pub const CHANGES: &str = "erasure_consent_changes";

/// The table of the change log of customer data: which fields changed, who changed them and
/// when, never the values.
pub const DATA_CHANGES: &str = "erasure_data_changes";

pub(crate) fn data_changes() -> Ident {
    ident!("erasure_data_changes")
}

pub(crate) fn wordings() -> Ident {
    ident!("erasure_consent_wordings")
}

pub(crate) fn changes() -> Ident {
    ident!("erasure_consent_changes")
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
    /// Wordings: the id, derived from purpose, version and language (see `Wording::id`).
    id = "id";
    /// Wordings: the version shown.
    version = "version";
    /// Wordings: the language tag.
    language = "language";
    /// Wordings: the display name.
    name = "name";
    /// Wordings: the exact text shown.
    text = "text";
    /// Wordings: when the wording was first stored.
    stored_at = "stored_at";
    /// Changes: the insertion sequence (ties of `at` are broken by it).
    seq = "seq";
    /// Changes: `customer`, `user`, `email`, or `erased` for a withdrawal kept as proof.
    subject_kind = "subject_kind";
    /// Changes: `int` or `text`, how the subject's keys were given.
    key_type = "key_type";
    /// Changes: the customer key, as text.
    customer_key = "customer_key";
    /// Changes: the user key, as text.
    user_key = "user_key";
    /// Changes: the subscriber's email (no account).
    email = "email";
    /// Changes: a hash of the subject grouping its changes; the keyed pseudonym once erased.
    subject_ref = "subject_ref";
    /// Both: the purpose key.
    purpose = "purpose";
    /// Changes: the channel, `NULL` for a consent of no particular channel.
    channel = "channel";
    /// Changes: given (`true`) or withdrawn (`false`).
    given = "given";
    /// Changes: the wording shown.
    wording_id = "wording_id";
    /// Changes: where the change came from.
    source = "source";
    /// Changes: when it happened.
    at = "at";
    /// Data changes: the names of the fields changed, comma-separated.
    fields = "fields";
    /// Data changes: who changed them: `subject`, `operator`, `system` or `integration`.
    actor_kind = "actor_kind";
    /// Data changes: the operator's id, or the system's or integration's name.
    actor = "actor";
}
