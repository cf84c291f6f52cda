//! Declarative rules: handlers written in configuration, for the tables nothing standard covers.
//!
//! A rule names a table, how the subject's rows are found there (the table's own subject
//! columns, or a parent table's), an optional row filter, and what happens to the rows. It
//! becomes a handler at its own position, made of a [`Policy`] like every standard handler:
//! it runs, dry-runs, reports, exports, and shows in footprints and coverage like them.
//!
//! ```toml
//! [[rules]]
//! name = "newsletter"
//! position = 85
//! table = "newsletter_subscriber"
//! subject = { customer = "customer_id", email = "subscriber_email" }
//! action = "delete"
//!
//! # Rows reached through a parent: order meta of the subject's orders (before position 30,
//! # which unlinks the orders), only the personal keys of a key-value table.
//! [[rules]]
//! name = "order-meta"
//! position = 28
//! table = "wc_orders_meta"
//! parent = { table = "wc_orders", id = "id", column = "order_id" }
//! subject = { customer = "customer_id", email = "billing_email" }
//! where = { meta_key = ["_billing_phone", "_billing_email"] }
//! action = "anonymize"
//! anonymize = { meta_value = "null" }
//!
//! # Rows that mention the subject inside text (a log's JSON): a guest's email, and a
//! # customer's account email, read from the customer table before it goes.
//! [[rules]]
//! name = "log-guest"
//! position = 87
//! table = "log_entry"
//! subject = { email = "context", match = "contains" }
//! action = "delete"
//!
//! [[rules]]
//! name = "log-customer"
//! position = 88
//! table = "log_entry"
//! parent = { table = "customer", id = "email", column = "context", match = "contains" }
//! subject = { customer = "id" }
//! action = "delete"
//! ```
//!
//! Keys:
//!
//! | key | meaning |
//! | --- | --- |
//! | `name` | the handler's name in reports, receipts and errors; unique in the chain |
//! | `position` | where it runs; a position taken by another handler is a build error naming both |
//! | `table` | the table |
//! | `subject` | the subject columns (of `table`, or of the parent when `parent` is given), with `guest_marker`, `unlink` and `keys` as in every mapping; with `match = "contains"`, the columns' text contains the guest's email or the key (see [`Matching::Contains`]) |
//! | `parent` | `{ table, id, column }`: rows whose `column` holds the `id` of the parent's subject rows; with `where = { … }`, only the parent rows it selects; with `parent = { … }` inside, the parent's own parent (its `column` is then the parent's), as deep as needed; with `match = "contains"`, rows whose `column`'s text contains the parent's `id` column's value (any column: the customer's `email`), with `match = "contains_hex"` its bytes as lowercase hex digits (a binary id inside JSON) — see [`ParentMatch`] |
//! | `where` | `{ column = value }` or `{ column = [values] }`: only those rows (values are bound) |
//! | `action` | `"delete"`, `"anonymize"` (`anonymize = { column = strategy }`, [strategies](crate::Replacement)) or `"defer"` (rows left to the rule's purge job, [`RulePurge`]; `anonymize` clears their personal columns now) |
//! | `mark` | for `defer`: `{ column = value }` written into the rows, by which the purge job finds them; without it the rows are recorded in the [deferral ledger](crate::ledger) by their `key` |
//! | `purge_after` | for `defer` into the ledger: how long after the deferral the purge job deletes the rows (`"30d"`, `"6y"`; default: at its next run) |
//! | `unlink` | for `anonymize` and `defer`: remove the link to the subject (default `true` when the table has subject columns of its own) |
//! | `retain` | for `anonymize`: the reason the rows are kept, which counts them as retained |
//! | `key` | the table's key, for a stable export order; required for `defer` (the purge job deletes by it, the ledger records it) |
//! | `description` | one line for operators (a default describes the rule) |
//!
//! A rule that does not make sense is refused when it is read, naming the rule and the key;
//! the TOML parser adds the line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::HandlerError;
use crate::handler::DeletionHandler;
use crate::ident::Ident;
use crate::job::{BatchContext, BatchOutcome, Job};
use crate::mapping::Anonymize;
use crate::policy::{Policy, Reach, Step};
use crate::retention::Period;
use crate::sql::Condition;
use crate::subject::{Matching, Scalar, SubjectColumns};
use crate::value::Value;

/// What a rule does to its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Deletes them.
    Delete,
    /// Overwrites their personal columns; the rows stay.
    Anonymize,
    /// Leaves them to the rule's purge job ([`RulePurge`]), marked or recorded in the
    /// [deferral ledger](crate::ledger); the rows stay until it runs.
    Defer,
}

/// How a rule's `column` holds its parent's `id` (see [`RuleParent::matching`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentMatch {
    /// The column's value is the parent's (the default): `column IN (SELECT id FROM parent …)`.
    Equal,
    /// The column's text contains the parent's value, lower-cased on both sides, with the
    /// value's `!`, `%` and `_` matching only themselves (as
    /// [`Matching::Contains`] compares), through a
    /// correlated `EXISTS (SELECT 1 FROM parent WHERE … AND column LIKE …)`: the rows of a log
    /// that mention the customer's email, read from the customer row. An empty or `NULL` value
    /// matches nothing. No index serves it: every row of the table is read, once per erasure.
    Contains,
    /// As [`Contains`](Self::Contains), the value's bytes written as lowercase hex digits, as
    /// Shopware writes its `BINARY(16)` ids into JSON.
    ContainsHex,
}

/// A parent through which a rule reaches its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleParent {
    /// The parent table, whose subject columns `subject` names.
    pub table: Ident,
    /// The parent's key.
    pub id: Ident,
    /// The rule's table's column holding the parent's key.
    pub column: Ident,
    /// Only the parent rows for which these hold (`{ column = value }` or
    /// `{ column = [values] }`, bound): the customer rows that are guest accounts.
    #[serde(default, rename = "where", skip_serializing_if = "BTreeMap::is_empty")]
    pub only: BTreeMap<Ident, OneOrMany>,
    /// The parent's own parent, when the subject columns are further up: an invoice comment
    /// reached through its invoice, reached through its order. `column` is then the parent's
    /// column holding the grandparent's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Box<RuleParent>>,
    /// How `column` holds the parent's `id`: equal to it (the default), or mentioning it inside
    /// its text (`match = "contains"`, `"contains_hex"`).
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub matching: Option<ParentMatch>,
}

impl RuleParent {
    /// How the rows of `table` (the table holding `column`) are found through this parent.
    fn reach(&self, table: &Ident, subject: SubjectColumns) -> Reach {
        let parents = self.rows(subject);
        match self.matching.unwrap_or(ParentMatch::Equal) {
            ParentMatch::Equal => Reach::parent(
                self.table.clone(),
                self.id.clone(),
                parents,
                self.column.clone(),
            ),
            matching => Reach::Mentions {
                table: table.clone(),
                parent: self.table.clone(),
                value: self.id.clone(),
                reach: Box::new(parents),
                column: self.column.clone(),
                hex: matching == ParentMatch::ContainsHex,
            },
        }
    }

    /// Whether this parent, or one further up, is the very table that mentions it (`match`),
    /// whose columns the subquery could not tell apart.
    fn mentions_itself(&self, below: &Ident) -> bool {
        if self.matching.is_some_and(|m| m != ParentMatch::Equal) && &self.table == below {
            return true;
        }
        self.parent
            .as_deref()
            .is_some_and(|grand| grand.mentions_itself(&self.table))
    }

    /// How the parent's own rows are found: through its parent, or its subject columns, and
    /// its filter.
    fn rows(&self, subject: SubjectColumns) -> Reach {
        let reach = match &self.parent {
            Some(grand) => grand.reach(&self.table, subject),
            None => Reach::subject(subject),
        };
        match filter(&self.only) {
            Some(only) => Reach::filtered(reach, only),
            None => reach,
        }
    }
}

/// The condition of a `where` table: every column's value (or one of its values), all bound.
fn filter(only: &BTreeMap<Ident, OneOrMany>) -> Option<Condition> {
    only.iter()
        .map(|(column, values)| match values {
            OneOrMany::One(v) => Condition::eq(column.clone(), Value::from(v.clone())),
            OneOrMany::Many(vs) => Condition::is_in(
                column.clone(),
                vs.iter().cloned().map(Value::from).collect(),
            ),
        })
        .reduce(Condition::and)
}

/// One value or a list of values of a `where` filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// `column = value`.
    One(Scalar),
    /// `column IN (values…)`.
    Many(Vec<Scalar>),
}

/// A rule as written in configuration, before it is checked ([`Rule::try_from`]). Every field
/// is a key of the module docs' table.
///
/// Read a whole configuration's rules as `toml::Spanned<RuleSpec>` to report the line of a
/// rule that does not check (as the CLI does); read [`Rule`] directly otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RuleSpec {
    pub name: String,
    pub position: u32,
    pub table: Ident,
    #[serde(default)]
    pub subject: Option<SubjectColumns>,
    #[serde(default)]
    pub parent: Option<RuleParent>,
    #[serde(default, rename = "where")]
    pub only: BTreeMap<Ident, OneOrMany>,
    pub action: RuleAction,
    #[serde(default)]
    pub anonymize: Anonymize,
    #[serde(default)]
    pub mark: BTreeMap<Ident, Scalar>,
    #[serde(default)]
    pub purge_after: Option<Period>,
    #[serde(default)]
    pub unlink: Option<bool>,
    #[serde(default)]
    pub retain: Option<String>,
    #[serde(default)]
    pub key: Option<Ident>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Why a rule does not make sense: the rule, the key, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule `{rule}`: `{key}` {problem}")]
pub struct RuleError {
    /// The rule's name.
    pub rule: String,
    /// The key at fault.
    pub key: &'static str,
    /// What is wrong.
    pub problem: &'static str,
}

/// A declarative rule: see the module docs. Read it from TOML or JSON (it checks itself as it
/// is read); turn it into a handler with [`Rule::handler`].
///
/// ```
/// use erasure_core::rule::Rule;
///
/// let rule: Rule = toml::from_str(r#"
///     name = "newsletter"
///     position = 85
///     table = "newsletter_subscriber"
///     subject = { customer = "customer_id", email = "subscriber_email" }
///     action = "delete"
/// "#)?;
/// assert_eq!((rule.name(), rule.position()), ("newsletter", 85));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RuleSpec", into = "RuleSpec")]
pub struct Rule {
    raw: RuleSpec,
}

impl TryFrom<RuleSpec> for Rule {
    type Error = RuleError;

    fn try_from(raw: RuleSpec) -> Result<Self, RuleError> {
        let fail = |key: &'static str, problem: &'static str| {
            Err(RuleError {
                rule: raw.name.clone(),
                key,
                problem,
            })
        };
        if raw.name.trim().is_empty() || raw.name.chars().any(char::is_control) {
            return fail("name", "must be non-empty text without control characters");
        }
        let Some(subject) = &raw.subject else {
            return fail(
                "subject",
                "is missing: name the columns that point at the subject (on the parent when `parent` is given)",
            );
        };
        if subject.columns().next().is_none() {
            return fail("subject", "names no column");
        }
        match raw.action {
            RuleAction::Anonymize if raw.anonymize.is_empty() && raw.unlink == Some(false) => {
                return fail(
                    "anonymize",
                    "is empty and `unlink = false`: the rule would change nothing",
                );
            }
            RuleAction::Anonymize if raw.anonymize.is_empty() && raw.parent.is_some() => {
                return fail(
                    "anonymize",
                    "is empty: a rule reaching its rows through a parent has no link of its own to remove",
                );
            }
            RuleAction::Delete if !raw.anonymize.is_empty() => {
                return fail("anonymize", "does not apply to `action = \"delete\"`");
            }
            RuleAction::Delete if !raw.mark.is_empty() => {
                return fail("mark", "does not apply to `action = \"delete\"`");
            }
            RuleAction::Defer if raw.mark.is_empty() && raw.key.is_none() => {
                return fail(
                    "mark",
                    "is missing: a deferred row needs a mark the purge job finds it by, or a \
                     `key` to record it in the deferral ledger",
                );
            }
            RuleAction::Defer if raw.key.is_none() => {
                return fail(
                    "key",
                    "is missing: the purge job deletes deferred rows by their key",
                );
            }
            RuleAction::Defer if !raw.mark.is_empty() && raw.purge_after.is_some() => {
                return fail(
                    "purge_after",
                    "needs the deferral ledger (no `mark`): a mark records no date to wait from",
                );
            }
            _ => {}
        }
        if raw.purge_after.is_some() && raw.action != RuleAction::Defer {
            return fail("purge_after", "only applies to `action = \"defer\"`");
        }
        if raw.retain.is_some() && raw.action != RuleAction::Anonymize {
            return fail("retain", "only applies to `action = \"anonymize\"`");
        }
        if raw.unlink.is_some() && raw.action == RuleAction::Delete {
            return fail("unlink", "does not apply to `action = \"delete\"`");
        }
        if raw.unlink == Some(true) && raw.parent.is_some() {
            return fail(
                "unlink",
                "does not apply to rows reached through a parent: they hold no link to the subject",
            );
        }
        let contained = subject.matching == Some(Matching::Contains);
        if contained && raw.parent.is_none() {
            if raw.unlink == Some(true) {
                return fail(
                    "unlink",
                    "does not apply to `match = \"contains\"`: text that mentions the subject is no \
                     link to clear (anonymize or delete it)",
                );
            }
            if raw.action == RuleAction::Anonymize && raw.anonymize.is_empty() {
                return fail(
                    "anonymize",
                    "is empty: with `match = \"contains\"` there is no link to remove, the rule \
                     would change nothing",
                );
            }
        }
        if let Some(parent) = &raw.parent
            && parent.mentions_itself(&raw.table)
        {
            return fail(
                "parent",
                "mentions its own table (`match`): name another table as the parent",
            );
        }
        Ok(Self { raw })
    }
}

impl From<Rule> for RuleSpec {
    fn from(rule: Rule) -> Self {
        rule.raw
    }
}

impl Rule {
    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.raw.name
    }

    /// The rule's position.
    pub fn position(&self) -> u32 {
        self.raw.position
    }

    /// The rule's table.
    pub fn table(&self) -> &Ident {
        &self.raw.table
    }

    /// The subject columns (of the table, or of the parent).
    pub fn subject(&self) -> Option<&SubjectColumns> {
        self.raw.subject.as_ref()
    }

    /// Fills the subject columns' unset guest marker, unlink value and key type from a
    /// configuration's global `defaults`.
    pub fn inherit(&mut self, defaults: &SubjectColumns) {
        if let Some(subject) = &mut self.raw.subject {
            subject.inherit(defaults);
        }
    }

    /// Whether the rule's update removes the link to the subject: by default when the table has
    /// subject columns of its own that hold the subject (not text that mentions it).
    fn unlinks(&self) -> bool {
        let raw = &self.raw;
        let contained = raw
            .subject
            .as_ref()
            .is_some_and(|s| s.matching == Some(Matching::Contains));
        raw.unlink.unwrap_or(raw.parent.is_none() && !contained)
    }

    /// The rule's policy: one step, or nothing for a kind of subject its columns cannot find.
    pub fn policy(&self) -> Policy {
        let raw = &self.raw;
        let subject = raw.subject.clone().unwrap_or_default();
        let reach = match &raw.parent {
            Some(parent) => parent.reach(&raw.table, subject),
            None => Reach::subject(subject),
        };
        let mut step = match raw.action {
            RuleAction::Delete => Step::delete(raw.table.clone(), reach),
            RuleAction::Anonymize => {
                let mut step = Step::anonymize(raw.table.clone(), reach, raw.anonymize.clone());
                if self.unlinks() {
                    step = step.unlink();
                }
                if let Some(reason) = &raw.retain {
                    step = step.retained(reason.clone());
                }
                step
            }
            RuleAction::Defer => match (&raw.key, raw.mark.is_empty()) {
                // No mark: the ledger records the rows (before they are unlinked, after which
                // the reach no longer finds them), and the update only clears them.
                (Some(key), true) => {
                    let mut record =
                        Step::defer_in_ledger(raw.table.clone(), reach.clone(), key.clone());
                    if let Some(only) = filter(&raw.only) {
                        record = record.only(only);
                    }
                    let unlink = self.unlinks();
                    let mut policy = Policy::new(format!(
                        "no rows of {} for this kind of subject",
                        raw.table.as_str()
                    ))
                    .step(record);
                    if !raw.anonymize.is_empty() || unlink {
                        // Nothing personal waits for the purge job.
                        let mut clear =
                            Step::anonymize(raw.table.clone(), reach, raw.anonymize.clone())
                                .key(key.clone());
                        if unlink {
                            clear = clear.unlink();
                        }
                        if let Some(only) = filter(&raw.only) {
                            clear = clear.only(only);
                        }
                        policy.push(clear);
                    }
                    return policy;
                }
                _ => {
                    // Nothing personal waits for the purge job.
                    let mut step =
                        Step::defer(raw.table.clone(), reach).anonymizing(&raw.anonymize);
                    if self.unlinks() {
                        step = step.unlink();
                    }
                    step
                }
            },
        };
        for (column, value) in &raw.mark {
            step = step.mark(column.clone(), Value::from(value.clone()));
        }
        if let Some(only) = filter(&raw.only) {
            step = step.only(only);
        }
        if let Some(key) = &raw.key {
            step = step.key(key.clone());
        }
        Policy::new(format!(
            "no rows of {} for this kind of subject",
            raw.table.as_str()
        ))
        .step(step)
    }

    /// One line for operators: the rule's own, or one that says what it does.
    pub fn description(&self) -> String {
        if let Some(d) = &self.raw.description {
            return d.clone();
        }
        let raw = &self.raw;
        let verb = match raw.action {
            RuleAction::Delete => "deletes",
            RuleAction::Anonymize => "anonymizes",
            RuleAction::Defer => "defers",
        };
        let through = match &raw.parent {
            Some(p) if p.matching.is_some_and(|m| m != ParentMatch::Equal) => {
                format!(" (mentioning a value of {})", p.table.as_str())
            }
            Some(p) => format!(" (through {})", p.table.as_str()),
            None if raw
                .subject
                .as_ref()
                .is_some_and(|s| s.matching == Some(Matching::Contains)) =>
            {
                " (mentioning the subject)".to_owned()
            }
            None => String::new(),
        };
        let only = if raw.only.is_empty() {
            ""
        } else {
            " (filtered)"
        };
        format!(
            "rule: {verb} the subject's rows of {}{through}{only}",
            raw.table.as_str()
        )
    }

    /// The job that deletes the rows this rule defers once they are due, or `None` for a rule
    /// that defers nothing. Its name is `rule-purge:` and the rule's name.
    pub fn purge(&self) -> Option<RulePurge> {
        let raw = &self.raw;
        if raw.action != RuleAction::Defer {
            return None;
        }
        let found = if raw.mark.is_empty() {
            Found::Ledger(raw.purge_after)
        } else {
            Found::Marked(
                raw.mark
                    .iter()
                    .map(|(column, value)| {
                        Condition::eq(column.clone(), Value::from(value.clone()))
                    })
                    .reduce(Condition::and)?,
            )
        };
        Some(RulePurge {
            name: format!("rule-purge:{}", raw.name),
            table: raw.table.clone(),
            key: raw.key.clone()?,
            found,
        })
    }

    /// The rule as a handler.
    pub fn handler(&self) -> RuleHandler {
        RuleHandler {
            name: self.raw.name.clone(),
            description: self.description(),
            policy: self.policy(),
        }
    }
}

/// A [`Rule`] as a handler: its name, its description, its policy.
#[derive(Debug, Clone)]
pub struct RuleHandler {
    name: String,
    description: String,
    policy: Policy,
}

#[async_trait::async_trait]
impl<DB: Backend> DeletionHandler<DB> for RuleHandler {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the default: the policy as it is.
        true
    }
}

/// How a [`RulePurge`] finds the rows its rule deferred.
#[derive(Debug, Clone)]
enum Found {
    /// By the rule's mark.
    Marked(Condition),
    /// In the deferral ledger, due a period after the deferral (or at once).
    Ledger(Option<Period>),
}

/// The purge job of a rule with `action = "defer"` ([`Rule::purge`]): deletes the rows the
/// rule deferred, in batches by the rule's `key`, once they are due: marked rows at its next
/// run, rows in the [deferral ledger](crate::ledger) `purge_after` after their deferral (and
/// their ledger entries with them).
#[derive(Debug, Clone)]
pub struct RulePurge {
    name: String,
    table: Ident,
    key: Ident,
    found: Found,
}

impl RulePurge {
    fn due(&self, now: chrono::DateTime<chrono::Utc>) -> Condition {
        match &self.found {
            Found::Marked(marked) => marked.clone(),
            Found::Ledger(None) => crate::ledger::deferred(&self.table, &self.key),
            Found::Ledger(Some(after)) => {
                crate::ledger::deferred_before(&self.table, &self.key, after.before(now))
            }
        }
    }
}

#[async_trait::async_trait]
impl<DB: Backend> Job<DB> for RulePurge {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        "deletes the rows a rule deferred (marked, or in the ledger) once they are due"
    }

    async fn remaining(&self, cx: &mut BatchContext<'_, DB>) -> Result<u64, HandlerError> {
        let due = self.due(cx.now());
        crate::retention::count(cx, &self.table, due).await
    }

    async fn batch(&self, cx: &mut BatchContext<'_, DB>) -> Result<BatchOutcome, HandlerError> {
        let due = self.due(cx.now());
        let keys = crate::retention::next_keys(cx, &self.table, &self.key, due.clone()).await?;
        let Some(last) = keys.last().cloned() else {
            return Ok(BatchOutcome::default());
        };
        let rows = cx
            .execute(crate::sql::Delete::new(
                self.table.clone(),
                Condition::is_in(self.key.clone(), keys.clone()).and(due),
            ))
            .await?;
        if matches!(self.found, Found::Ledger(_)) {
            // The ledger's entries go with their rows.
            cx.execute(crate::ledger::forget(&self.table, &keys))
                .await?;
        }
        Ok(BatchOutcome {
            outcome: crate::Outcome::new().deleted(self.table.clone(), rows),
            rows,
            last_key: Some(last),
            failed: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        toml::from_str::<Rule>(text)
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn the_issue_form_reads_and_bad_rules_name_the_rule_the_key_and_the_line() {
        let rule = toml::from_str::<Rule>(
            "name = \"newsletter\"\nposition = 85\ntable = \"newsletter_subscriber\"\n\
             subject = { customer = \"customer_id\", email = \"subscriber_email\" }\naction = \"delete\"\n",
        )
        .expect("rule");
        assert_eq!(rule.policy().steps().len(), 1);
        let e = err(
            "name = \"meta\"\nposition = 28\ntable = \"m\"\nsubject = { customer = \"c\" }\naction = \"defer\"\n",
        );
        assert!(e.contains("rule `meta`: `mark` is missing"), "{e}");
        let e = err(
            "name = \"n\"\nposition = 1\ntable = \"t\"\naction = \"delete\"\nsubject = { customer = \"c\" }\nanonymize = { e = \"null\" }\n",
        );
        assert!(e.contains("rule `n`: `anonymize` does not apply"), "{e}");
        let e = err("name = \"n\"\nposition = 1\ntable = \"t\"\naction = \"delete\"\n");
        assert!(e.contains("rule `n`: `subject` is missing"), "{e}");
        let e = err(
            "name = \"n\"\nposition = 1\ntable = \"t;x\"\naction = \"delete\"\nsubject = { customer = \"c\" }\n",
        );
        assert!(e.contains("line 3"), "{e}");
        let e = err(
            "name = \"n\"\nposition = 1\ntable = \"t\"\naction = \"delete\"\nsubject = { customer = \"c\" }\nwhen = 1\n",
        );
        assert!(e.contains("unknown field `when`"), "{e}");
    }

    #[test]
    fn a_parent_and_a_filter_make_one_step_whose_footprint_covers_the_table() {
        let rule = toml::from_str::<Rule>(
            "name = \"order-meta\"\nposition = 28\ntable = \"wc_orders_meta\"\n\
             parent = { table = \"wc_orders\", id = \"id\", column = \"order_id\" }\n\
             subject = { customer = \"customer_id\", email = \"billing_email\" }\n\
             where = { meta_key = [\"_billing_phone\", \"_billing_email\"] }\n\
             action = \"anonymize\"\nanonymize = { meta_value = \"null\" }\n",
        )
        .expect("rule");
        let fp = rule.policy().footprint();
        assert!(fp.covers(
            &crate::ident!("wc_orders_meta"),
            &crate::ident!("meta_value")
        ));
        assert!(!fp.covers(&crate::ident!("wc_orders"), &crate::ident!("billing_email")));
        assert!(rule.description().contains("through wc_orders"));
    }

    #[test]
    fn parents_nest_and_filter_their_own_rows() {
        use crate::dialect::Dialect;
        use crate::subject::Subject;
        // An invoice comment, through its invoice, through its order; only registered
        // customers' orders.
        let rule = toml::from_str::<Rule>(
            "name = \"invoice-comments\"\nposition = 27\ntable = \"sales_invoice_comment\"\n\
             parent = { table = \"sales_invoice\", id = \"entity_id\", column = \"parent_id\", \
             parent = { table = \"sales_order\", id = \"entity_id\", column = \"order_id\", \
             where = { customer_is_guest = 0 } } }\n\
             subject = { customer = \"customer_id\", email = \"customer_email\" }\n\
             action = \"anonymize\"\nanonymize = { comment = \"null\" }\n",
        )
        .expect("rule");
        let policy = rule.policy();
        let condition = policy.steps()[0]
            .condition(&Subject::customer(7))
            .expect("a customer is reached");
        let statement = condition.to_sql();
        let (sql, values) = statement.render(Dialect::MySql);
        assert_eq!(
            sql,
            "`parent_id` IN (SELECT `entity_id` FROM `sales_invoice` WHERE `order_id` IN \
             (SELECT `entity_id` FROM `sales_order` WHERE (`customer_id` = ? AND \
             `customer_is_guest` = ?)))"
        );
        assert_eq!(values, [&Value::Int(7), &Value::Int(0)]);
        // Every table on the way is read, with the columns the reach uses.
        let fp = policy.footprint();
        assert!(fp.covers(
            &crate::ident!("sales_invoice_comment"),
            &crate::ident!("comment")
        ));
        let reads = format!("{fp:?}");
        for needle in [
            "sales_invoice",
            "sales_order",
            "customer_is_guest",
            "order_id",
        ] {
            assert!(reads.contains(needle), "{needle} in {reads}");
        }
        // Read back as written.
        let again: Rule =
            toml::from_str(&toml::to_string(&rule).expect("write")).expect("read again");
        assert_eq!(again, rule);
    }

    #[test]
    fn contains_binds_an_escaped_pattern_and_clears_no_link() {
        use crate::dialect::Dialect;
        use crate::subject::Subject;
        let rule = toml::from_str::<Rule>(
            "name = \"log\"\nposition = 87\ntable = \"log_entry\"\n\
             subject = { email = \"context\", customer = \"context\", keys = \"binary\", match = \"contains\" }\n\
             action = \"delete\"\n",
        )
        .expect("rule");
        let policy = rule.policy();
        let guest = Subject::guest("a_b%c!d@x.test").expect("guest");
        let condition = policy.steps()[0]
            .condition(&guest)
            .expect("a guest is reached");
        let sql = condition.to_sql();
        let (text, values) = sql.render(Dialect::Sqlite);
        assert_eq!(
            text,
            r#"(LOWER(CAST("context" AS TEXT)) LIKE LOWER(?) ESCAPE '!')"#
        );
        assert_eq!(values, [&Value::Text("%a!_b!%c!!d@x.test%".into())]);
        let (text, _) = sql.render(Dialect::MySql);
        assert_eq!(
            text,
            "(LOWER(CONVERT(CONCAT(`context`) USING utf8mb4)) COLLATE utf8mb4_bin LIKE LOWER(?) \
             ESCAPE '!')"
        );
        // A binary key is searched for as its 32 lowercase hex digits; an integer key, which
        // would be found inside other numbers, matches nothing.
        let customer = Subject::customer(
            crate::Key::text("0FA91CE3-E96A-4BC2-BE4B-D9CE752C3425").expect("key"),
        );
        let condition = policy.steps()[0].condition(&customer).expect("condition");
        assert_eq!(
            condition.to_sql().render(Dialect::Postgres).1,
            [&Value::Text("%0fa91ce3e96a4bc2be4bd9ce752c3425%".into())]
        );
        let condition = policy.steps()[0]
            .condition(&Subject::customer(42))
            .expect("condition");
        assert_eq!(condition.to_sql().render(Dialect::Sqlite).0, "1 = 0");
        // Nothing to unlink: an anonymizing rule must name what it clears.
        let e = err("name = \"log\"\nposition = 87\ntable = \"log\"\n\
             subject = { email = \"payload\", match = \"contains\" }\naction = \"anonymize\"\n");
        assert!(e.contains("rule `log`: `anonymize` is empty"), "{e}");
        let e = err("name = \"log\"\nposition = 87\ntable = \"log\"\n\
             subject = { email = \"payload\", match = \"contains\" }\naction = \"anonymize\"\n\
             anonymize = { payload = \"null\" }\nunlink = true\n");
        assert!(e.contains("rule `log`: `unlink` does not apply"), "{e}");
        let anonymize = toml::from_str::<Rule>(
            "name = \"log\"\nposition = 87\ntable = \"log\"\n\
             subject = { email = \"payload\", match = \"contains\" }\naction = \"anonymize\"\n\
             anonymize = { payload = \"null\" }\n",
        )
        .expect("rule");
        match &anonymize.policy().steps()[0].action {
            crate::policy::Action::Update(changes) => assert!(!changes.unlink),
            other => panic!("an update, not {other:?}"),
        }
        assert!(rule.description().contains("mentioning the subject"));
    }

    #[test]
    fn a_parent_value_is_found_inside_text_through_a_correlated_subquery() {
        use crate::dialect::Dialect;
        use crate::subject::Subject;
        let rule = toml::from_str::<Rule>(
            "name = \"log\"\nposition = 88\ntable = \"log_entry\"\n\
             parent = { table = \"customer\", id = \"email\", column = \"context\", match = \"contains\" }\n\
             subject = { customer = \"id\" }\naction = \"delete\"\n",
        )
        .expect("rule");
        let policy = rule.policy();
        let condition = policy.steps()[0]
            .condition(&Subject::customer(7))
            .expect("a customer is reached");
        let sql = condition.to_sql();
        let (text, values) = sql.render(Dialect::Postgres);
        assert_eq!(
            text,
            r#"(EXISTS (SELECT 1 FROM "customer" WHERE "id" = $1 AND REPLACE(REPLACE(REPLACE(LOWER(CAST("customer"."email" AS TEXT)), '!', '!!'), '%', '!%'), '_', '!_') <> '' AND LOWER(CAST("log_entry"."context" AS TEXT)) LIKE ('%' || REPLACE(REPLACE(REPLACE(LOWER(CAST("customer"."email" AS TEXT)), '!', '!!'), '%', '!%'), '_', '!_') || '%') ESCAPE '!'))"#
        );
        assert_eq!(values, [&Value::Int(7)]);
        let (text, _) = sql.render(Dialect::MySql);
        assert!(
            text.contains(
                "LOWER(CONVERT(CONCAT(`log_entry`.`context`) USING utf8mb4)) COLLATE \
                 utf8mb4_bin LIKE CONCAT('%', REPLACE("
            ),
            "{text}"
        );
        // The footprint reads the parent's value and deletes the table's rows.
        let fp = policy.footprint();
        assert!(fp.covers(&crate::ident!("log_entry"), &crate::ident!("context")));
        let reads = format!("{fp:?}");
        assert!(
            reads.contains("customer") && reads.contains("email"),
            "{reads}"
        );
        // Binary ids as hex, per dialect.
        let hex = toml::from_str::<Rule>(
            "name = \"commits\"\nposition = 27\ntable = \"version_commit_data\"\n\
             parent = { table = \"order_address\", id = \"id\", column = \"entity_id\", match = \"contains_hex\", \
             parent = { table = \"order_customer\", id = \"order_id\", column = \"order_id\" } }\n\
             subject = { customer = \"customer_id\", email = \"email\" }\naction = \"delete\"\n",
        )
        .expect("rule");
        let condition = hex.policy().steps()[0]
            .condition(&Subject::guest("g@x.test").expect("guest"))
            .expect("condition");
        let sql = condition.to_sql();
        assert!(
            sql.render(Dialect::Postgres)
                .0
                .contains(r#"encode("order_address"."id", 'hex')"#)
        );
        assert!(
            sql.render(Dialect::Sqlite)
                .0
                .contains(r#"LOWER(HEX("order_address"."id"))"#)
        );
        // Read back as written; a table cannot mention itself.
        let again: Rule =
            toml::from_str(&toml::to_string(&hex).expect("write")).expect("read again");
        assert_eq!(again, hex);
        let e = err("name = \"self\"\nposition = 1\ntable = \"log\"\n\
             parent = { table = \"log\", id = \"email\", column = \"context\", match = \"contains\" }\n\
             subject = { customer = \"id\" }\naction = \"delete\"\n");
        assert!(
            e.contains("rule `self`: `parent` mentions its own table"),
            "{e}"
        );
    }
}
