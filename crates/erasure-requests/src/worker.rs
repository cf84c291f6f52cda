//! The worker: claims confirmed erasure requests one at a time and carries them out.

use std::fmt;

use erasure_core::sql::{Cmp, Condition, Select};
use erasure_core::{Backend, Chain, Erasure, Value, ident};
use sqlx::Pool;

use crate::error::RequestError;
use crate::request::Request;
use crate::state::{RequestKind, State};
use crate::store::{Requests, settle, table};

/// Carries out confirmed erasure requests.
///
/// [`process_next`](Worker::process_next) claims the oldest confirmed erasure request whose
/// erasure delay is over, runs the chain for its subject and records the outcome, all in one
/// transaction: the claim (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL and MySQL 8 /
/// MariaDB 10.6+; SQLite's single writer elsewhere), the erasure (in a savepoint) and the new
/// state commit together or not at all. Workers on many machines therefore never process the
/// same request twice, and a worker that dies mid-way leaves its request confirmed for the next.
///
/// Export requests are not processed here.
pub struct Worker<DB: Backend> {
    requests: Requests<DB>,
    chain: Chain<DB>,
}

impl<DB: Backend> fmt::Debug for Worker<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

impl<DB: Backend> Worker<DB> {
    /// A worker running `chain` for the requests in `requests`.
    pub fn new(requests: Requests<DB>, chain: Chain<DB>) -> Self {
        Self { requests, chain }
    }

    /// Processes the next waiting request, if any, and returns it in its final state
    /// (`completed` or `failed`).
    ///
    /// # Errors
    ///
    /// A database failure outside the erasure (the request then stays confirmed).
    pub async fn process_next(&self, pool: &Pool<DB>) -> Result<Option<Request>, RequestError> {
        let now = self.requests.now();
        let mut conn = pool.acquire().await?;
        let mut tx = DB::begin(&mut conn).await?;
        let result = async {
            let waiting = Condition::eq(ident!("kind"), RequestKind::Erasure.as_str())
                .and(Condition::eq(ident!("state"), State::Confirmed.as_str()))
                .and(
                    Condition::is_null(ident!("not_before")).or(Condition::compare(
                        ident!("not_before"),
                        Cmp::Le,
                        now,
                    )),
                );
            let rows = DB::fetch_all(
                &mut tx,
                &Select::columns(table(), [])
                    .filter(waiting)
                    .order_by([ident!("received_at"), ident!("id")])
                    .limit(1)
                    .for_update_skip_locked()
                    .to_sql(),
            )
            .await?;
            let Some(row) = rows.first() else {
                return Ok(None);
            };
            let request = Request::from_row(row).map_err(RequestError::Corrupt)?;
            let attempts = i64::from(request.attempts) + 1;
            let processing = self
                .requests
                .move_to(
                    &mut tx,
                    &request,
                    State::Processing,
                    now,
                    vec![(ident!("attempts"), attempts.into())],
                )
                .await?;
            let erased = match &processing.subject {
                Some(subject) => {
                    let erasure = Erasure::new(subject.clone())
                        .with_operator(format!("request {}", processing.id));
                    // A failure rolls back to the chain's savepoint; the claim stays.
                    self.chain
                        .erase_on(&mut tx, &erasure)
                        .await
                        .map_err(|e| e.to_string())
                }
                None => Err("the request has no subject".to_owned()),
            };
            let (done, for_notifier) = match erased {
                Ok(report) => {
                    let outcome = format!("run {}: {}", report.run_id, report.totals());
                    let done = self
                        .requests
                        .move_to(
                            &mut tx,
                            &processing,
                            State::Completed,
                            now,
                            vec![
                                (ident!("outcome"), outcome.into()),
                                // The data is gone; so goes the request's copy of who it was.
                                (ident!("subject"), Value::Null),
                                (ident!("contact_email"), Value::Null),
                            ],
                        )
                        .await?;
                    // The notifier may still want to tell the requester: give it the contact.
                    let mut told = done.clone();
                    told.contact_email = processing.contact_email.clone();
                    (done, told)
                }
                Err(message) => {
                    let done = self
                        .requests
                        .move_to(
                            &mut tx,
                            &processing,
                            State::Failed,
                            now,
                            vec![(ident!("outcome"), message.into())],
                        )
                        .await?;
                    (done.clone(), done)
                }
            };
            Ok(Some((processing, done, for_notifier)))
        }
        .await;
        let Some((processing, done, for_notifier)) = settle(tx, result).await? else {
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

    /// Processes waiting requests until none is left (or `max` are done); returns them.
    ///
    /// # Errors
    ///
    /// As for [`process_next`](Self::process_next); requests done before stay done.
    pub async fn drain(
        &self,
        pool: &Pool<DB>,
        max: Option<usize>,
    ) -> Result<Vec<Request>, RequestError> {
        let mut done = Vec::new();
        while max.is_none_or(|m| done.len() < m) {
            match self.process_next(pool).await? {
                Some(r) => done.push(r),
                None => break,
            }
        }
        Ok(done)
    }
}
