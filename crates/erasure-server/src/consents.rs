//! The consents routes: a storefront reads and changes a subject's consents with its service
//! token (the account page's settings, an unsubscribe link's handler).
//!
//! The subject is in the path for customers and users (`/v1/subjects/customer/42/consents`,
//! `/v1/subjects/customer/42/users/7/consents`) and, for a subscriber known only by email, in
//! the `Erasure-Subject-Email` header (`/v1/subjects/email/consents`), so that no address is in
//! a URL.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use erasure_consents::{Channel, ConsentChange, ConsentError, ConsentSubject, Source, Wording};
use erasure_core::{Backend, Key};
use serde::Deserialize;

use crate::auth::{any_matches, bearer};
use crate::error::ApiError;
use crate::server::App;

/// The header naming a subscriber known only by email.
pub(crate) const EMAIL_HEADER: &str = "erasure-subject-email";

/// Checks the shop's service token and its rate limit.
pub(crate) fn service<DB: Backend>(app: &App<DB>, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    let index = any_matches(&app.service_tokens, token).ok_or(ApiError::Unauthorized)?;
    app.service_limit.check(&index).map_err(|retry_after| {
        app.counters
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ApiError::TooMany { retry_after }
    })
}

fn key(raw: &str) -> Result<Key, ApiError> {
    match raw.parse::<i64>() {
        Ok(i) if i.to_string() == raw => Ok(Key::Int(i)),
        _ => Key::text(raw).map_err(|e| ApiError::BadRequest(format!("invalid key: {e}"))),
    }
}

fn consent_error(e: ConsentError) -> ApiError {
    match e {
        e @ (ConsentError::Invalid { .. }
        | ConsentError::Subject { .. }
        | ConsentError::WordingConflict { .. }) => ApiError::BadRequest(e.to_string()),
        other => ApiError::Internal(other.to_string()),
    }
}

/// The query of a read: `?history=true` for every change instead of the current state.
#[derive(Debug, Deserialize)]
pub(crate) struct ReadQuery {
    #[serde(default)]
    history: bool,
}

/// One change, as a storefront sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeBody {
    purpose: String,
    channel: Option<Channel>,
    given: bool,
    wording: Wording,
    /// Default `api`.
    source: Option<Source>,
    /// Default: now.
    at: Option<DateTime<Utc>>,
}

async fn read<DB: Backend>(
    app: &App<DB>,
    subject: &ConsentSubject,
    history: bool,
) -> Result<Response, ApiError> {
    let consents = erasure_consents::Consents::<DB>::new();
    let records = if history {
        consents.history(&app.pool, subject).await
    } else {
        consents.current(&app.pool, subject).await
    }
    .map_err(consent_error)?;
    Ok(Json(records).into_response())
}

async fn write<DB: Backend>(
    app: &App<DB>,
    subject: &ConsentSubject,
    body: ChangeBody,
) -> Result<Response, ApiError> {
    let change = ConsentChange::new(
        body.purpose,
        body.channel,
        body.given,
        body.wording,
        body.source.unwrap_or(Source::Api),
        body.at.unwrap_or_else(Utc::now),
    );
    let consents = erasure_consents::Consents::<DB>::new();
    consents
        .record(&app.pool, subject, &change)
        .await
        .map_err(consent_error)?;
    read(app, subject, false).await
}

/// `GET /v1/subjects/customer/{customer}/consents`.
pub(crate) async fn customer_get<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path(customer): Path<String>,
    Query(q): Query<ReadQuery>,
) -> Result<Response, ApiError> {
    service(&app, &headers)?;
    read(&app, &ConsentSubject::customer(key(&customer)?), q.history).await
}

/// `PUT /v1/subjects/customer/{customer}/consents`: records one change; answers with the
/// current state.
pub(crate) async fn customer_put<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path(customer): Path<String>,
    Json(body): Json<ChangeBody>,
) -> Result<Response, ApiError> {
    service(&app, &headers)?;
    write(&app, &ConsentSubject::customer(key(&customer)?), body).await
}

/// `GET /v1/subjects/customer/{customer}/users/{user}/consents`.
pub(crate) async fn user_get<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path((customer, user)): Path<(String, String)>,
    Query(q): Query<ReadQuery>,
) -> Result<Response, ApiError> {
    service(&app, &headers)?;
    let subject = ConsentSubject::user(key(&customer)?, key(&user)?);
    read(&app, &subject, q.history).await
}

/// `PUT /v1/subjects/customer/{customer}/users/{user}/consents`.
pub(crate) async fn user_put<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path((customer, user)): Path<(String, String)>,
    Json(body): Json<ChangeBody>,
) -> Result<Response, ApiError> {
    service(&app, &headers)?;
    let subject = ConsentSubject::user(key(&customer)?, key(&user)?);
    write(&app, &subject, body).await
}

fn email_subject(headers: &HeaderMap) -> Result<ConsentSubject, ApiError> {
    let email = headers
        .get(EMAIL_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or_else(|| ApiError::BadRequest(format!("the {EMAIL_HEADER} header is needed")))?;
    ConsentSubject::email(email).map_err(|e| ApiError::BadRequest(format!("invalid subject: {e}")))
}

/// `GET /v1/subjects/email/consents` with `Erasure-Subject-Email`.
pub(crate) async fn email_get<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Query(q): Query<ReadQuery>,
) -> Result<Response, ApiError> {
    service(&app, &headers)?;
    read(&app, &email_subject(&headers)?, q.history).await
}

/// `PUT /v1/subjects/email/consents` with `Erasure-Subject-Email`.
pub(crate) async fn email_put<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Json(body): Json<ChangeBody>,
) -> Result<Response, ApiError> {
    service(&app, &headers)?;
    write(&app, &email_subject(&headers)?, body).await
}
