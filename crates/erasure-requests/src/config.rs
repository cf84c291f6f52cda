//! How requests behave: [`RequestConfig`], and the account flags an erasure request switches
//! off at once ([`Deactivate`]).

use erasure_core::retention::Period;
use erasure_core::{Ident, Key, KeyType, Value, ident};
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
    /// How the table stores keys, when it differs from how they are given (`"binary"` for
    /// Shopware's ids), as in a mapping's subject columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeyType>,
}

impl Deactivate {
    /// `key` as bound against this table's keys, or `None` when it cannot be converted (then
    /// no row matches, and nothing is switched off).
    pub fn key(&self, key: &Key) -> Option<Value> {
        match self.keys {
            None => Some(key.to_value()),
            Some(keys) => keys.value(key),
        }
    }
}

/// Serde for an optional [`Deactivate`]: a table, or `false` for none (TOML has no null).
mod deactivate {
    use serde::de::{self, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Deactivate;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Deactivate>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => d.serialize(s),
            None => s.serialize_bool(false),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Deactivate>, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = Option<Deactivate>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table { table, id, active, … }, or `false` for none")
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                if v {
                    Err(E::custom(
                        "`true` names no table: write { table, id, active, … }, or `false` for none",
                    ))
                } else {
                    Ok(None)
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Deactivate::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
            }
        }
        d.deserialize_any(Either)
    }
}

/// How requests behave.
///
/// ```toml
/// [requests]
/// token_ttl = "24h"
/// due_in = "1m"
/// erasure_delay = "7d"
/// keep_closed = "30d"
/// deactivate_users = false   # no flag to switch off (a table, or `false`)
/// ```
///
/// In a configuration file (`erasure::config`), the two `deactivate_*` tables default to the
/// `[mappings.customer]` tables (their table, key, users' customer column and `keys`), with the
/// flag `active`; `deactivated_at` is recorded only on the reference schema's `customers`.
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
    /// The customer table whose flag an erasure request of a registered customer switches off
    /// (`false` in TOML: none).
    #[serde(with = "deactivate")]
    pub deactivate_customer: Option<Deactivate>,
    /// The user table whose flag an erasure request of selected users switches off (`false` in
    /// TOML: none).
    #[serde(with = "deactivate")]
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
                keys: None,
            }),
            deactivate_users: Some(Deactivate {
                table: ident!("users"),
                id: ident!("id"),
                active: ident!("active"),
                at: None,
                customer: Some(ident!("customer_id")),
                keys: None,
            }),
        }
    }
}
