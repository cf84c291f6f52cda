//! The operator routes (`/v1/ops/…`): customer service's actions on requests, and erasing a
//! subject directly. Every call needs an operator's bearer token, and is recorded in the audit
//! log (target `erasure_server::audit`) by operator name, action, request id or subject
//! pseudonym, and outcome; never a personal value.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use erasure_core::{Backend, Erasure, Reason, Subject};
use erasure_requests::{Request, RequestError, State as RequestState};
use serde::Deserialize;

use crate::auth::{any_matches, bearer};
use crate::error::ApiError;
use crate::public::JsonKey;
use crate::server::App;

/// The operator a request's token belongs to, after the operator's rate limit.
fn operator<'a, DB: Backend>(app: &'a App<DB>, headers: &HeaderMap) -> Result<&'a str, ApiError> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    let index = any_matches(app.operator_tokens.iter().map(|(_, h)| h), token)
        .ok_or(ApiError::Unauthorized)?;
    if let Err(retry_after) = app.operator_limit.check(&index) {
        app.counters
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(ApiError::TooMany { retry_after });
    }
    Ok(&app.operator_tokens[index].0)
}

fn audit(operator: &str, action: &str, target: &str, outcome: &str) {
    tracing::info!(
        target: "erasure_server::audit",
        operator,
        action,
        target,
        outcome,
        "operator action"
    );
}

/// Request errors as an authenticated operator sees them: an unknown id is a 404.
fn for_operator(e: RequestError) -> ApiError {
    match e {
        RequestError::NotFound(_) => ApiError::NotFound,
        other => other.into(),
    }
}

/// The query of `GET /v1/ops/requests`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    state: Option<String>,
    #[serde(default)]
    overdue: bool,
}

/// `GET /v1/ops/requests[?state=…|?overdue=true]`, oldest first.
pub(crate) async fn list<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let who = operator(&app, &headers)?;
    let requests: Vec<Request> = if q.overdue {
        app.requests.overdue(&app.pool).await
    } else {
        let state = q
            .state
            .as_deref()
            .map(|s| s.parse::<RequestState>().map_err(ApiError::BadRequest))
            .transpose()?;
        app.requests.list(&app.pool, state).await
    }
    .map_err(for_operator)?;
    audit(who, "list", "requests", "ok");
    Ok(Json(requests).into_response())
}

/// `GET /v1/ops/requests/{id}`.
pub(crate) async fn show<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = operator(&app, &headers)?;
    let request = app
        .requests
        .get(&app.pool, &id)
        .await
        .map_err(for_operator)?;
    audit(who, "show", &id, "ok");
    Ok(Json(request).into_response())
}

/// The body of a transition: a note, and for `resolve` the subject.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransitionBody {
    note: Option<String>,
    customer: Option<JsonKey>,
    guest: Option<String>,
}

/// `POST /v1/ops/requests/{id}/{resolve|reject|cancel|retry}`.
pub(crate) async fn transition<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Option<Json<TransitionBody>>,
) -> Result<Response, ApiError> {
    let who = operator(&app, &headers)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let pool = &app.pool;
    let result = match action.as_str() {
        "resolve" => {
            let subject = match (body.customer, body.guest) {
                (Some(c), None) => Subject::customer(c.key()?),
                (None, Some(email)) => Subject::guest(email.as_str())
                    .map_err(|e| ApiError::BadRequest(format!("invalid subject: {e}")))?,
                _ => {
                    return Err(ApiError::BadRequest(
                        "resolve names one subject: `customer` or `guest`".into(),
                    ));
                }
            };
            app.requests
                .resolve(pool, &id, subject, body.note.as_deref())
                .await
        }
        "reject" => {
            let note = body
                .note
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| ApiError::BadRequest("reject needs a `note` saying why".into()))?;
            app.requests.reject(pool, &id, &note).await
        }
        "cancel" => app.requests.cancel(pool, &id).await,
        "retry" => app.requests.retry(pool, &id).await,
        _ => return Err(ApiError::NotFound),
    };
    match result {
        Ok(request) => {
            audit(who, &action, &id, request.state.as_str());
            Ok(Json(request).into_response())
        }
        Err(e) => {
            audit(who, &action, &id, "refused");
            Err(for_operator(e))
        }
    }
}

/// `POST /v1/ops/erase`: erase (or, with `dry_run`, preview) a subject now.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EraseBody {
    customer: Option<JsonKey>,
    #[serde(default)]
    users: Vec<JsonKey>,
    guest: Option<String>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    reason: Reason,
}

/// Runs the chain on the subject the body names, with the operator recorded in the report;
/// answers with the report (its subject is a pseudonym).
pub(crate) async fn erase<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Json(body): Json<EraseBody>,
) -> Result<Response, ApiError> {
    let who = operator(&app, &headers)?.to_owned();
    let invalid =
        |e: erasure_core::SubjectError| ApiError::BadRequest(format!("invalid subject: {e}"));
    let subject = match (body.customer, body.guest) {
        (Some(c), None) if body.users.is_empty() => Subject::customer(c.key()?),
        (Some(c), None) => {
            let users = body
                .users
                .into_iter()
                .map(JsonKey::key)
                .collect::<Result<Vec<_>, _>>()?;
            Subject::users(c.key()?, users).map_err(invalid)?
        }
        (None, Some(email)) if body.users.is_empty() => {
            Subject::guest(email.as_str()).map_err(invalid)?
        }
        _ => {
            return Err(ApiError::BadRequest(
                "name one subject: `customer` (with `users`) or `guest`".into(),
            ));
        }
    };
    let pseudonym = app.chain.pseudonym(&subject);
    let erasure = Erasure::new(subject)
        .with_operator(who.clone())
        .with_reason(body.reason);
    let action = if body.dry_run { "dry_run" } else { "erase" };
    let result = if body.dry_run {
        app.chain.dry_run(&app.pool, &erasure).await
    } else {
        app.chain.erase(&app.pool, &erasure).await
    };
    match result {
        Ok(report) => {
            audit(&who, action, &pseudonym, "ok");
            Ok(Json(report).into_response())
        }
        Err(e) if e.is_refusal() => {
            audit(&who, action, &pseudonym, "refused");
            Err(ApiError::Conflict(e.to_string()))
        }
        Err(e) => {
            audit(&who, action, &pseudonym, "failed");
            Err(ApiError::Internal(e.to_string()))
        }
    }
}

/// The query of `GET /v1/ops/receipts`.
#[derive(Debug, Deserialize)]
pub(crate) struct ReceiptsQuery {
    limit: Option<u64>,
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// A subject's pseudonym (an operator computes it from the id; never the id itself).
    subject: Option<String>,
}

fn evidence(e: erasure_evidence::EvidenceError) -> ApiError {
    ApiError::Internal(format!("evidence: {e}"))
}

/// `GET /v1/ops/receipts[?limit=…&since=…&subject=<pseudonym>]`, newest first.
pub(crate) async fn receipts<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Query(q): Query<ReceiptsQuery>,
) -> Result<Response, ApiError> {
    let who = operator(&app, &headers)?;
    let mut filter =
        erasure_evidence::receipts::Filter::new().limit(q.limit.unwrap_or(100).min(1000));
    if let Some(since) = q.since {
        filter = filter.since(since);
    }
    if let Some(subject) = q.subject {
        filter = filter.subject(subject);
    }
    let list = erasure_evidence::receipts::list(&app.pool, &filter)
        .await
        .map_err(evidence)?;
    audit(who, "receipts", "receipts", "ok");
    Ok(Json(list).into_response())
}

/// `GET /v1/ops/receipts/{run_id}`.
pub(crate) async fn receipt<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    let who = operator(&app, &headers)?;
    let id = uuid::Uuid::parse_str(run_id.trim())
        .map_err(|_| ApiError::BadRequest("a run id is a UUID".into()))?;
    let receipt = erasure_evidence::receipts::get(&app.pool, id)
        .await
        .map_err(evidence)?
        .ok_or(ApiError::NotFound)?;
    audit(who, "receipt", &run_id, "ok");
    Ok(Json(receipt).into_response())
}

/// The query of `GET /v1/ops/outbox`.
#[derive(Debug, Deserialize)]
pub(crate) struct OutboxQuery {
    state: Option<String>,
    limit: Option<u64>,
}

/// `GET /v1/ops/outbox[?state=pending|delivered|dead|expired&limit=…]`: events without their
/// payloads, oldest first.
pub(crate) async fn outbox<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Query(q): Query<OutboxQuery>,
) -> Result<Response, ApiError> {
    use erasure_evidence::outbox::{EventState, Filter};
    let who = operator(&app, &headers)?;
    let mut filter = Filter::new().limit(q.limit.unwrap_or(100).min(1000));
    if let Some(state) = q.state.as_deref() {
        let state = match state {
            "pending" => EventState::Pending,
            "delivered" => EventState::Delivered,
            "dead" => EventState::Dead,
            "expired" => EventState::Expired,
            _ => {
                return Err(ApiError::BadRequest(
                    "state is pending, delivered, dead or expired".into(),
                ));
            }
        };
        filter = filter.state(state);
    }
    let events = erasure_evidence::outbox::list(&app.pool, &filter)
        .await
        .map_err(evidence)?;
    audit(who, "outbox", "outbox", "ok");
    Ok(Json(events).into_response())
}

async fn retry_events<DB: Backend>(
    app: &App<DB>,
    who: &str,
    which: erasure_evidence::outbox::Retry,
    target: &str,
) -> Result<Response, ApiError> {
    let n = erasure_evidence::outbox::retry(&app.pool, &which, chrono::Utc::now())
        .await
        .map_err(evidence)?;
    audit(
        who,
        "outbox_retry",
        target,
        if n > 0 { "ok" } else { "none" },
    );
    Ok(Json(serde_json::json!({ "retried": n })).into_response())
}

/// `POST /v1/ops/outbox/{id}/retry`: a dead event back to the queue (`retried`: 0 when it is
/// not dead).
pub(crate) async fn outbox_retry<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = operator(&app, &headers)?;
    let event = uuid::Uuid::parse_str(id.trim())
        .map_err(|_| ApiError::BadRequest("an event id is a UUID".into()))?;
    retry_events(
        &app,
        who,
        erasure_evidence::outbox::Retry::Event(event),
        &id,
    )
    .await
}

/// `POST /v1/ops/outbox/retry-dead`: every dead event back to the queue.
pub(crate) async fn outbox_retry_dead<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = operator(&app, &headers)?;
    retry_events(
        &app,
        who,
        erasure_evidence::outbox::Retry::AllDead,
        "all-dead",
    )
    .await
}

/// `GET /v1/ops/jobs`: each job, its description and its last run.
pub(crate) async fn jobs<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = operator(&app, &headers)?;
    let stats = app
        .job_stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let list: Vec<serde_json::Value> = app
        .jobs
        .iter()
        .map(|j| {
            serde_json::json!({
                "name": j.name(),
                "description": j.description(),
                "stats": stats.get(j.name()).cloned().unwrap_or_default(),
            })
        })
        .collect();
    audit(who, "jobs", "jobs", "ok");
    Ok(Json(list).into_response())
}

/// `POST /v1/ops/jobs/{name}/run`: runs the job now (after any job running) and answers with
/// its summary.
pub(crate) async fn run_job<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let who = operator(&app, &headers)?.to_owned();
    match crate::jobs::run_named(&app, &name).await {
        None => Err(ApiError::NotFound),
        Some(Ok(summary)) => {
            audit(&who, "run_job", &name, "ok");
            Ok(Json(summary).into_response())
        }
        Some(Err(e)) => {
            audit(&who, "run_job", &name, "failed");
            Err(ApiError::Internal(e))
        }
    }
}
