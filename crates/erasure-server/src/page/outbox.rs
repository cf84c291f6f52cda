//! The outbox: its events by state, and retrying a dead one.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use erasure_core::Backend;

use super::html::{Nav, button, esc};
use super::{CsrfForm, ListQuery, Signed, audit, done_notice, error_page, failed, ok_page, posted};
use crate::server::App;

pub(super) async fn outbox<DB: Backend>(
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

pub(super) async fn outbox_retry<DB: Backend>(
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
