//! Signing in with an operator token, and signing out.

use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use erasure_core::Backend;
use serde::Deserialize;

use super::html::{Nav, esc, layout};
use super::{CsrfForm, audit, page, posted, session};
use crate::auth::any_matches;
use crate::server::App;

pub(super) async fn login_page() -> Response {
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
pub(super) struct LoginForm {
    token: String,
}

pub(super) async fn login<DB: Backend>(
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

pub(super) async fn logout<DB: Backend>(
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
