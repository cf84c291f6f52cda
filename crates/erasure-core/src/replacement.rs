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
    /// A fixed value, bound as a parameter like every value. A configuration may not carry a NUL
    /// byte in it (PostgreSQL cannot store one in text).
    Fixed(#[serde(deserialize_with = "fixed_text")] String),
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

/// Reads a fixed replacement, refusing what no database stores the same way.
fn fixed_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if text.contains('\0') {
        return Err(serde::de::Error::custom(
            "a fixed replacement must not contain a NUL byte",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_values_with_nul_bytes_are_rejected_and_payloads_are_kept_verbatim() {
        let err = toml::from_str::<std::collections::BTreeMap<String, Replacement>>(
            "email = { fixed = \"x\\u0000y\" }",
        )
        .expect_err("NUL");
        assert!(err.to_string().contains("NUL"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
        let ok: std::collections::BTreeMap<String, Replacement> =
            toml::from_str("email = { fixed = \"'; DROP TABLE orders; --\" }").expect("payload");
        assert_eq!(
            ok["email"],
            Replacement::Fixed("'; DROP TABLE orders; --".into())
        );
    }
}
