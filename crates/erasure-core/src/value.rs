//! Values bound to statements and read back from rows.
//!
//! A [`Value`] is what the backend layer binds as a statement parameter; values never become SQL
//! text. Values often hold personal data, so their `Debug` output shows the kind and size of a
//! value but never its content.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// A value bound to a statement as a parameter, or read back from a row.
///
/// `Debug` is redacted for text and bytes: a value printed by accident in a log line must not
/// carry the personal data it holds.
///
/// ```
/// use erasure_core::Value;
///
/// let email = Value::from("ada@example.test");
/// assert_eq!(email.as_str(), Some("ada@example.test"));
/// assert_eq!(format!("{email:?}"), "Text(<16 bytes>)");
/// ```
#[derive(Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Value {
    /// SQL `NULL`. Rendered as the literal `NULL` rather than bound, because PostgreSQL needs a
    /// typed parameter and an untyped `NULL` fits every column.
    Null,
    /// A boolean (`BOOLEAN` on PostgreSQL, `TINYINT(1)` on MySQL, `0`/`1` on SQLite).
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A double-precision float.
    Float(f64),
    /// Text.
    Text(String),
    /// A UTC timestamp.
    Timestamp(DateTime<Utc>),
    /// A calendar date.
    Date(NaiveDate),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A value of a type the backend layer does not decode (for example `NUMERIC` or `UUID`
    /// columns when reading rows); the string names the database type. Never bound.
    Unsupported(String),
}

impl Value {
    /// The text, if this is a [`Value::Text`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::Int`].
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The timestamp, if this is a [`Value::Timestamp`] or text in RFC 3339 (how SQLite stores
    /// timestamps written through sqlx).
    pub fn as_timestamp(&self) -> Option<DateTime<Utc>> {
        match self {
            Value::Timestamp(t) => Some(*t),
            Value::Text(s) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            _ => None,
        }
    }

    /// Whether this is SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Int(i) => write!(f, "Int({i})"),
            Value::Float(x) => write!(f, "Float({x})"),
            Value::Text(s) => write!(f, "Text(<{} bytes>)", s.len()),
            Value::Timestamp(t) => write!(f, "Timestamp({})", t.to_rfc3339()),
            // A date may be a birthday: personal, like text.
            Value::Date(_) => f.write_str("Date(<redacted>)"),
            Value::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
            Value::Unsupported(ty) => write!(f, "Unsupported({ty})"),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(v: DateTime<Utc>) -> Self {
        Value::Timestamp(v)
    }
}

impl From<NaiveDate> for Value {
    fn from(v: NaiveDate) -> Self {
        Value::Date(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
