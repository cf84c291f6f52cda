//! Statements built from fixed SQL text, validated identifiers and bound values.
//!
//! This is the only place where SQL text is assembled, and it can only be assembled from three
//! things: `&'static str` fragments written in source code, [`Ident`]s (validated, then quoted per
//! dialect), and [`Value`]s (always bound as parameters, never spliced; `NULL` alone is written as
//! a literal, and `LIMIT` counts as digits). There is no way to push a runtime string into SQL
//! text through this module.
//!
//! Handlers normally use the builders ([`Select`], [`Update`], [`Delete`], [`Insert`],
//! [`Condition`]), which produce set-based statements: one statement per table per subject. The
//! builders also hide what differs between databases where it matters for correctness or for
//! index use (see [`Condition`] on text keys and [`Delete`] on MySQL). [`Sql`] is the escape hatch
//! for anything the builders do not cover, with the same guarantees. [`Expr`] is an expression
//! over one column's own value (`SET col = f(col)`), built from the same three things, with
//! one form per dialect where the databases' functions differ.

mod condition;
mod expr;
mod statement;

use std::fmt::Write as _;

pub use condition::{Cmp, Condition};
pub use expr::{Assignment, Expr};
pub use statement::{Delete, Insert, Select, Update};

use crate::dialect::Dialect;
use crate::ident::Ident;
use crate::value::Value;

#[derive(Clone)]
enum Part {
    Text(&'static str),
    Ident(Ident),
    Value(Value),
    /// An integer written into the text (a `LIMIT`); digits cannot carry an injection.
    Integer(u64),
    /// ` FOR UPDATE` where the dialect has row locks (not SQLite, whose write transactions
    /// already hold the database lock); with `SKIP LOCKED` when the flag is set.
    ForUpdate {
        skip_locked: bool,
    },
    /// `[table.]col = ?` or `… IN (?, …)` with text values, compared as text everywhere (see
    /// [`Condition`]).
    TextMatch {
        table: Option<Ident>,
        column: Ident,
        values: Vec<Value>,
    },
    /// One form for MySQL, another for the other databases.
    Choice {
        mysql: Box<Sql>,
        other: Box<Sql>,
    },
    /// One form per dialect: SQLite, PostgreSQL, MySQL.
    Dialects(Box<[Sql; 3]>),
}

/// A statement under construction: fixed text, identifiers and bound values.
///
/// `Debug` shows the statement as PostgreSQL would receive it, with numbered placeholders and
/// no values, so a statement can be logged or asserted on without revealing what it binds.
///
/// ```
/// use erasure_core::{ident, sql::Sql, Dialect};
///
/// let mut sql = Sql::new("UPDATE ");
/// sql.ident(&ident!("baskets"))
///     .push(" SET ")
///     .ident(&ident!("status"))
///     .push(" = ")
///     .bind("INVALID")
///     .push(" WHERE ")
///     .ident(&ident!("customer_id"))
///     .push(" = ")
///     .bind(42);
///
/// assert_eq!(
///     sql.render(Dialect::Postgres).0,
///     r#"UPDATE "baskets" SET "status" = $1 WHERE "customer_id" = $2"#
/// );
/// assert_eq!(
///     sql.render(Dialect::MySql).0,
///     "UPDATE `baskets` SET `status` = ? WHERE `customer_id` = ?"
/// );
/// ```
#[derive(Clone, Default)]
pub struct Sql {
    parts: Vec<Part>,
}

impl Sql {
    /// Starts a statement with fixed text.
    pub fn new(text: &'static str) -> Self {
        Self {
            parts: vec![Part::Text(text)],
        }
    }

    /// Appends fixed text. Only `&'static str` is accepted, on purpose.
    pub fn push(&mut self, text: &'static str) -> &mut Self {
        self.parts.push(Part::Text(text));
        self
    }

    /// Appends an identifier, quoted for the dialect when rendered.
    pub fn ident(&mut self, ident: &Ident) -> &mut Self {
        self.parts.push(Part::Ident(ident.clone()));
        self
    }

    /// Appends `table.column`, or `column` when `table` is `None`.
    pub fn column(&mut self, table: Option<&Ident>, column: &Ident) -> &mut Self {
        if let Some(table) = table {
            self.ident(table).push(".");
        }
        self.ident(column)
    }

    /// Appends identifiers separated by `, `.
    pub fn idents<'a>(&mut self, idents: impl IntoIterator<Item = &'a Ident>) -> &mut Self {
        for (i, ident) in idents.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.ident(ident);
        }
        self
    }

    /// Appends a bound value (a placeholder in the text; `NULL` is written literally).
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.parts.push(Part::Value(value.into()));
        self
    }

    /// Appends another statement fragment.
    pub fn append(&mut self, other: Sql) -> &mut Self {
        self.parts.extend(other.parts);
        self
    }

    /// Appends `mysql` when rendered for MySQL and `other` otherwise.
    pub fn choice(&mut self, mysql: Sql, other: Sql) -> &mut Self {
        self.parts.push(Part::Choice {
            mysql: Box::new(mysql),
            other: Box::new(other),
        });
        self
    }

    /// Appends one of three forms, chosen by the dialect when rendered: for what each database
    /// spells its own way (functions, operators). Each form follows the module's rule: fixed
    /// text, identifiers and bound values only.
    ///
    /// ```
    /// use erasure_core::{sql::Sql, Dialect};
    ///
    /// let mut sql = Sql::new("SELECT ");
    /// sql.per_dialect(
    ///     Sql::new("lower(hex(randomblob(16)))"),
    ///     Sql::new("md5(gen_random_uuid()::text)"),
    ///     Sql::new("LOWER(HEX(RANDOM_BYTES(16)))"),
    /// );
    /// assert_eq!(sql.render(Dialect::Postgres).0, "SELECT md5(gen_random_uuid()::text)");
    /// assert_eq!(sql.render(Dialect::MySql).0, "SELECT LOWER(HEX(RANDOM_BYTES(16)))");
    /// ```
    pub fn per_dialect(&mut self, sqlite: Sql, postgres: Sql, mysql: Sql) -> &mut Self {
        self.parts
            .push(Part::Dialects(Box::new([sqlite, postgres, mysql])));
        self
    }

    fn integer(&mut self, n: u64) -> &mut Self {
        self.parts.push(Part::Integer(n));
        self
    }

    fn for_update(&mut self, skip_locked: bool) -> &mut Self {
        self.parts.push(Part::ForUpdate { skip_locked });
        self
    }

    fn text_match(
        &mut self,
        table: Option<&Ident>,
        column: &Ident,
        values: Vec<Value>,
    ) -> &mut Self {
        self.parts.push(Part::TextMatch {
            table: table.cloned(),
            column: column.clone(),
            values,
        });
        self
    }

    /// Renders the text for `dialect` and returns it with the values to bind, in order.
    pub fn render(&self, dialect: Dialect) -> (String, Vec<&Value>) {
        let mut text = String::with_capacity(self.parts.len() * 12);
        let mut values = Vec::new();
        self.render_into(dialect, &mut text, &mut values);
        (text, values)
    }

    /// Every identifier the statement names, in every dialect's form: its tables and its
    /// columns, unqualified ([`Ident::name`]).
    pub(crate) fn names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.collect_names(&mut names);
        names
    }

    /// How many values the statement binds (in its longest form, where dialects differ).
    pub(crate) fn binds(&self) -> usize {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Value(Value::Null) => 0,
                Part::Value(_) => 1,
                // MySQL's form binds the list twice.
                Part::TextMatch { values, .. } => 2 * values.len(),
                Part::Choice { mysql, other } => mysql.binds().max(other.binds()),
                Part::Dialects(forms) => forms.iter().map(Sql::binds).max().unwrap_or(0),
                Part::Text(_) | Part::Ident(_) | Part::Integer(_) | Part::ForUpdate { .. } => 0,
            })
            .sum()
    }

    fn collect_names<'a>(&'a self, names: &mut Vec<&'a str>) {
        for part in &self.parts {
            match part {
                Part::Ident(ident) => names.push(ident.name()),
                Part::TextMatch { table, column, .. } => {
                    names.extend(table.as_ref().map(Ident::name));
                    names.push(column.name());
                }
                Part::Choice { mysql, other } => {
                    mysql.collect_names(names);
                    other.collect_names(names);
                }
                Part::Dialects(forms) => forms.iter().for_each(|sql| sql.collect_names(names)),
                Part::Text(_) | Part::Value(_) | Part::Integer(_) | Part::ForUpdate { .. } => {}
            }
        }
    }

    /// Renders for `dialect` after what `text` and `values` already hold: placeholders are
    /// numbered on from `values.len()`, so that several statements can share one text.
    pub(crate) fn render_into<'a>(
        &'a self,
        dialect: Dialect,
        text: &mut String,
        values: &mut Vec<&'a Value>,
    ) {
        for part in &self.parts {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::Ident(ident) => dialect.quote_ident(ident, text),
                Part::Value(Value::Null) => text.push_str("NULL"),
                Part::Value(value) => {
                    values.push(value);
                    dialect.placeholder(values.len(), text);
                }
                Part::Integer(n) => {
                    let _ = write!(text, "{n}");
                }
                Part::ForUpdate { skip_locked } => {
                    if dialect != Dialect::Sqlite {
                        text.push_str(if *skip_locked {
                            " FOR UPDATE SKIP LOCKED"
                        } else {
                            " FOR UPDATE"
                        });
                    }
                }
                Part::TextMatch {
                    table,
                    column,
                    values: list,
                } => {
                    if dialect == Dialect::MySql {
                        // The index serves the first test; the second rejects what MySQL's
                        // comparison lets through and the other databases do not: a number
                        // column compared with a string converts the string ('1abc' matches 1),
                        // and the default collations ignore accents and invisible characters
                        // ('josé' matches 'jose', a zero-width space matches nothing at all).
                        // It compares lower-cased text byte for byte, so case still does not
                        // count, as with the column's own collation.
                        text.push('(');
                        render_match(dialect, table.as_ref(), column, list, false, text, values);
                        text.push_str(" AND ");
                        render_match(dialect, table.as_ref(), column, list, true, text, values);
                        text.push(')');
                    } else {
                        render_match(dialect, table.as_ref(), column, list, false, text, values);
                    }
                }
                Part::Choice { mysql, other } => {
                    let chosen = if dialect == Dialect::MySql {
                        mysql
                    } else {
                        other
                    };
                    chosen.render_into(dialect, text, values);
                }
                Part::Dialects(forms) => {
                    let [sqlite, postgres, mysql] = &**forms;
                    let chosen = match dialect {
                        Dialect::Sqlite => sqlite,
                        Dialect::Postgres => postgres,
                        Dialect::MySql => mysql,
                    };
                    chosen.render_into(dialect, text, values);
                }
            }
        }
    }

    /// The number of values bound when rendered for `dialect`.
    pub fn bind_count(&self, dialect: Dialect) -> usize {
        self.render(dialect).1.len()
    }
}

fn render_match<'a>(
    dialect: Dialect,
    table: Option<&Ident>,
    column: &Ident,
    list: &'a [Value],
    as_text: bool,
    text: &mut String,
    values: &mut Vec<&'a Value>,
) {
    if as_text {
        text.push_str("LOWER(CONVERT(CONCAT(");
    }
    if let Some(table) = table {
        dialect.quote_ident(table, text);
        text.push('.');
    }
    dialect.quote_ident(column, text);
    if as_text {
        text.push_str(") USING utf8mb4)) COLLATE utf8mb4_bin");
    }
    text.push_str(if list.len() == 1 { " = " } else { " IN (" });
    for (i, v) in list.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        values.push(v);
        if as_text {
            text.push_str("LOWER(");
        }
        dialect.placeholder(values.len(), text);
        if as_text {
            text.push(')');
        }
    }
    if list.len() > 1 {
        text.push(')');
    }
}

impl std::fmt::Debug for Sql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sql")
            .field(&self.render(Dialect::Postgres).0)
            .finish()
    }
}
