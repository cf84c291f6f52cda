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
    fn default() -> Self {
        Self {
            customers: ident!("customers"),
            id: ident!("id"),
            created_at: ident!("created_at"),
            users: ident!("users"),
            user_customer: ident!("customer_id"),
            last_login_at: ident!("last_login_at"),
            orders: ident!("orders"),
            order_customer: ident!("customer_id"),
            ordered_at: ident!("ordered_at"),
        }
    }
}

/// Erases inactive accounts (no login and no order for a period) through the chain, with reason
/// [`Reason::Retention`], each in a savepoint of the batch's transaction.
#[derive(Debug, Clone)]
pub struct InactiveAccounts<DB: Backend> {
    chain: Chain<DB>,
    mapping: InactiveMapping,
    after: Period,
}

impl<DB: Backend> InactiveAccounts<DB> {
    /// A job erasing, with `chain`, accounts inactive for `after`.
    pub fn new(chain: Chain<DB>, mapping: InactiveMapping, after: Period) -> Self {
        Self {
            chain,
            mapping,
            after,
        }
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
        for key in keys {
            let key = match key {
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
            match self.chain.erase_on(cx.connection(), &erasure).await {
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
/// ```toml
/// [jobs]
/// batch = 500
/// inactive_accounts_after = "36m"   # off unless set
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Rows per batch.
    pub batch: u32,
    /// What the order purge deletes and keeps.
    pub order_purge: OrderPurgeMapping,
    /// Erase accounts inactive this long (off when unset).
    pub inactive_accounts_after: Option<Period>,
    /// Where account activity shows.
    pub inactive: InactiveMapping,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            batch: crate::job::DEFAULT_BATCH,
            order_purge: OrderPurgeMapping::default(),
            inactive_accounts_after: None,
            inactive: InactiveMapping::default(),
        }
    }
}

/// The standard jobs, in the order they should run: the basket purge, the order purge (which
/// honours the retention rule for the order table), one retention job per other rule, and, when
/// configured, the inactive-accounts job (which erases through `chain`).
pub fn standard_jobs<DB: Backend>(
    mappings: &StandardMappings,
    retention: &RetentionRules,
    config: &JobsConfig,
    chain: &Chain<DB>,
) -> Vec<Box<dyn Job<DB>>> {
    let mut jobs: Vec<Box<dyn Job<DB>>> = vec![
        Box::new(BasketPurge::new(mappings.basket.clone())),
        Box::new(OrderPurge::new(config.order_purge.clone(), retention)),
    ];
    for rule in &retention.0 {
        if rule
            .table
            .name()
            .eq_ignore_ascii_case(config.order_purge.table.name())
        {
            continue; // the order purge applies it
        }
        jobs.push(Box::new(RetentionJob::new(rule.clone())));
    }
    if let Some(after) = config.inactive_accounts_after {
        jobs.push(Box::new(InactiveAccounts::new(
            chain.clone(),
            config.inactive.clone(),
            after,
        )));
    }
    jobs
}
