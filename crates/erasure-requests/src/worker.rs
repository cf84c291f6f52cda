//! The worker: claims confirmed erasure requests, one or a batch per transaction, and carries
//! them out.

use std::fmt;
use std::time::Duration;

use erasure_core::sql::{Cmp, Condition, Select};
use erasure_core::{Backend, BatchOptions, Chain, Erasure, Pace, Value};
use sqlx::Pool;

use crate::columns::{self as col, table};
use crate::error::RequestError;
use crate::export::ExportTarget;
use crate::request::Request;
use crate::state::{RequestKind, State};
use crate::store::Requests;
use erasure_core::transaction::{Failure as TxFailure, Isolation, Lease as _, Tx};

/// Carries out confirmed erasure requests.
///
/// [`process_next`](Worker::process_next) claims the oldest confirmed erasure request whose
/// erasure delay is over, runs the chain for its subject and records the outcome, all in one
/// transaction: the claim (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL and MySQL 8 /
/// MariaDB 10.6+; SQLite's single writer elsewhere), the erasure (in a savepoint) and the new
/// state commit together or not at all. Workers on many machines therefore never process the
/// same request twice, and a worker that dies mid-way leaves its request confirmed for the next.
///
/// Export requests are carried out by [`process_next_export`](Worker::process_next_export).
pub struct Worker<DB: Backend> {
    requests: Requests<DB>,
    chain: Chain<DB>,
    batch_time: Duration,
}

/// A claimed request as it was claimed, as stored at the end, and as the notifier sees it.
type Claimed = (Request, Request, Request);

/// Why one attempt ended without an outcome.
enum Failure {
    /// The request store failed.
    Request(RequestError),
    /// The erasure could not run to an outcome (lock conflict, or the transaction is in doubt).
    Erasure(erasure_core::Error),
}

impl<E: Into<RequestError>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Request(e.into())
    }
}

impl Failure {
    fn into_error(self) -> RequestError {
        match self {
            Failure::Request(e) => e,
            Failure::Erasure(e) => RequestError::Erasure(e),
        }
    }
}

impl<DB: Backend> fmt::Debug for Worker<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

impl<DB: Backend> Worker<DB> {
    /// A worker running `chain` for the requests in `requests`, whose batches claim no further
    /// request once their time ([`BatchOptions::default`]'s, 35 ms) is up.
    pub fn new(requests: Requests<DB>, chain: Chain<DB>) -> Self {
        Self {
            requests,
            chain,
            batch_time: BatchOptions::default().max_time(),
        }
    }

    /// Sets the time a batch of [`process_batch`](Self::process_batch) may run: it claims no
    /// further request when one more, as slow as the slowest of the batch so far, would end
    /// past it, so that a live shop's writers never wait long for the batch's locks (on SQLite,
    /// the whole database's). A batch always takes its first request, however slow.
    #[must_use]
    pub fn batch_time(mut self, time: Duration) -> Self {
        self.batch_time = time;
        self
    }

    /// Processes the next waiting request, if any, and returns it in its final state
    /// (`completed` or `failed`).
    ///
    /// An erasure that loses a lock conflict is retried in a new transaction, as the chain's
    /// [`RetryPolicy`](erasure_core::RetryPolicy) says: the claim was rolled back with it, so
    /// the retry may claim another request first. A connection whose transaction is in doubt
    /// after a failure (see [`Error::leaves_connection_unusable`](erasure_core::Error::leaves_connection_unusable))
    /// is closed, not returned to the pool.
    ///
    /// # Errors
    ///
    /// A database failure outside the erasure, or an erasure that could not run to an outcome
    /// (lock conflicts after the last retry, a lost connection): the request then stays
    /// confirmed, and nothing of the attempt was committed.
    pub async fn process_next(&self, pool: &Pool<DB>) -> Result<Option<Request>, RequestError> {
        Ok(self.process_batch(pool, 1).await?.into_iter().next())
    }

    /// Processes up to `max` waiting requests (at least one) in one transaction, oldest first,
    /// and returns them in their final states: one commit for all of them, each erasure in a
    /// savepoint of its own. Requests are claimed one at a time, and the batch closes early
    /// when its time is up (see [`batch_time`](Self::batch_time)): the others wait for the
    /// next batch. A request whose erasure fails is recorded as failed alone; one
    /// whose failure ends the transaction (a lock conflict on MySQL, a lost connection) rolls
    /// back the whole batch, claims included, which is retried in a new transaction as the
    /// chain's [`RetryPolicy`](erasure_core::RetryPolicy) says.
    ///
    /// # Errors
    ///
    /// As for [`process_next`](Self::process_next): the requests of the batch then stay
    /// confirmed, and nothing of it was committed.
    pub async fn process_batch(
        &self,
        pool: &Pool<DB>,
        max: usize,
    ) -> Result<Vec<Request>, RequestError> {
        let done = self
            .chain
            .retry_policy()
            .run(
                |_| self.attempt(pool, max.max(1)),
                |f: &Failure| matches!(f, Failure::Erasure(e) if e.is_lock_conflict::<DB>()),
            )
            .await
            .map_err(Failure::into_error)?;
        let mut out = Vec::with_capacity(done.len());
        for (processing, done, for_notifier) in done {
            self.requests
                .notify(&processing, Some(State::Confirmed), None)
                .await;
            self.requests
                .notify(&for_notifier, Some(State::Processing), None)
                .await;
            out.push(done);
        }
        Ok(out)
    }

    /// One attempt in one transaction on a connection of its own: claim up to `max`, erase
    /// each, record each. A connection left in doubt is closed, not returned to the pool.
    async fn attempt(&self, pool: &Pool<DB>, max: usize) -> Result<Vec<Claimed>, Failure> {
        let now = self.requests.now();
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
        let result: Result<_, Failure> = async {
            let waiting = Condition::eq(col::kind(), RequestKind::Erasure.as_str())
                .and(Condition::eq(col::state(), State::Confirmed.as_str()))
                .and(Condition::is_null(col::not_before()).or(Condition::compare(
                    col::not_before(),
                    Cmp::Le,
                    now,
                )));
            let mut done = Vec::new();
            let mut pace = Pace::start(self.batch_time);
            while done.len() < max && (done.is_empty() || !pace.is_spent(Duration::ZERO)) {
                let Some(processing) = self.claim(&mut tx, waiting.clone(), now, 1).await?.pop()
                else {
                    break;
                };
                let (stored, for_notifier) = pace
                    .time(async {
                        let outcome = self.erase(&mut tx, &processing).await?;
                        Ok::<_, Failure>(self.finish(&mut tx, &processing, outcome, now).await?)
                    })
                    .await?;
                done.push((processing, stored, for_notifier));
            }
            Ok(done)
        }
        .await;
        tx.settle(result).await.map_err(|failure| {
            if failure.is_in_doubt() {
                conn.discard();
            }
            match failure {
                TxFailure::Work(f) | TxFailure::InDoubt { work: Some(f), .. } => f,
                TxFailure::Commit(db)
                | TxFailure::InDoubt {
                    work: None,
                    error: db,
                } => Failure::Request(RequestError::Database(db)),
            }
        })
    }

    /// Erases a claimed request's subject in a savepoint; its outcome, or why it failed. A
    /// failure rolls back to the chain's savepoint; the claim stays, and the request is recorded
    /// as failed. Unless the whole transaction is lost (a lock conflict ends it on MySQL) or in
    /// doubt: then nothing is recorded, and the attempt ends.
    async fn erase(
        &self,
        tx: &mut DB::Connection,
        processing: &Request,
    ) -> Result<Result<String, String>, Failure> {
        let Some(subject) = &processing.subject else {
            return Ok(Err("the request has no subject".to_owned()));
        };
        let erasure =
            Erasure::new(subject.clone()).with_operator(format!("request {}", processing.id));
        match self.chain.erase_on(tx, &erasure).await {
            Ok(report) => Ok(Ok(format!("run {}: {}", report.run_id, report.totals()))),
            Err(e) if e.is_lock_conflict::<DB>() || e.leaves_connection_unusable() => {
                Err(Failure::Erasure(e))
            }
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    /// Claims the oldest requests `waiting` selects, up to `max` (skipping those other workers
    /// hold), and moves each to processing, counting the attempt.
    async fn claim(
        &self,
        tx: &mut DB::Connection,
        waiting: Condition,
        now: chrono::DateTime<chrono::Utc>,
        max: usize,
    ) -> Result<Vec<Request>, RequestError> {
        let rows = DB::fetch_all(
            tx,
            &Select::columns(table(), [])
                .filter(waiting)
                .order_by([col::received_at(), col::id()])
                .limit(u64::try_from(max).unwrap_or(u64::MAX))
                .for_update_skip_locked()
                .to_sql(),
        )
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let request = Request::from_row(row).map_err(RequestError::Corrupt)?;
            let attempts = i64::from(request.attempts) + 1;
            let processing = self
                .requests
                .move_to(
                    tx,
                    &request,
                    State::Processing,
                    now,
                    vec![(col::attempts(), attempts.into())],
                )
                .await?;
            claimed.push(processing);
        }
        Ok(claimed)
    }

    /// Records how a claimed request ended: completed with `outcome` (the request forgets who
    /// it was about), or failed with the reason. Returns the request as stored and as the
    /// notifier sees it (with the contact, to tell the requester).
    async fn finish(
        &self,
        tx: &mut DB::Connection,
        processing: &Request,
        outcome: Result<String, String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Request, Request), RequestError> {
        match outcome {
            Ok(outcome) => {
                let done = self
                    .requests
                    .move_to(
                        tx,
                        processing,
                        State::Completed,
                        now,
                        vec![
                            (col::outcome(), outcome.into()),
                            // The work is done; so goes the request's copy of who it was.
                            (col::subject(), Value::Null),
                            (col::contact_email(), Value::Null),
                        ],
                    )
                    .await?;
                let mut told = done.clone();
                told.contact_email = processing.contact_email.clone();
                Ok((done, told))
            }
            Err(message) => {
                tracing::warn!(request = %processing.id, kind = %processing.kind, "request failed");
                let done = self
                    .requests
                    .move_to(
                        tx,
                        processing,
                        State::Failed,
                        now,
                        vec![(col::outcome(), message.into())],
                    )
                    .await?;
                Ok((done.clone(), done))
            }
        }
    }

    /// Processes waiting requests until none is left (or `max` are done), `batch` per
    /// transaction (see [`process_batch`](Self::process_batch); 1: one transaction each);
    /// returns them.
    ///
    /// # Errors
    ///
    /// As for [`process_batch`](Self::process_batch); requests done before stay done.
    pub async fn drain(
        &self,
        pool: &Pool<DB>,
        max: Option<usize>,
        batch: usize,
    ) -> Result<Vec<Request>, RequestError> {
        let mut done = Vec::new();
        loop {
            let room = max.map_or(usize::MAX, |m| m.saturating_sub(done.len()));
            if room == 0 {
                break;
            }
            let processed = self.process_batch(pool, batch.clamp(1, room)).await?;
            if processed.is_empty() {
                break;
            }
            done.extend(processed);
        }
        Ok(done)
    }

    /// Carries out the oldest confirmed export request, if any: exports its subject with the
    /// chain into `target` and returns the request in its final state (`completed`, with the
    /// document's counts as outcome, or `failed`, with the reason).
    ///
    /// Claim, export and the new state share one transaction that reads one snapshot
    /// ([`Isolation::Consistent`](erasure_core::transaction::Isolation::Consistent)): the claim
    /// (`FOR UPDATE SKIP LOCKED` where supported), the export (in a savepoint, always rolled
    /// back) and the mark commit together, so no two workers export the same request and a
    /// worker that dies leaves it confirmed. A completed request forgets its subject and
    /// contact, like an erasure request; the notifier still gets the contact, to tell the
    /// requester where the document is.
    ///
    /// A transaction that loses a lock conflict (on PostgreSQL a concurrent change of the
    /// request is a serialization failure) is retried in a new one, as the chain's
    /// [`RetryPolicy`](erasure_core::RetryPolicy) says; the document is then written again.
    ///
    /// # Errors
    ///
    /// A database failure outside the export (the request then stays confirmed). Failures of
    /// the export or of the target are recorded on the request instead.
    pub async fn process_next_export(
        &self,
        pool: &Pool<DB>,
        target: &dyn ExportTarget,
    ) -> Result<Option<Request>, RequestError> {
        let done = self
            .chain
            .retry_policy()
            .run(
                |_| self.attempt_export(pool, target),
                |e: &RequestError| {
                    matches!(e, RequestError::Database(db) if DB::is_transient(db.as_sqlx()))
                },
            )
            .await?;
        let Some((processing, done, for_notifier)) = done else {
            return Ok(None);
        };
        self.requests
            .notify(&processing, Some(State::Confirmed), None)
            .await;
        self.requests
            .notify(&for_notifier, Some(State::Processing), None)
            .await;
        Ok(Some(done))
    }

    /// One attempt of [`process_next_export`](Self::process_next_export).
    async fn attempt_export(
        &self,
        pool: &Pool<DB>,
        target: &dyn ExportTarget,
    ) -> Result<Option<(Request, Request, Request)>, RequestError> {
        let now = self.requests.now();
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Consistent).await?;
        let result: Result<_, RequestError> = async {
            let waiting = Condition::eq(col::kind(), RequestKind::Export.as_str())
                .and(Condition::eq(col::state(), State::Confirmed.as_str()));
            let Some(processing) = self
                .claim(&mut tx, waiting, now, 1)
                .await?
                .into_iter()
                .next()
            else {
                return Ok(None);
            };
            let exported = match processing.subject() {
                Some(subject) => match target.open(&processing).await {
                    Ok(writer) => match self.chain.export_on(&mut tx, subject, writer).await {
                        Ok(summary) => match target.publish(&processing, &summary).await {
                            Ok(()) => Ok(summary),
                            Err(e) => Err(format!("the document could not be published: {e}")),
                        },
                        Err(e) => {
                            let discarded = match target.discard(&processing).await {
                                Ok(()) => String::new(),
                                Err(d) => format!(" (and it could not be discarded: {d})"),
                            };
                            Err(format!("{e}{discarded}"))
                        }
                    },
                    Err(e) => Err(format!("the document could not be opened: {e}")),
                },
                None => Err("the request has no subject".to_owned()),
            };
            let outcome = exported.map(|summary| summary.to_string());
            let (done, for_notifier) = self.finish(&mut tx, &processing, outcome, now).await?;
            Ok(Some((processing, done, for_notifier)))
        }
        .await;
        tx.settle(result)
            .await
            .map_err(|f| f.discard_if_in_doubt(&mut conn))
    }
}
