//! SQLite: the embedded default.
//!
//! Besides the [`Backend`] implementation, this module opens databases the way an erasure library
//! needs them, because SQLite's defaults are wrong for it:
//!
//! * `journal_mode = WAL`, so readers do not block the writer;
//! * a busy timeout (5 s), so a second writer waits instead of failing with `database is locked`;
//! * `foreign_keys = ON`, so a forgotten table makes the erasure fail instead of leaving orphans;
//! * `secure_delete = ON`, so erased values are overwritten instead of surviving in free pages;
//! * write transactions that begin with `BEGIN IMMEDIATE` (see
//!   [`Isolation::Write`](crate::transaction::Isolation::Write));
//! * for in-memory databases, a pool of exactly one connection that is never closed: every
//!   `sqlite::memory:` connection is a different, empty database, and the database vanishes with
//!   its last connection.
//!
//! If you open the pool yourself, apply [`connect_options`] or the same pragmas.

use std::str::FromStr;
use std::time::Duration;

use sqlx::ValueRef as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::{Row as _, Sqlite, SqliteConnection, TypeInfo as _};

use super::{
    Backend, Dialect, Isolation, Row, decode_rows, decode_stream, sealed, with_batch, with_query,
};
use crate::sql::Sql;
use crate::value::Value;

/// Sends `statements` as one query (sqlx's SQLite driver prepares and steps each statement of
/// the text in turn, on its worker thread: one round trip), pushing each one's rows affected
/// onto `counts` as it completes.
async fn execute_together(
    conn: &mut SqliteConnection,
    statements: &[Sql],
    counts: &mut Vec<u64>,
) -> Result<(), sqlx::Error> {
    use futures_util::TryStreamExt as _;
    use sqlx::Executor as _;
    with_batch!(Sqlite, statements, |query| {
        let mut results = conn.fetch_many(query);
        while let Some(step) = results.try_next().await? {
            if let sqlx::Either::Left(done) = step {
                counts.push(done.rows_affected());
            }
        }
    });
    if counts.len() == statements.len() {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(format!(
            "{} statements sent together, {} results",
            statements.len(),
            counts.len()
        )))
    }
}

/// The busy timeout [`connect_options`] sets.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl sealed::Sealed for Sqlite {}

impl Backend for Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;

    // `BEGIN IMMEDIATE` takes the database's write lock up front.
    const LOCKS_WHOLE_DATABASE: bool = true;

    const FOLDS_SAVEPOINTS: bool = true;

    const COLUMNS_SQL: &'static str = "SELECT m.name, p.name, p.type, p.\"notnull\" \
         FROM sqlite_schema AS m JOIN pragma_table_info(m.name) AS p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite~_%' ESCAPE '~' \
         ORDER BY m.name, p.cid";

    const FOREIGN_KEYS_SQL: &'static str = "SELECT m.name, f.\"from\", f.\"table\", f.\"to\" \
         FROM sqlite_schema AS m JOIN pragma_foreign_key_list(m.name) AS f \
         WHERE m.type = 'table' ORDER BY m.name, f.\"from\"";

    async fn execute(conn: &mut SqliteConnection, sql: &Sql) -> Result<u64, sqlx::Error> {
        with_query!(Sqlite, sql, |query| Ok(query
            .execute(&mut *conn)
            .await?
            .rows_affected()))
    }

    async fn execute_batch(
        conn: &mut SqliteConnection,
        statements: &[Sql],
    ) -> Result<Vec<u64>, (usize, sqlx::Error)> {
        if statements.len() < 2 {
            return super::execute_each::<Sqlite>(conn, statements).await;
        }
        let mut counts = Vec::with_capacity(statements.len());
        match execute_together(conn, statements, &mut counts).await {
            Ok(()) => Ok(counts),
            // The statement after the last one that reported is the one that failed.
            Err(e) => Err((counts.len().min(statements.len() - 1), e)),
        }
    }

    async fn fetch_all(conn: &mut SqliteConnection, sql: &Sql) -> Result<Vec<Row>, sqlx::Error> {
        let rows = with_query!(Sqlite, sql, |query| query.fetch_all(&mut *conn).await?);
        decode_rows(rows, decode)
    }

    fn fetch<'c>(
        conn: &'c mut SqliteConnection,
        sql: &'c Sql,
    ) -> futures_util::stream::BoxStream<'c, Result<Row, sqlx::Error>> {
        let rows = (|| Ok(with_query!(Sqlite, sql, |query| query.fetch(conn))))();
        decode_stream(rows, decode)
    }

    async fn start(conn: &mut SqliteConnection, isolation: Isolation) -> Result<(), sqlx::Error> {
        let statement = match isolation {
            // Deferred: the snapshot starts with the first read; WAL readers never block the
            // writer.
            Isolation::Snapshot => "BEGIN DEFERRED",
            // The write lock up front: a deferred `BEGIN` that reads and then writes fails
            // with SQLITE_BUSY_SNAPSHOT when another connection wrote in between, whatever the
            // busy timeout. SQLite is serializable, so `Consistent` needs nothing more.
            Isolation::Write | Isolation::Consistent => "BEGIN IMMEDIATE",
        };
        super::start_or_savepoint::<Self>(conn, statement).await
    }

    fn is_transient(error: &sqlx::Error) -> bool {
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes (BUSY_SNAPSHOT 517,
        // LOCKED_SHAREDCACHE 262, …) in the low byte.
        match error {
            sqlx::Error::Database(db) => db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
            _ => false,
        }
    }
}

fn decode(row: &SqliteRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    // SQLite is dynamically typed: decode by the storage class of the value itself.
    let ty = raw.type_info().name().to_owned();
    Ok(match ty.as_str() {
        "INTEGER" | "BOOLEAN" => Value::Int(row.try_get_unchecked::<i64, _>(i)?),
        "REAL" => Value::Float(row.try_get_unchecked::<f64, _>(i)?),
        "TEXT" | "DATETIME" | "DATE" | "TIME" => {
            Value::Text(row.try_get_unchecked::<String, _>(i)?)
        }
        "BLOB" => Value::Bytes(row.try_get_unchecked::<Vec<u8>, _>(i)?),
        _ => Value::Unsupported(ty),
    })
}

/// Connect options for `url` with the pragmas above applied.
///
/// `url` is a sqlx SQLite URL (`sqlite://shop.db`, `sqlite::memory:`) or a plain path. Files are
/// created if missing. WAL is not applied to in-memory databases (it does not exist there).
///
/// # Errors
///
/// The URL does not parse.
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
    let options = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url)?
    } else {
        SqliteConnectOptions::new().filename(url)
    };
    let in_memory = is_in_memory(url);
    let options = options
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("secure_delete", "ON");
    Ok(if in_memory {
        options
    } else {
        options.journal_mode(SqliteJournalMode::Wal)
    })
}

fn is_in_memory(url: &str) -> bool {
    url == "sqlite::memory:"
        || url == "sqlite://:memory:"
        || url == ":memory:"
        || url.contains("mode=memory")
}

/// Opens a pool on `url` with [`connect_options`].
///
/// For an in-memory database the pool holds exactly one connection, opened now and never
/// closed for idleness or age, so every user of the pool sees the same database for as long as
/// the pool lives. For a file, up to `max_connections` connections (readers run in parallel in
/// WAL mode; writers queue on the busy timeout).
///
/// # Errors
///
/// The URL does not parse or the database cannot be opened.
///
/// ```
/// # async fn f() -> Result<(), sqlx::Error> {
/// let pool = erasure_core::sqlite::open("sqlite::memory:", 4).await?;
/// sqlx::query("CREATE TABLE t (x INTEGER)").execute(&pool).await?;
/// // a second connection would be a different database; the pool never opens one
/// sqlx::query("INSERT INTO t VALUES (1)").execute(&pool).await?;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(f()).unwrap();
/// ```
pub async fn open(url: &str, max_connections: u32) -> Result<SqlitePool, sqlx::Error> {
    let options = connect_options(url)?;
    let pool = if is_in_memory(url) {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(max_connections.max(1))
    };
    pool.connect_with(options).await
}

/// Runs a WAL checkpoint that truncates the `-wal` file, so that everything committed is in the
/// main database file (and, with `secure_delete`, erased values are gone from both files).
///
/// The checkpoint waits for other connections up to the busy timeout; a connection still
/// reading an old snapshot (an open read transaction) keeps it from completing, and the
/// `-wal` file then keeps frames, erased values among them, until a later checkpoint.
///
/// # Errors
///
/// [`CheckpointError::Busy`] when the checkpoint could not complete (with how far it got);
/// [`CheckpointError::Database`] when the statement fails.
pub async fn checkpoint(conn: &mut SqliteConnection) -> Result<(), CheckpointError> {
    let (busy, log, checkpointed): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(conn)
            .await?;
    if busy != 0 {
        return Err(CheckpointError::Busy { log, checkpointed });
    }
    Ok(())
}

/// Why [`checkpoint`] did not empty the write-ahead log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Another connection kept the checkpoint from completing (it was reading an old snapshot,
    /// or writing) until the busy timeout ran out.
    #[error(
        "the checkpoint could not complete: another connection was using the database \
         ({checkpointed} of {log} log frames were written back); the -wal file keeps the rest \
         until a later checkpoint"
    )]
    Busy {
        /// Frames in the log.
        log: i64,
        /// Frames written back to the database file.
        checkpointed: i64,
    },
    /// The statement failed.
    #[error(transparent)]
    Database(#[from] super::DatabaseError),
}

impl From<sqlx::Error> for CheckpointError {
    fn from(e: sqlx::Error) -> Self {
        CheckpointError::Database(e.into())
    }
}
