//! The operator's page under `/ops/`: server-rendered HTML for customer service, on the same
//! operator tokens as the operator API. Every form posts (nothing personal goes into a URL)
//! and carries the session's CSRF token; every action is in the audit log, as through the API.

mod html;
pub(crate) mod session;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{NaiveDate, Utc};
use erasure_core::{Backend, Erasure, Key, Reason, Subject};
use erasure_requests::{Request, State as RequestState};
use serde::Deserialize;

use self::html::{Nav, button, csrf_field, esc, layout, report_table};
use self::session::Session;
use crate::auth::any_matches;
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

// ---- login --------------------------------------------------------------------------------

async fn login_page() -> Response {
    page(StatusCode::OK, login_html(None))
}

fn login_html(problem: Option<&str>) -> String {
    let problem = problem
        .map(|p| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(p)))
        .unwrap_or_default();
    layout(
        "Sign in",
        Nav::None,
        None,
        &format!(
            "{problem}<form method=\"post\" action=\"/ops/login\">\
             <label for=\"token\">Operator token</label>\
             <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required size=\"48\">\
             <p><button>Sign in</button></p></form>"
        ),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let client = crate::server::client_address(&app.config.trusted_proxies, peer.ip(), &headers);
    if app.public_limit.check(&client).is_err() {
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            login_html(Some("Too many attempts; wait a minute.")),
        );
    }
    let Some(index) = any_matches(
        app.operator_tokens.iter().map(|(_, h)| h),
        form.token.trim(),
    ) else {
        return page(
            StatusCode::UNAUTHORIZED,
            login_html(Some("This token is not valid.")),
        );
    };
    let operator = app.operator_tokens[index].0.clone();
    let Ok(id) = app.sessions.open(&operator) else {
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            login_html(Some("No randomness for a session.")),
        );
    };
    audit(&operator, "login", "page", "ok");
    let mut response = Redirect::to("/ops/requests").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(&id)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(r) = posted(&app, &headers, &form.csrf) {
        return *r;
    }
    app.sessions.close(&headers);
    let mut response = Redirect::to("/ops/login").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

// ---- requests -----------------------------------------------------------------------------

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

async fn requests<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Signed(s): Signed,
    Query(q): Query<ListQuery>,
) -> Response {
    let state = match q.state.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match v.parse::<RequestState>() {
            Ok(state) => Some(state),
            Err(_) => {
                return error_page(&s, Nav::Requests, StatusCode::BAD_REQUEST, "Unknown state.");
            }
        },
    };
    let mut list = match app.requests.list(&app.pool, state).await {
        Ok(l) => l,
        Err(e) => {
            return failed(&s, Nav::Requests, e);
        }
    };
    let now = Utc::now();
    if state.is_none() {
        list.retain(|r| r.state.is_open());
    }
    // Overdue first, then by due date.
    list.sort_by_key(|r| (!r.is_overdue(now), r.due_at));
    let mut body = done_notice(q.done.as_deref());
    body.push_str("<form method=\"get\" action=\"/ops/requests\"><label for=\"state\">Show</label> <select id=\"state\" name=\"state\">");
    let _ = write!(
        body,
        "<option value=\"\"{}>open requests</option>",
        if state.is_none() { " selected" } else { "" }
    );
    for st in RequestState::ALL {
        let selected = if state == Some(st) { " selected" } else { "" };
        let _ = write!(body, "<option value=\"{st}\"{selected}>{st}</option>");
    }
    body.push_str("</select> <button>Filter</button></form>");
    if list.is_empty() {
        body.push_str("<p>No requests here.</p>");
    } else {
        body.push_str(
            "<table><caption class=\"muted\">Overdue requests first, then by due date</caption><thead><tr>\
             <th scope=\"col\">Request</th><th scope=\"col\">Kind</th><th scope=\"col\">State</th>\
             <th scope=\"col\">Received</th><th scope=\"col\">Due</th><th scope=\"col\">Subject</th></tr></thead><tbody>",
        );
        for r in &list {
            let overdue = r.is_overdue(now);
            let _ = write!(
                body,
                "<tr{}><td><a href=\"/ops/requests/{id}\">{short}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>",
                if overdue { " class=\"overdue\"" } else { "" },
                r.kind,
                r.state,
                r.received_at.format("%Y-%m-%d %H:%M"),
                r.due_at.format("%Y-%m-%d"),
                if overdue {
                    " <span class=\"badge\">overdue</span>"
                } else {
                    ""
                },
                if r.subject_known {
                    "known"
                } else {
                    "to identify"
                },
                id = esc(&r.id),
                short = esc(&r.id[..8.min(r.id.len())]),
            );
        }
        body.push_str("</tbody></table>");
    }
    ok_page(&s, "Requests", Nav::Requests, &body)
}

fn timeline(r: &Request) -> String {
    let mut rows: Vec<(String, String)> = vec![(r.received_at.to_rfc3339(), "received".into())];
    if let Some(t) = r.confirmed_at {
        rows.push((t.to_rfc3339(), "confirmed by the requester".into()));
    }
    if let Some(t) = r.not_before {
        rows.push((
            t.to_rfc3339(),
            "not carried out before this (erasure delay)".into(),
        ));
    }
    if let Some(t) = r.token_expires_at {
        rows.push((t.to_rfc3339(), "the confirmation link expires".into()));
    }
    if let Some(t) = r.closed_at {
        rows.push((t.to_rfc3339(), format!("closed: {}", r.state)));
    }
    rows.sort();
    let mut out = String::from("<h2>Timeline</h2><ol>");
    for (at, what) in rows {
        let _ = write!(
            out,
            "<li><time datetime=\"{at}\">{at}</time>: {}</li>",
            esc(&what)
        );
    }
    out.push_str("</ol>");
    if let Some(note) = &r.note {
        let _ = write!(out, "<p><strong>Operator note</strong>: {}</p>", esc(note));
    }
    if let Some(outcome) = &r.outcome {
        let _ = write!(out, "<p><strong>Outcome</strong>: {}</p>", esc(outcome));
    }
    out
}

fn subject_fields(prefix: &str) -> String {
    format!(
        "<label for=\"{prefix}customer\">Customer id</label><input id=\"{prefix}customer\" name=\"customer\" autocomplete=\"off\">\
         <label for=\"{prefix}users\">User ids of the customer (optional, comma-separated)</label><input id=\"{prefix}users\" name=\"users\" autocomplete=\"off\">\
         <label for=\"{prefix}guest\">or a guest's email</label><input id=\"{prefix}guest\" name=\"guest\" type=\"email\" autocomplete=\"off\">"
    )
}

fn note_form(
    id: &str,
    csrf: &str,
    action: &str,
    legend: &str,
    label: &str,
    danger: bool,
) -> String {
    format!(
        "<form method=\"post\" action=\"/ops/requests/{id}/{action}\"><fieldset><legend>{legend}</legend>{}\
         <label for=\"note-{action}\">{label}</label><textarea id=\"note-{action}\" name=\"note\" rows=\"2\" cols=\"60\" required></textarea>\
         <p><button{}>{legend}</button></p></fieldset></form>",
        csrf_field(csrf),
        if danger { " class=\"danger\"" } else { "" },
        id = esc(id)
    )
}

async fn request<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Signed(s): Signed,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let r = match app.requests.get(&app.pool, &id).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, Nav::Requests, StatusCode::NOT_FOUND, &e.to_string()),
    };
    let now = Utc::now();
    let mut body = done_notice(q.done.as_deref());
    let _ = write!(
        body,
        "<dl><dt>Request</dt><dd><code>{}</code></dd><dt>Kind</dt><dd>{}</dd><dt>State</dt><dd>{}</dd>\
         <dt>Due</dt><dd>{}{}</dd><dt>Subject</dt><dd>{}</dd><dt>Attempts</dt><dd>{}</dd></dl>",
        esc(&r.id),
        r.kind,
        r.state,
        r.due_at.format("%Y-%m-%d"),
        if r.is_overdue(now) {
            " <span class=\"badge\">overdue</span>"
        } else {
            ""
        },
        if r.subject_known {
            "known"
        } else {
            "unknown: identify it below"
        },
        r.attempts
    );
    body.push_str(&timeline(&r));
    body.push_str("<h2>Actions</h2>");
    let csrf = &s.csrf;
    let id = &r.id;
    if r.state == RequestState::AwaitingOperator {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/ops/requests/{}/preview\"><fieldset><legend>Identify the subject</legend>{}{}\
             <p><button>Preview what the chain will do</button></p></fieldset></form>",
            esc(id),
            csrf_field(csrf),
            subject_fields("resolve-")
        );
    }
    if r.state == RequestState::Failed {
        body.push_str(&button(
            &format!("/ops/requests/{id}/retry"),
            csrf,
            "Retry",
            false,
        ));
    }
    if matches!(r.state, RequestState::Pending | RequestState::Confirmed) {
        body.push_str(&button(
            &format!("/ops/requests/{id}/cancel"),
            csrf,
            "Cancel the request",
            true,
        ));
    }
    if r.state.allows(RequestState::Rejected) {
        body.push_str(&note_form(
            id,
            csrf,
            "reject",
            "Reject",
            "Why (shown to operators; nothing personal)",
            true,
        ));
    }
    if r.state.allows(RequestState::Completed) && r.state != RequestState::Processing {
        body.push_str(&note_form(
            id,
            csrf,
            "complete",
            "Complete by hand",
            "How customer service carried it out (nothing personal)",
            false,
        ));
    }
    if r.state.is_closed() {
        body.push_str("<p class=\"muted\">Closed: nothing more to do.</p>");
    }
    ok_page(&s, "Request", Nav::Requests, &body)
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

async fn resolve_preview<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<SubjectForm>,
) -> Response {
    let (s, subject) = match posted_subject(&app, &headers, &form, Nav::Requests) {
        Ok(pair) => pair,
        Err(r) => return *r,
    };
    if !matches!(subject, Subject::Customer { .. } | Subject::Guest { .. }) {
        return error_page(
            &s,
            Nav::Requests,
            StatusCode::BAD_REQUEST,
            "A request is resolved to a customer or a guest.",
        );
    }
    let preview = match dry_run(&app, &s, subject, Nav::Requests).await {
        Ok(report) => report,
        Err(r) => return *r,
    };
    audit(&s.operator, "preview", &id, "ok");
    let body = format!(
        "<p>If this request is resolved to this subject, the chain will do this (a dry run: nothing changed):</p>{}\
         <form method=\"post\" action=\"/ops/requests/{id}/resolve\">{}{}\
         <label for=\"note\">Note (how the subject was identified; nothing personal)</label>\
         <textarea id=\"note\" name=\"note\" rows=\"2\" cols=\"60\"></textarea>\
         <p><button>Resolve the request to this subject</button> <a href=\"/ops/requests/{id}\">Back</a></p></form>",
        report_table(&preview),
        csrf_field(&s.csrf),
        form.hidden(),
        id = esc(&id)
    );
    ok_page(&s, "Preview", Nav::Requests, &body)
}

async fn request_action<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<SubjectForm>,
) -> Response {
    let s = match posted(&app, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let pool = &app.pool;
    let note = form.note.trim();
    let result = match action.as_str() {
        "resolve" => match form.subject() {
            Ok(subject) => {
                app.requests
                    .resolve(pool, &id, subject, Some(note).filter(|n| !n.is_empty()))
                    .await
            }
            Err(e) => return error_page(&s, Nav::Requests, StatusCode::BAD_REQUEST, &e),
        },
        "reject" if !note.is_empty() => app.requests.reject(pool, &id, note).await,
        "complete" if !note.is_empty() => app.requests.complete_by_hand(pool, &id, note).await,
        "reject" | "complete" => {
            return error_page(
                &s,
                Nav::Requests,
                StatusCode::BAD_REQUEST,
                "A note is needed.",
            );
        }
        "cancel" => app.requests.cancel(pool, &id).await,
        "retry" => app.requests.retry(pool, &id).await,
        _ => return error_page(&s, Nav::Requests, StatusCode::NOT_FOUND, "No such action."),
    };
    match result {
        Ok(request) => {
            audit(&s.operator, &action, &id, request.state.as_str());
            let done = match action.as_str() {
                "resolve" => "resolved",
                "reject" => "rejected",
                "cancel" => "cancelled",
                "retry" => "retried",
                _ => "completed",
            };
            Redirect::to(&format!("/ops/requests/{id}?done={done}")).into_response()
        }
        Err(e) => {
            audit(&s.operator, &action, &id, "refused");
            error_page(&s, Nav::Requests, StatusCode::CONFLICT, &e.to_string())
        }
    }
}

// ---- erase a subject ----------------------------------------------------------------------

async fn erase_form<DB: Backend>(State(_app): State<Arc<App<DB>>>, Signed(s): Signed) -> Response {
    let body = format!(
        "<p>Enter the subject; the next page shows what the chain will do, and asks to confirm.</p>\
         <form method=\"post\" action=\"/ops/erase/preview\"><fieldset><legend>Subject</legend>{}{}\
         <p><button>Preview</button></p></fieldset></form>",
        csrf_field(&s.csrf),
        subject_fields("erase-")
    );
    ok_page(&s, "Erase a subject", Nav::Erase, &body)
}

async fn erase_preview<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Form(form): Form<SubjectForm>,
) -> Response {
    let (s, subject) = match posted_subject(&app, &headers, &form, Nav::Erase) {
        Ok(pair) => pair,
        Err(r) => return *r,
    };
    let pseudonym = app.chain.pseudonym(&subject);
    let preview = match dry_run(&app, &s, subject, Nav::Erase).await {
        Ok(report) => report,
        Err(r) => return *r,
    };
    audit(&s.operator, "dry_run", &pseudonym, "ok");
    let body = format!(
        "<p>A dry run: nothing changed. Erasing the subject will do this:</p>{}\
         <form method=\"post\" action=\"/ops/erase\">{}{}\
         <label for=\"reason\">Reason</label><select id=\"reason\" name=\"reason\">\
         <option value=\"data_subject_request\">the person asked (Art. 17)</option>\
         <option value=\"retention\">a retention period ran out</option>\
         <option value=\"account_closure\">the account was closed</option></select>\
         <p><button class=\"danger\">Erase the subject</button> <a href=\"/ops/erase\">Back</a></p></form>",
        report_table(&preview),
        csrf_field(&s.csrf),
        form.hidden()
    );
    ok_page(&s, "Erase: preview", Nav::Erase, &body)
}

async fn erase<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Form(form): Form<SubjectForm>,
) -> Response {
    let (s, subject) = match posted_subject(&app, &headers, &form, Nav::Erase) {
        Ok(pair) => pair,
        Err(r) => return *r,
    };
    let reason = match form.reason.as_str() {
        "retention" => Reason::Retention,
        "account_closure" => Reason::AccountClosure,
        _ => Reason::DataSubjectRequest,
    };
    let pseudonym = app.chain.pseudonym(&subject);
    let erasure = Erasure::new(subject)
        .with_operator(s.operator.clone())
        .with_reason(reason);
    match app.chain.erase(&app.pool, &erasure).await {
        Ok(report) => {
            audit(&s.operator, "erase", &pseudonym, "ok");
            let receipt = match erasure_evidence::receipts::get(&app.pool, report.run_id).await {
                Ok(Some(_)) => format!(
                    "<p>Its receipt: <a href=\"/ops/receipts/{}\">run {}</a>.</p>",
                    report.run_id, report.run_id
                ),
                _ => "<p class=\"muted\">The chain records no receipts.</p>".to_owned(),
            };
            let body = format!(
                "<p class=\"notice\" role=\"status\">Erased and committed.</p>{}{receipt}",
                report_table(&report)
            );
            ok_page(&s, "Erased", Nav::Erase, &body)
        }
        Err(e) => {
            audit(
                &s.operator,
                "erase",
                &pseudonym,
                if e.is_refusal() { "refused" } else { "failed" },
            );
            error_page(&s, Nav::Erase, StatusCode::CONFLICT, &e.to_string())
        }
    }
}

// ---- evidence -----------------------------------------------------------------------------

fn receipts_table(list: &[erasure_evidence::Receipt]) -> String {
    if list.is_empty() {
        return "<p>No receipts found.</p>".to_owned();
    }
    let mut out = String::from(
        "<table><thead><tr><th scope=\"col\">Run</th><th scope=\"col\">Recorded</th><th scope=\"col\">Subject (pseudonym)</th>\
         <th scope=\"col\">Kind</th><th scope=\"col\">Operator</th><th scope=\"col\">Rows</th></tr></thead><tbody>",
    );
    for r in list {
        let t = r.report.totals();
        let _ = write!(
            out,
            "<tr><td><a href=\"/ops/receipts/{run}\">{short}</a></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td></tr>",
            r.recorded_at.format("%Y-%m-%d %H:%M"),
            esc(&r.subject),
            r.subject_kind,
            esc(r.operator.as_deref().unwrap_or("-")),
            t.deleted + t.anonymized + t.deferred + t.retained,
            run = r.run_id,
            short = &r.run_id.to_string()[..8],
        );
    }
    out.push_str("</tbody></table>");
    out
}

fn receipts_form(csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/ops/receipts\"><fieldset><legend>Search</legend>{}\
         <label for=\"since\">Recorded on or after</label><input id=\"since\" name=\"since\" type=\"date\">\
         <p class=\"muted\">A subject is searched by its pseudonym, computed from what you type here and never stored.</p>{}\
         <p><button>Search</button></p></fieldset></form>",
        csrf_field(csrf),
        subject_fields("receipts-")
    )
}

async fn receipts<DB: Backend>(State(app): State<Arc<App<DB>>>, Signed(s): Signed) -> Response {
    let filter = erasure_evidence::receipts::Filter::new().limit(50);
    let list = match erasure_evidence::receipts::list(&app.pool, &filter).await {
        Ok(l) => l,
        Err(e) => {
            return failed(&s, Nav::Receipts, e);
        }
    };
    let body = format!(
        "{}<h2>The latest receipts</h2>{}",
        receipts_form(&s.csrf),
        receipts_table(&list)
    );
    ok_page(&s, "Receipts", Nav::Receipts, &body)
}

async fn receipts_search<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
    let s = match posted(&app, &headers, csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let mut filter = erasure_evidence::receipts::Filter::new().limit(200);
    if let Some(since) = form.get("since").filter(|v| !v.is_empty()) {
        match NaiveDate::parse_from_str(since, "%Y-%m-%d") {
            Ok(d) => filter = filter.since(d.and_time(chrono::NaiveTime::MIN).and_utc()),
            Err(_) => {
                return error_page(
                    &s,
                    Nav::Receipts,
                    StatusCode::BAD_REQUEST,
                    "The date is not a date.",
                );
            }
        }
    }
    let fields = SubjectForm {
        csrf: String::new(),
        customer: form.get("customer").cloned().unwrap_or_default(),
        users: form.get("users").cloned().unwrap_or_default(),
        guest: form.get("guest").cloned().unwrap_or_default(),
        ..SubjectForm::default()
    };
    if !(fields.customer.trim().is_empty() && fields.guest.trim().is_empty()) {
        match fields.subject() {
            Ok(subject) => filter = filter.subject(app.chain.pseudonym(&subject)),
            Err(e) => return error_page(&s, Nav::Receipts, StatusCode::BAD_REQUEST, &e),
        }
    }
    let list = match erasure_evidence::receipts::list(&app.pool, &filter).await {
        Ok(l) => l,
        Err(e) => {
            return failed(&s, Nav::Receipts, e);
        }
    };
    audit(&s.operator, "receipts_search", "receipts", "ok");
    let body = format!(
        "{}<h2>Found</h2>{}",
        receipts_form(&s.csrf),
        receipts_table(&list)
    );
    ok_page(&s, "Receipts", Nav::Receipts, &body)
}

async fn receipt<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Signed(s): Signed,
    Path(run_id): Path<String>,
) -> Response {
    let Ok(id) = uuid::Uuid::parse_str(run_id.trim()) else {
        return error_page(
            &s,
            Nav::Receipts,
            StatusCode::BAD_REQUEST,
            "A run id is a UUID.",
        );
    };
    match erasure_evidence::receipts::get(&app.pool, id).await {
        Ok(Some(r)) => ok_page(&s, "Receipt", Nav::Receipts, &report_table(&r.report)),
        Ok(None) => error_page(
            &s,
            Nav::Receipts,
            StatusCode::NOT_FOUND,
            "No receipt for this run.",
        ),
        Err(e) => failed(&s, Nav::Receipts, e),
    }
}

async fn outbox<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Signed(s): Signed,
    Query(q): Query<ListQuery>,
) -> Response {
    use erasure_evidence::outbox::{EventState, Filter};
    let state = match q.state.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some("pending") => Some(EventState::Pending),
        Some("delivered") => Some(EventState::Delivered),
        Some("dead") => Some(EventState::Dead),
        Some("expired") => Some(EventState::Expired),
        Some(_) => return error_page(&s, Nav::Outbox, StatusCode::BAD_REQUEST, "Unknown state."),
    };
    let mut filter = Filter::new().limit(200);
    if let Some(state) = state {
        filter = filter.state(state);
    }
    let events = match erasure_evidence::outbox::list(&app.pool, &filter).await {
        Ok(e) => e,
        Err(e) => {
            return failed(&s, Nav::Outbox, e);
        }
    };
    let mut body = done_notice(q.done.as_deref());
    body.push_str("<p><a href=\"/ops/outbox\">All</a> · <a href=\"/ops/outbox?state=pending\">Pending</a> · \
                   <a href=\"/ops/outbox?state=dead\">Dead</a> · <a href=\"/ops/outbox?state=delivered\">Delivered</a> · \
                   <a href=\"/ops/outbox?state=expired\">Expired</a></p>");
    if events.is_empty() {
        body.push_str("<p>No events here.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th scope=\"col\">Event</th><th scope=\"col\">Destination</th><th scope=\"col\">State</th>\
             <th scope=\"col\">Attempts</th><th scope=\"col\">Last error</th><th scope=\"col\">Action</th></tr></thead><tbody>",
        );
        for e in &events {
            let action = if e.state == EventState::Dead {
                button(
                    &format!("/ops/outbox/{}/retry", e.id),
                    &s.csrf,
                    "Retry",
                    false,
                )
            } else {
                String::new()
            };
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{action}</td></tr>",
                &e.id.to_string()[..8],
                esc(&e.destination),
                e.state,
                e.attempts,
                esc(e.last_error.as_deref().unwrap_or("")),
            );
        }
        body.push_str("</tbody></table>");
    }
    ok_page(&s, "Outbox", Nav::Outbox, &body)
}

async fn outbox_retry<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let s = match posted(&app, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Ok(event) = uuid::Uuid::parse_str(id.trim()) else {
        return error_page(
            &s,
            Nav::Outbox,
            StatusCode::BAD_REQUEST,
            "An event id is a UUID.",
        );
    };
    match erasure_evidence::outbox::retry(
        &app.pool,
        &erasure_evidence::outbox::Retry::Event(event),
        Utc::now(),
    )
    .await
    {
        Ok(_) => {
            audit(&s.operator, "outbox_retry", &id, "ok");
            Redirect::to("/ops/outbox?done=outbox-retried").into_response()
        }
        Err(e) => failed(&s, Nav::Outbox, e),
    }
}

async fn jobs<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Signed(s): Signed,
    Query(q): Query<ListQuery>,
) -> Response {
    let stats = app
        .job_stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let mut body = done_notice(q.done.as_deref());
    if app.jobs.is_empty() {
        body.push_str("<p>This server runs no jobs.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th scope=\"col\">Job</th><th scope=\"col\">What it does</th><th scope=\"col\">Last run</th>\
             <th scope=\"col\">Rows</th><th scope=\"col\">Seconds</th><th scope=\"col\">Runs (failed)</th><th scope=\"col\">Action</th></tr></thead><tbody>",
        );
        for j in app.jobs.iter() {
            let stat = stats.get(j.name()).cloned().unwrap_or_default();
            let (rows, secs) = stat
                .last
                .as_ref()
                .map(|l| {
                    (
                        l.rows.to_string(),
                        format!("{:.2}", l.elapsed_us as f64 / 1e6),
                    )
                })
                .unwrap_or_else(|| ("-".into(), "-".into()));
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{rows}</td><td class=\"num\">{secs}</td>\
                 <td class=\"num\">{} ({})</td><td>{}</td></tr>",
                esc(j.name()),
                esc(j.description()),
                stat.last_at
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "never".into()),
                stat.runs,
                stat.failures,
                button(
                    &format!("/ops/jobs/{}/run", j.name()),
                    &s.csrf,
                    "Run now",
                    false
                )
            );
        }
        body.push_str("</tbody></table>");
    }
    ok_page(&s, "Jobs", Nav::Jobs, &body)
}

async fn run_job<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let s = match posted(&app, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match crate::jobs::run_named(&app, &name).await {
        None => error_page(&s, Nav::Jobs, StatusCode::NOT_FOUND, "No such job."),
        Some(Ok(_)) => {
            audit(&s.operator, "run_job", &name, "ok");
            Redirect::to("/ops/jobs?done=job-run").into_response()
        }
        Some(Err(e)) => {
            audit(&s.operator, "run_job", &name, "failed");
            error_page(&s, Nav::Jobs, StatusCode::INTERNAL_SERVER_ERROR, &e)
        }
    }
}

// ---- the chain and coverage ---------------------------------------------------------------

async fn chain<DB: Backend>(State(app): State<Arc<App<DB>>>, Signed(s): Signed) -> Response {
    let mut body = String::from(
        "<h2>The chain, in the order it runs</h2><table><thead><tr><th scope=\"col\">Position</th><th scope=\"col\">Handler</th>\
         <th scope=\"col\">What it does</th><th scope=\"col\">Tables it touches</th></tr></thead><tbody>",
    );
    for h in app.chain.describe().handlers {
        let tables: Vec<String> = h
            .footprint
            .tables()
            .iter()
            .map(|t| format!("{} ({:?})", esc(t.table.as_str()), t.access).to_lowercase())
            .collect();
        let _ = write!(
            body,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            h.position,
            esc(&h.name),
            esc(&h.description),
            tables.join(", ")
        );
    }
    body.push_str("</tbody></table><h2>Coverage of the live schema</h2>");
    let tables: Vec<&str> = app.subject_tables.iter().map(String::as_str).collect();
    let found = match app.pool.acquire().await {
        Ok(mut conn) => app
            .chain
            .coverage(&mut conn, &tables)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match found {
        Ok(found) if found.is_empty() => body.push_str(
            "<p>Every column that refers to a customer or user, or looks personal, is covered by a handler.</p>",
        ),
        Ok(found) => {
            body.push_str("<p class=\"error\">Columns with personal data that no handler covers:</p><ul>");
            for u in &found {
                let _ = write!(body, "<li>{}</li>", esc(&u.to_string()));
            }
            body.push_str("</ul>");
        }
        Err(e) => {
            let _ = write!(body, "<p class=\"error\">Coverage could not be read: {}</p>", esc(&e));
        }
    }
    ok_page(&s, "Chain and coverage", Nav::Chain, &body)
}
