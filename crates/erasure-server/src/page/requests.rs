//! The requests: the list, one request with its timeline and actions, resolving a request to
//! its subject after a preview, and the actions themselves.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use erasure_core::{Backend, Subject};
use erasure_requests::{Request, State as RequestState};

use super::html::{Nav, button, csrf_field, esc, report_table};
use super::{
    ListQuery, Signed, SubjectForm, audit, done_notice, dry_run, error_page, failed, ok_page,
    posted, posted_subject, subject_fields,
};
use crate::server::App;

pub(super) async fn requests<DB: Backend>(
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

pub(super) async fn request<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Signed(s): Signed,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let r = match app.requests.get(&app.pool, &id).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, Nav::Requests, StatusCode::NOT_FOUND, &e.to_string()),
    };
    let mut body = done_notice(q.done.as_deref());
    body.push_str(&request_facts(&r, Utc::now()));
    body.push_str(&timeline(&r));
    body.push_str("<h2>Actions</h2>");
    body.push_str(&request_actions(&r, &s.csrf));
    ok_page(&s, "Request", Nav::Requests, &body)
}

/// What a request is: id, kind, state, due date, whether its subject is known, attempts.
fn request_facts(r: &Request, now: DateTime<Utc>) -> String {
    format!(
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
    )
}

/// The forms of the actions a request's state allows.
fn request_actions(r: &Request, csrf: &str) -> String {
    let mut body = String::new();
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
    body
}

pub(super) async fn resolve_preview<DB: Backend>(
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

pub(super) async fn request_action<DB: Backend>(
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
