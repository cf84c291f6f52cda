//! `erasure serve` end to end on a SQLite file: the process starts, answers over HTTP, sends
//! its messages through the configured command, carries out a confirmed erasure, and stops
//! cleanly on SIGTERM. And `erasure token-hash`.

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{KEY, erasure, erasure_with_input, expect_code, http, path_of, stdout, wait_until};

const SERVICE_TOKEN: &str = "a-service-token-of-the-storefront-0123456789";

/// A webhook receiver on a free port answering 204 to every POST; the requests it got (headers
/// lower-cased, then the body).
fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head, then the body its Content-Length announces.
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_lowercase();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
            }
            let text = String::from_utf8_lossy(&data);
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            seen.lock()
                .expect("lock")
                .push(format!("{}\r\n\r\n{body}", head.to_lowercase()));
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
    });
    (format!("http://{addr}/hook"), got)
}

struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

#[test]
fn serve_carries_a_request_through_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    expect_code(&erasure(&["init", "--db", &url]), 0);
    expect_code(&erasure(&["seed", "--db", &url, "--customers", "5"]), 0);
    let mail = dir.path().join("mail.jsonl");
    let (hook, hooked) = webhook_receiver();
    let config = dir.path().join("erasure.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nworker_interval_seconds = 1\ndispatch_interval_seconds = 1\n\
             mail_command = [\"sh\", \"-c\", \"cat >> '{}'\"]\n\n\
             [evidence]\nevents = [\"newsletter\"]\n\n\
             [evidence.sinks.newsletter]\nwebhook = \"{hook}\"\nsecret_env = \"NEWSLETTER_SECRET\"\n",
            mail.display()
        ),
    )
    .expect("config");
    // A free port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args([
            "serve",
            "--db",
            &url,
            "--config",
            config.to_str().expect("path"),
            "--listen",
            &addr,
        ])
        .env("ERASURE_PSEUDONYM_KEY", KEY)
        .env("ERASURE_SERVICE_TOKEN", SERVICE_TOKEN)
        .env(
            "NEWSLETTER_SECRET",
            "a-newsletter-secret-of-32-bytes-or-more",
        )
        .env_remove("ERASURE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("erasure serve");
    let mut serving = Serving(child);
    wait_until("the server answers", || {
        TcpStream::connect(&addr).is_ok_and(|_| http(&addr, "GET", "/healthz", None, None).0 == 200)
    });

    let (status, body) = http(
        &addr,
        "POST",
        "/v1/requests",
        Some(SERVICE_TOKEN),
        Some(r#"{"kind": "erasure", "customer": 3, "email": "someone@example.test"}"#),
    );
    assert_eq!(status, 202, "{body}");
    let submitted: serde_json::Value = serde_json::from_str(&body).expect("json");
    let status_url = submitted["status_url"]
        .as_str()
        .expect("status url")
        .to_owned();
    assert!(
        status_url.starts_with(&format!("http://{addr}/")),
        "{status_url}"
    );

    // The mail command got the confirmation message as JSON.
    wait_until("the confirmation message", || mail.exists());
    let message: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&mail)
            .expect("mail")
            .lines()
            .next()
            .expect("a line"),
    )
    .expect("json");
    assert_eq!(message["kind"], "confirm");
    assert_eq!(message["to"], "someone@example.test");
    let (status, page) = http(
        &addr,
        "GET",
        path_of(message["url"].as_str().expect("url")),
        None,
        None,
    );
    assert_eq!(status, 200, "{page}");
    wait_until("the erasure", || {
        http(&addr, "GET", path_of(&status_url), None, None)
            .1
            .contains("\"completed\"")
    });

    // The erasure's outbox event reached the webhook, signed.
    wait_until("the webhook delivery", || {
        !hooked.lock().expect("lock").is_empty()
    });
    let delivery = hooked.lock().expect("lock")[0].clone();
    assert!(delivery.contains("erasure-signature: t="), "{delivery}");
    assert!(
        delivery.contains("\"destination\":\"newsletter\""),
        "{delivery}"
    );

    // SIGTERM: it stops by itself, with success.
    let pid = serving.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = serving.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "stops within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    if let Some(mut e) = serving.0.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("erasure serve: stopped"), "{stderr}");
    assert!(!stderr.contains("someone@example.test"), "{stderr}");
}

#[test]
fn token_hash_reads_the_token_from_standard_input() {
    let out = erasure_with_input(
        &["token-hash"],
        "test-token-that-is-long-enough-0123456789\n",
    );
    expect_code(&out, 0);
    let hash = stdout(&out);
    assert!(
        hash.trim().starts_with("sha256:") && hash.trim().len() == 71,
        "{hash}"
    );
    let short = erasure_with_input(&["token-hash"], "short\n");
    expect_code(&short, 2);
}

#[test]
fn serve_refuses_to_start_without_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    expect_code(&erasure(&["init", "--db", &url]), 0);
    let out = support::erasure_without_key(&["serve", "--db", &url, "--listen", "127.0.0.1:1"]);
    expect_code(&out, 2);
    assert!(support::stderr(&out).contains("ERASURE_PSEUDONYM_KEY"));
}
