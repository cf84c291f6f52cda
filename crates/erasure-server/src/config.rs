//! The server's settings: the `[server]` section of the configuration file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::auth::TokenHash;

/// How the server runs.
///
/// ```toml
/// [server]
/// listen = "127.0.0.1:8080"
/// base_url = "https://privacy.shop.example"   # the links in messages start with it
/// export_dir = "/var/lib/erasure/exports"     # export requests are carried out into it
/// export_downloads = 3                          # a document is downloadable this many times
/// export_ttl_hours = 72                         # … within this time, then removed from disk
/// public_rate_per_minute = 30                   # per client address, on the public routes
/// service_rate_per_minute = 600                 # per service token
/// trusted_proxies = ["127.0.0.1"]               # their X-Forwarded-For names the client
/// body_limit_bytes = 16384
/// timeout_seconds = 30
/// worker_interval_seconds = 5
/// mail_command = ["/usr/local/bin/send-privacy-mail"]   # `erasure serve`: each message as JSON on stdin
/// # SHA-256 of the bearer tokens, never the tokens: `erasure token-hash` prints it.
/// service_tokens = ["sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
/// operator_tokens = [{ name = "support-1", hash = "sha256:…" }]
/// cors_origins = []                             # CORS is off unless origins are listed
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The public base URL of the server, without a trailing `/`: links in messages start with
    /// it.
    pub base_url: String,
    /// Where export documents are written (it must exist). Without it, export requests wait.
    pub export_dir: Option<PathBuf>,
    /// How many times a document can be downloaded (at least 1).
    pub export_downloads: u32,
    /// How long after it was written a document can be downloaded, in hours; it is then
    /// removed from disk, downloaded or not.
    pub export_ttl_hours: u32,
    /// Requests per minute one client address may make to the public routes (at least 1).
    pub public_rate_per_minute: u32,
    /// Requests per minute one operator token may make (at least 1).
    pub operator_rate_per_minute: u32,
    /// Requests per minute one service token may make (at least 1), on top of the limit of the
    /// address it calls from.
    pub service_rate_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed: behind them, the public routes' limit is
    /// per forwarded client address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// How long a request may take before it is answered with 503, in seconds.
    pub timeout_seconds: u64,
    /// How often the background worker looks for confirmed requests, in seconds.
    pub worker_interval_seconds: u64,
    /// Requests one worker round carries out in one transaction.
    pub worker_batch: usize,
    /// The SHA-256 of the tokens a storefront authenticates with (`sha256:<64 hex digits>`).
    pub service_tokens: Vec<TokenHash>,
    /// The operators' tokens, each with a name for the audit log.
    pub operator_tokens: Vec<OperatorToken>,
    /// Origins allowed to call the public routes from a browser; empty: CORS is off.
    pub cors_origins: Vec<String>,
    /// How often the outbox dispatcher looks for events to deliver, in seconds (when sinks are
    /// configured).
    pub dispatch_interval_seconds: u64,
    /// Delivery attempts before an event is dead.
    pub dispatch_max_attempts: u32,
    /// The first retry's delay, in seconds; each next one doubles, up to
    /// `dispatch_max_backoff_seconds`.
    pub dispatch_backoff_seconds: u64,
    /// The longest delay between two attempts, in seconds.
    pub dispatch_max_backoff_seconds: u64,
    /// Days after which a dead event's payload (the subject and the data) is cleared and the
    /// event marked `expired`.
    pub dead_payload_days: u32,
    /// Hours between two runs of the jobs given to the server (purge jobs, retention); they
    /// run first one worker interval after the start. `0`: only when an operator asks.
    pub jobs_every_hours: u32,
    /// For `erasure serve`: the program (and its arguments) that sends each message, given as
    /// JSON on its standard input ([`CommandMailer`](crate::CommandMailer)); empty: messages
    /// go nowhere. A library user passes a [`Mailer`](crate::Mailer) of their own instead.
    pub mail_command: Vec<String>,
}

/// An operator's token, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorToken {
    /// The operator's name in the audit log (a staff id, not a person's name).
    pub name: String,
    /// The SHA-256 of the token.
    pub hash: TokenHash,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: "http://127.0.0.1:8080".to_owned(),
            export_dir: None,
            export_downloads: 3,
            export_ttl_hours: 72,
            public_rate_per_minute: 30,
            operator_rate_per_minute: 600,
            service_rate_per_minute: 600,
            trusted_proxies: Vec::new(),
            body_limit_bytes: 16 * 1024,
            timeout_seconds: 30,
            worker_interval_seconds: 5,
            worker_batch: 20,
            service_tokens: Vec::new(),
            operator_tokens: Vec::new(),
            cors_origins: Vec::new(),
            dispatch_interval_seconds: 5,
            dispatch_max_attempts: 10,
            dispatch_backoff_seconds: 30,
            dispatch_max_backoff_seconds: 3600,
            dead_payload_days: 30,
            jobs_every_hours: 24,
            mail_command: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// The base URL without a trailing `/`.
    pub(crate) fn base(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    pub(crate) fn export_ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.export_ttl_hours) * 3600)
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.max(1))
    }

    pub(crate) fn worker_interval(&self) -> Duration {
        Duration::from_secs(self.worker_interval_seconds.max(1))
    }
}
