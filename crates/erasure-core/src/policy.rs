//! A handler's policy, declared as data: which rows of which tables it deletes, anonymizes,
//! defers or keeps, and how it finds them.
//!
//! A [`Policy`] is a list of [`Step`]s, run in order. Each step names a table, how the subject's
//! rows are reached there ([`Reach`]: through the table's own subject columns, or through a parent
//! table), an optional row filter, and what happens to the rows. From that one declaration
//! follow the erasure (one set-based statement per step, through [`ErasureContext::apply`]),
//! the report (each step records its own counts), the export (the rows every step reaches,
//! through [`ExportContext::export_policy`]) and the footprint ([`Policy::footprint`]), so that
//! they cannot disagree.
//!
//! The standard handlers are policies, plus code where a policy is not enough (the B2B guard
//! reads before it decides). Declarative rules from a configuration file are policies of one
//! step. A custom handler can be one too:
//!
//! ```
//! use erasure_core::policy::{Policy, Reach, Step};
//! use erasure_core::{ident, Backend, DeletionHandler, SubjectColumns};
//!
//! struct LoyaltyPoints(Policy);
//!
//! impl LoyaltyPoints {
//!     fn new() -> Self {
//!         let subject = Reach::subject(SubjectColumns::customer(ident!("customer_id")));
//!         Self(Policy::new("no loyalty points for this kind of subject")
//!             .step(Step::delete(ident!("loyalty_points"), subject).key(ident!("id"))))
//!     }
//! }
//!
//! // Footprint, erase (and prepare) and export follow from the policy.
//! impl<DB: Backend> DeletionHandler<DB> for LoyaltyPoints {
//!     fn name(&self) -> &str { "loyalty-points" }
//!     fn description(&self) -> &str { "deletes the subject's loyalty points" }
//!     fn policy(&self) -> Option<&Policy> { Some(&self.0) }
//! }
//! ```
//!
//! [`ErasureContext::apply`]: crate::ErasureContext::apply
//! [`ExportContext::export_policy`]: crate::ExportContext::export_policy

use std::borrow::Cow;

use crate::dialect::Dialect;
use crate::footprint::Footprint;
use crate::ident::Ident;
use crate::mapping::{Anonymize, ChildTable};
use crate::sql::{Condition, Select};
use crate::subject::{Subject, SubjectColumns};
use crate::value::Value;

/// How the subject's rows of a table are found.
#[derive(Debug, Clone)]
pub enum Reach {
    /// Through the table's own subject columns (see [`Subject::condition`]).
    Subject(SubjectColumns),
    /// Through a parent table: the rows whose `column` holds the `key` of a parent row that the
    /// parent's own reach finds (order addresses through their order, wishlist items through
    /// their wishlist).
    Parent {
        /// The parent table.
        table: Ident,
        /// The parent's key column.
        key: Ident,
        /// How the parent's rows are found.
        reach: Box<Reach>,
        /// The column of this table holding the parent's key.
        column: Ident,
    },
    /// Through a parent table's value inside this table's text: the rows whose `column`
    /// contains the `value` of a parent row that the parent's own reach finds (log entries that
    /// mention the customer's email), compared as
    /// [`Matching::Contains`](crate::Matching::Contains) compares; with `hex`, the
    /// value's bytes as lowercase hex digits (a binary id inside JSON). No index serves it:
    /// every row of `table` is read.
    Mentions {
        /// The table whose rows are found (its column is qualified by it in the subquery).
        table: Ident,
        /// The parent table.
        parent: Ident,
        /// The parent's column whose value the text mentions.
        value: Ident,
        /// How the parent's rows are found.
        reach: Box<Reach>,
        /// The column of `table` holding the text.
        column: Ident,
        /// Whether the value is written as the hex digits of its bytes.
        hex: bool,
    },
    /// The rows `reach` finds for which `only` holds as well: a parent's rows of one kind (the
    /// customer rows that are guest accounts).
    Filtered {
        /// How the rows are found.
        reach: Box<Reach>,
        /// The filter, on the same table (values bound).
        only: Condition,
    },
}

/// Two reaches are the same when they find the same rows the same way; filters compare by the
/// statement they render and the values they bind.
impl PartialEq for Reach {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Reach::Subject(a), Reach::Subject(b)) => a == b,
            (
                Reach::Parent {
                    table,
                    key,
                    reach,
                    column,
                },
                Reach::Parent {
                    table: t,
                    key: k,
                    reach: r,
                    column: c,
                },
            ) => table == t && key == k && column == c && reach == r,
            (
                Reach::Mentions {
                    table,
                    parent,
                    value,
                    reach,
                    column,
                    hex,
                },
                Reach::Mentions {
                    table: t,
                    parent: p,
                    value: v,
                    reach: r,
                    column: c,
                    hex: h,
                },
            ) => (table, parent, value, column, hex) == (t, p, v, c, h) && reach == r,
            (Reach::Filtered { reach, only }, Reach::Filtered { reach: r, only: o }) => {
                let (a, b) = (only.to_sql(), o.to_sql());
                reach == r && a.render(Dialect::Sqlite) == b.render(Dialect::Sqlite)
            }
            _ => false,
        }
    }
}

impl Eq for Reach {}

impl Reach {
    /// Through the table's own subject columns.
    pub fn subject(columns: SubjectColumns) -> Self {
        Reach::Subject(columns)
    }

    /// Through the rows of `parent` (with key `key`) that `reach` finds, by this table's
    /// `column`.
    pub fn parent(parent: Ident, key: Ident, reach: Reach, column: Ident) -> Self {
        Reach::Parent {
            table: parent,
            key,
            reach: Box::new(reach),
            column,
        }
    }

    /// The rows `reach` finds for which `only` holds too.
    pub fn filtered(reach: Reach, only: Condition) -> Self {
        Reach::Filtered {
            reach: Box::new(reach),
            only,
        }
    }

    /// The children of `child` reached through their parent `parent` (key `key`), itself
    /// reached by `reach`.
    pub fn child(child: &ChildTable, parent: &Ident, key: &Ident, reach: Reach) -> Self {
        Reach::parent(parent.clone(), key.clone(), reach, child.parent.clone())
    }

    /// The condition selecting the subject's rows, or `None` when the table holds no data of
    /// this kind of subject.
    pub fn condition(&self, subject: &Subject) -> Option<Condition> {
        match self {
            Reach::Subject(columns) => subject.condition(columns),
            Reach::Parent {
                table,
                key,
                reach,
                column,
            } => {
                let parents = reach.condition(subject)?;
                Some(Condition::in_select(
                    column.clone(),
                    Select::column(table.clone(), key.clone()).filter(parents),
                ))
            }
            Reach::Mentions {
                table,
                parent,
                value,
                reach,
                column,
                hex,
            } => Some(crate::subject::mentions(
                table,
                column,
                parent,
                value,
                &reach.condition(subject)?,
                *hex,
            )),
            Reach::Filtered { reach, only } => Some(reach.condition(subject)?.and(only.clone())),
        }
    }

    /// The columns of the table itself that the reach reads.
    pub fn columns(&self) -> Vec<Ident> {
        match self {
            Reach::Subject(columns) => columns.columns().cloned().collect(),
            Reach::Parent { column, .. } | Reach::Mentions { column, .. } => vec![column.clone()],
            Reach::Filtered { reach, only } => {
                let mut columns = reach.columns();
                condition_columns(only, &mut columns);
                columns
            }
        }
    }

    /// The subject columns, when the rows are reached through their own.
    pub fn subject_columns(&self) -> Option<&SubjectColumns> {
        match self {
            Reach::Subject(columns) => Some(columns),
            Reach::Parent { .. } | Reach::Mentions { .. } => None,
            Reach::Filtered { reach, .. } => reach.subject_columns(),
        }
    }

    /// How deep the reach goes through parents (0 for the table's own subject columns).
    fn depth(&self) -> usize {
        match self {
            Reach::Subject(_) => 0,
            Reach::Parent { reach, .. } | Reach::Mentions { reach, .. } => 1 + reach.depth(),
            Reach::Filtered { reach, .. } => reach.depth(),
        }
    }

    /// Adds what the reach reads on the way (the parents' keys and subject columns).
    fn read_footprint(&self, mut fp: Footprint) -> Footprint {
        match self {
            Reach::Parent {
                table, key, reach, ..
            } => {
                let mut columns = vec![key.clone()];
                columns.extend(reach.columns());
                fp = fp.read(table.clone(), columns);
                reach.read_footprint(fp)
            }
            Reach::Mentions {
                parent,
                value,
                reach,
                ..
            } => {
                let mut columns = vec![value.clone()];
                columns.extend(reach.columns());
                fp = fp.read(parent.clone(), columns);
                reach.read_footprint(fp)
            }
            Reach::Filtered { reach, .. } => reach.read_footprint(fp),
            Reach::Subject(_) => fp,
        }
    }
}

/// A value a step writes into a column: a constant, or the run's clock reading.
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// A constant (`INVALID`, `true`).
    Value(Value),
    /// The run's clock reading (`invalidated_at`, `anonymized_at`).
    Now,
}

/// What a step does to the rows it reaches.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Deletes them.
    Delete,
    /// Updates them: personal columns replaced, links to the subject removed, marks set.
    Update(Changes),
    /// Reads one column of them and hands each value over to the chain's recorders as an
    /// identifier of `kind` (`email`), before a later step deletes them. Only when a recorder
    /// wants identifiers.
    Identify {
        /// The column.
        column: Ident,
        /// The kind of identifier.
        kind: &'static str,
    },
    /// Nothing during the erasure: the rows are exported, and left to a purge job that deletes
    /// them with their parent (order lines, basket items).
    Keep,
    /// Records the rows in the [deferral ledger](crate::ledger) for a purge job (counted as
    /// deferred), for tables without a column to mark them with. The step's [`key`](Step::key)
    /// names the key the ledger records. Runs before the steps that unlink the rows.
    Ledger,
    /// Locks the rows (`SELECT … FOR UPDATE`) before any handler writes, so that an insert
    /// referring to them waits for the erasure and then meets its foreign key, instead of
    /// locking them first and deadlocking with the erasure's deletes. Nothing on SQLite, whose
    /// write transaction holds the database lock.
    Lock,
}

impl Action {
    /// Whether the step runs in the prepare pass (before any handler writes) rather than in
    /// the erase pass.
    pub fn prepares(&self) -> bool {
        matches!(self, Action::Lock | Action::Identify { .. })
    }
}

/// The changes of an [`Action::Update`] and how its rows count in the report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Personal columns and what replaces them.
    pub anonymize: Anonymize,
    /// Whether the subject columns are unlinked (see [`Subject::link_columns`]).
    pub unlink: bool,
    /// Columns set to a mark (a status, a deletion flag, a timestamp).
    pub marks: Vec<(Ident, Mark)>,
    /// Whether the rows count as deferred (marked for a purge job).
    pub deferred: bool,
    /// Why the rows are retained, if they count as retained.
    pub retained: Option<Cow<'static, str>>,
}

impl Changes {
    /// Whether the rows count as anonymized: personal columns are replaced, or the link to the
    /// subject is removed without a deferral (a gift card that stays, without its holder).
    pub fn anonymizes(&self) -> bool {
        !self.anonymize.is_empty() || (self.unlink && !self.deferred)
    }
}

/// One table's part of a [`Policy`].
#[derive(Debug, Clone)]
pub struct Step {
    /// The table.
    pub table: Ident,
    /// How the subject's rows are found.
    pub reach: Reach,
    /// Which of those rows the step concerns (all when `None`).
    pub only: Option<Condition>,
    /// What happens to them.
    pub action: Action,
    /// The table's key, to export rows in a stable order (else ordered by the reach's columns).
    pub key: Option<Ident>,
    /// A note for the report when the step found rows (fixed text, never personal data).
    pub note_if_rows: Option<Cow<'static, str>>,
}

impl Step {
    fn new(table: Ident, reach: Reach, action: Action) -> Self {
        Self {
            table,
            reach,
            only: None,
            action,
            key: None,
            note_if_rows: None,
        }
    }

    /// Deletes the rows `reach` finds in `table`.
    pub fn delete(table: Ident, reach: Reach) -> Self {
        Self::new(table, reach, Action::Delete)
    }

    /// Replaces the personal columns `anonymize` of the rows `reach` finds in `table` (counted
    /// as anonymized).
    pub fn anonymize(table: Ident, reach: Reach, anonymize: Anonymize) -> Self {
        Self::new(
            table,
            reach,
            Action::Update(Changes {
                anonymize,
                ..Changes::default()
            }),
        )
    }

    /// Marks the rows `reach` finds in `table` for a purge job (counted as deferred); add the
    /// marks with [`mark`](Self::mark) and [`mark_now`](Self::mark_now).
    pub fn defer(table: Ident, reach: Reach) -> Self {
        Self::new(
            table,
            reach,
            Action::Update(Changes {
                deferred: true,
                ..Changes::default()
            }),
        )
    }

    /// Hands over `column` of the rows `reach` finds as identifiers of `kind`.
    pub fn identify(table: Ident, reach: Reach, column: Ident, kind: &'static str) -> Self {
        Self::new(table, reach, Action::Identify { column, kind })
    }

    /// Locks the rows `reach` finds before any handler writes (see [`Action::Lock`]).
    pub fn lock(table: Ident, reach: Reach) -> Self {
        Self::new(table, reach, Action::Lock)
    }

    /// Records the rows `reach` finds in `table` (key `key`) in the deferral ledger for a purge
    /// job (see [`Action::Ledger`]).
    pub fn defer_in_ledger(table: Ident, reach: Reach, key: Ident) -> Self {
        Self::new(table, reach, Action::Ledger).key(key)
    }

    /// Leaves the rows `reach` finds to a purge job; they are exported.
    pub fn keep(table: Ident, reach: Reach) -> Self {
        Self::new(table, reach, Action::Keep)
    }

    /// Only the rows matching `condition` (a status, a key-value row's key).
    pub fn only(mut self, condition: Condition) -> Self {
        self.only = Some(match self.only.take() {
            Some(c) => c.and(condition),
            None => condition,
        });
        self
    }

    /// The table's key, for a stable export order.
    pub fn key(mut self, key: Ident) -> Self {
        self.key = Some(key);
        self
    }

    /// A note for the report when the step found rows.
    pub fn note_if_rows(mut self, note: impl Into<Cow<'static, str>>) -> Self {
        self.note_if_rows = Some(note.into());
        self
    }

    fn changes(&mut self) -> &mut Changes {
        if !matches!(self.action, Action::Update(_)) {
            self.action = Action::Update(Changes::default());
        }
        match &mut self.action {
            Action::Update(changes) => changes,
            // Just made an update above.
            _ => unreachable!("the action was made an update"),
        }
    }

    /// Also replaces the personal columns `anonymize` (an update step).
    pub fn anonymizing(mut self, anonymize: &Anonymize) -> Self {
        self.changes()
            .anonymize
            .extend(anonymize.iter().map(|(c, r)| (c.clone(), r.clone())));
        self
    }

    /// Also removes the link to the subject (an update step reached through subject columns).
    pub fn unlink(mut self) -> Self {
        self.changes().unlink = true;
        self
    }

    /// Also sets `column` to `value` (an update step: on a delete, keep, lock or identify step
    /// this turns the step into an update, so call it on [`anonymize`](Self::anonymize) or
    /// [`defer`](Self::defer) steps).
    pub fn mark(mut self, column: Ident, value: impl Into<Value>) -> Self {
        self.changes()
            .marks
            .push((column, Mark::Value(value.into())));
        self
    }

    /// Also sets `column` to the run's clock reading (an update step).
    pub fn mark_now(mut self, column: Ident) -> Self {
        self.changes().marks.push((column, Mark::Now));
        self
    }

    /// Also counts the rows as deferred: marked for a purge job (an update step).
    pub fn deferred(mut self) -> Self {
        self.changes().deferred = true;
        self
    }

    /// Also counts the rows as retained, for `reason` (an update step).
    pub fn retained(mut self, reason: impl Into<Cow<'static, str>>) -> Self {
        self.changes().retained = Some(reason.into());
        self
    }

    /// The condition selecting this step's rows for `subject`, or `None` when the table holds
    /// no data of this kind of subject.
    pub fn condition(&self, subject: &Subject) -> Option<Condition> {
        let reached = self.reach.condition(subject)?;
        Some(match &self.only {
            Some(only) => reached.and(only.clone()),
            None => reached,
        })
    }

    fn footprint(&self, fp: Footprint) -> Footprint {
        let fp = self.reach.read_footprint(fp);
        let mut found = self.reach.columns();
        if let Some(only) = &self.only {
            condition_columns(only, &mut found);
        }
        match &self.action {
            Action::Delete => fp.delete(self.table.clone(), found),
            Action::Identify { column, .. } => {
                found.push(column.clone());
                fp.read(self.table.clone(), found)
            }
            Action::Keep | Action::Lock => fp.read(self.table.clone(), found),
            Action::Ledger => {
                if let Some(key) = &self.key {
                    found.push(key.clone());
                }
                let mut fp = fp.read(self.table.clone(), found);
                fp.extend(crate::ledger::footprint());
                fp
            }
            Action::Update(changes) => {
                let mut fp = fp.read(self.table.clone(), found);
                if !changes.anonymize.is_empty() {
                    fp = fp.anonymize(self.table.clone(), changes.anonymize.keys().cloned());
                }
                if !changes.marks.is_empty() {
                    fp = fp.mark(
                        self.table.clone(),
                        changes.marks.iter().map(|(c, _)| c.clone()),
                    );
                }
                if changes.unlink {
                    fp = fp.unlink(self.table.clone(), self.reach.columns());
                }
                fp
            }
        }
    }
}

/// A handler's policy: its steps, in the order they run. See the module docs.
#[derive(Debug, Clone)]
pub struct Policy {
    steps: Vec<Step>,
    nothing: Cow<'static, str>,
    /// The settings feature the erasure needs, and the note when it is off.
    feature: Option<(&'static str, Cow<'static, str>)>,
}

impl Policy {
    /// An empty policy; `nothing` is the note a report carries when no step applies to the kind
    /// of subject ("no wishlists for this kind of subject").
    pub fn new(nothing: impl Into<Cow<'static, str>>) -> Self {
        Self {
            steps: Vec::new(),
            nothing: nothing.into(),
            feature: None,
        }
    }

    /// Erases only while the settings feature `feature` is on
    /// ([`Settings::is_enabled`](crate::Settings::is_enabled)); when it is off, no step runs
    /// and the report carries `off` (a shop without the feature need not have its tables).
    pub fn only_with(mut self, feature: &'static str, off: impl Into<Cow<'static, str>>) -> Self {
        self.feature = Some((feature, off.into()));
        self
    }

    /// The settings feature the erasure needs, if any, and the note when it is off.
    pub fn feature(&self) -> Option<(&'static str, &str)> {
        self.feature.as_ref().map(|(f, off)| (*f, off.as_ref()))
    }

    /// With `step` after the others.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Adds `step` after the others.
    pub fn push(&mut self, step: Step) -> &mut Self {
        self.steps.push(step);
        self
    }

    /// The steps, in the order they run.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The note for a subject no step applies to.
    pub fn nothing(&self) -> &str {
        &self.nothing
    }

    /// Whether the policy has steps for the prepare pass.
    pub fn prepares(&self) -> bool {
        self.steps.iter().any(|s| s.action.prepares())
    }

    /// Whether any step applies to `subject`'s kind.
    pub fn applies_to(&self, subject: &Subject) -> bool {
        self.steps
            .iter()
            .any(|s| s.reach.condition(subject).is_some())
    }

    /// What the policy touches, derived from its steps.
    pub fn footprint(&self) -> Footprint {
        self.steps
            .iter()
            .fold(Footprint::new(), |fp, step| step.footprint(fp))
    }

    /// The tables the export writes, in order (parents before the rows reached through them),
    /// each once with every step's filter on it: a table whose rows the policy splits (redeemed
    /// cashbacks kept, others deleted) is exported whole.
    pub fn export_tables(&self) -> Vec<ExportTable<'_>> {
        let mut tables: Vec<ExportTable<'_>> = Vec::new();
        for step in &self.steps {
            if step.action.prepares() || matches!(step.action, Action::Ledger) {
                continue;
            }
            match tables
                .iter_mut()
                .find(|t| t.table == &step.table && t.reach == &step.reach)
            {
                Some(t) => {
                    t.only = match (t.only.take(), &step.only) {
                        (Some(a), Some(b)) => Some(a.or(b.clone())),
                        // One step takes every row: so does the export.
                        _ => None,
                    };
                    t.key = t.key.or(step.key.as_ref());
                }
                None => tables.push(ExportTable {
                    table: &step.table,
                    reach: &step.reach,
                    only: step.only.clone(),
                    key: step.key.as_ref(),
                }),
            }
        }
        tables.sort_by_key(|t| t.reach.depth());
        tables
    }
}

/// One table of a policy's export: see [`Policy::export_tables`].
#[derive(Debug, Clone)]
pub struct ExportTable<'a> {
    /// The table.
    pub table: &'a Ident,
    /// How its rows are found.
    pub reach: &'a Reach,
    /// Which of them (all when `None`).
    pub only: Option<Condition>,
    /// Its key, for the order.
    pub key: Option<&'a Ident>,
}

impl ExportTable<'_> {
    /// The select of the subject's rows, every column, in a stable order; `None` when the table
    /// holds no data of this kind of subject.
    pub fn select(&self, subject: &Subject) -> Option<Select> {
        let mut filter = self.reach.condition(subject)?;
        if let Some(only) = &self.only {
            filter = filter.and(only.clone());
        }
        let order: Vec<Ident> = match self.key {
            Some(key) => vec![key.clone()],
            None => self.reach.columns(),
        };
        Some(
            Select::columns(self.table.clone(), [])
                .filter(filter)
                .order_by(order),
        )
    }
}

/// Collects the columns a condition reads (subqueries excluded: they read other tables).
fn condition_columns(condition: &Condition, out: &mut Vec<Ident>) {
    let mut add = |c: &Ident| {
        if !out.contains(c) {
            out.push(c.clone());
        }
    };
    match condition {
        Condition::Eq(c, _)
        | Condition::Ne(c, _)
        | Condition::Compare(c, _, _)
        | Condition::In(c, _)
        | Condition::NotIn(c, _)
        | Condition::InSelect(c, _)
        | Condition::IsNull(c)
        | Condition::IsNotNull(c)
        | Condition::Test(c, _) => add(c),
        Condition::And(items) | Condition::Or(items) => {
            for item in items {
                condition_columns(item, out);
            }
        }
        Condition::Not(inner) => condition_columns(inner, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident;

    fn wishlists() -> Policy {
        let lists = Reach::subject(SubjectColumns::customer_user(
            ident!("customer_id"),
            ident!("user_id"),
        ));
        Policy::new("no wishlists for this kind of subject")
            .step(Step::delete(
                ident!("wishlist_items"),
                Reach::parent(
                    ident!("wishlists"),
                    ident!("id"),
                    lists.clone(),
                    ident!("wishlist_id"),
                ),
            ))
            .step(Step::delete(ident!("wishlists"), lists).key(ident!("id")))
    }

    #[test]
    fn the_footprint_follows_from_the_steps() {
        let fp = wishlists().footprint();
        assert!(fp.covers(&ident!("wishlists"), &ident!("name")));
        assert!(fp.covers(&ident!("wishlist_items"), &ident!("sku")));
        assert!(!fp.covers(&ident!("orders"), &ident!("email")));
    }

    #[test]
    fn the_export_takes_parents_first_and_each_table_once() {
        let split = Policy::new("none")
            .step(
                Step::delete(
                    ident!("cashbacks"),
                    Reach::subject(SubjectColumns::customer(ident!("customer_id"))),
                )
                .only(Condition::ne(ident!("status"), "REDEEMED")),
            )
            .step(
                Step::anonymize(
                    ident!("cashbacks"),
                    Reach::subject(SubjectColumns::customer(ident!("customer_id"))),
                    crate::mapping::nulls([ident!("iban")]),
                )
                .unlink(),
            );
        let tables = split.export_tables();
        assert_eq!(tables.len(), 1);
        assert!(
            tables[0].only.is_none(),
            "the union of both steps is every row"
        );
        let policy = wishlists();
        let tables = policy.export_tables();
        let names: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
        assert_eq!(names, ["wishlists", "wishlist_items"]);
    }

    #[test]
    fn a_guest_is_reached_only_through_an_email_column() {
        let guest = Subject::guest("g@example.test").expect("guest");
        assert!(!wishlists().applies_to(&guest));
        assert!(wishlists().applies_to(&Subject::customer(1)));
    }
}
