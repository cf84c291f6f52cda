//! How requests behave: [`RequestConfig`], and the account flags an erasure request switches
//! off at once ([`Deactivate`]).

use erasure_core::retention::Period;
use erasure_core::{Ident, ident};
use serde::{Deserialize, Serialize};

/// A table whose `active` flag an erasure request switches off at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deactivate {
    /// The table.
    pub table: Ident,
    /// Its primary key.
    pub id: Ident,
    /// The flag.
    pub active: Ident,
    /// A column to record when (`""` for none).
    #[serde(default, with = "erasure_core::mapping::optional_ident")]
    pub at: Option<Ident>,
    /// For user tables: the customer column, so that only the named users of that customer are
    /// touched (`""` for none).
    #[serde(default, with = "erasure_core::mapping::optional_ident")]
    pub customer: Option<Ident>,
}

/// How requests behave.
///
/// ```toml
/// [requests]
/// token_ttl = "24h"
/// due_in = "1m"
/// erasure_delay = "7d"
/// keep_closed = "30d"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestConfig {
    /// How long a confirmation token is valid (default 24 h).
    pub token_ttl: Period,
    /// How long after receipt a request is due (default one month, the GDPR's deadline).
    pub due_in: Period,
    /// How long a confirmed erasure waits before it is carried out, during which the requester
    /// can cancel it (default none).
    pub erasure_delay: Option<Period>,
    /// How long closed (and stale pending) requests are kept before the purge job deletes them
    /// (default 30 days).
    pub keep_closed: Period,
    /// The customer table whose flag an erasure request of a registered customer switches off.
    pub deactivate_customer: Option<Deactivate>,
    /// The user table whose flag an erasure request of selected users switches off.
    pub deactivate_users: Option<Deactivate>,
}

impl Default for RequestConfig {
    fn default() -> Self {
        Self {
            token_ttl: Period::hours(24),
            due_in: Period::months(1),
            erasure_delay: None,
            keep_closed: Period::days(30),
            deactivate_customer: Some(Deactivate {
                table: ident!("customers"),
                id: ident!("id"),
                active: ident!("active"),
                at: Some(ident!("deactivated_at")),
                customer: None,
            }),
            deactivate_users: Some(Deactivate {
                table: ident!("users"),
                id: ident!("id"),
                active: ident!("active"),
                at: None,
                customer: Some(ident!("customer_id")),
            }),
        }
    }
}
