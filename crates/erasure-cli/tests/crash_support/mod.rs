//! What the crash tests need from each database: copies of a seeded shop for a process to be
//! killed on, the database's own view of an open write transaction, and the wait until a
//! server has let go of a killed client.
//!
//! How an open write transaction is seen, from outside the `erasure` process and without any
//! hook in it:
//!
//! * **SQLite**: a second connection with a busy timeout of 0 tries `BEGIN IMMEDIATE`. It fails
//!   with `SQLITE_BUSY` exactly while another connection holds the write lock, which the library
//!   takes with its own `BEGIN IMMEDIATE` and keeps until `COMMIT` or `ROLLBACK` (a checkpoint
//!   and the last connection's close take it too, briefly). When the probe gets the lock, it
//!   gives it back at once with `ROLLBACK`.
//! * **PostgreSQL**: `pg_stat_activity` lists a backend of the process (found by the
//!   `application_name` its URL sets) with a `backend_xid`: a transaction that has begun writing
//!   and has not ended.
//! * **MariaDB**: `SHOW ENGINE INNODB STATUS` lists a transaction with `undo log entries` (it
//!   has written and has not ended) on a thread that `PROCESSLIST` shows on the database.
//!   (`information_schema.INNODB_TRX` would be the structured view, but InnoDB refreshes it
//!   only for a read that comes more than 100 ms after the previous one ended, so a probe
//!   polling it faster reads one stale snapshot for ever, and one polling slower sees a purge's
//!   short batches too rarely.)

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use erasure::Dialect;
use erasure::Value;
use erasure::sql::Sql;
use erasure_testkit::db::{DEFAULT_MYSQL_URL, DEFAULT_POSTGRES_URL, backends_required};
use erasure_testkit::dump::{Dump, dump};
use erasure_testkit::{TestBackend, TestDb};
use sqlx::{Connection as _, Pool};

/// The `application_name` the killed processes connect to PostgreSQL with.
pub(crate) const APPLICATION: &str = "erasure-crash-test";

/// A fresh database on `DB`, or `None` when its server is unreachable and
/// `ERASURE_REQUIRE_BACKENDS` is not set (with `ERASURE_REQUIRE_BACKENDS=1` the test fails).
pub(crate) async fn fresh<DB: TestBackend>(max_connections: u32) -> Option<TestDb<DB>> {
    match DB::fresh(max_connections).await {
        Ok(db) => Some(db),
        Err(e) if e.is_unreachable() && !backends_required() => {
            eprintln!("skipped on {}: {e}", DB::LABEL);
            None
        }
        Err(e) => panic!("{}: {e}", DB::LABEL),
    }
}

fn admin_url(dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => std::env::var("ERASURE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned()),
        _ => {
            std::env::var("ERASURE_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned())
        }
    }
}

/// A name the test kit's clean-up recognises (`erasure_t_<time>_<random>`), so a copy left
/// behind by a killed test run is dropped by a later run.
fn copy_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("erasure_t_{secs}_{}", &random[..12])
}

/// `url` naming `to` instead of `from` as its database (`from` is a generated name: it occurs
/// once, as the path).
fn renamed(url: &str, from: &str, to: &str) -> String {
    url.replacen(&format!("/{from}"), &format!("/{to}"), 1)
}

/// `url` with `application_name` set, for PostgreSQL; other URLs unchanged.
fn for_cli(dialect: Dialect, url: &str) -> String {
    if dialect == Dialect::Postgres {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}application_name={APPLICATION}")
    } else {
        url.to_owned()
    }
}

/// A database the `erasure` process works on: its URL for the process, and how the test reaches
/// it.
#[derive(Debug)]
pub(crate) struct Place {
    /// The URL the process is given (on PostgreSQL with `application_name` set).
    pub(crate) cli_url: String,
    check_url: String,
    dialect: Dialect,
    /// SQLite: the file.
    path: Option<PathBuf>,
    /// Servers: the database's name.
    name: Option<String>,
    /// Whether [`Place::remove`] drops it (copies) or the [`TestDb`] does.
    owned: bool,
}

impl Place {
    /// The database of `db` itself.
    pub(crate) fn of<DB: TestBackend>(db: &TestDb<DB>) -> Self {
        Self {
            cli_url: for_cli(DB::DIALECT, db.connect_url()),
            check_url: db.connect_url().to_owned(),
            dialect: DB::DIALECT,
            path: db.path_of_file(),
            name: db.database_name().map(str::to_owned),
            owned: false,
        }
    }

    /// A pool of one connection, for checking what the process left.
    pub(crate) async fn pool<DB: TestBackend>(&self) -> Pool<DB> {
        sqlx::pool::PoolOptions::<DB>::new()
            .max_connections(1)
            .connect(&self.check_url)
            .await
            .expect("connect to check")
    }

    /// The dump of every table, and on SQLite the result of `PRAGMA integrity_check`.
    pub(crate) async fn dump<DB: TestBackend>(&self) -> Dump {
        let pool = self.pool::<DB>().await;
        let mut conn = pool.acquire().await.expect("conn");
        if DB::DIALECT == Dialect::Sqlite {
            let rows = DB::fetch_all(&mut conn, &Sql::new("PRAGMA integrity_check"))
                .await
                .expect("integrity check");
            let verdict: Vec<&Value> = rows.iter().filter_map(|r| r.get_index(0)).collect();
            assert_eq!(
                verdict,
                [&Value::Text("ok".into())],
                "PRAGMA integrity_check"
            );
        }
        let d = dump::<DB>(&mut conn).await.expect("dump");
        drop(conn);
        pool.close().await;
        d
    }

    /// A watch on this database's open write transactions.
    pub(crate) async fn watch(&self) -> Watch {
        match self.dialect {
            Dialect::Sqlite => {
                let options = erasure::sqlite::connect_options(&self.check_url)
                    .expect("options")
                    .create_if_missing(false)
                    .busy_timeout(Duration::ZERO);
                Watch::Sqlite(
                    sqlx::SqliteConnection::connect_with(&options)
                        .await
                        .expect("probe connection"),
                )
            }
            Dialect::Postgres => Watch::Postgres {
                conn: sqlx::PgConnection::connect(&admin_url(Dialect::Postgres))
                    .await
                    .expect("admin connection"),
                name: self.name.clone().expect("server database"),
            },
            Dialect::MySql => Watch::MySql {
                conn: sqlx::MySqlConnection::connect(&admin_url(Dialect::MySql))
                    .await
                    .expect("admin connection"),
                name: self.name.clone().expect("server database"),
            },
        }
    }

    /// Removes a copy (deletes the file, drops the database); nothing for [`Place::of`].
    pub(crate) async fn remove(self) {
        if !self.owned {
            return;
        }
        if let Some(path) = &self.path {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        if let Some(name) = &self.name {
            let sql = match self.dialect {
                Dialect::Postgres => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS `{name}`"),
            };
            admin_execute(self.dialect, &[sql]).await;
        }
    }
}

/// Runs `statements` on one admin connection to the server of `dialect`.
async fn admin_execute(dialect: Dialect, statements: &[String]) {
    let url = admin_url(dialect);
    match dialect {
        Dialect::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("admin");
            for s in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(s.clone()))
                    .execute(&mut conn)
                    .await
                    .expect("admin statement");
            }
            let _ = conn.close().await;
        }
        _ => {
            let mut conn = sqlx::MySqlConnection::connect(&url).await.expect("admin");
            for s in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(s.clone()))
                    .execute(&mut conn)
                    .await
                    .expect("admin statement");
            }
            let _ = conn.close().await;
        }
    }
}

/// Where the file of a SQLite [`TestDb`] is.
trait FileOf {
    fn path_of_file(&self) -> Option<PathBuf>;
}

impl<DB: TestBackend> FileOf for TestDb<DB> {
    fn path_of_file(&self) -> Option<PathBuf> {
        (DB::DIALECT == Dialect::Sqlite)
            .then(|| self.dir().map(|d| d.join("shop.db")))
            .flatten()
    }
}

/// A seeded shop that copies are made of, one per killed process.
pub(crate) struct Template<DB: TestBackend> {
    db: TestDb<DB>,
    copies: AtomicU64,
}

impl<DB: TestBackend> Template<DB> {
    /// Makes the seeded `db` a template: SQLite checkpointed and closed (copies are copies of
    /// its file); PostgreSQL closed (`CREATE DATABASE … TEMPLATE` needs it unused); MariaDB as
    /// it is (its tables are copied with their data).
    pub(crate) async fn new(db: TestDb<DB>) -> Self {
        match DB::DIALECT {
            Dialect::Sqlite => {
                let mut conn = db.pool.acquire().await.expect("conn");
                DB::fetch_all(&mut conn, &Sql::new("PRAGMA wal_checkpoint(TRUNCATE)"))
                    .await
                    .expect("checkpoint");
                drop(conn);
                db.pool.close().await;
            }
            Dialect::Postgres => db.pool.close().await,
            Dialect::MySql => {}
        }
        Self {
            db,
            copies: AtomicU64::new(0),
        }
    }

    /// A new copy of the template.
    pub(crate) async fn copy(&self) -> Place {
        let n = self.copies.fetch_add(1, Ordering::Relaxed);
        match DB::DIALECT {
            Dialect::Sqlite => {
                let from = self.db.path_of_file().expect("file");
                let dir = self.db.dir().expect("dir");
                let to = dir.join(format!("copy-{n}.db"));
                for suffix in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", to.display()));
                }
                std::fs::copy(&from, &to).expect("copy the template");
                let url = format!("sqlite://{}", to.display());
                Place {
                    cli_url: url.clone(),
                    check_url: url,
                    dialect: Dialect::Sqlite,
                    path: Some(to),
                    name: None,
                    owned: true,
                }
            }
            Dialect::Postgres => {
                let from = self.db.database_name().expect("name");
                let to = copy_name();
                admin_execute(
                    Dialect::Postgres,
                    &[format!("CREATE DATABASE \"{to}\" TEMPLATE \"{from}\"")],
                )
                .await;
                let url = renamed(self.db.connect_url(), from, &to);
                Place {
                    cli_url: for_cli(Dialect::Postgres, &url),
                    check_url: url,
                    dialect: Dialect::Postgres,
                    path: None,
                    name: Some(to),
                    owned: true,
                }
            }
            Dialect::MySql => {
                let from = self.db.database_name().expect("name");
                let to = copy_name();
                mysql_copy(from, &to).await;
                let url = renamed(self.db.connect_url(), from, &to);
                Place {
                    cli_url: url.clone(),
                    check_url: url,
                    dialect: Dialect::MySql,
                    path: None,
                    name: Some(to),
                    owned: true,
                }
            }
        }
    }
}

/// Copies every table of `from` with its data into a new database `to`: the same `CREATE
/// TABLE` (foreign keys included), then `INSERT … SELECT`, with foreign-key checks off for the
/// session while the tables fill.
async fn mysql_copy(from: &str, to: &str) {
    use sqlx::Row as _;
    let mut conn = sqlx::MySqlConnection::connect(&admin_url(Dialect::MySql))
        .await
        .expect("admin");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
    )
    .bind(from)
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut statements = vec![
        format!("CREATE DATABASE `{to}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
        "SET FOREIGN_KEY_CHECKS = 0".to_owned(),
        format!("USE `{to}`"),
    ];
    for table in &tables {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SHOW CREATE TABLE `{from}`.`{table}`"
        )))
        .fetch_one(&mut conn)
        .await
        .expect("show create table");
        let create: String = row.try_get_unchecked(1).expect("create statement");
        statements.push(create);
        statements.push(format!(
            "INSERT INTO `{to}`.`{table}` SELECT * FROM `{from}`.`{table}`"
        ));
    }
    statements.push("SET FOREIGN_KEY_CHECKS = 1".to_owned());
    for s in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(s))
            .execute(&mut conn)
            .await
            .expect("copy statement");
    }
    let _ = conn.close().await;
}

/// The database's own view of the killed process's transactions (see the module
/// documentation).
pub(crate) enum Watch {
    /// A connection that tries `BEGIN IMMEDIATE` without waiting.
    Sqlite(sqlx::SqliteConnection),
    /// An admin connection reading `pg_stat_activity`.
    Postgres {
        /// The connection.
        conn: sqlx::PgConnection,
        /// The database watched.
        name: String,
    },
    /// An admin connection reading `PROCESSLIST` and `SHOW ENGINE INNODB STATUS`.
    MySql {
        /// The connection.
        conn: sqlx::MySqlConnection,
        /// The database watched.
        name: String,
    },
}

impl Watch {
    /// Whether a write transaction is open on the database right now.
    pub(crate) async fn write_open(&mut self) -> bool {
        match self {
            Watch::Sqlite(conn) => match sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await
            {
                Ok(_) => {
                    sqlx::raw_sql("ROLLBACK")
                        .execute(&mut *conn)
                        .await
                        .expect("give the lock back");
                    false
                }
                Err(sqlx::Error::Database(e))
                    if e.code()
                        .and_then(|c| c.parse::<i32>().ok())
                        .is_some_and(|c| c & 0xff == 5) =>
                {
                    true
                }
                Err(e) => panic!("SQLite probe: {e}"),
            },
            Watch::Postgres { conn, name } => {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pg_stat_activity \
                     WHERE datname = $1 AND application_name = $2 AND backend_xid IS NOT NULL",
                )
                .bind(name.as_str())
                .bind(APPLICATION)
                .fetch_one(&mut *conn)
                .await
                .expect("pg_stat_activity");
                n > 0
            }
            Watch::MySql { conn, name } => {
                use sqlx::Row as _;
                let threads: Vec<i64> = sqlx::query_scalar(
                    "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST WHERE DB = ?",
                )
                .bind(name.as_str())
                .fetch_all(&mut *conn)
                .await
                .expect("PROCESSLIST");
                if threads.is_empty() {
                    return false;
                }
                let status: String = sqlx::query("SHOW ENGINE INNODB STATUS")
                    .fetch_one(&mut *conn)
                    .await
                    .expect("SHOW ENGINE INNODB STATUS")
                    .try_get_unchecked(2)
                    .expect("status text");
                // One block per transaction: `---TRANSACTION 123, ACTIVE 0 sec`, then (once it
                // has written) `… undo log entries 25`, then `MariaDB thread id 42, …`.
                status.split("---TRANSACTION ").skip(1).any(|block| {
                    block.contains("undo log entries")
                        && threads
                            .iter()
                            .any(|id| block.contains(&format!(" thread id {id},")))
                })
            }
        }
    }

    /// Sessions of the process still on the server (SQLite: none; a killed process's locks go
    /// with it).
    async fn sessions(&mut self) -> i64 {
        match self {
            Watch::Sqlite(_) => 0,
            Watch::Postgres { conn, name } => sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
            )
            .bind(name.as_str())
            .bind(APPLICATION)
            .fetch_one(&mut *conn)
            .await
            .expect("pg_stat_activity"),
            Watch::MySql { conn, name } => sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ?",
            )
            .bind(name.as_str())
            .fetch_one(&mut *conn)
            .await
            .expect("PROCESSLIST"),
        }
    }

    /// Waits until the server has ended every session of the killed process (and with them
    /// its transaction: rolled back, or committed if its `COMMIT` was already on the way), so
    /// that what the test reads next is final.
    pub(crate) async fn settle(&mut self) {
        let started = Instant::now();
        while self.sessions().await > 0 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server kept the killed process's session for a minute"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Closes the probe's connection.
    pub(crate) async fn close(self) {
        let _ = match self {
            Watch::Sqlite(conn) => conn.close().await,
            Watch::Postgres { conn, .. } => conn.close().await,
            Watch::MySql { conn, .. } => conn.close().await,
        };
    }
}

/// The rows of `table` in `dump` by their first column (`id`), with the index of `column`.
pub(crate) fn rows_by_id(dump: &Dump, table: &str) -> std::collections::BTreeMap<i64, Vec<Value>> {
    dump.table(table)
        .map(|t| {
            t.rows
                .iter()
                .filter_map(|r| match r.first() {
                    Some(Value::Int(id)) => Some((*id, r.clone())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The index of `column` in `table` of `dump`.
pub(crate) fn column(dump: &Dump, table: &str, column: &str) -> usize {
    dump.table(table)
        .and_then(|t| t.columns.iter().position(|c| c == column))
        .unwrap_or_else(|| panic!("no column {table}.{column}"))
}

/// An `i64` or `None` for `NULL`.
pub(crate) fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        Value::Null => None,
        other => panic!("not an integer: {other:?}"),
    }
}
