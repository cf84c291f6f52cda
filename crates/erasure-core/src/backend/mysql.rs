//! MySQL and MariaDB.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::mysql::MySqlRow;
use sqlx::{MySql, MySqlConnection, Row as _, TypeInfo as _, ValueRef as _};

use super::{Backend, Dialect, Isolation, Row, decode_rows, decode_stream, sealed, with_query};
use crate::sql::Sql;
use crate::value::Value;

impl sealed::Sealed for MySql {}

impl Backend for MySql {
    const DIALECT: Dialect = Dialect::MySql;

    const LOCKS_WHOLE_DATABASE: bool = false;

    const COLUMNS_SQL: &'static str = "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
         CAST(DATA_TYPE AS CHAR), IS_NULLABLE = 'NO' \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
         ORDER BY TABLE_NAME, ORDINAL_POSITION";

    const FOREIGN_KEYS_SQL: &'static str = "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
         CAST(REFERENCED_TABLE_NAME AS CHAR), CAST(REFERENCED_COLUMN_NAME AS CHAR) \
         FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
         ORDER BY TABLE_NAME, COLUMN_NAME";

    async fn execute(conn: &mut MySqlConnection, sql: &Sql) -> Result<u64, sqlx::Error> {
        with_query!(MySql, sql, |query| Ok(query
            .execute(&mut *conn)
            .await?
            .rows_affected()))
    }

    async fn fetch_all(conn: &mut MySqlConnection, sql: &Sql) -> Result<Vec<Row>, sqlx::Error> {
        let rows = with_query!(MySql, sql, |query| query.fetch_all(&mut *conn).await?);
        decode_rows(rows, decode)
    }

    fn fetch<'c>(
        conn: &'c mut MySqlConnection,
        sql: &'c Sql,
    ) -> futures_util::stream::BoxStream<'c, Result<Row, sqlx::Error>> {
        let rows = (|| Ok(with_query!(MySql, sql, |query| query.fetch(conn))))();
        decode_stream(rows, decode)
    }

    async fn start(conn: &mut MySqlConnection, isolation: Isolation) -> Result<(), sqlx::Error> {
        use sqlx_core::transaction::TransactionManager as _;
        if <MySql as sqlx::Database>::TransactionManager::get_transaction_depth(conn) > 0 {
            return super::start_or_savepoint::<Self>(conn, "").await;
        }
        // `SET TRANSACTION` applies to the next transaction only: the connection's own default
        // is untouched.
        let (level, statement) = match isolation {
            // The server's default may be READ COMMITTED (or the connection's last erasure set
            // it for one transaction): ask for the snapshot explicitly.
            Isolation::Snapshot => (
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
            ),
            Isolation::Consistent => (
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                "START TRANSACTION WITH CONSISTENT SNAPSHOT",
            ),
            // InnoDB's default, REPEATABLE READ, takes gap locks on every range an UPDATE or
            // DELETE scans; erasures of *different* customers then deadlock on neighbouring
            // index gaps. READ COMMITTED locks only the rows touched.
            Isolation::Write => ("SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "BEGIN"),
        };
        sqlx::query(level).execute(&mut *conn).await?;
        super::start_or_savepoint::<Self>(conn, statement).await
    }

    fn is_transient(error: &sqlx::Error) -> bool {
        // ER_LOCK_DEADLOCK (1213), ER_LOCK_WAIT_TIMEOUT (1205), and serialization failures
        // reported as SQLSTATE 40001.
        match error {
            sqlx::Error::Database(db) => {
                db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .is_some_and(|e| matches!(e.number(), 1205 | 1213))
                    || db.code().as_deref() == Some("40001")
            }
            _ => false,
        }
    }
}

fn decode(row: &MySqlRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let ty = raw.type_info().name().to_owned();
    Ok(match ty.as_str() {
        "BOOLEAN" => Value::Bool(row.try_get_unchecked::<bool, _>(i)?),
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => {
            Value::Int(row.try_get_unchecked::<i64, _>(i)?)
        }
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" => match i64::try_from(row.try_get_unchecked::<u64, _>(i)?) {
            Ok(v) => Value::Int(v),
            Err(_) => Value::Unsupported(ty),
        },
        "FLOAT" => Value::Float(row.try_get_unchecked::<f32, _>(i)?.into()),
        "DOUBLE" => Value::Float(row.try_get_unchecked::<f64, _>(i)?),
        "VARCHAR" | "CHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET" => {
            Value::Text(row.try_get_unchecked::<String, _>(i)?)
        }
        "TIMESTAMP" => Value::Timestamp(row.try_get_unchecked::<DateTime<Utc>, _>(i)?),
        "DATETIME" => Value::Timestamp(row.try_get_unchecked::<NaiveDateTime, _>(i)?.and_utc()),
        "DATE" => Value::Date(row.try_get_unchecked::<NaiveDate, _>(i)?),
        "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "VARBINARY" | "BINARY" => {
            // MySQL reports text with a binary collation (`utf8mb4_bin`) as a binary type too;
            // sqlx tells it apart by its character set, which is not `binary`.
            if <String as sqlx::Type<MySql>>::compatible(raw.type_info().as_ref()) {
                Value::Text(row.try_get_unchecked::<String, _>(i)?)
            } else {
                // A binary string (`BINARY(16)` UUIDs, `BLOB`): bytes, even when they happen to
                // be valid UTF-8, as SQLite's `BLOB` and PostgreSQL's `BYTEA` are.
                Value::Bytes(row.try_get_unchecked::<Vec<u8>, _>(i)?)
            }
        }
        _ => Value::Unsupported(ty),
    })
}
