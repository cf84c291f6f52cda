//! The chain, in the order it runs, and the coverage of the live schema.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use erasure_core::Backend;

use super::html::{Nav, esc};
use super::{Signed, ok_page};
use crate::server::App;

pub(super) async fn chain<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    Signed(s): Signed,
) -> Response {
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
