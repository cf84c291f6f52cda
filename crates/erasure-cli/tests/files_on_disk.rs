//! What the `erasure` binary leaves on disk when it exits (SQLite).
//!
//! Every command that writes checkpoints the write-ahead log with `TRUNCATE` and closes its pool
//! before the process ends, so that once it has returned, no value it erased or deleted is in
//! the database file or its `-wal`. These tests read the two files' bytes exactly as the process
//! left them, before anything else opens the database: opening and closing a SQLite database
//! checkpoints it, which would hide a command that exits without doing so. Whether a process's
//! connections are closed before it exits is a race, so every command runs many times, and every
//! run is checked.
//!
//! The same searches find the values of a customer who is kept, so the checks can fail.

mod support;

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use erasure_testkit::{Needle, Seed, SeedConfig, SeededCustomer};
use support::{http, path_of, wait_until};

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

fn wal_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}-wal", path.display()))
}

/// The bytes of a database file and of its write-ahead log, read without opening the database.
struct Files {
    main: Vec<u8>,
    wal: Vec<u8>,
}

impl Files {
    fn read(path: &Path) -> Self {
        let main = std::fs::read(path).expect("the database file");
        let wal = match std::fs::read(wal_of(path)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("cannot read the WAL: {e}"),
        };
        Self { main, wal }
    }

    /// The needles found in either file, labelled with the file.
    fn found(&self, needles: &[Needle]) -> Vec<String> {
        let mut found = Vec::new();
        for (file, bytes) in [("file", &self.main), ("wal", &self.wal)] {
            for i in search(bytes, needles) {
                found.push(format!("{} ({file})", needles[i].label));
            }
        }
        found
    }
}

/// The indexes of the needles that occur in `bytes`, in one pass: candidates are looked up by
/// the two bytes they start with (hundreds of needles in a megabyte, in a debug build, would
/// take minutes needle by needle).
fn search(bytes: &[u8], needles: &[Needle]) -> BTreeSet<usize> {
    let mut starting: Vec<Vec<usize>> = vec![Vec::new(); 1 << 16];
    for (i, n) in needles.iter().enumerate() {
        let v = n.value.as_bytes();
        assert!(v.len() >= 2, "{} is too short to search for", n.label);
        starting[(usize::from(v[0]) << 8) | usize::from(v[1])].push(i);
    }
    let mut hits = BTreeSet::new();
    for at in 0..bytes.len().saturating_sub(1) {
        for &i in &starting[(usize::from(bytes[at]) << 8) | usize::from(bytes[at + 1])] {
            if bytes[at..].starts_with(needles[i].value.as_bytes()) {
                hits.insert(i);
            }
        }
    }
    hits
}

/// A file shop built by the binary itself (`erasure init`, `erasure seed`), and what each run
/// of a writing command left behind.
struct Shop {
    _dir: tempfile::TempDir,
    path: PathBuf,
    url: String,
    seed: Seed,
    runs: usize,
    /// What a run left on disk that it should not have: the run's number, whether it is
    /// deleted values (or else a WAL not emptied), and what.
    defects: Vec<(usize, bool, String)>,
}

impl Shop {
    fn new(customers: u64) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("shop.db");
        let url = format!("sqlite://{}", path.display());
        let mut shop = Self {
            _dir: dir,
            path,
            url,
            seed: Seed::new(SeedConfig::new(customers)),
            runs: 0,
            defects: Vec::new(),
        };
        let url = shop.url.clone();
        shop.run(&["init", "--db", &url], 0, &[]);
        shop.run(
            &["seed", "--db", &url, "--customers", &customers.to_string()],
            0,
            &[],
        );
        shop
    }

    /// Runs a command that writes and expects exit `code`; reads the files the moment the
    /// process is gone and records a defect if any of `gone` is in them or the WAL is not empty.
    /// Returns the process's output and the files.
    fn run(&mut self, args: &[&str], code: i32, gone: &[Needle]) -> (Output, Files) {
        let out = erasure(args);
        // Before anything else: nothing may open the database until the bytes are read.
        let files = Files::read(&self.path);
        let what: Vec<&str> = args
            .iter()
            .take_while(|a| !a.starts_with("--"))
            .copied()
            .collect();
        let what = what.join(" ");
        assert_eq!(out.status.code(), Some(code), "{what}: {}", stderr(&out));
        self.runs += 1;
        let found = files.found(gone);
        if !found.is_empty() {
            self.defect(
                true,
                format!("{what}: {} deleted values on disk: {found:?}", found.len()),
            );
        }
        if !files.wal.is_empty() {
            self.defect(
                false,
                format!("{what}: the WAL holds {} bytes", files.wal.len()),
            );
        }
        (out, files)
    }

    /// Records that the last run left deleted `values` (or a WAL) on disk.
    fn defect(&mut self, values: bool, what: String) {
        self.defects.push((self.runs, values, what));
    }

    /// The values of a customer the runs keep: they must be in the files, or the search is
    /// blind.
    fn assert_kept(&self, files: &Files, kept: &SeededCustomer) {
        let found = files.found(&kept.needles());
        assert!(
            !found.is_empty(),
            "run {}: none of kept customer {}'s values is in the files: the search cannot fail",
            self.runs,
            kept.id
        );
    }

    fn assert_no_defects(&self) {
        let runs = |values: bool| {
            self.defects
                .iter()
                .filter(|(_, v, _)| *v == values)
                .map(|(run, _, _)| *run)
                .collect::<BTreeSet<usize>>()
                .len()
        };
        let lines: Vec<String> = self
            .defects
            .iter()
            .map(|(run, _, what)| format!("run {run}, {what}"))
            .collect();
        assert!(
            self.defects.is_empty(),
            "of {} runs, {} left deleted values on disk and {} a WAL not emptied:\n{}",
            self.runs,
            runs(true),
            runs(false),
            lines.join("\n")
        );
    }

    /// Customer ids and order numbers in the database (opening it: only once the files of the
    /// last run were read).
    async fn rows(&self) -> (BTreeSet<i64>, BTreeSet<String>) {
        let pool = erasure::sqlite::open(&self.url, 1).await.expect("open");
        let customers: Vec<i64> = sqlx::query_scalar("SELECT id FROM customers")
            .fetch_all(&pool)
            .await
            .expect("customers");
        let orders: Vec<String> = sqlx::query_scalar("SELECT order_no FROM orders")
            .fetch_all(&pool)
            .await
            .expect("orders");
        pool.close().await;
        (
            customers.into_iter().collect(),
            orders.into_iter().collect(),
        )
    }
}

#[test]
fn erase_leaves_no_erased_value_in_the_file_or_its_wal() {
    let mut shop = Shop::new(30);
    let kept = shop.seed.customer(29);
    let mut gone: Vec<Needle> = Vec::new();
    for index in 0..12 {
        let c = shop.seed.customer(index);
        gone.extend(c.needles());
        let url = shop.url.clone();
        let (_, files) = shop.run(
            &["erase", "--db", &url, "--customer", &c.id.to_string()],
            0,
            &gone,
        );
        shop.assert_kept(&files, &kept);
    }
    shop.assert_no_defects();
}

/// The shop's own application usually has the database open while an operator erases: the
/// binary's connections are then not the last to close, SQLite does not checkpoint when they
/// do, and only the binary's own `TRUNCATE` checkpoint moves the erasure into the file.
#[tokio::test]
async fn erase_checkpoints_while_another_connection_holds_the_database() {
    let mut shop = Shop::new(20);
    let kept = shop.seed.customer(19);
    let other = erasure::sqlite::open(&shop.url, 1).await.expect("open");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
        .fetch_one(&other)
        .await
        .expect("count");
    assert_eq!(n, 20);
    let mut gone: Vec<Needle> = Vec::new();
    for index in 0..8 {
        let c = shop.seed.customer(index);
        gone.extend(c.needles());
        let url = shop.url.clone();
        let (_, files) = shop.run(
            &["erase", "--db", &url, "--customer", &c.id.to_string()],
            0,
            &gone,
        );
        shop.assert_kept(&files, &kept);
    }
    other.close().await;
    shop.assert_no_defects();
}

/// A program that holds a read transaction open keeps the checkpoint from completing: the
/// erasure is done, but the command says that the `-wal` file keeps frames, and exits 1 instead
/// of claiming a clean finish.
#[tokio::test]
async fn a_checkpoint_held_back_by_a_reader_is_reported() {
    let shop = Shop::new(5);
    let c = shop.seed.customer(1);
    let reader = erasure::sqlite::open(&shop.url, 1).await.expect("open");
    let mut conn = reader.acquire().await.expect("conn");
    sqlx::query("BEGIN")
        .execute(&mut *conn)
        .await
        .expect("begin");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
        .fetch_one(&mut *conn)
        .await
        .expect("read");
    assert_eq!(n, 5);
    let out = erasure(&["erase", "--db", &shop.url, "--customer", &c.id.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("checkpoint could not complete"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("deleted"),
        "the erasure is reported: {}",
        stdout(&out)
    );
    sqlx::query("ROLLBACK")
        .execute(&mut *conn)
        .await
        .expect("end");
    drop(conn);
    reader.close().await;
}

#[test]
fn a_customers_file_that_fails_in_part_still_leaves_nothing_on_disk() {
    let mut shop = Shop::new(20);
    let kept = shop.seed.customer(19);
    let dir = tempfile::tempdir().expect("dir");
    let mut gone: Vec<Needle> = Vec::new();
    for round in 0..5 {
        let (a, b) = (
            shop.seed.customer(2 * round),
            shop.seed.customer(2 * round + 1),
        );
        gone.extend(a.needles());
        gone.extend(b.needles());
        // The middle line is not a customer id: the batch erases the others and exits 7.
        let file = dir.path().join(format!("round-{round}.txt"));
        std::fs::write(&file, format!("{}\n{}\n{}\n", a.id, "x".repeat(400), b.id)).expect("write");
        let url = shop.url.clone();
        let (out, files) = shop.run(
            &[
                "erase",
                "--db",
                &url,
                "--customers-file",
                file.to_str().expect("path"),
            ],
            7,
            &gone,
        );
        assert!(
            stdout(&out)
                .contains("3 subjects: 2 erased, 0 no-op (unknown or already erased), 1 failed"),
            "{}",
            stdout(&out)
        );
        shop.assert_kept(&files, &kept);
    }
    shop.assert_no_defects();
}

#[tokio::test]
async fn jobs_run_leaves_nothing_it_deleted_on_disk() {
    let mut shop = Shop::new(40);
    let dir = tempfile::tempdir().expect("dir");
    // The seed's users last logged in during the 90 days before the seed's "now": successive
    // runs with shorter periods find more and more of them inactive, and erase them; their
    // orders, anonymized and marked, are past retention or not, and the order purge deletes
    // those that are in the next run.
    let seeded = shop.seed.config().now;
    let since = (chrono::Utc::now() - seeded).num_days().max(0);
    let mut gone: Vec<Needle> = Vec::new();
    let (mut erased, mut purged) = (0, 0);
    for (run, back) in [85, 75, 65, 55, 45, 35, 25, 15].into_iter().enumerate() {
        let config = dir.path().join(format!("run-{run}.toml"));
        std::fs::write(
            &config,
            format!("[jobs]\ninactive_accounts_after = \"{}d\"\n", since + back),
        )
        .expect("write");
        let (customers, orders) = shop.rows().await;
        let url = shop.url.clone();
        let (out, files) = shop.run(
            &[
                "jobs",
                "run",
                "--db",
                &url,
                "--config",
                config.to_str().expect("path"),
            ],
            0,
            &gone,
        );
        // Only now may the database be opened: what did this run delete?
        let (customers_after, orders_after) = shop.rows().await;
        let mut deleted: Vec<Needle> = Vec::new();
        for id in customers.difference(&customers_after) {
            erased += 1;
            let index = u64::try_from(id - 1).expect("a seeded id");
            deleted.extend(shop.seed.customer(index).needles());
        }
        for no in orders.difference(&orders_after) {
            purged += 1;
            deleted.push(Needle::new(format!("order {no}"), no.clone()));
        }
        let found = files.found(&deleted);
        if !found.is_empty() {
            shop.defect(
                true,
                format!(
                    "jobs run: {} values it deleted on disk: {found:?}",
                    found.len()
                ),
            );
        }
        gone.extend(deleted);
        let kept = customers_after
            .first()
            .map(|id| {
                shop.seed
                    .customer(u64::try_from(id - 1).expect("a seeded id"))
            })
            .expect("a customer is kept");
        shop.assert_kept(&files, &kept);
        assert!(
            stdout(&out).contains("inactive-accounts"),
            "{}",
            stdout(&out)
        );
    }
    eprintln!(
        "{} runs deleted {erased} customers and {purged} orders",
        shop.runs - 2
    );
    assert!(
        erased >= 10 && purged >= 10,
        "the runs deleted too little to show anything: {erased} customers, {purged} orders"
    );
    shop.assert_no_defects();
}

#[test]
fn requests_process_leaves_no_erased_value_on_disk() {
    let mut shop = Shop::new(20);
    let kept = shop.seed.customer(19);
    let url = shop.url.clone();
    shop.run(&["requests", "install", "--db", &url], 0, &[]);
    let mut gone: Vec<Needle> = Vec::new();
    for index in 0..4 {
        let c = shop.seed.customer(index);
        let id = c.id.to_string();
        let email = c.users[0].email.clone();
        let (out, _) = shop.run(
            &[
                "requests",
                "submit",
                "--db",
                &url,
                "--customer",
                &id,
                "--contact",
                &email,
                "--json",
            ],
            0,
            &gone,
        );
        let submitted: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let request = submitted["request"]["id"].as_str().expect("id").to_owned();
        let token = submitted["token"].as_str().expect("token").to_owned();
        shop.run(
            &[
                "requests", "confirm", "--db", &url, &request, "--token", &token,
            ],
            0,
            &gone,
        );
        gone.extend(c.needles());
        let (out, files) = shop.run(&["requests", "process", "--db", &url], 0, &gone);
        assert!(
            stdout(&out).contains("1 requests processed, 1 completed, 0 failed"),
            "{}",
            stdout(&out)
        );
        shop.assert_kept(&files, &kept);
    }
    shop.assert_no_defects();
}

const SERVICE_TOKEN: &str = "a-service-token-of-the-storefront-0123456789";

/// Kills the server if the test fails before it stops it.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `erasure serve` carries out an erasure request (submitted over its API, confirmed through
/// the link it mails), then gets SIGTERM: once the process has exited, by itself and with
/// success, neither the database file nor its `-wal` holds any value of the customers it
/// erased, in this run or an earlier one, and the WAL is empty. Three servers in a row, one
/// erasure each.
#[test]
fn serve_leaves_no_erased_value_on_disk_after_sigterm() {
    let mut shop = Shop::new(10);
    let kept = shop.seed.customer(9);
    let url = shop.url.clone();
    shop.run(&["requests", "install", "--db", &url], 0, &[]);
    let dir = tempfile::tempdir().expect("dir");
    let mail = dir.path().join("mail.jsonl");
    let config = dir.path().join("erasure.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nworker_interval_seconds = 1\n\
             mail_command = [\"sh\", \"-c\", \"cat >> '{}'\"]\n",
            mail.display()
        ),
    )
    .expect("config");
    let mut gone: Vec<Needle> = Vec::new();
    for index in 0..3 {
        let c = shop.seed.customer(index);
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
            .env_remove("ERASURE_DATABASE_URL")
            .env_remove("ERASURE_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("erasure serve");
        let mut serving = Serving(child);
        wait_until("the server answers", || {
            std::net::TcpStream::connect(&addr).is_ok()
                && http(&addr, "GET", "/healthz", Some(SERVICE_TOKEN), None).0 == 200
        });
        let email = c.users[0].email.clone();
        let (status, body) = http(
            &addr,
            "POST",
            "/v1/requests",
            Some(SERVICE_TOKEN),
            Some(&format!(
                r#"{{"kind": "erasure", "customer": {}, "email": "{email}"}}"#,
                c.id
            )),
        );
        assert_eq!(status, 202, "{body}");
        let submitted: serde_json::Value = serde_json::from_str(&body).expect("json");
        let status_url = submitted["status_url"]
            .as_str()
            .expect("status url")
            .to_owned();
        // This run's confirmation is the mail file's confirmation number `index` (the file
        // also gets the messages that say an erasure was carried out).
        let confirmation = || -> Option<serde_json::Value> {
            let text = std::fs::read_to_string(&mail).ok()?;
            text.lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|m| m["kind"] == "confirm")
                .nth(index as usize)
        };
        wait_until("the confirmation message", || confirmation().is_some());
        let message = confirmation().expect("a confirmation");
        let (status, page) = http(
            &addr,
            "GET",
            path_of(message["url"].as_str().expect("url")),
            Some(SERVICE_TOKEN),
            None,
        );
        assert_eq!(status, 200, "{page}");
        wait_until("the erasure", || {
            http(
                &addr,
                "GET",
                path_of(&status_url),
                Some(SERVICE_TOKEN),
                None,
            )
            .1
            .contains("\"completed\"")
        });
        gone.extend(c.needles());

        let killed = Command::new("kill")
            .args(["-TERM", &serving.0.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let started = Instant::now();
        let exit = loop {
            if let Some(status) = serving.0.try_wait().expect("wait") {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "stops within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // Before anything else: nothing may open the database until the bytes are read.
        let files = Files::read(&shop.path);
        let mut stderr = String::new();
        if let Some(mut e) = serving.0.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        assert!(exit.success(), "{exit}: {stderr}");
        assert!(stderr.contains("erasure serve: stopped"), "{stderr}");
        shop.runs += 1;
        let found = files.found(&gone);
        if !found.is_empty() {
            shop.defect(
                true,
                format!("serve: {} erased values on disk: {found:?}", found.len()),
            );
        }
        if !files.wal.is_empty() {
            shop.defect(
                false,
                format!("serve: the WAL holds {} bytes", files.wal.len()),
            );
        }
        shop.assert_kept(&files, &kept);
    }
    shop.assert_no_defects();
}
