//! Running the `erasure` binary from a test: the environment cleared of what would change
//! its behaviour, the pseudonym key set.

#![allow(dead_code)]

use std::io::Write as _;
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
