//! The table buffers: one insert per table of the reference schema, with its columns, written
//! parents first.

use erasure_core::sql::{Insert, Sql};
use erasure_core::{Backend, Dialect, Ident, ident};

use super::SeedSummary;

/// Declares [`Tables`] from one list: each table's field, name and columns, in foreign-key
/// order (every table after the tables it refers to), which is the order they are written in.
macro_rules! tables {
    ($($field:ident = $table:literal [$($column:literal),+ $(,)?];)+) => {
        /// One buffered insert per table, flushed parents first.
        pub(super) struct Tables {
            $(pub(super) $field: Insert,)+
            written: Vec<(&'static str, u64)>,
        }

        /// How many tables the seed fills.
        const TABLES: usize = [$($table),+].len();

        impl Tables {
            pub(super) fn new() -> Self {
                Self {
                    $($field: Insert::new(ident!($table), [$(ident!($column)),+]),)+
                    written: Vec::new(),
                }
            }

            /// In foreign-key order: every table after the tables it refers to.
            pub(super) fn in_order(&mut self) -> [(&'static str, &mut Insert); TABLES] {
                [$(($table, &mut self.$field)),+]
            }
        }
    };
}

tables! {
    customers = "customers" ["id", "customer_no", "kind", "company_name", "vat_id", "active",
        "created_at"];
    users = "users" ["id", "customer_id", "email", "first_name", "last_name", "phone",
        "birthday", "active", "created_at", "last_login_at"];
    b2b_roles = "b2b_roles" ["id", "customer_id", "user_id", "role"];
    addresses = "addresses" ["id", "customer_id", "user_id", "first_name", "last_name",
        "company", "street", "city", "postcode", "country", "phone"];
    baskets = "baskets" ["id", "customer_id", "user_id", "status", "created_at", "updated_at",
        "invalidated_at"];
    basket_items = "basket_items" ["id", "basket_id", "sku", "quantity", "unit_price_cents"];
    wishlists = "wishlists" ["id", "customer_id", "user_id", "name", "is_public", "created_at"];
    wishlist_items = "wishlist_items" ["id", "wishlist_id", "sku", "note", "added_at"];
    orders = "orders" ["id", "order_no", "customer_id", "user_id", "email", "phone",
        "ip_address", "notes", "status", "currency", "total_cents", "ordered_at",
        "to_be_deleted", "anonymized_at"];
    order_lines = "order_lines" ["id", "order_id", "sku", "product_name", "quantity",
        "unit_price_cents"];
    order_addresses = "order_addresses" ["id", "order_id", "kind", "first_name", "last_name",
        "company", "street", "city", "postcode", "country", "phone", "email"];
    recurring_orders = "recurring_orders" ["id", "customer_id", "user_id",
        "shipping_address_id", "status", "interval_days", "next_run_at", "created_at"];
    recurring_order_lines = "recurring_order_lines" ["id", "recurring_order_id", "sku",
        "quantity"];
    promotion_codes = "promotion_codes" ["id", "code", "customer_id", "user_id", "name",
        "email", "discount_percent", "valid_until", "created_at"];
    promotion_code_usages = "promotion_code_usages" ["id", "promotion_code_id", "order_id",
        "customer_id", "user_id", "name", "email", "used_at"];
    gift_cards = "gift_cards" ["id", "code", "customer_id", "user_id", "holder_name",
        "holder_email", "balance_cents", "currency", "created_at"];
    cashbacks = "cashbacks" ["id", "customer_id", "user_id", "amount_cents", "currency",
        "status", "account_holder", "iban", "created_at", "redeemed_at"];
    cashback_codes = "cashback_codes" ["id", "cashback_id", "code", "email", "redeemed_at"];
    alerts = "alerts" ["id", "customer_id", "user_id", "email", "kind", "sku",
        "target_price_cents", "created_at"];
}

impl Tables {
    pub(super) fn buffered(&mut self) -> usize {
        self.in_order().iter().map(|(_, i)| i.len()).sum()
    }

    pub(super) async fn flush<DB: Backend>(
        &mut self,
        conn: &mut DB::Connection,
    ) -> Result<(), sqlx::Error> {
        // Keep each statement well under every backend's bound-parameter limit.
        const MAX_PARAMS: usize = 20_000;
        let mut written = Vec::new();
        for (name, insert) in self.in_order() {
            if insert.is_empty() {
                continue;
            }
            let rows = insert.len();
            let per_statement = MAX_PARAMS / insert.width().max(1);
            for sql in insert.statements(per_statement) {
                DB::execute(conn, &sql).await?;
            }
            insert.clear();
            written.push((name, rows as u64));
        }
        for (name, rows) in written {
            match self.written.iter_mut().find(|(t, _)| *t == name) {
                Some((_, n)) => *n += rows,
                None => self.written.push((name, rows)),
            }
        }
        Ok(())
    }

    /// On MySQL, has InnoDB count the written tables now (`ANALYZE TABLE`), as it does on its
    /// own some seconds after a table changed by a tenth. Until then its statistics describe the
    /// empty tables, and the optimizer may read a table whole where an index finds the few rows
    /// asked for: `UPDATE` and `DELETE` then lock every row they read, and concurrent erasures
    /// of different customers wait on one another, unlike on a shop whose statistics are
    /// current. PostgreSQL and SQLite lock only the rows they change.
    pub(super) async fn analyze<DB: Backend>(
        &self,
        conn: &mut DB::Connection,
    ) -> Result<(), sqlx::Error> {
        if DB::DIALECT != Dialect::MySql || self.written.is_empty() {
            return Ok(());
        }
        let names: Vec<Ident> = self
            .written
            .iter()
            .map(|(name, _)| Ident::new(name))
            .collect::<Result<_, _>>()
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let mut sql = Sql::new("ANALYZE TABLE ");
        sql.idents(&names);
        DB::execute(conn, &sql).await.map(drop)
    }

    pub(super) fn summary(&self) -> SeedSummary {
        SeedSummary {
            rows: self.written.clone(),
        }
    }
}
