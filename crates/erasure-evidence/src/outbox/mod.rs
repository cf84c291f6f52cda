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
//! 3. in one more transaction, it marks the delivered ones `delivered` (and clears their
//!    payload) and schedules the failed ones again with exponential backoff, until
//!    `max_attempts`, after which they are `dead` and wait for an operator ([`retry`]). The
//!    mark commits whole or not at all: if it fails, every event of the claim stays as the
//!    claim left it and is taken again after its lease.
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

// The parts: `recorder` writes events in the erasure's transaction, `dispatcher` claims,
// delivers and marks them, `admin` lists and revives them for operators, `row` reads rows back,
// and `columns` names the table and its columns.

use std::fmt;

use chrono::{DateTime, Utc};
use erasure_core::Subject;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod admin;
mod columns;
mod dispatcher;
mod recorder;
mod row;

pub use admin::{Filter, Retry, counts, expire_dead, list, retry};
pub use dispatcher::{Dispatched, Dispatcher, EventSink, SinkError};
pub use recorder::Outbox;

/// The table the outbox is kept in.
pub const TABLE: &str = "erasure_outbox";

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
    /// Dead for longer than allowed ([`expire_dead`]): its payload (the subject and the data)
    /// was cleared so that the outbox does not keep a copy of erased data; only the metadata
    /// stays, for the operator. It cannot be retried.
    Expired,
}

impl EventState {
    /// The name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Pending => "pending",
            EventState::Delivered => "delivered",
            EventState::Dead => "dead",
            EventState::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(EventState::Pending),
            "delivered" => Some(EventState::Delivered),
            "dead" => Some(EventState::Dead),
            "expired" => Some(EventState::Expired),
            _ => None,
        }
    }
}

impl fmt::Display for EventState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

#[cfg(test)]
mod tests {
    use super::*;

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
