//! The jobs: their last runs, and running one now.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use erasure_core::Backend;

use super::html::{Nav, button, esc};
use super::{CsrfForm, ListQuery, Signed, audit, done_notice, error_page, ok_page, posted};
use crate::server::App;

pub(super) async fn jobs<DB: Backend>(
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

pub(super) async fn run_job<DB: Backend>(
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
