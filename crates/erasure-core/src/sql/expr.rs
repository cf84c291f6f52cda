//! Expressions over one column's own value, and the assignments of an `UPDATE`.

use super::Sql;
use crate::dialect::Dialect;
use crate::ident::Ident;
use crate::value::Value;

#[derive(Clone)]
enum ExprPart {
    Text(&'static str),
    Value(Value),
    /// The column the expression is about, qualified as the statement around it qualifies its
    /// columns.
    Target,
    /// One form per dialect: SQLite, PostgreSQL, MySQL.
    Dialects(Box<[Expr; 3]>),
    /// A statement fragment, with [`Sql`]'s guarantees (a correlated subquery).
    Fragment(Sql),
}

/// An SQL expression over the value of one column, the *target*, that the database computes
/// for every row: the right-hand side of [`Update::set_expr`](super::Update::set_expr), or a
/// test in [`Condition::test`](super::Condition::test).
///
/// Built, like [`Sql`], only from `&'static str` fragments and bound [`Value`]s, plus
/// [`target`](Self::target), which stands for the column. The column is filled in when the
/// statement is written, and qualified with its table wherever the statement qualifies columns
/// (the MySQL join form of an [`Update`](super::Update)), so one expression serves every form.
/// An expression names no other column, except through a [`fragment`](Self::fragment).
///
/// ```
/// use erasure_core::{ident, sql::{Condition, Expr, Update}, Dialect};
///
/// let mut upper = Expr::new("UPPER(");
/// upper.target().push(")");
/// let update = Update::new(ident!("customers"), Condition::eq(ident!("id"), 7))
///     .set_expr(ident!("city"), upper);
/// assert_eq!(
///     update.to_sql().render(Dialect::Postgres).0,
///     r#"UPDATE "customers" SET "city" = UPPER("city") WHERE "id" = $1"#
/// );
/// ```
#[derive(Clone, Default)]
pub struct Expr {
    parts: Vec<ExprPart>,
}

impl Expr {
    /// Starts an expression with fixed text.
    pub fn new(text: &'static str) -> Self {
        Self {
            parts: vec![ExprPart::Text(text)],
        }
    }

    /// The target column alone.
    pub fn column() -> Self {
        Self {
            parts: vec![ExprPart::Target],
        }
    }

    /// Appends fixed text. Only `&'static str` is accepted, on purpose.
    pub fn push(&mut self, text: &'static str) -> &mut Self {
        self.parts.push(ExprPart::Text(text));
        self
    }

    /// Appends the target column.
    pub fn target(&mut self) -> &mut Self {
        self.parts.push(ExprPart::Target);
        self
    }

    /// Appends a bound value (a placeholder in the text; `NULL` is written literally).
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.parts.push(ExprPart::Value(value.into()));
        self
    }

    /// Appends a statement fragment: fixed text, validated identifiers and bound values, as
    /// every [`Sql`]. For an expression that names other tables' columns (a correlated
    /// `EXISTS (SELECT …)`): the fragment qualifies its own columns, as the target's
    /// qualification does not reach into it.
    pub fn fragment(&mut self, fragment: Sql) -> &mut Self {
        self.parts.push(ExprPart::Fragment(fragment));
        self
    }

    /// Appends another expression over the same target.
    pub fn append(&mut self, other: Expr) -> &mut Self {
        self.parts.extend(other.parts);
        self
    }

    /// One expression per dialect, chosen when the statement is rendered: for functions that
    /// the databases spell differently.
    ///
    /// ```
    /// use erasure_core::{ident, sql::Expr, Dialect};
    ///
    /// let mut sqlite = Expr::new("length(");
    /// sqlite.target().push(")");
    /// let mut postgres = Expr::new("char_length(");
    /// postgres.target().push(")");
    /// let mut mysql = Expr::new("CHAR_LENGTH(");
    /// mysql.target().push(")");
    /// let len = Expr::per_dialect(sqlite, postgres, mysql);
    /// let sql = len.to_sql(None, &ident!("name"));
    /// assert_eq!(sql.render(Dialect::Sqlite).0, r#"length("name")"#);
    /// assert_eq!(sql.render(Dialect::MySql).0, "CHAR_LENGTH(`name`)");
    /// ```
    pub fn per_dialect(sqlite: Expr, postgres: Expr, mysql: Expr) -> Self {
        Self {
            parts: vec![ExprPart::Dialects(Box::new([sqlite, postgres, mysql]))],
        }
    }

    /// The expression as a statement fragment, with the target `table.column` (or `column`
    /// when `table` is `None`).
    pub fn to_sql(&self, table: Option<&Ident>, column: &Ident) -> Sql {
        let mut sql = Sql::default();
        self.write(&mut sql, table, column);
        sql
    }

    pub(super) fn write(&self, sql: &mut Sql, table: Option<&Ident>, column: &Ident) {
        for part in &self.parts {
            match part {
                ExprPart::Text(t) => {
                    sql.push(t);
                }
                ExprPart::Value(v) => {
                    sql.bind(v.clone());
                }
                ExprPart::Target => {
                    sql.column(table, column);
                }
                ExprPart::Dialects(forms) => {
                    let [sqlite, postgres, mysql] = &**forms;
                    sql.per_dialect(
                        sqlite.to_sql(table, column),
                        postgres.to_sql(table, column),
                        mysql.to_sql(table, column),
                    );
                }
                ExprPart::Fragment(fragment) => {
                    sql.append(fragment.clone());
                }
            }
        }
    }
}

impl From<&'static str> for Expr {
    fn from(text: &'static str) -> Self {
        Self::new(text)
    }
}

impl std::fmt::Debug for Expr {
    /// The PostgreSQL form, with the target shown as `"column"` and no values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sql = self.to_sql(None, &crate::ident!("column"));
        f.debug_tuple("Expr")
            .field(&sql.render(Dialect::Postgres).0)
            .finish()
    }
}

/// The right-hand side of one `SET column = …` of an [`Update`](super::Update): a bound value,
/// or an expression the database computes from the row's own value of the column.
#[derive(Debug, Clone)]
pub enum Assignment {
    /// `column = ?` (or `column = NULL`).
    Value(Value),
    /// `column = expression(column)`.
    Expr(Expr),
}

impl<T: Into<Value>> From<T> for Assignment {
    fn from(value: T) -> Self {
        Assignment::Value(value.into())
    }
}

impl From<Expr> for Assignment {
    fn from(expr: Expr) -> Self {
        Assignment::Expr(expr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident;
    use crate::sql::{Condition, Select, Update};

    /// `left(col, ?)` spelled per dialect, with a bound length.
    fn prefix() -> Expr {
        let form = |f: &'static str| {
            let mut e = Expr::new(f);
            e.target().push(", ").bind(3).push(")");
            e
        };
        Expr::per_dialect(form("substr("), form("left("), form("LEFT("))
    }

    #[test]
    fn each_dialect_gets_its_own_form_and_values_stay_bound() {
        let update = Update::new(ident!("t"), Condition::eq(ident!("id"), 9))
            .set(ident!("a"), "x")
            .set_expr(ident!("b"), prefix())
            .assign(ident!("c"), Value::Null);
        let sql = update.to_sql();
        let (text, values) = sql.render(Dialect::Sqlite);
        assert_eq!(
            text,
            r#"UPDATE "t" SET "a" = ?, "b" = substr("b", ?), "c" = NULL WHERE "id" = ?"#
        );
        assert_eq!(values.len(), 3);
        assert_eq!(
            sql.render(Dialect::Postgres).0,
            r#"UPDATE "t" SET "a" = $1, "b" = left("b", $2), "c" = NULL WHERE "id" = $3"#
        );
        assert_eq!(
            sql.render(Dialect::MySql).0,
            "UPDATE `t` SET `a` = ?, `b` = LEFT(`b`, ?), `c` = NULL WHERE `id` = ?"
        );
    }

    #[test]
    fn the_target_is_qualified_where_the_statement_qualifies_columns() {
        let parents = Select::column(ident!("sessions"), ident!("id"))
            .filter(Condition::eq(ident!("customer_id"), 1));
        let update = Update::new(
            ident!("shop.hits"),
            Condition::in_select(ident!("session_id"), parents)
                .and(Condition::test(ident!("ip"), prefix())),
        )
        .set_expr(ident!("ip"), prefix());
        let sql = update.to_sql();
        assert_eq!(
            sql.render(Dialect::MySql).0,
            "UPDATE `sessions` STRAIGHT_JOIN `shop`.`hits` ON `shop`.`hits`.`session_id` = `sessions`.`id` \
             SET `shop`.`hits`.`ip` = LEFT(`shop`.`hits`.`ip`, ?) \
             WHERE (LEFT(`shop`.`hits`.`ip`, ?)) AND `sessions`.`customer_id` = ?"
        );
        assert_eq!(
            sql.render(Dialect::Postgres).0,
            r#"UPDATE "shop"."hits" SET "ip" = left("ip", $1) WHERE ("session_id" IN (SELECT "id" FROM "sessions" WHERE "customer_id" = $2) AND (left("ip", $3)))"#
        );
        assert_eq!(sql.bind_count(Dialect::Sqlite), 3);
    }

    #[test]
    fn debug_shows_the_postgres_form_without_values() {
        let mut e = Expr::new("coalesce(");
        e.target().push(", ").bind("secret@example.com").push(")");
        let shown = format!("{e:?}");
        assert_eq!(shown, r#"Expr("coalesce(\"column\", $1)")"#);
        let update = Update::new(ident!("t"), Condition::always()).set_expr(ident!("c"), e);
        assert!(!format!("{update:?}").contains("secret"));
    }
}
