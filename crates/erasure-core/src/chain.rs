//! The chain: handlers in position order, run for one subject inside one transaction.
//!
//! The runner's promise is all or nothing. Every failure path (a handler error, a guard's
//! refusal, a panic, a failed commit) ends in an explicit `ROLLBACK` (or `ROLLBACK TO SAVEPOINT`)
//! before the error is returned; the [`transaction`](crate::transaction) module owns that.
//!
//! A transaction the chain began itself and lost to a lock conflict (deadlock, serialization
//! failure, SQLite busy) is retried from the start under the chain's [`RetryPolicy`]; since the
//! failed attempt rolled back completely, the retry cannot double anything.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Acquire, Connection as _};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::backend::Backend;
use crate::clock::Clock;
use crate::context::{ErasureContext, RunInfo};
use crate::coverage::{SchemaError, SchemaMismatch, Uncovered};
use crate::erasure::{Erasure, Mode};
use crate::error::{DatabaseError, Error, HandlerError};
use crate::footprint::Footprint;
use crate::handler::DeletionHandler;
use crate::outcome::Outcome;
use crate::pseudonym::Pseudonymizer;
use crate::recorder::{Committing, Emitted, Identifier, Recorder};
use crate::report::{HandlerReport, Report};
use crate::retry::RetryPolicy;
use crate::runner::{self, Stopped, guarded};
use crate::settings::Settings;
use crate::staged::{Joining, Stage};
use crate::subject::Subject;
use crate::transaction::{Failure, Isolation, Lease, Tx};

pub(crate) use crate::runner::Entry;

struct Inner<DB: Backend> {
    entries: Vec<Entry<DB>>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    pseudonymizer: Pseudonymizer,
    retry: RetryPolicy,
    recorders: Vec<Arc<dyn Recorder<DB>>>,
    /// Whether planned writes may be joined into one statement (see `ChainBuilder::join_writes`).
    join_writes: bool,
}

/// What stays the same across the attempts of one run.
#[derive(Clone, Copy)]
struct RunFacts<'a> {
    erasure: &'a Erasure,
    mode: Mode,
    run_id: Uuid,
    /// The subject's pseudonym.
    subject: &'a str,
    started: Instant,
}

impl RunFacts<'_> {
    /// The run's report: before the commit for recorders, after it for the caller.
    fn report(
        &self,
        started_at: DateTime<Utc>,
        handlers: Vec<HandlerReport>,
        attempts: u32,
    ) -> Report {
        Report {
            run_id: self.run_id,
            mode: self.mode,
            reason: self.erasure.reason(),
            operator: self.erasure.operator().map(str::to_owned),
            subject: self.subject.to_owned(),
            subject_kind: self.erasure.subject().kind(),
            started_at,
            handlers,
            elapsed_us: micros(self.started),
            attempts,
        }
    }
}

/// Handlers in position order, run for one subject inside one transaction.
///
/// Build one with [`Chain::builder`]; it is cheap to clone and can be shared between tasks.
///
/// # Order
///
/// Handlers run lowest position first, whatever order they were registered in.
///
/// # Examples
///
/// ```
/// use erasure_core::{async_trait, ident, Backend, Chain, DeletionHandler, Erasure,
///                    ErasureContext, HandlerError, Outcome, Subject, SubjectColumns};
///
/// struct Alerts;
///
/// #[async_trait]
/// impl<DB: Backend> DeletionHandler<DB> for Alerts {
///     fn name(&self) -> &str { "alerts" }
///     fn description(&self) -> &str { "deletes the subject's alerts" }
///     async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
///         let cols = SubjectColumns::customer(ident!("customer_id"));
///         let Some(filter) = cx.subject_filter(&cols, "guests have no alerts") else {
///             return cx.done();
///         };
///         cx.delete(&ident!("alerts"), filter).await?;
///         cx.done()
///     }
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = erasure_core::sqlite::open("sqlite::memory:", 1).await?;
/// sqlx::query("CREATE TABLE alerts (customer_id INTEGER)").execute(&pool).await?;
/// sqlx::query("INSERT INTO alerts VALUES (1), (1), (2)").execute(&pool).await?;
///
/// let chain = Chain::<sqlx::Sqlite>::builder().register(80, Alerts).build()?;
/// let erasure = Erasure::new(Subject::customer(1));
///
/// // A dry run reports what would happen and changes nothing.
/// let preview = chain.dry_run(&pool, &erasure).await?;
/// assert_eq!(preview.totals().deleted, 2);
///
/// let report = chain.erase(&pool, &erasure).await?;
/// assert_eq!(report.totals().deleted, 2);
///
/// // Erasing again is a no-op.
/// assert!(chain.erase(&pool, &erasure).await?.is_noop());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
///
/// Inside a transaction of your own, the erasure runs in a savepoint and commits or rolls back
/// with your transaction:
///
/// ```
/// # use erasure_core::{Chain, Erasure, Subject};
/// # async fn f(chain: Chain<sqlx::Sqlite>, pool: sqlx::SqlitePool) -> Result<(), Box<dyn std::error::Error>> {
/// let mut tx = pool.begin().await?;
/// sqlx::query("UPDATE accounts SET closed = 1 WHERE id = ?").bind(7).execute(&mut *tx).await?;
/// chain.erase(&mut *tx, &Erasure::new(Subject::customer(7))).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
///
/// A failed erasure inside your transaction rolls back to its savepoint, and your transaction
/// goes on. Two errors need more: one for which [`Error::is_lock_conflict`] holds lost a lock
/// conflict, and MySQL ends the whole transaction on a deadlock, so retry your transaction as a
/// whole (the chain only retries transactions of its own); and when
/// [`Error::leaves_connection_unusable`] holds, the savepoint could not be rolled back, so your
/// transaction is in doubt: roll it back and close the connection rather than return it to
/// the pool.
pub struct Chain<DB: Backend> {
    inner: Arc<Inner<DB>>,
}

impl<DB: Backend> Clone for Chain<DB> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<DB: Backend> Chain<DB> {
    pub(crate) fn new(
        entries: Vec<Entry<DB>>,
        clock: Arc<dyn Clock>,
        settings: Settings,
        pseudonymizer: Pseudonymizer,
        retry: RetryPolicy,
        recorders: Vec<Arc<dyn Recorder<DB>>>,
        join_writes: bool,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                entries,
                clock,
                settings,
                pseudonymizer,
                retry,
                recorders,
                join_writes,
            }),
        }
    }

    /// The positions, in run order.
    pub fn positions(&self) -> Vec<u32> {
        self.inner.entries.iter().map(|e| e.position).collect()
    }

    /// The number of handlers.
    pub fn len(&self) -> usize {
        self.inner.entries.len()
    }

    /// Always `false`: a chain has at least one handler.
    pub fn is_empty(&self) -> bool {
        self.inner.entries.is_empty()
    }

    /// The handlers with their positions, in run order.
    pub fn handlers(&self) -> impl Iterator<Item = (u32, &dyn DeletionHandler<DB>)> {
        self.inner
            .entries
            .iter()
            .map(|e| (e.position, &*e.handler as &dyn DeletionHandler<DB>))
    }

    /// What will run: position, name, description and footprint of every handler, in order.
    pub fn describe(&self) -> Description {
        Description {
            handlers: self
                .inner
                .entries
                .iter()
                .map(|e| HandlerInfo {
                    position: e.position,
                    name: e.handler.name().to_owned(),
                    description: e.handler.description().to_owned(),
                    footprint: e.handler.footprint(),
                })
                .collect(),
        }
    }

    /// The footprints of all handlers together.
    pub fn footprint(&self) -> Footprint {
        let mut all = Footprint::new();
        for e in &self.inner.entries {
            all.extend(e.handler.footprint());
        }
        all
    }

    /// Checks that every table and column the handlers' footprints name exists in the database
    /// behind `conn`, so that a mapping that does not fit fails here, naming what is missing,
    /// instead of half-way through an erasure.
    ///
    /// # Errors
    ///
    /// [`SchemaError::Mismatch`] listing every missing table and column;
    /// [`SchemaError::Database`] when the catalog cannot be read.
    pub async fn check_schema(&self, conn: &mut DB::Connection) -> Result<(), SchemaError> {
        let columns = DB::columns(conn).await.map_err(DatabaseError::from)?;
        let mut footprint = self.footprint();
        for recorder in &self.inner.recorders {
            footprint.extend(recorder.footprint());
        }
        let missing = crate::coverage::missing(&footprint, &columns);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SchemaMismatch { missing }.into())
        }
    }

    /// Every column of the live schema that refers to one of `subject_tables` (the customer and
    /// user tables) or looks personal, and that no handler of this chain covers. Empty means the
    /// chain covers the schema; see [`crate::coverage`].
    ///
    /// # Errors
    ///
    /// The catalog cannot be read.
    pub async fn coverage(
        &self,
        conn: &mut DB::Connection,
        subject_tables: &[&str],
    ) -> Result<Vec<Uncovered>, DatabaseError> {
        let columns = DB::columns(conn).await?;
        let keys = DB::foreign_keys(conn).await?;
        Ok(crate::coverage::uncovered(
            &self.footprint(),
            &columns,
            &keys,
            subject_tables,
        ))
    }

    /// The entries in run order, for the export runner.
    pub(crate) fn entries(&self) -> &[Entry<DB>] {
        &self.inner.entries
    }

    /// The chain's clock.
    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    /// The settings handlers see.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// How the chain retries its own transactions after a lock conflict; callers who retry
    /// their own transaction around [`erase_on`](Self::erase_on) can follow it too.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// The keyed pseudonym under which `subject` appears in this chain's reports and traces.
    pub fn pseudonym(&self, subject: &Subject) -> String {
        self.inner.pseudonymizer.subject(subject)
    }

    /// Erases `erasure`'s subject and commits.
    ///
    /// `db` is anything sqlx can acquire a connection from: `&Pool`, `&mut Connection`, or
    /// `&mut *tx` for a transaction of your own, in which case the erasure runs in a savepoint
    /// and is committed or rolled back with your transaction. On MySQL, begin that transaction
    /// at `READ COMMITTED`, as the chain begins its own
    /// ([`Tx::begin`](crate::transaction::Tx::begin) with
    /// [`Isolation::Write`](crate::transaction::Isolation::Write)): under InnoDB's default
    /// `REPEATABLE READ`, its gap locks make other customers' erasures wait for yours.
    ///
    /// # Errors
    ///
    /// An invalid subject is rejected before anything starts. Any handler error, guard refusal
    /// or panic rolls back everything and returns an [`Error`] naming the handler and position;
    /// a failed commit returns [`Error::Commit`]. Nothing is ever half-erased.
    pub async fn erase<'a, A>(&self, db: A, erasure: &Erasure) -> Result<Report, Error>
    where
        A: Acquire<'a, Database = DB>,
        A::Connection: Lease<DB>,
    {
        self.run(db, erasure, Mode::Erase).await
    }

    /// Runs the whole chain exactly as [`erase`](Self::erase) would, then rolls back. The report
    /// says what would happen; nothing changes.
    ///
    /// # Errors
    ///
    /// As for [`erase`](Self::erase): a dry run that hits a failure or refusal reports it the
    /// same way.
    pub async fn dry_run<'a, A>(&self, db: A, erasure: &Erasure) -> Result<Report, Error>
    where
        A: Acquire<'a, Database = DB>,
        A::Connection: Lease<DB>,
    {
        self.run(db, erasure, Mode::DryRun).await
    }

    /// [`erase`](Self::erase) on a connection: for code generic over the backend, where
    /// `&mut DB::Connection` is not known to implement [`Acquire`]. Pass `&mut *tx` to run
    /// inside your transaction (in a savepoint).
    ///
    /// ```
    /// use erasure_core::{Backend, Chain, Erasure, Error, Report};
    ///
    /// async fn erase_in_tx<DB: Backend>(
    ///     chain: &Chain<DB>,
    ///     tx: &mut sqlx::Transaction<'_, DB>,
    ///     erasure: &Erasure,
    /// ) -> Result<Report, Error> {
    ///     chain.erase_on(&mut *tx, erasure).await
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`erase`](Self::erase).
    pub async fn erase_on(
        &self,
        conn: &mut DB::Connection,
        erasure: &Erasure,
    ) -> Result<Report, Error> {
        self.run_on(conn, erasure, Mode::Erase).await
    }

    /// [`dry_run`](Self::dry_run) on a connection; see [`erase_on`](Self::erase_on).
    ///
    /// # Errors
    ///
    /// As for [`erase`](Self::erase).
    pub async fn dry_run_on(
        &self,
        conn: &mut DB::Connection,
        erasure: &Erasure,
    ) -> Result<Report, Error> {
        self.run_on(conn, erasure, Mode::DryRun).await
    }

    async fn run<'a, A>(&self, db: A, erasure: &Erasure, mode: Mode) -> Result<Report, Error>
    where
        A: Acquire<'a, Database = DB>,
        A::Connection: Lease<DB>,
    {
        // Reject a bad subject before taking a connection from the pool.
        erasure.subject().validate()?;
        let mut conn = db.acquire().await.map_err(|e| Error::Acquire(e.into()))?;
        let result = self.run_on(&mut conn, erasure, mode).await;
        if result
            .as_ref()
            .is_err_and(Error::leaves_connection_unusable)
        {
            // Never back into a pool: its transaction state is unknown.
            conn.discard();
        }
        result
    }

    async fn run_on(
        &self,
        conn: &mut DB::Connection,
        erasure: &Erasure,
        mode: Mode,
    ) -> Result<Report, Error> {
        self.run_in(conn, erasure, mode, Unit::Own).await
    }

    /// [`run_on`](Self::run_on) in `unit`: a transaction (or savepoint) of its own, or the
    /// subject savepoint a batch keeps open (see [`Tx::in_subject_savepoint`]).
    pub(crate) async fn run_in(
        &self,
        conn: &mut DB::Connection,
        erasure: &Erasure,
        mode: Mode,
        unit: Unit,
    ) -> Result<Report, Error> {
        erasure.subject().validate()?;
        let started = Instant::now();
        let run_id = Uuid::new_v4();
        let subject = self.pseudonym(erasure.subject());
        let facts = RunFacts {
            erasure,
            mode,
            run_id,
            subject: &subject,
            started,
        };
        let span = tracing::info_span!(
            "erasure",
            run_id = %run_id,
            mode = %mode,
            reason = %erasure.reason(),
            subject = %subject,
            subject_kind = %erasure.subject().kind(),
            backend = %DB::DIALECT,
        );
        async move {
            // Retry only a transaction of our own: a caller's transaction is theirs to retry.
            let owned = !conn.is_in_transaction();
            let mut retry = self.inner.retry.start();
            let mut joining = self.inner.join_writes;
            loop {
                let (result, joined_failed) = self
                    .attempt(conn, &facts, retry.attempt(), (joining, unit))
                    .await;
                match result {
                    // Statements sent as one failed, and nobody can tell which of them: run the
                    // subject again (its attempt rolled back) one statement at a time, which
                    // names the failure exactly, or succeeds where the joined form could not.
                    Err(e) if joined_failed && !e.leaves_connection_unusable() => {
                        tracing::debug!(
                            error = %e,
                            "statements sent together failed; running them one at a time"
                        );
                        joining = false;
                    }
                    Err(e) if retry.again(owned && is_transient::<DB>(&e)).await => {
                        tracing::warn!(error = %e, "the erasure lost a lock conflict");
                    }
                    Err(e) => return Err(e),
                    Ok((started_at, handlers)) => {
                        let report = facts.report(started_at, handlers, retry.attempt());
                        let totals = report.totals();
                        tracing::info!(
                            deleted = totals.deleted,
                            anonymized = totals.anonymized,
                            deferred = totals.deferred,
                            retained = totals.retained,
                            attempts = retry.attempt(),
                            elapsed_us = report.elapsed_us,
                            "{}",
                            match (mode, owned) {
                                (Mode::Erase, true) => "erasure committed",
                                // Released into the caller's transaction, which may still
                                // roll it back.
                                (Mode::Erase, false) =>
                                    "erasure done; it commits with the enclosing transaction",
                                (Mode::DryRun, _) => "dry run rolled back",
                            }
                        );
                        return Ok(report);
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One attempt: begin, run every handler, commit (or roll back); the clock reading and the
    /// handler reports, and whether writes sent as one statement failed (`joining`: whether
    /// they may be, see [`Joining`]).
    async fn attempt(
        &self,
        conn: &mut DB::Connection,
        facts: &RunFacts<'_>,
        attempt: u32,
        (joining, unit): (bool, Unit),
    ) -> (Result<(DateTime<Utc>, Vec<HandlerReport>), Error>, bool) {
        let RunFacts {
            erasure,
            mode,
            run_id,
            ..
        } = *facts;
        let mut tx = match unit {
            Unit::Own => match Tx::<DB>::begin(conn, Isolation::Write).await {
                Ok(tx) => tx,
                Err(e) => return (Err(Error::Begin(e)), false),
            },
            Unit::SubjectSavepoint => Tx::in_subject_savepoint(conn),
        };
        let now = self.inner.clock.now();
        let run = RunInfo {
            erasure,
            run_id,
            mode,
            now,
            settings: &self.inner.settings,
            pseudonymizer: &self.inner.pseudonymizer,
            wants_identifiers: mode == Mode::Erase
                && self.inner.recorders.iter().any(|r| r.wants_identifiers()),
            join_locks: joining,
        };
        let mut joining = Joining::new(joining);
        let closes = mode == Mode::Erase && self.inner.recorders.is_empty();
        let mut outcome = self.run_handlers(&mut tx, &run, &mut joining, closes).await;
        if mode == Mode::Erase
            && !self.inner.recorders.is_empty()
            && let Ok((handlers, collected)) = &outcome
        {
            let report = facts.report(now, handlers.clone(), attempt);
            let committing = Committing::new(
                &report,
                erasure.subject(),
                &collected.events,
                &collected.identifiers,
                &self.inner.pseudonymizer,
            );
            if let Err(e) = self.record(&mut tx, &committing).await {
                outcome = Err(e);
            }
        }
        let outcome = outcome.map(|(handlers, _)| handlers);
        let settled = match mode {
            Mode::Erase => tx.settle(outcome).await,
            Mode::DryRun => tx.roll_back(outcome).await,
        };
        let result = settled
            .map(|handlers| (now, handlers))
            .map_err(|failure| settle_error(failure, mode));
        (result, joining.failed)
    }

    /// Runs every recorder in the erasure's transaction.
    async fn record(&self, tx: &mut Tx<'_, DB>, committing: &Committing<'_>) -> Result<(), Error> {
        for recorder in &self.inner.recorders {
            let name = recorder.name();
            let span = tracing::info_span!("recorder", recorder = name);
            let cause = match guarded(span, recorder.record(&mut *tx, committing)).await {
                Ok(()) => continue,
                Err(Stopped::Failed(cause)) => cause,
                Err(Stopped::Panicked) => HandlerError::other("the recorder panicked"),
            };
            tracing::warn!(recorder = name, error = %cause, "recorder failed");
            return Err(Error::Record {
                recorder: name.to_owned(),
                cause,
            });
        }
        Ok(())
    }

    /// Runs every handler in two passes, each in position order: first `prepare` (reads,
    /// locks and guards), then `erase` (the writes). A handler's report covers both.
    ///
    /// `closes`: nothing follows the handlers in the unit `tx` (no recorder writes after
    /// them), so the erase pass's last planned statements may settle a batch's subject
    /// savepoint in the same query.
    async fn run_handlers(
        &self,
        tx: &mut Tx<'_, DB>,
        run: &RunInfo<'_>,
        joining: &mut Joining,
        closes: bool,
    ) -> Result<(Vec<HandlerReport>, Collected), Error> {
        let mut reports: Vec<HandlerReport> = self
            .inner
            .entries
            .iter()
            .map(|e| HandlerReport {
                position: e.position,
                name: e.handler.name().to_owned(),
                outcome: Outcome::new(),
                statements: 0,
                elapsed_us: 0,
            })
            .collect();
        let mut collected = Collected::default();
        let entries = &self.inner.entries;
        for phase in [Phase::Prepare, Phase::Erase] {
            // The erase pass of planned handlers is sent in one go with their neighbours'
            // (see `staged`); everything else runs in its place.
            let mut stage = Stage::default();
            for (index, entry) in entries.iter().enumerate() {
                if phase == Phase::Erase
                    && entry.handler.planned()
                    && let Some(policy) = entry.handler.policy()
                {
                    let report = &mut reports[index];
                    stage.plan::<DB>(tx, run, (index, entry), policy, report)?;
                    continue;
                }
                if !stage.is_empty() {
                    stage
                        .flush::<DB>(tx, entries, &mut reports, joining, false)
                        .await?;
                }
                let report = &mut reports[index];
                run_phase::<DB>(tx, run, entry, phase, report, &mut collected).await?;
            }
            if !stage.is_empty() {
                // The erase pass's last statements are the unit's last when no recorder
                // writes after them.
                let last = phase == Phase::Erase && closes;
                stage
                    .flush::<DB>(tx, entries, &mut reports, joining, last)
                    .await?;
            }
        }
        for report in &reports {
            let totals = report.outcome.totals();
            tracing::debug!(
                position = report.position,
                handler = %report.name,
                deleted = totals.deleted,
                anonymized = totals.anonymized,
                deferred = totals.deferred,
                retained = totals.retained,
                statements = report.statements,
                elapsed_us = report.elapsed_us,
                "handler finished"
            );
        }
        Ok((reports, collected))
    }
}

/// The two passes over the handlers of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// [`DeletionHandler::prepare`]: reads, locks, guards.
    Prepare,
    /// [`DeletionHandler::erase`]: the writes.
    Erase,
}

/// Runs one handler's `phase` (through [`runner::step`], as every pass runs a handler), adding
/// what it did to its `report` and what it handed over to `collected`.
async fn run_phase<DB: Backend>(
    conn: &mut DB::Connection,
    run: &RunInfo<'_>,
    entry: &Entry<DB>,
    phase: Phase,
    report: &mut HandlerReport,
    collected: &mut Collected,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut cx = ErasureContext::<DB>::new(conn, run);
    let result = match phase {
        Phase::Prepare => {
            let prepare = async {
                entry
                    .handler
                    .prepare(&mut cx)
                    .await
                    .map(|()| Outcome::new())
            };
            runner::step(entry, prepare).await
        }
        Phase::Erase => runner::step(entry, entry.handler.erase(&mut cx)).await,
    };
    report.statements += cx.statements();
    let (events, identifiers) = cx.take_collected();
    let recorded = cx.take_outcome();
    report.elapsed_us += micros(started);
    let returned = result?;
    // What the verbs recorded, then what the handler returned on its own.
    report.outcome.merge(recorded);
    report.outcome.merge(returned);
    collected
        .events
        .extend(events.into_iter().map(|(destination, data)| Emitted {
            position: entry.position,
            handler: entry.handler.name().to_owned(),
            destination,
            data,
        }));
    collected.identifiers.extend(identifiers);
    Ok(())
}

/// The unit of work a subject's erasure runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// A transaction of its own, or a savepoint when the connection is inside a transaction.
    Own,
    /// The savepoint a batch keeps open between its subjects (see [`Tx::in_subject_savepoint`]).
    SubjectSavepoint,
}

/// What the handlers of one run handed over for the recorders.
#[derive(Debug, Default)]
struct Collected {
    events: Vec<Emitted>,
    identifiers: Vec<Identifier>,
}

/// The error of an attempt whose transaction did not end as the run wanted.
pub(crate) fn settle_error(failure: Failure<Error>, mode: Mode) -> Error {
    let e = match failure {
        Failure::Work(cause) => {
            tracing::warn!(error = %cause, "erasure rolled back");
            return cause;
        }
        Failure::Commit(db) => Error::Commit(db),
        Failure::InDoubt {
            work: Some(cause),
            error,
        } => Error::Rollback {
            cause: Box::new(cause),
            rollback: error,
        },
        Failure::InDoubt { work: None, error } => match mode {
            Mode::Erase => Error::InDoubt(error),
            Mode::DryRun => Error::DryRunRollback(error),
        },
    };
    tracing::error!(error = %e, "the erasure's transaction did not end cleanly");
    e
}

/// Whether `e` is a lock conflict the whole transaction may be retried for.
/// Not when the rollback failed too: then the connection is in doubt and the error goes back.
pub(crate) fn is_transient<DB: Backend>(e: &Error) -> bool {
    !e.leaves_connection_unusable() && e.is_lock_conflict::<DB>()
}

/// Microseconds since `since`, saturating.
pub(crate) fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

impl<DB: Backend> fmt::Debug for Chain<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("backend", &DB::DIALECT)
            .field(
                "handlers",
                &self
                    .handlers()
                    .map(|(p, h)| (p, h.name().to_owned()))
                    .collect::<Vec<_>>(),
            )
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

/// One handler as [`Chain::describe`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlerInfo {
    /// Its position.
    pub position: u32,
    /// Its name.
    pub name: String,
    /// Its one-line description.
    pub description: String,
    /// What it touches.
    pub footprint: Footprint,
}

/// What a chain will run, in order: the live inspection of a chain.
///
/// `Display` renders a table (position, name, description); it serializes for machines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    /// The handlers in run order.
    pub handlers: Vec<HandlerInfo>,
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .handlers
            .iter()
            .map(|h| h.name.len())
            .max()
            .unwrap_or(0)
            .max("handler".len());
        writeln!(f, "{:>8}  {:<width$}  description", "position", "handler")?;
        for h in &self.handlers {
            writeln!(
                f,
                "{:>8}  {:<width$}  {}",
                h.position, h.name, h.description
            )?;
        }
        Ok(())
    }
}
