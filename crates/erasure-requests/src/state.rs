//! Kinds and states of requests, and which transitions are allowed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Erase my data (GDPR Article 17).
    Erasure,
    /// Give me my data (Articles 15 and 20).
    Export,
}

/// Where a request is in its life cycle.
///
/// ```text
///             ┌────────── reject ───────────┐
/// pending ──confirm──▶ confirmed ──claim──▶ processing ──▶ completed
///    │  └─(anonymous)─▶ awaiting_operator ─resolve─▶ confirmed   └──▶ failed ──retry──▶ confirmed
///    ├── token expired ──▶ expired
///    └── cancel ──▶ cancelled ◀── cancel (confirmed, during the erasure delay)
///
/// awaiting_operator, confirmed, failed ── complete by hand (with a note) ──▶ completed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Received; waiting for the requester to confirm with the token.
    Pending,
    /// Confirmed by someone who is not a registered customer: an operator must identify the
    /// subject (or reject the request).
    AwaitingOperator,
    /// Confirmed; waits for a worker (and for the erasure delay, if any).
    Confirmed,
    /// A worker is carrying it out.
    Processing,
    /// Done.
    Completed,
    /// The worker failed; an operator may retry.
    Failed,
    /// An operator rejected it (with a note).
    Rejected,
    /// The confirmation token expired unused.
    Expired,
    /// Withdrawn by the requester before it was carried out.
    Cancelled,
}

impl State {
    /// Every state.
    pub const ALL: [State; 9] = [
        State::Pending,
        State::AwaitingOperator,
        State::Confirmed,
        State::Processing,
        State::Completed,
        State::Failed,
        State::Rejected,
        State::Expired,
        State::Cancelled,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::AwaitingOperator => "awaiting_operator",
            State::Confirmed => "confirmed",
            State::Processing => "processing",
            State::Completed => "completed",
            State::Failed => "failed",
            State::Rejected => "rejected",
            State::Expired => "expired",
            State::Cancelled => "cancelled",
        }
    }

    /// Whether the request is finished: nothing more will happen to it but its purge.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            State::Completed | State::Rejected | State::Expired | State::Cancelled
        )
    }

    /// Whether the request is still open (not closed). A failed request is open: it waits for
    /// an operator.
    pub fn is_open(self) -> bool {
        !self.is_closed()
    }

    /// Whether `self → to` is allowed.
    pub fn allows(self, to: State) -> bool {
        use State::*;
        matches!(
            (self, to),
            (
                Pending,
                Confirmed | AwaitingOperator | Rejected | Expired | Cancelled
            ) | (AwaitingOperator, Confirmed | Rejected | Completed)
                | (Confirmed, Processing | Rejected | Cancelled | Completed)
                | (Processing, Completed | Failed)
                | (Failed, Confirmed | Rejected | Completed)
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown request state {s:?}"))
    }
}

impl RequestKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Erasure => "erasure",
            RequestKind::Export => "export",
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequestKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "erasure" => Ok(RequestKind::Erasure),
            "export" => Ok(RequestKind::Export),
            _ => Err(format!("unknown request kind {s:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_states_allow_nothing() {
        for from in State::ALL.into_iter().filter(|s| s.is_closed()) {
            for to in State::ALL {
                assert!(!from.allows(to), "{from} → {to}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
        }
        assert!("done".parse::<State>().is_err());
    }
}
