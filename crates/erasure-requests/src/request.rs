//! A request as stored.

use std::fmt;

use chrono::{DateTime, Utc};
use erasure_core::{Ident, Row, Subject, Value};
use serde::Serialize;

use crate::columns as col;
use crate::state::{RequestKind, State};

/// A personal-data request.
///
/// `Debug` and `Serialize` leave out the subject and the contact email: request listings are
/// operator output, and the subject is personal data.
#[derive(Clone, PartialEq, Serialize)]
pub struct Request {
    /// Its id (a UUID).
    pub id: String,
    /// Erasure or export.
    pub kind: RequestKind,
    /// Where it is.
    pub state: State,
    #[serde(skip)]
    pub(crate) subject: Option<Subject>,
    #[serde(skip)]
    pub(crate) contact_email: Option<String>,
    /// Whether the subject is known (a registered customer, selected users, a guest) or an
    /// operator must identify it.
    pub subject_known: bool,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// When it must be carried out (one month after receipt).
    pub due_at: DateTime<Utc>,
    /// When the requester confirmed it.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Not carried out before this instant (the erasure delay, during which it can be cancelled).
    pub not_before: Option<DateTime<Utc>>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// When its confirmation token expires (while pending).
    pub token_expires_at: Option<DateTime<Utc>>,
    /// An operator's note.
    pub note: Option<String>,
    /// What processing did: the report's totals, or the error (never personal data).
    pub outcome: Option<String>,
    /// Processing attempts.
    pub attempts: u32,
}

impl Request {
    /// The subject, while the request holds it (it is removed once an erasure is completed).
    pub fn subject(&self) -> Option<&Subject> {
        self.subject.as_ref()
    }

    /// The email to reach the requester, while the request holds it.
    pub fn contact_email(&self) -> Option<&str> {
        self.contact_email.as_deref()
    }

    /// Whether it is past its due date and still open.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state.is_open() && self.due_at < now
    }

    pub(crate) fn from_row(row: &Row) -> Result<Self, String> {
        let text = |c: Ident| {
            row.get(c.as_str())
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let time = |c: &Ident| row.get(c.as_str()).and_then(Value::as_timestamp);
        let required_time =
            |c: Ident| time(&c).ok_or_else(|| format!("request column {c} is not a timestamp"));
        let subject = match text(col::subject()) {
            Some(json) => Some(
                serde_json::from_str::<Subject>(&json)
                    .map_err(|e| format!("request subject: {e}"))?,
            ),
            None => None,
        };
        Ok(Self {
            id: text(col::id()).ok_or("request without id")?,
            kind: text(col::kind()).ok_or("request without kind")?.parse()?,
            state: text(col::state()).ok_or("request without state")?.parse()?,
            subject_known: subject.is_some(),
            subject,
            contact_email: text(col::contact_email()),
            received_at: required_time(col::received_at())?,
            due_at: required_time(col::due_at())?,
            confirmed_at: time(&col::confirmed_at()),
            not_before: time(&col::not_before()),
            closed_at: time(&col::closed_at()),
            token_expires_at: time(&col::token_expires_at()),
            note: text(col::note()),
            outcome: text(col::outcome()),
            attempts: row
                .get(col::attempts().as_str())
                .and_then(Value::as_i64)
                .and_then(|a| u32::try_from(a).ok())
                .unwrap_or(0),
        })
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("state", &self.state)
            .field("subject", &self.subject)
            .field("received_at", &self.received_at)
            .field("due_at", &self.due_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  {:<7} {:<17} received {}  due {}",
            self.id,
            self.kind,
            self.state,
            self.received_at.format("%Y-%m-%d %H:%M"),
            self.due_at.format("%Y-%m-%d")
        )?;
        if let Some(note) = &self.note {
            write!(f, "  note: {note}")?;
        }
        Ok(())
    }
}
