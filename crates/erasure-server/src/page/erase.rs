//! Erasing a subject by hand: the form, the dry run to confirm, the erasure.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use erasure_core::{Backend, Erasure, Reason};

use super::html::{Nav, csrf_field, report_table};
use super::{
    Signed, SubjectForm, audit, dry_run, error_page, ok_page, posted_subject, subject_fields,
};
use crate::server::App;

pub(super) async fn erase_form<DB: Backend>(
    State(_app): State<Arc<App<DB>>>,
    Signed(s): Signed,
) -> Response {
    let body = format!(
        "<p>Enter the subject; the next page shows what the chain will do, and asks to confirm.</p>\
         <form method=\"post\" action=\"/ops/erase/preview\"><fieldset><legend>Subject</legend>{}{}\
         <p><button>Preview</button></p></fieldset></form>",
        csrf_field(&s.csrf),
        subject_fields("erase-")
    );
    ok_page(&s, "Erase a subject", Nav::Erase, &body)
}

pub(super) async fn erase_preview<DB: Backend>(
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

pub(super) async fn erase<DB: Backend>(
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
