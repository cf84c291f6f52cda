//! The deferral ledger: the library's own table of rows deferred to purge jobs, for shops whose
//! tables have no column to mark them with.
//!
//! The reference schema marks an order for the purge job with `to_be_deleted` and a basket with
//! status `INVALID`. A shop's own schema often has neither (Magento's `sales_order`,
//! WooCommerce's `wc_orders`), and a library that erases data must not alter a shop's schema.
//! Then the handler records the deferred rows in `erasure_deferred` (table, key, when), in the
//! erasure's transaction, and the purge job reads it: it deletes the rows listed there that are
//! due, and forgets them.
//!
//! Keys are stored as text, so that integer, text and binary keys all fit: integers in decimal
//! and text as it is (`CAST(key AS TEXT)`), binary keys (`BLOB`, `BYTEA`, `BINARY(16)`: the
//! UUIDs of Shopware) as lowercase hex digits. A deferral is recorded once: deferring a row
//! again changes nothing.
//!
//! Install the table with [`install`] (the CLI's `erasure install` and `erasure init` do).

use sqlx::Pool;

use crate::backend::{Backend, Dialect};
use crate::footprint::Footprint;
use crate::ident::Ident;
use crate::sql::{Condition, Expr, Sql};
use crate::value::Value;

/// The ledger's table.
pub const TABLE: &str = "erasure_deferred";

const SQLITE: &str = "CREATE TABLE IF NOT EXISTS erasure_deferred (\
    table_name TEXT NOT NULL, \
    row_key TEXT NOT NULL, \
    deferred_at TEXT NOT NULL, \
    PRIMARY KEY (table_name, row_key))";

const POSTGRES: &str = "CREATE TABLE IF NOT EXISTS erasure_deferred (\
    table_name TEXT NOT NULL, \
    row_key TEXT NOT NULL, \
    deferred_at TIMESTAMPTZ NOT NULL, \
    PRIMARY KEY (table_name, row_key))";

const MYSQL: &str = "CREATE TABLE IF NOT EXISTS erasure_deferred (\
    table_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
    row_key VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
    deferred_at DATETIME(6) NOT NULL, \
    PRIMARY KEY (table_name, row_key))";

/// Creates the ledger's table if it does not exist.
///
/// # Errors
///
/// The statement fails.
pub async fn install<DB: Backend>(pool: &Pool<DB>) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let script = match DB::DIALECT {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
        Dialect::MySql => MYSQL,
    };
    DB::execute(&mut conn, &Sql::new(script)).await?;
    Ok(())
}

/// The ledger in a handler's footprint: written by an erasure that defers into it, so that a
/// schema check names the table when it is not installed.
pub fn footprint() -> Footprint {
    Footprint::new().write(
        crate::ident!("erasure_deferred"),
        [
            crate::ident!("table_name"),
            crate::ident!("row_key"),
            crate::ident!("deferred_at"),
        ],
    )
}

/// The quoted ledger table, per dialect.
fn quoted(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::MySql => "`erasure_deferred`",
        Dialect::Sqlite | Dialect::Postgres => "\"erasure_deferred\"",
    }
}

/// `key` as text, per dialect: binary keys as lowercase hex, others cast to text (on MySQL in
/// the ledger's binary collation, so that it compares with the ledger's keys whatever the
/// connection's collation). The type is told apart by the database, per value on SQLite and
/// per column on PostgreSQL and MySQL (`CONCAT` of a number is text there, of a binary string
/// binary), so one statement serves every key type.
fn key_as_text() -> Expr {
    let mut sqlite = Expr::new("CASE WHEN typeof(");
    sqlite
        .target()
        .push(") = 'blob' THEN lower(hex(")
        .target()
        .push(")) ELSE CAST(")
        .target()
        .push(" AS TEXT) END");
    // `CAST(CAST(k AS TEXT) AS BYTEA)` reads back whichever `bytea_output` form the cast wrote,
    // and type-checks for every key type (the branch runs for `bytea` only).
    let mut postgres = Expr::new("CASE WHEN pg_typeof(");
    postgres
        .target()
        .push(") = 'bytea'::regtype THEN encode(CAST(CAST(")
        .target()
        .push(" AS TEXT) AS BYTEA), 'hex') ELSE CAST(")
        .target()
        .push(" AS TEXT) END");
    let mut mysql = Expr::new("CAST(IF(CHARSET(CONCAT(");
    mysql
        .target()
        .push(")) = 'binary', LOWER(HEX(")
        .target()
        .push(")), ")
        .target()
        .push(") AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin");
    Expr::per_dialect(sqlite, postgres, mysql)
}

/// A key read back from a row as the ledger writes it: binary keys in lowercase hex, integers
/// in decimal, text as it is.
fn key_text(key: &Value) -> Value {
    match key {
        Value::Int(i) => Value::Text(i.to_string()),
        Value::Bytes(b) => Value::Text(hex::encode(b)),
        other => other.clone(),
    }
}

/// Records the rows of `table` (key column `key`) that `filter` selects as deferred at `now`:
/// one `INSERT … SELECT`, ignoring rows already recorded.
pub fn defer(table: &Ident, key: &Ident, filter: &Condition, now: Value) -> Sql {
    let [sqlite, postgres, mysql] =
        [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql].map(|dialect| {
            let mut sql = Sql::new(match dialect {
                Dialect::Sqlite => "INSERT OR IGNORE INTO ",
                Dialect::Postgres => "INSERT INTO ",
                Dialect::MySql => "INSERT IGNORE INTO ",
            });
            sql.push(quoted(dialect))
                .push(" (table_name, row_key, deferred_at) SELECT ")
                .bind(table.as_str())
                .push(", ")
                .append(key_as_text().to_sql(None, key))
                .push(", ")
                .bind(now.clone())
                .push(" FROM ")
                .ident(table)
                .push(" WHERE ")
                .append(filter.to_sql());
            if dialect == Dialect::Postgres {
                sql.push(" ON CONFLICT DO NOTHING");
            }
            sql
        });
    let mut sql = Sql::default();
    sql.per_dialect(sqlite, postgres, mysql);
    sql
}

/// The rows of `table` (key column `key`) the ledger lists as deferred.
pub fn deferred(table: &Ident, key: &Ident) -> Condition {
    listed(table, key, None)
}

/// The rows of `table` (key column `key`) the ledger lists as deferred at or before `cutoff`:
/// those a purge that waits a period after the deferral may delete.
pub fn deferred_before(
    table: &Ident,
    key: &Ident,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Condition {
    listed(table, key, Some(cutoff))
}

fn listed(table: &Ident, key: &Ident, cutoff: Option<chrono::DateTime<chrono::Utc>>) -> Condition {
    let in_ledger = |dialect: Dialect| {
        let mut e = key_as_text();
        e.push(" IN (SELECT row_key FROM ")
            .push(quoted(dialect))
            .push(" WHERE table_name = ")
            .bind(table.as_str());
        if let Some(cutoff) = cutoff {
            e.push(" AND deferred_at <= ")
                .bind(Value::Timestamp(cutoff));
        }
        e.push(")");
        e
    };
    Condition::test(
        key.clone(),
        Expr::per_dialect(
            in_ledger(Dialect::Sqlite),
            in_ledger(Dialect::Postgres),
            in_ledger(Dialect::MySql),
        ),
    )
}

/// Forgets the ledger's entries for `keys` of `table` (after the purge deleted the rows).
pub fn forget(table: &Ident, keys: &[Value]) -> Sql {
    let texts: Vec<Value> = keys.iter().map(key_text).collect();
    let delete = crate::sql::Delete::new(
        crate::ident!("erasure_deferred"),
        Condition::eq(crate::ident!("table_name"), table.as_str())
            .and(Condition::is_in(crate::ident!("row_key"), texts)),
    );
    delete.to_sql()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident;

    #[test]
    fn the_statements_per_dialect() {
        let filter = Condition::eq(ident!("customer_id"), 7);
        let sql = defer(&ident!("orders"), &ident!("id"), &filter, Value::Int(0));
        let (pg, values) = sql.render(Dialect::Postgres);
        assert_eq!(
            pg,
            r#"INSERT INTO "erasure_deferred" (table_name, row_key, deferred_at) SELECT $1, CASE WHEN pg_typeof("id") = 'bytea'::regtype THEN encode(CAST(CAST("id" AS TEXT) AS BYTEA), 'hex') ELSE CAST("id" AS TEXT) END, $2 FROM "orders" WHERE "customer_id" = $3 ON CONFLICT DO NOTHING"#
        );
        assert_eq!(values.len(), 3);
        let (my, _) = sql.render(Dialect::MySql);
        assert!(
            my.starts_with("INSERT IGNORE INTO `erasure_deferred`"),
            "{my}"
        );
        assert!(
            my.contains(
                "CAST(IF(CHARSET(CONCAT(`id`)) = 'binary', LOWER(HEX(`id`)), `id`) AS CHAR \
                 CHARACTER SET utf8mb4) COLLATE utf8mb4_bin"
            ),
            "{my}"
        );
        let cond = deferred(&ident!("orders"), &ident!("id")).to_sql();
        let (text, _) = cond.render(Dialect::Sqlite);
        assert_eq!(
            text,
            r#"(CASE WHEN typeof("id") = 'blob' THEN lower(hex("id")) ELSE CAST("id" AS TEXT) END IN (SELECT row_key FROM "erasure_deferred" WHERE table_name = ?))"#
        );
    }

    #[test]
    fn forgotten_keys_are_written_as_the_ledger_writes_them() {
        let keys = [
            Value::Int(42),
            Value::Text("ord-7".into()),
            Value::Bytes(vec![0x0f, 0xa9, 0x00, 0xff]),
        ];
        let sql = forget(&ident!("orders"), &keys);
        let (_, values) = sql.render(Dialect::Sqlite);
        assert_eq!(
            values,
            [
                &Value::Text("orders".into()),
                &Value::Text("42".into()),
                &Value::Text("ord-7".into()),
                &Value::Text("0fa900ff".into()),
            ]
        );
    }
}
