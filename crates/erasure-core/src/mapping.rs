//! Building blocks of handler mappings.
//!
//! A mapping says which tables and columns a handler touches. Mappings are serde structs whose
//! defaults fit the reference schema; an integrator points them at their own names in TOML or
//! JSON. Every name is an [`Ident`], validated when the mapping is read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ident::Ident;
use crate::replacement::Replacement;

/// The personal columns of a table and what each is overwritten with.
///
/// ```toml
/// [order.anonymize]
/// email = "null"
/// notes = { fixed = "anonymized" }
/// ```
pub type Anonymize = BTreeMap<Ident, Replacement>;

/// Builds an [`Anonymize`] map that sets every listed column to `NULL`.
pub fn nulls(columns: impl IntoIterator<Item = Ident>) -> Anonymize {
    columns
        .into_iter()
        .map(|c| (c, Replacement::Null))
        .collect()
}

/// A table whose rows belong to rows of a parent table (items of a wishlist, lines of an order).
///
/// ```toml
/// items = { table = "wishlist_items", parent = "wishlist_id" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChildTable {
    /// The child table.
    pub table: Ident,
    /// Its column holding the parent row's id.
    pub parent: Ident,
}

impl ChildTable {
    /// A child table.
    pub fn new(table: Ident, parent: Ident) -> Self {
        Self { table, parent }
    }
}
