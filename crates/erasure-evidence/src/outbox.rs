//! The outbox: erasure events for downstream systems, written in the erasure's transaction and
//! delivered at least once.
//!
//! GDPR Article 19 asks the controller to tell every recipient of the data about its erasure.
//! The [`Outbox`] recorder writes one event per destination into `erasure_outbox` in the
//! erasure's own transaction: a rolled-back erasure leaves no event, a committed one always has
//! its events. Destinations come from two places: those configured on the recorder
//! ([`Outbox::destination`]) get an event for every committed erasure, and handlers emit their
//! own ([`ErasureContext::emit`](erasure_core::ErasureContext::emit)), with data the downstream
//! system needs to find the subject (its id there).
//!
//! A [`Dispatcher`] delivers them to your [`EventSink`]s, outside any erasure:
//!
//! 1. it claims due events in a short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL and
//!    MySQL, so dispatchers on several machines share the work) and leases them;
//! 2. it calls the sink for each, with no transaction open;
//! 3. it marks the delivered ones `delivered` (and clears their payload) and schedules the
//!    failed ones again with exponential backoff, until `max_attempts`, after which they are
//!    `dead` and wait for an operator ([`retry`]).
//!
//! Delivery is at least once: if the process dies between a sink's success and the mark, the
//! event is delivered again after its lease. Sinks must be idempotent; [`OutboxEvent::id`] is
//! the key to deduplicate on.
//!
//! An event's payload names the subject (the downstream system must find them), so a pending
//! or dead event holds personal data until it is delivered; delivered events keep only their
//! metadata. Sink errors are stored (cut to 500 characters) to show operators why delivery
//! fails: they must not carry personal data, and as a safety net they are stored
//! [masked](erasure_core::redact::mask).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use erasure_core::Row;
use erasure_core::clock::{Clock, SystemClock};
use erasure_core::footprint::Footprint;
use erasure_core::recorder::{Committing, Recorder};
use erasure_core::sql::{Cmp, Condition, Insert, Select, Update};
use erasure_core::transaction::{Isolation, Tx};
use erasure_core::{Backend, HandlerError, Ident, Subject, Value, async_trait, ident};
use serde::{Deserialize, Serialize};
use sqlx::Pool;
use uuid::Uuid;

use crate::{EvidenceError, corrupt};

/// The table the outbox is kept in.
pub const TABLE: &str = "erasure_outbox";

fn table() -> Ident {
    ident!("erasure_outbox")
}

/// The longest destination name.
pub const MAX_DESTINATION_LEN: usize = 128;

/// The state of an outbox event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// Delivered; the payload is gone.
    Delivered,
    /// Every attempt failed; waits for an operator's [`retry`].
    Dead,
}

impl EventState {
    /// The name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Pending => "pending",
            EventState::Delivered => "delivered",
            EventState::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(EventState::Pending),
            "delivered" => Some(EventState::Delivered),
            "dead" => Some(EventState::Dead),
            _ => None,
        }
    }
}

impl fmt::Display for EventState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn check_destination(destination: &str) -> Result<(), String> {
    if destination.is_empty() || destination.len() > MAX_DESTINATION_LEN {
        return Err(format!(
            "a destination name has 1 to {MAX_DESTINATION_LEN} bytes"
        ));
    }
    if !destination
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
    {
        return Err("a destination name holds only ASCII letters, digits and `-_.:/`".to_owned());
    }
    Ok(())
}

/// The recorder that writes erasure events into the outbox. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    destinations: Vec<String>,
}

impl Outbox {
    /// A recorder that writes the events handlers emit, and no others.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also writes an event to `destination` for every committed erasure, carrying the subject.
    ///
    /// # Errors
    ///
    /// [`EvidenceError::Invalid`] if `destination` is not 1 to 128 ASCII letters, digits or
    /// `-_.:/`.
    pub fn destination(mut self, destination: impl Into<String>) -> Result<Self, EvidenceError> {
        let destination = destination.into();
        check_destination(&destination).map_err(|p| EvidenceError::Invalid(p.into()))?;
        self.destinations.push(destination);
        Ok(self)
    }

    /// The configured destinations.
    pub fn destinations(&self) -> &[String] {
        &self.destinations
    }
}

/// What the payload column holds.
#[derive(Serialize, Deserialize)]
struct Payload {
    subject: Subject,
    #[serde(default)]
    data: serde_json::Value,
}

/// The columns an event is inserted with.
fn columns() -> [Ident; 11] {
    [
        ident!("id"),
        ident!("run_id"),
        ident!("destination"),
        ident!("position"),
        ident!("handler"),
        ident!("created_at"),
        ident!("state"),
        ident!("attempts"),
        ident!("next_attempt_at"),
        ident!("payload"),
        ident!("last_error"),
    ]
}

#[async_trait]
impl<DB: Backend> Recorder<DB> for Outbox {
    fn name(&self) -> &str {
        "outbox"
    }

    fn footprint(&self) -> Footprint {
        Footprint::new().write(table(), columns())
    }

    async fn record(
        &self,
        conn: &mut DB::Connection,
        run: &Committing<'_>,
    ) -> Result<(), HandlerError> {
        let now = run.report.started_at;
        let run_id = run.report.run_id.to_string();
        let mut insert = Insert::new(table(), columns());
        let mut add = |destination: &str,
                       source: Option<(u32, &str)>,
                       data: serde_json::Value|
         -> Result<(), HandlerError> {
            check_destination(destination).map_err(|p| HandlerError::Config(p.into()))?;
            let payload = serde_json::to_string(&Payload {
                subject: run.subject.clone(),
                data,
            })
            .map_err(HandlerError::other)?;
            insert.row([
                Uuid::new_v4().to_string().into(),
                run_id.clone().into(),
                destination.into(),
                source.map_or(Value::Null, |(p, _)| i64::from(p).into()),
                source.map_or(Value::Null, |(_, h)| h.into()),
                now.into(),
                EventState::Pending.as_str().into(),
                0i64.into(),
                now.into(),
                payload.into(),
                Value::Null,
            ]);
            Ok(())
        };
        for destination in &self.destinations {
            add(destination, None, serde_json::Value::Null)?;
        }
        for event in run.events {
            add(
                &event.destination,
                Some((event.position, &event.handler)),
                event.data.clone(),
            )?;
        }
        if insert.is_empty() {
            return Ok(());
        }
        // 11 parameters a row: 500 rows stay under every backend's limit.
        for statement in insert.statements(500) {
            DB::execute(conn, &statement).await?;
        }
        Ok(())
    }
}

/// An event as a sink receives it.
///
/// `Debug` does not show the subject or the data.
#[derive(Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OutboxEvent {
    /// The event's id: deduplicate on it, delivery is at least once.
    pub id: Uuid,
    /// The erasure's run id (its receipt's).
    pub run_id: Uuid,
    /// Where it goes.
    pub destination: String,
    /// The position of the handler that emitted it, or `None` for a configured destination.
    pub position: Option<u32>,
    /// The name of the handler that emitted it.
    pub handler: Option<String>,
    /// When the erasure ran.
    pub created_at: DateTime<Utc>,
    /// The delivery attempt this is (1 for the first).
    pub attempt: u32,
    /// The erased subject.
    pub subject: Subject,
    /// What the handler gave for the downstream system (`null` for a configured destination).
    pub data: serde_json::Value,
}

impl fmt::Debug for OutboxEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxEvent")
            .field("id", &self.id)
            .field("run_id", &self.run_id)
            .field("destination", &self.destination)
            .field("position", &self.position)
            .field("handler", &self.handler)
            .field("attempt", &self.attempt)
            .field("subject", &"<redacted>")
            .field("data", &"<redacted>")
            .finish()
    }
}

/// An outbox row as operators see it: metadata, never the payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OutboxEntry {
    /// The event's id.
    pub id: Uuid,
    /// The erasure's run id.
    pub run_id: Uuid,
    /// Where it goes.
    pub destination: String,
    /// The emitting handler's position.
    pub position: Option<u32>,
    /// The emitting handler's name.
    pub handler: Option<String>,
    /// Its state.
    pub state: EventState,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When the erasure ran.
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

fn text<'r>(row: &'r Row, column: &str) -> Option<&'r str> {
    row.get(column).and_then(Value::as_str)
}

fn uuid(row: &Row, column: &'static str) -> Result<Uuid, EvidenceError> {
    text(row, column)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| corrupt(TABLE, format!("`{column}` is not a UUID")))
}

fn time(row: &Row, column: &'static str) -> Result<DateTime<Utc>, EvidenceError> {
    row.get(column)
        .and_then(Value::as_timestamp)
        .ok_or_else(|| corrupt(TABLE, format!("`{column}` is not a time")))
}

fn small(row: &Row, column: &'static str) -> Result<Option<u32>, EvidenceError> {
    match row.get(column) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| corrupt(TABLE, format!("`{column}` is not a count"))),
    }
}

impl OutboxEntry {
    fn from_row(row: &Row) -> Result<Self, EvidenceError> {
        Ok(Self {
            id: uuid(row, "id")?,
            run_id: uuid(row, "run_id")?,
            destination: text(row, "destination")
                .ok_or_else(|| corrupt(TABLE, "no destination"))?
                .to_owned(),
            position: small(row, "position")?,
            handler: text(row, "handler").map(str::to_owned),
            state: text(row, "state")
                .and_then(EventState::parse)
                .ok_or_else(|| corrupt(TABLE, "unknown state"))?,
            attempts: small(row, "attempts")?.unwrap_or(0),
            created_at: time(row, "created_at")?,
            next_attempt_at: time(row, "next_attempt_at")?,
            delivered_at: row.get("delivered_at").and_then(Value::as_timestamp),
            last_error: text(row, "last_error").map(str::to_owned),
        })
    }
}

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
        let mut delivered: BTreeMap<u32, Vec<Uuid>> = BTreeMap::new();
        let mut failed: BTreeMap<(u32, String), Vec<Uuid>> = BTreeMap::new();
        for event in &events {
            let Some(sink) = self.sinks.get(&event.destination) else {
                continue;
            };
            match self.deliver(sink.as_ref(), event).await {
                Ok(()) => delivered.entry(event.attempt).or_default().push(event.id),
                Err(message) => failed
                    .entry((event.attempt, message))
                    .or_default()
                    .push(event.id),
            }
        }
        let done = self.clock.now();
        let mut result = Dispatched::default();
        let mut conn = pool.acquire().await?;
        // One statement per group of events with the same new values: usually one for the
        // delivered, one for the failed.
        for (attempts, ids) in &delivered {
            let n = DB::execute(
                &mut conn,
                &Update::new(table(), claimed(ids, &claim))
                    .set(ident!("state"), EventState::Delivered.as_str())
                    .set(ident!("attempts"), i64::from(*attempts))
                    .set(ident!("delivered_at"), done)
                    .set(ident!("payload"), Value::Null)
                    .set(ident!("claim"), Value::Null)
                    .set(ident!("locked_until"), Value::Null)
                    .to_sql(),
            )
            .await?;
            result.delivered += n;
        }
        for ((attempts, message), ids) in &failed {
            let dead = *attempts >= self.max_attempts;
            let state = if dead {
                EventState::Dead
            } else {
                EventState::Pending
            };
            let n = DB::execute(
                &mut conn,
                &Update::new(table(), claimed(ids, &claim))
                    .set(ident!("state"), state.as_str())
                    .set(ident!("attempts"), i64::from(*attempts))
                    .set(
                        ident!("next_attempt_at"),
                        Self::after(done, self.delay_after(*attempts)),
                    )
                    .set(ident!("last_error"), message.as_str())
                    .set(ident!("claim"), Value::Null)
                    .set(ident!("locked_until"), Value::Null)
                    .to_sql(),
            )
            .await?;
            if dead {
                result.dead += n;
            } else {
                result.retrying += n;
            }
        }
        tracing::info!(
            delivered = result.delivered,
            retrying = result.retrying,
            dead = result.dead,
            "outbox dispatched"
        );
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
        let due = Condition::eq(ident!("state"), EventState::Pending.as_str())
            .and(Condition::compare(ident!("next_attempt_at"), Cmp::Le, now))
            .and(
                Condition::is_null(ident!("locked_until")).or(Condition::compare(
                    ident!("locked_until"),
                    Cmp::Le,
                    now,
                )),
            )
            .and(Condition::is_in(
                ident!("destination"),
                self.sinks.keys().map(|d| Value::from(d.as_str())).collect(),
            ));
        let rows = DB::fetch_all(
            &mut *tx,
            &Select::columns(table(), [])
                .filter(due)
                .order_by([ident!("next_attempt_at"), ident!("id")])
                .limit(self.batch)
                .for_update_skip_locked()
                .to_sql(),
        )
        .await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let entry = OutboxEntry::from_row(row)?;
            let payload: Payload = text(row, "payload")
                .ok_or_else(|| corrupt(TABLE, "a pending event has no payload"))
                .and_then(|p| {
                    serde_json::from_str(p)
                        .map_err(|_| corrupt(TABLE, "the payload is not an event payload"))
                })?;
            events.push(OutboxEvent {
                id: entry.id,
                run_id: entry.run_id,
                destination: entry.destination,
                position: entry.position,
                handler: entry.handler,
                created_at: entry.created_at,
                attempt: entry.attempts.saturating_add(1),
                subject: payload.subject,
                data: payload.data,
            });
        }
        if !events.is_empty() {
            let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
            DB::execute(
                &mut *tx,
                &Update::new(
                    table(),
                    Condition::is_in(
                        ident!("id"),
                        ids.iter().map(|i| i.to_string().into()).collect(),
                    ),
                )
                .set(ident!("claim"), claim)
                .set(ident!("locked_until"), Self::after(now, self.lease))
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

/// The events of `ids` still claimed by `claim` (a dispatcher whose lease ran out marks
/// nothing another dispatcher claimed since).
fn claimed(ids: &[Uuid], claim: &str) -> Condition {
    Condition::is_in(
        ident!("id"),
        ids.iter().map(|i| Value::from(i.to_string())).collect(),
    )
    .and(Condition::eq(ident!("claim"), claim))
}

/// Which events [`list`] returns.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Filter {
    /// Only in this state.
    pub state: Option<EventState>,
    /// Only of this erasure.
    pub run_id: Option<Uuid>,
    /// At most this many, oldest first (default 100).
    pub limit: Option<u64>,
}

impl Filter {
    /// Every event, oldest first, up to the default limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only in `state`.
    pub fn state(mut self, state: EventState) -> Self {
        self.state = Some(state);
        self
    }

    /// Only of run `run_id`.
    pub fn run(mut self, run_id: Uuid) -> Self {
        self.run_id = Some(run_id);
        self
    }

    /// At most `limit`.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// The outbox's events matching `filter`, oldest first, without their payloads.
///
/// # Errors
///
/// A statement fails, or a row cannot be read back.
pub async fn list<DB: Backend>(
    pool: &Pool<DB>,
    filter: &Filter,
) -> Result<Vec<OutboxEntry>, EvidenceError> {
    // Metadata only: never the payload.
    let columns = [
        ident!("id"),
        ident!("run_id"),
        ident!("destination"),
        ident!("position"),
        ident!("handler"),
        ident!("state"),
        ident!("attempts"),
        ident!("created_at"),
        ident!("next_attempt_at"),
        ident!("delivered_at"),
        ident!("last_error"),
    ];
    let mut select = Select::columns(table(), columns);
    if let Some(state) = filter.state {
        select = select.filter(Condition::eq(ident!("state"), state.as_str()));
    }
    if let Some(run) = filter.run_id {
        select = select.filter(Condition::eq(ident!("run_id"), run.to_string()));
    }
    let select = select
        .order_by([ident!("created_at"), ident!("id")])
        .limit(filter.limit.unwrap_or(100));
    let mut conn = pool.acquire().await?;
    let rows = DB::fetch_all(&mut conn, &select.to_sql()).await?;
    rows.iter().map(OutboxEntry::from_row).collect()
}

/// Which dead events [`retry`] revives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// This one (if it is dead).
    Event(Uuid),
    /// Every dead event.
    AllDead,
}

/// Makes dead events pending again, due at `now`, with their attempts reset (their last error
/// is kept). Returns how many.
///
/// # Errors
///
/// A statement fails.
pub async fn retry<DB: Backend>(
    pool: &Pool<DB>,
    which: &Retry,
    now: DateTime<Utc>,
) -> Result<u64, EvidenceError> {
    let mut filter = Condition::eq(ident!("state"), EventState::Dead.as_str());
    if let Retry::Event(id) = which {
        filter = filter.and(Condition::eq(ident!("id"), id.to_string()));
    }
    let mut conn = pool.acquire().await?;
    let n = DB::execute(
        &mut conn,
        &Update::new(table(), filter)
            .set(ident!("state"), EventState::Pending.as_str())
            .set(ident!("attempts"), 0i64)
            .set(ident!("next_attempt_at"), now)
            .to_sql(),
    )
    .await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_names_are_checked() {
        assert!(Outbox::new().destination("search-index").is_ok());
        assert!(Outbox::new().destination("crm/v2:eu.west_1").is_ok());
        for bad in [
            "",
            "new sletter",
            "x'; DROP TABLE t; --",
            "naïve",
            &"a".repeat(129),
        ] {
            assert!(
                matches!(
                    Outbox::new().destination(bad),
                    Err(EvidenceError::Invalid(_))
                ),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let d = Dispatcher::<sqlx::Sqlite>::new()
            .backoff(Duration::from_secs(30), Duration::from_secs(100));
        let delays: Vec<u64> = (1..=5).map(|n| d.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 100, 100, 100]);
        assert_eq!(d.delay_after(u32::MAX).as_secs(), 100);
    }

    #[test]
    fn debug_hides_the_subject_and_the_data() {
        let event = OutboxEvent {
            id: Uuid::nil(),
            run_id: Uuid::nil(),
            destination: "newsletter".into(),
            position: None,
            handler: None,
            created_at: Utc::now(),
            attempt: 1,
            subject: Subject::guest("ada@example.test").expect("subject"),
            data: serde_json::json!({ "phone": "+44 7700 900111" }),
        };
        let shown = format!("{event:?}");
        assert!(
            !shown.contains("ada@") && !shown.contains("7700"),
            "{shown}"
        );
    }
}
