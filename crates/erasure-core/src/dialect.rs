//! SQL dialects: how each database quotes identifiers and numbers placeholders.
//!
//! At the bottom of the crate with identifiers and values: the SQL builder renders for a
//! dialect, and the backend layer above names its own.

use std::fmt;

use crate::ident::Ident;

/// The SQL dialect of a backend: identifier quoting and placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// SQLite: `"ident"`, `?`.
    Sqlite,
    /// PostgreSQL: `"ident"`, `$1`.
    Postgres,
    /// MySQL and MariaDB: `` `ident` ``, `?`.
    MySql,
}

impl Dialect {
    /// Appends `ident` quoted for this dialect (each part of `schema.table` separately).
    ///
    /// [`Ident`] admits no quote characters, so no escaping is needed; the quotes are there so
    /// that reserved words (`order`, `user`) and mixed case work.
    pub fn quote_ident(self, ident: &Ident, out: &mut String) {
        let quote = match self {
            Dialect::Sqlite | Dialect::Postgres => '"',
            Dialect::MySql => '`',
        };
        for (i, part) in ident.parts().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push(quote);
            out.push_str(part);
            out.push(quote);
        }
    }

    /// Appends the placeholder for the `n`th (1-based) bound value.
    pub fn placeholder(self, n: usize, out: &mut String) {
        match self {
            Dialect::Postgres => {
                out.push('$');
                out.push_str(&n.to_string());
            }
            Dialect::Sqlite | Dialect::MySql => out.push('?'),
        }
    }

    /// The name used in messages and configuration: `sqlite`, `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident;

    #[test]
    fn quoting_per_dialect() {
        let mut s = String::new();
        Dialect::MySql.quote_ident(&ident!("order"), &mut s);
        assert_eq!(s, "`order`");
        let mut s = String::new();
        Dialect::Postgres.quote_ident(&ident!("shop.User"), &mut s);
        assert_eq!(s, r#""shop"."User""#);
    }
}
