//! The public routes: what a storefront calls, and what a person reaches through a link.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use erasure_core::{Backend, Key, Subject};
use erasure_requests::{Request, RequestError, RequestKind, State as RequestState, Token};
use serde::{Deserialize, Serialize};
use tokio_util::io::ReaderStream;

use crate::auth::{Link, bearer};
use crate::downloads::Unavailable;
use crate::error::ApiError;
use crate::mail::{Message, MessageKind, deliver};
use crate::server::App;

/// A customer or user key as JSON gives it: a number or a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum JsonKey {
    Int(i64),
    Text(String),
}

impl JsonKey {
    pub(crate) fn key(self) -> Result<Key, ApiError> {
        match self {
            JsonKey::Int(i) => Ok(Key::Int(i)),
            JsonKey::Text(t) => Key::text(t).map_err(|e| ApiError::BadRequest(e.to_string())),
        }
    }
}

/// `POST /v1/requests`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitBody {
    kind: RequestKind,
    /// With a service token: the customer the shop authenticated.
    customer: Option<JsonKey>,
    /// With a service token and `customer`: only these users of it.
    #[serde(default)]
    users: Vec<JsonKey>,
    /// With a service token: a guest (orders without an account) by email.
    guest: Option<String>,
    /// Where to send the confirmation link.
    email: Option<String>,
}

/// What a storefront gets back for a request it submitted with its service token.
#[derive(Debug, Serialize)]
struct Submitted<'a> {
    id: &'a str,
    kind: RequestKind,
    state: RequestState,
    due_at: DateTime<Utc>,
    /// The link the person can follow the request with (it is also in their messages).
    status_url: String,
}

/// A request's state as its status link shows it: nothing personal.
#[derive(Debug, Serialize)]
pub(crate) struct Status<'a> {
    id: &'a str,
    kind: RequestKind,
    state: RequestState,
    received_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

impl<'a> Status<'a> {
    pub(crate) fn of(r: &'a Request) -> Self {
        Self {
            id: &r.id,
            kind: r.kind,
            state: r.state,
            received_at: r.received_at,
            due_at: r.due_at,
            closed_at: r.closed_at,
        }
    }
}

fn subject(body: &mut SubmitBody) -> Result<Option<Subject>, ApiError> {
    let invalid =
        |e: erasure_core::SubjectError| ApiError::BadRequest(format!("invalid subject: {e}"));
    match (body.customer.take(), body.guest.take()) {
        (None, None) if body.users.is_empty() => Ok(None),
        (Some(customer), None) if body.users.is_empty() => {
            Ok(Some(Subject::customer(customer.key()?)))
        }
        (Some(customer), None) => {
            let users = std::mem::take(&mut body.users)
                .into_iter()
                .map(JsonKey::key)
                .collect::<Result<Vec<_>, _>>()?;
            Subject::users(customer.key()?, users)
                .map(Some)
                .map_err(invalid)
        }
        (None, Some(email)) if body.users.is_empty() => {
            Subject::guest(email.as_str()).map(Some).map_err(invalid)
        }
        _ => Err(ApiError::BadRequest(
            "name one subject: `customer` (with `users`) or `guest`".into(),
        )),
    }
}

/// Receives a request. With the shop's service token it names its subject (the shop has
/// authenticated the customer) and the answer holds the request's id and status link; without
/// one it is an unknown person's, by email only, the answer says only that it was accepted
/// (whether the address has a request already is not told), and an operator identifies the
/// subject once the person has confirmed.
pub(crate) async fn submit<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Json(mut body): Json<SubmitBody>,
) -> Result<Response, ApiError> {
    let service = match bearer(&headers) {
        Some(_) => {
            crate::consents::service(&app, &headers)?;
            true
        }
        None => false,
    };
    let subject = subject(&mut body)?;
    if subject.is_some() && !service {
        // Naming a subject needs the shop's word for it.
        return Err(ApiError::Unauthorized);
    }
    let email = body
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    if subject.is_none() && email.is_none() {
        return Err(ApiError::BadRequest(
            "`email` is needed: the confirmation link is sent there".into(),
        ));
    }
    let submission = app
        .requests
        .submit(&app.pool, body.kind, subject, email)
        .await?;
    let request = &submission.request;
    if let (Some(token), Some(to)) = (&submission.token, request.contact_email()) {
        let message = Message {
            kind: MessageKind::Confirm,
            to: to.to_owned(),
            request_id: request.id.clone(),
            request_kind: request.kind,
            url: app.links.confirm(&request.id, token.expose()),
            expires_at: request.token_expires_at,
            due_at: request.due_at,
        };
        deliver(app.mailer.as_ref(), &message).await;
    }
    let response = if service {
        (
            StatusCode::ACCEPTED,
            Json(Submitted {
                id: &request.id,
                kind: request.kind,
                state: request.state,
                due_at: request.due_at,
                status_url: app.links.status(&request.id),
            }),
        )
            .into_response()
    } else {
        (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({
                "accepted": true,
                "message": "if the address is valid, a confirmation link is on its way"
            })),
        )
            .into_response()
    };
    Ok(response)
}

/// The query of a confirmation link.
#[derive(Debug, Deserialize)]
pub(crate) struct ConfirmQuery {
    request: String,
    token: String,
}

enum Confirmed {
    Yes(Box<Request>),
    Expired,
    Invalid,
}

async fn confirm<DB: Backend>(app: &App<DB>, q: &ConfirmQuery) -> Result<Confirmed, ApiError> {
    match app
        .requests
        .confirm(&app.pool, &q.request, &Token::from_string(q.token.trim()))
        .await
    {
        Ok(r) => Ok(Confirmed::Yes(Box::new(r))),
        Err(RequestError::TokenExpired(_)) => Ok(Confirmed::Expired),
        // Unknown, wrong, already used: alike, so a link says nothing about other requests.
        Err(
            RequestError::NotFound(_)
            | RequestError::WrongToken(_)
            | RequestError::InvalidTransition { .. },
        ) => Ok(Confirmed::Invalid),
        Err(e) => Err(e.into()),
    }
}

/// `GET /v1/requests/confirm?request=…&token=…`: the page a person lands on from the link.
pub(crate) async fn confirm_page<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Query(q): Query<ConfirmQuery>,
) -> Result<Response, ApiError> {
    let (status, title, text) = match confirm(&app, &q).await? {
        Confirmed::Yes(r) if r.state == RequestState::AwaitingOperator => (
            StatusCode::OK,
            "Request confirmed",
            format!(
                "Thank you. Your request is confirmed; we will identify your data and carry it \
                 out by {}.",
                r.due_at.format("%Y-%m-%d")
            ),
        ),
        Confirmed::Yes(r) => (
            StatusCode::OK,
            "Request confirmed",
            format!(
                "Thank you. Your request is confirmed and will be carried out by {}.",
                r.due_at.format("%Y-%m-%d")
            ),
        ),
        Confirmed::Expired => (
            StatusCode::GONE,
            "Link expired",
            "This link has expired. Please make your request again.".to_owned(),
        ),
        Confirmed::Invalid => (
            StatusCode::UNAUTHORIZED,
            "Link not valid",
            "This link is not valid, or it was used already.".to_owned(),
        ),
    };
    Ok((status, private_headers(), Html(page(title, &text))).into_response())
}

/// `POST /v1/requests/confirm` with `{"request": …, "token": …}`: the same for a storefront's
/// own page.
pub(crate) async fn confirm_json<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Json(q): Json<ConfirmQuery>,
) -> Result<Response, ApiError> {
    match confirm(&app, &q).await? {
        Confirmed::Yes(r) => Ok(Json(Status::of(&r)).into_response()),
        Confirmed::Expired => Err(ApiError::Gone("the link expired; ask again")),
        Confirmed::Invalid => Err(ApiError::Unauthorized),
    }
}

/// The query of a status or download link.
#[derive(Debug, Deserialize)]
pub(crate) struct LinkQuery {
    token: String,
}

/// `GET /v1/requests/{id}?token=…`: the state of a request, for the person's status link.
pub(crate) async fn status<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Path(id): Path<String>,
    Query(q): Query<LinkQuery>,
) -> Result<Response, ApiError> {
    if !app.links.signer.verify(Link::Status, &id, q.token.trim()) {
        return Err(ApiError::Unauthorized);
    }
    let request = app.requests.get(&app.pool, &id).await?;
    Ok((private_headers(), Json(Status::of(&request))).into_response())
}

/// `GET /v1/exports/{id}?token=…`: the document of a completed export request, streamed, as
/// often and as long as the configuration allows.
pub(crate) async fn download<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Path(id): Path<String>,
    Query(q): Query<LinkQuery>,
) -> Result<Response, ApiError> {
    if !app.links.signer.verify(Link::Download, &id, q.token.trim()) {
        return Err(ApiError::Unauthorized);
    }
    let downloads = app
        .downloads
        .as_ref()
        .ok_or(ApiError::Unavailable("exports are not served here"))?;
    let file = match downloads.open(&id).await {
        Ok(Ok(file)) => file,
        Ok(Err(Unavailable::Missing)) => return Err(ApiError::NotFound),
        Ok(Err(Unavailable::Used)) => {
            return Err(ApiError::Gone(
                "the document was downloaded as often as allowed, or is past its time",
            ));
        }
        // A signed id is a request id; anything else is the disk's failure.
        Err(e) => return Err(ApiError::Internal(format!("export document: {e}"))),
    };
    app.counters.downloads.fetch_add(1, Ordering::Relaxed);
    let mut headers = private_headers();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"personal-data-{id}.json\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok((headers, Body::from_stream(ReaderStream::new(file))).into_response())
}

/// Headers for answers that must not be kept or leak their URL (which holds a token).
fn private_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
}

/// A small page: a title and a sentence, nothing personal.
fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\n<body><main><h1>{title}</h1><p>{text}</p></main></body></html>\n"
    )
}
