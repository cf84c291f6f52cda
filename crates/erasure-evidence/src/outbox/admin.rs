//! Queries for operators: [`list`] the outbox's events (never their payloads), [`retry`]
//! dead ones, and [`expire_dead`] clears the payloads of events dead for too long.

use chrono::{DateTime, Utc};
use erasure_core::Backend;
use erasure_core::Value;
use erasure_core::sql::{Cmp, Condition, Select, Sql, Update};
use erasure_core::transaction::{Isolation, Tx};
use sqlx::Pool;
use uuid::Uuid;

use super::columns::{self as col, table};
use super::{EventState, OutboxEntry};
use crate::EvidenceError;

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
        col::id(),
        col::run_id(),
        col::destination(),
        col::position(),
        col::handler(),
        col::state(),
        col::attempts(),
        col::created_at(),
        col::next_attempt_at(),
        col::delivered_at(),
        col::last_error(),
    ];
    let mut select = Select::columns(table(), columns);
    if let Some(state) = filter.state {
        select = select.filter(Condition::eq(col::state(), state.as_str()));
    }
    if let Some(run) = filter.run_id {
        select = select.filter(Condition::eq(col::run_id(), run.to_string()));
    }
    let select = select
        .order_by([col::created_at(), col::id()])
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
/// is kept). One statement, in a transaction of its own. Returns how many.
///
/// # Errors
///
/// A statement fails.
pub async fn retry<DB: Backend>(
    pool: &Pool<DB>,
    which: &Retry,
    now: DateTime<Utc>,
) -> Result<u64, EvidenceError> {
    let mut filter = Condition::eq(col::state(), EventState::Dead.as_str());
    if let Retry::Event(id) = which {
        filter = filter.and(Condition::eq(col::id(), id.to_string()));
    }
    let update = Update::new(table(), filter)
        .set(col::state(), EventState::Pending.as_str())
        .set(col::attempts(), 0i64)
        .set(col::next_attempt_at(), now)
        .to_sql();
    write(pool, &update).await
}

/// Runs `statement` in a transaction of its own, through [`erasure_core::transaction`] like
/// every writer of the workspace: one statement is atomic by itself, but this way it ends with
/// an explicit commit or rollback, and a connection whose commit went unanswered is closed
/// rather than pooled. Returns the rows it changed.
async fn write<DB: Backend>(pool: &Pool<DB>, statement: &Sql) -> Result<u64, EvidenceError> {
    let mut conn = pool.acquire().await?;
    let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
    let written = DB::execute(&mut tx, statement)
        .await
        .map_err(EvidenceError::from);
    tx.settle(written)
        .await
        .map_err(|f| f.discard_if_in_doubt(&mut conn))
}

/// Clears the payload (the subject and the data) of every event dead since before `before`
/// (by the erasure's time), and marks it [`EventState::Expired`]: an event names its subject
/// only until it is delivered, or for a limited time once its delivery has failed for good.
/// One statement, in a transaction of its own. Returns how many.
///
/// # Errors
///
/// A statement fails.
pub async fn expire_dead<DB: Backend>(
    pool: &Pool<DB>,
    before: DateTime<Utc>,
) -> Result<u64, EvidenceError> {
    let update = Update::new(
        table(),
        Condition::eq(col::state(), EventState::Dead.as_str()).and(Condition::compare(
            col::created_at(),
            Cmp::Lt,
            before,
        )),
    )
    .set(col::state(), EventState::Expired.as_str())
    .set(col::payload(), Value::Null)
    .to_sql();
    let n = write(pool, &update).await?;
    if n > 0 {
        tracing::info!(
            events = n,
            "dead outbox events expired: their payloads are cleared"
        );
    }
    Ok(n)
}

/// How many events are in each state (one count per state): the backlog an operator watches.
///
/// # Errors
///
/// A statement fails.
pub async fn counts<DB: Backend>(pool: &Pool<DB>) -> Result<Vec<(EventState, u64)>, EvidenceError> {
    let mut conn = pool.acquire().await?;
    let mut out = Vec::new();
    for state in [
        EventState::Pending,
        EventState::Delivered,
        EventState::Dead,
        EventState::Expired,
    ] {
        let rows = DB::fetch_all(
            &mut conn,
            &Select::count(table())
                .filter(Condition::eq(col::state(), state.as_str()))
                .to_sql(),
        )
        .await?;
        let n = rows
            .first()
            .and_then(|r| r.get_index(0))
            .and_then(Value::as_i64)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        out.push((state, n));
    }
    Ok(out)
}
