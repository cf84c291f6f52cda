//! Validated SQL identifiers.
//!
//! Every table and column name that reaches SQL text passes through [`Ident`]. Validation happens
//! when a mapping is built or deserialized, never at the moment a statement runs, so a bad name in
//! a configuration file fails loudly before any data is touched.
//!
//! This module must never accept a character outside `[A-Za-z0-9_]` (plus one `.` between a schema
//! and a table): quoting is done per dialect by the backend layer, and quoting alone is not a
//! defence we rely on.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest identifier part we accept, in bytes.
///
/// PostgreSQL truncates identifiers at 63 bytes (MySQL allows 64); a name that would be silently
/// truncated on one backend is rejected everywhere.
pub const MAX_IDENT_LEN: usize = 63;

/// A validated SQL identifier: a table or column name, optionally qualified as `schema.table`.
///
/// Each part matches `[A-Za-z_][A-Za-z0-9_]*` and is at most [`MAX_IDENT_LEN`] bytes. Identifiers
/// are always quoted when rendered (`"orders"` on SQLite and PostgreSQL, `` `orders` `` on MySQL),
/// so reserved words such as `order` are fine, and case is preserved: on PostgreSQL, write the
/// name as it is stored (unquoted names are folded to lower case when a table is created).
///
/// # Examples
///
/// ```
/// use erasure_core::Ident;
///
/// let table = Ident::new("orders")?;
/// assert_eq!(table.as_str(), "orders");
///
/// let qualified: Ident = "shop.orders".parse()?;
/// assert_eq!(qualified.parts().collect::<Vec<_>>(), ["shop", "orders"]);
///
/// assert!(Ident::new("orders; DROP TABLE x").is_err());
/// assert!(Ident::new("").is_err());
/// # Ok::<(), erasure_core::IdentError>(())
/// ```
///
/// Mappings deserialize identifiers with the same validation:
///
/// ```
/// # use erasure_core::Ident;
/// #[derive(Debug, serde::Deserialize)]
/// struct Mapping { table: Ident }
///
/// let err = serde_json::from_str::<Mapping>(r#"{"table": "a\"b"}"#).unwrap_err();
/// assert!(err.to_string().contains("invalid identifier"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident(Arc<str>);

/// Why a string is not a valid [`Ident`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentError {
    // `input` fields hold the rejected input escaped and shortened for display.
    /// The string, or one of its dot-separated parts, is empty.
    #[error("invalid identifier \"{input}\": empty name")]
    Empty {
        /// The rejected input, shortened for display.
        input: String,
    },
    /// A part is longer than [`MAX_IDENT_LEN`] bytes.
    #[error(
        "invalid identifier \"{input}\": a part is {len} bytes long, the limit is {MAX_IDENT_LEN}"
    )]
    TooLong {
        /// The rejected input, shortened for display.
        input: String,
        /// The length of the offending part.
        len: usize,
    },
    /// A part starts with a digit.
    #[error("invalid identifier \"{input}\": a name must not start with a digit")]
    LeadingDigit {
        /// The rejected input, shortened for display.
        input: String,
    },
    /// A character outside `[A-Za-z0-9_]` appears.
    #[error(
        "invalid identifier \"{input}\": character {found:?} at byte {at} is not allowed \
         (only ASCII letters, digits and `_`, with one optional `.` between schema and table)"
    )]
    InvalidChar {
        /// The rejected input, shortened for display.
        input: String,
        /// The offending character.
        found: char,
        /// Its byte offset in the input.
        at: usize,
    },
    /// More than one `.` separator.
    #[error("invalid identifier \"{input}\": at most one `.` (schema.table) is allowed")]
    TooManyParts {
        /// The rejected input, shortened for display.
        input: String,
    },
}

impl Ident {
    /// Validates `name` and wraps it.
    ///
    /// # Errors
    ///
    /// Returns an [`IdentError`] naming the first rule the input breaks.
    pub fn new(name: impl AsRef<str>) -> Result<Self, IdentError> {
        let name = name.as_ref();
        validate(name)?;
        Ok(Self(name.into()))
    }

    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The dot-separated parts: one for `orders`, two for `shop.orders`.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// The last part: the table or column name without its schema.
    pub fn name(&self) -> &str {
        self.parts().last().unwrap_or(&self.0)
    }

    /// Whether the identifier carries a schema (`schema.table`).
    pub fn is_qualified(&self) -> bool {
        self.0.contains('.')
    }
}

/// Rejected input as error messages show it: escaped (control characters, quotes and other
/// invisible characters written as escapes) and cut at 80 characters of output, because a hostile
/// configuration value can be megabytes of anything, and an error message stays one short line.
fn shown(input: &str) -> String {
    const SHOWN: usize = 80;
    let mut out = String::new();
    for c in input.chars() {
        let escaped: String = c.escape_debug().collect();
        if out.chars().count() + escaped.chars().count() > SHOWN {
            out.push('…');
            break;
        }
        out.push_str(&escaped);
    }
    out
}

fn validate(input: &str) -> Result<(), IdentError> {
    if input.is_empty() {
        return Err(IdentError::Empty {
            input: shown(input),
        });
    }
    let mut parts = 0;
    let mut offset = 0;
    for part in input.split('.') {
        parts += 1;
        if parts > 2 {
            return Err(IdentError::TooManyParts {
                input: shown(input),
            });
        }
        if part.is_empty() {
            return Err(IdentError::Empty {
                input: shown(input),
            });
        }
        for (i, c) in part.char_indices() {
            if !(c.is_ascii_alphanumeric() || c == '_') {
                return Err(IdentError::InvalidChar {
                    input: shown(input),
                    found: c,
                    at: offset + i,
                });
            }
        }
        if part.as_bytes()[0].is_ascii_digit() {
            return Err(IdentError::LeadingDigit {
                input: shown(input),
            });
        }
        if part.len() > MAX_IDENT_LEN {
            return Err(IdentError::TooLong {
                input: shown(input),
                len: part.len(),
            });
        }
        offset += part.len() + 1;
    }
    Ok(())
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ident({})", self.0)
    }
}

impl AsRef<str> for Ident {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Ident {
    type Err = IdentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Ident {
    type Error = IdentError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<String> for Ident {
    type Error = IdentError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        validate(&value)?;
        Ok(Self(value.into()))
    }
}

impl Serialize for Ident {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Ident {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Ident::try_from(raw).map_err(serde::de::Error::custom)
    }
}

/// Builds an [`Ident`] from a string literal, validated at compile time.
///
/// For the defaults of mappings and for fixed names in our own source: a literal that breaks the
/// rules does not compile.
///
/// ```
/// let orders = erasure_core::ident!("orders");
/// assert_eq!(orders.as_str(), "orders");
/// ```
///
/// ```compile_fail
/// let bad = erasure_core::ident!("orders; DROP TABLE x");
/// ```
#[macro_export]
macro_rules! ident {
    ($name:literal) => {{
        const _: () = ::core::assert!(
            $crate::__private::is_valid_ident($name),
            "invalid identifier literal"
        );
        $crate::Ident::__from_checked_literal($name)
    }};
}

/// The same rules as [`Ident::new`], usable in constant evaluation (for [`ident!`](crate::ident!)).
#[doc(hidden)]
pub const fn is_valid_ident(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut i = 0;
    let mut part_len = 0;
    let mut parts = 1;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'.' {
            if part_len == 0 || parts == 2 {
                return false;
            }
            parts += 1;
            part_len = 0;
        } else if b.is_ascii_alphabetic() || b == b'_' || (b.is_ascii_digit() && part_len > 0) {
            part_len += 1;
            if part_len > MAX_IDENT_LEN {
                return false;
            }
        } else {
            return false;
        }
        i += 1;
    }
    part_len > 0
}

impl Ident {
    /// Wraps a literal that [`ident!`](crate::ident!) has already validated at compile time.
    #[doc(hidden)]
    pub fn __from_checked_literal(name: &'static str) -> Self {
        debug_assert!(is_valid_ident(name));
        Self(name.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_qualified_names() {
        for ok in ["orders", "_x", "Order_Lines2", "shop.orders", "a", "A1_b2"] {
            assert!(Ident::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(Ident::new("shop.orders").unwrap().name(), "orders");
        assert!(Ident::new("shop.orders").unwrap().is_qualified());
        assert!(!Ident::new("orders").unwrap().is_qualified());
    }

    #[test]
    fn rejects_injection_quotes_and_unicode_tricks() {
        let cases = [
            "orders; DROP TABLE x",
            "",
            "\"orders\"",
            "`orders`",
            "orders--",
            "or ders",
            "orders\0",
            "ordérs",
            "оrders", // Cyrillic о
            "orders\u{200b}",
            "ｏrders", // full-width
            "1orders",
            "a.b.c",
            ".orders",
            "orders.",
            "a..b",
            "orders'",
            "orders)",
            "x/*",
        ];
        for bad in cases {
            assert!(Ident::new(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = Ident::new("orders; DROP TABLE x").unwrap_err();
        assert_eq!(
            e,
            IdentError::InvalidChar {
                input: "orders; DROP TABLE x".into(),
                found: ';',
                at: 6
            }
        );
        assert_eq!(
            e.to_string().split(':').next(),
            Some("invalid identifier \"orders; DROP TABLE x\"")
        );
        assert!(e.to_string().contains("';'"), "{e}");
        let e = Ident::new("shop.or-ders").unwrap_err();
        assert!(matches!(
            e,
            IdentError::InvalidChar {
                found: '-',
                at: 7,
                ..
            }
        ));
    }

    #[test]
    fn length_limit_is_per_part() {
        let ok = "a".repeat(MAX_IDENT_LEN);
        assert!(Ident::new(&ok).is_ok());
        assert!(Ident::new(format!("{ok}.{ok}")).is_ok());
        let long = "a".repeat(MAX_IDENT_LEN + 1);
        assert!(matches!(
            Ident::new(&long),
            Err(IdentError::TooLong { len: 64, .. })
        ));
    }

    #[test]
    fn long_hostile_input_is_shortened_in_messages() {
        let hostile = format!("x;{}", "y".repeat(10_000));
        let msg = Ident::new(&hostile).unwrap_err().to_string();
        assert!(msg.len() < 300, "{}", msg.len());
        // Found by the fuzzer: control characters escape to six characters each.
        let hostile = format!("\n\n{}", "\u{18}".repeat(500));
        let msg = Ident::new(&hostile).unwrap_err().to_string();
        assert!(msg.len() < 300, "{}", msg.len());
        assert!(!msg.contains('\n') && !msg.contains('\u{18}'), "{msg}");
    }

    #[test]
    fn const_validation_agrees_with_runtime_validation() {
        for case in [
            "orders",
            "shop.orders",
            "_",
            "a1",
            "1a",
            "",
            ".",
            "a.",
            ".a",
            "a.b.c",
            "a-b",
            "ä",
            "a b",
            "a.1b",
        ] {
            assert_eq!(is_valid_ident(case), Ident::new(case).is_ok(), "{case:?}");
        }
        let long = "a".repeat(MAX_IDENT_LEN + 1);
        assert!(!is_valid_ident(&long));
    }

    #[test]
    fn serde_validates() {
        #[derive(Deserialize, Serialize)]
        struct M {
            table: Ident,
        }
        let m: M = toml::from_str("table = \"orders\"").unwrap();
        assert_eq!(m.table.as_str(), "orders");
        let err = toml::from_str::<M>("table = \"orders; DROP TABLE x\"")
            .err()
            .unwrap();
        assert!(err.to_string().contains("invalid identifier"), "{err}");
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"table":"orders"}"#);
    }
}
