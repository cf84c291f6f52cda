//! A rule that defers, end to end through the binary: `erasure erase --config` clears and
//! records the rows, `erasure jobs list` shows the rule's purge job, `erasure jobs run` deletes
//! the rows and their ledger entries.

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

const CONFIG: &str = r#"
[chain]
disable = ["b2b-admin-guard", "basket-invalidation", "wishlist-deletion", "cashback",
           "order-anonymization", "recurring-orders", "promotion-scrubbing",
           "gift-card-unlinking", "customer-alerts", "customer"]

[[rules]]
name = "reviews"
position = 60
table = "reviews"
subject = { customer = "customer_id" }
action = "defer"
anonymize = { author = "null" }
key = "id"
"#;

#[tokio::test]
async fn a_deferring_rule_is_purged_by_jobs_run() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    let out = erasure(&["init", "--db", &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pool = erasure::sqlite::open(&url, 1).await.expect("open");
    sqlx::query("CREATE TABLE reviews (id INTEGER PRIMARY KEY, customer_id INTEGER, author TEXT)")
        .execute(&pool)
        .await
        .expect("create");
    sqlx::query(
        "INSERT INTO reviews VALUES (1, 1, 'Ada Erasedname'), (2, 1, 'Ada Erasedname'), \
         (3, 2, 'Kim Keptname')",
    )
    .execute(&pool)
    .await
    .expect("insert");
    pool.close().await;
    let config = dir.path().join("erasure.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let config = config.to_str().expect("utf-8 path");

    let out = erasure(&["jobs", "list", "--config", config]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("rule-purge:reviews"),
        "{}",
        stdout(&out)
    );

    let out = erasure(&["erase", "--db", &url, "--config", config, "--customer", "1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pool = erasure::sqlite::open(&url, 1).await.expect("open");
    let rows: Vec<(i64, Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT id, customer_id, author FROM reviews ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("rows");
    assert_eq!(
        rows,
        vec![
            (1, None, None),
            (2, None, None),
            (3, Some(2), Some("Kim Keptname".to_owned()))
        ],
        "cleared and unlinked at once"
    );
    let ledger: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM erasure_deferred")
        .fetch_one(&pool)
        .await
        .expect("ledger");
    assert_eq!(ledger, 2);
    pool.close().await;

    let out = erasure(&["jobs", "run", "--db", &url, "--config", config]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pool = erasure::sqlite::open(&url, 1).await.expect("open");
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM reviews ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("ids");
    assert_eq!(ids, vec![3]);
    let ledger: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM erasure_deferred")
        .fetch_one(&pool)
        .await
        .expect("ledger");
    assert_eq!(ledger, 0);
}
