//! The standard jobs: purges of deferred rows, retention rules, inactive accounts.
//!
//! ```no_run
//! use erasure::jobs::{JobsConfig, standard_jobs};
//! use erasure::job::JobRunner;
//!
//! # async fn f(pool: sqlx::SqlitePool) -> Result<(), Box<dyn std::error::Error>> {
//! let chain = erasure::standard_chain::<sqlx::Sqlite>().build()?;
//! let jobs = standard_jobs(&Default::default(), &Default::default(), &JobsConfig::default(), &chain);
//! for job in &jobs {
//!     let summary = JobRunner::new().run(&pool, job.as_ref(), |_| {}).await?;
//!     println!("{summary}");
//! }
//! # Ok(()) }
//! ```

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::basket::BasketPurge;
use crate::job::{BatchContext, BatchOutcome, Job};
use crate::order::{OrderPurge, OrderPurgeMapping};
use crate::retention::{Period, RetentionJob, RetentionRules, count, next_keys};
use crate::sql::{Cmp, Condition, Select};
use crate::{
    Backend, Chain, Erasure, HandlerError, Ident, Key, Outcome, Reason, StandardMappings, Subject,
    Value, ident,
};

/// Where the activity of an account shows: logins and orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InactiveMapping {
    /// The customer table.
    pub customers: Ident,
    /// Its primary key.
    pub id: Ident,
    /// When the account was created (young accounts are not inactive).
    pub created_at: Ident,
    /// The user table.
    pub users: Ident,
    /// Its customer column.
    pub user_customer: Ident,
    /// Its last-login column.
    pub last_login_at: Ident,
    /// The order table.
    pub orders: Ident,
    /// Its customer column.
    pub order_customer: Ident,
    /// Its order date.
    pub ordered_at: Ident,
}

impl Default for InactiveMapping {
    /// The names of the default customer and order mappings ([`StandardMappings::default`]),
    /// through [`InactiveConfig::mapping`], so that the job cannot disagree with the handlers:
    /// `customers`, `users.customer_id`, `orders.customer_id`, `orders.ordered_at` on the
    /// reference schema, with `customers.created_at` and `users.last_login_at`.
    fn default() -> Self {
        InactiveConfig::default().mapping(&StandardMappings::default())
    }
}

/// Erases inactive accounts (no login and no order for a period) through the chain, with reason
/// [`Reason::Retention`], each in a savepoint of the batch's transaction.
///
/// A batch takes up to the runner's batch size of accounts, and no further account once the
/// time it has run plus its slowest account so far reaches [`batch_time`](Self::batch_time)
/// (35 ms unless set, as [`erasure_core::BatchOptions`]): the accounts it did not reach are the
/// next batch's, so that a live shop's writers never wait long for the write lock.
#[derive(Debug, Clone)]
pub struct InactiveAccounts<DB: Backend> {
    chain: Chain<DB>,
    mapping: InactiveMapping,
    after: Period,
    time: std::time::Duration,
}

impl<DB: Backend> InactiveAccounts<DB> {
    /// A job erasing, with `chain`, accounts inactive for `after`.
    pub fn new(chain: Chain<DB>, mapping: InactiveMapping, after: Period) -> Self {
        Self {
            chain,
            mapping,
            after,
            time: erasure_core::BatchOptions::default().max_time(),
        }
    }

    /// A batch takes no further account once it would, at the pace of its slowest account so
    /// far, run past `time` (it always takes one).
    #[must_use]
    pub fn batch_time(mut self, time: std::time::Duration) -> Self {
        self.time = time;
        self
    }

    fn inactive(&self, now: chrono::DateTime<chrono::Utc>) -> Condition {
        let m = &self.mapping;
        let cutoff = self.after.before(now);
        let active_users = Select::column(m.users.clone(), m.user_customer.clone())
            .filter(Condition::compare(m.last_login_at.clone(), Cmp::Gt, cutoff));
        let recent_orders = Select::column(m.orders.clone(), m.order_customer.clone())
            .filter(Condition::is_not_null(m.order_customer.clone()))
            .filter(Condition::compare(m.ordered_at.clone(), Cmp::Gt, cutoff));
        Condition::compare(m.created_at.clone(), Cmp::Le, cutoff)
            .and(Condition::in_select(m.id.clone(), active_users).not())
            .and(Condition::in_select(m.id.clone(), recent_orders).not())
    }
}

#[async_trait]
impl<DB: Backend> Job<DB> for InactiveAccounts<DB> {
    fn name(&self) -> &str {
        "inactive-accounts"
    }

    fn description(&self) -> &str {
        "erases accounts with no login and no order for the configured period, through the chain"
    }

    async fn remaining(&self, cx: &mut BatchContext<'_, DB>) -> Result<u64, HandlerError> {
        let due = self.inactive(cx.now());
        count(cx, &self.mapping.customers, due).await
    }

    async fn batch(&self, cx: &mut BatchContext<'_, DB>) -> Result<BatchOutcome, HandlerError> {
        let due = self.inactive(cx.now());
        let keys = next_keys(cx, &self.mapping.customers, &self.mapping.id, due).await?;
        let Some(last) = keys.last().cloned() else {
            return Ok(BatchOutcome::default());
        };
        let mut outcome = Outcome::new();
        let (mut erased, mut failed) = (0u64, 0u64);
        let mut pace = erasure_core::Pace::start(self.time);
        let mut last = last;
        for (i, value) in keys.iter().enumerate() {
            if i > 0 && pace.is_spent(std::time::Duration::ZERO) {
                // The accounts from here on are the next batch's (keys after the last one
                // taken).
                last = keys[i - 1].clone();
                break;
            }
            let key = match value.clone() {
                Value::Int(i) => Key::Int(i),
                Value::Text(t) => Key::Text(t),
                _ => continue,
            };
            let erasure = Erasure::new(Subject::customer(key))
                .with_reason(Reason::Retention)
                .with_operator("inactive-accounts");
            // Each erasure is a savepoint: one that fails rolls back alone, and the batch goes
            // on. Unless the failure ended the batch's transaction (MySQL rolls back the whole
            // transaction on a deadlock, savepoints included) or left it in doubt: then what the
            // batch erased before is gone too, and the batch is abandoned, to be retried as a
            // whole in a new transaction.
            let erased_now = pace
                .time(self.chain.erase_on(cx.connection(), &erasure))
                .await;
            match erased_now {
                Ok(_) => erased += 1,
                Err(e) if e.leaves_connection_unusable() || e.is_lock_conflict::<DB>() => {
                    return Err(HandlerError::Erasure(Box::new(e)));
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(error = %e, "an inactive account could not be erased; it is left for the next run");
                }
            }
        }
        outcome = outcome.deleted(self.mapping.customers.clone(), erased);
        if failed > 0 {
            outcome.push_note(format!(
                "{failed} inactive accounts could not be erased; see the log"
            ));
        }
        Ok(BatchOutcome {
            outcome,
            rows: erased,
            last_key: Some(last),
            failed,
        })
    }
}

/// Which jobs run, and how.
///
/// The jobs take their tables and columns from the handlers' mappings: renaming the order
/// table in `[mappings.order]` moves the order purge and the inactive-accounts job with it.
/// What only a job knows (statuses it keeps, when an account was created) is set here, and so
/// is any name a job must read differently from its handler (an override is explicit, never a
/// default that silently disagrees).
///
/// ```toml
/// [jobs]
/// batch = 500
/// inactive_accounts_after = "36m"   # off unless set
///
/// [jobs.order_purge]
/// excluded_statuses = ["PENDING", "MANUAL_INTERVENTION_NEEDED", "EXPORTFAILED"]
///
/// [jobs.inactive]
/// last_login_at = "last_seen"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Rows per batch.
    pub batch: u32,
    /// What the order purge deletes and keeps.
    pub order_purge: OrderPurgeConfig,
    /// Erase accounts inactive this long (off when unset).
    pub inactive_accounts_after: Option<Period>,
    /// Where account activity shows.
    pub inactive: InactiveConfig,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            batch: crate::job::DEFAULT_BATCH,
            order_purge: OrderPurgeConfig::default(),
            inactive_accounts_after: None,
            inactive: InactiveConfig::default(),
        }
    }
}

/// `[jobs.order_purge]`: the order purge's own settings, and overrides of the names it takes
/// from `[mappings.order]` (table, key, mark; the lines and address tables are deleted with
/// each order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderPurgeConfig {
    /// The order table, if not the order mapping's.
    pub table: Option<Ident>,
    /// Its key, if not the order mapping's.
    pub id: Option<Ident>,
    /// The deletion mark, if not the order mapping's.
    pub to_be_deleted: Option<Ident>,
    /// The status column (default `status`).
    pub status: Option<Ident>,
    /// Orders in these statuses are never purged (default `PENDING`,
    /// `MANUAL_INTERVENTION_NEEDED`, `EXPORTFAILED`).
    pub excluded_statuses: Option<Vec<String>>,
    /// Tables deleted with each order, if not the order mapping's lines and children.
    pub children: Option<Vec<crate::ChildTable>>,
    /// Tables whose reference to a purged order is set to NULL (default
    /// `promotion_code_usages.order_id`).
    pub detach: Option<Vec<crate::ChildTable>>,
}

impl OrderPurgeConfig {
    /// The purge's mapping: `order`'s names, with these overrides.
    pub fn mapping(&self, order: &crate::order::OrderMapping) -> OrderPurgeMapping {
        let mut m = OrderPurgeMapping::for_orders(order);
        let set = |field: &mut Ident, value: &Option<Ident>| {
            if let Some(v) = value {
                *field = v.clone();
            }
        };
        set(&mut m.table, &self.table);
        set(&mut m.id, &self.id);
        if let Some(mark) = &self.to_be_deleted {
            m.to_be_deleted = Some(mark.clone());
        }
        set(&mut m.status, &self.status);
        if let Some(v) = &self.excluded_statuses {
            m.excluded_statuses.clone_from(v);
        }
        if let Some(v) = &self.children {
            m.children.clone_from(v);
        }
        if let Some(v) = &self.detach {
            m.detach.clone_from(v);
        }
        m
    }
}

/// `[jobs.inactive]`: the columns only the inactive-accounts job reads, and overrides of the
/// names it takes from the customer and order mappings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InactiveConfig {
    /// When the account was created (default `created_at`, on the customer table).
    pub created_at: Option<Ident>,
    /// The users' last login (default `last_login_at`, on the user table).
    pub last_login_at: Option<Ident>,
    /// The customer table, if not the customer mapping's.
    pub customers: Option<Ident>,
    /// The order table, if not the order mapping's.
    pub orders: Option<Ident>,
    /// The orders' customer column, if not the order mapping's.
    pub order_customer: Option<Ident>,
    /// The orders' date, if not the order mapping's.
    pub ordered_at: Option<Ident>,
}

impl InactiveConfig {
    /// The job's mapping: the customer and order mappings' names, with these overrides.
    pub fn mapping(&self, mappings: &StandardMappings) -> InactiveMapping {
        let (c, o) = (&mappings.customer, &mappings.order);
        let or = |value: &Option<Ident>, default: &Ident| value.clone().unwrap_or(default.clone());
        InactiveMapping {
            customers: or(&self.customers, &c.table),
            id: c.id.clone(),
            created_at: or(&self.created_at, &ident!("created_at")),
            users: c.users.table.clone(),
            user_customer: c.users.customer.clone(),
            last_login_at: or(&self.last_login_at, &ident!("last_login_at")),
            orders: or(&self.orders, &o.table),
            order_customer: or(
                &self.order_customer,
                o.subject
                    .customer
                    .as_ref()
                    .unwrap_or(&ident!("customer_id")),
            ),
            ordered_at: or(&self.ordered_at, &o.ordered_at),
        }
    }
}

/// The default retention of the orders `mappings` maps: kept six years from the order date
/// (an example, not legal advice: set `[[retention]]` to the law that applies to you).
pub fn default_retention(mappings: &StandardMappings) -> RetentionRules {
    let mut rules = RetentionRules::default();
    for rule in &mut rules.0 {
        rule.table = mappings.order.table.clone();
        rule.id = mappings.order.id.clone();
        rule.date_column = mappings.order.ordered_at.clone();
    }
    rules
}

/// The standard jobs, in the order they should run: the basket purge, the order purge (which
/// honours the retention rule for the order table), one retention job per other rule, and, when
/// configured, the inactive-accounts job (which erases through `chain`).
///
/// A purge runs only when `chain` holds the handler that defers its rows
/// (`basket-invalidation`, `order-anonymization`): a shop that left the handler out has no such
/// rows, and perhaps no such table.
pub fn standard_jobs<DB: Backend>(
    mappings: &StandardMappings,
    retention: &RetentionRules,
    config: &JobsConfig,
    chain: &Chain<DB>,
) -> Vec<Box<dyn Job<DB>>> {
    let runs = |name: &str| chain.handlers().any(|(_, h)| h.name() == name);
    let mut jobs: Vec<Box<dyn Job<DB>>> = Vec::new();
    if runs("basket-invalidation") {
        jobs.push(Box::new(BasketPurge::new(mappings.basket.clone())));
    }
    let order_purge =
        runs("order-anonymization").then(|| config.order_purge.mapping(&mappings.order));
    if let Some(purge) = &order_purge {
        jobs.push(Box::new(OrderPurge::new(purge.clone(), retention)));
    }
    for rule in &retention.0 {
        if order_purge
            .as_ref()
            .is_some_and(|purge| rule.table.name().eq_ignore_ascii_case(purge.table.name()))
        {
            continue; // the order purge applies it
        }
        jobs.push(Box::new(RetentionJob::new(rule.clone())));
    }
    if let Some(after) = config.inactive_accounts_after {
        jobs.push(Box::new(InactiveAccounts::new(
            chain.clone(),
            config.inactive.mapping(mappings),
            after,
        )));
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The jobs' default names are the handler mappings' defaults: one source of names.
    #[test]
    fn the_jobs_default_names_are_the_handler_mappings() {
        let mappings = StandardMappings::default();
        let (customer, order) = (&mappings.customer, &mappings.order);

        let inactive = InactiveMapping::default();
        assert_eq!(inactive.customers, customer.table);
        assert_eq!(inactive.id, customer.id);
        assert_eq!(inactive.users, customer.users.table);
        assert_eq!(inactive.user_customer, customer.users.customer);
        assert_eq!(inactive.orders, order.table);
        assert_eq!(
            Some(&inactive.order_customer),
            order.subject.customer.as_ref()
        );
        assert_eq!(inactive.ordered_at, order.ordered_at);
        // And they are the reference schema's, as before.
        let names = [
            &inactive.customers,
            &inactive.id,
            &inactive.created_at,
            &inactive.users,
            &inactive.user_customer,
            &inactive.last_login_at,
            &inactive.orders,
            &inactive.order_customer,
            &inactive.ordered_at,
        ]
        .map(Ident::as_str);
        assert_eq!(
            names,
            [
                "customers",
                "id",
                "created_at",
                "users",
                "customer_id",
                "last_login_at",
                "orders",
                "customer_id",
                "ordered_at",
            ]
        );

        let purge = OrderPurgeMapping::default();
        assert_eq!(purge, JobsConfig::default().order_purge.mapping(order));
        assert_eq!(purge.table, order.table);
        assert_eq!(purge.id, order.id);
        assert_eq!(purge.to_be_deleted, order.to_be_deleted);
        // The table the purge detaches from purged orders is one the promotion handler scrubs.
        for detached in &purge.detach {
            assert!(
                mappings
                    .promotion
                    .tables
                    .iter()
                    .any(|t| t.table == detached.table),
                "{}",
                detached.table
            );
        }
    }
}
