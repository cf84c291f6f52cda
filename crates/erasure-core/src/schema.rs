//! Reading the live schema: which tables and columns exist.
//!
//! Used to check mappings against the database before anything runs, by coverage checks that
//! look for personal data no handler covers, and by the test kit's residue scanner.

use serde::{Deserialize, Serialize};

use crate::backend::Row;
use crate::ident::Ident;
use crate::value::Value;

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

/// Runs a DDL script of `;`-separated statements (no `;` inside a statement), one statement at
/// a time: how the library's own tables are installed.
///
/// # Errors
///
/// The first statement that fails; those before it stay applied (DDL is not transactional on
/// MySQL), so scripts are written to be run again (`CREATE … IF NOT EXISTS`).
pub async fn run_script<DB: crate::Backend>(
    conn: &mut DB::Connection,
    script: &'static str,
) -> Result<(), sqlx::Error> {
    for statement in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        DB::execute(conn, &crate::sql::Sql::new(statement)).await?;
    }
    Ok(())
}
