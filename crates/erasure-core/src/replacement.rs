//! What an anonymized column is set to.

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::context::ErasureContext;
use crate::ident::Ident;
use crate::value::Value;

/// The value written over a personal column when a row is anonymized.
///
/// * `Null` — the column becomes `NULL`. Anonymization.
/// * `Fixed` — a constant such as `"anonymized"`, for `NOT NULL` columns. Anonymization: every
///   subject gets the same value, so nothing links back.
/// * `Pseudonym` — a keyed pseudonym of the subject for this column (32 hex digits): stable for
///   one subject, so that, for example, all orders of an erased customer still group together.
///   This is *pseudonymization*, not anonymization: whoever holds the key and the subject's id
///   can recompute the value, so the data stays personal data under the GDPR. Use it only where
///   that link is wanted and documented.
///
/// In TOML: `email = "null"`, `email = "pseudonym"`, `last_name = { fixed = "anonymized" }`.
///
/// ```
/// use erasure_core::Replacement;
/// use std::collections::BTreeMap;
///
/// let cols: BTreeMap<String, Replacement> =
///     toml::from_str("email = \"pseudonym\"\nlast_name = { fixed = \"anonymized\" }\nphone = \"null\"")?;
/// assert_eq!(cols["last_name"], Replacement::Fixed("anonymized".into()));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Replacement {
    /// `NULL`.
    #[default]
    Null,
    /// A fixed value.
    Fixed(String),
    /// A keyed pseudonym of the subject, per table and column.
    Pseudonym,
}

impl Replacement {
    /// The value to write into `table.column` for the context's subject.
    pub fn value<DB: Backend>(
        &self,
        cx: &ErasureContext<'_, DB>,
        table: &Ident,
        column: &Ident,
    ) -> Value {
        match self {
            Replacement::Null => Value::Null,
            Replacement::Fixed(v) => Value::Text(v.clone()),
            Replacement::Pseudonym => {
                Value::Text(cx.pseudonym(&format!("{}.{}", table.as_str(), column.as_str())))
            }
        }
    }
}
