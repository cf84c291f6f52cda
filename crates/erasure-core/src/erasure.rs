//! One erasure to carry out: the subject, the reason, the acting operator.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::subject::Subject;

/// Why data is erased. Recorded in reports; handlers may act on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The data subject asked (GDPR Article 17).
    #[default]
    DataSubjectRequest,
    /// A retention period ran out (for example, an inactive account).
    Retention,
    /// The account was closed.
    AccountClosure,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::DataSubjectRequest => "data_subject_request",
            Reason::Retention => "retention",
            Reason::AccountClosure => "account_closure",
        })
    }
}

/// Whether a run commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Run and commit.
    Erase,
    /// Run and roll back: the report says what would happen.
    DryRun,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Erase => "erase",
            Mode::DryRun => "dry_run",
        })
    }
}

/// One erasure to carry out: whose data, why, and on whose authority.
///
/// ```
/// use erasure_core::{Erasure, Reason, Subject};
///
/// let erasure = Erasure::new(Subject::customer(42))
///     .with_reason(Reason::AccountClosure)
///     .with_operator("support-agent-17");
/// assert_eq!(erasure.reason(), Reason::AccountClosure);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    subject: Subject,
    #[serde(default)]
    reason: Reason,
    #[serde(default)]
    operator: Option<String>,
}

impl Erasure {
    /// An erasure of `subject` for a data-subject request, with no operator recorded.
    pub fn new(subject: Subject) -> Self {
        Self {
            subject,
            reason: Reason::default(),
            operator: None,
        }
    }

    /// With the reason.
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = reason;
        self
    }

    /// With the id of the acting operator (an employee id, a service name). It is recorded in
    /// the report as given; use an id, not a person's name.
    pub fn with_operator(mut self, operator: impl Into<String>) -> Self {
        self.operator = Some(operator.into());
        self
    }

    /// The subject.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// The reason.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The acting operator, if recorded.
    pub fn operator(&self) -> Option<&str> {
        self.operator.as_deref()
    }
}

impl From<Subject> for Erasure {
    fn from(subject: Subject) -> Self {
        Erasure::new(subject)
    }
}
