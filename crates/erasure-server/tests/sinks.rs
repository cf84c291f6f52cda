//! The outbox delivered by `erasure serve`'s dispatcher: to a real local HTTP receiver that fails
//! twice then succeeds (signatures checked), to one that never succeeds (dead letters), and to
//! the NATS server with JetStream on 127.0.0.1:4222 (`ERASURE_TEST_NATS_URL`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use erasure::evidence::outbox::{self, EventState};
use erasure::evidence::{Outbox, Receipts};
use erasure_core::PseudonymKey;
use erasure_server::sinks::{NatsSink, WebhookSink, signature};
use erasure_server::{OperatorToken, Server, ServerConfig, TokenHash};
use erasure_testkit::{Seed, SeedConfig, TestDb};
use serde_json::{Value as Json, json};
use tokio::sync::oneshot;

const OPERATOR_TOKEN: &str = "operator-token-of-support-1-0123456789";
const SECRET: &[u8] = b"a-webhook-secret-of-32-bytes-or-more!";

fn key() -> PseudonymKey {
    PseudonymKey::from_hex("00112233445566778899aabbccddeeff").expect("key")
}

/// A shop with evidence: receipts, and an outbox event for `newsletter` per erasure.
async fn shop() -> (TestDb<sqlx::Sqlite>, Seed, erasure::Chain<sqlx::Sqlite>) {
    let db = TestDb::sqlite_file(4).await.expect("SQLite");
    let seed = Seed::new(SeedConfig::new(4));
    seed.insert(&db.pool).await.expect("seed");
    erasure::evidence::install(&db.pool)
        .await
        .expect("evidence");
    erasure::requests::Requests::<sqlx::Sqlite>::new(key())
        .install(&db.pool)
        .await
        .expect("requests");
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .pseudonym_key(key())
        .recorder(Receipts::new())
        .recorder(
            Outbox::new()
                .destination("newsletter")
                .expect("destination"),
        )
        .build()
        .expect("chain");
    (db, seed, chain)
}

struct Running {
    base: String,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<Result<(), erasure_server::ServerError>>,
    http: reqwest::Client,
}

async fn start(
    db: &TestDb<sqlx::Sqlite>,
    chain: erasure::Chain<sqlx::Sqlite>,
    max_attempts: u32,
    sink: Box<dyn erasure::evidence::EventSink>,
) -> Running {
    start_with_jobs(db, chain, max_attempts, sink, Vec::new()).await
}

async fn start_with_jobs(
    db: &TestDb<sqlx::Sqlite>,
    chain: erasure::Chain<sqlx::Sqlite>,
    max_attempts: u32,
    sink: Box<dyn erasure::evidence::EventSink>,
    jobs: Vec<Box<dyn erasure::job::Job<sqlx::Sqlite>>>,
) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = ServerConfig {
        base_url: format!("http://{addr}"),
        dispatch_interval_seconds: 1,
        dispatch_backoff_seconds: 1,
        dispatch_max_backoff_seconds: 1,
        dispatch_max_attempts: max_attempts,
        operator_tokens: vec![OperatorToken {
            name: "support-1".into(),
            hash: TokenHash::of(OPERATOR_TOKEN),
        }],
        ..ServerConfig::default()
    };
    let server = Server::new(db.pool.clone(), chain, key(), config)
        .sink("newsletter", sink)
        .jobs(jobs, erasure::job::JobRunner::new());
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    Running {
        base: format!("http://{addr}"),
        stop,
        done,
        http: client(),
    }
}

impl Running {
    async fn erase(&self, customer: i64) {
        let response = self
            .http
            .post(format!("{}/v1/ops/erase", self.base))
            .bearer_auth(OPERATOR_TOKEN)
            .json(&json!({"customer": customer}))
            .send()
            .await
            .expect("erase");
        assert_eq!(response.status(), 200);
    }

    /// The metrics once they hold every one of `lines` (the counters follow the database's
    /// marks by a moment): 10 s at most.
    async fn metrics_with(&self, lines: &[&str]) -> String {
        let mut text = String::new();
        for _ in 0..100 {
            text = self
                .http
                .get(format!("{}/metrics", self.base))
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text");
            if lines.iter().all(|l| text.contains(l)) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the metrics never showed {lines:?}:\n{text}");
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(60), self.done)
            .await
            .expect("stops")
            .expect("join")
            .expect("serve");
    }
}

/// Waits until the outbox's only event is in `state` (30 s at most).
async fn wait_for(db: &TestDb<sqlx::Sqlite>, state: EventState) -> outbox::OutboxEntry {
    for _ in 0..300 {
        let events = outbox::list(&db.pool, &outbox::Filter::new())
            .await
            .expect("list");
        if let [event] = events.as_slice()
            && event.state == state
        {
            return event.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the event never became {state}");
}

async fn payloads(db: &TestDb<sqlx::Sqlite>) -> Vec<Option<String>> {
    sqlx::query_scalar("SELECT payload FROM erasure_outbox")
        .fetch_all(&db.pool)
        .await
        .expect("payloads")
}

/// What a receiver got: headers and raw body of each POST.
type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A receiver answering 500 to the first `failures` POSTs, then 204.
async fn receiver(failures: usize) -> (String, Received) {
    let received: Received = Arc::default();
    let seen = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/hooks/erasure",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let seen = Arc::clone(&seen);
            async move {
                let mut all = seen.lock().expect("lock");
                all.push((headers, body.to_vec()));
                if all.len() <= failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hooks/erasure"), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_fails_twice_gets_the_event_on_the_third_attempt_signed() {
    let (db, seed, chain) = shop().await;
    let (url, received) = receiver(2).await;
    let sink = WebhookSink::new(&url, SECRET.to_vec(), Duration::from_secs(5)).expect("sink");
    let run = start(&db, chain, 10, Box::new(sink)).await;
    let person = seed.customer(1);
    run.erase(person.id).await;
    let event = wait_for(&db, EventState::Delivered).await;
    assert_eq!(event.attempts, 3);
    assert_eq!(
        event.last_error.as_deref(),
        Some("the webhook answered HTTP 500")
    );

    let posts = received.lock().expect("lock").clone();
    assert_eq!(posts.len(), 3);
    for (headers, body) in &posts {
        assert_eq!(headers["erasure-event-id"], event.id.to_string().as_str());
        let header = headers["erasure-signature"].to_str().expect("header");
        let t: i64 = header
            .strip_prefix("t=")
            .and_then(|rest| rest.split(',').next())
            .and_then(|t| t.parse().ok())
            .expect("t=");
        assert!(
            (chrono::Utc::now().timestamp() - t).abs() < 300,
            "a fresh timestamp"
        );
        assert_eq!(header, signature(SECRET, t, body), "the signature verifies");
        assert_ne!(
            header,
            signature(b"another-secret-of-32-bytes-or-more!!", t, body)
        );
        let json: Json = serde_json::from_slice(body).expect("json");
        assert_eq!(json["id"], event.id.to_string());
        assert_eq!(
            json["subject"]["customer"], person.id,
            "downstream learns whom to erase"
        );
    }
    // Delivered: the outbox no longer names the subject.
    assert_eq!(payloads(&db).await, [None]);
    run.metrics_with(&[
        "erasure_outbox_attempts_total{outcome=\"delivered\"} 1",
        "erasure_outbox_attempts_total{outcome=\"retrying\"} 2",
    ])
    .await;
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_never_answers_well_leaves_a_dead_letter() {
    let (db, seed, chain) = shop().await;
    let (url, received) = receiver(usize::MAX).await;
    let sink = WebhookSink::new(&url, SECRET.to_vec(), Duration::from_secs(5)).expect("sink");
    let run = start(&db, chain, 2, Box::new(sink)).await;
    run.erase(seed.customer(2).id).await;
    let event = wait_for(&db, EventState::Dead).await;
    assert_eq!(event.attempts, 2);
    assert_eq!(received.lock().expect("lock").len(), 2);
    // Dead, not yet expired: the payload waits for an operator's retry.
    assert!(payloads(&db).await[0].is_some());
    run.metrics_with(&["erasure_outbox_attempts_total{outcome=\"dead\"} 1"])
        .await;
    run.stop().await;
}

impl Running {
    async fn ops(&self, method: reqwest::Method, path: &str) -> (u16, Json) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await
            .expect("ops");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Json::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_reads_receipts_and_the_outbox_retries_and_runs_a_job() {
    let (db, seed, chain) = shop().await;
    let jobs = erasure::jobs::standard_jobs(
        &erasure::StandardMappings::default(),
        &erasure::retention::RetentionRules::default(),
        &erasure::jobs::JobsConfig::default(),
        &chain,
    );
    let (url, _received) = receiver(usize::MAX).await;
    let sink = WebhookSink::new(&url, SECRET.to_vec(), Duration::from_secs(5)).expect("sink");
    let run = start_with_jobs(&db, chain, 1, Box::new(sink), jobs).await;
    let person = seed.customer(3);
    run.erase(person.id).await;

    // The receipt, without a personal value.
    let (status, receipts) = run.ops(reqwest::Method::GET, "/v1/ops/receipts").await;
    assert_eq!(status, 200);
    assert_eq!(receipts.as_array().map(Vec::len), Some(1), "{receipts}");
    let text = receipts.to_string();
    for needle in person.needles() {
        assert!(
            !text.contains(&needle.value),
            "{} in a receipt",
            needle.label
        );
    }
    let run_id = receipts[0]["run_id"].as_str().expect("run id").to_owned();
    let (status, one) = run
        .ops(reqwest::Method::GET, &format!("/v1/ops/receipts/{run_id}"))
        .await;
    assert_eq!(
        (status, one["run_id"].as_str()),
        (200, Some(run_id.as_str()))
    );
    let unknown = "/v1/ops/receipts/00000000-0000-4000-8000-000000000000";
    assert_eq!(run.ops(reqwest::Method::GET, unknown).await.0, 404);

    // The dead event, retried by the operator.
    let event = wait_for(&db, EventState::Dead).await;
    let (status, dead) = run
        .ops(reqwest::Method::GET, "/v1/ops/outbox?state=dead")
        .await;
    assert_eq!(status, 200);
    assert_eq!(dead[0]["id"], event.id.to_string());
    assert!(dead[0].get("payload").is_none() && dead[0].get("subject").is_none());
    run.metrics_with(&["erasure_outbox_events{state=\"dead\"} 1"])
        .await;
    let (status, retried) = run
        .ops(
            reqwest::Method::POST,
            &format!("/v1/ops/outbox/{}/retry", event.id),
        )
        .await;
    assert_eq!((status, retried["retried"].as_u64()), (200, Some(1)));

    // The jobs, and one run now.
    let (status, jobs) = run.ops(reqwest::Method::GET, "/v1/ops/jobs").await;
    assert_eq!(status, 200);
    assert!(
        jobs.as_array()
            .expect("jobs")
            .iter()
            .any(|j| j["name"] == "basket-purge"),
        "{jobs}"
    );
    let (status, summary) = run
        .ops(reqwest::Method::POST, "/v1/ops/jobs/basket-purge/run")
        .await;
    assert_eq!(
        (status, summary["job"].as_str()),
        (200, Some("basket-purge")),
        "{summary}"
    );
    run.metrics_with(&["erasure_job_runs_total{job=\"basket-purge\"}"])
        .await;
    assert_eq!(
        run.ops(reqwest::Method::POST, "/v1/ops/jobs/no-such-job/run")
            .await
            .0,
        404
    );
    // Without a token, nothing.
    let anonymous = run
        .http
        .get(format!("{}/v1/ops/receipts", run.base))
        .send()
        .await
        .expect("receipts");
    assert_eq!(anonymous.status(), 401);
    run.stop().await;
}

fn nats_url() -> String {
    std::env::var("ERASURE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_acknowledges_the_event() {
    let url = nats_url();
    let client = match async_nats::connect(&url).await {
        Ok(c) => c,
        Err(e) if !erasure_testkit::db::backends_required() => {
            eprintln!("skipped: NATS at {url} cannot be reached: {e}");
            return;
        }
        Err(e) => panic!("NATS at {url}: {e}"),
    };
    let js = async_nats::jetstream::new(client.clone());
    let name = format!("ERASURE_TEST_{}", uuid_like());
    let subject = format!("erasure.test.{}", name.to_lowercase());
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        })
        .await
        .expect("stream");

    let (db, seed, chain) = shop().await;
    let sink = NatsSink::connect(&url, subject.clone(), true, Duration::from_secs(5))
        .await
        .expect("sink");
    let run = start(&db, chain, 10, Box::new(sink)).await;
    let person = seed.customer(0);
    run.erase(person.id).await;
    let event = wait_for(&db, EventState::Delivered).await;
    assert_eq!(event.attempts, 1);
    let message = stream
        .get_raw_message(1)
        .await
        .expect("the message in the stream");
    let json: Json = serde_json::from_slice(&message.payload).expect("json");
    assert_eq!(json["id"], event.id.to_string());
    assert_eq!(json["subject"]["customer"], person.id);
    assert_eq!(
        message
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_owned()),
        Some(event.id.to_string())
    );
    assert_eq!(payloads(&db).await, [None]);
    run.stop().await;
    js.delete_stream(&name).await.expect("delete the stream");
}

/// A name unique to this run.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}_{nanos}", std::process::id())
}

/// An HTTP client for the tests (reqwest here is built without a default TLS provider: ring is
/// installed, as the server's own sinks do).
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}
