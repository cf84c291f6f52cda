//! The database's catalog as the backend layer reads it: tables, columns and their types,
//! foreign keys; and, for an export, which columns to read as text because the backend layer
//! does not decode their type.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Backend, Dialect, Row};
use crate::ident::Ident;
use crate::value::Value;

/// The live schema's column types, to read undecodable types as text.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    tables: HashMap<String, Vec<(Ident, String)>>,
}

impl Catalog {
    /// The catalog an export needs: none on SQLite, whose values carry their own storage class
    /// (every class decodes, so `SELECT *` reads them all), the live schema's elsewhere.
    pub(crate) async fn for_export<DB: Backend>(
        conn: &mut DB::Connection,
    ) -> Result<Self, sqlx::Error> {
        if DB::DIALECT == Dialect::Sqlite {
            Ok(Self::default())
        } else {
            Self::read::<DB>(conn).await
        }
    }

    pub(crate) async fn read<DB: Backend>(conn: &mut DB::Connection) -> Result<Self, sqlx::Error> {
        let mut tables: HashMap<String, Vec<(Ident, String)>> = HashMap::new();
        let mut invalid = Vec::new();
        for column in DB::columns(conn).await? {
            match column.column_ident() {
                Some(ident) => tables
                    .entry(column.table.clone())
                    .or_default()
                    .push((ident, column.data_type.clone())),
                None => invalid.push(column.table.clone()),
            }
        }
        // A table with a column whose name is no valid identifier is read with `*`.
        for table in invalid {
            tables.remove(&table);
        }
        Ok(Self { tables })
    }

    /// The projection for `table`: every column, those of undecodable types as text; `None`
    /// when the table is not in the catalog (then `*`).
    pub(crate) fn projection(&self, dialect: Dialect, table: &Ident) -> Option<Vec<(Ident, bool)>> {
        let columns = self.tables.get(table.as_str())?;
        Some(
            columns
                .iter()
                .map(|(c, ty)| (c.clone(), !decodes(dialect, ty)))
                .collect(),
        )
    }
}

/// Whether the backend layer decodes a column of catalog type `ty` into a [`Value`].
fn decodes(dialect: Dialect, ty: &str) -> bool {
    let ty = ty.to_ascii_lowercase();
    match dialect {
        // SQLite values carry their own storage class, and every class decodes.
        Dialect::Sqlite => true,
        Dialect::Postgres => matches!(
            ty.as_str(),
            "smallint"
                | "integer"
                | "bigint"
                | "real"
                | "double precision"
                | "boolean"
                | "text"
                | "character varying"
                | "character"
                | "name"
                | "timestamp with time zone"
                | "timestamp without time zone"
                | "date"
                | "bytea"
        ),
        Dialect::MySql => matches!(
            ty.as_str(),
            "tinyint"
                | "smallint"
                | "mediumint"
                | "int"
                | "bigint"
                | "float"
                | "double"
                | "varchar"
                | "char"
                | "text"
                | "tinytext"
                | "mediumtext"
                | "longtext"
                | "enum"
                | "set"
                | "timestamp"
                | "datetime"
                | "date"
                | "blob"
                | "tinyblob"
                | "mediumblob"
                | "longblob"
                | "varbinary"
                | "binary"
        ),
    }
}

/// One column of one table, as the database's catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// The table (without schema).
    pub table: String,
    /// The column.
    pub column: String,
    /// The declared type, as the catalog spells it (`TEXT`, `character varying`, `varchar`).
    pub data_type: String,
    /// Whether the column is declared `NOT NULL`.
    pub not_null: bool,
}

impl ColumnInfo {
    /// Whether the column holds text: a declared type containing `CHAR`, `TEXT` or `CLOB`, or,
    /// on SQLite, no declared type at all (such a column can hold anything).
    pub fn is_text(&self) -> bool {
        let t = self.data_type.to_ascii_uppercase();
        t.is_empty() || t.contains("CHAR") || t.contains("TEXT") || t.contains("CLOB")
    }

    /// The table as an identifier, if its name is a valid one.
    pub fn table_ident(&self) -> Option<Ident> {
        Ident::new(&self.table).ok()
    }

    /// The column as an identifier, if its name is a valid one.
    pub fn column_ident(&self) -> Option<Ident> {
        Ident::new(&self.column).ok()
    }

    pub(crate) fn from_row(row: &Row) -> Result<Self, sqlx::Error> {
        let not_null = match row.get_index(3) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Int(i)) => *i != 0,
            _ => false,
        };
        Ok(Self {
            table: text(0, row)?,
            column: text(1, row)?,
            data_type: text(2, row)?,
            not_null,
        })
    }
}

/// One foreign-key column and what it refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKeyInfo {
    /// The referring table.
    pub table: String,
    /// The referring column.
    pub column: String,
    /// The referenced table.
    pub references_table: String,
    /// The referenced column.
    pub references_column: String,
}

impl ForeignKeyInfo {
    pub(crate) fn from_row(row: &Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            table: text(0, row)?,
            column: text(1, row)?,
            references_table: text(2, row)?,
            references_column: text(3, row)?,
        })
    }
}

/// Reads column `i` of a catalog row as text.
fn text(i: usize, row: &Row) -> Result<String, sqlx::Error> {
    match row.get_index(i) {
        Some(Value::Text(s)) => Ok(s.clone()),
        Some(Value::Null) => Ok(String::new()),
        Some(Value::Bytes(b)) => Ok(String::from_utf8_lossy(b).into_owned()),
        _ => Err(sqlx::Error::ColumnDecode {
            index: i.to_string(),
            source: "catalog column is not text".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_numeric_and_uuid_are_read_as_text() {
        assert!(!decodes(Dialect::Postgres, "numeric"));
        assert!(!decodes(Dialect::Postgres, "USER-DEFINED"));
        assert!(decodes(Dialect::Postgres, "character varying"));
        assert!(!decodes(Dialect::MySql, "decimal"));
        assert!(decodes(Dialect::MySql, "longtext"));
        assert!(decodes(Dialect::Sqlite, "NUMERIC"));
    }
}
