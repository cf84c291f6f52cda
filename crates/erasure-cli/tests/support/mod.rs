//! Running the `erasure` binary from a test: the environment cleared of what would change
//! its behaviour, the pseudonym key set.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::process::{Command, Output, Stdio};

/// The pseudonym key the tests run with.
pub(crate) const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_erasure"));
    command
        .args(args)
        .env_remove("ERASURE_DATABASE_URL")
        .env_remove("ERASURE_CONFIG")
        .env_remove("ERASURE_PRESET")
        .env("ERASURE_PSEUDONYM_KEY", KEY);
    command
}

/// Runs `erasure args…` with the key set.
pub(crate) fn erasure(args: &[&str]) -> Output {
    command(args).output().expect("run the erasure binary")
}

/// Runs `erasure args…` without the pseudonym key.
pub(crate) fn erasure_without_key(args: &[&str]) -> Output {
    command(args)
        .env_remove("ERASURE_PSEUDONYM_KEY")
        .output()
        .expect("run the erasure binary")
}

/// Runs `erasure args…` with `input` on its standard input.
pub(crate) fn erasure_with_input(args: &[&str], input: &str) -> Output {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the erasure binary");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

pub(crate) fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

/// Standard output, then standard error.
pub(crate) fn text(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails with both streams when `out` did not exit with `expected`.
#[track_caller]
pub(crate) fn expect_code(out: &Output, expected: i32) {
    assert_eq!(
        code(out),
        expected,
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// One HTTP/1.1 request; the status and the body.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The `path?query` of a URL.
pub(crate) fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

pub(crate) fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{what} within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
