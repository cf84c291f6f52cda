//! The [`Dispatcher`]: claims due events in one transaction, delivers them to their
//! [`EventSink`]s with no transaction open, and marks them delivered, pending again or dead in
//! another (both through [`erasure_core::transaction`]).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use erasure_core::clock::{Clock, SystemClock};
use erasure_core::sql::{Cmp, Condition, Select, Update};
use erasure_core::transaction::{Isolation, Tx};
use erasure_core::{Backend, Value, async_trait};
use serde::Serialize;
use sqlx::Pool;
use uuid::Uuid;

use super::columns::{self as col, table};
use super::{EventState, OutboxEvent};
use crate::EvidenceError;

/// The error a sink returns. Its message is stored: it must not carry personal data.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// A downstream system that erasure events are delivered to: your newsletter service's API
/// client, a message queue producer, a search index.
///
/// ```
/// use erasure_evidence::{EventSink, OutboxEvent, SinkError};
///
/// struct SearchIndex;
///
/// #[erasure_core::async_trait]
/// impl EventSink for SearchIndex {
///     async fn deliver(&self, event: &OutboxEvent) -> Result<(), SinkError> {
///         // e.g. DELETE /customers/{id} on the index, idempotent on event.id
///         let _ = (&event.subject, &event.data);
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Delivers `event`. An error schedules another attempt.
    ///
    /// # Errors
    ///
    /// Whatever stopped the delivery; the message is stored, and must not carry personal data.
    async fn deliver(&self, event: &OutboxEvent) -> Result<(), SinkError>;
}

/// What one [`Dispatcher::dispatch_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Dispatched {
    /// Events delivered and marked.
    pub delivered: u64,
    /// Events whose attempt failed and that will be tried again.
    pub retrying: u64,
    /// Events whose last allowed attempt failed.
    pub dead: u64,
}

impl Dispatched {
    /// Events attempted.
    pub fn attempted(&self) -> u64 {
        self.delivered + self.retrying + self.dead
    }

    fn add(&mut self, other: Dispatched) {
        self.delivered += other.delivered;
        self.retrying += other.retrying;
        self.dead += other.dead;
    }
}

/// Delivers outbox events to sinks. See the module docs.
///
/// ```no_run
/// use std::time::Duration;
/// use erasure_evidence::{Dispatcher, EventSink, OutboxEvent, SinkError};
///
/// struct Newsletter;
/// #[erasure_core::async_trait]
/// impl EventSink for Newsletter {
///     async fn deliver(&self, _: &OutboxEvent) -> Result<(), SinkError> { Ok(()) }
/// }
///
/// # async fn run(pool: sqlx::SqlitePool) -> Result<(), erasure_evidence::EvidenceError> {
/// let dispatcher = Dispatcher::<sqlx::Sqlite>::new()
///     .sink("newsletter", Newsletter)
///     .max_attempts(8)
///     .backoff(Duration::from_secs(30), Duration::from_secs(3600));
/// // In a background task, until shutdown:
/// dispatcher.run(&pool, Duration::from_secs(5), tokio::signal::ctrl_c()).await?;
/// # Ok(()) }
/// ```
pub struct Dispatcher<DB: Backend> {
    sinks: BTreeMap<String, Arc<dyn EventSink>>,
    clock: Arc<dyn Clock>,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    lease: Duration,
    batch: u64,
    _db: PhantomData<fn() -> DB>,
}

impl<DB: Backend> fmt::Debug for Dispatcher<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("destinations", &self.sinks.keys().collect::<Vec<_>>())
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("lease", &self.lease)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl<DB: Backend> Default for Dispatcher<DB> {
    fn default() -> Self {
        Self::new()
    }
}

impl<DB: Backend> Dispatcher<DB> {
    /// A dispatcher with no sinks, the system clock, 10 attempts, backoff from 30 s doubling up
    /// to 1 h, leases of 5 minutes and batches of 100.
    pub fn new() -> Self {
        Self {
            sinks: BTreeMap::new(),
            clock: Arc::new(SystemClock),
            max_attempts: 10,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            lease: Duration::from_secs(300),
            batch: 100,
            _db: PhantomData,
        }
    }

    /// Delivers events for `destination` to `sink`. Events for destinations without a sink
    /// stay pending.
    pub fn sink(mut self, destination: impl Into<String>, sink: impl EventSink + 'static) -> Self {
        self.sinks.insert(destination.into(), Arc::new(sink));
        self
    }

    /// With `clock` (tests use a [`ManualClock`](erasure_core::clock::ManualClock)).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// After this many failed attempts an event is dead (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The delay after the first failure, doubling with each further failure up to `max`.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max.max(base);
        self
    }

    /// How long a claimed event is reserved for this dispatcher; a sink call is cut off after
    /// it, so that no other dispatcher delivers it concurrently.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(1));
        self
    }

    /// How many events one [`dispatch_once`](Self::dispatch_once) claims at most.
    pub fn batch(mut self, batch: u64) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The delay before attempt `failures + 1`, after `failures` failed attempts.
    pub fn delay_after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.backoff_base
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_max)
    }

    fn after(now: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
        chrono::Duration::from_std(delay)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(now)
    }

    /// Claims the due events, delivers them and marks them. Returns what it did.
    ///
    /// # Errors
    ///
    /// A statement fails. Sink failures are not errors: they are recorded on the events.
    pub async fn dispatch_once(&self, pool: &Pool<DB>) -> Result<Dispatched, EvidenceError> {
        if self.sinks.is_empty() {
            return Ok(Dispatched::default());
        }
        let now = self.clock.now();
        let claim = Uuid::new_v4().to_string();
        let events = self.claim(pool, now, &claim).await?;
        if events.is_empty() {
            return Ok(Dispatched::default());
        }
        // Deliver with no transaction open.
        let delivery = self.deliver_all(&events).await;
        let done = self.clock.now();
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
        // One transaction for every statement of the mark: a failure part-way (a statement
        // refused, the connection lost) leaves every event of the claim as the claim left it,
        // to be taken again after its lease, never some of them marked and others not.
        let marked = self.mark(&mut tx, &claim, &delivery, done).await;
        let result = tx
            .settle(marked)
            .await
            .map_err(|f| f.discard_if_in_doubt(&mut conn))?;
        tracing::info!(
            delivered = result.delivered,
            retrying = result.retrying,
            dead = result.dead,
            "outbox dispatched"
        );
        Ok(result)
    }

    /// Calls the sink of each event in turn, and groups the events by how their attempt ended.
    async fn deliver_all(&self, events: &[OutboxEvent]) -> Delivery {
        let mut delivery = Delivery::default();
        for event in events {
            let Some(sink) = self.sinks.get(&event.destination) else {
                continue;
            };
            match self.deliver(sink.as_ref(), event).await {
                Ok(()) => delivery
                    .delivered
                    .entry(event.attempt)
                    .or_default()
                    .push(event.id),
                Err(message) => delivery
                    .failed
                    .entry((event.attempt, message))
                    .or_default()
                    .push(event.id),
            }
        }
        delivery
    }

    /// Marks the events of `claim` as their attempts ended at `done`: delivered (payload
    /// cleared), pending again after their backoff, or dead. Runs inside the caller's
    /// transaction: its statements commit together or not at all.
    async fn mark(
        &self,
        conn: &mut DB::Connection,
        claim: &str,
        delivery: &Delivery,
        done: DateTime<Utc>,
    ) -> Result<Dispatched, EvidenceError> {
        let mut result = Dispatched::default();
        // One statement per group of events with the same new values: usually one for the
        // delivered, one for the failed.
        for (attempts, ids) in &delivery.delivered {
            let n = DB::execute(
                &mut *conn,
                &Update::new(table(), claimed(ids, claim))
                    .set(col::state(), EventState::Delivered.as_str())
                    .set(col::attempts(), i64::from(*attempts))
                    .set(col::delivered_at(), done)
                    .set(col::payload(), Value::Null)
                    .set(col::claim(), Value::Null)
                    .set(col::locked_until(), Value::Null)
                    .to_sql(),
            )
            .await?;
            result.delivered += n;
        }
        for ((attempts, message), ids) in &delivery.failed {
            let dead = *attempts >= self.max_attempts;
            let state = if dead {
                EventState::Dead
            } else {
                EventState::Pending
            };
            let n = DB::execute(
                &mut *conn,
                &Update::new(table(), claimed(ids, claim))
                    .set(col::state(), state.as_str())
                    .set(col::attempts(), i64::from(*attempts))
                    .set(
                        col::next_attempt_at(),
                        Self::after(done, self.delay_after(*attempts)),
                    )
                    .set(col::last_error(), message.as_str())
                    .set(col::claim(), Value::Null)
                    .set(col::locked_until(), Value::Null)
                    .to_sql(),
            )
            .await?;
            if dead {
                result.dead += n;
            } else {
                result.retrying += n;
            }
        }
        Ok(result)
    }

    async fn deliver(&self, sink: &dyn EventSink, event: &OutboxEvent) -> Result<(), String> {
        use futures_util::FutureExt as _;
        use std::panic::AssertUnwindSafe;
        use tracing::Instrument as _;
        let span = tracing::info_span!(
            "deliver",
            event = %event.id,
            destination = %event.destination,
            attempt = event.attempt
        );
        let call = AssertUnwindSafe(sink.deliver(event)).catch_unwind();
        let outcome = tokio::time::timeout(self.lease, call)
            .instrument(span)
            .await;
        let failure = match outcome {
            Ok(Ok(Ok(()))) => return Ok(()),
            // The message is the integrator's (or the downstream system's): it is stored masked
            // and cut short, and never logged.
            Ok(Ok(Err(e))) => erasure_core::redact::mask(&e.to_string())
                .chars()
                .take(500)
                .collect(),
            Ok(Err(_panic)) => "the sink panicked".to_owned(),
            Err(_elapsed) => format!(
                "the sink did not answer within the lease ({} ms)",
                self.lease.as_millis()
            ),
        };
        tracing::warn!(
            event = %event.id,
            destination = %event.destination,
            attempt = event.attempt,
            "delivery failed"
        );
        Err(failure)
    }

    async fn claim(
        &self,
        pool: &Pool<DB>,
        now: DateTime<Utc>,
        claim: &str,
    ) -> Result<Vec<OutboxEvent>, EvidenceError> {
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
        // The claim's locks (`SKIP LOCKED` hides the rows from other dispatchers) end with an
        // explicit commit or rollback, never with a rollback queued on drop.
        let claimed = self.claim_in(&mut tx, now, claim).await;
        tx.settle(claimed)
            .await
            .map_err(|f| f.discard_if_in_doubt(&mut conn))
    }

    async fn claim_in(
        &self,
        tx: &mut DB::Connection,
        now: DateTime<Utc>,
        claim: &str,
    ) -> Result<Vec<OutboxEvent>, EvidenceError> {
        let due = Condition::eq(col::state(), EventState::Pending.as_str())
            .and(Condition::compare(col::next_attempt_at(), Cmp::Le, now))
            .and(
                Condition::is_null(col::locked_until()).or(Condition::compare(
                    col::locked_until(),
                    Cmp::Le,
                    now,
                )),
            )
            .and(Condition::is_in(
                col::destination(),
                self.sinks.keys().map(|d| Value::from(d.as_str())).collect(),
            ));
        let rows = DB::fetch_all(
            &mut *tx,
            &Select::columns(table(), [])
                .filter(due)
                .order_by([col::next_attempt_at(), col::id()])
                .limit(self.batch)
                .for_update_skip_locked()
                .to_sql(),
        )
        .await?;
        let events = rows
            .iter()
            .map(OutboxEvent::from_pending_row)
            .collect::<Result<Vec<_>, _>>()?;
        if !events.is_empty() {
            let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
            DB::execute(
                &mut *tx,
                &Update::new(
                    table(),
                    Condition::is_in(
                        col::id(),
                        ids.iter().map(|i| i.to_string().into()).collect(),
                    ),
                )
                .set(col::claim(), claim)
                .set(col::locked_until(), Self::after(now, self.lease))
                .to_sql(),
            )
            .await?;
        }
        Ok(events)
    }

    /// Dispatches until `shutdown` completes: whenever a round found nothing to do, waits
    /// `poll` before the next. Returns what it did in all. A database error ends the loop.
    ///
    /// # Errors
    ///
    /// A statement fails.
    pub async fn run(
        &self,
        pool: &Pool<DB>,
        poll: Duration,
        shutdown: impl std::future::Future,
    ) -> Result<Dispatched, EvidenceError> {
        let mut total = Dispatched::default();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let round = tokio::select! {
                _ = &mut shutdown => return Ok(total),
                round = self.dispatch_once(pool) => round?,
            };
            total.add(round);
            if round.attempted() == 0 {
                tokio::select! {
                    _ = &mut shutdown => return Ok(total),
                    () = tokio::time::sleep(poll) => {}
                }
            }
        }
    }
}

/// How the attempts of one round ended: event ids grouped by the values their rows get.
#[derive(Default)]
struct Delivery {
    /// By the attempt that delivered them.
    delivered: BTreeMap<u32, Vec<Uuid>>,
    /// By the attempt that failed, with its message (masked and cut short).
    failed: BTreeMap<(u32, String), Vec<Uuid>>,
}

/// The events of `ids` still claimed by `claim` (a dispatcher whose lease ran out marks
/// nothing another dispatcher claimed since).
fn claimed(ids: &[Uuid], claim: &str) -> Condition {
    Condition::is_in(
        col::id(),
        ids.iter().map(|i| Value::from(i.to_string())).collect(),
    )
    .and(Condition::eq(col::claim(), claim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let d = Dispatcher::<sqlx::Sqlite>::new()
            .backoff(Duration::from_secs(30), Duration::from_secs(100));
        let delays: Vec<u64> = (1..=5).map(|n| d.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 100, 100, 100]);
        assert_eq!(d.delay_after(u32::MAX).as_secs(), 100);
    }
}
