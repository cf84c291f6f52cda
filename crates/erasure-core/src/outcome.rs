//! What one handler did: its outcome.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ident::Ident;

/// What happened to some rows of a table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The rows were deleted now.
    Deleted,
    /// Personal columns of the rows were overwritten; the rows stay.
    Anonymized,
    /// The rows were marked for a purge job (basket `INVALID`, order `to_be_deleted`).
    Deferred,
    /// The rows are kept for a legal reason (tax records, redeemed vouchers). The reason is
    /// fixed text from a handler or its configuration, never personal data.
    Retained {
        /// Why the rows are kept.
        reason: Cow<'static, str>,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Deleted => f.write_str("deleted"),
            Action::Anonymized => f.write_str("anonymized"),
            Action::Deferred => f.write_str("deferred"),
            Action::Retained { reason } => write!(f, "retained ({reason})"),
        }
    }
}

/// Rows of one table that one action applied to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    /// The table.
    pub table: Ident,
    /// What was done.
    #[serde(flatten)]
    pub action: Action,
    /// How many rows.
    pub rows: u64,
}

/// Row counts per action, summed over effects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Rows deleted.
    pub deleted: u64,
    /// Rows anonymized.
    pub anonymized: u64,
    /// Rows marked for a purge job.
    pub deferred: u64,
    /// Rows retained for a legal reason.
    pub retained: u64,
}

impl Totals {
    /// The sum of all counts. A row that was both anonymized and deferred counts twice.
    pub fn sum(&self) -> u64 {
        self.deleted + self.anonymized + self.deferred + self.retained
    }

    /// Adds `other` to these totals.
    pub fn add(&mut self, other: Totals) {
        self.deleted += other.deleted;
        self.anonymized += other.anonymized;
        self.deferred += other.deferred;
        self.retained += other.retained;
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} deleted, {} anonymized, {} deferred, {} retained",
            self.deleted, self.anonymized, self.deferred, self.retained
        )
    }
}

/// What one handler did: rows per table and action, and notes.
///
/// A row may appear under more than one action: an order that is anonymized *and* marked
/// `to_be_deleted` is counted as anonymized and as deferred. Effects with zero rows are kept, so
/// a report shows every table a handler considered, and a repeated erasure reports zeros.
///
/// Notes are fixed text for operators ("recurring orders are disabled in settings"); like every
/// message of this library they must not carry personal data.
///
/// ```
/// use erasure_core::{ident, Outcome};
///
/// let outcome = Outcome::new()
///     .deleted(ident!("wishlist_items"), 15)
///     .deleted(ident!("wishlists"), 3);
/// assert_eq!(outcome.totals().deleted, 18);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    effects: Vec<Effect>,
    notes: Vec<Cow<'static, str>>,
}

impl Outcome {
    /// An outcome with no effects.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `rows` of `table` under `action`.
    pub fn record(&mut self, table: Ident, action: Action, rows: u64) -> &mut Self {
        self.effects.push(Effect {
            table,
            action,
            rows,
        });
        self
    }

    /// Adds a note.
    pub fn push_note(&mut self, note: impl Into<Cow<'static, str>>) -> &mut Self {
        self.notes.push(note.into());
        self
    }

    /// `rows` of `table` deleted.
    pub fn deleted(mut self, table: Ident, rows: u64) -> Self {
        self.record(table, Action::Deleted, rows);
        self
    }

    /// `rows` of `table` anonymized.
    pub fn anonymized(mut self, table: Ident, rows: u64) -> Self {
        self.record(table, Action::Anonymized, rows);
        self
    }

    /// `rows` of `table` marked for a purge job.
    pub fn deferred(mut self, table: Ident, rows: u64) -> Self {
        self.record(table, Action::Deferred, rows);
        self
    }

    /// `rows` of `table` retained, for `reason`.
    pub fn retained(
        mut self,
        table: Ident,
        rows: u64,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.record(
            table,
            Action::Retained {
                reason: reason.into(),
            },
            rows,
        );
        self
    }

    /// With a note.
    pub fn note(mut self, note: impl Into<Cow<'static, str>>) -> Self {
        self.push_note(note);
        self
    }

    /// Appends the effects and notes of `other`.
    pub fn merge(&mut self, other: Outcome) {
        self.effects.extend(other.effects);
        self.notes.extend(other.notes);
    }

    /// The effects, in the order recorded.
    pub fn effects(&self) -> &[Effect] {
        &self.effects
    }

    /// The notes.
    pub fn notes(&self) -> impl Iterator<Item = &str> {
        self.notes.iter().map(|n| n.as_ref())
    }

    /// Rows per action.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for e in &self.effects {
            match e.action {
                Action::Deleted => t.deleted += e.rows,
                Action::Anonymized => t.anonymized += e.rows,
                Action::Deferred => t.deferred += e.rows,
                Action::Retained { .. } => t.retained += e.rows,
            }
        }
        t
    }

    /// The rows of `table` recorded under `action` (0 if none).
    pub fn rows(&self, table: &str, action: &Action) -> u64 {
        self.effects
            .iter()
            .filter(|e| e.table.as_str() == table && &e.action == action)
            .map(|e| e.rows)
            .sum()
    }
}
