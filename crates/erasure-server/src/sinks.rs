//! Delivering outbox events downstream: signed webhooks and NATS (JetStream), configured per
//! destination in `[evidence.sinks]` and run by the server's [`Dispatcher`](erasure_evidence::Dispatcher).
//!
//! ```toml
//! [evidence]
//! events = ["newsletter", "crm"]
//!
//! [evidence.sinks.newsletter]
//! webhook = "https://newsletter.example/hooks/erasure"
//! secret_env = "ERASURE_WEBHOOK_SECRET_NEWSLETTER"   # the signing secret, from the environment
//! timeout_seconds = 10
//!
//! [evidence.sinks.crm]
//! nats = "nats://127.0.0.1:4222"
//! subject = "shop.erasure.crm"
//! jetstream = true                                   # wait for the stream's acknowledgement
//! ```
//!
//! # The webhook signature
//!
//! Each POST carries the event as JSON (the fields of [`OutboxEvent`]) and the header
//! `Erasure-Signature: t=<unix seconds>,v1=<hex>`, where the hex is HMAC-SHA-256 under the
//! destination's secret of `<t>.<body>`. The receiver recomputes it over the raw body, compares in
//! constant time, and refuses a `t` older than a few minutes (a replay). `Erasure-Event-Id` is the
//! event's id: delivery is at least once, deduplicate on it.

use std::fmt;
use std::time::Duration;

#[cfg(any(feature = "webhooks", feature = "nats"))]
use async_trait::async_trait;
use erasure_evidence::EventSink;
#[cfg(any(feature = "webhooks", feature = "nats"))]
use erasure_evidence::{OutboxEvent, SinkError};
use serde::{Deserialize, Serialize};

/// Where the events of one destination go: exactly one of `webhook` and `nats`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// The URL events are POSTed to.
    pub webhook: Option<String>,
    /// The environment variable holding the webhook's signing secret (at least 32 bytes).
    pub secret_env: Option<String>,
    /// The NATS server's URL.
    pub nats: Option<String>,
    /// The NATS subject events are published to.
    pub subject: Option<String>,
    /// Wait for JetStream's acknowledgement (the subject must belong to a stream).
    #[serde(default)]
    pub jetstream: bool,
    /// How long one delivery may take, in seconds (default 10).
    pub timeout_seconds: Option<u64>,
}

impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkConfig")
            .field("webhook", &self.webhook.as_ref().map(|_| "…"))
            .field("nats", &self.nats.as_ref().map(|_| "…"))
            .field("subject", &self.subject)
            .field("jetstream", &self.jetstream)
            .finish_non_exhaustive()
    }
}

/// Why a sink cannot be built from its configuration.
#[derive(Debug, thiserror::Error)]
#[error("[evidence.sinks.{destination}]: {problem}")]
pub struct SinkConfigError {
    destination: String,
    problem: String,
}

impl SinkConfig {
    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.unwrap_or(10).max(1))
    }

    /// The sink for `destination`, its secret read from the environment.
    ///
    /// # Errors
    ///
    /// Not exactly one of `webhook` and `nats`; a webhook without its secret; a NATS sink
    /// without a subject, or whose server cannot be reached; a kind this build leaves out.
    pub async fn build(&self, destination: &str) -> Result<Box<dyn EventSink>, SinkConfigError> {
        let problem = |problem: String| SinkConfigError {
            destination: destination.to_owned(),
            problem,
        };
        match (&self.webhook, &self.nats) {
            (Some(url), None) => {
                let var = self
                    .secret_env
                    .as_deref()
                    .ok_or_else(|| problem("a webhook needs `secret_env`".into()))?;
                let secret = std::env::var(var)
                    .map_err(|_| problem(format!("the environment variable {var} is not set")))?;
                if secret.len() < 32 {
                    return Err(problem(format!("{var} holds fewer than 32 bytes")));
                }
                webhook(url, secret.into_bytes(), self.timeout()).map_err(problem)
            }
            (None, Some(url)) => {
                let subject = self
                    .subject
                    .clone()
                    .ok_or_else(|| problem("a NATS sink needs `subject`".into()))?;
                nats(url, subject, self.jetstream, self.timeout())
                    .await
                    .map_err(problem)
            }
            _ => Err(problem("give exactly one of `webhook` and `nats`".into())),
        }
    }
}

#[cfg(feature = "webhooks")]
fn webhook(url: &str, secret: Vec<u8>, timeout: Duration) -> Result<Box<dyn EventSink>, String> {
    Ok(Box::new(WebhookSink::new(url, secret, timeout)?))
}

#[cfg(not(feature = "webhooks"))]
fn webhook(_: &str, _: Vec<u8>, _: Duration) -> Result<Box<dyn EventSink>, String> {
    Err("this build has no webhooks (feature `webhooks`)".into())
}

#[cfg(feature = "nats")]
async fn nats(
    url: &str,
    subject: String,
    jetstream: bool,
    timeout: Duration,
) -> Result<Box<dyn EventSink>, String> {
    Ok(Box::new(
        NatsSink::connect(url, subject, jetstream, timeout).await?,
    ))
}

#[cfg(not(feature = "nats"))]
async fn nats(_: &str, _: String, _: bool, _: Duration) -> Result<Box<dyn EventSink>, String> {
    Err("this build has no NATS (feature `nats`)".into())
}

/// Installs ring as the process's TLS provider, once (reqwest and async-nats use rustls).
#[cfg(any(feature = "webhooks", feature = "nats"))]
fn tls_provider() {
    // `Err` means a provider is installed already: that one is used.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The signature header's value for `body` at unix time `t`: `t=<t>,v1=<hex>`.
#[cfg(feature = "webhooks")]
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    use hmac::{Hmac, KeyInit as _, Mac as _};
    // HMAC accepts keys of every length.
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        unreachable!("HMAC takes keys of every length")
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers each event by HTTP POST, signed (see the [module docs](self)). A 2xx answer is a
/// delivery; anything else, or no answer within the timeout, is a failure the dispatcher
/// retries with backoff and, after the last attempt, marks dead.
#[cfg(feature = "webhooks")]
pub struct WebhookSink {
    client: reqwest::Client,
    url: String,
    secret: Vec<u8>,
}

#[cfg(feature = "webhooks")]
impl fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSink").finish_non_exhaustive()
    }
}

#[cfg(feature = "webhooks")]
impl WebhookSink {
    /// POSTs to `url`, signing with `secret`, each delivery cut off after `timeout`.
    ///
    /// # Errors
    ///
    /// `url` is not an `http` or `https` URL, or the HTTP client cannot be built.
    pub fn new(url: &str, secret: Vec<u8>, timeout: Duration) -> Result<Self, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err("the webhook URL must start with http:// or https://".into());
        }
        tls_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the HTTP client cannot be built: {e}"))?;
        Ok(Self {
            client,
            url: url.to_owned(),
            secret,
        })
    }
}

#[cfg(feature = "webhooks")]
#[async_trait]
impl EventSink for WebhookSink {
    async fn deliver(&self, event: &OutboxEvent) -> Result<(), SinkError> {
        let body = serde_json::to_vec(event)?;
        let t = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Erasure-Event-Id", event.id.to_string())
            .header("Erasure-Signature", signature(&self.secret, t, &body))
            .body(body)
            .send()
            .await
            // The error's text names the URL at most: not personal data.
            .map_err(|e| format!("the webhook could not be reached: {}", e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the webhook answered HTTP {}", status.as_u16()).into())
        }
    }
}

/// Publishes each event as JSON to a NATS subject, with the event's id as `Nats-Msg-Id` (JetStream
/// drops a duplicate within its window); with JetStream, a delivery is the stream's
/// acknowledgement.
#[cfg(feature = "nats")]
pub struct NatsSink {
    client: async_nats::Client,
    jetstream: Option<async_nats::jetstream::Context>,
    subject: String,
    timeout: Duration,
}

#[cfg(feature = "nats")]
impl fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsSink")
            .field("subject", &self.subject)
            .field("jetstream", &self.jetstream.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "nats")]
impl NatsSink {
    /// Connects to `url` (the client reconnects by itself afterwards).
    ///
    /// # Errors
    ///
    /// The server cannot be reached.
    pub async fn connect(
        url: &str,
        subject: String,
        jetstream: bool,
        timeout: Duration,
    ) -> Result<Self, String> {
        tls_provider();
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(timeout)
            .connect(url)
            .await
            .map_err(|e| format!("NATS cannot be reached: {e}"))?;
        Ok(Self::with_client(client, subject, jetstream, timeout))
    }

    /// Over an existing client.
    pub fn with_client(
        client: async_nats::Client,
        subject: String,
        jetstream: bool,
        timeout: Duration,
    ) -> Self {
        let context = jetstream.then(|| async_nats::jetstream::new(client.clone()));
        Self {
            client,
            jetstream: context,
            subject,
            timeout,
        }
    }
}

#[cfg(feature = "nats")]
#[async_trait]
impl EventSink for NatsSink {
    async fn deliver(&self, event: &OutboxEvent) -> Result<(), SinkError> {
        let body = serde_json::to_vec(event)?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        let publish = async {
            match &self.jetstream {
                Some(js) => {
                    let ack = js
                        .publish_with_headers(self.subject.clone(), headers, body.into())
                        .await
                        .map_err(|e| format!("JetStream refused the message: {e}"))?;
                    ack.await
                        .map_err(|e| format!("JetStream did not acknowledge: {e}"))?;
                }
                None => {
                    self.client
                        .publish_with_headers(self.subject.clone(), headers, body.into())
                        .await
                        .map_err(|e| format!("NATS refused the message: {e}"))?;
                    self.client
                        .flush()
                        .await
                        .map_err(|e| format!("NATS did not take the message: {e}"))?;
                }
            }
            Ok::<(), String>(())
        };
        tokio::time::timeout(self.timeout, publish)
            .await
            .map_err(|_| "NATS did not answer in time".to_owned())??;
        Ok(())
    }
}

#[cfg(all(test, feature = "webhooks"))]
mod tests {
    use super::*;

    /// A known answer, computed independently (Python: `hmac.new(b"k"*32, b"1700000000.{}",
    /// hashlib.sha256).hexdigest()`).
    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        let sig = signature(&[b'k'; 32], 1_700_000_000, b"{}");
        assert_eq!(
            sig,
            "t=1700000000,v1=0b3b35525c10b3757ffa78df69037021fc3168d8390a51a4fcb4a8d56a25b557"
        );
        assert_ne!(sig, signature(&[b'k'; 32], 1_700_000_001, b"{}"));
        assert_ne!(sig, signature(&[b'j'; 32], 1_700_000_000, b"{}"));
    }
}
