//! Opening the database named by a URL, on whichever backend it names, and finishing with it.

use std::str::FromStr as _;

use sqlx::Pool;

use crate::error::CliError;

/// The backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Sqlite,
    Postgres,
    MySql,
}

impl Kind {
    pub(crate) fn of(url: &str) -> Kind {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Kind::Postgres
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Kind::MySql
        } else {
            Kind::Sqlite
        }
    }
}

/// Runs `$body` with `$db` bound to the backend type `url` names.
macro_rules! on_backend {
    ($url:expr, |$db:ident| $body:expr) => {
        match $crate::db::Kind::of($url) {
            $crate::db::Kind::Sqlite => {
                type $db = sqlx::Sqlite;
                $body
            }
            $crate::db::Kind::Postgres => {
                type $db = sqlx::Postgres;
                $body
            }
            $crate::db::Kind::MySql => {
                type $db = sqlx::MySql;
                $body
            }
        }
    };
}
pub(crate) use on_backend;

/// Whether to create a SQLite file that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    #[cfg_attr(not(feature = "demo"), allow(dead_code))]
    Yes,
    No,
}

/// A backend the CLI can open.
pub(crate) trait Open: erasure::Backend + erasure::Registered {
    fn open(url: &str, create: Create)
    -> impl Future<Output = Result<Pool<Self>, CliError>> + Send;

    /// Moves everything committed out of the write-ahead log into the database file and
    /// empties the log (SQLite); nothing on the servers, whose files are theirs to manage.
    fn checkpoint(pool: &Pool<Self>) -> impl Future<Output = Result<(), String>> + Send;
}

/// What a command did with its pool, for [`finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Used {
    /// It may have written (even if it then failed or rolled back).
    Write,
    /// It only read.
    Read,
}

/// Ends a command's use of `pool`, whatever `outcome` the command had: after a command that
/// wrote, checkpoints SQLite's write-ahead log with `TRUNCATE`; then closes the pool, which
/// waits until every connection is closed. Without this, the process can end before its
/// connections close: SQLite then never checkpoints, the database file keeps the pages from
/// before an erasure and the `-wal` file keeps the erased values, across runs.
///
/// Every command that opens a pool ends through here, with every connection it took returned
/// (or `close` would wait for them). A failed checkpoint is the command's error if the command
/// succeeded; after a failed command it is reported as a warning and the command's own error is
/// returned, so that its exit code stays the one that says what went wrong.
pub(crate) async fn finish<DB: Open, T>(
    pool: Pool<DB>,
    used: Used,
    outcome: Result<T, CliError>,
) -> Result<T, CliError> {
    let checkpointed = match used {
        Used::Write => DB::checkpoint(&pool).await,
        Used::Read => Ok(()),
    };
    pool.close().await;
    match (outcome, checkpointed) {
        (outcome, Ok(())) => outcome,
        (Ok(_), Err(e)) => Err(CliError::Other(format!(
            "the command's work is done, but the database could not be checkpointed: {e}; \
             what it removed may remain in its -wal file until the next checkpoint"
        ))),
        (Err(primary), Err(e)) => {
            eprintln!(
                "warning: the database could not be checkpointed either: {e}; \
                 what was removed may remain in its -wal file until the next checkpoint"
            );
            Err(primary)
        }
    }
}

fn unreachable(url: &str, cause: impl std::fmt::Display) -> CliError {
    CliError::Unreachable {
        url: erasure::redact::url(url),
        cause: cause.to_string(),
    }
}

impl Open for sqlx::Sqlite {
    async fn open(url: &str, create: Create) -> Result<Pool<Self>, CliError> {
        let options = erasure::sqlite::connect_options(url)
            .map_err(|e| unreachable(url, e))?
            .create_if_missing(create == Create::Yes);
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| unreachable(url, e))
    }

    async fn checkpoint(pool: &Pool<Self>) -> Result<(), String> {
        let mut conn = pool
            .acquire()
            .await
            .map_err(|e| erasure::DatabaseError::from(e).to_string())?;
        erasure::sqlite::checkpoint(&mut conn)
            .await
            .map_err(|e| e.to_string())
    }
}

impl Open for sqlx::Postgres {
    async fn open(url: &str, _create: Create) -> Result<Pool<Self>, CliError> {
        let options =
            sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| unreachable(url, e))?;
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| unreachable(url, e))
    }

    async fn checkpoint(_pool: &Pool<Self>) -> Result<(), String> {
        Ok(())
    }
}

impl Open for sqlx::MySql {
    async fn open(url: &str, _create: Create) -> Result<Pool<Self>, CliError> {
        let url = url.replacen("mariadb://", "mysql://", 1);
        let options =
            sqlx::mysql::MySqlConnectOptions::from_str(&url).map_err(|e| unreachable(&url, e))?;
        sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| unreachable(&url, e))
    }

    async fn checkpoint(_pool: &Pool<Self>) -> Result<(), String> {
        Ok(())
    }
}
