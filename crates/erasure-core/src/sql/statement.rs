//! Statements: `SELECT`, `UPDATE`, `DELETE`, `INSERT`.

use super::{Assignment, Condition, Expr, Sql};
use crate::ident::Ident;
use crate::value::Value;

/// What a [`Select`] returns.
#[derive(Debug, Clone)]
enum Projection {
    Columns(Vec<Ident>),
    /// Columns, some read as text.
    Read(Vec<(Ident, bool)>),
    Count,
}

/// `SELECT columns FROM table [WHERE …] [ORDER BY …] [LIMIT n] [FOR UPDATE]`.
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
    descending: bool,
    limit: Option<u64>,
    for_update: bool,
    skip_locked: bool,
}

impl Select {
    /// Selects the given columns (`*` when empty).
    pub fn columns(table: Ident, columns: impl IntoIterator<Item = Ident>) -> Self {
        Self {
            table,
            projection: Projection::Columns(columns.into_iter().collect()),
            filter: None,
            order_by: Vec::new(),
            descending: false,
            limit: None,
            for_update: false,
            skip_locked: false,
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

    /// Orders by the [`order_by`](Self::order_by) columns descending instead.
    pub fn descending(mut self) -> Self {
        self.descending = true;
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

    /// Locks the selected rows like [`for_update`](Self::for_update), skipping rows another
    /// transaction has locked (`FOR UPDATE SKIP LOCKED`; PostgreSQL, MySQL 8, MariaDB 10.6+), so
    /// that concurrent workers each claim different rows. SQLite has one writer at a time and
    /// needs neither.
    pub fn for_update_skip_locked(mut self) -> Self {
        self.for_update = true;
        self.skip_locked = true;
        self
    }

    /// Selects `columns` instead, reading those marked `true` as text under their own names
    /// (`CAST(col AS TEXT) AS col`; `CAST(col AS CHAR)` on MySQL). For types the backend layer
    /// does not decode into a [`Value`] (`NUMERIC`, `UUID`, `INET`, `JSON`, enums …), so that
    /// every value can be read, as an export must.
    ///
    /// ```
    /// use erasure_core::{ident, sql::Select, Dialect};
    ///
    /// let s = Select::columns(ident!("orders"), [])
    ///     .read_as_text([(ident!("id"), false), (ident!("total"), true)]);
    /// assert_eq!(
    ///     s.to_sql().render(Dialect::MySql).0,
    ///     "SELECT `id`, CAST(`total` AS CHAR) AS `total` FROM `orders`"
    /// );
    /// ```
    pub fn read_as_text(mut self, columns: impl IntoIterator<Item = (Ident, bool)>) -> Self {
        self.projection = Projection::Read(columns.into_iter().collect());
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

    /// The single selected column, if this select can become a join: one column, no order,
    /// limit or lock.
    fn join_key(&self) -> Option<&Ident> {
        match &self.projection {
            Projection::Columns(cols)
                if cols.len() == 1
                    && self.order_by.is_empty()
                    && self.limit.is_none()
                    && !self.for_update =>
            {
                cols.first()
            }
            _ => None,
        }
    }

    pub(super) fn write(&self, sql: &mut Sql) {
        sql.push("SELECT ");
        match &self.projection {
            Projection::Columns(cols) if cols.is_empty() => {
                sql.push("*");
            }
            Projection::Columns(cols) => {
                sql.idents(cols);
            }
            Projection::Read(cols) if cols.is_empty() => {
                sql.push("*");
            }
            Projection::Read(cols) => {
                for (i, (col, as_text)) in cols.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    if *as_text {
                        let cast = |ty: &'static str| {
                            let mut c = Sql::new("CAST(");
                            c.ident(col).push(ty).ident(col);
                            c
                        };
                        sql.choice(cast(" AS CHAR) AS "), cast(" AS TEXT) AS "));
                    } else {
                        sql.ident(col);
                    }
                }
            }
            Projection::Count => {
                sql.push("COUNT(*)");
            }
        }
        sql.push(" FROM ").ident(&self.table);
        if let Some(filter) = &self.filter {
            sql.push(" WHERE ");
            filter.write(sql, None);
        }
        if !self.order_by.is_empty() {
            sql.push(" ORDER BY ");
            if self.descending {
                for (i, column) in self.order_by.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.ident(column).push(" DESC");
                }
            } else {
                sql.idents(&self.order_by);
            }
        }
        if let Some(limit) = self.limit {
            // Written as digits, not bound: MySQL rejects a placeholder in some LIMIT positions.
            sql.push(" LIMIT ").integer(limit);
        }
        if self.for_update {
            sql.for_update(self.skip_locked);
        }
    }
}

/// A filter of the form `col IN (SELECT key FROM parent WHERE f) AND rest…` on a table other
/// than `parent`: rows of a child table selected through their parent.
///
/// PostgreSQL and SQLite plan `IN (SELECT …)` as a semi-join on the child's index. MariaDB (and
/// MySQL before 8.0.21) do not for `UPDATE` and `DELETE`: they scan the whole child table and
/// lock every row they read, which is slow on a large shop and makes concurrent erasures
/// deadlock. On MySQL such statements are written as multi-table `UPDATE parent STRAIGHT_JOIN
/// child` and `DELETE child FROM parent STRAIGHT_JOIN child`, which read the parent's rows by
/// their filter first and the children by their index.
struct ParentJoin<'a> {
    column: &'a Ident,
    parent: &'a Ident,
    key: &'a Ident,
    parent_filter: Option<&'a Condition>,
    rest: Vec<&'a Condition>,
}

impl<'a> ParentJoin<'a> {
    fn find(table: &Ident, filter: &'a Condition) -> Option<Self> {
        let mut join = None;
        let mut rest = Vec::new();
        for c in filter.conjuncts() {
            match c {
                Condition::InSelect(column, select)
                    if join.is_none() && select.table() != table =>
                {
                    match select.join_key() {
                        Some(key) => join = Some((column, select, key)),
                        None => rest.push(c),
                    }
                }
                _ => rest.push(c),
            }
        }
        let (column, select, key) = join?;
        Some(Self {
            column,
            parent: select.table(),
            key,
            parent_filter: select.filter.as_ref(),
            rest,
        })
    }

    /// `parent STRAIGHT_JOIN child ON child.column = parent.key`.
    ///
    /// The parent comes first, and `STRAIGHT_JOIN` keeps it first: the statement then finds the
    /// subject's parent rows by the parent filter's index and their children by the child's. Left
    /// to choose (a plain `JOIN`), MariaDB sometimes reads the child table first, by its primary
    /// key, when its statistics make it look small; it then locks every child row it reads,
    /// other subjects' included, and concurrent erasures of different customers deadlock.
    fn write_tables(&self, sql: &mut Sql, child: &Ident) {
        sql.ident(self.parent)
            .push(" STRAIGHT_JOIN ")
            .ident(child)
            .push(" ON ")
            .column(Some(child), self.column)
            .push(" = ")
            .column(Some(self.parent), self.key);
    }

    /// ` WHERE rest… AND parent filter`, each qualified by its table.
    fn write_where(&self, sql: &mut Sql, child: &Ident) {
        sql.push(" WHERE ");
        let mut first = true;
        for c in &self.rest {
            if !first {
                sql.push(" AND ");
            }
            c.write(sql, Some(child));
            first = false;
        }
        if let Some(f) = self.parent_filter {
            if !first {
                sql.push(" AND ");
            }
            f.write(sql, Some(self.parent));
            first = false;
        }
        if first {
            sql.push("1 = 1");
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
///
/// Rows selected through a parent table become a join on MySQL (see [`Delete`]).
///
/// A column can also be set to an [`Expr`] over its own value, which the database computes per
/// row in the same statement (see [`set_expr`](Self::set_expr)).
#[derive(Debug, Clone)]
pub struct Update {
    table: Ident,
    assignments: Vec<(Ident, Assignment)>,
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
        self.assignments
            .push((column, Assignment::Value(value.into())));
        self
    }

    /// Sets `column = expr`, where `expr`'s target is `column`: the database computes the new
    /// value from each row's own value, in this one statement. On MySQL's join form (rows
    /// selected through a parent table) the target is qualified with the table, like every
    /// column there.
    ///
    /// ```
    /// use erasure_core::{ident, sql::{Condition, Expr, Select, Update}, Dialect};
    ///
    /// let mut upper = Expr::new("UPPER(");
    /// upper.target().push(")");
    /// let orders = Select::column(ident!("orders"), ident!("id"))
    ///     .filter(Condition::eq(ident!("customer_id"), 7));
    /// let update = Update::new(ident!("order_addresses"), Condition::in_select(ident!("order_id"), orders))
    ///     .set_expr(ident!("city"), upper);
    /// assert_eq!(
    ///     update.to_sql().render(Dialect::MySql).0,
    ///     "UPDATE `orders` STRAIGHT_JOIN `order_addresses` ON `order_addresses`.`order_id` = `orders`.`id` \
    ///      SET `order_addresses`.`city` = UPPER(`order_addresses`.`city`) WHERE `orders`.`customer_id` = ?"
    /// );
    /// ```
    pub fn set_expr(mut self, column: Ident, expr: Expr) -> Self {
        self.assignments.push((column, Assignment::Expr(expr)));
        self
    }

    /// Sets `column` to a value or an expression.
    pub fn assign(mut self, column: Ident, assignment: impl Into<Assignment>) -> Self {
        self.assignments.push((column, assignment.into()));
        self
    }

    /// Whether no assignment was added.
    pub fn is_empty(&self) -> bool {
        self.assignments.is_empty()
    }

    fn write_set(&self, sql: &mut Sql, qualifier: Option<&Ident>) {
        sql.push(" SET ");
        for (i, (col, assignment)) in self.assignments.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.column(qualifier, col).push(" = ");
            match assignment {
                Assignment::Value(value) => {
                    sql.bind(value.clone());
                }
                Assignment::Expr(expr) => expr.write(sql, qualifier, col),
            }
        }
    }

    fn plain(&self) -> Sql {
        let mut sql = Sql::new("UPDATE ");
        sql.ident(&self.table);
        self.write_set(&mut sql, None);
        sql.push(" WHERE ");
        self.filter.write(&mut sql, None);
        sql
    }

    /// The statement.
    pub fn to_sql(&self) -> Sql {
        let Some(join) = ParentJoin::find(&self.table, &self.filter) else {
            return self.plain();
        };
        let mut mysql = Sql::new("UPDATE ");
        join.write_tables(&mut mysql, &self.table);
        self.write_set(&mut mysql, Some(&self.table));
        join.write_where(&mut mysql, &self.table);
        let mut sql = Sql::default();
        sql.choice(mysql, self.plain());
        sql
    }
}

/// `DELETE FROM table WHERE condition`.
///
/// A condition is required, as for [`Update`]. Rows selected through a parent table
/// (`col IN (SELECT id FROM parent WHERE …)`) are deleted with a join on MySQL, where the
/// subquery form scans and locks the whole table:
///
/// ```
/// use erasure_core::{ident, sql::{Condition, Delete, Select}, Dialect};
///
/// let lists = Select::column(ident!("wishlists"), ident!("id"))
///     .filter(Condition::eq(ident!("customer_id"), 7));
/// let delete = Delete::new(ident!("wishlist_items"), Condition::in_select(ident!("wishlist_id"), lists));
/// assert_eq!(
///     delete.to_sql().render(Dialect::Postgres).0,
///     r#"DELETE FROM "wishlist_items" WHERE "wishlist_id" IN (SELECT "id" FROM "wishlists" WHERE "customer_id" = $1)"#
/// );
/// assert_eq!(
///     delete.to_sql().render(Dialect::MySql).0,
///     "DELETE `wishlist_items` FROM `wishlists` STRAIGHT_JOIN `wishlist_items` \
///      ON `wishlist_items`.`wishlist_id` = `wishlists`.`id` WHERE `wishlists`.`customer_id` = ?"
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

    fn plain(&self) -> Sql {
        let mut sql = Sql::new("DELETE FROM ");
        sql.ident(&self.table).push(" WHERE ");
        self.filter.write(&mut sql, None);
        sql
    }

    /// The statement.
    pub fn to_sql(&self) -> Sql {
        let Some(join) = ParentJoin::find(&self.table, &self.filter) else {
            return self.plain();
        };
        let mut mysql = Sql::new("DELETE ");
        mysql.ident(&self.table).push(" FROM ");
        join.write_tables(&mut mysql, &self.table);
        join.write_where(&mut mysql, &self.table);
        let mut sql = Sql::default();
        sql.choice(mysql, self.plain());
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
    skip_duplicates: bool,
}

impl Insert {
    /// An insert into `columns` of `table`, with no rows yet.
    pub fn new(table: Ident, columns: impl IntoIterator<Item = Ident>) -> Self {
        Self {
            table,
            columns: columns.into_iter().collect(),
            rows: Vec::new(),
            skip_duplicates: false,
        }
    }

    /// Rows whose primary or unique key is already in the table are skipped instead of failing
    /// the statement: `ON CONFLICT DO NOTHING` on SQLite and PostgreSQL, `ON DUPLICATE KEY
    /// UPDATE` of the first column to itself on MySQL (not `INSERT IGNORE`, which would also
    /// turn other errors into warnings).
    ///
    /// ```
    /// use erasure_core::{ident, sql::Insert, Dialect};
    /// let mut insert = Insert::new(ident!("seen"), [ident!("hash")]).skip_duplicates();
    /// insert.row(["ab12".into()]);
    /// assert_eq!(
    ///     insert.to_sql().render(Dialect::MySql).0,
    ///     "INSERT INTO `seen` (`hash`) VALUES (?) ON DUPLICATE KEY UPDATE `hash` = `hash`"
    /// );
    /// assert!(insert.to_sql().render(Dialect::Sqlite).0.ends_with("ON CONFLICT DO NOTHING"));
    /// ```
    pub fn skip_duplicates(mut self) -> Self {
        self.skip_duplicates = true;
        self
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
        if self.skip_duplicates
            && let Some(first) = self.columns.first()
        {
            let mut mysql = Sql::new(" ON DUPLICATE KEY UPDATE ");
            mysql.ident(first).push(" = ").ident(first);
            sql.choice(mysql, Sql::new(" ON CONFLICT DO NOTHING"));
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
    use crate::Dialect;
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
            // MySQL binds the text key twice (see `Condition`).
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
        assert_eq!(stmt.to_sql().bind_count(Dialect::Postgres), 4);
    }

    #[test]
    fn child_rows_become_joins_on_mysql_only() {
        let orders = Select::column(ident!("orders"), ident!("id")).filter(
            Condition::eq(ident!("customer_id"), 7).and(Condition::is_null(ident!("user_id"))),
        );
        let filter = Condition::in_select(ident!("order_id"), orders)
            .and(Condition::is_null(ident!("email")));
        let update = Update::new(ident!("order_addresses"), filter.clone())
            .set(ident!("email"), Value::Null);
        assert_eq!(
            update.to_sql().render(Dialect::MySql).0,
            "UPDATE `orders` STRAIGHT_JOIN `order_addresses` ON `order_addresses`.`order_id` = `orders`.`id` \
             SET `order_addresses`.`email` = NULL \
             WHERE `order_addresses`.`email` IS NULL AND (`orders`.`customer_id` = ? AND `orders`.`user_id` IS NULL)"
        );
        assert_eq!(
            update.to_sql().render(Dialect::Sqlite).0,
            r#"UPDATE "order_addresses" SET "email" = NULL WHERE ("order_id" IN (SELECT "id" FROM "orders" WHERE ("customer_id" = ? AND "user_id" IS NULL)) AND "email" IS NULL)"#
        );
        let delete = Delete::new(ident!("order_addresses"), filter);
        let sql = delete.to_sql();
        assert!(
            sql.render(Dialect::MySql).0.starts_with(
                "DELETE `order_addresses` FROM `orders` STRAIGHT_JOIN `order_addresses`"
            )
        );
        assert!(
            sql.render(Dialect::Postgres)
                .0
                .starts_with(r#"DELETE FROM "order_addresses" WHERE ("order_id" IN (SELECT"#)
        );
        assert_eq!(sql.bind_count(Dialect::MySql), 1);
    }

    #[test]
    fn a_self_referencing_or_limited_subquery_stays_a_subquery() {
        let same = Select::column(ident!("t"), ident!("id")).filter(Condition::eq(ident!("x"), 1));
        let d = Delete::new(ident!("t"), Condition::in_select(ident!("parent"), same));
        assert!(
            d.to_sql()
                .render(Dialect::MySql)
                .0
                .starts_with("DELETE FROM `t` WHERE `parent` IN (SELECT")
        );
        let limited = Select::column(ident!("p"), ident!("id")).limit(10);
        let d = Delete::new(ident!("t"), Condition::in_select(ident!("parent"), limited));
        assert!(
            d.to_sql()
                .render(Dialect::MySql)
                .0
                .starts_with("DELETE FROM `t` WHERE")
        );
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
        let s = Select::column(ident!("jobs"), ident!("id"))
            .limit(1)
            .for_update_skip_locked()
            .to_sql();
        assert!(
            s.render(Dialect::Postgres)
                .0
                .ends_with(" LIMIT 1 FOR UPDATE SKIP LOCKED")
        );
        assert!(s.render(Dialect::Sqlite).0.ends_with(" LIMIT 1"));
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
