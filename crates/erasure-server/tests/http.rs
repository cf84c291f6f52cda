//! `erasure-server` over real HTTP on a loopback port, against SQLite, PostgreSQL and MariaDB:
//! the life cycle of an erasure request and of an export request through HTTP only, expired
//! and wrong links, the operator API, rate limits, metrics, and a shutdown in the middle of an
//! erasure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use erasure::{
    Backend, Chain, DeletionHandler, ErasureContext, HandlerError, Outcome, async_trait,
};
use erasure_core::PseudonymKey;
use erasure_core::clock::ManualClock;
use erasure_server::{
    MailError, Mailer, Message, MessageKind, OperatorToken, Server, ServerConfig, TokenHash,
};
use erasure_testkit::{Seed, SeedConfig, TestBackend, TestDb};
use serde_json::{Value as Json, json};
use tokio::sync::oneshot;

const SERVICE_TOKEN: &str = "service-token-for-the-storefront-0123456789";
const OPERATOR_TOKEN: &str = "operator-token-of-support-1-0123456789";

/// Instantiates `async fn name<DB: TestBackend>(db: TestDb<DB>)` once per database.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::server::<sqlx::Postgres>().await else { return };
                    super::$name(db).await;
                }
            )*
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::server::<sqlx::MySql>().await else { return };
                    super::$name(db).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = erasure_testkit::TestDb::sqlite_file(4).await.expect("SQLite");
                    super::$name(db).await;
                }
            )*
        }
    };
}

backend_tests!(
    an_erasure_request_goes_from_submission_to_completion_over_http,
    an_export_request_is_downloaded_once_then_gone,
    a_storefront_reads_and_changes_consents,
    an_expired_link_says_so_and_the_request_expires,
    a_shutdown_during_erasures_leaves_each_done_or_untouched,
);

async fn server<DB: TestBackend>() -> Option<TestDb<DB>> {
    match DB::fresh(4).await {
        Ok(db) => Some(db),
        Err(e) if e.is_unreachable() && !erasure_testkit::db::backends_required() => {
            eprintln!("skipped on {}: {e}", <DB as TestBackend>::LABEL);
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn key() -> PseudonymKey {
    PseudonymKey::from_hex("00112233445566778899aabbccddeeff").expect("key")
}

/// Keeps every message the server asks to send.
#[derive(Debug, Clone, Default)]
struct Outbox(Arc<Mutex<Vec<Message>>>);

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        self.0.lock().expect("outbox").push(message.clone());
        Ok(())
    }
}

impl Outbox {
    fn find(&self, kind: MessageKind, id: Option<&str>) -> Option<Message> {
        self.0
            .lock()
            .expect("outbox")
            .iter()
            .find(|m| m.kind == kind && id.is_none_or(|id| m.request_id == id))
            .cloned()
    }

    async fn wait(&self, kind: MessageKind, id: &str) -> Message {
        for _ in 0..300 {
            if let Some(m) = self.find(kind, Some(id)) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {kind:?} message for {id} within 30 s");
    }
}

/// A running server, its address, its messages, and how to stop it.
struct Running {
    base: String,
    outbox: Outbox,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<(), erasure_server::ServerError>>,
    http: reqwest::Client,
    _exports: tempfile::TempDir,
    exports: std::path::PathBuf,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(60), self.done)
            .await
            .expect("the server stops")
            .expect("join")
            .expect("serve");
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn config() -> ServerConfig {
    ServerConfig {
        worker_interval_seconds: 1,
        export_downloads: 1,
        service_tokens: vec![TokenHash::of(SERVICE_TOKEN)],
        operator_tokens: vec![OperatorToken {
            name: "support-1".into(),
            hash: TokenHash::of(OPERATOR_TOKEN),
        }],
        ..ServerConfig::default()
    }
}

async fn start<DB: Backend>(
    db: &TestDb<DB>,
    chain: Chain<DB>,
    mut config: ServerConfig,
    clock: Option<ManualClock>,
) -> Running {
    erasure::requests::Requests::<DB>::new(key())
        .install(&db.pool)
        .await
        .expect("requests table");
    let exports = tempfile::tempdir().expect("exports dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    config.base_url = format!("http://{addr}");
    config.export_dir = Some(exports.path().to_owned());
    let outbox = Outbox::default();
    let mut server = Server::new(db.pool.clone(), chain, key(), config).mailer(outbox.clone());
    if let Some(clock) = clock {
        server = server.clock(Arc::new(clock));
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    Running {
        base: format!("http://{addr}"),
        outbox,
        stop: Some(stop),
        done,
        http: client(),
        exports: exports.path().to_owned(),
        _exports: exports,
    }
}

fn standard_chain<DB: Backend>() -> Chain<DB> {
    erasure::standard_chain::<DB>()
        .pseudonym_key(key())
        .build()
        .expect("chain")
}

async fn seeded<DB: TestBackend>(db: &TestDb<DB>) -> Seed {
    let seed = Seed::new(SeedConfig::new(6));
    seed.insert(&db.pool).await.expect("seed");
    seed
}

async fn customers<DB: Backend>(db: &TestDb<DB>, id: i64) -> i64 {
    let mut conn = db.pool.acquire().await.expect("conn");
    let sql = erasure::sql::Select::count(erasure::ident!("customers"))
        .filter(erasure::sql::Condition::eq(erasure::ident!("id"), id))
        .to_sql();
    let rows = DB::fetch_all(&mut conn, &sql).await.expect("count");
    rows[0]
        .get_index(0)
        .and_then(erasure::Value::as_i64)
        .expect("count")
}

/// Follows the status link until the request is in `state` (30 s at most).
async fn wait_for_state(run: &Running, status_url: &str, state: &str) -> Json {
    for _ in 0..300 {
        let body: Json = run
            .http
            .get(status_url)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        if body["state"] == state {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the request never reached {state}");
}

async fn submit(run: &Running, body: Json) -> Json {
    let response = run
        .http
        .post(run.url("/v1/requests"))
        .bearer_auth(SERVICE_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status(), 202);
    response.json().await.expect("json")
}

async fn an_erasure_request_goes_from_submission_to_completion_over_http<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let seed = seeded(&db).await;
    let person = seed.customer(2);
    let run = start(&db, standard_chain::<DB>(), config(), None).await;

    let submitted = submit(
        &run,
        json!({"kind": "erasure", "customer": person.id, "email": person.users[0].email}),
    )
    .await;
    let id = submitted["id"].as_str().expect("id").to_owned();
    assert_eq!(submitted["state"], "pending");
    let status_url = submitted["status_url"]
        .as_str()
        .expect("status url")
        .to_owned();

    // The confirmation link goes to the person, and opens a page.
    let confirm = run.outbox.wait(MessageKind::Confirm, &id).await;
    assert_eq!(confirm.to, person.users[0].email);
    assert!(confirm.url.starts_with(&run.base));
    let page = run.http.get(&confirm.url).send().await.expect("confirm");
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.expect("html");
    assert!(html.contains("Request confirmed"), "{html}");
    assert!(!html.contains(&person.users[0].email));

    // The worker carries it out; the status link follows it.
    let done = wait_for_state(&run, &status_url, "completed").await;
    assert!(done["closed_at"].is_string());
    let text = done.to_string();
    assert!(!text.contains(&person.users[0].email) && !text.contains("customer"));
    let erased = run.outbox.wait(MessageKind::Erased, &id).await;
    assert_eq!(erased.to, person.users[0].email);
    assert_eq!(customers(&db, person.id).await, 0, "the customer is erased");
    assert_eq!(
        customers(&db, seed.customer(3).id).await,
        1,
        "the others stay"
    );
    let mut conn = db.pool.acquire().await.expect("conn");
    let residue = erasure_testkit::residue::scan::<DB>(&mut conn, &person.needles())
        .await
        .expect("scan");
    assert!(residue.is_clean(), "{residue}");
    drop(conn);

    // The confirmation link works once; wrong tokens and unknown ids get the same 401.
    let again = run.http.get(&confirm.url).send().await.expect("again");
    assert_eq!(again.status(), 401);
    let wrong = run
        .http
        .get(status_url.replace("token=", "token=0"))
        .send()
        .await
        .expect("wrong");
    assert_eq!(wrong.status(), 401);
    let wrong_body = wrong.text().await.expect("body");
    let unknown = run
        .http
        .get(run.url("/v1/requests/00000000-0000-4000-8000-000000000000?token=00"))
        .send()
        .await
        .expect("unknown");
    assert_eq!(unknown.status(), 401);
    assert_eq!(
        unknown.text().await.expect("body"),
        wrong_body,
        "no hint whether it exists"
    );
    run.stop().await;
}

async fn an_export_request_is_downloaded_once_then_gone<DB: TestBackend>(db: TestDb<DB>) {
    let seed = seeded(&db).await;
    let person = seed.customer(1);
    let run = start(&db, standard_chain::<DB>(), config(), None).await;
    let submitted = submit(
        &run,
        json!({"kind": "export", "customer": person.id, "email": person.users[0].email}),
    )
    .await;
    let id = submitted["id"].as_str().expect("id").to_owned();
    // Its download link (signed with the chain's key) finds no document before it is written.
    let early = erasure_core::Pseudonymizer::new(key()).pseudonym("server:download", id.as_bytes());
    let not_yet = run
        .http
        .get(run.url(&format!("/v1/exports/{id}?token={early}")))
        .send()
        .await
        .expect("early");
    assert_eq!(not_yet.status(), 404);
    let confirm = run.outbox.wait(MessageKind::Confirm, &id).await;
    let confirmed = run
        .http
        .post(run.url("/v1/requests/confirm"))
        .json(&json!({"request": id, "token": confirm.url.split("token=").nth(1).expect("token")}))
        .send()
        .await
        .expect("confirm");
    assert_eq!(confirmed.status(), 200);
    let ready = run.outbox.wait(MessageKind::ExportReady, &id).await;
    assert!(ready.expires_at.is_some());

    let wrong = run
        .http
        .get(ready.url.replace("token=", "token=f"))
        .send()
        .await
        .expect("wrong");
    assert_eq!(wrong.status(), 401);
    let download = run.http.get(&ready.url).send().await.expect("download");
    assert_eq!(download.status(), 200);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .expect("header")
            .starts_with("attachment")
    );
    let doc: Json = download.json().await.expect("the document");
    assert_eq!(doc["format"], "erasure-export");
    assert!(
        doc.to_string().contains(&person.users[0].email),
        "the person's own data"
    );
    let file = run.exports.join(format!("{id}.json"));
    assert!(!file.exists(), "one download allowed: the file is gone");
    let again = run.http.get(&ready.url).send().await.expect("again");
    assert_eq!(again.status(), 410);
    run.stop().await;
}

async fn a_storefront_reads_and_changes_consents<DB: TestBackend>(db: TestDb<DB>) {
    erasure_consents::Consents::<DB>::new()
        .install(&db.pool)
        .await
        .expect("consent tables");
    let run = start(&db, standard_chain::<DB>(), config(), None).await;
    let wording = json!({"name": "Newsletter", "text": "Offers by email, weekly.", "version": "v2", "language": "en"});
    let put = |path: &'static str, body: Json| {
        let request = run
            .http
            .put(run.url(path))
            .bearer_auth(SERVICE_TOKEN)
            .json(&body);
        async move { request.send().await.expect("put") }
    };
    let given = put(
        "/v1/subjects/customer/42/consents",
        json!({"purpose": "newsletter", "channel": "email", "given": true, "wording": wording, "source": "account", "at": "2026-03-01T10:00:00Z"}),
    )
    .await;
    assert_eq!(given.status(), 200);
    let current: Json = given.json().await.expect("json");
    assert_eq!(current[0]["given"], true);
    // The unsubscribe link's handler: a withdrawal, now.
    let withdrawn: Json = put(
        "/v1/subjects/customer/42/consents",
        json!({"purpose": "newsletter", "channel": "email", "given": false, "wording": wording}),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(withdrawn.as_array().map(Vec::len), Some(1));
    assert_eq!(withdrawn[0]["given"], false);
    assert_eq!(withdrawn[0]["source"], "api");
    let history: Json = run
        .http
        .get(run.url("/v1/subjects/customer/42/consents?history=true"))
        .bearer_auth(SERVICE_TOKEN)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(history.as_array().map(Vec::len), Some(2));
    assert_eq!(history[0]["wording"]["text"], "Offers by email, weekly.");

    // A subscriber by email, in a header, never in the URL; and a user of a customer.
    let subscriber = run
        .http
        .put(run.url("/v1/subjects/email/consents"))
        .bearer_auth(SERVICE_TOKEN)
        .header("Erasure-Subject-Email", "reader@example.test")
        .json(&json!({"purpose": "newsletter", "channel": "email", "given": true, "wording": wording}))
        .send()
        .await
        .expect("put");
    assert_eq!(subscriber.status(), 200);
    let user = put(
        "/v1/subjects/customer/42/users/7/consents",
        json!({"purpose": "sms", "channel": "sms", "given": true, "wording": {"name": "Texts", "text": "Delivery texts.", "version": "v1", "language": "en"}}),
    )
    .await;
    assert_eq!(user.status(), 200);
    let customer_only: Json = run
        .http
        .get(run.url("/v1/subjects/customer/42/consents"))
        .bearer_auth(SERVICE_TOKEN)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        customer_only.as_array().map(Vec::len),
        Some(1),
        "the user's are its own"
    );

    // Without the service token, nothing; a bad wording is refused without echoing it.
    let anonymous = run
        .http
        .get(run.url("/v1/subjects/customer/42/consents"))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401);
    let bad = put(
        "/v1/subjects/customer/42/consents",
        json!({"purpose": "newsletter", "given": true, "wording": {"name": "N", "text": " ", "version": "v9", "language": "en"}}),
    )
    .await;
    assert_eq!(bad.status(), 400);
    let conflict = put(
        "/v1/subjects/customer/42/consents",
        json!({"purpose": "newsletter", "channel": "email", "given": true, "wording": {"name": "Newsletter", "text": "Another text", "version": "v2", "language": "en"}}),
    )
    .await;
    assert_eq!(conflict.status(), 400);
    assert!(
        conflict
            .text()
            .await
            .expect("body")
            .contains("needs a new version")
    );
    run.stop().await;
}

/// Each route of the OpenAPI document (path parameters filled in, no token) is served by the
/// router: not the fallback's 404, not 405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served() {
    let db = TestDb::sqlite_file(4).await.expect("SQLite");
    let run = start(&db, standard_chain(), config(), None).await;
    let doc: Json = run
        .http
        .get(run.url("/v1/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let fallback = run
        .http
        .get(run.url("/v1/no-such-route"))
        .send()
        .await
        .expect("fallback");
    assert_eq!(fallback.status(), 404);
    let fallback_body = fallback.text().await.expect("body");
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let concrete = path
            .replace("{id}", "00000000-0000-4000-8000-000000000000")
            .replace("{run_id}", "00000000-0000-4000-8000-000000000000")
            .replace("{customer}", "42")
            .replace("{user}", "7")
            .replace("{action}", "retry")
            .replace("{name}", "basket-purge");
        for method in item.as_object().expect("item").keys() {
            let method: reqwest::Method = method.to_uppercase().parse().expect("method");
            let response = run
                .http
                .request(method.clone(), run.url(&concrete))
                .header("Content-Type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let body = response.text().await.expect("body");
            assert_ne!(status, 405, "{method} {path}");
            assert!(
                status != 404 || body != fallback_body,
                "{method} {path} is not routed"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 25);
    run.stop().await;
}

async fn an_expired_link_says_so_and_the_request_expires<DB: TestBackend>(db: TestDb<DB>) {
    let seed = seeded(&db).await;
    let clock = ManualClock::new(chrono::Utc::now());
    let run = start(&db, standard_chain::<DB>(), config(), Some(clock.clone())).await;
    let person = seed.customer(0);
    let submitted = submit(
        &run,
        json!({"kind": "erasure", "customer": person.id, "email": person.users[0].email}),
    )
    .await;
    let id = submitted["id"].as_str().expect("id").to_owned();
    let confirm = run.outbox.wait(MessageKind::Confirm, &id).await;
    clock.advance(chrono::TimeDelta::hours(25));
    let page = run.http.get(&confirm.url).send().await.expect("confirm");
    assert_eq!(page.status(), 410);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("This link has expired")
    );
    let status: Json = run
        .http
        .get(submitted["status_url"].as_str().expect("url"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(status["state"], "expired");
    assert_eq!(customers(&db, person.id).await, 1, "nothing was erased");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_person_is_identified_by_an_operator() {
    let db = TestDb::sqlite_file(4).await.expect("SQLite");
    let seed = seeded(&db).await;
    let person = seed.customer(4);
    let run = start(&db, standard_chain(), config(), None).await;
    // No service token: an email only; the answer tells nothing.
    let response = run
        .http
        .post(run.url("/v1/requests"))
        .json(&json!({"kind": "erasure", "email": person.users[0].email}))
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status(), 202);
    let body: Json = response.json().await.expect("json");
    assert!(body.get("id").is_none(), "{body}");
    // Naming a customer without the shop's token is refused.
    let forged = run
        .http
        .post(run.url("/v1/requests"))
        .json(&json!({"kind": "erasure", "customer": person.id, "email": "x@example.test"}))
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status(), 401);

    let confirm = run
        .outbox
        .find(MessageKind::Confirm, None)
        .expect("a confirmation link");
    let id = confirm.request_id.clone();
    let page = run.http.get(&confirm.url).send().await.expect("confirm");
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("we will identify your data")
    );

    // The operator API: no token, a service token, the operator's.
    let list = run.url("/v1/ops/requests?state=awaiting_operator");
    assert_eq!(run.http.get(&list).send().await.expect("ops").status(), 401);
    let service = run
        .http
        .get(&list)
        .bearer_auth(SERVICE_TOKEN)
        .send()
        .await
        .expect("ops");
    assert_eq!(service.status(), 401);
    let waiting: Json = run
        .http
        .get(&list)
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("ops")
        .json()
        .await
        .expect("json");
    assert_eq!(waiting.as_array().map(Vec::len), Some(1));
    assert!(
        !waiting.to_string().contains(&person.users[0].email),
        "{waiting}"
    );
    let preview: Json = run
        .http
        .post(run.url("/v1/ops/erase"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"customer": person.id, "dry_run": true}))
        .send()
        .await
        .expect("dry run")
        .json()
        .await
        .expect("json");
    assert_eq!(preview["mode"], "dry_run", "{preview}");
    assert_eq!(
        customers(&db, person.id).await,
        1,
        "a dry run changes nothing"
    );
    let resolved = run
        .http
        .post(run.url(&format!("/v1/ops/requests/{id}/resolve")))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"customer": person.id, "note": "matched by order number"}))
        .send()
        .await
        .expect("resolve");
    assert_eq!(resolved.status(), 200);
    run.outbox.wait(MessageKind::Erased, &id).await;
    assert_eq!(customers(&db, person.id).await, 0);
    let unknown = run
        .http
        .post(run.url("/v1/ops/requests/00000000-0000-4000-8000-000000000000/retry"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("retry");
    assert_eq!(
        unknown.status(),
        404,
        "an operator may know what does not exist"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_routes_are_rate_limited_per_client() {
    let db = TestDb::sqlite_file(4).await.expect("SQLite");
    let config = ServerConfig {
        public_rate_per_minute: 3,
        ..config()
    };
    let run = start(&db, standard_chain(), config, None).await;
    let url = run.url("/v1/requests/00000000-0000-4000-8000-000000000000?token=00");
    for _ in 0..3 {
        assert_eq!(run.http.get(&url).send().await.expect("get").status(), 401);
    }
    let limited = run.http.get(&url).send().await.expect("get");
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "20");
    // Health and metrics are not public routes of the limit.
    assert_eq!(
        run.http
            .get(run.url("/healthz"))
            .send()
            .await
            .expect("health")
            .status(),
        200
    );
    let metrics = run
        .http
        .get(run.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("erasure_rate_limited_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("erasure_requests{state=\"pending\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("erasure_http_responses_total{class=\"4xx\"} 4"),
        "{metrics}"
    );
    run.stop().await;
}

/// Bodies over the limit get 413, requests over the time 503, and CORS answers only for the
/// origins configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_time_and_origins_are_limited() {
    let db = TestDb::sqlite_file(4).await.expect("SQLite");
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .pseudonym_key(key())
        .register(95, Sleepy(Duration::from_secs(3)))
        .build()
        .expect("chain");
    let config = ServerConfig {
        body_limit_bytes: 1024,
        timeout_seconds: 1,
        cors_origins: vec!["https://shop.example".into()],
        ..config()
    };
    let run = start(&db, chain, config, None).await;
    let big = json!({"kind": "erasure", "email": "x".repeat(4096)});
    let response = run
        .http
        .post(run.url("/v1/requests"))
        .json(&big)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 413);
    let slow = run
        .http
        .post(run.url("/v1/ops/erase"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"customer": 1}))
        .send()
        .await
        .expect("erase");
    assert_eq!(slow.status(), 503, "cut off after timeout_seconds");
    let preflight = |origin: &'static str| {
        run.http
            .request(reqwest::Method::OPTIONS, run.url("/v1/requests"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    let allowed = preflight("https://shop.example").await.expect("options");
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let other = preflight("https://evil.example").await.expect("options");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // The operator routes are not open to browsers at all.
    let ops = run
        .http
        .request(reqwest::Method::OPTIONS, run.url("/v1/ops/requests"))
        .header("Origin", "https://shop.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .expect("options");
    assert!(ops.headers().get("access-control-allow-origin").is_none());
    run.stop().await;
}

/// A handler that sleeps as long as it is told.
struct Sleepy(Duration);

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Sleepy {
    fn name(&self) -> &str {
        "sleepy"
    }

    fn description(&self) -> &str {
        "takes its time"
    }

    async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        tokio::time::sleep(self.0).await;
        Ok(Outcome::new())
    }
}

/// An erasure that takes a while (a slow downstream), to stop the server during it.
struct Slow;

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Slow {
    fn name(&self) -> &str {
        "slow"
    }

    fn description(&self) -> &str {
        "waits 500 ms"
    }

    async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(Outcome::new())
    }
}

async fn a_shutdown_during_erasures_leaves_each_done_or_untouched<DB: TestBackend>(db: TestDb<DB>) {
    let seed = seeded(&db).await;
    let chain = erasure::standard_chain::<DB>()
        .pseudonym_key(key())
        .register(95, Slow)
        .build()
        .expect("chain");
    let config = ServerConfig {
        worker_batch: 1,
        ..config()
    };
    let run = start(&db, chain, config, None).await;
    let mut ids = Vec::new();
    for index in 0..5 {
        let person = seed.customer(index);
        let submitted = submit(
            &run,
            json!({"kind": "erasure", "customer": person.id, "email": person.users[0].email}),
        )
        .await;
        let id = submitted["id"].as_str().expect("id").to_owned();
        let confirm = run.outbox.wait(MessageKind::Confirm, &id).await;
        assert_eq!(
            run.http
                .get(&confirm.url)
                .send()
                .await
                .expect("confirm")
                .status(),
            200
        );
        ids.push((id, person.id));
    }
    // Stop as soon as the first erasure is done: the worker is in the middle of the others.
    run.outbox.wait(MessageKind::Erased, &ids[0].0).await;
    run.stop().await;
    let requests = erasure::requests::Requests::<DB>::new(key());
    let mut completed = 0;
    for (id, customer) in &ids {
        let request = requests.get(&db.pool, id).await.expect("request");
        let present = customers(&db, *customer).await;
        match request.state {
            erasure::requests::State::Completed => {
                completed += 1;
                assert_eq!(present, 0, "completed means erased");
            }
            erasure::requests::State::Confirmed => {
                assert_eq!(present, 1, "waiting means untouched")
            }
            other => panic!("request {id} is {other}"),
        }
    }
    assert!(
        (1..5).contains(&completed),
        "stopped mid-way: {completed} of 5"
    );
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
