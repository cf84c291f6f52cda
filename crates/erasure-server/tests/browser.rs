//! The operator page in a real browser: Debian's Chromium driven through chromedriver's
//! WebDriver protocol, against `erasure-server` on a loopback port and a seeded SQLite shop. It
//! logs in, resolves an anonymous request after its preview, erases a customer, retries a dead
//! outbox event, searches receipts, is refused a form with a wrong CSRF token, and checks the
//! session cookie's flags and that no page title or URL holds a personal value. Screenshots of
//! the main pages go to `target/ops-screenshots/`.
//!
//! Without `/usr/bin/chromedriver` the test is skipped, unless `ERASURE_REQUIRE_BROWSER=1`
//! (CI sets it, and installs `chromium` and `chromium-driver`).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use erasure::evidence::outbox::{self, EventState};
use erasure::evidence::{Outbox, Receipts};
use erasure_core::PseudonymKey;
use erasure_server::sinks::WebhookSink;
use erasure_server::{
    MailError, Mailer, Message, MessageKind, OperatorToken, Server, ServerConfig, TokenHash,
};
use erasure_testkit::{Seed, SeedConfig, TestDb};
use serde_json::{Value as Json, json};

const OPERATOR_TOKEN: &str = "operator-token-of-support-1-0123456789";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn key() -> PseudonymKey {
    PseudonymKey::from_hex("00112233445566778899aabbccddeeff").expect("key")
}

#[derive(Debug, Clone, Default)]
struct Mail(Arc<Mutex<Vec<Message>>>);

#[erasure::async_trait]
impl Mailer for Mail {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        self.0.lock().expect("mail").push(message.clone());
        Ok(())
    }
}

/// chromedriver, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

/// A WebDriver session over plain HTTP.
struct Browser {
    http: reqwest::Client,
    base: String,
    /// Every title and URL the test saw, checked at the end.
    seen: Vec<String>,
}

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> Json {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Json = request
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        if let Some(error) = response["value"].get("error") {
            panic!("webdriver {path}: {error} {}", response["value"]["message"]);
        }
        response["value"].clone()
    }

    async fn go(&mut self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
        self.note().await;
    }

    async fn note(&mut self) {
        let title = self.title().await;
        let url = self.url().await;
        self.seen.push(title);
        self.seen.push(url);
    }

    async fn title(&self) -> String {
        self.call(reqwest::Method::GET, "/title", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's source once it holds `needle` (a form's post may still be loading after the
    /// click returns): 10 s at most.
    async fn wait_for(&self, needle: &str) -> String {
        let mut source = String::new();
        for _ in 0..100 {
            source = self.source().await;
            if source.contains(needle) {
                return source;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {needle:?}:\n{source}");
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT].as_str().expect("an element").to_owned()
    }

    async fn fill(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&mut self, css: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
        self.note().await;
    }

    async fn script(&self, script: &str) {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await;
    }

    /// Checks what a keyboard or screen-reader user needs on the current page: a language, one
    /// `h1`, a skip link, and a label for every field.
    async fn accessible(&self) {
        let report = self
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({"script": "
                    const fields = Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'));
                    return {
                        lang: document.documentElement.lang,
                        h1: document.querySelectorAll('h1').length,
                        skip: document.querySelectorAll('a[href=\"#main\"]').length,
                        unlabelled: fields.filter(f => !(f.labels && f.labels.length)).map(f => f.name),
                    };", "args": []})),
            )
            .await;
        assert_eq!(report["lang"], "en", "{report}");
        assert_eq!(report["h1"], 1, "{report}");
        assert_eq!(report["skip"], 1, "{report}");
        assert_eq!(report["unlabelled"], json!([]), "{report}");
    }

    async fn screenshot(&self, name: &str) {
        self.accessible().await;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64"))
            .expect("png");
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("target")
            .join("ops-screenshots");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join(format!("{name}.png")), bytes).expect("write");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A webhook that answers 500 to everything (events die), and counts the deliveries tried.
async fn failing_receiver() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let tried = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&tried);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { StatusCode::INTERNAL_SERVER_ERROR }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), tried)
}

async fn customers(db: &TestDb<sqlx::Sqlite>, id: i64) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE id = ?")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_works_the_page_in_a_real_browser() {
    let chromedriver = std::path::Path::new("/usr/bin/chromedriver");
    if !chromedriver.exists() {
        assert!(
            std::env::var("ERASURE_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "ERASURE_REQUIRE_BROWSER=1 but /usr/bin/chromedriver is missing (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: no /usr/bin/chromedriver");
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();

    // The shop: requests, receipts, an outbox event per erasure to a webhook that always fails.
    let db = TestDb::sqlite_file(4).await.expect("SQLite");
    let seed = Seed::new(SeedConfig::new(6));
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let config = ServerConfig {
        base_url: base.clone(),
        worker_interval_seconds: 1,
        dispatch_interval_seconds: 1,
        dispatch_max_attempts: 1,
        operator_tokens: vec![OperatorToken {
            name: "support-1".into(),
            hash: TokenHash::of(OPERATOR_TOKEN),
        }],
        ..ServerConfig::default()
    };
    let (hook, tried) = failing_receiver().await;
    let sink = WebhookSink::new(
        &hook,
        b"a-secret-of-at-least-32-bytes-long!".to_vec(),
        Duration::from_secs(5),
    )
    .expect("sink");
    let mail = Mail::default();
    let server = Server::new(db.pool.clone(), chain, key(), config)
        .mailer(mail.clone())
        .sink("newsletter", Box::new(sink));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");

    // An unknown person asks by email (the email of customer 1's first user), and confirms.
    let asking = seed.customer(1);
    http.post(format!("{base}/v1/requests"))
        .json(&json!({"kind": "erasure", "email": asking.users[0].email}))
        .send()
        .await
        .expect("submit");
    let confirm = mail
        .0
        .lock()
        .expect("mail")
        .iter()
        .find(|m| m.kind == MessageKind::Confirm)
        .cloned()
        .expect("link");
    http.get(&confirm.url).send().await.expect("confirm");

    // The browser.
    let port = free_port();
    let driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver"),
    );
    let profile = tempfile::tempdir().expect("profile");
    let driver_url = format!("http://127.0.0.1:{port}");
    let mut session = None;
    for _ in 0..100 {
        let created = http
            .post(format!("{driver_url}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-quic", "--no-first-run", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.path().display())]}}}}))
            .send()
            .await;
        if let Ok(response) = created {
            let body: Json = response.json().await.expect("json");
            if let Some(id) = body["value"]["sessionId"].as_str() {
                session = Some(id.to_owned());
                break;
            }
            panic!("no WebDriver session: {body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let session = session.expect("chromedriver answers");
    let mut b = Browser {
        http: http.clone(),
        base: format!("{driver_url}/session/{session}"),
        seen: Vec::new(),
    };

    // Not signed in: the login page. A wrong token is refused; the right one signs in.
    b.go(&format!("{base}/ops/requests")).await;
    assert!(b.url().await.ends_with("/ops/login"), "{}", b.url().await);
    b.fill("#token", "not-the-token").await;
    b.click("form[action='/ops/login'] button").await;
    b.wait_for("This token is not valid").await;
    b.screenshot("login").await;
    b.fill("#token", OPERATOR_TOKEN).await;
    b.click("form[action='/ops/login'] button").await;
    b.wait_for("Signed in as support-1").await;
    assert!(b.url().await.ends_with("/ops/requests"));
    let cookies = b.call(reqwest::Method::GET, "/cookie", None).await;
    let cookie = cookies
        .as_array()
        .expect("cookies")
        .iter()
        .find(|c| c["name"] == "erasure_ops")
        .expect("session cookie");
    assert_eq!(
        (cookie["httpOnly"].as_bool(), cookie["secure"].as_bool()),
        (Some(true), Some(true)),
        "{cookie}"
    );
    assert_eq!(cookie["sameSite"], "Strict", "{cookie}");
    assert_eq!(cookie["path"], "/ops");

    // The queue: the request waits for an operator. Open it, identify the customer, preview.
    b.wait_for("to identify").await;
    b.screenshot("requests").await;
    b.click("tbody a").await;
    b.wait_for("Identify the subject").await;
    b.fill("#resolve-customer", &asking.id.to_string()).await;
    b.click("form[action$='/preview'] button").await;
    let preview = b.wait_for("a dry run: nothing changed").await;
    assert!(preview.contains("a dry run: nothing changed"), "{preview}");
    assert!(preview.contains("order-anonymization"), "the report table");
    b.screenshot("resolve-preview").await;
    assert_eq!(
        customers(&db, asking.id).await,
        1,
        "a preview changes nothing"
    );
    b.click("form[action$='/resolve'] button").await;
    b.wait_for("resolved to its subject").await;
    for _ in 0..300 {
        if customers(&db, asking.id).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        customers(&db, asking.id).await,
        0,
        "the worker erased the resolved customer"
    );

    // Erase a customer from the page: preview, confirm, the committed report and its receipt.
    let erased = seed.customer(2);
    b.go(&format!("{base}/ops/erase")).await;
    b.fill("#erase-customer", &erased.id.to_string()).await;
    b.click("form[action='/ops/erase/preview'] button").await;
    b.wait_for("Erasing the subject will do this").await;
    b.screenshot("erase-preview").await;
    b.click("form[action='/ops/erase'] button").await;
    let committed = b.wait_for("Erased and committed").await;
    assert!(committed.contains("Erased and committed"), "{committed}");
    assert!(committed.contains("Its receipt"));
    assert_eq!(customers(&db, erased.id).await, 0);
    b.screenshot("erased").await;

    // A form whose CSRF token was tampered with is refused, and changes nothing.
    let spared = seed.customer(3);
    b.go(&format!("{base}/ops/erase")).await;
    b.fill("#erase-customer", &spared.id.to_string()).await;
    b.script(
        "document.querySelector(\"form[action='/ops/erase/preview'] input[name=csrf]\").value = 'forged';",
    )
        .await;
    b.click("form[action='/ops/erase/preview'] button").await;
    b.wait_for("security token does not match").await;
    assert_eq!(b.title().await, "Form refused · erasure");
    assert_eq!(customers(&db, spared.id).await, 1);

    // The dead outbox event, retried from the page.
    let mut dead = None;
    for _ in 0..300 {
        let events = outbox::list(&db.pool, &outbox::Filter::new().state(EventState::Dead))
            .await
            .expect("list");
        // Both erasures' events (the resolved request's and the page's) have died.
        if events.len() == 2 {
            dead = Some(events[0].id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead = dead.expect("a dead event");
    b.go(&format!("{base}/ops/outbox?state=dead")).await;
    b.screenshot("outbox").await;
    let before = tried.load(std::sync::atomic::Ordering::SeqCst);
    b.click(&format!("form[action='/ops/outbox/{dead}/retry'] button"))
        .await;
    b.wait_for("back in the queue").await;
    // Back in the queue: the dispatcher tries it again (and the webhook fails it again).
    for _ in 0..300 {
        if tried.load(std::sync::atomic::Ordering::SeqCst) > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        tried.load(std::sync::atomic::Ordering::SeqCst) > before,
        "the retried event was delivered again"
    );

    // Receipts by the erased customer's id (its pseudonym, computed, never stored).
    b.go(&format!("{base}/ops/receipts")).await;
    b.fill("#receipts-customer", &erased.id.to_string()).await;
    b.click("form[action='/ops/receipts'] button").await;
    let found = b.wait_for("<h2>Found</h2>").await;
    assert_eq!(
        found.matches("href=\"/ops/receipts/").count(),
        1,
        "one receipt of that customer"
    );
    b.screenshot("receipts").await;
    b.go(&format!("{base}/ops/chain")).await;
    b.wait_for("b2b-admin-guard").await;
    b.screenshot("chain").await;
    b.go(&format!("{base}/ops/jobs")).await;

    // Sign out: the cookie no longer opens a page.
    b.click("form[action='/ops/logout'] button").await;
    b.wait_for("Operator token").await;
    b.go(&format!("{base}/ops/requests")).await;
    assert!(b.url().await.ends_with("/ops/login"));

    // Nothing personal in a title or a URL.
    let seen = b.seen.join("\n");
    for person in [&asking, &erased, &spared] {
        for needle in person.needles() {
            assert!(
                !seen.contains(&needle.value),
                "{} in a title or URL:\n{seen}",
                needle.label
            );
        }
    }
    let _ = http
        .delete(format!("{driver_url}/session/{session}"))
        .send()
        .await;
    drop(driver);
    let _ = stop.send(());
    done.await.expect("join").expect("serve");
}
