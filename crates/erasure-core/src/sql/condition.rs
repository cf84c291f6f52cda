//! `WHERE` conditions.

use super::{Expr, Select, Sql};
use crate::ident::Ident;
use crate::value::Value;

/// A comparison used by [`Condition::compare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    fn text(self) -> &'static str {
        match self {
            Cmp::Lt => " < ",
            Cmp::Le => " <= ",
            Cmp::Gt => " > ",
            Cmp::Ge => " >= ",
        }
    }
}

/// A `WHERE` condition.
///
/// `eq(col, Value::Null)` renders `col IS NULL` and `ne(col, Value::Null)` renders
/// `col IS NOT NULL`, since `= NULL` is never true in SQL. An empty `IN` list is false and an
/// empty `NOT IN` list is true, as in set logic.
///
/// `eq` and `is_in` with text values compare as text on every backend, with the same result
/// wherever the databases can agree. MySQL would otherwise convert the text to a number when the
/// column is numeric (a text key `'1abc'` would match the row with id 1), and its default
/// collations ignore accents and invisible characters (`'josé'` would match `'jose'`, and a
/// zero-width space would match nothing); there the condition also compares the lower-cased text
/// byte for byte, `LOWER(CONVERT(CONCAT(col) USING utf8mb4)) COLLATE utf8mb4_bin = LOWER(?)`,
/// while the index still serves the first comparison. Case is compared as the column's
/// collation compares it.
///
/// ```
/// use erasure_core::{ident, sql::{Condition, Select}, Dialect};
///
/// let wishlists = Select::column(ident!("wishlists"), ident!("id"))
///     .filter(Condition::eq(ident!("customer_id"), 42));
/// let items = Condition::in_select(ident!("wishlist_id"), wishlists);
/// let sql = items.to_sql();
/// let (text, values) = sql.render(Dialect::Sqlite);
/// assert_eq!(
///     text,
///     r#""wishlist_id" IN (SELECT "id" FROM "wishlists" WHERE "customer_id" = ?)"#
/// );
/// assert_eq!(values.len(), 1);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Condition {
    /// `col = value` (or `col IS NULL`).
    Eq(Ident, Value),
    /// `col <> value` (or `col IS NOT NULL`).
    Ne(Ident, Value),
    /// `col < value` and friends.
    Compare(Ident, Cmp, Value),
    /// `col IN (values…)`.
    In(Ident, Vec<Value>),
    /// `col NOT IN (values…)`.
    NotIn(Ident, Vec<Value>),
    /// `col IN (SELECT …)`.
    InSelect(Ident, Box<Select>),
    /// `col IS NULL`.
    IsNull(Ident),
    /// `col IS NOT NULL`.
    IsNotNull(Ident),
    /// All of the conditions (true when empty).
    And(Vec<Condition>),
    /// Any of the conditions (false when empty).
    Or(Vec<Condition>),
    /// The negation.
    Not(Box<Condition>),
    /// A boolean expression over the column's value (see [`Condition::test`]).
    Test(Ident, Expr),
}

impl Condition {
    /// Always true (`1 = 1`): for statements that really mean every row, spelled out.
    pub fn always() -> Self {
        Condition::And(Vec::new())
    }

    /// `col = value`.
    pub fn eq(col: Ident, value: impl Into<Value>) -> Self {
        Condition::Eq(col, value.into())
    }

    /// `col <> value`.
    pub fn ne(col: Ident, value: impl Into<Value>) -> Self {
        Condition::Ne(col, value.into())
    }

    /// `col <op> value`.
    pub fn compare(col: Ident, op: Cmp, value: impl Into<Value>) -> Self {
        Condition::Compare(col, op, value.into())
    }

    /// `col IN (values…)`.
    pub fn is_in(col: Ident, values: Vec<Value>) -> Self {
        Condition::In(col, values)
    }

    /// `col NOT IN (values…)`.
    pub fn not_in(col: Ident, values: Vec<Value>) -> Self {
        Condition::NotIn(col, values)
    }

    /// `col IN (SELECT …)`.
    pub fn in_select(col: Ident, select: Select) -> Self {
        Condition::InSelect(col, Box::new(select))
    }

    /// `col IS NULL`.
    pub fn is_null(col: Ident) -> Self {
        Condition::IsNull(col)
    }

    /// `col IS NOT NULL`.
    pub fn is_not_null(col: Ident) -> Self {
        Condition::IsNotNull(col)
    }

    /// The boolean expression `test` with `col` as its target, qualified like every column of
    /// the condition.
    ///
    /// ```
    /// use erasure_core::{ident, sql::{Condition, Expr}, Dialect};
    ///
    /// let mut long = Expr::new("char_length(");
    /// long.target().push(") > ").bind(40);
    /// let c = Condition::test(ident!("street"), long);
    /// assert_eq!(c.to_sql().render(Dialect::Postgres).0, r#"(char_length("street") > $1)"#);
    /// ```
    pub fn test(col: Ident, test: Expr) -> Self {
        Condition::Test(col, test)
    }

    /// `self AND other`, flattening nested conjunctions.
    pub fn and(self, other: Condition) -> Self {
        match (self, other) {
            (Condition::And(mut a), Condition::And(b)) => {
                a.extend(b);
                Condition::And(a)
            }
            (Condition::And(mut a), c) => {
                a.push(c);
                Condition::And(a)
            }
            (c, Condition::And(mut b)) => {
                b.insert(0, c);
                Condition::And(b)
            }
            (a, b) => Condition::And(vec![a, b]),
        }
    }

    /// `self OR other`.
    pub fn or(self, other: Condition) -> Self {
        match self {
            Condition::Or(mut a) => {
                a.push(other);
                Condition::Or(a)
            }
            c => Condition::Or(vec![c, other]),
        }
    }

    /// `NOT self`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        Condition::Not(Box::new(self))
    }

    /// The condition as a statement fragment.
    pub fn to_sql(&self) -> Sql {
        let mut sql = Sql::default();
        self.write(&mut sql, None);
        sql
    }

    /// The conjuncts: the items of a top-level `AND`, or the condition itself.
    pub(crate) fn conjuncts(&self) -> Vec<&Condition> {
        match self {
            Condition::And(items) => items.iter().collect(),
            c => vec![c],
        }
    }

    /// Writes the condition, with column names qualified by `table` when given (subqueries keep
    /// their own scope).
    // Longer than most: one short arm per variant, the one place a condition becomes SQL text;
    // split up, the variants' rendering would no longer read side by side.
    pub(crate) fn write(&self, sql: &mut Sql, table: Option<&Ident>) {
        match self {
            Condition::Eq(c, Value::Null) | Condition::IsNull(c) => {
                sql.column(table, c).push(" IS NULL");
            }
            Condition::Ne(c, Value::Null) | Condition::IsNotNull(c) => {
                sql.column(table, c).push(" IS NOT NULL");
            }
            Condition::Eq(c, v @ Value::Text(_)) => {
                sql.text_match(table, c, vec![v.clone()]);
            }
            Condition::Eq(c, v) => {
                sql.column(table, c).push(" = ").bind(v.clone());
            }
            Condition::Ne(c, v) => {
                sql.column(table, c).push(" <> ").bind(v.clone());
            }
            Condition::Compare(c, op, v) => {
                sql.column(table, c).push(op.text()).bind(v.clone());
            }
            Condition::In(_, values) if values.is_empty() => {
                sql.push("1 = 0");
            }
            Condition::NotIn(_, values) if values.is_empty() => {
                sql.push("1 = 1");
            }
            Condition::In(c, values) if values.iter().all(|v| matches!(v, Value::Text(_))) => {
                sql.text_match(table, c, values.clone());
            }
            Condition::In(c, values) | Condition::NotIn(c, values) => {
                sql.column(table, c);
                sql.push(if matches!(self, Condition::In(..)) {
                    " IN ("
                } else {
                    " NOT IN ("
                });
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(v.clone());
                }
                sql.push(")");
            }
            Condition::InSelect(c, select) => {
                sql.column(table, c).push(" IN (");
                select.write(sql);
                sql.push(")");
            }
            Condition::And(items) | Condition::Or(items) if items.is_empty() => {
                sql.push(if matches!(self, Condition::And(_)) {
                    "1 = 1"
                } else {
                    "1 = 0"
                });
            }
            Condition::And(items) | Condition::Or(items) => {
                let sep = if matches!(self, Condition::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                sql.push("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        sql.push(sep);
                    }
                    item.write(sql, table);
                }
                sql.push(")");
            }
            Condition::Not(inner) => {
                sql.push("NOT (");
                inner.write(sql, table);
                sql.push(")");
            }
            Condition::Test(c, test) => {
                sql.push("(");
                test.write(sql, table, c);
                sql.push(")");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dialect;
    use crate::ident;

    #[test]
    fn empty_lists_and_nulls_keep_set_semantics() {
        let r = |c: Condition| c.to_sql().render(Dialect::Sqlite).0;
        assert_eq!(r(Condition::is_in(ident!("a"), vec![])), "1 = 0");
        assert_eq!(r(Condition::not_in(ident!("a"), vec![])), "1 = 1");
        assert_eq!(r(Condition::eq(ident!("a"), Value::Null)), r#""a" IS NULL"#);
        assert_eq!(
            r(Condition::ne(ident!("a"), Value::Null)),
            r#""a" IS NOT NULL"#
        );
        assert_eq!(
            r(Condition::eq(ident!("a"), 1)
                .and(Condition::is_null(ident!("b")))
                .and(Condition::eq(ident!("c"), 2))),
            r#"("a" = ? AND "b" IS NULL AND "c" = ?)"#
        );
        assert_eq!(
            r(Condition::eq(ident!("a"), 1)
                .or(Condition::eq(ident!("b"), 2))
                .not()),
            r#"NOT (("a" = ? OR "b" = ?))"#
        );
    }

    #[test]
    fn text_values_compare_as_text_on_mysql() {
        let c = Condition::eq(ident!("customer_id"), "1 OR 1=1").and(Condition::is_in(
            ident!("user_id"),
            vec!["a".into(), "b".into()],
        ));
        let sql = c.to_sql();
        let (text, values) = sql.render(Dialect::MySql);
        assert_eq!(
            text,
            "((`customer_id` = ? AND LOWER(CONVERT(CONCAT(`customer_id`) USING utf8mb4)) \
             COLLATE utf8mb4_bin = LOWER(?)) AND (`user_id` IN (?, ?) AND \
             LOWER(CONVERT(CONCAT(`user_id`) USING utf8mb4)) COLLATE utf8mb4_bin \
             IN (LOWER(?), LOWER(?))))"
        );
        assert_eq!(values.len(), 6);
        let (text, values) = sql.render(Dialect::Postgres);
        assert_eq!(text, r#"("customer_id" = $1 AND "user_id" IN ($2, $3))"#);
        assert_eq!(values.len(), 3);
    }

    #[test]
    fn qualified_conditions_qualify_every_column_but_not_subqueries() {
        let inner = Select::column(ident!("p"), ident!("id")).filter(Condition::eq(ident!("x"), 1));
        let c = Condition::eq(ident!("a"), "t")
            .and(Condition::in_select(ident!("b"), inner))
            .and(Condition::is_null(ident!("c")));
        let mut sql = Sql::default();
        c.write(&mut sql, Some(&ident!("child")));
        assert_eq!(
            sql.render(Dialect::Postgres).0,
            r#"("child"."a" = $1 AND "child"."b" IN (SELECT "id" FROM "p" WHERE "x" = $2) AND "child"."c" IS NULL)"#
        );
        assert_eq!(
            sql.render(Dialect::MySql).0,
            "((`child`.`a` = ? AND LOWER(CONVERT(CONCAT(`child`.`a`) USING utf8mb4)) COLLATE utf8mb4_bin = LOWER(?)) AND `child`.`b` IN (SELECT `id` FROM `p` WHERE `x` = ?) AND `child`.`c` IS NULL)"
        );
    }
}
