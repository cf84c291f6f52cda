//! What a whole run did: the report.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::erasure::{Mode, Reason};
use crate::outcome::{Action, Outcome, Totals};
use crate::subject::SubjectKind;

/// What one handler did in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerReport {
    /// The handler's position.
    pub position: u32,
    /// The handler's name.
    pub name: String,
    /// What it did.
    pub outcome: Outcome,
    /// Statements it ran through its context.
    pub statements: u32,
    /// How long it took, in microseconds.
    pub elapsed_us: u64,
}

/// The report of one run: what every handler did, for which subject (as a pseudonym), when, by
/// whom, and whether it was committed.
///
/// It contains no personal data: the subject appears only as a keyed pseudonym. It serializes
/// with serde (JSON for machines), and `Display` renders a table for people.
///
/// A dry run produces the same report as the erasure it simulates, with
/// [`mode`](Report::mode) [`Mode::DryRun`]. An unknown subject gives a report whose totals are
/// all zero ([`is_noop`](Report::is_noop)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The run's id (also in traces).
    pub run_id: Uuid,
    /// Erase or dry run.
    pub mode: Mode,
    /// Why.
    pub reason: Reason,
    /// The acting operator, as given.
    pub operator: Option<String>,
    /// The subject's keyed pseudonym.
    pub subject: String,
    /// The kind of subject.
    pub subject_kind: SubjectKind,
    /// The clock reading the run used as "now".
    pub started_at: DateTime<Utc>,
    /// Per handler, in the order they ran.
    pub handlers: Vec<HandlerReport>,
    /// Wall time of the whole run, commit included, in microseconds (all attempts).
    pub elapsed_us: u64,
    /// Attempts it took: more than 1 when a lock conflict rolled back an attempt and the chain
    /// retried (see [`RetryPolicy`](crate::RetryPolicy)).
    pub attempts: u32,
}

impl Report {
    /// Rows per action over all handlers.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for h in &self.handlers {
            t.add(h.outcome.totals());
        }
        t
    }

    /// Whether nothing was (or, for a dry run, would be) changed.
    pub fn is_noop(&self) -> bool {
        self.totals().sum() == 0
    }

    /// The report of the handler at `position`.
    pub fn handler(&self, position: u32) -> Option<&HandlerReport> {
        self.handlers.iter().find(|h| h.position == position)
    }

    /// Statements run by all handlers.
    pub fn statements(&self) -> u32 {
        self.handlers.iter().map(|h| h.statements).sum()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "run {} ({}, {}) subject {} [{}]",
            self.run_id, self.mode, self.reason, self.subject, self.subject_kind
        )?;
        let width = self
            .handlers
            .iter()
            .flat_map(|h| h.outcome.effects())
            .map(|e| e.table.as_str().len())
            .max()
            .unwrap_or(0)
            .max("table".len());
        writeln!(
            f,
            "{:>5}  {:<22} {:<width$}  {:<10} {:>8}",
            "pos", "handler", "table", "action", "rows"
        )?;
        for h in &self.handlers {
            if h.outcome.effects().is_empty() {
                writeln!(
                    f,
                    "{:>5}  {:<22} {:<width$}  {:<10} {:>8}",
                    h.position, h.name, "-", "-", 0
                )?;
            }
            for (i, e) in h.outcome.effects().iter().enumerate() {
                let (pos, name) = if i == 0 {
                    (h.position.to_string(), h.name.as_str())
                } else {
                    (String::new(), "")
                };
                let (action, reason) = match &e.action {
                    Action::Retained { reason } => ("retained", reason.as_ref()),
                    Action::Deleted => ("deleted", ""),
                    Action::Anonymized => ("anonymized", ""),
                    Action::Deferred => ("deferred", ""),
                };
                write!(
                    f,
                    "{pos:>5}  {name:<22} {:<width$}  {action:<10} {:>8}",
                    e.table.as_str(),
                    e.rows
                )?;
                if reason.is_empty() {
                    writeln!(f)?;
                } else {
                    writeln!(f, "  ({reason})")?;
                }
            }
            for note in h.outcome.notes() {
                writeln!(f, "{:>5}  {:<22} note: {}", "", "", note)?;
            }
        }
        write!(f, "total: {}", self.totals())
    }
}
