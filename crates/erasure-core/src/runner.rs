//! The one place a handler's step runs, whatever the pass: the chain's prepare and erase passes
//! (of an erasure or a dry run) and the export's sections all call [`step`].
//!
//! A step runs inside the handler's tracing span (`handler`, with its position and name), with a
//! panic caught; a step that fails, refuses or panics is logged in that span and comes back as a
//! [`StepFailure`] naming the handler and its position, which converts into the chain's
//! [`Error`] (and, in the export module, into its `ExportError`). The chain's recorders, which
//! are not handlers, run through [`guarded`] alone.
//!
//! A panic's payload is dropped unread: a panic message may hold personal data.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt as _;
use tracing::Instrument as _;

use crate::backend::Backend;
use crate::error::{Error, HandlerError};
use crate::handler::DeletionHandler;

/// A handler at its position in a chain, as every pass runs it.
pub(crate) struct Entry<DB: Backend> {
    pub(crate) position: u32,
    pub(crate) handler: Arc<dyn DeletionHandler<DB>>,
}

impl<DB: Backend> Entry<DB> {
    /// The handler's tracing span: its position and name, nothing about the subject.
    pub(crate) fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "handler",
            position = self.position,
            handler = self.handler.name()
        )
    }
}

/// Why a step did not return a value.
#[derive(Debug)]
pub(crate) enum Stopped {
    /// It returned an error.
    Failed(HandlerError),
    /// It panicked.
    Panicked,
}

/// A handler's step that did not return a value: which handler, and why.
#[derive(Debug)]
pub(crate) struct StepFailure {
    /// The handler's position.
    pub(crate) position: u32,
    /// The handler's name.
    pub(crate) handler: String,
    /// What stopped it.
    pub(crate) stopped: Stopped,
}

impl StepFailure {
    /// The failure of `entry`'s step, logged in `span` (the handler's, see [`Entry::span`]):
    /// a refusal or an error as a warning, a panic as an error.
    pub(crate) fn logged<DB: Backend>(
        entry: &Entry<DB>,
        stopped: Stopped,
        span: &tracing::Span,
    ) -> Self {
        let _entered = span.enter();
        match &stopped {
            Stopped::Failed(HandlerError::Refused(reason)) => {
                tracing::warn!(reason = %reason, "handler refused the erasure");
            }
            Stopped::Failed(cause) => tracing::warn!(error = %cause, "handler failed"),
            Stopped::Panicked => tracing::error!("handler panicked"),
        }
        Self {
            position: entry.position,
            handler: entry.handler.name().to_owned(),
            stopped,
        }
    }
}

impl From<StepFailure> for Error {
    /// A refusal is the chain's [`Error::Refused`], any other error its [`Error::Handler`], a
    /// panic its [`Error::Panicked`].
    fn from(failure: StepFailure) -> Self {
        let StepFailure {
            position,
            handler,
            stopped,
        } = failure;
        match stopped {
            Stopped::Failed(HandlerError::Refused(reason)) => Error::Refused {
                position,
                handler,
                reason,
            },
            Stopped::Failed(cause) => Error::Handler {
                position,
                handler,
                cause,
            },
            Stopped::Panicked => Error::Panicked { position, handler },
        }
    }
}

/// Runs `work`, a step of `entry`'s handler (its `prepare`, `erase` or `export`), in the
/// handler's span with a panic caught; a failure is logged there and names the handler.
pub(crate) async fn step<DB: Backend, T>(
    entry: &Entry<DB>,
    work: impl Future<Output = Result<T, HandlerError>>,
) -> Result<T, StepFailure> {
    let span = entry.span();
    match guarded(span.clone(), work).await {
        Ok(value) => Ok(value),
        Err(stopped) => Err(StepFailure::logged(entry, stopped, &span)),
    }
}

/// Runs `work` in `span`, catching a panic: the bare guard under [`step`], for the chain's
/// recorders, which are not handlers.
pub(crate) async fn guarded<T>(
    span: tracing::Span,
    work: impl Future<Output = Result<T, HandlerError>>,
) -> Result<T, Stopped> {
    match AssertUnwindSafe(work).catch_unwind().instrument(span).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(cause)) => Err(Stopped::Failed(cause)),
        Err(_panic) => Err(Stopped::Panicked),
    }
}
