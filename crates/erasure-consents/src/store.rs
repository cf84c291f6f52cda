//! The consent store: installing its tables and recording changes.

use std::fmt;
use std::marker::PhantomData;

use chrono::Utc;
use erasure_core::sql::{Condition, Insert, Select};
use erasure_core::transaction::{Isolation, Lease, Tx};
use erasure_core::{Backend, Dialect, Value};
use sqlx::Pool;

use crate::columns::{self as col, changes, wordings};
use crate::error::{ConsentError, Operation};
use crate::model::{ConsentChange, ConsentSubject};

/// The consent store, in the library's own tables `erasure_consent_wordings` and
/// `erasure_consent_changes` ([`install`](Self::install), or the DDL in `schema/` for your own
/// migrations).
///
/// The history is append-only: [`record`](Self::record) adds a change and never updates or
/// deletes one. The current state of a subject's (purpose, channel) is its latest change by
/// `at`, ties broken by insertion order, so changes may be recorded out of order (an import of
/// older changes never overrides a newer one). Only the [`ConsentsHandler`](crate::ConsentsHandler)
/// deletes, when the subject is erased.
pub struct Consents<DB: Backend> {
    _db: PhantomData<fn() -> DB>,
}

impl<DB: Backend> Clone for Consents<DB> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<DB: Backend> Copy for Consents<DB> {}

impl<DB: Backend> Default for Consents<DB> {
    fn default() -> Self {
        Self::new()
    }
}

impl<DB: Backend> fmt::Debug for Consents<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consents")
            .field("backend", &DB::DIALECT)
            .finish()
    }
}

impl<DB: Backend> Consents<DB> {
    /// The store.
    pub fn new() -> Self {
        Self { _db: PhantomData }
    }

    /// Creates the consent tables (wordings, changes) and the change log of customer data, with
    /// their indexes, if they do not exist (the DDL for each database is in
    /// `crates/erasure-consents/schema/`, for your own migration tool). Running it again
    /// changes nothing but adds a table a later version introduced.
    ///
    /// # Errors
    ///
    /// A statement fails.
    pub async fn install(&self, pool: &Pool<DB>) -> Result<(), ConsentError> {
        let script: &'static str = match DB::DIALECT {
            Dialect::Sqlite => include_str!("../schema/sqlite.sql"),
            Dialect::Postgres => include_str!("../schema/postgres.sql"),
            Dialect::MySql => include_str!("../schema/mysql.sql"),
        };
        let mut conn = pool
            .acquire()
            .await
            .map_err(ConsentError::db(Operation::Install))?;
        erasure_core::schema::run_script::<DB>(&mut conn, script)
            .await
            .map_err(ConsentError::db(Operation::Install))
    }

    /// Appends `change` to `subject`'s history, in a transaction of its own: the wording is
    /// stored if it is new (once per purpose, version and language), then the change, which
    /// refers to it.
    ///
    /// # Errors
    ///
    /// [`ConsentError::Invalid`] or [`ConsentError::Subject`] before anything is written;
    /// [`ConsentError::WordingConflict`] when this purpose, version and language were stored
    /// with another name or text; a database failure. Nothing is written on any error.
    pub async fn record(
        &self,
        pool: &Pool<DB>,
        subject: &ConsentSubject,
        change: &ConsentChange,
    ) -> Result<(), ConsentError> {
        let mut conn = pool
            .acquire()
            .await
            .map_err(ConsentError::db(Operation::Record))?;
        self.record_in(&mut conn, subject, change).await
    }

    /// [`record`](Self::record) on a connection: inside a transaction of yours it runs in a
    /// savepoint and commits with your transaction (a checkout that records the consent with
    /// the order).
    ///
    /// # Errors
    ///
    /// As for [`record`](Self::record).
    pub async fn record_on(
        &self,
        conn: &mut DB::Connection,
        subject: &ConsentSubject,
        change: &ConsentChange,
    ) -> Result<(), ConsentError> {
        let mut lease = conn;
        self.record_in(&mut lease, subject, change).await
    }

    async fn record_in<L: Lease<DB>>(
        &self,
        lease: &mut L,
        subject: &ConsentSubject,
        change: &ConsentChange,
    ) -> Result<(), ConsentError> {
        const OP: Operation = Operation::Record;
        subject
            .validate()
            .map_err(|source| ConsentError::Subject { op: OP, source })?;
        let key_type = subject.key_type()?;
        let change = change.validated()?;
        let wording_id = change.wording.id(&change.purpose);
        let mut tx = Tx::<DB>::begin(&mut **lease, Isolation::Write)
            .await
            .map_err(ConsentError::database(OP))?;
        let result = async {
            store_wording::<DB>(&mut tx, &change, &wording_id).await?;
            let [customer, user, email] = subject.columns();
            let mut insert = Insert::new(
                changes(),
                [
                    col::subject_kind(),
                    col::key_type(),
                    col::customer_key(),
                    col::user_key(),
                    col::email(),
                    col::subject_ref(),
                    col::purpose(),
                    col::channel(),
                    col::given(),
                    col::wording_id(),
                    col::source(),
                    col::at(),
                ],
            );
            insert.row([
                subject.kind().into(),
                key_type.map(str::to_owned).into(),
                customer,
                user,
                email,
                subject.reference().into(),
                change.purpose.clone().into(),
                change.channel.map(|c| c.as_str().to_owned()).into(),
                change.given.into(),
                wording_id.clone().into(),
                change.source.as_str().into(),
                Value::Timestamp(change.at),
            ]);
            DB::execute(&mut tx, &insert.to_sql())
                .await
                .map_err(ConsentError::db(OP))?;
            Ok(())
        }
        .await;
        let done = tx.settle(result).await;
        done.map_err(|failure| {
            if failure.is_in_doubt() {
                lease.discard();
            }
            failure.into_error_with(ConsentError::database(OP))
        })?;
        tracing::debug!(
            purpose = %change.purpose,
            channel = change.channel.map(|c| c.as_str()),
            given = change.given,
            source = %change.source,
            "consent change recorded"
        );
        Ok(())
    }
}

/// Stores the change's wording under `id` unless it is there, then checks that what is stored
/// is what was shown.
async fn store_wording<DB: Backend>(
    conn: &mut DB::Connection,
    change: &ConsentChange,
    id: &str,
) -> Result<(), ConsentError> {
    const OP: Operation = Operation::Record;
    let w = &change.wording;
    let mut insert = Insert::new(
        wordings(),
        [
            col::id(),
            col::purpose(),
            col::version(),
            col::language(),
            col::name(),
            col::text(),
            col::stored_at(),
        ],
    )
    .skip_duplicates();
    insert.row([
        id.to_owned().into(),
        change.purpose.clone().into(),
        w.version.clone().into(),
        w.language.clone().into(),
        w.name.clone().into(),
        w.text.clone().into(),
        Value::Timestamp(Utc::now()),
    ]);
    DB::execute(conn, &insert.to_sql())
        .await
        .map_err(ConsentError::db(OP))?;
    let stored = DB::fetch_all(
        conn,
        &Select::columns(wordings(), [col::name(), col::text()])
            .filter(Condition::eq(col::id(), id))
            .to_sql(),
    )
    .await
    .map_err(ConsentError::db(OP))?;
    let row = stored.first().ok_or(ConsentError::Corrupt {
        op: OP,
        problem: "the wording just stored is missing",
    })?;
    let same = row.get_index(0).and_then(Value::as_str) == Some(w.name.as_str())
        && row.get_index(1).and_then(Value::as_str) == Some(w.text.as_str());
    if same {
        Ok(())
    } else {
        Err(ConsentError::WordingConflict {
            op: OP,
            purpose: change.purpose.clone(),
            version: w.version.clone(),
            language: w.language.clone(),
        })
    }
}
