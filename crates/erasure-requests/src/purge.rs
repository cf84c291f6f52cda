//! The job that deletes closed and stale requests.

use erasure_core::job::{BatchContext, BatchOutcome, Job};
use erasure_core::retention::{Period, count, next_keys};
use erasure_core::sql::{Cmp, Condition, Delete};
use erasure_core::{Backend, HandlerError, Outcome, Value, async_trait};

use crate::columns::{self as col, table};
use crate::state::State;

/// Deletes requests closed (completed, rejected, expired, cancelled) more than `keep` ago, and
/// pending requests received more than `keep` ago (default 30 days).
#[derive(Debug, Clone)]
pub struct RequestPurge {
    keep: Period,
}

impl RequestPurge {
    /// A job keeping closed requests for `keep`.
    pub fn new(keep: Period) -> Self {
        Self { keep }
    }

    fn due(&self, now: chrono::DateTime<chrono::Utc>) -> Condition {
        let cutoff = self.keep.before(now);
        let closed: Vec<Value> = State::ALL
            .into_iter()
            .filter(|s| s.is_closed())
            .map(|s| s.as_str().into())
            .collect();
        Condition::is_in(col::state(), closed)
            .and(Condition::compare(col::closed_at(), Cmp::Le, cutoff))
            .or(
                Condition::eq(col::state(), State::Pending.as_str()).and(Condition::compare(
                    col::received_at(),
                    Cmp::Le,
                    cutoff,
                )),
            )
    }
}

impl Default for RequestPurge {
    fn default() -> Self {
        Self::new(Period::days(30))
    }
}

#[async_trait]
impl<DB: Backend> Job<DB> for RequestPurge {
    fn name(&self) -> &str {
        "request-purge"
    }

    fn description(&self) -> &str {
        "deletes closed requests and stale pending ones after the keeping period"
    }

    async fn remaining(&self, cx: &mut BatchContext<'_, DB>) -> Result<u64, HandlerError> {
        let due = self.due(cx.now());
        count(cx, &table(), due).await
    }

    async fn batch(&self, cx: &mut BatchContext<'_, DB>) -> Result<BatchOutcome, HandlerError> {
        let due = self.due(cx.now());
        let keys = next_keys(cx, &table(), &col::id(), due).await?;
        let Some(last) = keys.last().cloned() else {
            return Ok(BatchOutcome::default());
        };
        let n = cx
            .execute(Delete::new(table(), Condition::is_in(col::id(), keys)))
            .await?;
        Ok(BatchOutcome {
            outcome: Outcome::new().deleted(table(), n),
            rows: n,
            last_key: Some(last),
            failed: 0,
        })
    }
}
