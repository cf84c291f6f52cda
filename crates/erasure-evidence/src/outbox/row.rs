//! Reading `erasure_outbox` rows back: [`OutboxEntry`] for operators, [`OutboxEvent`] for sinks,
//! and the payload column's format.

use chrono::{DateTime, Utc};
use erasure_core::{Ident, Row, Subject, Value};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::columns as col;
use super::{EventState, OutboxEntry, OutboxEvent, TABLE};
use crate::{EvidenceError, corrupt};

/// What the payload column holds.
#[derive(Serialize, Deserialize)]
pub(super) struct Payload {
    pub(super) subject: Subject,
    #[serde(default)]
    pub(super) data: serde_json::Value,
}

fn text(row: &Row, column: Ident) -> Option<&str> {
    row.get(column.as_str()).and_then(Value::as_str)
}

fn uuid(row: &Row, column: Ident) -> Result<Uuid, EvidenceError> {
    text(row, column.clone())
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| corrupt(TABLE, format!("`{column}` is not a UUID")))
}

fn time(row: &Row, column: Ident) -> Result<DateTime<Utc>, EvidenceError> {
    row.get(column.as_str())
        .and_then(Value::as_timestamp)
        .ok_or_else(|| corrupt(TABLE, format!("`{column}` is not a time")))
}

fn small(row: &Row, column: Ident) -> Result<Option<u32>, EvidenceError> {
    match row.get(column.as_str()) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| corrupt(TABLE, format!("`{column}` is not a count"))),
    }
}

impl OutboxEntry {
    /// The metadata of an outbox row.
    pub(super) fn from_row(row: &Row) -> Result<Self, EvidenceError> {
        Ok(Self {
            id: uuid(row, col::id())?,
            run_id: uuid(row, col::run_id())?,
            destination: text(row, col::destination())
                .ok_or_else(|| corrupt(TABLE, "no destination"))?
                .to_owned(),
            position: small(row, col::position())?,
            handler: text(row, col::handler()).map(str::to_owned),
            state: text(row, col::state())
                .and_then(EventState::parse)
                .ok_or_else(|| corrupt(TABLE, "unknown state"))?,
            attempts: small(row, col::attempts())?.unwrap_or(0),
            created_at: time(row, col::created_at())?,
            next_attempt_at: time(row, col::next_attempt_at())?,
            delivered_at: row
                .get(col::delivered_at().as_str())
                .and_then(Value::as_timestamp),
            last_error: text(row, col::last_error()).map(str::to_owned),
        })
    }
}

impl OutboxEvent {
    /// A pending event as its next delivery attempt sees it, from its whole row.
    pub(super) fn from_pending_row(row: &Row) -> Result<Self, EvidenceError> {
        let entry = OutboxEntry::from_row(row)?;
        let payload: Payload = text(row, col::payload())
            .ok_or_else(|| corrupt(TABLE, "a pending event has no payload"))
            .and_then(|p| {
                serde_json::from_str(p)
                    .map_err(|_| corrupt(TABLE, "the payload is not an event payload"))
            })?;
        Ok(OutboxEvent {
            id: entry.id,
            run_id: entry.run_id,
            destination: entry.destination,
            position: entry.position,
            handler: entry.handler,
            created_at: entry.created_at,
            attempt: entry.attempts.saturating_add(1),
            subject: payload.subject,
            data: payload.data,
        })
    }
}
