//! Retention rules: how long rows are kept, and the job that removes them when their time is up.
//!
//! A rule keeps the rows of one table for a period measured from one of its date columns (orders
//! six years from the order date, shipping labels 21 days from creation), then deletes them, or
//! anonymizes them if so configured. Periods depend on the law that applies to the shop: the
//! defaults here are examples, not legal advice.
//!
//! ```toml
//! [[retention]]
//! table = "orders"
//! date_column = "ordered_at"
//! keep = "6y"
//!
//! [[retention]]
//! table = "shipping_labels"
//! date_column = "created_at"
//! keep = "21d"
//! children = [{ table = "shipping_label_events", parent = "label_id" }]
//!
//! [[retention]]
//! table = "support_tickets"
//! date_column = "closed_at"
//! keep = "2y"
//! action = { anonymize = { requester_email = "keep_domain", body = { fixed = "removed" } } }
//! ```
//!
//! An anonymizing rule takes every [`Replacement`](crate::Replacement) (a keyed pseudonym is
//! `NULL` here: there is no subject to key it on). A row is due when its date is and one of its
//! listed columns still holds something its replacement would change
//! ([`Replacement::pending`](crate::Replacement::pending)): `NULL` never, a fixed value not,
//! 32 lowercase hex digits not under `random`, a value a generalization maps to itself not. So
//! rows already anonymized are not selected, counted or rewritten again, whatever the
//! strategy.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::backend::Backend;
use crate::error::HandlerError;
use crate::ident::Ident;
use crate::job::{BatchContext, BatchOutcome, Job};
use crate::mapping::{Anonymize, ChildTable};
use crate::sql::{Cmp, Condition, Select, Update};
use crate::value::Value;

/// A retention period: `21d`, `8w`, `18m` (months), `6y`, `12h`.
///
/// ```
/// use erasure_core::retention::Period;
/// use chrono::{TimeZone, Utc};
///
/// let six_years: Period = "6y".parse()?;
/// let now = Utc.with_ymd_and_hms(2030, 3, 1, 0, 0, 0).unwrap();
/// assert_eq!(six_years.before(now), Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap());
/// assert!("6 years".parse::<Period>().is_err());
/// # Ok::<(), erasure_core::retention::PeriodError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    amount: u32,
    unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Unit {
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

/// Why a period does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid period {0:?}: write a number and a unit, h, d, w, m (months) or y, like \"21d\" or \"6y\""
)]
pub struct PeriodError(String);

impl Period {
    /// `amount` days.
    pub const fn days(amount: u32) -> Self {
        Self {
            amount,
            unit: Unit::Days,
        }
    }

    /// `amount` hours.
    pub const fn hours(amount: u32) -> Self {
        Self {
            amount,
            unit: Unit::Hours,
        }
    }

    /// `amount` months.
    pub const fn months(amount: u32) -> Self {
        Self {
            amount,
            unit: Unit::Months,
        }
    }

    /// `amount` years.
    pub const fn years(amount: u32) -> Self {
        Self {
            amount,
            unit: Unit::Years,
        }
    }

    /// The instant one period after `now` (a deadline, an expiry).
    pub fn after(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let n = i64::from(self.amount);
        let shifted = match self.unit {
            Unit::Hours => now.checked_add_signed(Duration::hours(n)),
            Unit::Days => now.checked_add_signed(Duration::days(n)),
            Unit::Weeks => now.checked_add_signed(Duration::weeks(n)),
            Unit::Months => now.checked_add_months(Months::new(self.amount)),
            Unit::Years => now.checked_add_months(Months::new(self.amount.saturating_mul(12))),
        };
        shifted.unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The instant one period before `now`: rows dated at or before it are due.
    pub fn before(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let n = i64::from(self.amount);
        let shifted = match self.unit {
            Unit::Hours => now.checked_sub_signed(Duration::hours(n)),
            Unit::Days => now.checked_sub_signed(Duration::days(n)),
            Unit::Weeks => now.checked_sub_signed(Duration::weeks(n)),
            Unit::Months => now.checked_sub_months(Months::new(self.amount)),
            Unit::Years => now.checked_sub_months(Months::new(self.amount.saturating_mul(12))),
        };
        shifted.unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let amount: u32 = digits.parse().map_err(|_| PeriodError(s.to_owned()))?;
        let unit = match unit {
            "h" => Unit::Hours,
            "d" => Unit::Days,
            "w" => Unit::Weeks,
            "m" => Unit::Months,
            "y" => Unit::Years,
            _ => return Err(PeriodError(s.to_owned())),
        };
        Ok(Self { amount, unit })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Hours => 'h',
            Unit::Days => 'd',
            Unit::Weeks => 'w',
            Unit::Months => 'm',
            Unit::Years => 'y',
        };
        write!(f, "{}{unit}", self.amount)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What happens to rows whose retention period is over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionAction {
    /// They are deleted (their children first).
    #[default]
    Delete,
    /// Their listed columns are overwritten; the rows stay.
    Anonymize(Anonymize),
}

/// One table's retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// The table.
    pub table: Ident,
    /// Its primary key, the batches' cursor.
    #[serde(default = "default_id")]
    pub id: Ident,
    /// The date the period is measured from.
    pub date_column: Ident,
    /// How long rows are kept.
    pub keep: Period,
    /// Delete (default) or anonymize.
    #[serde(default)]
    pub action: RetentionAction,
    /// Tables of rows that belong to this table's rows, deleted with them.
    #[serde(default)]
    pub children: Vec<ChildTable>,
}

fn default_id() -> Ident {
    crate::ident!("id")
}

impl RetentionRule {
    /// Rows of this rule that are due at `now`: dated at or before one period ago.
    pub fn due(&self, now: DateTime<Utc>) -> Condition {
        Condition::compare(self.date_column.clone(), Cmp::Le, self.keep.before(now))
    }
}

/// The retention rules of a shop, one per table.
///
/// The default holds one example rule: orders are kept six years from their order date (the order
/// purge job honours it). Adjust to the law that applies to you.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RetentionRules(pub Vec<RetentionRule>);

impl Default for RetentionRules {
    fn default() -> Self {
        Self(vec![RetentionRule {
            table: crate::ident!("orders"),
            id: default_id(),
            date_column: crate::ident!("ordered_at"),
            keep: Period::years(6),
            action: RetentionAction::Delete,
            children: Vec::new(),
        }])
    }
}

impl RetentionRules {
    /// The rule for `table`, compared by name.
    pub fn for_table(&self, table: &Ident) -> Option<&RetentionRule> {
        self.0
            .iter()
            .find(|r| r.table.name().eq_ignore_ascii_case(table.name()))
    }
}

/// Selects the keys of the next batch: `SELECT key FROM table WHERE filter AND key > after
/// ORDER BY key LIMIT size FOR UPDATE` (keyset pagination; the lock keeps two runners of one job
/// off the same rows on PostgreSQL and MySQL).
///
/// # Errors
///
/// [`HandlerError::Database`].
pub async fn next_keys<DB: Backend>(
    cx: &mut BatchContext<'_, DB>,
    table: &Ident,
    key: &Ident,
    filter: Condition,
) -> Result<Vec<Value>, HandlerError> {
    let mut select = Select::column(table.clone(), key.clone()).filter(filter);
    if let Some(after) = cx.after() {
        select = select.filter(Condition::compare(key.clone(), Cmp::Gt, after.clone()));
    }
    let select = select
        .order_by([key.clone()])
        .limit(cx.size().into())
        .for_update();
    Ok(cx
        .fetch_all(select)
        .await?
        .into_iter()
        .filter_map(|row| row.into_values().into_iter().next())
        .collect())
}

/// Counts rows of `table` matching `filter`.
///
/// # Errors
///
/// [`HandlerError::Database`].
pub async fn count<DB: Backend>(
    cx: &mut BatchContext<'_, DB>,
    table: &Ident,
    filter: Condition,
) -> Result<u64, HandlerError> {
    let rows = cx
        .fetch_all(Select::count(table.clone()).filter(filter))
        .await?;
    Ok(rows
        .first()
        .and_then(|r| r.get_index(0))
        .and_then(Value::as_i64)
        .map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

/// The job applying one [`RetentionRule`].
#[derive(Debug, Clone)]
pub struct RetentionJob {
    rule: RetentionRule,
    name: String,
}

impl RetentionJob {
    /// A job for `rule`.
    pub fn new(rule: RetentionRule) -> Self {
        let name = format!("retention:{}", rule.table);
        Self { rule, name }
    }

    fn due(&self, cx: &BatchContext<'_, impl Backend>) -> Condition {
        let due = self.rule.due(cx.now());
        match &self.rule.action {
            RetentionAction::Delete => due,
            // Rows already anonymized are done: only rows with a column the replacement would
            // still change are due (see `Replacement::pending`), so a second run finds
            // nothing and no row is counted twice.
            RetentionAction::Anonymize(columns) => due.and(Condition::Or(
                columns.iter().map(|(c, r)| r.pending(c)).collect(),
            )),
        }
    }
}

#[async_trait]
impl<DB: Backend> Job<DB> for RetentionJob {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        "applies a retention rule: rows past their period are deleted or anonymized"
    }

    async fn remaining(&self, cx: &mut BatchContext<'_, DB>) -> Result<u64, HandlerError> {
        let due = self.due(cx);
        count(cx, &self.rule.table, due).await
    }

    async fn batch(&self, cx: &mut BatchContext<'_, DB>) -> Result<BatchOutcome, HandlerError> {
        let r = &self.rule;
        let due = self.due(cx);
        let keys = next_keys(cx, &r.table, &r.id, due).await?;
        let Some(last) = keys.last().cloned() else {
            return Ok(BatchOutcome::default());
        };
        let mut outcome = crate::Outcome::new();
        let rows = match &r.action {
            RetentionAction::Delete => {
                cx.delete_with_children(&r.table, &r.id, keys, &r.children, &mut outcome)
                    .await?
            }
            RetentionAction::Anonymize(columns) => {
                let mut update = Update::new(r.table.clone(), Condition::is_in(r.id.clone(), keys));
                for (column, replacement) in columns {
                    // No subject here: a keyed pseudonym has nothing to be keyed on, so it is
                    // NULL; every other strategy is what an erasure writes.
                    update =
                        update.assign(column.clone(), replacement.assignment_without_subject());
                }
                let n = cx.execute(update).await?;
                outcome = outcome.anonymized(r.table.clone(), n);
                n
            }
        };
        Ok(BatchOutcome {
            outcome,
            rows,
            last_key: Some(last),
            failed: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn periods_parse_and_print() {
        for (text, ok) in [
            ("21d", true),
            ("6y", true),
            ("18m", true),
            ("8w", true),
            ("12h", true),
            ("", false),
            ("6", false),
            ("y", false),
            ("6 y", false),
            ("-1d", false),
        ] {
            assert_eq!(text.parse::<Period>().is_ok(), ok, "{text}");
        }
        assert_eq!("18m".parse::<Period>().unwrap().to_string(), "18m");
        let now = Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap();
        // A month before 31 March is the last day of February.
        assert_eq!(
            "1m".parse::<Period>().unwrap().before(now),
            Utc.with_ymd_and_hms(2026, 2, 28, 12, 0, 0).unwrap()
        );
        assert_eq!(
            Period::days(1).before(now),
            Utc.with_ymd_and_hms(2026, 3, 30, 12, 0, 0).unwrap()
        );
    }

    #[test]
    fn rules_read_from_toml() {
        #[derive(Deserialize)]
        struct Config {
            retention: RetentionRules,
        }
        let c: Config = toml::from_str(
            "[[retention]]\ntable = \"labels\"\ndate_column = \"created_at\"\nkeep = \"21d\"\n\
             [[retention]]\ntable = \"tickets\"\ndate_column = \"closed_at\"\nkeep = \"2y\"\naction = { anonymize = { email = \"null\" } }\n",
        )
        .unwrap();
        assert_eq!(c.retention.0.len(), 2);
        assert_eq!(c.retention.0[0].action, RetentionAction::Delete);
        assert!(matches!(
            c.retention.0[1].action,
            RetentionAction::Anonymize(_)
        ));
        let err = toml::from_str::<Config>(
            "[[retention]]\ntable = \"t\"\ndate_column = \"d\"\nkeep = \"forever\"\n",
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("invalid period"), "{err}");
        assert_eq!(
            RetentionRules::default()
                .for_table(&crate::ident!("orders"))
                .map(|r| r.keep),
            Some(Period::years(6))
        );
    }
}
