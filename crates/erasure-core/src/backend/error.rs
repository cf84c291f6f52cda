//! The backend layer's error: a database error whose message is safe to log.

use std::borrow::Cow;
use std::fmt;

use crate::ident::is_valid_ident;
use crate::redact::mask;

/// A database error with a message that is safe to log.
///
/// ```
/// use erasure_core::DatabaseError;
///
/// let e = DatabaseError::from(sqlx::Error::RowNotFound);
/// assert!(e.to_string().contains("no rows"));
/// ```
pub struct DatabaseError(sqlx::Error);

impl DatabaseError {
    /// The driver error, unmasked. It may contain values the database echoed back; do not log
    /// it where personal data must not go.
    pub fn as_sqlx(&self) -> &sqlx::Error {
        &self.0
    }

    /// Consumes this into the driver error (see [`as_sqlx`](Self::as_sqlx)).
    pub fn into_sqlx(self) -> sqlx::Error {
        self.0
    }

    /// The kind of database error (unique, foreign-key, not-null or check violation, other), if
    /// the database reported one. A foreign-key violation at the customer handler usually means a
    /// table that refers to the customer is covered by no handler.
    pub fn kind(&self) -> Option<sqlx::error::ErrorKind> {
        match &self.0 {
            sqlx::Error::Database(db) => Some(db.kind()),
            _ => None,
        }
    }

    /// The database's error code (SQLSTATE on PostgreSQL, the extended result code on SQLite,
    /// the error number on MySQL), if the database reported one.
    pub fn code(&self) -> Option<Cow<'_, str>> {
        match &self.0 {
            sqlx::Error::Database(db) => db.code(),
            _ => None,
        }
    }
}

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            sqlx::Error::Database(db) => {
                write!(f, "database error: {}", mask(db.message()))?;
                // The message's quoted names are masked with its values; the names the
                // database reports on their own are schema names, safe to show.
                if let Some(table) = db.table().filter(|t| is_valid_ident(t)) {
                    write!(f, " (table {table})")?;
                }
                if let Some(constraint) = db.constraint().filter(|c| is_valid_ident(c)) {
                    write!(f, " (constraint {constraint})")?;
                }
                if let Some(code) = db.code() {
                    write!(f, " (code {code})")?;
                }
                Ok(())
            }
            sqlx::Error::Configuration(_) => f.write_str("database configuration error"),
            other => write!(f, "{}", mask(&other.to_string())),
        }
    }
}

impl fmt::Debug for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseError")
            .field(&format_args!("{self}"))
            .finish()
    }
}

impl std::error::Error for DatabaseError {}

impl From<sqlx::Error> for DatabaseError {
    fn from(e: sqlx::Error) -> Self {
        DatabaseError(e)
    }
}
