//! Position 40: recurring orders (subscriptions).
//!
//! The subject's recurring orders and their lines are deleted: a subscription has no purpose
//! without its customer, and the orders it already produced are handled at position 30.
//!
//! Shops without recurring orders switch the feature off (`recurring_orders = false` in the
//! chain's [`Settings`](erasure_core::Settings)); the handler is then a no-op that says so in its
//! outcome. Such a shop must not have rows in these tables: if it does, the final delete of the
//! customer fails on the foreign key and the erasure rolls back, which is the safe outcome.
//!
//! Export: the section holds the subject's recurring orders (by id) and their lines (by
//! recurring order), the rows the erasure deletes. With the feature off, or for a guest, it
//! holds no tables and a note says why.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use erasure_core::policy::{Policy, Reach, Step};
use erasure_core::{
    Backend, ChildTable, DeletionHandler, ExportContext, Exported, HandlerError, Ident,
    SubjectColumns, async_trait, ident,
};
use serde::{Deserialize, Serialize};

/// The handler's position in the standard chain.
pub const POSITION: u32 = erasure_core::position::RECURRING;

/// The settings feature that switches the handler on (the default) or off.
pub const FEATURE: &str = "recurring_orders";

/// Where recurring orders live.
///
/// ```toml
/// [recurring]
/// table = "recurring_orders"
/// lines = { table = "recurring_order_lines", parent = "recurring_order_id" }
/// [recurring.subject]
/// customer = "customer_id"
/// user = "user_id"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecurringMapping {
    /// The recurring-order table.
    pub table: Ident,
    /// Its primary key.
    pub id: Ident,
    /// The columns that point at the subject.
    pub subject: SubjectColumns,
    /// Their lines.
    pub lines: ChildTable,
}

impl Default for RecurringMapping {
    fn default() -> Self {
        Self {
            table: ident!("recurring_orders"),
            id: ident!("id"),
            subject: SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id")),
            lines: ChildTable::new(
                ident!("recurring_order_lines"),
                ident!("recurring_order_id"),
            ),
        }
    }
}

/// Recurring-order deletion. See the crate docs.
#[derive(Debug, Clone)]
pub struct RecurringOrders {
    mapping: RecurringMapping,
    policy: Policy,
}

impl Default for RecurringOrders {
    fn default() -> Self {
        Self::new(RecurringMapping::default())
    }
}

impl RecurringOrders {
    /// A handler over `mapping`.
    pub fn new(mapping: RecurringMapping) -> Self {
        let m = &mapping;
        let orders = Reach::subject(m.subject.clone());
        let policy = Policy::new("no recurring orders for this kind of subject")
            .only_with(
                FEATURE,
                "recurring orders are disabled in settings; nothing to do",
            )
            // Lines first: they refer to the recurring orders.
            .step(Step::delete(
                m.lines.table.clone(),
                Reach::child(&m.lines, &m.table, &m.id, orders.clone()),
            ))
            .step(Step::delete(m.table.clone(), orders).key(m.id.clone()));
        Self { mapping, policy }
    }

    /// The mapping.
    pub fn mapping(&self) -> &RecurringMapping {
        &self.mapping
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for RecurringOrders {
    fn name(&self) -> &str {
        "recurring-orders"
    }

    fn description(&self) -> &str {
        "deletes the subject's recurring orders (no-op when the feature is off)"
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the default: the policy, which needs the feature on.
        true
    }

    async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
        // As the policy erases: a shop without the feature need not have the tables.
        if !cx.settings().is_enabled(FEATURE) {
            cx.note("recurring orders are disabled in settings; nothing to export");
            return Ok(Exported::Written);
        }
        cx.export_policy(&self.policy).await
    }
}
