//! Purge jobs: deferred deletes in small batches.
//!
//! Handlers only *mark* some rows (a basket `INVALID`, an order `to_be_deleted`); a [`Job`]
//! deletes them later. A job works in bounded batches, each batch its own short transaction, so a
//! live shop's writes are never stalled behind one huge delete. Batches walk by key (keyset:
//! `WHERE id > last ORDER BY id LIMIT n`), never by page number: deleting while paging by offset
//! skips rows.
//!
//! Every batch is committed on its own, so a job killed half-way has lost nothing: run it again
//! and it continues with what is left (what it deleted is gone, what it skipped is skipped again).
//! Running a job twice is therefore harmless; the second run finds nothing to do.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Pool;
use tracing::Instrument as _;

use crate::backend::{Backend, Row};
use crate::clock::{Clock, SystemClock};
use crate::error::{DatabaseError, HandlerError};
use crate::ident::Ident;
use crate::mapping::ChildTable;
use crate::outcome::{Action, Outcome, Totals};
use crate::retry::RetryPolicy;
use crate::sql::{Condition, Delete, Sql};
use crate::transaction::{Failure, Isolation, Lease as _, Tx};
use crate::value::Value;

/// The batch size jobs use unless told otherwise.
pub const DEFAULT_BATCH: u32 = 500;

/// What one batch sees: the connection inside the batch's transaction, the run's clock reading,
/// the key to continue after and the batch size.
pub struct BatchContext<'c, DB: Backend> {
    conn: &'c mut DB::Connection,
    now: DateTime<Utc>,
    after: Option<&'c Value>,
    size: u32,
    statements: u32,
}

impl<'c, DB: Backend> BatchContext<'c, DB> {
    /// The run's clock reading, taken once when the job started.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The last key the previous batch processed; `None` for the first batch.
    pub fn after(&self) -> Option<&'c Value> {
        self.after
    }

    /// The most rows this batch may process.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Executes a statement inside the batch's transaction.
    ///
    /// # Errors
    ///
    /// [`HandlerError::Database`].
    pub async fn execute(&mut self, statement: impl Into<Sql>) -> Result<u64, HandlerError> {
        let sql = statement.into();
        self.statements += 1;
        Ok(DB::execute(self.conn, &sql).await?)
    }

    /// Deletes the rows of `table` whose `id` is one of `keys`, after the rows of each child
    /// table that point at them, one statement per table; adds every count to `outcome` and
    /// returns the parents deleted.
    ///
    /// # Errors
    ///
    /// [`HandlerError::Database`].
    pub async fn delete_with_children(
        &mut self,
        table: &Ident,
        id: &Ident,
        keys: Vec<Value>,
        children: &[ChildTable],
        outcome: &mut Outcome,
    ) -> Result<u64, HandlerError> {
        for child in children {
            let n = self
                .execute(Delete::new(
                    child.table.clone(),
                    Condition::is_in(child.parent.clone(), keys.clone()),
                ))
                .await?;
            outcome.record(child.table.clone(), Action::Deleted, n);
        }
        let n = self
            .execute(Delete::new(
                table.clone(),
                Condition::is_in(id.clone(), keys),
            ))
            .await?;
        outcome.record(table.clone(), Action::Deleted, n);
        Ok(n)
    }

    /// Runs a query inside the batch's transaction.
    ///
    /// # Errors
    ///
    /// [`HandlerError::Database`].
    pub async fn fetch_all(&mut self, statement: impl Into<Sql>) -> Result<Vec<Row>, HandlerError> {
        let sql = statement.into();
        self.statements += 1;
        Ok(DB::fetch_all(self.conn, &sql).await?)
    }

    /// The raw connection, inside the batch's transaction.
    pub fn connection(&mut self) -> &mut DB::Connection {
        self.conn
    }
}

impl<DB: Backend> fmt::Debug for BatchContext<'_, DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchContext")
            .field("now", &self.now)
            .field("after", &self.after)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    /// Rows per table and action.
    pub outcome: Outcome,
    /// Rows of the job's main table this batch processed (for progress).
    pub rows: u64,
    /// The last key processed; `None` when nothing was left, which ends the run.
    pub last_key: Option<Value>,
    /// Rows (subjects) this batch skipped because their work failed on its own (an erasure
    /// that was refused or failed and rolled back to its savepoint); they stay for the next run.
    pub failed: u64,
}

/// A deferred delete, done in batches. See the module docs.
///
/// # Examples
///
/// ```
/// use erasure_core::job::{BatchContext, BatchOutcome, Job};
/// use erasure_core::{async_trait, ident, Backend, HandlerError, Outcome, Value};
/// use erasure_core::sql::{Cmp, Condition, Delete, Select};
///
/// /// Deletes expired sessions, oldest key first.
/// struct ExpiredSessions;
///
/// #[async_trait]
/// impl<DB: Backend> Job<DB> for ExpiredSessions {
///     fn name(&self) -> &str { "expired-sessions" }
///     fn description(&self) -> &str { "deletes sessions that expired" }
///
///     async fn remaining(&self, cx: &mut BatchContext<'_, DB>) -> Result<u64, HandlerError> {
///         let rows = cx.fetch_all(Select::count(ident!("sessions"))
///             .filter(Condition::compare(ident!("expires_at"), Cmp::Lt, cx.now()))).await?;
///         Ok(rows[0].get_index(0).and_then(Value::as_i64).unwrap_or(0) as u64)
///     }
///
///     async fn batch(&self, cx: &mut BatchContext<'_, DB>) -> Result<BatchOutcome, HandlerError> {
///         let mut select = Select::column(ident!("sessions"), ident!("id"))
///             .filter(Condition::compare(ident!("expires_at"), Cmp::Lt, cx.now()));
///         if let Some(after) = cx.after() {
///             select = select.filter(Condition::compare(ident!("id"), Cmp::Gt, after.clone()));
///         }
///         let ids: Vec<Value> = cx.fetch_all(select.order_by([ident!("id")]).limit(cx.size().into()))
///             .await?.into_iter().filter_map(|r| r.into_values().into_iter().next()).collect();
///         let Some(last) = ids.last().cloned() else { return Ok(BatchOutcome::default()) };
///         let n = cx.execute(Delete::new(ident!("sessions"), Condition::is_in(ident!("id"), ids))).await?;
///         Ok(BatchOutcome { outcome: Outcome::new().deleted(ident!("sessions"), n), rows: n, last_key: Some(last), failed: 0 })
///     }
/// }
/// ```
#[async_trait]
pub trait Job<DB: Backend>: Send + Sync {
    /// A short, stable name (`basket-purge`).
    fn name(&self) -> &str;

    /// One line for operators.
    fn description(&self) -> &str;

    /// How many rows are left to process now (an estimate is fine; it feeds progress only).
    /// Runs in a transaction of its own, rolled back.
    async fn remaining(&self, cx: &mut BatchContext<'_, DB>) -> Result<u64, HandlerError>;

    /// Processes at most [`size`](BatchContext::size) rows with keys after
    /// [`after`](BatchContext::after), inside the batch's transaction.
    async fn batch(&self, cx: &mut BatchContext<'_, DB>) -> Result<BatchOutcome, HandlerError>;
}

#[async_trait]
impl<DB: Backend, J: Job<DB> + ?Sized> Job<DB> for Arc<J> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn description(&self) -> &str {
        (**self).description()
    }

    async fn remaining(&self, cx: &mut BatchContext<'_, DB>) -> Result<u64, HandlerError> {
        (**self).remaining(cx).await
    }

    async fn batch(&self, cx: &mut BatchContext<'_, DB>) -> Result<BatchOutcome, HandlerError> {
        (**self).batch(cx).await
    }
}

/// Where a job is: for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Rows processed so far.
    pub done: u64,
    /// Rows left, as estimated at the start minus those done.
    pub left: u64,
    /// Batches committed so far.
    pub batches: u32,
}

/// What a whole job run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// The job's name.
    pub job: String,
    /// Batches committed.
    pub batches: u32,
    /// Rows of the main table processed (committed).
    pub rows: u64,
    /// Rows (subjects) skipped because their own work failed; see [`BatchOutcome::failed`].
    pub failed: u64,
    /// Rows per action over all tables.
    pub totals: Totals,
    /// Wall time of the run, in microseconds.
    pub elapsed_us: u64,
    /// The median batch transaction time, in microseconds.
    pub batch_p50_us: u64,
    /// The 99th-percentile batch transaction time, in microseconds.
    pub batch_p99_us: u64,
    /// The longest batch transaction, in microseconds.
    pub batch_max_us: u64,
}

impl fmt::Display for JobSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} rows in {} batches ({}); {:.1} s; batch p50 {:.1} ms, p99 {:.1} ms",
            self.job,
            self.rows,
            self.batches,
            self.totals,
            self.elapsed_us as f64 / 1e6,
            self.batch_p50_us as f64 / 1e3,
            self.batch_p99_us as f64 / 1e3
        )?;
        if self.failed > 0 {
            write!(f, "; {} failed and left for the next run", self.failed)?;
        }
        Ok(())
    }
}

/// Why a job stopped. Every batch committed before the failure stays committed; run the job
/// again to continue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// A batch failed and was rolled back.
    #[error("job `{job}` failed in batch {batch} (earlier batches are committed): {cause}")]
    Batch {
        /// The job.
        job: String,
        /// The 1-based number of the failed batch.
        batch: u32,
        /// Why.
        cause: HandlerError,
    },
    /// The database failed outside a batch (connecting, beginning, committing).
    #[error("job `{job}`: {cause}")]
    Database {
        /// The job.
        job: String,
        /// Why.
        cause: DatabaseError,
    },
}

/// Runs jobs: batch after batch, each in its own transaction, until nothing is left.
///
/// ```no_run
/// # use erasure_core::job::{Job, JobRunner};
/// # async fn f(pool: sqlx::SqlitePool, job: &dyn Job<sqlx::Sqlite>) -> Result<(), Box<dyn std::error::Error>> {
/// let summary = JobRunner::new()
///     .batch_size(1_000)
///     .run(&pool, job, |p| eprintln!("{} done, {} left", p.done, p.left))
///     .await?;
/// println!("{summary}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct JobRunner {
    clock: Arc<dyn Clock>,
    batch_size: u32,
    retry: RetryPolicy,
}

impl Default for JobRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl JobRunner {
    /// A runner with the system clock, [`DEFAULT_BATCH`] rows per batch, and the default retry
    /// policy for batches that lose a lock conflict.
    pub fn new() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            batch_size: DEFAULT_BATCH,
            retry: RetryPolicy::default(),
        }
    }

    /// Rows per batch (at least 1).
    pub fn batch_size(mut self, size: u32) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// The clock ("now" is read once per run).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Retries for batches that lose a lock conflict.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Runs `job` until a batch finds nothing left, calling `progress` after every batch.
    ///
    /// Each batch is one transaction on a connection taken from `pool`
    /// ([`transaction`](crate::transaction)): committed when the job's step succeeds, rolled
    /// back explicitly when it fails. A batch that loses a lock conflict (or one of whose
    /// erasures ended the batch's transaction: a MySQL deadlock, a lost connection) is retried
    /// as a whole in a new transaction, on a new connection when the old one is in doubt; only
    /// committed batches count in the summary.
    ///
    /// # Errors
    ///
    /// The first batch that fails (after retries for lock conflicts); the batches before it stay
    /// committed.
    pub async fn run<DB: Backend>(
        &self,
        pool: &Pool<DB>,
        job: &dyn Job<DB>,
        mut progress: impl FnMut(Progress) + Send,
    ) -> Result<JobSummary, JobError> {
        let name = job.name().to_owned();
        let span = tracing::info_span!("job", job = %name, backend = %DB::DIALECT);
        async move {
            let started = Instant::now();
            let now = self.clock.now();
            let estimate = self.estimate(pool, job, now).await?;
            let mut after: Option<Value> = None;
            let mut totals = Totals::default();
            let mut rows = 0u64;
            let mut failed = 0u64;
            let mut times: Vec<Duration> = Vec::new();
            loop {
                let batch_no = u32::try_from(times.len())
                    .unwrap_or(u32::MAX)
                    .saturating_add(1);
                let (outcome, took) = self
                    .retry
                    .run(
                        |_| self.one_batch(pool, job, now, after.as_ref()),
                        |f: &BatchFailure| f.conflict,
                    )
                    .await
                    .map_err(|f| JobError::Batch {
                        job: name.clone(),
                        batch: batch_no,
                        cause: f.cause,
                    })?;
                let Some(last) = outcome.last_key else { break };
                times.push(took);
                totals.add(outcome.outcome.totals());
                rows += outcome.rows;
                failed += outcome.failed;
                after = Some(last);
                tracing::debug!(
                    batch = batch_no,
                    rows = outcome.rows,
                    took_us = micros(took),
                    "batch committed"
                );
                progress(Progress {
                    done: rows,
                    left: estimate.saturating_sub(rows),
                    batches: batch_no,
                });
            }
            let summary = JobSummary {
                job: name.clone(),
                batches: u32::try_from(times.len()).unwrap_or(u32::MAX),
                rows,
                failed,
                totals,
                elapsed_us: micros(started.elapsed()),
                batch_p50_us: percentile(&mut times, 50),
                batch_p99_us: percentile(&mut times, 99),
                batch_max_us: times.iter().max().map_or(0, |d| micros(*d)),
            };
            tracing::info!(
                rows = summary.rows,
                failed = summary.failed,
                batches = summary.batches,
                "job finished"
            );
            Ok(summary)
        }
        .instrument(span)
        .await
    }

    /// The job's estimate of what is left, read in a transaction that is rolled back.
    async fn estimate<DB: Backend>(
        &self,
        pool: &Pool<DB>,
        job: &dyn Job<DB>,
        now: DateTime<Utc>,
    ) -> Result<u64, JobError> {
        let name = job.name();
        let db_error = |cause: DatabaseError| JobError::Database {
            job: name.to_owned(),
            cause,
        };
        let mut conn = pool.acquire().await.map_err(|e| db_error(e.into()))?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
            .await
            .map_err(db_error)?;
        let mut cx = BatchContext::<DB> {
            conn: &mut tx,
            now,
            after: None,
            size: self.batch_size,
            statements: 0,
        };
        let remaining = job.remaining(&mut cx).await;
        match tx.roll_back(remaining).await {
            Ok(n) => Ok(n),
            Err(failure) => {
                if failure.is_in_doubt() {
                    conn.discard();
                }
                Err(match failure {
                    Failure::Work(cause) => JobError::Batch {
                        job: name.to_owned(),
                        batch: 0,
                        cause,
                    },
                    Failure::Commit(cause) | Failure::InDoubt { error: cause, .. } => {
                        db_error(cause)
                    }
                })
            }
        }
    }

    /// One attempt of one batch, in a new transaction on a connection from `pool`.
    async fn one_batch<DB: Backend>(
        &self,
        pool: &Pool<DB>,
        job: &dyn Job<DB>,
        now: DateTime<Utc>,
        after: Option<&Value>,
    ) -> Result<(BatchOutcome, Duration), BatchFailure> {
        let mut conn = pool
            .acquire()
            .await
            .map_err(|e| BatchFailure::database::<DB>(e.into()))?;
        let started = Instant::now();
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
            .await
            .map_err(BatchFailure::database::<DB>)?;
        let mut cx = BatchContext::<DB> {
            conn: &mut tx,
            now,
            after,
            size: self.batch_size,
            statements: 0,
        };
        let result = job.batch(&mut cx).await;
        match tx.settle(result).await {
            Ok(outcome) => Ok((outcome, started.elapsed())),
            Err(failure) => {
                if failure.is_in_doubt() {
                    conn.discard();
                }
                Err(BatchFailure::settled::<DB>(failure))
            }
        }
    }
}

/// Why one attempt of a batch failed, and whether a new attempt may succeed.
struct BatchFailure {
    cause: HandlerError,
    /// A lock conflict (or an erasure that ended the batch's transaction on one): nothing of
    /// the attempt committed, and a new transaction may not meet it again.
    conflict: bool,
}

impl BatchFailure {
    fn database<DB: Backend>(e: DatabaseError) -> Self {
        let conflict = DB::is_transient(e.as_sqlx());
        Self {
            cause: HandlerError::Database(e),
            conflict,
        }
    }

    fn settled<DB: Backend>(failure: Failure<HandlerError>) -> Self {
        match failure {
            // The work failed and everything was rolled back (or the rollback failed, which
            // closes the connection: the retry runs on another).
            Failure::Work(cause)
            | Failure::InDoubt {
                work: Some(cause), ..
            } => {
                let conflict = cause.is_lock_conflict::<DB>() || cause.ended_transaction();
                Self { cause, conflict }
            }
            Failure::Commit(db) => Self::database::<DB>(db),
            // The commit's outcome is unknown: retrying could count rows twice or miss them.
            // The job stops; running it again continues from what is left.
            Failure::InDoubt { work: None, error } => Self {
                cause: HandlerError::Database(error),
                conflict: false,
            },
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn percentile(times: &mut [Duration], p: usize) -> u64 {
    if times.is_empty() {
        return 0;
    }
    times.sort();
    let rank = (times.len() * p).div_ceil(100).clamp(1, times.len());
    micros(times[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut t: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&mut t, 50), 50);
        assert_eq!(percentile(&mut t, 99), 99);
        let mut one = vec![Duration::from_micros(7)];
        assert_eq!(percentile(&mut one, 99), 7);
        assert_eq!(percentile(&mut [], 99), 0);
    }
}
