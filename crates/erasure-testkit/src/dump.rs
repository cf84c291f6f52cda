//! A logical dump of the whole database, for "exactly as before" assertions.
//!
//! [`dump`] reads every row of every table into memory, sorted, so two dumps compare equal
//! exactly when the databases hold the same data. [`Dump::diff`] lists the rows that differ by
//! table and first column (the reference schema's `id`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use erasure_core::sql::Select;
use erasure_core::{Backend, Ident, Value};

/// Every row of every table.
#[derive(Debug, Clone, PartialEq)]
pub struct Dump {
    tables: BTreeMap<String, TableDump>,
}

/// The rows of one table, sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDump {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, sorted by their rendered values.
    pub rows: Vec<Vec<Value>>,
}

/// How a row differs between two dumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// In the first dump only.
    Removed,
    /// In both, with different values.
    Changed,
    /// In the second dump only.
    Added,
}

/// A row that differs, identified by table and the value of its first column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowChange {
    /// The table.
    pub table: String,
    /// The first column's value, rendered (the reference schema's `id`).
    pub key: String,
    /// How it differs.
    pub change: Change,
}

/// Renders a value for sorting and diffs. Unlike `Debug`, this shows the content: dumps are for
/// tests, whose data is generated.
pub fn show(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => format!("{i:020}"),
        Value::Float(x) => x.to_string(),
        Value::Text(s) => format!("{s:?}"),
        Value::Timestamp(t) => t.to_rfc3339(),
        Value::Date(d) => d.to_string(),
        Value::Bytes(b) => format!("{b:02x?}"),
        other => format!("{other:?}"),
    }
}

/// Reads every row of every table of the current database or schema, except sqlx's
/// `_sqlx_migrations` (it records when and how fast migrations ran, which differs between two
/// otherwise identical databases; an erasure never touches it).
///
/// # Errors
///
/// A catalog query or table read fails.
pub async fn dump<DB: Backend>(conn: &mut DB::Connection) -> Result<Dump, sqlx::Error> {
    let columns = DB::columns(conn).await?;
    let mut tables = BTreeMap::new();
    let mut names: Vec<&str> = columns.iter().map(|c| c.table.as_str()).collect();
    names.dedup();
    for name in names {
        if name == "_sqlx_migrations" {
            continue;
        }
        let Ok(ident) = Ident::new(name) else {
            continue;
        };
        let rows = DB::fetch_all(conn, &Select::columns(ident, []).to_sql()).await?;
        let cols = columns
            .iter()
            .filter(|c| c.table == name)
            .map(|c| c.column.clone())
            .collect();
        let mut keyed: Vec<(Vec<String>, Vec<Value>)> = rows
            .into_iter()
            .map(|r| {
                let values = r.into_values();
                (values.iter().map(show).collect(), values)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        tables.insert(
            name.to_owned(),
            TableDump {
                columns: cols,
                rows: keyed.into_iter().map(|(_, v)| v).collect(),
            },
        );
    }
    Ok(Dump { tables })
}

impl Dump {
    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&TableDump> {
        self.tables.get(name)
    }

    /// Table names.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    /// Rows per table.
    pub fn counts(&self) -> BTreeMap<&str, usize> {
        self.tables
            .iter()
            .map(|(k, t)| (k.as_str(), t.rows.len()))
            .collect()
    }

    /// Every row that differs between `self` and `after`, by table and first column.
    pub fn changes(&self, after: &Dump) -> Vec<RowChange> {
        let mut out = Vec::new();
        let names: std::collections::BTreeSet<&String> =
            self.tables.keys().chain(after.tables.keys()).collect();
        for name in names {
            let index = |d: &Dump| -> BTreeMap<String, Vec<Value>> {
                d.tables
                    .get(name)
                    .map(|t| {
                        t.rows
                            .iter()
                            .map(|r| (r.first().map(show).unwrap_or_default(), r.clone()))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (a, b) = (index(self), index(after));
            for (key, row) in &a {
                match b.get(key) {
                    None => out.push(RowChange {
                        table: name.clone(),
                        key: key.clone(),
                        change: Change::Removed,
                    }),
                    Some(other) if other != row => out.push(RowChange {
                        table: name.clone(),
                        key: key.clone(),
                        change: Change::Changed,
                    }),
                    Some(_) => {}
                }
            }
            for key in b.keys() {
                if !a.contains_key(key) {
                    out.push(RowChange {
                        table: name.clone(),
                        key: key.clone(),
                        change: Change::Added,
                    });
                }
            }
        }
        out
    }

    /// `None` when equal; otherwise a short description of the first differences.
    pub fn diff(&self, after: &Dump) -> Option<String> {
        if self == after {
            return None;
        }
        let changes = self.changes(after);
        let mut s = format!("{} rows differ", changes.len());
        for c in changes.iter().take(20) {
            let _ = write!(
                s,
                "\n  {:?} {} id {}",
                c.change,
                c.table,
                c.key.trim_start_matches('0')
            );
        }
        if changes.is_empty() {
            s.push_str(" (duplicate first-column values differ)");
        }
        Some(s)
    }
}
