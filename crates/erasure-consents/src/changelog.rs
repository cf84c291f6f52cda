//! The change log of customer data: which fields of a customer or user changed, who changed
//! them, how and when; never the values. With the consent changes it makes a subject's
//! timeline.

use std::fmt;

use chrono::{DateTime, SubsecRound as _, Utc};
use erasure_core::sql::{Condition, Insert, Select};
use erasure_core::transaction::{Isolation, Lease, Tx};
use erasure_core::{Backend, Row, Value};
use serde::Serialize;
use sqlx::Pool;

use crate::columns::{self as col, data_changes};
use crate::error::{ConsentError, Operation};
use crate::model::{ConsentRecord, ConsentSubject, Source};
use crate::store::Consents;

/// The most fields one change names.
pub const MAX_FIELDS: usize = 64;

/// Who made a change to a subject's data.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Actor {
    /// The person themself (in their account, at the checkout).
    Subject,
    /// A member of staff, by the shop's id for them (not their name).
    Operator(String),
    /// A scheduled job or process of the shop, by name.
    System(String),
    /// Another system (an ERP, a CRM sync), by name.
    Integration(String),
}

impl fmt::Debug for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::Subject => "subject",
            Actor::Operator(_) => "operator",
            Actor::System(_) => "system",
            Actor::Integration(_) => "integration",
        }
    }

    fn id(&self) -> Option<&str> {
        match self {
            Actor::Subject => None,
            Actor::Operator(id) | Actor::System(id) | Actor::Integration(id) => Some(id),
        }
    }

    fn from_columns(kind: &str, id: Option<&str>) -> Option<Self> {
        Some(match (kind, id) {
            ("subject", _) => Actor::Subject,
            ("operator", Some(id)) => Actor::Operator(id.to_owned()),
            ("system", Some(id)) => Actor::System(id.to_owned()),
            ("integration", Some(id)) => Actor::Integration(id.to_owned()),
            _ => return None,
        })
    }
}

/// A change to a customer's or user's data: the names of the fields, never their values.
///
/// ```
/// use chrono::Utc;
/// use erasure_consents::{Actor, DataChange, Source};
/// let change = DataChange::new(["email", "phone"], Actor::Subject, Source::Account, Utc::now());
/// assert_eq!(change.fields, ["email", "phone"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataChange {
    /// The fields changed: lower-case names (`email`, `billing_address.city`), 1 to 64 of them.
    pub fields: Vec<String>,
    /// Who changed them.
    pub actor: Actor,
    /// Where (the account page, the checkout, an import, the back office, the API).
    pub source: Source,
    /// When.
    pub at: DateTime<Utc>,
}

impl DataChange {
    /// A change of `fields` by `actor`.
    pub fn new<I, S>(fields: I, actor: Actor, source: Source, at: DateTime<Utc>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            fields: fields.into_iter().map(Into::into).collect(),
            actor,
            source,
            at,
        }
    }

    fn validated(&self) -> Result<DataChange, ConsentError> {
        let invalid = |field, problem| ConsentError::Invalid {
            op: Operation::Record,
            field,
            problem,
        };
        if self.fields.is_empty() {
            return Err(invalid("fields", "is empty: name the fields that changed"));
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(invalid("fields", "names more than 64 fields"));
        }
        let mut fields: Vec<String> = Vec::with_capacity(self.fields.len());
        for name in &self.fields {
            let ok = (1..=64).contains(&name.len())
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
                });
            if !ok {
                // A field name is checked as a name: a value passed by mistake is refused.
                return Err(invalid(
                    "fields",
                    "holds a name that is not 1 to 64 lower-case letters, digits, `_`, `.` or `-`",
                ));
            }
            if !fields.contains(name) {
                fields.push(name.clone());
            }
        }
        if let Some(id) = self.actor.id() {
            let ok = (1..=64).contains(&id.len())
                && !id.chars().any(char::is_control)
                && id.trim() == id;
            if !ok {
                return Err(invalid(
                    "actor",
                    "id is not 1 to 64 bytes without control characters or surrounding whitespace",
                ));
            }
        }
        Ok(DataChange {
            fields,
            actor: self.actor.clone(),
            source: self.source,
            at: self.at.trunc_subsecs(6),
        })
    }
}

/// One entry of the change log, as [`Consents::data_changes`] returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataChangeRecord {
    /// The insertion sequence.
    pub seq: i64,
    /// The fields changed.
    pub fields: Vec<String>,
    /// Who changed them.
    pub actor: Actor,
    /// Where.
    pub source: Source,
    /// When.
    pub at: DateTime<Utc>,
}

/// One event of a subject's timeline: a consent change or a change to their data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TimelineEntry {
    /// A consent given or withdrawn.
    Consent(ConsentRecord),
    /// Fields of the subject's data changed.
    Data(DataChangeRecord),
}

impl TimelineEntry {
    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            TimelineEntry::Consent(c) => c.at,
            TimelineEntry::Data(d) => d.at,
        }
    }
}

fn not_an_email(op: Operation) -> ConsentError {
    ConsentError::Invalid {
        op,
        field: "subject",
        problem: "is a subscriber known by email; the change log is of customers and users",
    }
}

impl<DB: Backend> Consents<DB> {
    /// Records that `change.fields` of `subject` (a customer or one user) changed, in a
    /// transaction of its own. The values are never given and never stored.
    ///
    /// # Errors
    ///
    /// [`ConsentError::Invalid`] (a field name that is not a name, no fields, a subscriber
    /// known by email) or [`ConsentError::Subject`] before anything is written; a database
    /// failure.
    pub async fn record_data_change(
        &self,
        pool: &Pool<DB>,
        subject: &ConsentSubject,
        change: &DataChange,
    ) -> Result<(), ConsentError> {
        let mut conn = pool
            .acquire()
            .await
            .map_err(ConsentError::db(Operation::Record))?;
        record_in::<DB, _>(&mut conn, subject, change).await
    }

    /// [`record_data_change`](Self::record_data_change) on a connection: inside a transaction
    /// of yours (the one that changes the customer's row) it commits with it.
    ///
    /// # Errors
    ///
    /// As for [`record_data_change`](Self::record_data_change).
    pub async fn record_data_change_on(
        &self,
        conn: &mut DB::Connection,
        subject: &ConsentSubject,
        change: &DataChange,
    ) -> Result<(), ConsentError> {
        let mut lease = conn;
        record_in::<DB, _>(&mut lease, subject, change).await
    }

    /// The change log of `subject` (this subject exactly), oldest first.
    ///
    /// # Errors
    ///
    /// An invalid subject, a database failure, or a stored row that cannot be read.
    pub async fn data_changes(
        &self,
        pool: &Pool<DB>,
        subject: &ConsentSubject,
    ) -> Result<Vec<DataChangeRecord>, ConsentError> {
        const OP: Operation = Operation::Read;
        subject
            .validate()
            .map_err(|source| ConsentError::Subject { op: OP, source })?;
        if matches!(subject, ConsentSubject::Email { .. }) {
            return Ok(Vec::new());
        }
        let mut conn = pool.acquire().await.map_err(ConsentError::db(OP))?;
        let rows = DB::fetch_all(
            &mut conn,
            &Select::columns(
                data_changes(),
                [
                    col::seq(),
                    col::fields(),
                    col::actor_kind(),
                    col::actor(),
                    col::source(),
                    col::at(),
                ],
            )
            .filter(Condition::eq(col::subject_ref(), subject.reference()))
            .filter(Condition::eq(col::subject_kind(), subject.kind()))
            .order_by([col::at(), col::seq()])
            .to_sql(),
        )
        .await
        .map_err(ConsentError::db(OP))?;
        rows.iter().map(read_data_change).collect()
    }

    /// `subject`'s consent changes and data changes in one list, oldest first (at the same
    /// time, consent changes first, each kind in insertion order): what a customer-service
    /// page shows.
    ///
    /// # Errors
    ///
    /// As for [`history`](Self::history).
    pub async fn timeline(
        &self,
        pool: &Pool<DB>,
        subject: &ConsentSubject,
    ) -> Result<Vec<TimelineEntry>, ConsentError> {
        let mut entries: Vec<TimelineEntry> = self
            .history(pool, subject)
            .await?
            .into_iter()
            .map(TimelineEntry::Consent)
            .collect();
        entries.extend(
            self.data_changes(pool, subject)
                .await?
                .into_iter()
                .map(TimelineEntry::Data),
        );
        // Stable: each kind stays in its (at, seq) order.
        entries.sort_by_key(|e| (e.at(), matches!(e, TimelineEntry::Data(_))));
        Ok(entries)
    }
}

async fn record_in<DB: Backend, L: Lease<DB>>(
    lease: &mut L,
    subject: &ConsentSubject,
    change: &DataChange,
) -> Result<(), ConsentError> {
    const OP: Operation = Operation::Record;
    subject
        .validate()
        .map_err(|source| ConsentError::Subject { op: OP, source })?;
    if matches!(subject, ConsentSubject::Email { .. }) {
        return Err(not_an_email(OP));
    }
    let key_type = subject.key_type()?;
    let change = change.validated()?;
    let [customer, user, _] = subject.columns();
    let mut insert = Insert::new(
        data_changes(),
        [
            col::subject_kind(),
            col::key_type(),
            col::customer_key(),
            col::user_key(),
            col::subject_ref(),
            col::fields(),
            col::actor_kind(),
            col::actor(),
            col::source(),
            col::at(),
        ],
    );
    insert.row([
        subject.kind().into(),
        key_type.map(str::to_owned).into(),
        customer,
        user,
        subject.reference().into(),
        change.fields.join(",").into(),
        change.actor.kind().into(),
        change.actor.id().map(str::to_owned).into(),
        change.source.as_str().into(),
        Value::Timestamp(change.at),
    ]);
    // One statement: a transaction of its own, or a savepoint of the caller's.
    let mut tx = Tx::<DB>::begin(&mut **lease, Isolation::Write)
        .await
        .map_err(ConsentError::database(OP))?;
    let result = DB::execute(&mut tx, &insert.to_sql())
        .await
        .map(drop)
        .map_err(ConsentError::db(OP));
    tx.settle(result).await.map_err(|failure| {
        if failure.is_in_doubt() {
            lease.discard();
        }
        failure.into_error_with(ConsentError::database(OP))
    })?;
    tracing::debug!(
        fields = change.fields.len(),
        actor = change.actor.kind(),
        source = %change.source,
        "data change recorded"
    );
    Ok(())
}

fn read_data_change(row: &Row) -> Result<DataChangeRecord, ConsentError> {
    let corrupt = ConsentError::Corrupt {
        op: Operation::Read,
        problem: "a data change cannot be read",
    };
    let text = |i: usize| row.get_index(i).and_then(Value::as_str);
    let read = || {
        Some(DataChangeRecord {
            seq: row.get_index(0).and_then(Value::as_i64)?,
            fields: text(1)?.split(',').map(str::to_owned).collect(),
            actor: Actor::from_columns(text(2)?, text(3))?,
            source: Source::parse(text(4)?)?,
            at: row.get_index(5).and_then(Value::as_timestamp)?,
        })
    };
    read().ok_or(corrupt)
}
