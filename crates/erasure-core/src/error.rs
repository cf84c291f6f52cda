//! Errors: of a handler, of a run, of building a chain.
//!
//! Every message here is safe to log. Messages name handlers, positions, tables and database
//! error codes; they never carry a subject's identifiers or personal values. Database errors are
//! wrapped in [`DatabaseError`], whose message masks quoted literals (MySQL, for one, echoes the
//! offending value in `Duplicate entry '…'`); the raw driver error stays reachable through
//! [`DatabaseError::as_sqlx`] for code that needs it, but is deliberately not exposed as
//! [`std::error::Error::source`], so that printing an error chain cannot leak it.

use std::borrow::Cow;
use std::fmt;

use crate::redact::mask;
use crate::subject::SubjectError;

/// Convenience alias for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use crate::backend::DatabaseError;

/// A guard's refusal to let an erasure proceed.
///
/// The reason is fixed text for an operator ("the subject is the only account admin of a B2B
/// customer"), never personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    reason: Cow<'static, str>,
}

impl Refusal {
    /// A refusal with `reason`.
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// Why the erasure was refused.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Why a handler failed. The chain wraps it in [`Error`] with the handler's name and position.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// A statement failed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// A guard refused the erasure.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The handler's configuration does not fit the data (for example, a mapped column has the
    /// wrong type).
    #[error("invalid configuration: {0}")]
    Config(Cow<'static, str>),
    /// Any other failure of an integrator's handler. Its message must not carry personal data;
    /// as a safety net, it is shown [masked](crate::redact::mask) (and the error is not exposed
    /// as a source, so that printing an error chain cannot show it unmasked).
    #[error("{}", mask(&.0.to_string()))]
    Other(Box<dyn std::error::Error + Send + Sync>),
    /// An export step could not write the document.
    #[error("could not write the export: {0}")]
    Output(#[from] std::io::Error),
    /// An erasure run inside this unit of work (a job's batch runs each subject in a
    /// savepoint) failed in a way that ended or put in doubt the enclosing transaction: a lock
    /// conflict (MySQL rolls back the whole transaction on a deadlock), or a savepoint that
    /// could not be rolled back. The unit must be abandoned, and may be retried as a whole.
    #[error("an erasure inside this unit of work ended its transaction: {0}")]
    Erasure(Box<Error>),
}

impl HandlerError {
    /// A guard refusal with `reason`.
    pub fn refused(reason: impl Into<Cow<'static, str>>) -> Self {
        HandlerError::Refused(Refusal::new(reason))
    }

    /// Wraps any error of an integrator's handler.
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        HandlerError::Other(error.into())
    }

    /// Whether this is a lock conflict on backend `DB` (see [`Error::is_lock_conflict`]).
    pub fn is_lock_conflict<DB: crate::Backend>(&self) -> bool {
        match self {
            HandlerError::Database(db) => DB::is_transient(db.as_sqlx()),
            HandlerError::Erasure(e) => e.is_lock_conflict::<DB>(),
            _ => false,
        }
    }

    /// Whether the enclosing transaction is gone or in doubt ([`HandlerError::Erasure`] of an
    /// error that [leaves the connection unusable](Error::leaves_connection_unusable)).
    pub fn ended_transaction(&self) -> bool {
        matches!(self, HandlerError::Erasure(e) if e.leaves_connection_unusable())
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        HandlerError::Database(DatabaseError::from(e))
    }
}

/// Why an erasure (or dry run) did not complete. Whatever the variant, nothing was committed:
/// the chain rolled back before returning it.
///
/// ```
/// # use erasure_core::Error;
/// fn explain(e: &Error) -> String {
///     match (e.position(), e.handler()) {
///         (Some(p), Some(h)) => format!("stopped at {p} ({h}): {e}"),
///         _ => e.to_string(),
///     }
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The subject breaks a validation rule; nothing was started.
    #[error("invalid subject: {0}")]
    Subject(#[from] SubjectError),
    /// No connection could be acquired.
    #[error("could not acquire a database connection: {0}")]
    Acquire(DatabaseError),
    /// The transaction (or savepoint) could not begin.
    #[error("could not begin the erasure transaction: {0}")]
    Begin(DatabaseError),
    /// A handler failed; everything was rolled back.
    #[error("handler `{handler}` at position {position} failed: {cause}")]
    Handler {
        /// The failing handler's position.
        position: u32,
        /// The failing handler's name.
        handler: String,
        /// Why it failed.
        cause: HandlerError,
    },
    /// A guard refused the erasure; everything was rolled back.
    #[error("handler `{handler}` at position {position} refused the erasure: {reason}")]
    Refused {
        /// The guard's position.
        position: u32,
        /// The guard's name.
        handler: String,
        /// The guard's reason.
        reason: Refusal,
    },
    /// A handler panicked; everything was rolled back. The panic payload is not kept: it may
    /// hold personal data.
    #[error("handler `{handler}` at position {position} panicked; the erasure was rolled back")]
    Panicked {
        /// The handler's position.
        position: u32,
        /// The handler's name.
        handler: String,
    },
    /// A [recorder](crate::recorder) failed; everything was rolled back.
    #[error("recorder `{recorder}` failed; the erasure was rolled back: {cause}")]
    Record {
        /// The recorder's name.
        recorder: String,
        /// Why it failed.
        cause: HandlerError,
    },
    /// Every handler succeeded but the database refused the commit and discarded the
    /// transaction: nothing was committed.
    #[error("could not commit the erasure: {0}")]
    Commit(DatabaseError),
    /// Every handler succeeded, but whether the erasure committed is unknown: the connection
    /// broke during the commit, or the rollback after a refused commit failed. The connection
    /// is closed, never reused. Run the erasure again (a committed erasure repeats as a no-op),
    /// or a dry run to see what is left.
    #[error("the erasure's outcome is unknown (the commit did not complete cleanly): {0}")]
    InDoubt(DatabaseError),
    /// A dry run completed but its rollback failed. Nothing was committed (see
    /// [`Error::Rollback`]).
    #[error("the dry run could not be rolled back: {0}")]
    DryRunRollback(DatabaseError),
    /// Rolling back after `cause` failed too. Nothing was committed: the database discards an
    /// unfinished transaction when its connection closes, and sqlx retries the rollback the next
    /// time the connection is used.
    #[error("{cause}; rolling back also failed: {rollback}")]
    Rollback {
        /// The original failure.
        cause: Box<Error>,
        /// The rollback's failure.
        rollback: DatabaseError,
    },
}

impl Error {
    /// The position of the handler that failed, refused or panicked.
    pub fn position(&self) -> Option<u32> {
        match self {
            Error::Handler { position, .. }
            | Error::Refused { position, .. }
            | Error::Panicked { position, .. } => Some(*position),
            Error::Rollback { cause, .. } => cause.position(),
            _ => None,
        }
    }

    /// The name of the handler that failed, refused or panicked.
    pub fn handler(&self) -> Option<&str> {
        match self {
            Error::Handler { handler, .. }
            | Error::Refused { handler, .. }
            | Error::Panicked { handler, .. } => Some(handler),
            Error::Rollback { cause, .. } => cause.handler(),
            _ => None,
        }
    }

    /// Whether a guard refused the erasure (as opposed to something failing).
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::Refused { .. } => true,
            Error::Rollback { cause, .. } => cause.is_refusal(),
            _ => false,
        }
    }

    /// The handler's own error, for [`Error::Handler`].
    pub fn handler_error(&self) -> Option<&HandlerError> {
        match self {
            Error::Handler { cause, .. } => Some(cause),
            Error::Rollback { cause, .. } => cause.handler_error(),
            _ => None,
        }
    }

    /// Whether the erasure lost a lock conflict on backend `DB` (a deadlock, a serialization
    /// failure, a lock wait timeout, SQLite busy): the whole transaction may be retried.
    ///
    /// The chain retries its own transactions (see [`RetryPolicy`](crate::RetryPolicy)); this
    /// is for callers of [`Chain::erase_on`](crate::Chain::erase_on) inside a transaction of
    /// their own, whose transaction is the unit to retry.
    pub fn is_lock_conflict<DB: crate::Backend>(&self) -> bool {
        match self {
            Error::Begin(db) | Error::Commit(db) | Error::InDoubt(db) => {
                DB::is_transient(db.as_sqlx())
            }
            Error::Handler { cause, .. } | Error::Record { cause, .. } => {
                cause.is_lock_conflict::<DB>()
            }
            Error::Rollback { cause, .. } => cause.is_lock_conflict::<DB>(),
            _ => false,
        }
    }

    /// Whether the connection's transaction is in an unknown state after this error: a
    /// rollback (to the chain's savepoint, inside a caller's transaction) failed, or the
    /// commit's outcome is unknown. MySQL, for one, ends the whole transaction on a deadlock,
    /// savepoints included. Roll back what can be rolled back and close the connection instead
    /// of returning it to the pool
    /// ([`PoolConnection::close_on_drop`](sqlx::pool::PoolConnection::close_on_drop)); the
    /// chain does so itself for connections it took from a pool.
    pub fn leaves_connection_unusable(&self) -> bool {
        matches!(
            self,
            Error::Rollback { .. } | Error::DryRunRollback(_) | Error::InDoubt(_)
        )
    }
}

/// One reason a chain cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainProblem {
    /// Two handlers claim one position.
    #[error("position {position} is taken by both `{first}` and `{second}`")]
    DuplicatePosition {
        /// The contested position.
        position: u32,
        /// The handler registered first.
        first: String,
        /// The handler registered second.
        second: String,
    },
    /// Two handlers have one name.
    #[error("the name `{name}` is taken by the handlers at positions {first} and {second}")]
    DuplicateName {
        /// The contested name.
        name: String,
        /// The lower position.
        first: u32,
        /// The higher position.
        second: u32,
    },
    /// `without` named no handler of the chain.
    #[error("no handler is named `{name}`; the handlers are: {}", known.join(", "))]
    UnknownHandler {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: Vec<String>,
    },
    /// `replace` named a position with no handler.
    #[error("cannot replace position {position} with `{handler}`: no handler is registered there")]
    NothingToReplace {
        /// The position.
        position: u32,
        /// The replacement handler.
        handler: String,
    },
    /// `remove` named a position with no handler.
    #[error("cannot remove position {0}: no handler is registered there")]
    NothingToRemove(u32),
    /// No handler at all.
    #[error("the chain has no handlers")]
    Empty,
    /// No pseudonym key was given and none could be drawn at random.
    #[error("no pseudonym key was given and the system has no randomness to draw one")]
    NoRandomness,
}

/// Why [`ChainBuilder::build`](crate::ChainBuilder::build) failed: every problem found, in the
/// order the builder met them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid chain: {}", list(.problems))]
pub struct BuildError {
    problems: Vec<ChainProblem>,
}

fn list(problems: &[ChainProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl BuildError {
    pub(crate) fn new(problems: Vec<ChainProblem>) -> Self {
        Self { problems }
    }

    /// The problems found.
    pub fn problems(&self) -> &[ChainProblem] {
        &self.problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_errors_of_integrators_are_masked_and_not_a_source() {
        let e = HandlerError::other("CRM has no contact ada@example.test, 'Ada Lovelace'");
        let shown = e.to_string();
        assert!(!shown.contains("ada@example.test"), "{shown}");
        assert!(!shown.contains("Lovelace"), "{shown}");
        assert!(std::error::Error::source(&e).is_none());
        let e = Error::Handler {
            position: 60,
            handler: "crm".into(),
            cause: e,
        };
        assert!(!e.to_string().contains("example.test"), "{e}");
        assert!(e.to_string().contains("position 60"), "{e}");
    }

    #[test]
    fn nested_rollback_error_reports_the_handler() {
        let e = Error::Rollback {
            cause: Box::new(Error::Refused {
                position: 5,
                handler: "b2b".into(),
                reason: Refusal::new("sole admin"),
            }),
            rollback: DatabaseError::from(sqlx::Error::PoolClosed),
        };
        assert_eq!(e.position(), Some(5));
        assert_eq!(e.handler(), Some("b2b"));
        assert!(e.is_refusal());
        assert!(e.to_string().contains("position 5"), "{e}");
    }
}
