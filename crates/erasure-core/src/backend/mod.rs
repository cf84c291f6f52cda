//! The backend layer: the one place that knows each database.
//!
//! [`Backend`] is implemented for [`sqlx::Sqlite`], [`sqlx::Postgres`] and [`sqlx::MySql`] (behind
//! the features of the same names). It renders [`Sql`] for its [`Dialect`], binds the values,
//! executes, decodes rows into [`Value`]s and begins transactions the way the database needs.
//! Handler crates are written once, generic over `DB: Backend`, and never name a sqlx trait
//! bound: the higher-ranked `Executor` and per-type `Encode`/`Type` bounds live here and only here.
//!
//! This module must never execute SQL text that did not come out of [`Sql::render`]; it is the
//! only caller of [`sqlx::AssertSqlSafe`] in the crate.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::stream::BoxStream;
use sqlx::{Arguments as _, Database, Encode, Type};

pub use crate::dialect::Dialect;
use crate::sql::Sql;
use crate::value::Value;
use catalog::{ColumnInfo, ForeignKeyInfo};
pub use error::DatabaseError;

pub(crate) mod catalog;
mod error;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// What a transaction must see and lock, per database.
///
/// Inside a transaction the connection already has, every kind begins a savepoint, and the
/// enclosing transaction's isolation applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isolation {
    /// Work that writes: an erasure, a purge batch, a request's transition.
    ///
    /// SQLite: `BEGIN IMMEDIATE`, taking the write lock up front (a deferred `BEGIN` that reads
    /// and then writes fails with `SQLITE_BUSY_SNAPSHOT` when another connection wrote in
    /// between, whatever the busy timeout). MySQL: `READ COMMITTED`, so that erasures of
    /// different customers do not deadlock on InnoDB's gap locks. PostgreSQL: the connection's
    /// default (`READ COMMITTED` unless configured otherwise).
    Write,
    /// Work that claims a row and then reads many tables that must agree (a worker carrying out
    /// an export request).
    ///
    /// PostgreSQL: `REPEATABLE READ` (a concurrent update of a row it then writes fails it with
    /// a serialization error, a lock conflict). MySQL: `REPEATABLE READ` with a consistent
    /// snapshot. SQLite: `BEGIN IMMEDIATE`, serializable anyway.
    Consistent,
    /// Reads only, all from one snapshot (an export's many queries).
    ///
    /// PostgreSQL: `REPEATABLE READ, READ ONLY`. MySQL: `REPEATABLE READ` with a consistent
    /// snapshot, read only. SQLite: a deferred `BEGIN`, which in WAL mode reads one snapshot
    /// without blocking writers.
    Snapshot,
}

/// One row read back through the backend layer.
///
/// `Debug` shows column names and redacted values.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// Builds a row; `columns` and `values` have the same length.
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        debug_assert_eq!(columns.len(), values.len());
        Self { columns, values }
    }

    /// The column names, in select order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The values, in select order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Consumes the row into its values.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// The value of the column named `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.columns
            .iter()
            .position(|c| c == name)
            .map(|i| &self.values[i])
    }

    /// The value at `index`.
    pub fn get_index(&self, index: usize) -> Option<&Value> {
        self.values.get(index)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A database `erasure` runs on: [`sqlx::Sqlite`], [`sqlx::Postgres`] or [`sqlx::MySql`].
///
/// Sealed: the set of backends is part of this crate. Handler code is generic over it:
///
/// ```
/// use erasure_core::{Backend, sql::{Condition, Delete}, ident};
///
/// async fn purge_alerts<DB: Backend>(conn: &mut DB::Connection) -> Result<u64, sqlx::Error> {
///     let stmt = Delete::new(ident!("alerts"), Condition::is_null(ident!("customer_id")));
///     DB::execute(conn, &stmt.to_sql()).await
/// }
/// ```
pub trait Backend: Database + sealed::Sealed {
    /// The dialect statements are rendered in.
    const DIALECT: Dialect;

    /// Whether a write transaction ([`Isolation::Write`]) holds the lock of the whole database
    /// (SQLite), so that no other writer can come between its reads and its writes: row locks
    /// (`SELECT … FOR UPDATE`) are then not taken, the database having no such statement.
    /// `false` where rows are locked one by one (PostgreSQL, MySQL).
    const LOCKS_WHOLE_DATABASE: bool;

    /// Executes `sql` and returns the number of rows it affected.
    ///
    /// On MySQL this is the number of rows *matched* (the connection sets
    /// `CLIENT_FOUND_ROWS`), as on the other databases, so that an update that writes a value a
    /// row already holds still counts the row.
    fn execute<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c Sql,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c;

    /// Executes `statements` in order and returns the rows each affected (as
    /// [`execute`](Self::execute) counts them): in one round trip on SQLite (one query of
    /// several statements), one statement at a time on the others.
    ///
    /// On failure: the index of the statement that failed, and why. The statements before it
    /// ran; the enclosing transaction must be rolled back.
    fn execute_batch<'c>(
        conn: &'c mut Self::Connection,
        statements: &'c [Sql],
    ) -> impl Future<Output = Result<Vec<u64>, (usize, sqlx::Error)>> + Send + 'c {
        execute_each::<Self>(conn, statements)
    }

    /// Whether [`execute_joined`](Self::execute_joined) sends its statements as one statement
    /// (PostgreSQL: a writable `WITH`), so that the chain may join neighbouring planned writes
    /// into one round trip. `false` where it would send them one at a time.
    const JOINS_WRITES: bool = false;

    /// Whether [`execute_batch`](Self::execute_batch) sends its statements as one query
    /// (SQLite), so that the subjects of a batch keep one savepoint open between them, its
    /// `RELEASE` and the next `SAVEPOINT` sent with a subject's last statements (see
    /// [`transaction`](crate::transaction)). `false` where each statement is a round trip
    /// anyway.
    const FOLDS_SAVEPOINTS: bool = false;

    /// Executes `statements` as **one** statement and returns the rows each affected, as
    /// [`execute`](Self::execute) counts them.
    ///
    /// On PostgreSQL every statement becomes a data-modifying `WITH` query
    /// (`WITH w0 AS (DELETE … RETURNING 1), w1 AS (UPDATE … RETURNING 1) SELECT (SELECT count(*)
    /// FROM w0), …`): one round trip whatever their number. They all see the database as it
    /// was before the statement, and foreign-key checks and `AFTER` triggers run once all of
    /// them are done. So the caller joins only statements none of which reads or writes a
    /// table an earlier one writes (the chain's rule, in `staged`); sent that way, the result
    /// is the one the statements give one at a time. A failure does not say which statement
    /// failed: the chain then runs them again one at a time.
    ///
    /// Elsewhere (and by default) the statements run one at a time.
    #[doc(hidden)]
    fn execute_joined<'c>(
        conn: &'c mut Self::Connection,
        statements: &'c [Sql],
    ) -> impl Future<Output = Result<Vec<u64>, sqlx::Error>> + Send + 'c {
        async move {
            execute_each::<Self>(conn, statements)
                .await
                .map_err(|(_, e)| e)
        }
    }

    /// Runs `selects` and returns how many rows each selected, in order: as **one** statement
    /// where the backend joins statements ([`JOINS_WRITES`](Self::JOINS_WRITES); on
    /// PostgreSQL `WITH l0 AS (SELECT …), l1 AS (…) SELECT (SELECT count(*) FROM l0), …`),
    /// one at a time elsewhere. The chain sends a handler's neighbouring lock steps
    /// (`SELECT … FOR UPDATE`) this way: the outer query reads its subqueries in order, so the
    /// rows are locked in the statements' order, as one at a time.
    #[doc(hidden)]
    fn count_joined<'c>(
        conn: &'c mut Self::Connection,
        selects: &'c [Sql],
    ) -> impl Future<Output = Result<Vec<u64>, sqlx::Error>> + Send + 'c {
        count_each::<Self>(conn, selects)
    }

    /// Executes `sql` and returns every row it selects.
    fn fetch_all<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c Sql,
    ) -> impl Future<Output = Result<Vec<Row>, sqlx::Error>> + Send + 'c;

    /// Executes `sql` and yields its rows one at a time, as the database sends them, for
    /// results too large to hold in memory (an export of a customer with 100,000 orders).
    /// Memory stays bounded by sqlx's per-connection buffers, whatever the result's size.
    fn fetch<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c Sql,
    ) -> BoxStream<'c, Result<Row, sqlx::Error>>;

    /// Begins a transaction of `isolation` on `conn`, or a savepoint when `conn` is already
    /// inside a transaction (whose isolation then applies). Only the
    /// [`transaction`](crate::transaction) module calls this: it owns every begin, commit and
    /// rollback of the workspace.
    ///
    /// What each isolation means on each database is documented on [`Isolation`].
    #[doc(hidden)]
    fn start(
        conn: &mut Self::Connection,
        isolation: Isolation,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + '_;

    /// Whether `error` is a lock conflict that a new attempt of the whole transaction may not
    /// meet again: a deadlock, a serialization failure, a lock wait timeout, SQLite's busy or
    /// locked. The chain retries such failures when it owns the transaction.
    fn is_transient(error: &sqlx::Error) -> bool;

    /// The catalog query listing `table, column, data type, not null` for every table of the
    /// current database (SQLite), schema (PostgreSQL) or database (MySQL), in table and column
    /// order. Fixed text.
    #[doc(hidden)]
    const COLUMNS_SQL: &'static str;

    /// Every column of every table of the current database or schema, in table and column
    /// order. The library's own tables and sqlx's migration table are included.
    fn columns(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<Vec<ColumnInfo>, sqlx::Error>> + Send + '_ {
        async move {
            let sql = Sql::new(Self::COLUMNS_SQL);
            let rows = Self::fetch_all(conn, &sql).await?;
            rows.iter().map(ColumnInfo::from_row).collect()
        }
    }

    /// The catalog query listing `table, column, referenced table, referenced column` for every
    /// foreign key of the current database or schema. Fixed text.
    #[doc(hidden)]
    const FOREIGN_KEYS_SQL: &'static str;

    /// Every foreign-key column of the current database or schema, with what it refers to.
    fn foreign_keys(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<Vec<ForeignKeyInfo>, sqlx::Error>> + Send + '_ {
        async move {
            let sql = Sql::new(Self::FOREIGN_KEYS_SQL);
            let rows = Self::fetch_all(conn, &sql).await?;
            rows.iter().map(ForeignKeyInfo::from_row).collect()
        }
    }
}

/// Runs `selects` one at a time: [`Backend::count_joined`] where the backend does not join
/// statements, or there are fewer than two.
async fn count_each<DB: Backend>(
    conn: &mut DB::Connection,
    selects: &[Sql],
) -> Result<Vec<u64>, sqlx::Error> {
    let mut counts = Vec::with_capacity(selects.len());
    for sql in selects {
        counts.push(DB::fetch_all(conn, sql).await?.len() as u64);
    }
    Ok(counts)
}

/// Executes `statements` one at a time: [`Backend::execute_batch`] where the driver takes one
/// statement per query.
async fn execute_each<DB: Backend>(
    conn: &mut DB::Connection,
    statements: &[Sql],
) -> Result<Vec<u64>, (usize, sqlx::Error)> {
    let mut counts = Vec::with_capacity(statements.len());
    for (i, sql) in statements.iter().enumerate() {
        counts.push(DB::execute(conn, sql).await.map_err(|e| (i, e))?);
    }
    Ok(counts)
}

/// Begins a transaction with `statement`, or a savepoint (sqlx's numbered `SAVEPOINT`) when
/// `conn` is already inside a transaction.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
async fn start_or_savepoint<DB: Database>(
    conn: &mut DB::Connection,
    statement: &'static str,
) -> Result<(), sqlx::Error> {
    use sqlx::SqlSafeStr as _;
    use sqlx_core::transaction::TransactionManager as _;
    if DB::TransactionManager::get_transaction_depth(conn) > 0 {
        DB::TransactionManager::begin(conn, None).await
    } else {
        DB::TransactionManager::begin(conn, Some(statement.into_sql_str())).await
    }
}

/// Binds `values` for `DB`. The per-type bounds live here, once, for all backends.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
fn arguments<DB>(values: &[&Value]) -> Result<DB::Arguments, sqlx::Error>
where
    DB: Database,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> f64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    for<'q> NaiveDate: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
{
    let mut args = DB::Arguments::default();
    for value in values {
        let added = match value {
            Value::Bool(b) => args.add(*b),
            Value::Int(i) => args.add(*i),
            Value::Float(x) => args.add(*x),
            Value::Text(s) => args.add(s.clone()),
            Value::Timestamp(t) => args.add(*t),
            Value::Date(d) => args.add(*d),
            Value::Bytes(b) => args.add(b.clone()),
            // `render` writes NULL literally and never yields it as a value to bind.
            Value::Null => Ok(()),
            Value::Unsupported(ty) => Err(format!("cannot bind a value of type {ty}").into()),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// Runs a query built from `sql` for `DB`: render, bind, execute with `run`.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(unused_macros)
)]
macro_rules! with_query {
    ($db:ty, $sql:expr, |$query:ident| $body:expr) => {{
        let (text, values) = $sql.render(<$db as $crate::backend::Backend>::DIALECT);
        let args = $crate::backend::arguments::<$db>(&values)?;
        // The text comes out of `Sql::render`: fixed fragments, validated identifiers and
        // placeholders. Values are bound by `args`.
        let $query = ::sqlx::query_with::<$db, _>(::sqlx::AssertSqlSafe(text), args);
        $body
    }};
}
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(unused_imports)
)]
pub(crate) use with_query;

/// Runs one query made of `statements` for `DB`: each rendered and ended by `;`, their values
/// bound in order (`?` placeholders take the next value, statement after statement).
#[cfg_attr(not(feature = "sqlite"), allow(unused_macros))]
macro_rules! with_batch {
    ($db:ty, $statements:expr, |$query:ident| $body:expr) => {{
        let mut text = String::new();
        let mut values = Vec::new();
        for sql in $statements {
            let (t, v) = sql.render(<$db as $crate::backend::Backend>::DIALECT);
            text.push_str(&t);
            text.push_str(";\n");
            values.extend(v);
        }
        let args = $crate::backend::arguments::<$db>(&values)?;
        // Each statement's text comes out of `Sql::render`, as in `with_query`; the joining `;`
        // is fixed text. Values are bound by `args`.
        let $query = ::sqlx::query_with::<$db, _>(::sqlx::AssertSqlSafe(text), args);
        $body
    }};
}
#[cfg_attr(not(feature = "sqlite"), allow(unused_imports))]
pub(crate) use with_batch;

/// Names of the columns of a row, shared by all rows of a result.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
fn column_names<R: sqlx::Row>(row: &R) -> Arc<[String]> {
    use sqlx::Column as _;
    row.columns().iter().map(|c| c.name().to_owned()).collect()
}

/// Decodes a stream of rows with `decode`, sharing the column names of the first row.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
fn decode_stream<'c, R: sqlx::Row + 'c>(
    rows: Result<BoxStream<'c, Result<R, sqlx::Error>>, sqlx::Error>,
    decode: fn(&R, usize) -> Result<Value, sqlx::Error>,
) -> BoxStream<'c, Result<Row, sqlx::Error>> {
    use futures_util::StreamExt as _;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => return futures_util::stream::once(async move { Err(e) }).boxed(),
    };
    let mut columns: Option<Arc<[String]>> = None;
    rows.map(move |row| {
        let row = row?;
        let columns = columns.get_or_insert_with(|| column_names(&row)).clone();
        let values = (0..columns.len())
            .map(|i| decode(&row, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Row::new(columns, values))
    })
    .boxed()
}

/// Decodes every row of a result with `decode`, sharing the column names.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
fn decode_rows<R: sqlx::Row>(
    rows: Vec<R>,
    decode: impl Fn(&R, usize) -> Result<Value, sqlx::Error>,
) -> Result<Vec<Row>, sqlx::Error> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = column_names(first);
    rows.iter()
        .map(|row| {
            let values = (0..columns.len())
                .map(|i| decode(row, i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Row::new(columns.clone(), values))
        })
        .collect()
}
