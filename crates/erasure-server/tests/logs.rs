//! What the server logs while a person submits, confirms and follows a request and an operator
//! works on it: routes and statuses, never an email, a token, a request id in a path, or a
//! personal value of the subject. One test in this file: it installs the process's subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use erasure::async_trait;
use erasure_core::PseudonymKey;
use erasure_server::{
    MailError, Mailer, Message, MessageKind, OperatorToken, Server, ServerConfig, TokenHash,
};
use erasure_testkit::{Seed, SeedConfig, TestDb};
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

const SERVICE_TOKEN: &str = "service-token-for-the-storefront-0123456789";
const OPERATOR_TOKEN: &str = "operator-token-of-support-1-0123456789";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[derive(Debug, Clone, Default)]
struct Outbox(Arc<Mutex<Vec<Message>>>);

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        self.0.lock().expect("outbox").push(message.clone());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_name_routes_and_never_a_person_or_a_token() {
    let capture = Capture::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(capture.clone())
        .with_ansi(false)
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();

    let db = TestDb::sqlite_file(4).await.expect("SQLite");
    let seed = Seed::new(SeedConfig::new(4));
    seed.insert(&db.pool).await.expect("seed");
    let key = PseudonymKey::from_hex("00112233445566778899aabbccddeeff").expect("key");
    erasure::requests::Requests::<sqlx::Sqlite>::new(key.clone())
        .install(&db.pool)
        .await
        .expect("requests");
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .pseudonym_key(key.clone())
        .build()
        .expect("chain");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let config = ServerConfig {
        base_url: base.clone(),
        worker_interval_seconds: 1,
        service_tokens: vec![TokenHash::of(SERVICE_TOKEN)],
        operator_tokens: vec![OperatorToken {
            name: "support-1".into(),
            hash: TokenHash::of(OPERATOR_TOKEN),
        }],
        ..ServerConfig::default()
    };
    let outbox = Outbox::default();
    let server = Server::new(db.pool.clone(), chain, key, config).mailer(outbox.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");

    let person = seed.customer(1);
    let email = person.users[0].email.clone();
    let submitted: serde_json::Value = http
        .post(format!("{base}/v1/requests"))
        .bearer_auth(SERVICE_TOKEN)
        .json(&json!({"kind": "erasure", "customer": person.id, "email": email}))
        .send()
        .await
        .expect("submit")
        .json()
        .await
        .expect("json");
    let id = submitted["id"].as_str().expect("id").to_owned();
    let status_url = submitted["status_url"].as_str().expect("url").to_owned();
    let confirm = outbox.0.lock().expect("outbox")[0].clone();
    assert_eq!(confirm.kind, MessageKind::Confirm);
    http.get(&confirm.url).send().await.expect("confirm");
    for _ in 0..300 {
        let body = http
            .get(&status_url)
            .send()
            .await
            .expect("status")
            .text()
            .await
            .expect("text");
        if body.contains("completed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    http.get(format!("{base}/v1/ops/requests/{id}"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("show");
    // A wrong token in a query, and an email in a request body.
    http.get(format!("{status_url}0"))
        .send()
        .await
        .expect("wrong");
    http.post(format!("{base}/v1/requests"))
        .json(&json!({"kind": "export", "email": "anonymous.person@example.test"}))
        .send()
        .await
        .expect("anonymous");
    let _ = stop.send(());
    done.await.expect("join").expect("serve");

    let logs = String::from_utf8(capture.0.lock().expect("capture").clone()).expect("UTF-8");
    assert!(logs.contains("route=/v1/requests/{id}"), "{logs}");
    assert!(logs.contains("route=/v1/requests/confirm"), "{logs}");
    assert!(
        logs.contains("operator=\"support-1\"") || logs.contains("operator=support-1"),
        "{logs}"
    );
    let token = confirm.url.split("token=").nth(1).expect("token");
    let status_token = status_url.split("token=").nth(1).expect("token");
    for (what, secret) in [
        ("the confirmation token", token),
        ("the status token", status_token),
        ("the service token", SERVICE_TOKEN),
        ("the operator token", OPERATOR_TOKEN),
        (
            "an anonymous requester's email",
            "anonymous.person@example.test",
        ),
    ] {
        assert!(!logs.contains(secret), "{what} is in the logs");
    }
    for needle in person.needles() {
        assert!(
            !logs.contains(&needle.value),
            "{} is in the logs",
            needle.label
        );
    }
    assert!(
        !logs.contains(&format!("/v1/requests/{id}")),
        "a path with an id"
    );
}
