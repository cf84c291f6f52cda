//! What a handler sees while it runs.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::backend::{Backend, Row};
use crate::erasure::{Erasure, Mode, Reason};
use crate::error::HandlerError;
use crate::ident::Ident;
use crate::outcome::{Action, Outcome};
use crate::policy::{Action as PolicyAction, Changes, Mark, Policy, Step};
use crate::pseudonym::Pseudonymizer;
use crate::recorder::Identifier;
use crate::replacement::Replacement;
use crate::settings::Settings;
use crate::sql::{Condition, Delete, Select, Sql, Update};
use crate::subject::{Subject, SubjectColumns};
use crate::value::Value;

/// What stays the same for every handler of one run.
#[derive(Debug)]
pub(crate) struct RunInfo<'a> {
    pub(crate) erasure: &'a Erasure,
    pub(crate) run_id: Uuid,
    pub(crate) mode: Mode,
    pub(crate) now: DateTime<Utc>,
    pub(crate) settings: &'a Settings,
    pub(crate) pseudonymizer: &'a Pseudonymizer,
    pub(crate) wants_identifiers: bool,
    /// Whether a handler's neighbouring lock steps may be sent as one statement (on
    /// PostgreSQL, where [`Backend::JOINS_WRITES`]; off with the chain's joining).
    pub(crate) join_locks: bool,
}

/// The context of one handler in one run: the connection inside the chain's transaction, the
/// subject, the run's clock reading, run id, mode and settings.
///
/// The connection is inside a transaction the chain owns. A handler must not commit or roll it
/// back (sqlx's `Transaction` API is not reachable from here, and a `COMMIT` sent as raw SQL
/// would break the promise that a failure rolls back everything).
///
/// ```
/// use erasure_core::{Backend, ErasureContext, HandlerError, Outcome, ident, SubjectColumns};
///
/// async fn delete_alerts<DB: Backend>(
///     cx: &mut ErasureContext<'_, DB>,
/// ) -> Result<Outcome, HandlerError> {
///     let cols = SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id"));
///     let Some(filter) = cx.subject_filter(&cols, "guests have no alerts") else {
///         return cx.done();
///     };
///     cx.delete(&ident!("alerts"), filter).await?;
///     cx.done()
/// }
/// ```
pub struct ErasureContext<'c, DB: Backend> {
    conn: &'c mut DB::Connection,
    run: &'c RunInfo<'c>,
    statements: u32,
    events: Vec<(String, serde_json::Value)>,
    identifiers: Vec<Identifier>,
    outcome: Outcome,
}

impl<'c, DB: Backend> ErasureContext<'c, DB> {
    pub(crate) fn new(conn: &'c mut DB::Connection, run: &'c RunInfo<'c>) -> Self {
        Self {
            conn,
            run,
            statements: 0,
            events: Vec::new(),
            identifiers: Vec::new(),
            outcome: Outcome::new(),
        }
    }

    /// What the verbs recorded, for the chain (which merges it with what the handler returned).
    pub(crate) fn take_outcome(&mut self) -> Outcome {
        std::mem::take(&mut self.outcome)
    }

    /// The events and identifiers handed over, for the chain.
    pub(crate) fn take_collected(&mut self) -> (Vec<(String, serde_json::Value)>, Vec<Identifier>) {
        (
            std::mem::take(&mut self.events),
            std::mem::take(&mut self.identifiers),
        )
    }

    /// Asks that a downstream system (`destination`: `newsletter`, `search-index`) be told to
    /// erase the subject too, with the `data` it needs to find them there. The chain's
    /// [recorders](crate::recorder) write the request (an outbox, for example) in the erasure's
    /// transaction: it exists if and only if the erasure commits. Ignored in a dry run and by a
    /// chain without a recorder that takes events.
    pub fn emit(&mut self, destination: impl Into<String>, data: serde_json::Value) {
        self.events.push((destination.into(), data));
    }

    /// Whether a [recorder](crate::recorder::Recorder) of the chain keeps identifiers (a
    /// suppression list). Skip reads that only find identifiers when it is `false`.
    pub fn wants_identifiers(&self) -> bool {
        self.run.wants_identifiers
    }

    /// Hands over an identifier the subject used (`kind` `"email"`: their account email), for
    /// recorders that keep keyed hashes of them. Ignored unless
    /// [`wants_identifiers`](Self::wants_identifiers).
    pub fn identifier(&mut self, kind: &'static str, value: impl Into<String>) {
        if self.run.wants_identifiers {
            self.identifiers.push(Identifier {
                kind: kind.into(),
                value: value.into(),
            });
        }
    }

    /// The erasure being carried out.
    ///
    /// The borrow is not tied to the context, so a handler can hold the subject while it runs
    /// statements.
    pub fn erasure(&self) -> &'c Erasure {
        self.run.erasure
    }

    /// Whose data goes (not tied to the borrow of the context, as for [`erasure`](Self::erasure)).
    pub fn subject(&self) -> &'c Subject {
        self.run.erasure.subject()
    }

    /// Why.
    pub fn reason(&self) -> Reason {
        self.run.erasure.reason()
    }

    /// This run's id (also in the report and in traces).
    pub fn run_id(&self) -> Uuid {
        self.run.run_id
    }

    /// Whether this run commits or is a dry run. Handlers normally ignore it: a dry run executes
    /// the same statements and is rolled back by the chain.
    pub fn mode(&self) -> Mode {
        self.run.mode
    }

    /// The run's clock reading, taken once when the run started.
    pub fn now(&self) -> DateTime<Utc> {
        self.run.now
    }

    /// The chain's settings.
    pub fn settings(&self) -> &'c Settings {
        self.run.settings
    }

    /// The condition selecting the subject's rows in a table with subject columns `cols`, or
    /// `None` if the table holds no data of this kind of subject. See [`Subject::condition`].
    /// A handler's step usually wants [`subject_filter`](Self::subject_filter), which also notes why there is nothing.
    pub fn subject_condition(&self, cols: &SubjectColumns) -> Option<Condition> {
        self.subject().condition(cols)
    }

    /// A keyed pseudonym of the subject in `domain` (for example `"orders.email"`), for
    /// pseudonymizing replacement values: stable for the same subject, key and domain, and
    /// unrelated across domains. Pseudonymization, not anonymization: whoever holds the key and
    /// the subject's id can recompute it.
    pub fn pseudonym(&self, domain: &str) -> String {
        self.run
            .pseudonymizer
            .pseudonym(domain, self.subject().canonical().as_bytes())
    }

    /// An update of `table`'s rows matching `filter` that writes each column's [`Replacement`]
    /// and sets `unlink` columns to `NULL`. Not executed: add assignments (a deletion mark, a
    /// timestamp) and pass it to [`update`](Self::update).
    ///
    /// ```
    /// # use erasure_core::{Action, Backend, ErasureContext, HandlerError, ident, Outcome,
    /// #     Replacement, SubjectColumns};
    /// # use std::collections::BTreeMap;
    /// async fn scrub<DB: Backend>(cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
    ///     let cols = SubjectColumns::customer(ident!("customer_id"));
    ///     let Some(filter) = cx.subject_filter(&cols, "guests have no subscriptions") else {
    ///         return cx.done();
    ///     };
    ///     let table = ident!("newsletter");
    ///     let columns = BTreeMap::from([(ident!("email"), Replacement::Null)]);
    ///     let link = cx.subject().link_columns(&cols);
    ///     let update = cx.anonymize(&table, filter, &columns, &link);
    ///     cx.update(&table, update, &[Action::Anonymized]).await?;
    ///     cx.done()
    /// }
    /// ```
    pub fn anonymize<'a>(
        &self,
        table: &Ident,
        filter: Condition,
        columns: impl IntoIterator<Item = (&'a Ident, &'a Replacement)>,
        unlink: &[&Ident],
    ) -> Update {
        let mut update = Update::new(table.clone(), filter);
        for (column, replacement) in columns {
            let assignment = replacement.assignment(|domain| self.pseudonym(domain), table, column);
            update = update.assign(column.clone(), assignment);
        }
        for column in unlink {
            update = update.set((*column).clone(), Value::Null);
        }
        update
    }

    /// Executes a statement inside the chain's transaction; returns the rows affected.
    ///
    /// # Errors
    ///
    /// [`HandlerError::Database`] when the statement fails.
    pub async fn execute(&mut self, statement: impl Into<Sql>) -> Result<u64, HandlerError> {
        let sql = statement.into();
        self.statements += 1;
        Ok(DB::execute(self.conn, &sql).await?)
    }

    /// Runs a query inside the chain's transaction; returns its rows.
    ///
    /// # Errors
    ///
    /// [`HandlerError::Database`] when the query fails.
    pub async fn fetch_all(&mut self, statement: impl Into<Sql>) -> Result<Vec<Row>, HandlerError> {
        let sql = statement.into();
        self.statements += 1;
        Ok(DB::fetch_all(self.conn, &sql).await?)
    }

    /// Runs a `SELECT COUNT(*) …` (or any query whose first column of the first row is an
    /// integer) and returns that number; 0 for no rows.
    ///
    /// # Errors
    ///
    /// [`HandlerError::Database`] when the query fails, [`HandlerError::Config`] when the first
    /// column is not an integer.
    pub async fn fetch_count(&mut self, statement: impl Into<Sql>) -> Result<u64, HandlerError> {
        let rows = self.fetch_all(statement).await?;
        match rows.first().and_then(|r| r.get_index(0)) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Int(n)) => Ok(u64::try_from(*n).unwrap_or(0)),
            Some(_) => Err(HandlerError::Config(
                "a count query returned a non-integer".into(),
            )),
        }
    }

    /// The raw connection, inside the chain's transaction, for statements the builders do not
    /// cover. Bind every value; see the module docs of [`crate::sql`] for why.
    pub fn connection(&mut self) -> &mut DB::Connection {
        self.conn
    }

    /// How many statements this handler ran through [`execute`](Self::execute),
    /// [`fetch_all`](Self::fetch_all) and [`fetch_count`](Self::fetch_count).
    pub fn statements(&self) -> u32 {
        self.statements
    }

    // The verbs: each runs one set-based statement and records its own outcome in the report.

    /// Adds a note to this handler's report: fixed text for operators, never personal data.
    pub fn note(&mut self, note: impl Into<Cow<'static, str>>) {
        self.outcome.push_note(note);
    }

    /// Records `rows` of `table` under `action` in this handler's report, for work the verbs do
    /// not describe.
    pub fn record(&mut self, table: &Ident, action: Action, rows: u64) {
        self.outcome.record(table.clone(), action, rows);
    }

    /// The condition selecting the subject's rows in a table with subject columns `cols`; when
    /// the table holds no data of this kind of subject, notes `nothing` in the report and
    /// returns `None`.
    ///
    /// ```
    /// # use erasure_core::{Backend, ErasureContext, HandlerError, Outcome, ident, SubjectColumns};
    /// async fn erase<DB: Backend>(cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
    ///     let cols = SubjectColumns::customer(ident!("customer_id"));
    ///     let Some(filter) = cx.subject_filter(&cols, "no alerts for this kind of subject") else {
    ///         return cx.done();
    ///     };
    ///     cx.delete(&ident!("alerts"), filter).await?;
    ///     cx.done()
    /// }
    /// ```
    pub fn subject_filter(
        &mut self,
        cols: &SubjectColumns,
        nothing: impl Into<Cow<'static, str>>,
    ) -> Option<Condition> {
        let filter = self.subject().condition(cols);
        if filter.is_none() {
            self.note(nothing);
        }
        filter
    }

    /// Deletes the rows of `table` matching `filter`; records them as deleted and returns how
    /// many.
    ///
    /// # Errors
    ///
    /// [`HandlerError::Database`] when the statement fails.
    pub async fn delete(&mut self, table: &Ident, filter: Condition) -> Result<u64, HandlerError> {
        let n = self.execute(Delete::new(table.clone(), filter)).await?;
        self.record(table, Action::Deleted, n);
        Ok(n)
    }

    /// Runs `update` (built with [`anonymize`](Self::anonymize) or
    /// [`Update`](crate::sql::Update)) on `table` and records its rows under each of
    /// `actions` (an anonymized order that is also marked for the purge job counts as both).
    ///
    /// # Errors
    ///
    /// [`HandlerError::Database`] when the statement fails.
    pub async fn update(
        &mut self,
        table: &Ident,
        update: Update,
        actions: &[Action],
    ) -> Result<u64, HandlerError> {
        let n = self.execute(update).await?;
        for action in actions {
            self.record(table, action.clone(), n);
        }
        Ok(n)
    }

    /// Carries out `policy` (see [`crate::policy`]): one statement per step, in order, each
    /// recording its rows; notes the policy's `nothing` when no step applies to this kind of
    /// subject. Returns the recorded outcome, as [`done`](Self::done) does.
    ///
    /// # Errors
    ///
    /// The first statement that fails.
    pub async fn apply(&mut self, policy: &Policy) -> Result<Outcome, HandlerError> {
        if self.switched_off(policy) {
            return self.done();
        }
        if !policy.applies_to(self.subject()) {
            self.note(policy.nothing().to_owned());
            return self.done();
        }
        for step in policy.steps().iter().filter(|s| !s.action.prepares()) {
            self.apply_step(step).await?;
        }
        self.done()
    }

    /// The prepare pass of `policy` (see [`DeletionHandler::prepare`](crate::DeletionHandler::prepare)):
    /// its lock and identify steps, in order.
    ///
    /// # Errors
    ///
    /// The first statement that fails.
    pub async fn prepare(&mut self, policy: &Policy) -> Result<(), HandlerError> {
        if policy
            .feature()
            .is_some_and(|(feature, _)| !self.settings().is_enabled(feature))
        {
            return Ok(());
        }
        let steps: Vec<&Step> = policy
            .steps()
            .iter()
            .filter(|s| s.action.prepares())
            .collect();
        let mut rest = &steps[..];
        while let Some((&first, others)) = rest.split_first() {
            let locks = if self.run.join_locks && DB::JOINS_WRITES {
                rest.iter()
                    .take_while(|s| matches!(s.action, PolicyAction::Lock))
                    .count()
            } else {
                0
            };
            if locks > 1 {
                self.lock_joined(&rest[..locks]).await?;
                rest = &rest[locks..];
            } else {
                self.apply_step(first).await?;
                rest = others;
            }
        }
        Ok(())
    }

    /// Carries out one step of a policy (see [`apply`](Self::apply)); returns the rows it
    /// touched (0 when the table holds no data of this kind of subject).
    ///
    /// # Errors
    ///
    /// [`HandlerError::Database`] when the statement fails.
    pub async fn apply_step(&mut self, step: &Step) -> Result<u64, HandlerError> {
        let Some(filter) = step.condition(self.subject()) else {
            return Ok(0);
        };
        let rows = match &step.action {
            PolicyAction::Keep => 0,
            PolicyAction::Lock => match Self::lock_select(step, filter) {
                Some(select) => self.fetch_all(select).await?.len() as u64,
                None => 0,
            },
            PolicyAction::Identify { column, kind } => {
                self.collect_identifiers(step, filter, column, kind).await?
            }
            PolicyAction::Delete | PolicyAction::Ledger | PolicyAction::Update(_) => {
                let Some(write) = self.write(step, filter)? else {
                    return Ok(0);
                };
                let n = self.execute(write.sql).await?;
                for action in write.actions {
                    self.record(&step.table, action, n);
                }
                n
            }
        };
        self.noted(step, rows);
        Ok(rows)
    }

    /// Notes what `step` says when it touched rows.
    fn noted(&mut self, step: &Step, rows: u64) {
        if rows > 0
            && let Some(note) = &step.note_if_rows
        {
            self.note(note.clone());
        }
    }

    /// The statement of a [`PolicyAction::Lock`] step, whose rows `filter` selects: they are
    /// locked for the rest of the transaction (`SELECT … FOR UPDATE`). `None` when the write
    /// transaction already holds the lock of the whole database
    /// ([`Backend::LOCKS_WHOLE_DATABASE`], SQLite), or the step names no column.
    fn lock_select(step: &Step, filter: Condition) -> Option<Select> {
        if DB::LOCKS_WHOLE_DATABASE {
            return None;
        }
        let column = step.key.clone().or_else(|| step.reach.columns().pop())?;
        Some(
            Select::column(step.table.clone(), column)
                .filter(filter)
                .for_update(),
        )
    }

    /// Neighbouring lock steps as one statement where the backend joins statements
    /// ([`Backend::count_joined`]; on PostgreSQL `WITH "l0" AS (SELECT … FOR UPDATE), "l1" AS
    /// (…) SELECT (SELECT count(*) FROM "l0"), …`): one round trip instead of one per table. The
    /// outer query reads its subqueries in order, so the rows are locked in the steps' order, as
    /// one at a time; each step counts the rows it locked, as alone.
    async fn lock_joined(&mut self, steps: &[&Step]) -> Result<(), HandlerError> {
        let subject = self.subject();
        let (locking, selects): (Vec<&Step>, Vec<Sql>) = steps
            .iter()
            .filter_map(|&step| {
                let select = Self::lock_select(step, step.condition(subject)?)?;
                Some((step, select.to_sql()))
            })
            .unzip();
        // Each lock counts as a statement of the handler's, as when sent alone (and as joined
        // writes count): the report says what ran, not how it travelled.
        self.statements += u32::try_from(selects.len()).unwrap_or(u32::MAX);
        let counts = DB::count_joined(self.conn, &selects).await?;
        for (step, locked) in locking.into_iter().zip(counts) {
            self.noted(step, locked);
        }
        Ok(())
    }

    /// A [`PolicyAction::Identify`] step: the text values of `column` are collected as
    /// identifiers of `kind`, when the erasure wants them (for the suppression list).
    async fn collect_identifiers(
        &mut self,
        step: &Step,
        filter: Condition,
        column: &Ident,
        kind: &'static str,
    ) -> Result<u64, HandlerError> {
        if !self.wants_identifiers() {
            return Ok(0);
        }
        let select = Select::column(step.table.clone(), column.clone()).filter(filter);
        let rows = self.fetch_all(select).await?;
        for row in &rows {
            if let Some(Value::Text(value)) = row.get_index(0) {
                self.identifier(kind, value.clone());
            }
        }
        Ok(rows.len() as u64)
    }

    /// Whether `policy` needs a settings feature that is off; notes it when so.
    fn switched_off(&mut self, policy: &Policy) -> bool {
        match policy.feature() {
            Some((feature, off)) if !self.settings().is_enabled(feature) => {
                self.note(off.to_owned());
                true
            }
            _ => false,
        }
    }

    /// The statement of a step that writes (delete, ledger, update), with what its rows count
    /// as; `None` when it has nothing to write (an update with no column to change).
    fn write(&self, step: &Step, filter: Condition) -> Result<Option<Write>, HandlerError> {
        let (sql, actions) = match &step.action {
            PolicyAction::Delete => (
                Sql::from(Delete::new(step.table.clone(), filter)),
                vec![Action::Deleted],
            ),
            PolicyAction::Ledger => {
                let Some(key) = &step.key else {
                    return Err(HandlerError::Config(
                        "a ledger step needs the table's key".into(),
                    ));
                };
                let now = Value::Timestamp(self.now());
                (
                    crate::ledger::defer(&step.table, key, &filter, now),
                    vec![Action::Deferred],
                )
            }
            PolicyAction::Update(changes) => {
                let update = self.update_for(step, filter, changes);
                if update.is_empty() {
                    // Nothing to write (a mapping with no personal columns and no link).
                    return Ok(None);
                }
                (Sql::from(update), changes_actions(changes))
            }
            PolicyAction::Keep | PolicyAction::Lock | PolicyAction::Identify { .. } => {
                return Ok(None);
            }
        };
        Ok(Some(Write {
            sql,
            actions,
            note_if_rows: step.note_if_rows.clone(),
        }))
    }

    /// One `UPDATE` that anonymizes, unlinks and marks the rows `filter` selects.
    fn update_for(&self, step: &Step, filter: Condition, changes: &Changes) -> Update {
        let mut update = self.anonymize(&step.table, filter, &changes.anonymize, &[]);
        if let (true, Some(cols)) = (changes.unlink, step.reach.subject_columns()) {
            for (column, value) in self.subject().unlink(cols) {
                update = update.set(column, value);
            }
        }
        for (column, mark) in &changes.marks {
            let value = match mark {
                Mark::Value(v) => v.clone(),
                Mark::Now => Value::Timestamp(self.now()),
            };
            update = update.set(column.clone(), value);
        }
        update
    }

    /// The statements the erase pass of `policy` writes, in order, without running them: the
    /// chain sends them together with other handlers' (one round trip on SQLite) and records
    /// their rows as [`apply`](Self::apply) would. Notes the policy's `nothing` when no step
    /// applies to this kind of subject.
    pub(crate) fn plan(&mut self, policy: &Policy) -> Result<Vec<(Ident, Write)>, HandlerError> {
        if self.switched_off(policy) {
            return Ok(Vec::new());
        }
        if !policy.applies_to(self.subject()) {
            self.note(policy.nothing().to_owned());
            return Ok(Vec::new());
        }
        let mut writes = Vec::new();
        for step in policy.steps().iter().filter(|s| !s.action.prepares()) {
            let Some(filter) = step.condition(self.subject()) else {
                continue;
            };
            if let Some(write) = self.write(step, filter)? {
                writes.push((step.table.clone(), write));
            }
        }
        Ok(writes)
    }

    /// Ends the handler: returns what the verbs recorded (the chain also merges whatever a
    /// handler returns on its own).
    ///
    /// # Errors
    ///
    /// Never; the `Result` is for `return cx.done();` in handlers.
    pub fn done(&mut self) -> Result<Outcome, HandlerError> {
        Ok(self.take_outcome())
    }
}

impl<DB: Backend> fmt::Debug for ErasureContext<'_, DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErasureContext")
            .field("run_id", &self.run.run_id)
            .field("mode", &self.run.mode)
            .field("subject", &self.subject())
            .field("now", &self.run.now)
            .finish_non_exhaustive()
    }
}

/// A statement a step writes, with what its rows count as in the handler's report.
#[derive(Debug)]
pub(crate) struct Write {
    pub(crate) sql: Sql,
    pub(crate) actions: Vec<Action>,
    pub(crate) note_if_rows: Option<Cow<'static, str>>,
}

/// What the rows of an update with `changes` count as: anonymized, deferred and/or retained.
fn changes_actions(changes: &Changes) -> Vec<Action> {
    let mut actions = Vec::new();
    if changes.anonymizes() {
        actions.push(Action::Anonymized);
    }
    if changes.deferred {
        actions.push(Action::Deferred);
    }
    if let Some(reason) = &changes.retained {
        actions.push(Action::Retained {
            reason: reason.clone(),
        });
    }
    actions
}
