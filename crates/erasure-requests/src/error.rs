//! Errors of the request life cycle.

use crate::state::State;

/// Why a request operation failed. Nothing changed unless the variant says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// No request has this id.
    #[error("no request with id {0}")]
    NotFound(String),
    /// The transition is not allowed from the request's current state.
    #[error("request {id}: cannot go from {from} to {to}")]
    InvalidTransition {
        /// The request.
        id: String,
        /// Its state.
        from: State,
        /// The state asked for.
        to: State,
    },
    /// The token does not match.
    #[error("request {0}: the confirmation token does not match")]
    WrongToken(String),
    /// The token expired; the request is now `expired` (this change *was* committed).
    #[error("request {0}: the confirmation token expired; the request has expired")]
    TokenExpired(String),
    /// The erasure delay is over (or there was none): the request can no longer be cancelled.
    #[error("request {0}: too late to cancel, it may already be carried out")]
    TooLateToCancel(String),
    /// A request without a subject cannot be confirmed for processing without one.
    #[error("request {0}: the subject is unknown; resolve it first")]
    NoSubject(String),
    /// The subject or email is invalid.
    #[error("invalid subject: {0}")]
    Subject(#[from] erasure_core::SubjectError),
    /// No randomness for a token.
    #[error("no randomness available for a confirmation token")]
    NoRandomness,
    /// A stored row could not be read back.
    #[error("corrupt request row: {0}")]
    Corrupt(String),
    /// The erasure could not run to an outcome: it lost lock conflicts on every retry, or the
    /// connection failed mid-way. Nothing of the attempt was committed; the request stays
    /// confirmed for a later attempt.
    #[error("the erasure could not be carried out; the request stays confirmed: {0}")]
    Erasure(#[source] erasure_core::Error),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] erasure_core::DatabaseError),
}

impl From<sqlx::Error> for RequestError {
    fn from(e: sqlx::Error) -> Self {
        RequestError::Database(e.into())
    }
}

impl From<erasure_core::HandlerError> for RequestError {
    fn from(e: erasure_core::HandlerError) -> Self {
        match e {
            erasure_core::HandlerError::Database(db) => RequestError::Database(db),
            other => RequestError::Corrupt(other.to_string()),
        }
    }
}
