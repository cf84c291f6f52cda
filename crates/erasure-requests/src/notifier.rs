//! Telling the integrator about every transition, so they can send the emails.

use async_trait::async_trait;

use crate::request::Request;
use crate::state::State;
use crate::token::Token;

/// A transition of a request, as the [`Notifier`] sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Transition<'a> {
    /// The request after the transition.
    pub request: &'a Request,
    /// The state before (`None` when the request was just submitted).
    pub from: Option<State>,
    /// The state after.
    pub to: State,
    /// The confirmation token, only when the request was just submitted: put it in the
    /// confirmation email. It is in clear nowhere else.
    pub token: Option<&'a Token>,
}

/// Called after every committed transition. The library sends no email itself: the integrator
/// sends the confirmation email (with the token) on submission, and whatever else they want on
/// the other transitions.
///
/// A failing notifier does not undo the transition (it has been committed); its error is logged
/// without the request's data.
///
/// ```
/// use erasure_requests::{Notifier, Transition, State};
///
/// #[derive(Debug)]
/// struct Mailer;
///
/// #[erasure_core::async_trait]
/// impl Notifier for Mailer {
///     async fn notify(&self, t: &Transition<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///         if let (None, Some(token)) = (t.from, t.token) {
///             // send_confirmation(t.request.contact_email(), token.expose())
///             let _ = token;
///         }
///         if t.to == State::Completed {
///             // send "your data has been erased"
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Reacts to a transition.
    async fn notify(
        &self,
        transition: &Transition<'_>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// A notifier that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotifier;

#[async_trait]
impl Notifier for NoNotifier {
    async fn notify(
        &self,
        _: &Transition<'_>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(())
    }
}
