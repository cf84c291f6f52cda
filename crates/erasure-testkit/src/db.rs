//! Fresh databases with the reference schema, one per test.
//!
//! * SQLite: in memory, or a file in a temporary directory.
//! * PostgreSQL and MySQL/MariaDB: a new database (`erasure_t_<time>_<random>`) on the server
//!   named by `ERASURE_TEST_POSTGRES_URL` / `ERASURE_TEST_MYSQL_URL` (defaults: the local servers
//!   described in `DEVELOPERS.md`), dropped again when the [`TestDb`] is dropped. Databases left
//!   behind by a killed test run are dropped by the next run after six hours.
//!
//! Each test gets its own database, so tests run in parallel without seeing each other's rows.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use erasure_core::Backend;
use sqlx::Pool;
use sqlx::migrate::MigrateError;

/// The default PostgreSQL server for tests.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The default MySQL/MariaDB server for tests.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";
/// Set to `1` to make an unreachable server fail the tests instead of skipping them (CI does).
pub const REQUIRE_BACKENDS: &str = "ERASURE_REQUIRE_BACKENDS";

#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
const PREFIX: &str = "erasure_t_";
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

/// Whether unreachable servers must fail the tests (`ERASURE_REQUIRE_BACKENDS=1`).
pub fn backends_required() -> bool {
    std::env::var(REQUIRE_BACKENDS).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// A backend the test kit can create reference databases on.
pub trait TestBackend: Backend + erasure_core::Registered {
    /// The backend's name in messages: `sqlite`, `postgres`, `mysql`.
    const LABEL: &'static str;

    /// Applies the reference schema's migrations.
    fn migrate(pool: &Pool<Self>) -> impl Future<Output = Result<(), MigrateError>> + Send + '_;

    /// A fresh database with the reference schema and a pool of up to `max_connections` (a
    /// file for SQLite).
    fn fresh(
        max_connections: u32,
    ) -> impl Future<Output = Result<TestDb<Self>, SetupError>> + Send {
        async move {
            let db = Self::empty(max_connections).await?;
            Self::migrate(&db.pool).await?;
            Ok(db)
        }
    }

    /// A fresh database with no tables, for fixtures of other schemas (a platform's, for its
    /// preset), and a pool of up to `max_connections` (a file for SQLite).
    fn empty(max_connections: u32)
    -> impl Future<Output = Result<TestDb<Self>, SetupError>> + Send;
}

/// A database for one test: a pool on it, its URL, and whatever keeps it alive or cleans it up.
#[derive(Debug)]
pub struct TestDb<DB: Backend> {
    /// The pool.
    pub pool: Pool<DB>,
    /// The URL it was opened with, any password replaced by `***` ([`erasure_core::redact::url`]).
    pub url: String,
    connect_url: String,
    dir: Option<tempfile::TempDir>,
    server: Option<ServerDb>,
}

/// A database created on a server for one test, dropped with the [`TestDb`].
#[derive(Debug, Clone)]
struct ServerDb {
    admin_url: String,
    name: String,
}

impl<DB: Backend> TestDb<DB> {
    /// The directory holding the database file, for SQLite files.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    /// A URL that connects to this database (with the password, if any): for handing the
    /// database to another process, such as the CLI in its tests.
    pub fn connect_url(&self) -> &str {
        &self.connect_url
    }

    /// The server-side database name, for PostgreSQL and MySQL.
    pub fn database_name(&self) -> Option<&str> {
        self.server.as_ref().map(|s| s.name.as_str())
    }
}

impl<DB: Backend> Drop for TestDb<DB> {
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        let dialect = DB::DIALECT;
        // Drop is synchronous and may run inside a runtime: do the async cleanup on a thread of
        // its own, with a runtime of its own, and wait for it.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(drop_database(dialect, &server.admin_url, &server.name));
        });
        let _ = handle.join();
    }
}

/// Why a test database could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The server could not be reached.
    #[error("{backend} server at {url} is unreachable: {cause}")]
    Unreachable {
        /// `postgres` or `mysql`.
        backend: &'static str,
        /// The server URL.
        url: String,
        /// Why.
        cause: sqlx::Error,
    },
    /// Connecting or creating failed.
    #[error("could not open the test database: {0}")]
    Open(#[from] sqlx::Error),
    /// A migration failed.
    #[error("could not apply the reference schema: {0}")]
    Migrate(#[from] MigrateError),
    /// The temporary directory could not be created.
    #[error("could not create a temporary directory: {0}")]
    Io(#[from] std::io::Error),
}

impl SetupError {
    /// Whether the server was unreachable (the test may be skipped unless
    /// [`backends_required`]).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, SetupError::Unreachable { .. })
    }
}

/// `url` with its path (the database name) replaced by `database`, query string kept.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_end..]
        .find('/')
        .map_or(base.len(), |i| authority_end + i);
    let mut out = format!("{}/{database}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn unique_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{PREFIX}{}_{}", now.as_secs(), &random[..12])
}

#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn is_stale(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let Some(Ok(created)) = rest.split('_').next().map(str::parse::<u64>) else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.as_secs().saturating_sub(created) > STALE_AFTER.as_secs()
}

#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
async fn drop_database(dialect: erasure_core::Dialect, admin_url: &str, name: &str) {
    // Names are generated here from a fixed prefix, digits and hex: safe to splice.
    debug_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    match dialect {
        #[cfg(feature = "postgres")]
        erasure_core::Dialect::Postgres => {
            use sqlx::Connection as _;
            if let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await {
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
        }
        #[cfg(feature = "mysql")]
        erasure_core::Dialect::MySql => {
            use sqlx::Connection as _;
            if let Ok(mut conn) = sqlx::MySqlConnection::connect(admin_url).await {
                let sql = format!("DROP DATABASE IF EXISTS `{name}`");
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
        }
        _ => {
            let _ = (admin_url, name);
        }
    }
}

#[cfg(feature = "sqlite")]
impl TestBackend for sqlx::Sqlite {
    const LABEL: &'static str = "sqlite";

    async fn migrate(pool: &Pool<Self>) -> Result<(), MigrateError> {
        sqlx::migrate!("migrations/sqlite").run(pool).await
    }

    async fn empty(max_connections: u32) -> Result<TestDb<Self>, SetupError> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("shop.db");
        let url = format!("sqlite://{}", path.display());
        let pool = erasure_core::sqlite::open(&url, max_connections).await?;
        Ok(TestDb {
            pool,
            connect_url: url.clone(),
            url,
            dir: Some(dir),
            server: None,
        })
    }
}

#[cfg(feature = "sqlite")]
impl TestDb<sqlx::Sqlite> {
    /// An in-memory SQLite database with the reference schema (one connection, see
    /// [`erasure_core::sqlite::open`]).
    ///
    /// # Errors
    ///
    /// Opening or migrating fails.
    pub async fn sqlite_memory() -> Result<Self, SetupError> {
        let url = "sqlite::memory:".to_owned();
        let pool = erasure_core::sqlite::open(&url, 1).await?;
        <sqlx::Sqlite as TestBackend>::migrate(&pool).await?;
        Ok(Self {
            pool,
            connect_url: url.clone(),
            url,
            dir: None,
            server: None,
        })
    }

    /// A SQLite database file in a fresh temporary directory, in WAL mode, with the reference
    /// schema and a pool of up to `max_connections`.
    ///
    /// # Errors
    ///
    /// Creating, opening or migrating fails.
    pub async fn sqlite_file(max_connections: u32) -> Result<Self, SetupError> {
        <sqlx::Sqlite as TestBackend>::fresh(max_connections).await
    }

    /// The path of the database file, for file databases.
    pub fn path(&self) -> Option<std::path::PathBuf> {
        self.dir().map(|d| d.join("shop.db"))
    }
}

#[cfg(feature = "postgres")]
impl TestBackend for sqlx::Postgres {
    const LABEL: &'static str = "postgres";

    async fn migrate(pool: &Pool<Self>) -> Result<(), MigrateError> {
        sqlx::migrate!("migrations/postgres").run(pool).await
    }

    async fn empty(max_connections: u32) -> Result<TestDb<Self>, SetupError> {
        use sqlx::Connection as _;
        use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
        use std::str::FromStr as _;

        let admin_url = std::env::var("ERASURE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let unreachable = |cause| SetupError::Unreachable {
            backend: "postgres",
            url: erasure_core::redact::url(&admin_url),
            cause,
        };
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .map_err(unreachable)?;
        let existing: Vec<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'erasure\\_t\\_%'",
        )
        .fetch_all(&mut admin)
        .await?;
        for stale in existing.iter().filter(|n| is_stale(n)) {
            drop_database(erasure_core::Dialect::Postgres, &admin_url, stale).await;
        }
        let name = unique_name();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let options = PgConnectOptions::from_str(&admin_url)?.database(&name);
        let server = ServerDb {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options)
            .await?;
        let db = TestDb {
            pool,
            url: format!(
                "{} (database {name})",
                erasure_core::redact::url(&admin_url)
            ),
            connect_url: with_database(&admin_url, &name),
            dir: None,
            server: Some(server),
        };
        Ok(db)
    }
}

#[cfg(feature = "mysql")]
impl TestBackend for sqlx::MySql {
    const LABEL: &'static str = "mysql";

    async fn migrate(pool: &Pool<Self>) -> Result<(), MigrateError> {
        sqlx::migrate!("migrations/mysql").run(pool).await
    }

    async fn empty(max_connections: u32) -> Result<TestDb<Self>, SetupError> {
        use sqlx::Connection as _;
        use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
        use std::str::FromStr as _;

        let admin_url = std::env::var("ERASURE_TEST_MYSQL_URL")
            .unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned());
        let unreachable = |cause| SetupError::Unreachable {
            backend: "mysql",
            url: erasure_core::redact::url(&admin_url),
            cause,
        };
        let mut admin = sqlx::MySqlConnection::connect(&admin_url)
            .await
            .map_err(unreachable)?;
        let existing: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'erasure\\_t\\_%'",
        )
        .fetch_all(&mut admin)
        .await?;
        for stale in existing.iter().filter(|n| is_stale(n)) {
            drop_database(erasure_core::Dialect::MySql, &admin_url, stale).await;
        }
        let name = unique_name();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        let options = MySqlConnectOptions::from_str(&admin_url)?.database(&name);
        let server = ServerDb {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let pool = MySqlPoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options)
            .await?;
        let db = TestDb {
            pool,
            url: format!(
                "{} (database {name})",
                erasure_core::redact::url(&admin_url)
            ),
            connect_url: with_database(&admin_url, &name),
            dir: None,
            server: Some(server),
        };
        Ok(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_recognised_and_fresh_ones_are_not_stale() {
        let name = unique_name();
        assert!(name.starts_with(PREFIX));
        assert!(!is_stale(&name));
        assert!(is_stale("erasure_t_1000_abcdef"));
        assert!(!is_stale("erasure_t_x_abcdef"));
        assert!(!is_stale("production"));
    }

    #[test]
    fn database_names_replace_the_path() {
        assert_eq!(
            with_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_database("mysql://root@h", "x"), "mysql://root@h/x");
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
