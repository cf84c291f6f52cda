//! The residue scanner: where do a person's values still appear?
//!
//! After an erasure, none of the subject's personal values may remain anywhere in the database.
//! The scanner reads every column of every table (not only the tables a chain knows about) and
//! reports each table and column where any of the given values still occurs as a substring.

use std::collections::BTreeMap;
use std::fmt;

use erasure_core::sql::Select;
use erasure_core::{Backend, Value};

/// A value to look for, with a label that says whose and what it is (the label, not the value,
/// is what reports print).
#[derive(Clone, PartialEq, Eq)]
pub struct Needle {
    /// Whose value and which field, e.g. `customer 17 user 0 email`.
    pub label: String,
    /// The value.
    pub value: String,
}

impl Needle {
    /// A needle.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: value.into(),
        }
    }
}

impl fmt::Debug for Needle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Needle({})", self.label)
    }
}

/// A needle found: in which table and column, in how many rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Residue {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The needle's label.
    pub label: String,
    /// Rows containing it.
    pub rows: u64,
}

impl fmt::Display for Residue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} found in {}.{} ({} rows)",
            self.label, self.table, self.column, self.rows
        )
    }
}

/// The result of a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResidueReport {
    /// Every needle found, by table, column and needle.
    pub hits: Vec<Residue>,
    /// Tables whose names are not valid identifiers and could not be read.
    pub unreadable_tables: Vec<String>,
    /// Tables scanned.
    pub tables_scanned: usize,
}

impl ResidueReport {
    /// Whether nothing was found and every table was read.
    pub fn is_clean(&self) -> bool {
        self.hits.is_empty() && self.unreadable_tables.is_empty()
    }
}

impl fmt::Display for ResidueReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return write!(f, "no residue in {} tables", self.tables_scanned);
        }
        for hit in &self.hits {
            writeln!(f, "{hit}")?;
        }
        for t in &self.unreadable_tables {
            writeln!(f, "table {t:?} could not be read")?;
        }
        Ok(())
    }
}

/// Scans every column of every table for `needles`.
///
/// # Errors
///
/// A catalog query or table read fails.
pub async fn scan<DB: Backend>(
    conn: &mut DB::Connection,
    needles: &[Needle],
) -> Result<ResidueReport, sqlx::Error> {
    let columns = DB::columns(conn).await?;
    let mut tables: BTreeMap<&str, ()> = BTreeMap::new();
    for c in &columns {
        tables.insert(&c.table, ());
    }
    let mut report = ResidueReport::default();
    for table in tables.keys() {
        let Ok(ident) = erasure_core::Ident::new(table) else {
            report.unreadable_tables.push((*table).to_owned());
            continue;
        };
        report.tables_scanned += 1;
        let rows = DB::fetch_all(conn, &Select::columns(ident, []).to_sql()).await?;
        let mut found: BTreeMap<(usize, usize), u64> = BTreeMap::new();
        for row in &rows {
            for (ci, value) in row.values().iter().enumerate() {
                let text = match value {
                    Value::Text(s) => s.as_str(),
                    Value::Bytes(b) => match std::str::from_utf8(b) {
                        Ok(s) => s,
                        Err(_) => continue,
                    },
                    _ => continue,
                };
                for (ni, needle) in needles.iter().enumerate() {
                    if !needle.value.is_empty() && text.contains(&needle.value) {
                        *found.entry((ci, ni)).or_default() += 1;
                    }
                }
            }
        }
        for ((ci, ni), count) in found {
            let column = rows
                .first()
                .and_then(|r| r.columns().get(ci))
                .cloned()
                .unwrap_or_default();
            report.hits.push(Residue {
                table: (*table).to_owned(),
                column,
                label: needles[ni].label.clone(),
                rows: count,
            });
        }
    }
    Ok(report)
}
