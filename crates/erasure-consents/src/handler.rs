//! The `consents` handler: erases a subject's consent history with the subject.

use erasure_core::mapping::Anonymize;
use erasure_core::policy::{Policy, Reach, Step};
use erasure_core::sql::Condition;
use erasure_core::{Backend, DeletionHandler, KeyType, Replacement, SubjectColumns};
use serde::{Deserialize, Serialize};

use crate::columns::{self as col, changes, data_changes, wordings};
use crate::queries::ERASED;

/// The handler's position in the chain ([`erasure_core::position::CONSENTS`]): after the
/// customer alerts (80), before the customer row goes (100).
pub const POSITION: u32 = erasure_core::position::CONSENTS;

/// The handler's name.
pub const NAME: &str = "consents";

/// Why withdrawals are kept in proof mode, as the report says.
pub const PROOF_REASON: &str =
    "withdrawals kept as proof of consent management (GDPR Art. 7), under the receipt's pseudonym";

/// How the [`ConsentsHandler`] erases.
///
/// ```toml
/// keep_withdrawals_as_proof = false   # the default: every change of the subject is deleted
/// keep_change_log_as_proof = false    # the default: the subject's change log is deleted
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentsConfig {
    /// Keep the subject's withdrawals (changes with `given = false`) with the subject replaced
    /// by its pseudonym under the chain's key, the one the erasure's receipt records
    /// ([`Chain::pseudonym`](erasure_core::Chain::pseudonym); `subject_ref`; keys and email set
    /// to `NULL`, `subject_kind` set to `erased`), as proof that consent was withdrawn and when,
    /// matched to the receipt. Whoever
    /// holds the chain's key and the subject's id can recompute the pseudonym: the kept rows are
    /// pseudonymized, not anonymous. Every other change is deleted. `false` by default: every
    /// change is deleted.
    pub keep_withdrawals_as_proof: bool,
    /// Keep the subject's change log ([`Consents::record_data_change`](crate::Consents::record_data_change):
    /// field names, actor, source, time; never values) under the same pseudonym, the
    /// receipt's, as proof of who changed what and when.
    /// `false` by default: it is deleted.
    pub keep_change_log_as_proof: bool,
}

/// Why the change log is kept in proof mode, as the report says.
pub const CHANGE_LOG_REASON: &str =
    "change log kept as proof of who changed which fields and when, under the receipt's pseudonym";

/// Erases the subject's consent changes: a customer's (with its users'), selected users', or
/// a subscriber's known by email (rows of no customer); and the change log of the customer's
/// or users' data. The wordings stay: they are the shop's text, not personal data, and other
/// subjects' changes refer to them.
///
/// Its [`Policy`] is all it does (`planned()` is `true`): one `DELETE` of the subject's
/// changes, preceded in proof mode by one `UPDATE` that pseudonymizes their withdrawals, and
/// one `DELETE` (or, kept as proof, one `UPDATE`) of their change log. Its export (the
/// policy's) writes the subject's changes, the wordings they refer to, and the change log.
///
/// ```
/// use erasure_consents::{ConsentsConfig, ConsentsHandler, POSITION};
/// use erasure_core::Chain;
///
/// let chain = Chain::<sqlx::Sqlite>::builder()
///     .register(POSITION, ConsentsHandler::new(ConsentsConfig::default()))
///     .build()?;
/// assert_eq!(chain.describe().handlers[0].name, "consents");
/// # Ok::<(), erasure_core::BuildError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConsentsHandler {
    config: ConsentsConfig,
    policy: Policy,
}

impl ConsentsHandler {
    /// The handler with `config`.
    pub fn new(config: ConsentsConfig) -> Self {
        let theirs = Reach::subject(subject_columns());
        let mut policy = Policy::new("no consents for this kind of subject");
        if config.keep_withdrawals_as_proof {
            let personal = Anonymize::from([
                (col::customer_key(), Replacement::Null),
                (col::user_key(), Replacement::Null),
                (col::email(), Replacement::Null),
                (col::key_type(), Replacement::Null),
                (col::subject_ref(), Replacement::SubjectPseudonym),
            ]);
            policy.push(
                Step::anonymize(changes(), theirs.clone(), personal)
                    .only(Condition::eq(col::given(), false))
                    .mark(col::subject_kind(), ERASED)
                    .retained(PROOF_REASON)
                    .key(col::seq()),
            );
        }
        // In proof mode the withdrawals no longer point at the subject: this deletes the rest.
        policy.push(Step::delete(changes(), theirs.clone()).key(col::seq()));
        // Nothing happens to the wordings; the export writes those the subject was shown.
        policy.push(
            Step::keep(
                wordings(),
                Reach::parent(changes(), col::wording_id(), theirs, col::id()),
            )
            .key(col::id()),
        );
        let logged = Reach::subject(change_log_columns());
        if config.keep_change_log_as_proof {
            let personal = Anonymize::from([
                (col::customer_key(), Replacement::Null),
                (col::user_key(), Replacement::Null),
                (col::key_type(), Replacement::Null),
                (col::subject_ref(), Replacement::SubjectPseudonym),
            ]);
            policy.push(
                Step::anonymize(data_changes(), logged, personal)
                    .mark(col::subject_kind(), ERASED)
                    .retained(CHANGE_LOG_REASON)
                    .key(col::seq()),
            );
        } else {
            policy.push(Step::delete(data_changes(), logged).key(col::seq()));
        }
        Self { config, policy }
    }

    /// The configuration.
    pub fn config(&self) -> &ConsentsConfig {
        &self.config
    }
}

impl Default for ConsentsHandler {
    fn default() -> Self {
        Self::new(ConsentsConfig::default())
    }
}

/// The subject columns of the change log: a customer's and its users' (no subscribers).
fn change_log_columns() -> SubjectColumns {
    SubjectColumns::customer_user(col::customer_key(), col::user_key()).with_keys(KeyType::Text)
}

/// The subject columns of the changes table: keys stored as text, so an integer key is
/// compared as its decimal digits; a subscriber's rows have no customer.
fn subject_columns() -> SubjectColumns {
    SubjectColumns::customer_user(col::customer_key(), col::user_key())
        .with_email(col::email())
        .with_keys(KeyType::Text)
}

impl<DB: Backend> DeletionHandler<DB> for ConsentsHandler {
    fn name(&self) -> &str {
        NAME
    }

    fn description(&self) -> &str {
        if self.config.keep_withdrawals_as_proof {
            "deletes the subject's consent changes, keeping withdrawals under a keyed pseudonym as proof"
        } else {
            "deletes the subject's consent changes"
        }
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        true
    }
}
