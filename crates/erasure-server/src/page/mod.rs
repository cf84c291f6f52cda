//! The operator's page under `/ops/`: server-rendered HTML for customer service, on the same
//! operator tokens as the operator API. Every form posts (nothing personal goes into a URL)
//! and carries the session's CSRF token; every action is in the audit log, as through the API.
//!
//! This module holds the routes and what the pages share (the session extractor, the posted
//! form's checks, the error pages, the subject form); each page is a submodule.

mod chain;
mod erase;
mod html;
mod jobs;
mod login;
mod outbox;
mod receipts;
mod requests;
pub(crate) mod session;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use erasure_core::{Backend, Erasure, Key, Subject};
use serde::Deserialize;

use self::chain::chain;
use self::erase::{erase, erase_form, erase_preview};
use self::html::{Nav, esc, layout};
use self::jobs::{jobs, run_job};
use self::login::{login, login_page, logout};
use self::outbox::{outbox, outbox_retry};
use self::receipts::{receipt, receipts, receipts_search};
use self::requests::{request, request_action, requests, resolve_preview};
use self::session::Session;
use crate::server::App;

/// The page's routes, merged into the server's router.
pub(crate) fn routes<DB: Backend>() -> Router<Arc<App<DB>>> {
    Router::new()
        .route("/ops", get(|| async { Redirect::to("/ops/requests") }))
        .route("/ops/", get(|| async { Redirect::to("/ops/requests") }))
        .route("/ops/login", get(login_page).post(login::<DB>))
        .route("/ops/logout", post(logout::<DB>))
        .route("/ops/requests", get(requests::<DB>))
        .route("/ops/requests/{id}", get(request::<DB>))
        .route("/ops/requests/{id}/preview", post(resolve_preview::<DB>))
        .route("/ops/requests/{id}/{action}", post(request_action::<DB>))
        .route("/ops/erase", get(erase_form::<DB>).post(erase::<DB>))
        .route("/ops/erase/preview", post(erase_preview::<DB>))
        .route(
            "/ops/receipts",
            get(receipts::<DB>).post(receipts_search::<DB>),
        )
        .route("/ops/receipts/{run_id}", get(receipt::<DB>))
        .route("/ops/outbox", get(outbox::<DB>))
        .route("/ops/outbox/{id}/retry", post(outbox_retry::<DB>))
        .route("/ops/jobs", get(jobs::<DB>))
        .route("/ops/jobs/{name}/run", post(run_job::<DB>))
        .route("/ops/chain", get(chain::<DB>))
}

/// A rendered page with the headers every page has.
fn page(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

/// The session, or the redirect to the login page.
fn session<DB: Backend>(app: &App<DB>, headers: &HeaderMap) -> Result<Session, Box<Response>> {
    app.sessions
        .find(headers)
        .ok_or_else(|| Box::new(Redirect::to("/ops/login").into_response()))
}

/// A signed-in operator's session: the extractor of every page (the login page for anyone else).
pub(crate) struct Signed(Session);

impl<DB: Backend> axum::extract::FromRequestParts<Arc<App<DB>>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &Arc<App<DB>>,
    ) -> Result<Self, Response> {
        app.sessions
            .find(&parts.headers)
            .map(Signed)
            .ok_or_else(|| Redirect::to("/ops/login").into_response())
    }
}

/// The session of a form's post, its CSRF token checked.
fn posted<DB: Backend>(
    app: &App<DB>,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Session, Box<Response>> {
    let session = session(app, headers)?;
    if session.csrf_matches(csrf) {
        Ok(session)
    } else {
        tracing::warn!(target: "erasure_server::audit", operator = %session.operator, "a form with a wrong CSRF token was refused");
        Err(Box::new(page(
            StatusCode::FORBIDDEN,
            layout(
                "Form refused",
                Nav::None,
                Some((&session.operator, &session.csrf)),
                "<p class=\"error\">This form is not valid any more (its security token does not match). \
                 Reload the page and try again.</p>",
            ),
        )))
    }
}

/// The session and the subject of a posted form (its CSRF token checked), or the page that
/// says what is wrong.
fn posted_subject<DB: Backend>(
    app: &App<DB>,
    headers: &HeaderMap,
    form: &SubjectForm,
    nav: Nav,
) -> Result<(Session, Subject), Box<Response>> {
    let session = posted(app, headers, &form.csrf)?;
    match form.subject() {
        Ok(subject) => Ok((session, subject)),
        Err(e) => Err(Box::new(error_page(
            &session,
            nav,
            StatusCode::BAD_REQUEST,
            &e,
        ))),
    }
}

/// What the chain would do to `subject` (a dry run in the operator's name), or the page that
/// says why it cannot.
async fn dry_run<DB: Backend>(
    app: &App<DB>,
    s: &Session,
    subject: Subject,
    nav: Nav,
) -> Result<erasure_core::Report, Box<Response>> {
    let erasure = Erasure::new(subject).with_operator(s.operator.clone());
    app.chain
        .dry_run(&app.pool, &erasure)
        .await
        .map_err(|e| Box::new(error_page(s, nav, StatusCode::CONFLICT, &e.to_string())))
}

fn audit(operator: &str, action: &str, target: &str, outcome: &str) {
    tracing::info!(target: "erasure_server::audit", operator, action, target, outcome, via = "page", "operator action");
}

/// An error shown on a page of the session's layout.
fn error_page(session: &Session, nav: Nav, status: StatusCode, message: &str) -> Response {
    page(
        status,
        layout(
            "Not done",
            nav,
            Some((&session.operator, &session.csrf)),
            &format!("<p class=\"error\">{}</p>", esc(message)),
        ),
    )
}

/// A failure of the database or the store, on a page.
fn failed(session: &Session, nav: Nav, e: impl std::fmt::Display) -> Response {
    error_page(
        session,
        nav,
        StatusCode::INTERNAL_SERVER_ERROR,
        &e.to_string(),
    )
}

fn ok_page(session: &Session, title: &str, nav: Nav, body: &str) -> Response {
    page(
        StatusCode::OK,
        layout(title, nav, Some((&session.operator, &session.csrf)), body),
    )
}

// ---- what the pages share -----------------------------------------------------------------

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    done: Option<String>,
}

/// What a finished action says on the page it leads back to.
fn done_notice(done: Option<&str>) -> String {
    let text = match done {
        Some("resolved") => "The request is resolved to its subject and confirmed.",
        Some("rejected") => "The request is rejected.",
        Some("cancelled") => "The request is cancelled.",
        Some("retried") => "The request is back in the queue.",
        Some("completed") => "The request is completed by hand.",
        Some("outbox-retried") => "The event is back in the queue.",
        Some("job-run") => "The job ran.",
        _ => return String::new(),
    };
    format!("<p class=\"notice\" role=\"status\">{text}</p>")
}

fn subject_fields(prefix: &str) -> String {
    format!(
        "<label for=\"{prefix}customer\">Customer id</label><input id=\"{prefix}customer\" name=\"customer\" autocomplete=\"off\">\
         <label for=\"{prefix}users\">User ids of the customer (optional, comma-separated)</label><input id=\"{prefix}users\" name=\"users\" autocomplete=\"off\">\
         <label for=\"{prefix}guest\">or a guest's email</label><input id=\"{prefix}guest\" name=\"guest\" type=\"email\" autocomplete=\"off\">"
    )
}

/// The fields of a subject as a form posts them.
#[derive(Debug, Default, Deserialize)]
struct SubjectForm {
    csrf: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    users: String,
    #[serde(default)]
    guest: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
}

impl SubjectForm {
    fn subject(&self) -> Result<Subject, String> {
        let key = |raw: &str| -> Result<Key, String> {
            let raw = raw.trim();
            match raw.parse::<i64>() {
                Ok(i) if i.to_string() == raw => Ok(Key::Int(i)),
                _ => Key::text(raw).map_err(|e| e.to_string()),
            }
        };
        let customer = self.customer.trim();
        let guest = self.guest.trim();
        let users: Vec<&str> = self
            .users
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        match (customer.is_empty(), guest.is_empty()) {
            (false, true) if users.is_empty() => Ok(Subject::customer(key(customer)?)),
            (false, true) => {
                let users = users.into_iter().map(key).collect::<Result<Vec<_>, _>>()?;
                Subject::users(key(customer)?, users).map_err(|e| e.to_string())
            }
            (true, false) if users.is_empty() => Subject::guest(guest).map_err(|e| e.to_string()),
            _ => Err("Give a customer id (and user ids), or a guest's email.".into()),
        }
    }

    /// The subject again as hidden fields, for the confirming form after a preview.
    fn hidden(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"customer\" value=\"{}\"><input type=\"hidden\" name=\"users\" value=\"{}\">\
             <input type=\"hidden\" name=\"guest\" value=\"{}\">",
            esc(self.customer.trim()),
            esc(self.users.trim()),
            esc(self.guest.trim())
        )
    }
}
