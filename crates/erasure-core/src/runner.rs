//! One handler's step, run the same way for erasures, dry runs, recorders and exports: inside
//! the handler's tracing span, with a panic caught.
//!
//! A panic's payload is dropped unread: a panic message may hold personal data.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use tracing::Instrument as _;

use crate::error::HandlerError;

/// Why a step did not return a value.
pub(crate) enum Stopped {
    /// It returned an error.
    Failed(HandlerError),
    /// It panicked.
    Panicked,
}

/// Runs `step` in `span`, catching a panic.
pub(crate) async fn guarded<T>(
    span: tracing::Span,
    step: impl Future<Output = Result<T, HandlerError>>,
) -> Result<T, Stopped> {
    match AssertUnwindSafe(step).catch_unwind().instrument(span).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(cause)) => Err(Stopped::Failed(cause)),
        Err(_panic) => Err(Stopped::Panicked),
    }
}
