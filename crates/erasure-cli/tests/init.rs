//! `erasure init` on a fresh database installs the requests table with the reference schema
//! and the evidence tables (issue 13): `erasure requests list` works at once.

use std::process::{Command, Output};

fn erasure(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args(args)
        .env_remove("ERASURE_DATABASE_URL")
        .env_remove("ERASURE_CONFIG")
        .env_remove("ERASURE_PSEUDONYM_KEY")
        .output()
        .expect("run the erasure binary")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn init_installs_the_requests_table() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
    let out = erasure(&["init", "--db", &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("requests table ready: erasure_requests"),
        "{}",
        stdout(&out)
    );
    let pool = erasure::sqlite::open(&url, 1).await.expect("open");
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'erasure_requests'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(tables, 1, "the table exists");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM erasure_requests")
        .fetch_one(&pool)
        .await
        .expect("the table reads");
    assert_eq!(rows, 0);
    pool.close().await;

    let out = erasure(&["requests", "list", "--db", &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("no requests"), "{}", stdout(&out));
    // A request can be filed at once, and is listed.
    let out = Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args([
            "requests",
            "submit",
            "--db",
            &url,
            "--guest",
            "someone@example.test",
        ])
        .env_remove("ERASURE_DATABASE_URL")
        .env_remove("ERASURE_CONFIG")
        .env("ERASURE_PSEUDONYM_KEY", "00112233445566778899aabbccddeeff")
        .output()
        .expect("run the erasure binary");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = erasure(&["requests", "list", "--db", &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stdout(&out).contains("no requests"), "{}", stdout(&out));
}
