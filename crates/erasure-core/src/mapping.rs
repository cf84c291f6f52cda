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

/// Serde for an optional column whose default is a column: in TOML an absent key keeps the
/// default and an empty string switches the column off (TOML has no null).
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct M {
///     #[serde(default = "stamp", with = "erasure_core::mapping::optional_ident")]
///     invalidated_at: Option<erasure_core::Ident>,
/// }
/// fn stamp() -> Option<erasure_core::Ident> { Some(erasure_core::ident!("invalidated_at")) }
///
/// assert!(toml::from_str::<M>("").unwrap().invalidated_at.is_some());
/// assert!(toml::from_str::<M>("invalidated_at = \"\"").unwrap().invalidated_at.is_none());
/// ```
pub mod optional_ident {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ident::Ident;

    /// Writes `None` as an empty string.
    pub fn serialize<S: Serializer>(value: &Option<Ident>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.as_ref().map_or("", Ident::as_str))
    }

    /// Reads an empty string as `None`, anything else as a validated identifier.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ident>, D::Error> {
        let raw = String::deserialize(d)?;
        if raw.is_empty() {
            Ok(None)
        } else {
            Ident::try_from(raw)
                .map(Some)
                .map_err(serde::de::Error::custom)
        }
    }
}
