//! Fresh databases with the reference schema, one per test.

use std::future::Future;

use erasure_core::Backend;
use sqlx::Pool;
use sqlx::migrate::MigrateError;

/// A backend the test kit can create reference databases on.
pub trait TestBackend: Backend {
    /// Applies the reference schema's migrations.
    fn migrate(pool: &Pool<Self>) -> impl Future<Output = Result<(), MigrateError>> + Send + '_;
}

#[cfg(feature = "sqlite")]
impl TestBackend for sqlx::Sqlite {
    async fn migrate(pool: &Pool<Self>) -> Result<(), MigrateError> {
        sqlx::migrate!("migrations/sqlite").run(pool).await
    }
}

/// A database for one test: a pool on it, its URL, and whatever keeps it alive (the temporary
/// directory of a SQLite file).
#[derive(Debug)]
pub struct TestDb<DB: Backend> {
    /// The pool.
    pub pool: Pool<DB>,
    /// The URL it was opened with.
    pub url: String,
    dir: Option<tempfile::TempDir>,
}

impl<DB: Backend> TestDb<DB> {
    /// The directory holding the database file, for SQLite files.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }
}

/// Why a test database could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
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
            url,
            dir: None,
        })
    }

    /// A SQLite database file in a fresh temporary directory, in WAL mode, with the reference
    /// schema and a pool of up to `max_connections`.
    ///
    /// # Errors
    ///
    /// Creating, opening or migrating fails.
    pub async fn sqlite_file(max_connections: u32) -> Result<Self, SetupError> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("shop.db");
        let url = format!("sqlite://{}", path.display());
        let pool = erasure_core::sqlite::open(&url, max_connections).await?;
        <sqlx::Sqlite as TestBackend>::migrate(&pool).await?;
        Ok(Self {
            pool,
            url,
            dir: Some(dir),
        })
    }

    /// The path of the database file, for file databases.
    pub fn path(&self) -> Option<std::path::PathBuf> {
        self.dir().map(|d| d.join("shop.db"))
    }
}
