//! `erasure jobs` and `erasure requests`, run as an operator would, including a purge killed
//! half-way.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use erasure_testkit::{Seed, SeedConfig, Shape, TestDb};

const KEY: &str = "00112233445566778899aabbccddeeff";

fn erasure(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args(args)
        .env("ERASURE_PSEUDONYM_KEY", KEY)
        .env_remove("ERASURE_DATABASE_URL")
        .env_remove("ERASURE_CONFIG")
        .output()
        .expect("run the erasure binary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn scalar(pool: &sqlx::SqlitePool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

const ELIGIBLE: &str = "SELECT COUNT(*) FROM orders WHERE to_be_deleted = 1 \
     AND status NOT IN ('PENDING', 'MANUAL_INTERVENTION_NEEDED', 'EXPORTFAILED')";
const EXCLUDED: &str = "SELECT COUNT(*) FROM orders WHERE to_be_deleted = 1 \
     AND status IN ('PENDING', 'MANUAL_INTERVENTION_NEEDED', 'EXPORTFAILED')";
const EXCLUDED_LINES: &str = "SELECT COUNT(*) FROM order_lines WHERE order_id IN (SELECT id FROM orders \
     WHERE status IN ('PENDING', 'MANUAL_INTERVENTION_NEEDED', 'EXPORTFAILED'))";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_killed_in_the_middle_resumes_and_deletes_nothing_twice() {
    let db = TestDb::sqlite_file(2).await.expect("db");
    Seed::new(SeedConfig::new(600).shape(Shape::typical()))
        .insert(&db.pool)
        .await
        .expect("seed");
    // Every order is marked and long past its retention period.
    sqlx::query("UPDATE orders SET to_be_deleted = 1, ordered_at = '2001-01-01T00:00:00+00:00'")
        .execute(&db.pool)
        .await
        .expect("mark");
    let eligible = scalar(&db.pool, ELIGIBLE).await;
    let excluded = scalar(&db.pool, EXCLUDED).await;
    let excluded_lines = scalar(&db.pool, EXCLUDED_LINES).await;
    assert!(
        eligible > 5_000 && excluded > 2_000,
        "{eligible} {excluded}"
    );
    let url = db.connect_url().to_owned();

    let mut child = Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args([
            "jobs",
            "run",
            "--db",
            &url,
            "--only",
            "order-purge",
            "--batch",
            "10",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Kill it (SIGKILL) once it has done some of the work, and not all of it.
    let started = Instant::now();
    loop {
        let left = scalar(&db.pool, ELIGIBLE).await;
        if left < eligible - 300 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the purge made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().expect("kill");
    child.wait().expect("reap");

    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&db.pool)
        .await
        .expect("check");
    assert_eq!(integrity, "ok");
    let left = scalar(&db.pool, ELIGIBLE).await;
    assert!(
        left > 0 && left < eligible,
        "killed half-way: {left} of {eligible} left"
    );
    assert_eq!(
        scalar(&db.pool, EXCLUDED).await,
        excluded,
        "nothing excluded was deleted"
    );

    // Run it again: it does exactly what was left, no more.
    let out = erasure(&[
        "jobs",
        "run",
        "--db",
        &url,
        "--only",
        "order-purge",
        "--batch",
        "10",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summaries: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summaries[0]["job"], "order-purge");
    assert_eq!(
        summaries[0]["rows"].as_i64(),
        Some(left),
        "the second run deleted exactly what the first left"
    );
    assert_eq!(scalar(&db.pool, ELIGIBLE).await, 0);
    assert_eq!(scalar(&db.pool, EXCLUDED).await, excluded);
    assert_eq!(
        scalar(&db.pool, EXCLUDED_LINES).await,
        excluded_lines,
        "excluded orders keep their lines"
    );
    let orphans = scalar(
        &db.pool,
        "SELECT COUNT(*) FROM order_lines WHERE order_id NOT IN (SELECT id FROM orders)",
    )
    .await;
    assert_eq!(orphans, 0);
}

#[tokio::test]
async fn jobs_list_and_run_every_job() {
    let db = TestDb::sqlite_file(2).await.expect("db");
    let seed = Seed::new(SeedConfig::new(30).shape(Shape::typical()));
    seed.insert(&db.pool).await.expect("seed");
    let url = db.connect_url().to_owned();
    for i in [1, 2] {
        let out = erasure(&[
            "erase",
            "--db",
            &url,
            "--customer",
            &seed.customer(i).id.to_string(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let out = erasure(&["jobs", "list"]);
    let text = stdout(&out);
    for job in ["basket-purge", "order-purge", "request-purge"] {
        assert!(text.contains(job), "{text}");
    }
    // Their orders are marked; those older than the six-year retention period are due.
    let cutoff = erasure::retention::Period::years(6).before(chrono::Utc::now());
    let due: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders WHERE to_be_deleted = 1 AND ordered_at <= ? \
         AND status NOT IN ('PENDING', 'MANUAL_INTERVENTION_NEEDED', 'EXPORTFAILED')",
    )
    .bind(cutoff)
    .fetch_one(&db.pool)
    .await
    .expect("due");
    let out = erasure(&["jobs", "run", "--db", &url, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summaries: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let basket = summaries
        .as_array()
        .and_then(|a| a.iter().find(|s| s["job"] == "basket-purge"))
        .expect("basket purge");
    assert_eq!(
        basket["rows"], 10,
        "the two erased customers' five baskets each"
    );
    let order = summaries
        .as_array()
        .and_then(|a| a.iter().find(|s| s["job"] == "order-purge"))
        .expect("order purge");
    assert_eq!(order["rows"].as_i64(), Some(due));
    let marked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE to_be_deleted = 1")
        .fetch_one(&db.pool)
        .await
        .expect("marked");
    assert_eq!(
        marked,
        40 - due,
        "the rest of their orders wait for their retention period"
    );
    let unknown = erasure(&["jobs", "run", "--db", &url, "--only", "nonsense"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("basket-purge"),
        "{}",
        stderr(&unknown)
    );
}

/// `jobs run` whose inactive-accounts job cannot erase one account (the shop's trigger refuses
/// to delete it) exits 11, not 0: the summary counts the failed account and exactly the accounts
/// that are gone, the error names the job, and the failed account is left for the next run,
/// which erases it once it can and exits 0.
#[tokio::test]
async fn jobs_run_exits_11_when_a_job_leaves_rows_for_the_next_run() {
    let db = TestDb::sqlite_file(2).await.expect("db");
    let seed = Seed::new(SeedConfig::new(6).guests(0));
    seed.insert(&db.pool).await.expect("seed");
    let url = db.connect_url().to_owned();
    // Every account has been inactive since 2001.
    for sql in [
        "UPDATE customers SET created_at = '2001-01-01T00:00:00+00:00'",
        "UPDATE users SET last_login_at = '2001-01-01T00:00:00+00:00'",
        "UPDATE orders SET ordered_at = '2001-01-01T00:00:00+00:00'",
    ] {
        sqlx::query(sql).execute(&db.pool).await.expect(sql);
    }
    let kept = seed.customer(2).id;
    sqlx::query("CREATE TABLE keep (id INTEGER PRIMARY KEY)")
        .execute(&db.pool)
        .await
        .expect("keep");
    sqlx::query("INSERT INTO keep (id) VALUES (?)")
        .bind(kept)
        .execute(&db.pool)
        .await
        .expect("keep one");
    sqlx::query(
        "CREATE TRIGGER keep_one BEFORE DELETE ON customers WHEN OLD.id IN (SELECT id FROM keep) \
         BEGIN SELECT RAISE(ABORT, 'the shop keeps this customer'); END",
    )
    .execute(&db.pool)
    .await
    .expect("trigger");
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("jobs.toml");
    std::fs::write(&config, "[jobs]\ninactive_accounts_after = \"365d\"\n").expect("config");
    let config = config.to_str().expect("path");
    let customers = || async { scalar(&db.pool, "SELECT COUNT(*) FROM customers").await };
    let inactive = |out: &Output| -> serde_json::Value {
        let summaries: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        summaries
            .as_array()
            .and_then(|a| a.iter().find(|s| s["job"] == "inactive-accounts"))
            .cloned()
            .expect("the inactive-accounts summary")
    };
    assert_eq!(customers().await, 6);

    let out = erasure(&["jobs", "run", "--db", &url, "--config", config, "--json"]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    let summary = inactive(&out);
    assert_eq!(
        (summary["rows"].as_i64(), summary["failed"].as_i64()),
        (Some(5), Some(1)),
        "{summary}"
    );
    assert_eq!(
        customers().await,
        1,
        "the summary's rows are the accounts that are gone"
    );
    let kept_left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE id = ?")
        .bind(kept)
        .fetch_one(&db.pool)
        .await
        .expect("kept");
    assert_eq!(kept_left, 1);
    assert!(
        stderr(&out).contains("1 rows could not be processed (inactive-accounts: 1)"),
        "{}",
        stderr(&out)
    );

    // Still refused: the same exit, nothing more erased, and the text report says so.
    let out = erasure(&["jobs", "run", "--db", &url, "--config", config]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("inactive-accounts: 0 rows")
            && stdout(&out).contains("1 failed and left for the next run"),
        "{}",
        stdout(&out)
    );
    assert_eq!(customers().await, 1);

    // Once the shop lets it go, the next run erases it and succeeds.
    sqlx::query("DROP TRIGGER keep_one")
        .execute(&db.pool)
        .await
        .expect("drop");
    let out = erasure(&["jobs", "run", "--db", &url, "--config", config, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = inactive(&out);
    assert_eq!(
        (summary["rows"].as_i64(), summary["failed"].as_i64()),
        (Some(1), Some(0)),
        "{summary}"
    );
    assert_eq!(customers().await, 0);
}

#[tokio::test]
async fn requests_from_submission_to_completion() {
    let db = TestDb::sqlite_file(2).await.expect("db");
    let seed = Seed::new(SeedConfig::new(20));
    seed.insert(&db.pool).await.expect("seed");
    let url = db.connect_url().to_owned();
    assert_eq!(
        erasure(&["requests", "install", "--db", &url])
            .status
            .code(),
        Some(0)
    );

    let c = seed
        .customers()
        .find(|c| c.orders > 0 && !c.is_b2b())
        .expect("customer");
    let out = erasure(&[
        "requests",
        "submit",
        "--db",
        &url,
        "--customer",
        &c.id.to_string(),
        "--contact",
        &c.users[0].email,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let submitted: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = submitted["request"]["id"].as_str().expect("id").to_owned();
    let token = submitted["token"].as_str().expect("token").to_owned();
    assert_eq!(submitted["request"]["state"], "pending");
    assert!(
        !stdout(&out).contains(&c.users[0].email),
        "listings carry no personal data"
    );

    let out = erasure(&["requests", "confirm", "--db", &url, &id, "--token", "wrong"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not match"));
    let out = erasure(&["requests", "confirm", "--db", &url, &id, "--token", &token]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("confirmed"));

    let out = erasure(&["requests", "list", "--db", &url, "--state", "confirmed"]);
    assert!(stdout(&out).contains(&id));
    let out = erasure(&["requests", "process", "--db", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 requests processed, 1 completed, 0 failed"),
        "{}",
        stdout(&out)
    );
    let out = erasure(&["requests", "show", "--db", &url, &id, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["state"], "completed");
    assert!(
        shown["outcome"]
            .as_str()
            .is_some_and(|o| o.contains("deleted"))
    );

    // Invalid transitions are refused with the states named.
    let out = erasure(&[
        "requests", "reject", "--db", &url, &id, "--note", "too late",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot go from completed to rejected"),
        "{}",
        stderr(&out)
    );
    // Submitting without the pseudonym key is refused: requests are matched by keyed pseudonym.
    let out = Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args([
            "requests",
            "submit",
            "--db",
            &url,
            "--guest",
            "someone@example.test",
        ])
        .env_remove("ERASURE_PSEUDONYM_KEY")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("ERASURE_PSEUDONYM_KEY"));
    let out = erasure(&["requests", "list", "--db", &url, "--overdue"]);
    assert!(stdout(&out).contains("no requests"));
}

#[tokio::test]
async fn export_requests_are_carried_out_into_a_directory() {
    let db = TestDb::sqlite_file(2).await.expect("db");
    let seed = Seed::new(SeedConfig::new(20));
    seed.insert(&db.pool).await.expect("seed");
    let url = db.connect_url().to_owned();
    assert_eq!(
        erasure(&["requests", "install", "--db", &url])
            .status
            .code(),
        Some(0)
    );
    let c = seed
        .customers()
        .find(|c| c.orders > 0 && !c.is_b2b())
        .expect("customer");
    let out = erasure(&[
        "requests",
        "submit",
        "--db",
        &url,
        "--kind",
        "export",
        "--customer",
        &c.id.to_string(),
        "--contact",
        &c.users[0].email,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let submitted: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = submitted["request"]["id"].as_str().expect("id").to_owned();
    let token = submitted["token"].as_str().expect("token").to_owned();
    let out = erasure(&["requests", "confirm", "--db", &url, &id, "--token", &token]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Without a directory, export requests wait.
    let out = erasure(&["requests", "process", "--db", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 requests processed"),
        "{}",
        stdout(&out)
    );
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("missing");
    let out = erasure(&[
        "requests",
        "process",
        "--db",
        &url,
        "--exports-to",
        missing.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let out = erasure(&[
        "requests",
        "process",
        "--db",
        &url,
        "--exports-to",
        dir.path().to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 requests processed, 1 completed, 0 failed"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(&c.users[0].email));
    let document =
        std::fs::read_to_string(dir.path().join(format!("{id}.json"))).expect("the document");
    assert!(document.contains(&c.users[0].email));
    // Exporting erases nothing: the customer is still there.
    let pool = erasure::sqlite::open(&url, 1).await.expect("open");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE id = ?")
        .bind(c.id)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(n, 1);
}
