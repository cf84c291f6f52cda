//! The receipts: the latest, a search by date and subject (by its pseudonym), and one receipt.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use erasure_core::Backend;

use super::html::{Nav, csrf_field, esc, report_table};
use super::{Signed, SubjectForm, audit, error_page, failed, ok_page, posted, subject_fields};
use crate::server::App;

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

pub(super) async fn receipts<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Signed(s): Signed,
) -> Response {
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

pub(super) async fn receipts_search<DB: Backend>(
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

pub(super) async fn receipt<DB: Backend>(
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
