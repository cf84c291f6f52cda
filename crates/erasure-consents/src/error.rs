//! Errors of the consent store. Messages name the operation and the cause, never a personal
//! value: a subject's key or email never appears, and a rejected field is named, not echoed.

use std::fmt;

use erasure_core::{DatabaseError, SubjectError};

/// What the store was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// [`Consents::install`](crate::Consents::install).
    Install,
    /// [`Consents::record`](crate::Consents::record).
    Record,
    /// [`Consents::history`](crate::Consents::history) and
    /// [`Consents::current`](crate::Consents::current).
    Read,
    /// [`Consents::granted_page`](crate::Consents::granted_page) and
    /// [`Consents::granted`](crate::Consents::granted).
    Granted,
    /// [`Consents::counts`](crate::Consents::counts).
    Count,
    /// [`Consents::import_list`](crate::Consents::import_list).
    Import,
    /// [`Consents::export_list`](crate::Consents::export_list).
    Export,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Install => "installing the consent tables",
            Operation::Record => "recording a consent change",
            Operation::Read => "reading a subject's consents",
            Operation::Granted => "listing the subjects who granted a purpose",
            Operation::Count => "counting consents",
            Operation::Import => "importing a consent list",
            Operation::Export => "exporting a consent list",
        })
    }
}

/// Why a consent operation failed. Nothing was written when a `record` fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// A field breaks a rule (the field is named, its value is not repeated).
    #[error("{op}: the {field} {problem}")]
    Invalid {
        /// What was being done.
        op: Operation,
        /// The field: `purpose`, `wording text`, `wording version`, `wording language` …
        field: &'static str,
        /// The rule it breaks.
        problem: &'static str,
    },
    /// The subject's key or email is invalid.
    #[error("{op}: invalid subject: {source}")]
    Subject {
        /// What was being done.
        op: Operation,
        /// Why.
        #[source]
        source: SubjectError,
    },
    /// The wording of this purpose, version and language is already stored with another name
    /// or text: what was shown under one version must never change (it is the proof), so a
    /// changed wording needs a new version. Purpose, version and language are the shop's
    /// labels, not personal data.
    #[error(
        "{op}: the wording of purpose `{purpose}`, version `{version}`, language `{language}` is \
         already stored with another name or text; a changed wording needs a new version"
    )]
    WordingConflict {
        /// What was being done.
        op: Operation,
        /// The purpose key.
        purpose: String,
        /// The version.
        version: String,
        /// The language tag.
        language: String,
    },
    /// A stored row could not be read back.
    #[error("{op}: a stored row cannot be read: {problem}")]
    Corrupt {
        /// What was being done.
        op: Operation,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A list's header cannot be used: nothing was imported. The message names columns by
    /// position and by the names this crate defines, never by what the file holds.
    #[error("{op}: the header {problem}")]
    Header {
        /// What was being done.
        op: Operation,
        /// What is wrong with it.
        problem: String,
    },
    /// A batch of an import failed in the database and was rolled back: nothing of lines
    /// `first_line..=last_line` was written; the batches before it were committed (through
    /// line `committed_through`), and importing the file again skips what they wrote.
    #[error(
        "{op}: the batch of lines {first_line}-{last_line} was rolled back (lines through \
         {committed_through} are committed; importing again skips them): {source}"
    )]
    Batch {
        /// What was being done.
        op: Operation,
        /// The batch's first line.
        first_line: u64,
        /// The batch's last line.
        last_line: u64,
        /// The last line of the last committed batch (0: none).
        committed_through: u64,
        /// Why.
        #[source]
        source: DatabaseError,
    },
    /// Reading the list or writing it failed.
    #[error("{op}: {source}")]
    Io {
        /// What was being done.
        op: Operation,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database failed (quoted literals masked, see [`DatabaseError`]).
    #[error("{op}: {source}")]
    Database {
        /// What was being done.
        op: Operation,
        /// Why.
        #[source]
        source: DatabaseError,
    },
}

impl ConsentError {
    /// The operation that failed.
    pub fn operation(&self) -> Operation {
        match self {
            ConsentError::Invalid { op, .. }
            | ConsentError::Subject { op, .. }
            | ConsentError::WordingConflict { op, .. }
            | ConsentError::Corrupt { op, .. }
            | ConsentError::Header { op, .. }
            | ConsentError::Batch { op, .. }
            | ConsentError::Io { op, .. }
            | ConsentError::Database { op, .. } => *op,
        }
    }

    pub(crate) fn db(op: Operation) -> impl FnOnce(sqlx::Error) -> ConsentError {
        move |e| ConsentError::Database {
            op,
            source: e.into(),
        }
    }

    pub(crate) fn database(op: Operation) -> impl FnOnce(DatabaseError) -> ConsentError {
        move |source| ConsentError::Database { op, source }
    }
}
