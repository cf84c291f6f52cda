//! What a handler touches: its footprint.
//!
//! Each handler declares the tables and columns it reads, deletes, anonymizes or marks, so the
//! chain can say what it covers and a coverage check can find personal data that no handler
//! covers. A footprint is a declaration, not a sandbox: it is not enforced at run time.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ident::Ident;

/// How a handler touches a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Reads (to decide, as a guard does, or to find related rows). Covers nothing.
    Read,
    /// Deletes the subject's rows: covers every column of the table.
    Delete,
    /// Overwrites the listed columns of the subject's rows (NULL, a fixed value, a pseudonym).
    Anonymize,
    /// Marks rows for a purge job (`INVALID`, `to_be_deleted`); covers the listed columns.
    Mark,
    /// Removes the link from the listed columns to the subject (sets them to NULL).
    Unlink,
    /// Inserts rows of its own (a recorder's receipts or outbox events). Covers nothing.
    Write,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Delete => "delete",
            Access::Anonymize => "anonymize",
            Access::Mark => "mark",
            Access::Unlink => "unlink",
            Access::Write => "write",
        })
    }
}

/// One table in a footprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableUse {
    /// The table.
    pub table: Ident,
    /// How it is touched.
    pub access: Access,
    /// The columns concerned: for [`Access::Delete`], the columns used to find the subject's
    /// rows; otherwise the columns read or written.
    pub columns: Vec<Ident>,
}

/// The tables and columns a handler touches.
///
/// ```
/// use erasure_core::{footprint::Footprint, ident};
///
/// let fp = Footprint::new()
///     .delete(ident!("wishlist_items"), [ident!("wishlist_id")])
///     .delete(ident!("wishlists"), [ident!("customer_id"), ident!("user_id")]);
/// assert!(fp.covers(&ident!("wishlists"), &ident!("name")));
/// assert!(!fp.covers(&ident!("orders"), &ident!("email")));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Footprint {
    tables: Vec<TableUse>,
}

impl Footprint {
    /// An empty footprint.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a table use.
    pub fn with(
        mut self,
        table: Ident,
        access: Access,
        columns: impl IntoIterator<Item = Ident>,
    ) -> Self {
        self.tables.push(TableUse {
            table,
            access,
            columns: columns.into_iter().collect(),
        });
        self
    }

    /// The handler deletes rows of `table`, found through `key` columns.
    pub fn delete(self, table: Ident, key: impl IntoIterator<Item = Ident>) -> Self {
        self.with(table, Access::Delete, key)
    }

    /// The handler overwrites `columns` of `table`.
    pub fn anonymize(self, table: Ident, columns: impl IntoIterator<Item = Ident>) -> Self {
        self.with(table, Access::Anonymize, columns)
    }

    /// The handler marks rows of `table` through `columns`.
    pub fn mark(self, table: Ident, columns: impl IntoIterator<Item = Ident>) -> Self {
        self.with(table, Access::Mark, columns)
    }

    /// The handler sets the link `columns` of `table` to NULL.
    pub fn unlink(self, table: Ident, columns: impl IntoIterator<Item = Ident>) -> Self {
        self.with(table, Access::Unlink, columns)
    }

    /// Rows are inserted into `columns` of `table` (a recorder's own table).
    pub fn write(self, table: Ident, columns: impl IntoIterator<Item = Ident>) -> Self {
        self.with(table, Access::Write, columns)
    }

    /// The handler reads `columns` of `table`.
    pub fn read(self, table: Ident, columns: impl IntoIterator<Item = Ident>) -> Self {
        self.with(table, Access::Read, columns)
    }

    /// Appends another footprint.
    pub fn extend(&mut self, other: Footprint) {
        self.tables.extend(other.tables);
    }

    /// The table uses, in declaration order.
    pub fn tables(&self) -> &[TableUse] {
        &self.tables
    }

    /// Whether `column` of `table` is covered: the table's rows are deleted, or the column is
    /// anonymized, marked or unlinked. Reads cover nothing. Tables compare by name without schema
    /// when either side is unqualified.
    pub fn covers(&self, table: &Ident, column: &Ident) -> bool {
        self.tables.iter().any(|u| {
            same_table(&u.table, table)
                && match u.access {
                    Access::Delete => true,
                    Access::Read | Access::Write => false,
                    Access::Anonymize | Access::Mark | Access::Unlink => u
                        .columns
                        .iter()
                        .any(|c| c.as_str().eq_ignore_ascii_case(column.as_str())),
                }
        })
    }

    /// Whether the footprint touches `table` at all (reads included).
    pub fn touches(&self, table: &Ident) -> bool {
        self.tables.iter().any(|u| same_table(&u.table, table))
    }
}

fn same_table(a: &Ident, b: &Ident) -> bool {
    if a.is_qualified() && b.is_qualified() {
        a.as_str().eq_ignore_ascii_case(b.as_str())
    } else {
        a.name().eq_ignore_ascii_case(b.name())
    }
}
