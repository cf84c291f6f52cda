//! Statements built from fixed SQL text, validated identifiers and bound values.
//!
//! This is the only place where SQL text is assembled, and it can only be assembled from three
//! things: `&'static str` fragments written in source code, [`Ident`]s (validated, then quoted per
//! dialect), and [`Value`]s (always bound as parameters, never spliced; `NULL` alone is written as
//! a literal). There is no way to push a runtime string into SQL text through this module.
//!
//! Handlers normally use the builders ([`Select`], [`Update`], [`Delete`], [`Condition`]), which
//! produce set-based statements: one statement per table per subject. [`Sql`] is the escape
//! hatch for anything the builders do not cover, with the same guarantees.

use std::fmt::Write as _;

use crate::backend::Dialect;
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
    /// already hold the database lock).
    ForUpdate,
    /// `col = ?` or `col IN (?, …)` with text values, compared as text everywhere (see
    /// [`Condition::Eq`]).
    TextMatch(Ident, Vec<Value>),
}

/// A statement under construction: fixed text, identifiers and bound values.
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

    /// Renders the text for `dialect` and returns it with the values to bind, in order.
    pub fn render<'a>(&'a self, dialect: Dialect) -> (String, Vec<&'a Value>) {
        let mut text = String::with_capacity(self.parts.len() * 12);
        let mut values = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::Ident(ident) => dialect.quote_ident(ident, &mut text),
                Part::Value(Value::Null) => text.push_str("NULL"),
                Part::Value(value) => {
                    values.push(value);
                    dialect.placeholder(values.len(), &mut text);
                }
                Part::Integer(n) => {
                    let _ = write!(text, "{n}");
                }
                Part::ForUpdate => {
                    if dialect != Dialect::Sqlite {
                        text.push_str(" FOR UPDATE");
                    }
                }
                Part::TextMatch(col, list) => {
                    let one = |text: &mut String, values: &mut Vec<&'a Value>, concat: bool| {
                        if concat {
                            text.push_str("CONCAT(");
                            dialect.quote_ident(col, text);
                            text.push(')');
                        } else {
                            dialect.quote_ident(col, text);
                        }
                        text.push_str(if list.len() == 1 { " = " } else { " IN (" });
                        for (i, v) in list.iter().enumerate() {
                            if i > 0 {
                                text.push_str(", ");
                            }
                            values.push(v);
                            dialect.placeholder(values.len(), text);
                        }
                        if list.len() > 1 {
                            text.push(')');
                        }
                    };
                    if dialect == Dialect::MySql {
                        // MySQL compares a number column with a string by converting the string
                        // to a number: '1abc' matches 1. The index serves the first test; the
                        // second compares as text and rejects what the conversion let through.
                        text.push('(');
                        one(&mut text, &mut values, false);
                        text.push_str(" AND ");
                        one(&mut text, &mut values, true);
                        text.push(')');
                    } else {
                        one(&mut text, &mut values, false);
                    }
                }
            }
        }
        (text, values)
    }

    /// The number of bound values.
    pub fn bind_count(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Value(v) if !v.is_null() => 1,
                Part::TextMatch(_, list) => list.len(),
                _ => 0,
            })
            .sum()
    }
}

/// Shows the statement's shape (text and identifiers) with values replaced by `?`, so a
/// statement can be logged or asserted on without revealing what it binds.
impl std::fmt::Debug for Sql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shape = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => shape.push_str(t),
                Part::Ident(i) => {
                    let _ = write!(shape, "\"{i}\"");
                }
                Part::Value(Value::Null) => shape.push_str("NULL"),
                Part::Value(_) => shape.push('?'),
                Part::Integer(n) => {
                    let _ = write!(shape, "{n}");
                }
                Part::ForUpdate => shape.push_str(" [FOR UPDATE]"),
                Part::TextMatch(col, list) => {
                    let _ = write!(shape, "\"{col}\" =text ({} values)", list.len());
                }
            }
        }
        f.debug_tuple("Sql").field(&shape).finish()
    }
}

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
/// `eq` and `is_in` with text values compare as text on every backend. MySQL would otherwise
/// convert the text to a number when the column is numeric, so that a text key `'1abc'` would
/// match the row with id 1; there the condition also compares `CONCAT(col)` (the index still
/// serves the first comparison).
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
        self.write(&mut sql);
        sql
    }

    fn write(&self, sql: &mut Sql) {
        match self {
            Condition::Eq(c, Value::Null) | Condition::IsNull(c) => {
                sql.ident(c).push(" IS NULL");
            }
            Condition::Ne(c, Value::Null) | Condition::IsNotNull(c) => {
                sql.ident(c).push(" IS NOT NULL");
            }
            Condition::Eq(c, v @ Value::Text(_)) => {
                sql.parts.push(Part::TextMatch(c.clone(), vec![v.clone()]));
            }
            Condition::Eq(c, v) => {
                sql.ident(c).push(" = ").bind(v.clone());
            }
            Condition::Ne(c, v) => {
                sql.ident(c).push(" <> ").bind(v.clone());
            }
            Condition::Compare(c, op, v) => {
                sql.ident(c).push(op.text()).bind(v.clone());
            }
            Condition::In(_, values) if values.is_empty() => {
                sql.push("1 = 0");
            }
            Condition::NotIn(_, values) if values.is_empty() => {
                sql.push("1 = 1");
            }
            Condition::In(c, values) if values.iter().all(|v| matches!(v, Value::Text(_))) => {
                sql.parts.push(Part::TextMatch(c.clone(), values.clone()));
            }
            Condition::In(c, values) | Condition::NotIn(c, values) => {
                sql.ident(c);
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
                sql.ident(c).push(" IN (");
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
                    item.write(sql);
                }
                sql.push(")");
            }
            Condition::Not(inner) => {
                sql.push("NOT (");
                inner.write(sql);
                sql.push(")");
            }
        }
    }
}

/// What a [`Select`] returns.
#[derive(Debug, Clone)]
enum Projection {
    Columns(Vec<Ident>),
    Count,
}

/// `SELECT columns FROM table [WHERE …] [ORDER BY …] [LIMIT n]`.
///
/// ```
/// use erasure_core::{ident, sql::{Condition, Select}, Dialect};
///
/// let count = Select::count(ident!("orders")).filter(Condition::eq(ident!("customer_id"), 7));
/// assert_eq!(
///     count.to_sql().render(Dialect::Postgres).0,
///     r#"SELECT COUNT(*) FROM "orders" WHERE "customer_id" = $1"#
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Select {
    table: Ident,
    projection: Projection,
    filter: Option<Condition>,
    order_by: Vec<Ident>,
    limit: Option<u64>,
    for_update: bool,
}

impl Select {
    /// Selects the given columns.
    pub fn columns(table: Ident, columns: impl IntoIterator<Item = Ident>) -> Self {
        Self {
            table,
            projection: Projection::Columns(columns.into_iter().collect()),
            filter: None,
            order_by: Vec::new(),
            limit: None,
            for_update: false,
        }
    }

    /// Selects one column.
    pub fn column(table: Ident, column: Ident) -> Self {
        Self::columns(table, [column])
    }

    /// Selects `COUNT(*)`.
    pub fn count(table: Ident) -> Self {
        Self {
            projection: Projection::Count,
            ..Self::columns(table, [])
        }
    }

    /// Adds a `WHERE` condition (combined with `AND` if one is set already).
    pub fn filter(mut self, condition: Condition) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(condition),
            None => condition,
        });
        self
    }

    /// Orders by the columns, ascending.
    pub fn order_by(mut self, columns: impl IntoIterator<Item = Ident>) -> Self {
        self.order_by = columns.into_iter().collect();
        self
    }

    /// Limits the number of rows.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Locks the selected rows until the transaction ends (`FOR UPDATE` on PostgreSQL and
    /// MySQL; on SQLite the write transaction already excludes other writers). A guard that
    /// reads rows to decide uses this, so that two concurrent erasures cannot both decide on the
    /// same stale state. Not allowed with [`Select::count`] on PostgreSQL.
    pub fn for_update(mut self) -> Self {
        self.for_update = true;
        self
    }

    /// The table selected from.
    pub fn table(&self) -> &Ident {
        &self.table
    }

    /// The statement.
    pub fn to_sql(&self) -> Sql {
        let mut sql = Sql::default();
        self.write(&mut sql);
        sql
    }

    fn write(&self, sql: &mut Sql) {
        sql.push("SELECT ");
        match &self.projection {
            Projection::Columns(cols) if cols.is_empty() => {
                sql.push("*");
            }
            Projection::Columns(cols) => {
                sql.idents(cols);
            }
            Projection::Count => {
                sql.push("COUNT(*)");
            }
        }
        sql.push(" FROM ").ident(&self.table);
        if let Some(filter) = &self.filter {
            sql.push(" WHERE ");
            filter.write(sql);
        }
        if !self.order_by.is_empty() {
            sql.push(" ORDER BY ").idents(&self.order_by);
        }
        if let Some(limit) = self.limit {
            // Written as digits, not bound: MySQL rejects a placeholder in some LIMIT positions.
            sql.push(" LIMIT ");
            sql.parts.push(Part::Integer(limit));
        }
        if self.for_update {
            sql.parts.push(Part::ForUpdate);
        }
    }
}

/// `UPDATE table SET col = value, … WHERE condition`.
///
/// A condition is required: an erasure library has no business updating a whole table.
///
/// ```
/// use erasure_core::{ident, sql::{Condition, Update}, Dialect, Value};
///
/// let update = Update::new(ident!("orders"), Condition::eq(ident!("customer_id"), 7))
///     .set(ident!("email"), Value::Null)
///     .set(ident!("to_be_deleted"), true);
/// assert_eq!(
///     update.to_sql().render(Dialect::Sqlite).0,
///     r#"UPDATE "orders" SET "email" = NULL, "to_be_deleted" = ? WHERE "customer_id" = ?"#
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Update {
    table: Ident,
    assignments: Vec<(Ident, Value)>,
    filter: Condition,
}

impl Update {
    /// An update of the rows matching `filter`.
    pub fn new(table: Ident, filter: Condition) -> Self {
        Self {
            table,
            assignments: Vec::new(),
            filter,
        }
    }

    /// Sets `column = value`.
    pub fn set(mut self, column: Ident, value: impl Into<Value>) -> Self {
        self.assignments.push((column, value.into()));
        self
    }

    /// Whether no assignment was added.
    pub fn is_empty(&self) -> bool {
        self.assignments.is_empty()
    }

    /// The statement.
    pub fn to_sql(&self) -> Sql {
        let mut sql = Sql::new("UPDATE ");
        sql.ident(&self.table).push(" SET ");
        for (i, (col, value)) in self.assignments.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.ident(col).push(" = ").bind(value.clone());
        }
        sql.push(" WHERE ");
        self.filter.write(&mut sql);
        sql
    }
}

/// `DELETE FROM table WHERE condition`.
///
/// A condition is required, as for [`Update`].
///
/// ```
/// use erasure_core::{ident, sql::{Condition, Delete}, Dialect};
///
/// let delete = Delete::new(ident!("alerts"), Condition::eq(ident!("customer_id"), 7));
/// assert_eq!(
///     delete.to_sql().render(Dialect::MySql).0,
///     "DELETE FROM `alerts` WHERE `customer_id` = ?"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Delete {
    table: Ident,
    filter: Condition,
}

impl Delete {
    /// A delete of the rows matching `filter`.
    pub fn new(table: Ident, filter: Condition) -> Self {
        Self { table, filter }
    }

    /// The statement.
    pub fn to_sql(&self) -> Sql {
        let mut sql = Sql::new("DELETE FROM ");
        sql.ident(&self.table).push(" WHERE ");
        self.filter.write(&mut sql);
        sql
    }
}

/// `INSERT INTO table (columns…) VALUES (…), (…)`: one statement for many rows.
///
/// ```
/// use erasure_core::{ident, sql::Insert, Dialect};
///
/// let mut insert = Insert::new(ident!("alerts"), [ident!("customer_id"), ident!("sku")]);
/// insert.row([1.into(), "SKU-1".into()]);
/// insert.row([2.into(), "SKU-2".into()]);
/// assert_eq!(
///     insert.to_sql().render(Dialect::Postgres).0,
///     r#"INSERT INTO "alerts" ("customer_id", "sku") VALUES ($1, $2), ($3, $4)"#
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Insert {
    table: Ident,
    columns: Vec<Ident>,
    rows: Vec<Vec<Value>>,
}

impl Insert {
    /// An insert into `columns` of `table`, with no rows yet.
    pub fn new(table: Ident, columns: impl IntoIterator<Item = Ident>) -> Self {
        Self {
            table,
            columns: columns.into_iter().collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row. A row with more or fewer values than there are columns is written as given,
    /// and the database rejects the statement (never silently padded or cut).
    pub fn row(&mut self, values: impl IntoIterator<Item = Value>) -> &mut Self {
        self.rows.push(values.into_iter().collect());
        self
    }

    /// The number of rows added.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The column count (to size batches under the backends' parameter limits).
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Removes the rows, keeping table and columns, to reuse the insert for the next batch.
    pub fn clear(&mut self) {
        self.rows.clear();
    }

    /// The statement, all rows at once.
    pub fn to_sql(&self) -> Sql {
        self.statement(&self.rows)
    }

    /// One statement per `rows_per_statement` rows, to stay under the backends' limits on
    /// bound parameters (SQLite 32,766; PostgreSQL and MySQL 65,535).
    pub fn statements(&self, rows_per_statement: usize) -> impl Iterator<Item = Sql> + '_ {
        self.rows
            .chunks(rows_per_statement.max(1))
            .map(|rows| self.statement(rows))
    }

    fn statement(&self, rows: &[Vec<Value>]) -> Sql {
        let mut sql = Sql::new("INSERT INTO ");
        sql.ident(&self.table)
            .push(" (")
            .idents(&self.columns)
            .push(") VALUES ");
        for (i, row) in rows.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            for (j, value) in row.iter().enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                sql.bind(value.clone());
            }
            sql.push(")");
        }
        sql
    }
}

macro_rules! into_sql {
    ($($t:ty),*) => {$(
        impl From<$t> for Sql {
            fn from(statement: $t) -> Sql {
                statement.to_sql()
            }
        }
        impl From<&$t> for Sql {
            fn from(statement: &$t) -> Sql {
                statement.to_sql()
            }
        }
    )*};
}
into_sql!(Select, Update, Delete, Insert, Condition);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident;

    #[test]
    fn values_never_reach_the_text() {
        let payload = "x'); DROP TABLE orders; --";
        let stmt = Update::new(ident!("orders"), Condition::eq(ident!("email"), payload))
            .set(ident!("notes"), payload);
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
            let sql = stmt.to_sql();
            let (text, values) = sql.render(dialect);
            assert!(!text.contains("DROP"), "{text}");
            // MySQL binds the text key twice (see `Condition::Eq`).
            assert_eq!(values.len(), if dialect == Dialect::MySql { 3 } else { 2 });
        }
        assert!(!format!("{:?}", stmt.to_sql()).contains("DROP"));
    }

    #[test]
    fn postgres_placeholders_are_numbered_and_null_is_literal() {
        let stmt = Update::new(
            ident!("t"),
            Condition::is_in(ident!("id"), vec![1.into(), 2.into(), 3.into()]),
        )
        .set(ident!("a"), Value::Null)
        .set(ident!("b"), "x");
        let sql = stmt.to_sql();
        let (text, values) = sql.render(Dialect::Postgres);
        assert_eq!(
            text,
            r#"UPDATE "t" SET "a" = NULL, "b" = $1 WHERE "id" IN ($2, $3, $4)"#
        );
        assert_eq!(values.len(), 4);
        assert_eq!(stmt.to_sql().bind_count(), 4);
    }

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
            "((`customer_id` = ? AND CONCAT(`customer_id`) = ?) AND \
             (`user_id` IN (?, ?) AND CONCAT(`user_id`) IN (?, ?)))"
        );
        assert_eq!(values.len(), 6);
        let (text, values) = sql.render(Dialect::Postgres);
        assert_eq!(text, r#"("customer_id" = $1 AND "user_id" IN ($2, $3))"#);
        assert_eq!(values.len(), 3);
        assert_eq!(sql.bind_count(), 3);
    }

    #[test]
    fn for_update_only_where_rows_lock() {
        let s = Select::column(ident!("b2b_roles"), ident!("user_id"))
            .filter(Condition::eq(ident!("customer_id"), 1))
            .for_update()
            .to_sql();
        assert!(s.render(Dialect::Postgres).0.ends_with(" = $1 FOR UPDATE"));
        assert!(s.render(Dialect::MySql).0.ends_with(" = ? FOR UPDATE"));
        assert!(s.render(Dialect::Sqlite).0.ends_with(" = ?"));
    }

    #[test]
    fn qualified_identifiers_quote_each_part() {
        let s = Select::count(ident!("shop.orders")).to_sql();
        assert_eq!(
            s.render(Dialect::Postgres).0,
            r#"SELECT COUNT(*) FROM "shop"."orders""#
        );
        assert_eq!(
            s.render(Dialect::MySql).0,
            "SELECT COUNT(*) FROM `shop`.`orders`"
        );
    }
}
