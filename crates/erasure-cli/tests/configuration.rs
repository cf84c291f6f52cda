//! A shop that is not the reference schema, served through the CLI by a configuration file
//! alone: no B2B roles, cashbacks or recurring orders (and none of their tables), a newsletter
//! table covered by a rule, a renamed order table, judged coverage, and the library's own
//! tables installed by `erasure install`.

use std::io::Write as _;
use std::process::{Command, Output};

use erasure_testkit::{Seed, SeedConfig, TestDb};

const KEY: &str = "5e1f0c2b9a8d7e6f5a4b3c2d1e0f9a8b";

fn erasure(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args(args)
        .env_remove("ERASURE_DATABASE_URL")
        .env_remove("ERASURE_CONFIG")
        .env_remove("ERASURE_PRESET")
        .env("ERASURE_PSEUDONYM_KEY", KEY)
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

/// A seeded SQLite shop reshaped like a shop of another platform: without the B2B, cashback
/// and recurring tables, with a newsletter table, its order table renamed.
struct Shop {
    _db: TestDb<sqlx::Sqlite>,
    url: String,
    seed: Seed,
    dir: tempfile::TempDir,
}

impl Shop {
    async fn new() -> Self {
        let db = TestDb::sqlite_file(2).await.expect("db");
        let seed = Seed::new(SeedConfig::new(12));
        seed.insert(&db.pool).await.expect("seed");
        sqlx::raw_sql(
            "DROP TABLE b2b_roles; DROP TABLE cashback_codes; DROP TABLE cashbacks;
             DROP TABLE recurring_order_lines; DROP TABLE recurring_orders;
             ALTER TABLE orders RENAME TO sales_order;
             CREATE TABLE newsletter_subscriber (subscriber_id INTEGER PRIMARY KEY,
                 customer_id INTEGER REFERENCES customers (id), subscriber_email TEXT NOT NULL,
                 subscriber_status TEXT NOT NULL);",
        )
        .execute(&db.pool)
        .await
        .expect("reshape");
        for (i, c) in seed.customers().take(6).enumerate() {
            sqlx::query("INSERT INTO newsletter_subscriber VALUES (?, ?, ?, 'subscribed')")
                .bind(i as i64 + 1)
                .bind(c.id)
                .bind(&c.users[0].email)
                .execute(&db.pool)
                .await
                .expect("subscriber");
        }
        db.pool.close().await;
        let url = format!("sqlite://{}", db.path().expect("file").display());
        Self {
            _db: db,
            url,
            seed,
            dir: tempfile::tempdir().expect("dir"),
        }
    }

    fn config(&self, text: &str) -> String {
        let path = self.dir.path().join("erasure.toml");
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("config");
        path.display().to_string()
    }

    async fn scalar(&self, sql: &'static str) -> i64 {
        let pool = erasure::sqlite::open(&self.url, 1).await.expect("open");
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(&pool)
            .await
            .expect("query");
        pool.close().await;
        n
    }
}

const CONFIG: &str = r#"
[chain]
disable = ["b2b-admin-guard", "cashback", "recurring-orders"]

[mappings.order]
table = "sales_order"

[[rules]]
name = "newsletter"
position = 85
table = "newsletter_subscriber"
subject = { customer = "customer_id", email = "subscriber_email" }
action = "delete"
key = "subscriber_id"
"#;

#[tokio::test]
async fn a_reshaped_shop_is_erased_and_purged_through_its_configuration_alone() {
    let shop = Shop::new().await;
    let config = shop.config(CONFIG);

    // Without the configuration the standard chain refuses: the tables it maps are missing.
    let c = shop.seed.customer(2);
    let id = c.id.to_string();
    let out = erasure(&["erase", "--db", &shop.url, "--customer", &id]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));

    // The chain as it will run.
    let out = erasure(&["handlers", "--config", &config]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("newsletter") && text.contains("85"), "{text}");
    assert!(
        !text.contains("b2b-admin-guard") && !text.contains("cashback"),
        "{text}"
    );

    let out = erasure(&[
        "erase",
        "--db",
        &shop.url,
        "--config",
        &config,
        "--customer",
        &id,
    ]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("newsletter"), "{}", stdout(&out));
    let pool = erasure::sqlite::open(&shop.url, 1).await.expect("open");
    let left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM newsletter_subscriber WHERE customer_id = ?")
            .bind(c.id)
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(left, 0);
    let marked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sales_order WHERE to_be_deleted = 1 AND customer_id IS NULL",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert!(
        marked > 0,
        "the renamed order table was anonymized and marked"
    );
    pool.close().await;
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM newsletter_subscriber")
            .await,
        5
    );

    // The jobs read the renamed table too.
    let out = erasure(&["jobs", "run", "--db", &shop.url, "--config", &config]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(!stderr(&out).contains("no such table"), "{}", stderr(&out));
    assert!(stdout(&out).contains("order-purge"), "{}", stdout(&out));
}

#[tokio::test]
async fn configuration_errors_name_the_rule_the_key_and_the_line() {
    let shop = Shop::new().await;
    let config = shop.config("[chain]\ndisable = [\"b2b\"]\n");
    let out = erasure(&["handlers", "--config", &config]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no handler is named `b2b`")
            && stderr(&out).contains("b2b-admin-guard"),
        "{}",
        stderr(&out)
    );
    let config = shop.config(
        "[chain]\ndisable = []\n\n[[rules]]\nname = \"meta\"\nposition = 28\ntable = \"m\"\n\
         subject = { customer = \"c\" }\naction = \"defer\"\n",
    );
    let out = erasure(&["handlers", "--config", &config]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rule `meta`: `mark` is missing")
            && stderr(&out).contains("(the rule at line 4)"),
        "{}",
        stderr(&out)
    );
    let out = erasure(&["handlers", "--preset", "oscommerce"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no preset named `oscommerce`"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn judged_columns_leave_coverage_clean_and_show_their_reason() {
    let shop = Shop::new().await;
    let extra = "CREATE TABLE customer_grid_flat (entity_id INTEGER PRIMARY KEY, email TEXT)";
    let pool = erasure::sqlite::open(&shop.url, 1).await.expect("open");
    sqlx::query(extra).execute(&pool).await.expect("grid");
    pool.close().await;
    let judged = format!(
        "{CONFIG}\n[coverage]\nignore = [{{ column = \"customer_grid_flat.email\", reason = \"rebuilt nightly from customers\" }}]\n"
    );
    let out = erasure(&[
        "coverage",
        "--db",
        &shop.url,
        "--config",
        &shop.config(CONFIG),
    ]);
    assert_eq!(code(&out), 8, "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("customer_grid_flat.email"),
        "{}",
        stdout(&out)
    );
    let config = shop.config(&judged);
    let out = erasure(&["coverage", "--db", &shop.url, "--config", &config]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("rebuilt nightly from customers"),
        "{}",
        stdout(&out)
    );
    let out = erasure(&["coverage", "--db", &shop.url, "--config", &config, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let found = json.as_array().expect("findings");
    assert_eq!(found.len(), 1, "{json}");
    assert_eq!(found[0]["table"], "customer_grid_flat");
    assert_eq!(found[0]["ignored"], "rebuilt nightly from customers");
}

#[tokio::test]
async fn the_library_tables_are_installed_by_erasure_install() {
    let shop = Shop::new().await;
    let out = erasure(&["requests", "list", "--db", &shop.url]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("erasure_requests is not installed")
            && stderr(&out).contains("run `erasure install`"),
        "{}",
        stderr(&out)
    );
    let out = erasure(&["install", "--db", &shop.url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for table in ["erasure_requests", "erasure_receipts", "erasure_deferred"] {
        assert!(stdout(&out).contains(table), "{}", stdout(&out));
    }
    let again = erasure(&["install", "--db", &shop.url]);
    assert_eq!(
        code(&again),
        0,
        "installing twice is harmless: {}",
        stderr(&again)
    );
    let out = erasure(&["requests", "list", "--db", &shop.url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("no requests"), "{}", stdout(&out));
    // The shop's own tables are untouched by install.
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM newsletter_subscriber")
            .await,
        6
    );
}
