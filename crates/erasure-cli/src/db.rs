//! Opening the database named by a URL, on whichever backend it names.

use std::str::FromStr as _;

use erasure_testkit::TestBackend;
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
    Yes,
    No,
}

/// A backend the CLI can open.
pub(crate) trait Open: TestBackend {
    fn open(url: &str, create: Create)
    -> impl Future<Output = Result<Pool<Self>, CliError>> + Send;
}

fn unreachable(url: &str, cause: impl std::fmt::Display) -> CliError {
    CliError::Unreachable {
        url: erasure_testkit::db::redact_url(url),
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
}
