//! Position 10: basket invalidation.
//!
//! Baskets are not deleted during the erasure: they are set to `INVALID` and unlinked from the
//! subject, and a purge job removes invalid baskets and their items later, in small batches
//! (deferred). Unlinking matters: the customer row is deleted at position 100, and a basket that
//! still pointed at it would make that delete fail.
//!
//! Export: the section holds the subject's baskets (by id) and their items (by basket): the
//! baskets the erasure marks and unlinks, and the items the purge job deletes with them. Guests
//! have no baskets: the section says so in a note.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use erasure_core::policy::{Policy, Reach, Step};
use erasure_core::sql::Condition;
use erasure_core::{
    Anonymize, Backend, ChildTable, DeletionHandler, HandlerError, Ident, Outcome, SubjectColumns,
    async_trait, ident,
};
use serde::{Deserialize, Serialize};

/// The handler's position in the standard chain.
pub const POSITION: u32 = erasure_core::position::BASKET;

/// Where baskets live.
///
/// ```toml
/// [basket]
/// table = "baskets"
/// status = "status"
/// invalid_status = "INVALID"
/// invalidated_at = "invalidated_at"
/// items = { table = "basket_items", parent = "basket_id" }
/// anonymize = {}   # e.g. { customer_email = "null", customer_firstname = "null" }
/// [basket.subject]
/// customer = "customer_id"
/// user = "user_id"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasketMapping {
    /// The basket table.
    pub table: Ident,
    /// Its primary key.
    pub id: Ident,
    /// The columns that point at the subject.
    pub subject: SubjectColumns,
    /// The status column; `""` for a table without one: the baskets are then recorded in the
    /// [deferral ledger](erasure_core::ledger) instead of being marked.
    #[serde(with = "erasure_core::mapping::optional_ident")]
    pub status: Option<Ident>,
    /// The status that marks a basket for the purge job.
    pub invalid_status: String,
    /// A column to record when the basket was invalidated (`""` for none).
    #[serde(with = "erasure_core::mapping::optional_ident")]
    pub invalidated_at: Option<Ident>,
    /// The basket items, removed with their basket by the purge job.
    pub items: ChildTable,
    /// Personal columns of baskets (a quote's email and names): cleared when the basket is
    /// marked, so that nothing personal waits for the purge job. None in the reference schema.
    pub anonymize: Anonymize,
}

impl Default for BasketMapping {
    fn default() -> Self {
        Self {
            table: ident!("baskets"),
            id: ident!("id"),
            subject: SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id")),
            status: Some(ident!("status")),
            invalid_status: "INVALID".to_owned(),
            invalidated_at: Some(ident!("invalidated_at")),
            items: ChildTable::new(ident!("basket_items"), ident!("basket_id")),
            anonymize: Anonymize::new(),
        }
    }
}

/// Basket invalidation. See the crate docs.
#[derive(Debug, Clone)]
pub struct BasketInvalidation {
    mapping: BasketMapping,
    policy: Policy,
}

impl Default for BasketInvalidation {
    fn default() -> Self {
        Self::new(BasketMapping::default())
    }
}

impl BasketInvalidation {
    /// A handler over `mapping`.
    pub fn new(mapping: BasketMapping) -> Self {
        let m = &mapping;
        let baskets = Reach::subject(m.subject.clone());
        let mut policy = Policy::new("no baskets for this kind of subject");
        let mut invalidate = Step::anonymize(m.table.clone(), baskets.clone(), m.anonymize.clone())
            .key(m.id.clone())
            .unlink();
        match &m.status {
            Some(status) => {
                invalidate = invalidate
                    .mark(status.clone(), m.invalid_status.as_str())
                    .deferred();
            }
            // No status column: the ledger records them, before they are unlinked.
            None => {
                policy.push(Step::defer_in_ledger(
                    m.table.clone(),
                    baskets.clone(),
                    m.id.clone(),
                ));
            }
        }
        if let Some(at) = &m.invalidated_at {
            invalidate = invalidate.mark_now(at.clone());
        }
        let policy = policy
            .step(invalidate)
            // The items go with their basket, in the purge job.
            .step(Step::keep(
                m.items.table.clone(),
                Reach::child(&m.items, &m.table, &m.id, baskets),
            ));
        Self { mapping, policy }
    }

    /// The mapping.
    pub fn mapping(&self) -> &BasketMapping {
        &self.mapping
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for BasketInvalidation {
    fn name(&self) -> &str {
        "basket-invalidation"
    }

    fn description(&self) -> &str {
        "invalidates the subject's baskets and unlinks them; a purge job deletes them later"
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the default: the policy as it is.
        true
    }
}

/// The purge job: deletes baskets marked invalid, and their items, in batches.
///
/// ```
/// use erasure_basket::{BasketMapping, BasketPurge};
/// let job = BasketPurge::new(BasketMapping::default());
/// ```
#[derive(Debug, Clone, Default)]
pub struct BasketPurge {
    mapping: BasketMapping,
}

impl BasketPurge {
    /// A job over `mapping`.
    pub fn new(mapping: BasketMapping) -> Self {
        Self { mapping }
    }

    fn invalid(&self) -> Condition {
        let m = &self.mapping;
        match &m.status {
            Some(status) => Condition::eq(status.clone(), m.invalid_status.as_str()),
            None => erasure_core::ledger::deferred(&m.table, &m.id),
        }
    }
}

#[async_trait]
impl<DB: Backend> erasure_core::job::Job<DB> for BasketPurge {
    fn name(&self) -> &str {
        "basket-purge"
    }

    fn description(&self) -> &str {
        "deletes invalidated baskets (marked, or in the ledger) and their items"
    }

    async fn remaining(
        &self,
        cx: &mut erasure_core::job::BatchContext<'_, DB>,
    ) -> Result<u64, HandlerError> {
        erasure_core::retention::count(cx, &self.mapping.table, self.invalid()).await
    }

    async fn batch(
        &self,
        cx: &mut erasure_core::job::BatchContext<'_, DB>,
    ) -> Result<erasure_core::job::BatchOutcome, HandlerError> {
        use erasure_core::sql::Delete;
        let m = &self.mapping;
        let keys = erasure_core::retention::next_keys(cx, &m.table, &m.id, self.invalid()).await?;
        let Some(last) = keys.last().cloned() else {
            return Ok(erasure_core::job::BatchOutcome::default());
        };
        let items = cx
            .execute(Delete::new(
                m.items.table.clone(),
                Condition::is_in(m.items.parent.clone(), keys.clone()),
            ))
            .await?;
        let baskets = cx
            .execute(Delete::new(
                m.table.clone(),
                Condition::is_in(m.id.clone(), keys.clone()).and(self.invalid()),
            ))
            .await?;
        if m.status.is_none() {
            // The ledger's entries go with their rows.
            cx.execute(erasure_core::ledger::forget(&m.table, &keys))
                .await?;
        }
        Ok(erasure_core::job::BatchOutcome {
            outcome: Outcome::new()
                .deleted(m.items.table.clone(), items)
                .deleted(m.table.clone(), baskets),
            rows: baskets,
            last_key: Some(last),
            failed: 0,
        })
    }
}
