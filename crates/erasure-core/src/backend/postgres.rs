//! PostgreSQL.
//!
//! Deleted and overwritten rows stay in a table's pages as dead tuples until `VACUUM` marks their
//! space reusable, and their bytes stay until something is written over them; the WAL and backups
//! keep old row versions for their own retention. [`reclaim`] runs the `VACUUM` that removes
//! erased values from the tables after a batch of erasures.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, Row as _, TypeInfo as _, ValueRef as _};

use super::{Backend, Dialect, Isolation, Row, decode_rows, decode_stream, sealed, with_query};
use crate::sql::Sql;
use crate::value::Value;

impl sealed::Sealed for Postgres {}

impl Backend for Postgres {
    const DIALECT: Dialect = Dialect::Postgres;

    const LOCKS_WHOLE_DATABASE: bool = false;

    const COLUMNS_SQL: &'static str = "SELECT table_name::text, column_name::text, \
         data_type::text, is_nullable = 'NO' \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         ORDER BY table_name, ordinal_position";

    const FOREIGN_KEYS_SQL: &'static str = "SELECT cl.relname::text, att.attname::text, \
         rcl.relname::text, ratt.attname::text \
         FROM pg_constraint AS c \
         JOIN pg_class AS cl ON cl.oid = c.conrelid \
         JOIN pg_namespace AS n ON n.oid = cl.relnamespace \
         JOIN pg_class AS rcl ON rcl.oid = c.confrelid \
         CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(col, rcol) \
         JOIN pg_attribute AS att ON att.attrelid = c.conrelid AND att.attnum = k.col \
         JOIN pg_attribute AS ratt ON ratt.attrelid = c.confrelid AND ratt.attnum = k.rcol \
         WHERE c.contype = 'f' AND n.nspname = current_schema() \
         ORDER BY 1, 2";

    async fn execute(conn: &mut PgConnection, sql: &Sql) -> Result<u64, sqlx::Error> {
        with_query!(Postgres, sql, |query| Ok(query
            .execute(&mut *conn)
            .await?
            .rows_affected()))
    }

    const JOINS_WRITES: bool = true;

    async fn execute_joined(
        conn: &mut PgConnection,
        statements: &[Sql],
    ) -> Result<Vec<u64>, sqlx::Error> {
        if statements.len() < 2 {
            return super::execute_each::<Postgres>(conn, statements)
                .await
                .map_err(|(_, e)| e);
        }
        counts(conn, statements, Joined::Writes).await
    }

    async fn count_joined(
        conn: &mut PgConnection,
        selects: &[Sql],
    ) -> Result<Vec<u64>, sqlx::Error> {
        if selects.len() < 2 {
            return super::count_each::<Postgres>(conn, selects).await;
        }
        counts(conn, selects, Joined::Reads).await
    }

    async fn fetch_all(conn: &mut PgConnection, sql: &Sql) -> Result<Vec<Row>, sqlx::Error> {
        let rows = with_query!(Postgres, sql, |query| query.fetch_all(&mut *conn).await?);
        decode_rows(rows, decode)
    }

    fn fetch<'c>(
        conn: &'c mut PgConnection,
        sql: &'c Sql,
    ) -> futures_util::stream::BoxStream<'c, Result<Row, sqlx::Error>> {
        let rows = (|| Ok(with_query!(Postgres, sql, |query| query.fetch(conn))))();
        decode_stream(rows, decode)
    }

    async fn start(conn: &mut PgConnection, isolation: Isolation) -> Result<(), sqlx::Error> {
        let statement = match isolation {
            Isolation::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            Isolation::Consistent => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            // The connection's default (READ COMMITTED unless configured otherwise).
            Isolation::Write => "BEGIN",
        };
        super::start_or_savepoint::<Self>(conn, statement).await
    }

    fn is_transient(error: &sqlx::Error) -> bool {
        // serialization_failure, deadlock_detected, lock_not_available.
        match error {
            sqlx::Error::Database(db) => {
                matches!(db.code().as_deref(), Some("40001" | "40P01" | "55P03"))
            }
            _ => false,
        }
    }
}

/// What [`joined`] joins: writes (each returns a row per row it touched) or reads.
#[derive(Debug, Clone, Copy)]
enum Joined {
    /// `DELETE`/`UPDATE` statements: `RETURNING 1` added, `WITH` queries named `w0`, `w1`, ….
    Writes,
    /// `SELECT` statements (with `FOR UPDATE`: locks), named `l0`, `l1`, ….
    Reads,
}

/// `statements` as one `WITH` query (writable for [`Joined::Writes`]) that returns one row:
/// the rows each one affected or selected, in order.
fn joined(statements: &[Sql], kind: Joined) -> (String, Vec<&Value>) {
    use std::fmt::Write as _;
    let (name, returning) = match kind {
        Joined::Writes => ('w', " RETURNING 1"),
        Joined::Reads => ('l', ""),
    };
    let mut text = String::from("WITH ");
    let mut values = Vec::new();
    for (i, sql) in statements.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        let _ = write!(text, "\"{name}{i}\" AS (");
        sql.render_into(Dialect::Postgres, &mut text, &mut values);
        text.push_str(returning);
        text.push(')');
    }
    text.push_str(" SELECT ");
    for i in 0..statements.len() {
        if i > 0 {
            text.push_str(", ");
        }
        let _ = write!(text, "(SELECT count(*) FROM \"{name}{i}\")");
    }
    (text, values)
}

/// Sends `statements` as one statement ([`joined`]) and reads each one's count.
async fn counts(
    conn: &mut PgConnection,
    statements: &[Sql],
    kind: Joined,
) -> Result<Vec<u64>, sqlx::Error> {
    let (text, values) = joined(statements, kind);
    let args = super::arguments::<Postgres>(&values)?;
    // Built from `Sql::render_into` (fixed text, quoted identifiers, placeholders) and fixed
    // text of its own; every value is bound by `args`.
    let row = sqlx::query_with::<Postgres, _>(sqlx::AssertSqlSafe(text), args)
        .fetch_one(&mut *conn)
        .await?;
    (0..statements.len())
        .map(|i| {
            let rows: i64 = row.try_get(i)?;
            // count(*) is never negative.
            Ok(u64::try_from(rows).unwrap_or_default())
        })
        .collect()
}

fn decode(row: &PgRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let ty = raw.type_info().name().to_owned();
    Ok(match ty.as_str() {
        "INT2" => Value::Int(row.try_get::<i16, _>(i)?.into()),
        "INT4" => Value::Int(row.try_get::<i32, _>(i)?.into()),
        "INT8" => Value::Int(row.try_get::<i64, _>(i)?),
        "FLOAT4" => Value::Float(row.try_get::<f32, _>(i)?.into()),
        "FLOAT8" => Value::Float(row.try_get::<f64, _>(i)?),
        "BOOL" => Value::Bool(row.try_get::<bool, _>(i)?),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "CITEXT" => {
            Value::Text(row.try_get_unchecked::<String, _>(i)?)
        }
        "TIMESTAMPTZ" => Value::Timestamp(row.try_get::<DateTime<Utc>, _>(i)?),
        "TIMESTAMP" => Value::Timestamp(row.try_get::<NaiveDateTime, _>(i)?.and_utc()),
        "DATE" => Value::Date(row.try_get::<NaiveDate, _>(i)?),
        "BYTEA" => Value::Bytes(row.try_get::<Vec<u8>, _>(i)?),
        _ => Value::Unsupported(ty),
    })
}

/// How thoroughly [`reclaim`] vacuums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vacuum {
    /// `VACUUM`: dead tuples' space becomes reusable; their bytes are overwritten only as new
    /// rows take the space. Does not block reads or writes.
    Plain,
    /// `VACUUM FULL`: each table is rewritten without its dead tuples, so the erased values leave
    /// the table's files at once. Takes an exclusive lock on each table while it runs.
    Full,
}

/// Vacuums `tables` (one statement per table; `VACUUM` cannot run inside a transaction, so pass
/// a connection that is not in one).
///
/// ```no_run
/// # async fn f(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
/// use erasure_core::{ident, postgres::{reclaim, Vacuum}};
/// reclaim(conn, &[ident!("orders"), ident!("order_addresses"), ident!("users")], Vacuum::Full).await?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// A statement fails (for example inside a transaction).
pub async fn reclaim(
    conn: &mut PgConnection,
    tables: &[crate::Ident],
    mode: Vacuum,
) -> Result<(), sqlx::Error> {
    for table in tables {
        let mut sql = Sql::new(match mode {
            Vacuum::Plain => "VACUUM ",
            Vacuum::Full => "VACUUM FULL ",
        });
        sql.ident(table);
        <Postgres as Backend>::execute(conn, &sql).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(text: &'static str, value: i64) -> Sql {
        let mut sql = Sql::new(text);
        sql.bind(value);
        sql
    }

    #[test]
    fn joined_writes_return_a_row_each_and_joined_reads_do_not() {
        let writes = [
            statement("DELETE FROM a WHERE x = ", 1),
            statement("UPDATE b SET y = NULL WHERE x = ", 2),
        ];
        let (text, values) = joined(&writes, Joined::Writes);
        assert_eq!(
            text,
            "WITH \"w0\" AS (DELETE FROM a WHERE x = $1 RETURNING 1), \
             \"w1\" AS (UPDATE b SET y = NULL WHERE x = $2 RETURNING 1) \
             SELECT (SELECT count(*) FROM \"w0\"), (SELECT count(*) FROM \"w1\")"
        );
        assert_eq!(values, [&Value::Int(1), &Value::Int(2)]);
        let reads = [
            statement("SELECT id FROM a WHERE x = ", 3),
            statement("SELECT id FROM b WHERE x = ", 4),
            statement("SELECT id FROM c WHERE x = ", 5),
        ];
        let (text, values) = joined(&reads, Joined::Reads);
        assert_eq!(
            text,
            "WITH \"l0\" AS (SELECT id FROM a WHERE x = $1), \"l1\" AS (SELECT id FROM b WHERE x = $2), \
             \"l2\" AS (SELECT id FROM c WHERE x = $3) SELECT (SELECT count(*) FROM \"l0\"), \
             (SELECT count(*) FROM \"l1\"), (SELECT count(*) FROM \"l2\")"
        );
        assert_eq!(values.len(), 3);
    }
}
