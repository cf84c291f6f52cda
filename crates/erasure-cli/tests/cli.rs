//! The built `erasure` binary, run as an operator would: every command, every bad input, exit
//! codes, output and the database afterwards.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use erasure_testkit::dump::{Dump, dump};
use erasure_testkit::residue::scan;
use erasure_testkit::{Seed, SeedConfig, SeededCustomer, TestBackend, TestDb};

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

/// A seeded SQLite shop in a file, closed so the binary has it to itself.
struct FileShop {
    _db: TestDb<sqlx::Sqlite>,
    path: PathBuf,
    url: String,
    seed: Seed,
}

impl FileShop {
    async fn new(customers: u64) -> Self {
        let db = TestDb::sqlite_file(2).await.expect("db");
        let seed = Seed::new(SeedConfig::new(customers));
        seed.insert(&db.pool).await.expect("seed");
        db.pool.close().await;
        let path = db.path().expect("file");
        let url = format!("sqlite://{}", path.display());
        Self {
            _db: db,
            path,
            url,
            seed,
        }
    }

    async fn pool(&self) -> sqlx::SqlitePool {
        erasure::sqlite::open(&self.url, 1).await.expect("open")
    }

    async fn dump(&self) -> Dump {
        let pool = self.pool().await;
        let mut conn = pool.acquire().await.expect("conn");
        let d = dump::<sqlx::Sqlite>(&mut conn).await.expect("dump");
        drop(conn);
        pool.close().await;
        d
    }

    async fn assert_erased(&self, customer: &SeededCustomer) {
        let pool = self.pool().await;
        let mut conn = pool.acquire().await.expect("conn");
        let report = scan::<sqlx::Sqlite>(&mut conn, &customer.needles())
            .await
            .expect("scan");
        assert!(report.is_clean(), "{report}");
        drop(conn);
        pool.close().await;
    }

    fn customer(&self, pick: impl Fn(&SeededCustomer) -> bool) -> SeededCustomer {
        self.seed.customers().find(|c| pick(c)).expect("a customer")
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[test]
fn demo_erases_a_customer_and_finds_no_residue() {
    let dir = tempfile::tempdir().expect("dir");
    let keep = dir.path().join("demo.db");
    let out = erasure(&[
        "demo",
        "--customers",
        "60",
        "--keep",
        keep.to_str().expect("path"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "The chain, in the order it runs",
        "Dry run:",
        "rolled back, nothing changed",
        "Erasure (committed in one transaction)",
        "Residue check: none of customer",
        "Their consents, as the shop recorded them:",
        "Consents: none of theirs remains",
        "A newsletter subscriber without an account asks to be forgotten",
        "refused the erasure",
        "erasure serve",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(keep.exists(), "--keep leaves the database");
}

#[tokio::test]
async fn init_and_seed_build_a_shop() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("new.db").display());
    let out = erasure(&["init", "--db", &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("reference schema ready: 19 tables"),
        "{}",
        stdout(&out)
    );
    // Again: already there, nothing to do.
    assert_eq!(code(&erasure(&["init", "--db", &url])), 0);

    let out = erasure(&["seed", "--db", &url, "--customers", "25"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("customers"));
    let pool = erasure::sqlite::open(&url, 1).await.expect("open");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(n, 25);
    // Consents beside the customers: two in three customers, and 25 / 4 subscribers.
    assert!(
        stdout(&out).contains("consent changes (6 newsletter subscribers without an account)"),
        "{}",
        stdout(&out)
    );
    let subscribers: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT email) FROM erasure_consent_changes WHERE subject_kind = 'email'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(subscribers, 6);
    let customers: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT customer_key) FROM erasure_consent_changes WHERE subject_kind = 'customer'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    // The newsletter: all but every third (17 of 25); texts: every fourth, two of them (8, 20)
    // not on the newsletter.
    assert_eq!(customers, 19);
}

#[test]
fn handlers_lists_the_chain_in_order() {
    let out = erasure(&["handlers"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let positions: Vec<u32> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(positions, [5, 10, 20, 25, 30, 40, 50, 70, 80, 100]);
    assert!(text.contains("order-anonymization"));

    let out = erasure(&["handlers", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["handlers"].as_array().map(Vec::len), Some(10));
    assert_eq!(json["handlers"][4]["name"], "order-anonymization");
}

#[test]
fn a_malformed_config_names_the_line_and_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    for (config, expected) in [
        (
            "[mappings.order]\n\ntable = \"orders; DROP TABLE x\"\n",
            ["line 3", "table", "invalid identifier"],
        ),
        (
            "[mappings.order]\ntabel = \"orders\"\n",
            ["line 2", "tabel", "unknown field"],
        ),
        (
            "[mappings.order\ntable = 1\n",
            ["line 1", "[mappings.order", "unclosed table"],
        ),
        (
            "[settings.features]\nrecurring_orders = \"no\"\n",
            ["line 2", "recurring_orders", "invalid type"],
        ),
    ] {
        let path = write(dir.path(), "erasure.toml", config);
        let out = erasure(&["handlers", "--config", &path]);
        assert_eq!(code(&out), 2, "{config}: {}", stderr(&out));
        let err = stderr(&out);
        for e in expected {
            assert!(err.contains(e), "{config}: expected {e:?} in {err}");
        }
    }
}

#[tokio::test]
async fn coverage_finds_a_table_no_handler_covers() {
    let shop = FileShop::new(10).await;
    let out = erasure(&["coverage", "--db", &shop.url]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("covered: every column"));

    let pool = shop.pool().await;
    sqlx::raw_sql(erasure_fixture_ddl())
        .execute(&pool)
        .await
        .expect("create");
    pool.close().await;
    let out = erasure(&["coverage", "--db", &shop.url]);
    assert_eq!(code(&out), 8);
    let text = stdout(&out);
    assert!(
        text.contains("newsletter.subscriber_email looks personal"),
        "{text}"
    );
    assert!(
        text.contains("newsletter.customer_id refers to customers"),
        "{text}"
    );
    let out = erasure(&["coverage", "--db", &shop.url, "--json"]);
    assert_eq!(code(&out), 8);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json.as_array().map(Vec::len), Some(2));
}

fn erasure_fixture_ddl() -> &'static str {
    "CREATE TABLE newsletter (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id), subscriber_email TEXT)"
}

#[tokio::test]
async fn erase_one_customer_then_it_is_a_no_op() {
    let shop = FileShop::new(40).await;
    let c = shop.customer(|c| !c.is_b2b() && c.orders > 1);
    let id = c.id.to_string();
    let out = erasure(&[
        "erase",
        "--db",
        &shop.url,
        "--customer",
        &id,
        "--operator",
        "ops-1",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("order-anonymization") && text.contains("total:"),
        "{text}"
    );
    assert!(
        !text.contains(&c.users[0].email),
        "the report carries no personal values"
    );
    shop.assert_erased(&c).await;

    let out = erasure(&["erase", "--db", &shop.url, "--customer", &id, "--json"]);
    assert_eq!(code(&out), 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["mode"], "erase");
    assert_eq!(report["handlers"].as_array().map(Vec::len), Some(10));
    let unknown = erasure(&["erase", "--db", &shop.url, "--customer", "987654"]);
    assert_eq!(code(&unknown), 0);
    assert!(stdout(&unknown).contains("nothing to erase"));
}

#[tokio::test]
async fn a_dry_run_leaves_the_database_file_byte_identical() {
    let shop = FileShop::new(40).await;
    let c = shop.customer(|c| c.orders > 1);
    let before = std::fs::read(&shop.path).expect("read");
    let out = erasure(&[
        "erase",
        "--db",
        &shop.url,
        "--customer",
        &c.id.to_string(),
        "--dry-run",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("DRY RUN"));
    assert!(stdout(&out).contains("(dry_run, "));
    let after = std::fs::read(&shop.path).expect("read");
    assert!(before == after, "the database file changed");
    let wal = PathBuf::from(format!("{}-wal", shop.path.display()));
    assert!(
        !wal.exists() || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0,
        "nothing left in the WAL"
    );
}

#[tokio::test]
async fn erase_one_user_and_a_guest() {
    let shop = FileShop::new(40).await;
    let b2b = shop.customer(|c| c.is_b2b() && c.users[0].admin && !c.users[2].admin);
    let out = erasure(&[
        "erase",
        "--db",
        &shop.url,
        "--customer",
        &b2b.id.to_string(),
        "--user",
        &b2b.users[2].id.to_string(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pool = shop.pool().await;
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE customer_id = ?")
        .bind(b2b.id)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(users, 2, "the other users stay");
    pool.close().await;

    let guest = shop.seed.guest(0);
    let out = erasure(&["erase", "--db", &shop.url, "--guest", &guest.users[0].email]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    shop.assert_erased(&guest).await;
}

#[tokio::test]
async fn bad_input_changes_nothing_and_exits_with_its_own_code() {
    let shop = FileShop::new(40).await;
    let dir = tempfile::tempdir().expect("dir");
    let before = shop.dump().await;
    let b2b = shop.customer(|c| c.is_b2b() && c.users[0].admin && !c.users[1].admin);
    let missing_table = write(
        dir.path(),
        "bad-map.toml",
        "[mappings.order]\ntable = \"sales\"\n",
    );
    let malformed = write(dir.path(), "malformed.toml", "[mappings]\norder = 3\n");
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        // A guard refusal.
        (
            vec![
                "--customer".into(),
                b2b.id.to_string(),
                "--user".into(),
                b2b.users[0].id.to_string(),
            ],
            5,
            "refused the erasure",
        ),
        // The mappings name a table the database lacks.
        (
            vec![
                "--customer".into(),
                "3".into(),
                "--config".into(),
                missing_table,
            ],
            4,
            "table `sales`",
        ),
        // A malformed configuration.
        (
            vec![
                "--customer".into(),
                "3".into(),
                "--config".into(),
                malformed,
            ],
            2,
            "line 2",
        ),
        // An invalid subject.
        (
            vec!["--guest".into(), "not-an-email".into()],
            2,
            "invalid guest email",
        ),
        (
            vec!["--customer".into(), "x".repeat(400)],
            2,
            "invalid subject key",
        ),
        // No subject at all.
        (vec![], 2, "name one subject"),
    ];
    for (extra, expected_code, message) in cases {
        let mut args = vec!["erase".to_owned(), "--db".to_owned(), shop.url.clone()];
        args.extend(extra.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = erasure(&args);
        assert_eq!(code(&out), expected_code, "{extra:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(message),
            "{extra:?}: {}",
            stderr(&out)
        );
        assert_eq!(
            before.diff(&shop.dump().await),
            None,
            "{extra:?} changed the database"
        );
    }
}

#[test]
fn an_unreachable_database_exits_3() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = format!("sqlite://{}", dir.path().join("nope.db").display());
    for url in [
        missing.as_str(),
        "postgres://postgres@127.0.0.1:1/test",
        "mysql://root@127.0.0.1:1/test",
    ] {
        let out = erasure(&["erase", "--db", url, "--customer", "1"]);
        assert_eq!(code(&out), 3, "{url}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot open the database"),
            "{}",
            stderr(&out)
        );
    }
    assert!(
        !dir.path().join("nope.db").exists(),
        "erase must not create a database"
    );
}

#[tokio::test]
async fn a_customers_file_erases_the_rest_and_lists_the_failures() {
    let shop = FileShop::new(40).await;
    let dir = tempfile::tempdir().expect("dir");
    let ids: Vec<SeededCustomer> = [1, 2, 4].iter().map(|&i| shop.seed.customer(i)).collect();
    let file = write(
        dir.path(),
        "customers.txt",
        &format!(
            "# erasure requests of the week\n{}\n{}\n\n{}\n987654\n{}\n",
            ids[0].id,
            ids[1].id,
            "x".repeat(400),
            ids[2].id
        ),
    );
    let out = erasure(&["erase", "--db", &shop.url, "--customers-file", &file]);
    assert_eq!(code(&out), 7, "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("5 subjects: 3 erased, 1 no-op (unknown or already erased), 1 failed"),
        "{text}"
    );
    assert!(text.contains("line 5: not a customer id"), "{text}");
    for c in &ids {
        shop.assert_erased(c).await;
    }
    // Again, as JSON: everything is a no-op now, the bad line still fails.
    let out = erasure(&[
        "erase",
        "--db",
        &shop.url,
        "--customers-file",
        &file,
        "--json",
    ]);
    assert_eq!(code(&out), 7);
    let batch: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(batch["summary"]["no_op"], 4);
    assert_eq!(batch["failures"][0]["line"], 5);
}

#[tokio::test]
async fn a_customers_file_commits_in_batches_of_the_size_asked() {
    let shop = FileShop::new(12).await;
    let dir = tempfile::tempdir().expect("dir");
    let ids: Vec<SeededCustomer> = (0..7).map(|i| shop.seed.customer(i)).collect();
    let lines: Vec<String> = ids.iter().map(|c| c.id.to_string()).collect();
    let file = write(dir.path(), "customers.txt", &lines.join("\n"));
    let out = erasure(&[
        "erase",
        "--db",
        &shop.url,
        "--customers-file",
        &file,
        "--batch",
        "0",
    ]);
    assert_eq!(
        code(&out),
        2,
        "a batch of none is refused: {}",
        stderr(&out)
    );
    let out = erasure(&[
        "erase",
        "--db",
        &shop.url,
        "--customers-file",
        &file,
        "--batch",
        "3",
        "--dry-run",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("7 subjects: 7 would be erased, 0 no-op (unknown or already erased), 0 failed, in 3 transactions"),
        "{}",
        stdout(&out)
    );
    let out = erasure(&[
        "erase",
        "--db",
        &shop.url,
        "--customers-file",
        &file,
        "--batch",
        "3",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let batch: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(batch["summary"]["erased"], 7);
    assert_eq!(batch["summary"]["transactions"], 3);
    assert_eq!(batch["reports"].as_array().map(Vec::len), Some(7));
    for c in &ids {
        shop.assert_erased(c).await;
    }
}

/// The same commands by URL on PostgreSQL and MySQL, when their servers are reachable.
async fn by_url<DB: TestBackend>() {
    let db = match DB::fresh(2).await {
        Ok(db) => db,
        Err(e) if e.is_unreachable() && !erasure_testkit::db::backends_required() => {
            eprintln!("skipped on {}: {e}", DB::LABEL);
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let seed = Seed::new(SeedConfig::new(20));
    seed.insert(&db.pool).await.expect("seed");
    let url = db.connect_url().to_owned();
    assert_eq!(code(&erasure(&["init", "--db", &url])), 0);
    let out = erasure(&["coverage", "--db", &url]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let c = seed.customer(3);
    let out = erasure(&["erase", "--db", &url, "--customer", &c.id.to_string()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut conn = db.pool.acquire().await.expect("conn");
    let report = scan::<DB>(&mut conn, &c.needles()).await.expect("scan");
    assert!(report.is_clean(), "{report}");
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_by_url() {
    by_url::<sqlx::Postgres>().await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_by_url() {
    by_url::<sqlx::MySql>().await;
}

/// The CLI's complete output at `-vvv` (every span and event of every crate, sqlx's statements
/// included) for a dry run, an erasure of a customer, a refused erasure and a guest, scanned for
/// the subjects' personal values: none. The guest's email is on the command line, and still
/// appears in no output.
#[tokio::test]
async fn trace_output_carries_no_personal_values() {
    let shop = FileShop::new(40).await;
    let c = shop.customer(|c| !c.is_b2b() && c.orders > 1);
    let admin = shop.customer(|c| c.is_b2b() && c.users[0].admin && !c.users[1].admin);
    let guest = shop.seed.guest(1);
    let runs: Vec<(Vec<String>, i32)> = vec![
        (
            vec!["--customer".into(), c.id.to_string(), "--dry-run".into()],
            0,
        ),
        (vec!["--customer".into(), c.id.to_string()], 0),
        (
            vec![
                "--customer".into(),
                admin.id.to_string(),
                "--user".into(),
                admin.users[0].id.to_string(),
            ],
            5,
        ),
        (vec!["--guest".into(), guest.users[0].email.clone()], 0),
    ];
    let needles: Vec<_> = [&c, &admin, &guest]
        .iter()
        .flat_map(|s| s.needles())
        .collect();
    // The export's traces too: the document goes to the file, its rows never to the log.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("c.json");
    let id = c.id.to_string();
    let out = erasure(&[
        "-vvv",
        "export",
        "--db",
        &shop.url,
        "--customer",
        &id,
        "--out",
        file.to_str().expect("path"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let log = format!("{}{}", stdout(&out), stderr(&out));
    assert!(log.contains("DEBUG sqlx::query") && log.contains("export written"));
    for n in &needles {
        assert!(
            !log.contains(&n.value),
            "{} in the export's traces",
            n.label
        );
    }
    for (extra, expected) in runs {
        let mut args: Vec<&str> = vec!["-vvv", "erase", "--db", &shop.url];
        args.extend(extra.iter().map(String::as_str));
        let out = erasure(&args);
        assert_eq!(code(&out), expected, "{extra:?}: {}", stderr(&out));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            all.contains("DEBUG sqlx::query") && all.contains("handler"),
            "trace output is there to scan: {all}"
        );
        for n in &needles {
            assert!(
                !all.contains(&n.value),
                "{} in the output of {extra:?}",
                n.label
            );
        }
    }
    shop.assert_erased(&c).await;
    shop.assert_erased(&guest).await;
}

fn erasure_with_key(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_erasure"))
        .args(args)
        .env_remove("ERASURE_DATABASE_URL")
        .env_remove("ERASURE_CONFIG")
        .env("ERASURE_PSEUDONYM_KEY", "5e1f0c2b9a8d7e6f5a4b3c2d1e0f9a8b")
        .output()
        .expect("run the erasure binary")
}

#[tokio::test]
async fn export_writes_one_subjects_data_to_a_private_file() {
    let shop = FileShop::new(30).await;
    let c = shop.customer(|c| !c.is_b2b() && c.orders > 1);
    let other = shop.customer(|o| o.id != c.id);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("export.json");
    let file = path.to_str().expect("path");
    let before = shop.dump().await;
    let id = c.id.to_string();
    let out = erasure(&[
        "export",
        "--db",
        &shop.url,
        "--customer",
        &id,
        "--out",
        file,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("rows from"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&c.users[0].email));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the operator can read the export");
    }
    let text = std::fs::read_to_string(&path).expect("read");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(doc["format"], "erasure-export");
    assert_eq!(doc["complete"], true);
    assert!(text.contains(&c.users[0].email));
    assert!(text.contains(&c.addresses[0].street));
    assert!(!text.contains(&other.users[0].email));
    // The export changed nothing.
    assert_eq!(before.diff(&shop.dump().await), None);

    // An existing file is kept.
    let again = erasure(&[
        "export",
        "--db",
        &shop.url,
        "--customer",
        &id,
        "--out",
        file,
    ]);
    assert_eq!(code(&again), 2, "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
    // To standard output, for a guest.
    let guest = shop.seed.guest(0);
    let out = erasure(&[
        "export",
        "--db",
        &shop.url,
        "--guest",
        &guest.users[0].email,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["subject"]["kind"], "guest");
    assert!(doc["rows"].as_u64().is_some_and(|n| n > 0));
    // No subject: usage error.
    assert_eq!(code(&erasure(&["export", "--db", &shop.url])), 2);
}

#[tokio::test]
async fn evidence_config_records_receipts_and_outbox_events() {
    let shop = FileShop::new(30).await;
    // `init` on an existing shop adds the evidence tables.
    assert_eq!(code(&erasure(&["init", "--db", &shop.url])), 0);
    let dir = tempfile::tempdir().expect("dir");
    let config = write(
        dir.path(),
        "erasure.toml",
        "[evidence]\nreceipts = true\nsuppression = true\nevents = [\"newsletter\"]\n",
    );
    let c = shop.customer(|c| !c.is_b2b() && c.orders > 1);
    let id = c.id.to_string();
    let args = [
        "erase",
        "--db",
        &shop.url,
        "--config",
        &config,
        "--customer",
        &id,
        "--operator",
        "ops-7",
    ];
    // Receipts without the key could never be found again: refused before anything runs.
    let before = shop.dump().await;
    let out = erasure(&args);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ERASURE_PSEUDONYM_KEY"),
        "{}",
        stderr(&out)
    );
    assert_eq!(before.diff(&shop.dump().await), None);

    let out = erasure_with_key(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    shop.assert_erased(&c).await;

    let out = erasure(&["receipts", "list", "--db", &shop.url, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["operator"], "ops-7");
    let run = list[0]["run_id"].as_str().expect("run id").to_owned();
    // By subject, with the chain's key.
    let out = erasure_with_key(&["receipts", "list", "--db", &shop.url, "--customer", &id]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains(&run));
    let out = erasure_with_key(&[
        "receipts",
        "list",
        "--db",
        &shop.url,
        "--customer",
        "987654",
    ]);
    assert!(stdout(&out).contains("no receipts"));
    let out = erasure(&["receipts", "show", "--db", &shop.url, &run]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for expected in ["ops-7", "order-anonymization", "customer"] {
        assert!(stdout(&out).contains(expected), "{}", stdout(&out));
    }
    assert_eq!(
        code(&erasure(&[
            "receipts",
            "show",
            "--db",
            &shop.url,
            "not-a-uuid"
        ])),
        2
    );

    let out = erasure(&["outbox", "list", "--db", &shop.url, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let events: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(events.as_array().map(Vec::len), Some(1));
    assert_eq!(events[0]["destination"], "newsletter");
    assert_eq!(events[0]["state"], "pending");
    assert_eq!(events[0]["run_id"], run.as_str());
    let out = erasure(&["outbox", "retry", "--db", &shop.url, "--all-dead"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("0 event(s)"));
    let unknown = uuid_like();
    assert_eq!(
        code(&erasure(&["outbox", "retry", "--db", &shop.url, &unknown])),
        2
    );
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".to_owned()
}

#[tokio::test]
async fn seed_shape_sets_each_customers_rows() {
    const CUSTOMERS: i64 = 20;
    let dir = tempfile::tempdir().expect("dir");
    let mut counts = Vec::new();
    for shape in [None, Some("varied"), Some("typical"), Some("bare")] {
        let url = format!(
            "sqlite://{}",
            dir.path()
                .join(format!("{}.db", shape.unwrap_or("default")))
                .display()
        );
        assert_eq!(code(&erasure(&["init", "--db", &url])), 0);
        let customers = CUSTOMERS.to_string();
        let mut args = vec!["seed", "--db", &url, "--customers", &customers];
        args.extend(["--guests", "0"]);
        if let Some(shape) = shape {
            args.extend(["--shape", shape]);
        }
        let out = erasure(&args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let pool = erasure::sqlite::open(&url, 1).await.expect("open");
        let mut rows = std::collections::BTreeMap::new();
        for table in [
            "customers",
            "addresses",
            "baskets",
            "basket_items",
            "wishlists",
            "wishlist_items",
            "orders",
            "order_lines",
            "alerts",
        ] {
            let n: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(&pool)
                    .await
                    .expect("count");
            rows.insert(table, n);
        }
        pool.close().await;
        assert_eq!(rows["customers"], CUSTOMERS, "{shape:?}");
        counts.push(rows);
    }
    let [default, varied, typical, bare] = &counts[..] else {
        unreachable!()
    };
    // Without --shape, the varied shape, as before the option existed.
    assert_eq!(default, varied);
    // Typical: exactly 20 orders of 3 lines, 5 baskets of 3 items, 3 wishlists of 5 items and
    // 10 alerts per customer.
    for (table, per_customer) in [
        ("orders", 20),
        ("order_lines", 60),
        ("baskets", 5),
        ("basket_items", 15),
        ("wishlists", 3),
        ("wishlist_items", 15),
        ("alerts", 10),
    ] {
        assert_eq!(typical[table], per_customer * CUSTOMERS, "typical {table}");
    }
    // Bare: one address and one order of one line, nothing else.
    for (table, per_customer) in [
        ("addresses", 1),
        ("orders", 1),
        ("order_lines", 1),
        ("baskets", 0),
        ("basket_items", 0),
        ("wishlists", 0),
        ("wishlist_items", 0),
        ("alerts", 0),
    ] {
        assert_eq!(bare[table], per_customer * CUSTOMERS, "bare {table}");
    }
    // Varied: from none to a few of each kind, per customer.
    assert!(varied["orders"] <= 6 * CUSTOMERS);
    assert!(varied["alerts"] <= 3 * CUSTOMERS);
    assert!(bare["orders"] < varied["orders"] && varied["orders"] < typical["orders"]);
    assert!(varied["baskets"] > 0 && varied["baskets"] < typical["baskets"]);
}
