//! The server: its shared state, the router, the middleware, and running it with the
//! background work until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use erasure_core::clock::Clock;
use erasure_core::job::{Job, JobRunner};
use erasure_core::{Backend, Chain, PseudonymKey};
use erasure_evidence::{Dispatcher, EventSink, OutboxEvent, SinkError};
use erasure_requests::{RequestConfig, Requests};
use sqlx::Pool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::auth::{LinkSigner, TokenHash};
use crate::background;
use crate::config::ServerConfig;
use crate::downloads::Downloads;
use crate::error::{ApiError, ServerError};
use crate::jobs::JobStats;
use crate::limits::RateLimiter;
use crate::mail::{Links, Mailer, NoMailer, ServerNotifier};
use crate::metrics::Counters;
use crate::{consents, operator, public};

/// What every handler shares.
pub(crate) struct App<DB: Backend> {
    pub(crate) pool: Pool<DB>,
    pub(crate) chain: Chain<DB>,
    pub(crate) requests: Requests<DB>,
    pub(crate) config: ServerConfig,
    pub(crate) links: Links,
    pub(crate) mailer: Arc<dyn Mailer>,
    pub(crate) downloads: Option<Downloads>,
    pub(crate) counters: Counters,
    pub(crate) public_limit: RateLimiter<std::net::IpAddr>,
    pub(crate) service_limit: RateLimiter<usize>,
    pub(crate) operator_limit: RateLimiter<usize>,
    pub(crate) service_tokens: Vec<TokenHash>,
    pub(crate) operator_tokens: Vec<(String, TokenHash)>,
    pub(crate) jobs: Arc<Vec<Box<dyn Job<DB>>>>,
    pub(crate) job_runner: JobRunner,
    pub(crate) job_lock: tokio::sync::Mutex<()>,
    pub(crate) job_stats: JobStats,
    /// Whether `/metrics` counts the outbox (the dispatcher runs, so its table exists).
    pub(crate) outbox_metrics: bool,
    /// The operator page's sessions.
    pub(crate) sessions: crate::page::session::Sessions,
    /// The tables of customers and users, for the coverage the page shows.
    pub(crate) subject_tables: Vec<String>,
}

/// The HTTP service of `erasure`: personal-data requests with confirmation links, export
/// downloads, an operator API, health and metrics, and the background worker, in one process.
///
/// ```no_run
/// use erasure_server::{Server, ServerConfig};
/// # async fn run(pool: sqlx::SqlitePool, chain: erasure_core::Chain<sqlx::Sqlite>,
/// #              key: erasure_core::PseudonymKey) -> Result<(), Box<dyn std::error::Error>> {
/// let server = Server::new(pool, chain, key, ServerConfig::default());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// server.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
/// # Ok(()) }
/// ```
pub struct Server<DB: Backend> {
    pool: Pool<DB>,
    chain: Chain<DB>,
    key: PseudonymKey,
    config: ServerConfig,
    mailer: Arc<dyn Mailer>,
    requests_config: Option<RequestConfig>,
    clock: Option<Arc<dyn Clock>>,
    sinks: Vec<(String, Arc<dyn EventSink>)>,
    jobs: Arc<Vec<Box<dyn Job<DB>>>>,
    job_runner: JobRunner,
    subject_tables: Vec<String>,
}

impl<DB: Backend> std::fmt::Debug for Server<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listen", &self.config.listen)
            .field("mailer", &self.mailer)
            .finish_non_exhaustive()
    }
}

/// A shared clock or sink, as the request store and the dispatcher take them by value.
#[derive(Debug)]
struct Shared<T: ?Sized>(Arc<T>);

impl Clock for Shared<dyn Clock> {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now()
    }
}

#[erasure_core::async_trait]
impl EventSink for Shared<dyn EventSink> {
    async fn deliver(&self, event: &OutboxEvent) -> Result<(), SinkError> {
        self.0.deliver(event).await
    }
}

impl<DB: Backend> Server<DB> {
    /// A server over `pool`, carrying out erasures and exports with `chain`. `key` is the
    /// chain's pseudonym key: requests are matched to subjects with it, and the status and
    /// download links are signed with it. Messages go nowhere until [`mailer`](Self::mailer)
    /// says where.
    pub fn new(pool: Pool<DB>, chain: Chain<DB>, key: PseudonymKey, config: ServerConfig) -> Self {
        Self {
            pool,
            chain,
            key,
            config,
            mailer: Arc::new(NoMailer),
            requests_config: None,
            clock: None,
            sinks: Vec::new(),
            jobs: Arc::new(Vec::new()),
            job_runner: JobRunner::new(),
            subject_tables: vec!["customers".to_owned(), "users".to_owned()],
        }
    }

    /// The tables of customers and users (`customers`, `users` by default), for the coverage
    /// of the live schema the operator page shows.
    #[must_use]
    pub fn subject_tables(mut self, tables: Vec<String>) -> Self {
        self.subject_tables = tables;
        self
    }

    /// With `jobs` (the purge and retention jobs: `erasure::jobs::standard_jobs`, a request
    /// purge …), run in order every `jobs_every_hours` and when an operator asks
    /// (`POST /v1/ops/jobs/{name}/run`), one at a time, by `runner`.
    #[must_use]
    pub fn jobs(mut self, jobs: Vec<Box<dyn Job<DB>>>, runner: JobRunner) -> Self {
        self.jobs = Arc::new(jobs);
        self.job_runner = runner;
        self
    }

    /// Delivers the outbox events of `destination` to `sink`: with at least one sink the
    /// server runs the outbox [`Dispatcher`](erasure_evidence::Dispatcher) in the background
    /// (retries with backoff, dead events after the last attempt, their payloads cleared after
    /// `dead_payload_days`). [`SinkConfig::build`](crate::SinkConfig::build) makes sinks from
    /// `[evidence.sinks]`.
    #[must_use]
    pub fn sink(mut self, destination: impl Into<String>, sink: Box<dyn EventSink>) -> Self {
        self.sinks.push((destination.into(), Arc::from(sink)));
        self
    }

    /// With `mailer`, which sends the confirmation links and the messages of completed,
    /// rejected and export requests.
    #[must_use]
    pub fn mailer(mut self, mailer: impl Mailer + 'static) -> Self {
        self.mailer = Arc::new(mailer);
        self
    }

    /// With the request life cycle's settings (`[requests]`: token validity, erasure delay …).
    #[must_use]
    pub fn requests_config(mut self, config: RequestConfig) -> Self {
        self.requests_config = Some(config);
        self
    }

    /// With `clock` for the request life cycle (tests: expired links).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    fn app(&self) -> Arc<App<DB>> {
        let config = self.config.clone();
        let links = Links {
            base: config.base().to_owned(),
            signer: LinkSigner::new(self.key.clone()),
        };
        let notifier = ServerNotifier {
            links: links.clone(),
            mailer: Arc::clone(&self.mailer),
            export_ttl: chrono::TimeDelta::hours(i64::from(config.export_ttl_hours)),
        };
        let mut requests = Requests::<DB>::new(self.key.clone()).notifier(notifier);
        if let Some(rc) = &self.requests_config {
            requests = requests.config(rc.clone());
        }
        if let Some(clock) = &self.clock {
            requests = requests.clock(Shared(Arc::clone(clock)));
        }
        let downloads = config
            .export_dir
            .clone()
            .map(|dir| Downloads::new(dir, config.export_downloads, config.export_ttl()));
        Arc::new(App {
            pool: self.pool.clone(),
            chain: self.chain.clone(),
            requests,
            links,
            mailer: Arc::clone(&self.mailer),
            downloads,
            counters: Counters::default(),
            public_limit: RateLimiter::new(config.public_rate_per_minute),
            service_limit: RateLimiter::new(config.service_rate_per_minute),
            operator_limit: RateLimiter::new(config.operator_rate_per_minute),
            service_tokens: config.service_tokens.clone(),
            operator_tokens: config
                .operator_tokens
                .iter()
                .map(|t| (t.name.clone(), t.hash))
                .collect(),
            jobs: Arc::clone(&self.jobs),
            job_runner: self.job_runner.clone(),
            job_lock: tokio::sync::Mutex::new(()),
            job_stats: JobStats::default(),
            outbox_metrics: !self.sinks.is_empty(),
            sessions: crate::page::session::Sessions::default(),
            subject_tables: self.subject_tables.clone(),
            config,
        })
    }

    fn dispatcher(&self) -> Dispatcher<DB> {
        let c = &self.config;
        let mut dispatcher = Dispatcher::<DB>::new()
            .max_attempts(c.dispatch_max_attempts.max(1))
            .backoff(
                Duration::from_secs(c.dispatch_backoff_seconds.max(1)),
                Duration::from_secs(c.dispatch_max_backoff_seconds.max(1)),
            );
        for (destination, sink) in &self.sinks {
            dispatcher = dispatcher.sink(destination.clone(), Shared(Arc::clone(sink)));
        }
        if let Some(clock) = &self.clock {
            dispatcher = dispatcher.clock(Shared(Arc::clone(clock)));
        }
        dispatcher
    }

    /// The router, for embedding in an application of your own. It has no background work:
    /// run [`serve`](Self::serve), or a [`Worker`](erasure_requests::Worker) of your own.
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()`: the public routes'
    /// rate limit is per client address.
    pub fn router(&self) -> Router {
        router(self.app())
    }

    /// Serves on `listener` and runs the background work (the requests worker, export
    /// documents' expiry, expired confirmation tokens) until `shutdown` completes; then stops
    /// accepting connections, lets the requests in flight finish, lets the worker finish the
    /// batch it is carrying out, and returns.
    ///
    /// # Errors
    ///
    /// [`ServerError::Serve`] when serving fails.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let app = self.app();
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker = tokio::spawn(background::run(Arc::clone(&app), stop_rx.clone()));
        let scheduled = (!self.jobs.is_empty() && app.config.jobs_every_hours > 0)
            .then(|| tokio::spawn(crate::jobs::schedule(Arc::clone(&app), stop_rx.clone())));
        let dispatcher = (!self.sinks.is_empty()).then(|| {
            tokio::spawn(background::dispatch(
                Arc::clone(&app),
                self.dispatcher(),
                stop_rx,
            ))
        });
        let service = router(Arc::clone(&app)).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!(
                    "shutting down: finishing the requests in flight and the worker's batch"
                );
                let _ = stop_tx.send(true);
            })
            .await;
        // The worker finishes the batch it has: a batch is one transaction, so nothing is left
        // half-done whatever happens.
        if let Err(e) = worker.await {
            tracing::error!(error = %e, "the background worker ended abnormally");
        }
        if let Some(dispatcher) = dispatcher
            && let Err(e) = dispatcher.await
        {
            tracing::error!(error = %e, "the outbox dispatcher ended abnormally");
        }
        if let Some(scheduled) = scheduled
            && let Err(e) = scheduled.await
        {
            tracing::error!(error = %e, "the job schedule ended abnormally");
        }
        tracing::info!("server stopped");
        served.map_err(ServerError::Serve)
    }
}

fn router<DB: Backend>(app: Arc<App<DB>>) -> Router {
    let public = Router::new()
        .route("/v1/requests", post(public::submit::<DB>))
        .route(
            "/v1/requests/confirm",
            get(public::confirm_page::<DB>).post(public::confirm_json::<DB>),
        )
        .route("/v1/requests/{id}", get(public::status::<DB>))
        .route("/v1/exports/{id}", get(public::download::<DB>))
        .route(
            "/v1/subjects/customer/{customer}/consents",
            get(consents::customer_get::<DB>).put(consents::customer_put::<DB>),
        )
        .route(
            "/v1/subjects/customer/{customer}/users/{user}/consents",
            get(consents::user_get::<DB>).put(consents::user_put::<DB>),
        )
        .route(
            "/v1/subjects/email/consents",
            get(consents::email_get::<DB>).put(consents::email_put::<DB>),
        )
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            public_rate_limit::<DB>,
        ));
    let public = match cors(&app.config) {
        Some(layer) => public.layer(layer),
        None => public,
    };
    let ops = Router::new()
        .route("/v1/ops/requests", get(operator::list::<DB>))
        .route("/v1/ops/requests/{id}", get(operator::show::<DB>))
        .route(
            "/v1/ops/requests/{id}/{action}",
            post(operator::transition::<DB>),
        )
        .route("/v1/ops/erase", post(operator::erase::<DB>))
        .route("/v1/ops/receipts", get(operator::receipts::<DB>))
        .route("/v1/ops/receipts/{run_id}", get(operator::receipt::<DB>))
        .route("/v1/ops/outbox", get(operator::outbox::<DB>))
        .route(
            "/v1/ops/outbox/{id}/retry",
            post(operator::outbox_retry::<DB>),
        )
        .route(
            "/v1/ops/outbox/retry-dead",
            post(operator::outbox_retry_dead::<DB>),
        )
        .route("/v1/ops/jobs", get(operator::jobs::<DB>))
        .route("/v1/ops/jobs/{name}/run", post(operator::run_job::<DB>));
    Router::new()
        .merge(public)
        .merge(ops)
        .merge(crate::page::routes::<DB>())
        .route("/v1/openapi.json", get(openapi))
        .route("/healthz", get(healthz::<DB>))
        .route("/metrics", get(metrics::<DB>))
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            access_log::<DB>,
        ))
        .layer(RequestBodyLimitLayer::new(app.config.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            app.config.timeout(),
        ))
        .with_state(app)
}

fn cors(config: &ServerConfig) -> Option<CorsLayer> {
    if config.cors_origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                axum::http::header::CONTENT_TYPE,
                axum::http::header::AUTHORIZATION,
            ]),
    )
}

/// Logs each request by its route (`/v1/requests/{id}`, never the id or the query, which may
/// hold a token), its status and its duration; counts it for the metrics.
async fn access_log<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    app.counters.status(status);
    tracing::info!(
        method = %method,
        route = %route,
        status,
        micros = started.elapsed().as_micros() as u64,
        "http"
    );
    response
}

/// The per-address limit of the public routes.
async fn public_rate_limit<DB: Backend>(
    State(app): State<Arc<App<DB>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let client = client_address(&app.config.trusted_proxies, peer.ip(), request.headers());
    match app.public_limit.check(&client) {
        Ok(()) => next.run(request).await,
        Err(retry_after) => {
            app.counters
                .rate_limited
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ApiError::TooMany { retry_after }.into_response()
        }
    }
}

/// The API's OpenAPI 3.1 description (`api/openapi.json`, written by hand; a test checks it
/// against [`ROUTES`] and the live router).
pub(crate) const OPENAPI: &str = include_str!("../api/openapi.json");

/// Every route of [`router`], as (method, path template). A route added to the router is added
/// here and to the OpenAPI document: `every_documented_route_is_served` requests each one.
#[cfg(test)]
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/requests"),
    ("GET", "/v1/requests/confirm"),
    ("POST", "/v1/requests/confirm"),
    ("GET", "/v1/requests/{id}"),
    ("GET", "/v1/exports/{id}"),
    ("GET", "/v1/subjects/customer/{customer}/consents"),
    ("PUT", "/v1/subjects/customer/{customer}/consents"),
    (
        "GET",
        "/v1/subjects/customer/{customer}/users/{user}/consents",
    ),
    (
        "PUT",
        "/v1/subjects/customer/{customer}/users/{user}/consents",
    ),
    ("GET", "/v1/subjects/email/consents"),
    ("PUT", "/v1/subjects/email/consents"),
    ("GET", "/v1/ops/requests"),
    ("GET", "/v1/ops/requests/{id}"),
    ("POST", "/v1/ops/requests/{id}/{action}"),
    ("POST", "/v1/ops/erase"),
    ("GET", "/v1/ops/receipts"),
    ("GET", "/v1/ops/receipts/{run_id}"),
    ("GET", "/v1/ops/outbox"),
    ("POST", "/v1/ops/outbox/{id}/retry"),
    ("POST", "/v1/ops/outbox/retry-dead"),
    ("GET", "/v1/ops/jobs"),
    ("POST", "/v1/ops/jobs/{name}/run"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
];

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the rightmost
/// address of `X-Forwarded-For` that is not a trusted proxy (the ones to its left could be
/// written by the client).
pub(crate) fn client_address(
    trusted: &[std::net::IpAddr],
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

async fn healthz<DB: Backend>(State(app): State<Arc<App<DB>>>) -> Response {
    match app.pool.acquire().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response(),
    }
}

async fn metrics<DB: Backend>(State(app): State<Arc<App<DB>>>) -> Response {
    match crate::metrics::render(&app).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => ApiError::Internal(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_forwarded_address() {
        let proxy: std::net::IpAddr = "10.0.0.1".parse().expect("ip");
        let client: std::net::IpAddr = "203.0.113.7".parse().expect("ip");
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.7, 10.0.0.1"
                .parse()
                .expect("header"),
        );
        assert_eq!(client_address(&[proxy], proxy, &headers), client);
        // Not from the proxy: the header is the client's own word and is ignored.
        let other: std::net::IpAddr = "192.0.2.9".parse().expect("ip");
        assert_eq!(client_address(&[proxy], other, &headers), other);
        assert_eq!(
            client_address(&[proxy], proxy, &axum::http::HeaderMap::new()),
            proxy
        );
    }

    #[test]
    fn the_openapi_document_describes_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(documented, routed);
        // Every reference resolves.
        let text = OPENAPI;
        for reference in text.split("\"$ref\": \"#/").skip(1) {
            let pointer = format!("/{}", reference.split('"').next().expect("a ref"));
            assert!(doc.pointer(&pointer).is_some(), "{pointer}");
        }
    }
}
