//! Operator sessions for the page: an operator logs in with their token once; the browser then
//! holds a random session id in a cookie (`Secure`, `HttpOnly`, `SameSite=Strict`, path
//! `/ops`), and every form carries the session's CSRF token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use subtle::ConstantTimeEq as _;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "erasure_ops";

/// How long a session lasts.
pub(crate) const LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// One logged-in operator.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) operator: String,
    pub(crate) csrf: String,
    expires: Instant,
}

impl Session {
    /// Whether `token` is this session's CSRF token, compared in constant time.
    pub(crate) fn csrf_matches(&self, token: &str) -> bool {
        self.csrf.len() == token.len() && bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes()))
    }
}

/// The sessions of this process (a restart logs everyone out).
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes as hex.
pub(crate) fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

impl Sessions {
    /// A new session for `operator`: its id (for the cookie).
    pub(crate) fn open(&self, operator: &str) -> Result<String, getrandom::Error> {
        let id = random_token()?;
        let session = Session {
            operator: operator.to_owned(),
            csrf: random_token()?,
            expires: Instant::now() + LIFETIME,
        };
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        map.insert(id.clone(), session);
        Ok(id)
    }

    /// The session the request's cookie names, if it is live.
    pub(crate) fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE)?;
        let map = self.lock();
        map.get(id).filter(|s| s.expires > Instant::now()).cloned()
    }

    /// Ends the session the request's cookie names.
    pub(crate) fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE) {
            self.lock().remove(id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A poisoned lock only means a panic while holding the map; the map is still valid.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value that opens a session.
pub(crate) fn set_cookie(id: &str) -> String {
    format!(
        "{COOKIE}={id}; Path=/ops; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
        LIFETIME.as_secs()
    )
}

/// The `Set-Cookie` value that ends it.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/ops; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends_on_close() {
        let sessions = Sessions::default();
        let id = sessions.open("support-1").expect("random");
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            format!("other=1; {COOKIE}={id}").parse().expect("header"),
        );
        let session = sessions.find(&headers).expect("session");
        assert_eq!(session.operator, "support-1");
        assert!(session.csrf_matches(&session.csrf.clone()));
        assert!(!session.csrf_matches("0"));
        sessions.close(&headers);
        assert!(sessions.find(&headers).is_none());
        assert!(set_cookie(&id).contains("HttpOnly; Secure; SameSite=Strict"));
    }
}
