//! Position 30: order anonymization.
//!
//! Orders are tax records and must be kept for years, so they are not deleted: every personal
//! column of the subject's orders and of their addresses (names, email, phone, street, city,
//! postcode, IP address, notes) is overwritten, the link to the subject removed, and the orders
//! are marked `to_be_deleted` for the purge job, which deletes them once their retention period
//! has passed. Amounts, dates, lines and status stay untouched.
//!
//! Export: the section holds the subject's orders (by id), their addresses and their lines (by
//! order): the rows the erasure anonymizes and marks, and the lines the purge job deletes with
//! the orders. A guest's orders are found by email.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use erasure_core::mapping::nulls;
use erasure_core::policy::{Policy, Reach, Step};
use erasure_core::sql::Condition;
use erasure_core::{
    Anonymize, Backend, ChildTable, DeletionHandler, HandlerError, Ident, Outcome, SubjectColumns,
    Value, async_trait, ident,
};
use serde::{Deserialize, Serialize};

/// The handler's position in the standard chain.
pub const POSITION: u32 = erasure_core::position::ORDER;

/// A table of rows that belong to orders (addresses), with personal columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderChild {
    /// The table.
    pub table: Ident,
    /// Its column holding the order id.
    pub parent: Ident,
    /// Its personal columns.
    pub anonymize: Anonymize,
}

/// Where orders live.
///
/// ```toml
/// [order]
/// table = "orders"
/// to_be_deleted = "to_be_deleted"
/// anonymized_at = "anonymized_at"
/// anonymize = { email = "null", phone = "null", ip_address = "null", notes = "null" }
///
/// [[order.children]]
/// table = "order_addresses"
/// parent = "order_id"
/// anonymize = { first_name = "null", last_name = "null", street = "null" }
///
/// [[order.lines]]
/// table = "order_lines"
/// parent = "order_id"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderMapping {
    /// The order table.
    pub table: Ident,
    /// Its primary key.
    pub id: Ident,
    /// The columns that point at the subject (the email column finds a guest's orders).
    pub subject: SubjectColumns,
    /// Personal columns of orders.
    pub anonymize: Anonymize,
    /// The deletion mark the purge job looks for; `""` for a table without one: the orders
    /// are then recorded in the [deferral ledger](erasure_core::ledger) instead.
    #[serde(with = "erasure_core::mapping::optional_ident")]
    pub to_be_deleted: Option<Ident>,
    /// A column to record when the order was anonymized (`""` for none).
    #[serde(with = "erasure_core::mapping::optional_ident")]
    pub anonymized_at: Option<Ident>,
    /// Tables of rows that belong to orders and hold personal data.
    pub children: Vec<OrderChild>,
    /// Tables of rows that belong to orders and are kept unchanged (order lines): the erasure
    /// leaves them to the purge job, and the export writes them. `lines = []` for none.
    pub lines: Vec<ChildTable>,
    /// When the order was placed: the default retention rule for the order table counts from
    /// it, and the inactive-accounts job reads it.
    pub ordered_at: Ident,
}

impl Default for OrderMapping {
    fn default() -> Self {
        Self {
            table: ident!("orders"),
            id: ident!("id"),
            subject: SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id"))
                .with_email(ident!("email")),
            anonymize: nulls([
                ident!("email"),
                ident!("phone"),
                ident!("ip_address"),
                ident!("notes"),
            ]),
            to_be_deleted: Some(ident!("to_be_deleted")),
            anonymized_at: Some(ident!("anonymized_at")),
            children: vec![OrderChild {
                table: ident!("order_addresses"),
                parent: ident!("order_id"),
                anonymize: nulls([
                    ident!("first_name"),
                    ident!("last_name"),
                    ident!("company"),
                    ident!("street"),
                    ident!("city"),
                    ident!("postcode"),
                    ident!("phone"),
                    ident!("email"),
                ]),
            }],
            lines: vec![ChildTable::new(ident!("order_lines"), ident!("order_id"))],
            ordered_at: ident!("ordered_at"),
        }
    }
}

/// Order anonymization. See the crate docs.
#[derive(Debug, Clone)]
pub struct OrderAnonymization {
    mapping: OrderMapping,
    policy: Policy,
}

impl Default for OrderAnonymization {
    fn default() -> Self {
        Self::new(OrderMapping::default())
    }
}

impl OrderAnonymization {
    /// A handler over `mapping`.
    pub fn new(mapping: OrderMapping) -> Self {
        let m = &mapping;
        let orders = Reach::subject(m.subject.clone());
        let mut policy = Policy::new("no orders for this kind of subject");
        // Children first: once the orders are unlinked, the subject's orders cannot be found.
        for child in &m.children {
            policy.push(Step::anonymize(
                child.table.clone(),
                Reach::parent(
                    m.table.clone(),
                    m.id.clone(),
                    orders.clone(),
                    child.parent.clone(),
                ),
                child.anonymize.clone(),
            ));
        }
        let mut anonymize = Step::anonymize(m.table.clone(), orders.clone(), m.anonymize.clone())
            .key(m.id.clone())
            .unlink()
            .note_if_rows("orders are kept as tax records until the purge job deletes them");
        match &m.to_be_deleted {
            Some(mark) => anonymize = anonymize.mark(mark.clone(), true).deferred(),
            // No mark column: the ledger records them, before they are unlinked.
            None => {
                policy.push(Step::defer_in_ledger(
                    m.table.clone(),
                    orders.clone(),
                    m.id.clone(),
                ));
            }
        }
        if let Some(at) = &m.anonymized_at {
            anonymize = anonymize.mark_now(at.clone());
        }
        policy.push(anonymize);
        for lines in &m.lines {
            policy.push(Step::keep(
                lines.table.clone(),
                Reach::child(lines, &m.table, &m.id, orders.clone()),
            ));
        }
        Self { mapping, policy }
    }

    /// The mapping.
    pub fn mapping(&self) -> &OrderMapping {
        &self.mapping
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for OrderAnonymization {
    fn name(&self) -> &str {
        "order-anonymization"
    }

    fn description(&self) -> &str {
        "anonymizes the subject's orders and order addresses, keeps amounts and lines, defers them to the order purge"
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the default: the policy as it is.
        true
    }
}

/// What the order purge job deletes and keeps.
///
/// ```toml
/// [order_purge]
/// excluded_statuses = ["PENDING", "MANUAL_INTERVENTION_NEEDED", "EXPORTFAILED"]
/// children = [{ table = "order_lines", parent = "order_id" }, { table = "order_addresses", parent = "order_id" }]
/// detach = [{ table = "promotion_code_usages", parent = "order_id" }]
/// ```
///
/// The retention period comes from the shop's [`RetentionRules`](erasure_core::retention::RetentionRules)
/// rule for the order table (by default six years from `ordered_at`); without a rule, marked
/// orders are purged at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderPurgeMapping {
    /// The order table.
    pub table: Ident,
    /// Its primary key.
    pub id: Ident,
    /// The deletion mark set at position 30; `""` when the orders are recorded in the
    /// [deferral ledger](erasure_core::ledger) instead.
    #[serde(with = "erasure_core::mapping::optional_ident")]
    pub to_be_deleted: Option<Ident>,
    /// The status column.
    pub status: Ident,
    /// Orders in these statuses are never purged (still being processed or needing a person).
    pub excluded_statuses: Vec<String>,
    /// Tables of rows belonging to orders, deleted with them.
    pub children: Vec<ChildTable>,
    /// Tables whose reference to a purged order is set to NULL (their rows stay).
    pub detach: Vec<ChildTable>,
}

impl OrderPurgeMapping {
    /// The purge of the orders `order` maps: the same table, key and deletion mark, its
    /// lines and address tables deleted with each order; the default status rules
    /// (`status`; `PENDING`, `MANUAL_INTERVENTION_NEEDED` and `EXPORTFAILED` are never purged)
    /// and detached tables (`promotion_code_usages.order_id`).
    pub fn for_orders(order: &OrderMapping) -> Self {
        Self {
            table: order.table.clone(),
            id: order.id.clone(),
            to_be_deleted: order.to_be_deleted.clone(),
            status: ident!("status"),
            excluded_statuses: ["PENDING", "MANUAL_INTERVENTION_NEEDED", "EXPORTFAILED"]
                .map(String::from)
                .to_vec(),
            children: order
                .lines
                .iter()
                .cloned()
                .chain(
                    order
                        .children
                        .iter()
                        .map(|c| ChildTable::new(c.table.clone(), c.parent.clone())),
                )
                .collect(),
            detach: vec![ChildTable::new(
                ident!("promotion_code_usages"),
                ident!("order_id"),
            )],
        }
    }
}

impl Default for OrderPurgeMapping {
    /// The purge of the default [`OrderMapping`]'s orders: its names are taken from there, so
    /// that the two cannot disagree.
    fn default() -> Self {
        Self::for_orders(&OrderMapping::default())
    }
}

/// The purge job: deletes orders marked `to_be_deleted` whose status is not excluded and whose
/// retention period has passed, with their lines and addresses, in batches.
#[derive(Debug, Clone)]
pub struct OrderPurge {
    mapping: OrderPurgeMapping,
    retention: Option<erasure_core::retention::RetentionRule>,
}

impl OrderPurge {
    /// A job over `mapping`, honouring the rule for the order table in `rules`, if any.
    pub fn new(
        mapping: OrderPurgeMapping,
        rules: &erasure_core::retention::RetentionRules,
    ) -> Self {
        let retention = rules.for_table(&mapping.table).cloned();
        Self { mapping, retention }
    }

    fn due(&self, now: chrono::DateTime<chrono::Utc>) -> Condition {
        let m = &self.mapping;
        let marked = match &m.to_be_deleted {
            Some(mark) => Condition::eq(mark.clone(), true),
            None => erasure_core::ledger::deferred(&m.table, &m.id),
        };
        let mut c = marked.and(Condition::not_in(
            m.status.clone(),
            m.excluded_statuses
                .iter()
                .map(|s| Value::from(s.as_str()))
                .collect(),
        ));
        if let Some(rule) = &self.retention {
            c = c.and(rule.due(now));
        }
        c
    }
}

#[async_trait]
impl<DB: Backend> erasure_core::job::Job<DB> for OrderPurge {
    fn name(&self) -> &str {
        "order-purge"
    }

    fn description(&self) -> &str {
        "deletes deferred orders (marked, or in the ledger) past retention and not in an excluded status, with their lines and addresses"
    }

    async fn remaining(
        &self,
        cx: &mut erasure_core::job::BatchContext<'_, DB>,
    ) -> Result<u64, HandlerError> {
        let due = self.due(cx.now());
        erasure_core::retention::count(cx, &self.mapping.table, due).await
    }

    async fn batch(
        &self,
        cx: &mut erasure_core::job::BatchContext<'_, DB>,
    ) -> Result<erasure_core::job::BatchOutcome, HandlerError> {
        use erasure_core::sql::Update;
        let m = &self.mapping;
        let due = self.due(cx.now());
        let keys = erasure_core::retention::next_keys(cx, &m.table, &m.id, due).await?;
        let Some(last) = keys.last().cloned() else {
            return Ok(erasure_core::job::BatchOutcome::default());
        };
        let mut outcome = Outcome::new();
        for d in &m.detach {
            let update = Update::new(
                d.table.clone(),
                Condition::is_in(d.parent.clone(), keys.clone()),
            )
            .set(d.parent.clone(), Value::Null);
            let n = cx.execute(update).await?;
            outcome = outcome.anonymized(d.table.clone(), n);
        }
        let orders = cx
            .delete_with_children(&m.table, &m.id, keys.clone(), &m.children, &mut outcome)
            .await?;
        if m.to_be_deleted.is_none() {
            // The ledger's entries go with their rows.
            cx.execute(erasure_core::ledger::forget(&m.table, &keys))
                .await?;
        }
        Ok(erasure_core::job::BatchOutcome {
            outcome,
            rows: orders,
            last_key: Some(last),
            failed: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The purge's defaults come from the order mapping's: one source of names.
    #[test]
    fn the_default_purge_takes_the_order_mappings_names() {
        let order = OrderMapping::default();
        let purge = OrderPurgeMapping::default();
        assert_eq!(purge, OrderPurgeMapping::for_orders(&order));
        assert_eq!(purge.table, order.table);
        assert_eq!(purge.id, order.id);
        assert_eq!(purge.to_be_deleted, order.to_be_deleted);
        let deleted_with_orders: Vec<(&str, &str)> = order
            .lines
            .iter()
            .map(|l| (l.table.as_str(), l.parent.as_str()))
            .chain(
                order
                    .children
                    .iter()
                    .map(|c| (c.table.as_str(), c.parent.as_str())),
            )
            .collect();
        let children: Vec<(&str, &str)> = purge
            .children
            .iter()
            .map(|c| (c.table.as_str(), c.parent.as_str()))
            .collect();
        assert_eq!(children, deleted_with_orders);
        // And they are the reference schema's, as before.
        assert_eq!(
            (
                purge.table.as_str(),
                purge.id.as_str(),
                purge.status.as_str()
            ),
            ("orders", "id", "status")
        );
        assert_eq!(
            children,
            [("order_lines", "order_id"), ("order_addresses", "order_id")]
        );
        assert_eq!(
            purge.excluded_statuses,
            ["PENDING", "MANUAL_INTERVENTION_NEEDED", "EXPORTFAILED"]
        );
        assert_eq!(purge.detach.len(), 1);
        assert_eq!(purge.detach[0].table.as_str(), "promotion_code_usages");
    }
}
