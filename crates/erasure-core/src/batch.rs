//! Many subjects per commit: [`Chain::erase_many`].
//!
//! A bulk erasure (a file of customers, inactive accounts, retention) pays one commit per
//! subject when each subject is its own transaction; on SQLite with `synchronous = FULL` the
//! commit's `fsync` is most of a small subject's cost. [`Chain::erase_many`] runs many subjects
//! in one transaction instead, each in a savepoint of its own:
//!
//! * a subject that fails (a handler's error, a guard's refusal, a panic, an invalid subject)
//!   rolls back alone, is reported alone, and the batch goes on;
//! * a batch commits once, after [`BatchOptions::subjects`] subjects or before it would run
//!   longer than [`BatchOptions::time`] (judged by its slowest subject so far and the run's slowest commit), whichever comes
//!   first, so that a live shop's writers never wait long for the write lock;
//! * a failure that ends the batch's transaction with it (MySQL rolls back the whole transaction
//!   on a deadlock, savepoints included; a lost connection) fails that subject alone: the batch
//!   is rolled back and run again without it, on a new connection when the old one is in doubt.
//!   Nothing runs in autocommit, and nothing rolled back is reported as erased;
//! * a crash loses only the batch that had not committed: every subject reported erased was
//!   committed, and erasing a subject again is a no-op, so a rerun of the same input finishes
//!   the work.
//!
//! Receipts, outbox events and suppression entries are written in each subject's savepoint, as
//! for a single erasure, and commit with the batch.
//!
//! On SQLite the subjects share one savepoint the batch keeps open: a subject's `RELEASE` and
//! the next subject's `SAVEPOINT` go in the query of its last statements, so a subject is one
//! round trip (see [`transaction`](crate::transaction)).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backend::Backend;
use crate::chain::{Chain, Unit, is_transient, settle_error};
use crate::erasure::{Erasure, Mode};
use crate::error::Error;
use crate::report::Report;
use crate::transaction::{Isolation, Lease, Tx, open_subject_savepoint};

/// How [`Chain::erase_many`] groups subjects into transactions.
///
/// ```
/// use std::time::Duration;
/// use erasure_core::BatchOptions;
///
/// let options = BatchOptions::default()
///     .subjects(250)
///     .time(Duration::from_millis(20));
/// assert_eq!(options.max_subjects(), 250);
/// assert!(!BatchOptions::default().dry_run().is_erase());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    subjects: usize,
    time: Duration,
    mode: Mode,
}

impl Default for BatchOptions {
    /// 100 subjects or 35 ms per commit, erasing: the time leaves room for a subject or a
    /// commit slower than those before it, so that the p99 time a batch holds the database
    /// stays within 50 ms (scenario 9 of docs/performance.md measures it).
    fn default() -> Self {
        Self {
            subjects: 100,
            time: Duration::from_millis(35),
            mode: Mode::Erase,
        }
    }
}

impl BatchOptions {
    /// At most `n` subjects per commit (at least one).
    #[must_use]
    pub fn subjects(mut self, n: usize) -> Self {
        self.subjects = n.max(1);
        self
    }

    /// A batch commits before it would run longer than `time`, however few subjects it holds:
    /// it takes no further subject once the time it has run, plus its slowest subject so far,
    /// plus the longest a commit of the run has taken, reaches `time` (a subject is never cut
    /// short, so one slower than any before it can still carry the batch past `time`). A batch
    /// always holds at least one subject.
    #[must_use]
    pub fn time(mut self, time: Duration) -> Self {
        self.time = time;
        self
    }

    /// Every subject as a [dry run](Chain::dry_run), every batch rolled back: nothing changes.
    #[must_use]
    pub fn dry_run(mut self) -> Self {
        self.mode = Mode::DryRun;
        self
    }

    /// The most subjects a batch holds.
    pub fn max_subjects(&self) -> usize {
        self.subjects
    }

    /// The longest a batch should run (see [`time`](Self::time)).
    pub fn max_time(&self) -> Duration {
        self.time
    }

    /// Whether the batches erase (and commit) rather than dry-run.
    pub fn is_erase(&self) -> bool {
        self.mode == Mode::Erase
    }
}

/// The clock of one batch, which tells when it should take no further item: once the time it
/// has run, plus its slowest item so far (the pace by which the next would end), plus a reserve
/// (the time its commit may take), reaches its budget. [`Chain::erase_many`] and the
/// inactive-accounts job close their batches by it.
///
/// ```
/// use std::time::Duration;
/// use erasure_core::Pace;
///
/// let pace = Pace::start(Duration::from_secs(60));
/// assert!(!pace.is_spent(Duration::ZERO));
/// // Keeping the whole budget for the commit leaves no room for another item.
/// assert!(pace.is_spent(Duration::from_secs(60)));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    started: Instant,
    slowest: Duration,
    budget: Duration,
}

impl Pace {
    /// A batch starting now, with `budget` to run in.
    pub fn start(budget: Duration) -> Self {
        Self {
            started: Instant::now(),
            slowest: Duration::ZERO,
            budget,
        }
    }

    /// Runs one item's `work`, timing it.
    pub async fn time<T>(&mut self, work: impl Future<Output = T>) -> T {
        let began = Instant::now();
        let out = work.await;
        self.slowest = self.slowest.max(began.elapsed());
        out
    }

    /// Whether one more item, at the pace of the slowest so far, and then `reserve` would end
    /// past the budget.
    pub fn is_spent(&self, reserve: Duration) -> bool {
        self.started.elapsed() + self.slowest + reserve >= self.budget
    }

    /// How long the batch has run.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// What became of one subject of [`Chain::erase_many`], reported once its batch has committed
/// (or, for a subject whose failure ended its batch's transaction, at once).
#[derive(Debug)]
pub struct SubjectResult {
    /// The subject's place in the input, from 0.
    pub index: usize,
    /// Its report, or why it was not erased (nothing of it was committed).
    pub result: Result<Report, Error>,
    /// The transaction that decided it: 1 for the run's first batch, counting batches that
    /// were rolled back and run again.
    pub batch: u64,
    /// How long that transaction was open, from its `BEGIN` to the end of its commit (or
    /// rollback): on SQLite, how long the batch held the database's write lock.
    pub held: Duration,
}

/// What [`Chain::erase_many`] did, in totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ManySummary {
    /// Subjects reported.
    pub subjects: u64,
    /// Subjects erased (or, in a dry run, that would be), with something to erase.
    pub erased: u64,
    /// Subjects with nothing to erase.
    pub no_op: u64,
    /// Subjects not erased.
    pub failed: u64,
    /// Batches committed (rolled back, in a dry run).
    pub batches: u64,
    /// Batches rolled back and run again without a subject whose failure ended their
    /// transaction, or after their commit lost a lock conflict.
    pub reruns: u64,
    /// The longest a batch's transaction was open, in microseconds (on SQLite, the longest the
    /// run held the write lock at once; [`BatchOptions::time`] bounds it, give or take one
    /// subject).
    pub longest_batch_us: u64,
}

impl ManySummary {
    fn count(&mut self, done: &SubjectResult) {
        self.subjects += 1;
        let held = u64::try_from(done.held.as_micros()).unwrap_or(u64::MAX);
        self.longest_batch_us = self.longest_batch_us.max(held);
        match &done.result {
            Ok(report) if report.is_noop() => self.no_op += 1,
            Ok(_) => self.erased += 1,
            Err(_) => self.failed += 1,
        }
    }
}

/// Why [`Chain::erase_many`] stopped before the end of its input. The subjects reported before
/// it stopped stay as reported (those erased were committed); the batch that was running is
/// rolled back, and none of its subjects was reported.
#[derive(Debug, thiserror::Error)]
#[error("{error} (the batch was rolled back; {} subjects were reported before it)", .summary.subjects)]
pub struct ManyError {
    /// What was done before the failure.
    pub summary: ManySummary,
    /// Why the batch could not run or commit.
    pub error: Error,
}

/// How one batch ended.
enum BatchEnd {
    /// Committed (rolled back, in a dry run): every subject's result, and how long the commit
    /// took.
    Settled(Vec<SubjectResult>, Duration),
    /// A subject's failure ended the transaction: it failed alone, the batch was rolled back,
    /// and its other subjects run again.
    Ended {
        failed: SubjectResult,
        in_doubt: bool,
    },
    /// The batch could not begin or commit.
    Failed { error: Error, in_doubt: bool },
}

impl<DB: Backend> Chain<DB> {
    /// Erases every subject of `erasures`, many per commit, each in a savepoint of its own (see
    /// the [module](crate::batch) for the guarantees). `done` hears of every subject, in input
    /// order within a batch, once its fate is final. Memory is bounded by the batch size:
    /// `erasures` is read as the batches need it.
    ///
    /// ```
    /// # use erasure_core::{BatchOptions, Chain, Erasure, Subject};
    /// # async fn run(chain: Chain<sqlx::Sqlite>, pool: sqlx::SqlitePool) -> Result<(), Box<dyn std::error::Error>> {
    /// let erasures = (1..=1_000).map(|id| Erasure::new(Subject::customer(id)));
    /// let mut failed = Vec::new();
    /// let summary = chain
    ///     .erase_many(&pool, erasures, BatchOptions::default(), |done| {
    ///         if let Err(e) = done.result {
    ///             failed.push((done.index, e.to_string()));
    ///         }
    ///     })
    ///     .await?;
    /// assert_eq!(summary.subjects, 1_000);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ManyError`] when a batch cannot begin, or its commit fails other than by a lock
    /// conflict (which runs the batch again, as the chain's [retry
    /// policy](Chain::retry_policy) allows), or no connection can be had.
    pub async fn erase_many<I, F>(
        &self,
        pool: &sqlx::Pool<DB>,
        erasures: I,
        options: BatchOptions,
        mut done: F,
    ) -> Result<ManySummary, ManyError>
    where
        I: IntoIterator<Item = Erasure>,
        F: FnMut(SubjectResult),
    {
        let mut input = erasures.into_iter().enumerate();
        let mut summary = ManySummary::default();
        // The subjects of a batch that was rolled back, to run again.
        let mut batch: Vec<(usize, Erasure)> = Vec::new();
        let mut conn = None;
        let mut retry = self.retry_policy().start();
        // Transactions begun, rolled back ones included.
        let mut number = 0;
        // The longest a commit of this run took: a batch leaves room for its own (a commit
        // that checkpoints SQLite's WAL takes several times one that does not).
        let mut commit = Duration::ZERO;
        loop {
            if batch.is_empty() {
                match input.next() {
                    Some(first) => batch.push(first),
                    None => return Ok(summary),
                }
            }
            let lease = match &mut conn {
                Some(lease) => lease,
                None => match pool.acquire().await {
                    Ok(lease) => conn.insert(lease),
                    Err(e) => {
                        let error = Error::Acquire(e.into());
                        return Err(ManyError { summary, error });
                    }
                },
            };
            number += 1;
            let end = self
                .run_batch(
                    &mut *lease,
                    (number, commit),
                    &mut batch,
                    &mut input,
                    options,
                )
                .await;
            match end {
                BatchEnd::Settled(results, took) => {
                    commit = commit.max(took);
                    summary.batches += 1;
                    for d in results {
                        summary.count(&d);
                        done(d);
                    }
                    batch.clear();
                    retry = self.retry_policy().start();
                }
                BatchEnd::Ended { failed, in_doubt } => {
                    if in_doubt {
                        lease.discard();
                        conn = None;
                    }
                    summary.reruns += 1;
                    summary.count(&failed);
                    done(failed);
                }
                BatchEnd::Failed { error, in_doubt } => {
                    if in_doubt {
                        lease.discard();
                        conn = None;
                    }
                    if !in_doubt && retry.again(is_transient::<DB>(&error)).await {
                        tracing::warn!(error = %error, "a batch's commit lost a lock conflict; running it again");
                        summary.reruns += 1;
                        continue;
                    }
                    return Err(ManyError { summary, error });
                }
            }
        }
    }

    /// One batch: `batch` holds the subjects to run again first, and grows from `more` until
    /// the batch is full or its time is up.
    async fn run_batch(
        &self,
        conn: &mut DB::Connection,
        (number, commit): (u64, Duration),
        batch: &mut Vec<(usize, Erasure)>,
        more: &mut impl Iterator<Item = (usize, Erasure)>,
        options: BatchOptions,
    ) -> BatchEnd {
        let mut pace = Pace::start(options.time);
        let mut tx = match Tx::<DB>::begin(conn, Isolation::Write).await {
            Ok(tx) => tx,
            Err(e) => {
                return BatchEnd::Failed {
                    error: Error::Begin(e),
                    in_doubt: false,
                };
            }
        };
        // Where statements go together, the subjects share one savepoint the batch keeps open
        // (see `transaction`): a round trip per subject instead of three.
        let unit = if DB::FOLDS_SAVEPOINTS {
            if let Err(e) = open_subject_savepoint(&mut tx).await {
                let in_doubt = tx.roll_back(Ok::<(), Error>(())).await.is_err();
                return BatchEnd::Failed {
                    error: Error::Begin(e),
                    in_doubt,
                };
            }
            Unit::SubjectSavepoint
        } else {
            Unit::Own
        };
        let mut results = Vec::with_capacity(batch.len());
        let mut i = 0;
        loop {
            if i == batch.len() {
                let full = batch.len() >= options.subjects;
                if full || pace.is_spent(commit) {
                    break;
                }
                match more.next() {
                    Some(next) => batch.push(next),
                    None => break,
                }
            }
            let result = pace
                .time(self.one_of_many(&mut tx, &batch[i].1, (options.mode, unit)))
                .await;
            if result
                .as_ref()
                .is_err_and(Error::leaves_connection_unusable)
            {
                // The savepoint could not be rolled back alone: the database ended the batch's
                // transaction (or its state is unknown). What the batch did before is gone
                // too; roll back what is left and run the others again without this subject.
                let (index, _) = batch.remove(i);
                let in_doubt = tx.roll_back(Ok::<(), Error>(())).await.is_err();
                let held = pace.elapsed();
                tracing::warn!(
                    subjects = batch.len(),
                    "a subject's failure ended its batch's transaction; running the batch again without it"
                );
                return BatchEnd::Ended {
                    failed: SubjectResult {
                        index,
                        result,
                        batch: number,
                        held,
                    },
                    in_doubt,
                };
            }
            results.push(SubjectResult {
                index: batch[i].0,
                result,
                batch: number,
                held: Duration::ZERO,
            });
            i += 1;
        }
        Self::settle_batch(tx, results, pace, options.mode).await
    }

    /// Commits a batch (rolls it back, in a dry run) and dates its subjects' results with the
    /// time its transaction was open.
    async fn settle_batch(
        tx: Tx<'_, DB>,
        mut results: Vec<SubjectResult>,
        pace: Pace,
        mode: Mode,
    ) -> BatchEnd {
        let settling = Instant::now();
        let settled = match mode {
            Mode::Erase => tx.settle(Ok::<(), Error>(())).await,
            Mode::DryRun => tx.roll_back(Ok::<(), Error>(())).await,
        };
        let (held, took) = (pace.elapsed(), settling.elapsed());
        match settled {
            Ok(()) => {
                tracing::info!(
                    subjects = results.len(),
                    mode = %mode,
                    held_us = u64::try_from(held.as_micros()).unwrap_or(u64::MAX),
                    "batch settled"
                );
                for done in &mut results {
                    done.held = held;
                }
                BatchEnd::Settled(results, took)
            }
            Err(failure) => {
                let in_doubt = failure.is_in_doubt();
                BatchEnd::Failed {
                    error: settle_error(failure, mode),
                    in_doubt,
                }
            }
        }
    }

    /// One subject in its savepoint, run again while it loses lock conflicts its savepoint
    /// could roll back alone (as the chain's retry policy allows).
    async fn one_of_many(
        &self,
        conn: &mut DB::Connection,
        erasure: &Erasure,
        (mode, unit): (Mode, Unit),
    ) -> Result<Report, Error> {
        let mut retry = self.retry_policy().start();
        loop {
            let result = self.run_in(conn, erasure, mode, unit).await;
            match result {
                Err(e) if retry.again(is_transient::<DB>(&e)).await => {
                    tracing::warn!(error = %e, "a subject of a batch lost a lock conflict");
                }
                other => return other,
            }
        }
    }
}
