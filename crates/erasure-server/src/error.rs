//! Errors: of starting the server ([`ServerError`]), and of one HTTP request (`ApiError`, a
//! JSON body `{"error": code, "message": …}` that never holds a personal value).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use erasure_requests::RequestError;
use serde::Serialize;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The configuration cannot be used.
    #[error("server configuration: {0}")]
    Config(String),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// A failed HTTP request.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400: the body or a parameter is malformed; says which, not with what.
    BadRequest(String),
    /// 401: no valid token. Says nothing about whether what was asked for exists.
    Unauthorized,
    /// 404: no such route or resource (only for authenticated callers).
    NotFound,
    /// 409: the request is not in a state that allows this.
    Conflict(String),
    /// 410: the link worked once, but what it pointed to is gone (downloaded enough, expired).
    Gone(&'static str),
    /// 429: too many requests from this client or token.
    TooMany { retry_after: u64 },
    /// 503: export requests are not served (no export directory).
    Unavailable(&'static str),
    /// 500: logged; the body says only that it failed.
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.as_str()),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid token is needed",
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "nothing here"),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m.as_str()),
            ApiError::Gone(m) => (StatusCode::GONE, "gone", *m),
            ApiError::TooMany { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "slow down",
            ),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", *m),
            ApiError::Internal(cause) => {
                tracing::error!(error = %cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server failed; it is logged",
                )
            }
        };
        let mut response = (
            status,
            Json(Body {
                error: code,
                message,
            }),
        )
            .into_response();
        if let ApiError::TooMany { retry_after } = self
            && let Ok(value) = retry_after.to_string().parse()
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            // Unknown ids and wrong tokens look alike to the caller.
            RequestError::NotFound(_) | RequestError::WrongToken(_) => ApiError::Unauthorized,
            RequestError::TokenExpired(_) => ApiError::Gone("the link expired; ask again"),
            e @ (RequestError::InvalidTransition { .. }
            | RequestError::TooLateToCancel(_)
            | RequestError::NoSubject(_)) => ApiError::Conflict(e.to_string()),
            e @ RequestError::Subject(_) => ApiError::BadRequest(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}
