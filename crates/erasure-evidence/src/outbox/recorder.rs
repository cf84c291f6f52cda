//! The [`Outbox`] recorder: writes the events of a committed erasure in its own transaction.

use erasure_core::footprint::Footprint;
use erasure_core::recorder::{Committing, Recorder};
use erasure_core::sql::Insert;
use erasure_core::{Backend, HandlerError, Ident, Value, async_trait};
use uuid::Uuid;

use super::columns::{self as col, table};
use super::row::Payload;
use super::{EventState, MAX_DESTINATION_LEN};
use crate::EvidenceError;

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

/// The columns an event is inserted with.
fn columns() -> [Ident; 11] {
    [
        col::id(),
        col::run_id(),
        col::destination(),
        col::position(),
        col::handler(),
        col::created_at(),
        col::state(),
        col::attempts(),
        col::next_attempt_at(),
        col::payload(),
        col::last_error(),
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
}
