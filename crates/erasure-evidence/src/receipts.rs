//! Receipts: the evidence that an erasure was carried out, and how.
//!
//! A receipt is the erasure's [`Report`] as committed: run id, time, reason, operator, every
//! handler of the chain by position and name with its outcome counts, retention reasons and
//! notes, and the subject as a keyed pseudonym. It holds no personal data of the subject: to
//! find a subject's receipts, compute their pseudonym with the same key ([`for_subject`]).

use chrono::{DateTime, Utc};
use erasure_core::Row;
use erasure_core::footprint::Footprint;
use erasure_core::recorder::{Committing, Recorder};
use erasure_core::sql::{Cmp, Condition, Insert, Select};
use erasure_core::{
    Backend, HandlerError, Ident, Pseudonymizer, Report, Subject, SubjectKind, Value, async_trait,
    ident,
};
use serde::Serialize;
use sqlx::Pool;
use uuid::Uuid;

use crate::{EvidenceError, corrupt, needs_configured_key};

/// The table receipts are kept in.
pub const TABLE: &str = "erasure_receipts";

fn table() -> Ident {
    ident!("erasure_receipts")
}

fn columns() -> [Ident; 11] {
    [
        ident!("run_id"),
        ident!("recorded_at"),
        ident!("subject"),
        ident!("subject_kind"),
        ident!("reason"),
        ident!("operator"),
        ident!("deleted"),
        ident!("anonymized"),
        ident!("deferred"),
        ident!("retained"),
        ident!("body"),
    ]
}

/// The recorder that writes a receipt for every committed erasure. It needs a configured
/// pseudonym key ([`ChainBuilder::pseudonym_key`](erasure_core::ChainBuilder::pseudonym_key)):
/// with a key drawn at random per process, receipts could never be found by subject again, so
/// the erasure fails with a configuration error instead.
#[derive(Debug, Clone, Default)]
pub struct Receipts {
    _private: (),
}

impl Receipts {
    /// The recorder.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl<DB: Backend> Recorder<DB> for Receipts {
    fn name(&self) -> &str {
        "receipts"
    }

    fn footprint(&self) -> Footprint {
        Footprint::new().write(table(), columns())
    }

    async fn record(
        &self,
        conn: &mut DB::Connection,
        run: &Committing<'_>,
    ) -> Result<(), HandlerError> {
        if !run.key_is_configured() {
            return Err(needs_configured_key("receipts"));
        }
        let report = run.report;
        let body = serde_json::to_string(report).map_err(HandlerError::other)?;
        let totals = report.totals();
        let mut insert = Insert::new(table(), columns());
        insert.row([
            report.run_id.to_string().into(),
            report.started_at.into(),
            report.subject.clone().into(),
            report.subject_kind.to_string().into(),
            report.reason.to_string().into(),
            report.operator.clone().into(),
            count(totals.deleted),
            count(totals.anonymized),
            count(totals.deferred),
            count(totals.retained),
            body.into(),
        ]);
        DB::execute(conn, &insert.to_sql()).await?;
        Ok(())
    }
}

fn count(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A stored receipt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Receipt {
    /// The erasure's run id.
    pub run_id: Uuid,
    /// When the erasure ran (its clock reading).
    pub recorded_at: DateTime<Utc>,
    /// The subject's keyed pseudonym.
    pub subject: String,
    /// The kind of subject.
    pub subject_kind: SubjectKind,
    /// The operator, as the caller gave it.
    pub operator: Option<String>,
    /// The report as committed: the chain's handlers, their outcomes and retention reasons.
    pub report: Report,
}

impl Receipt {
    fn from_row(row: &Row) -> Result<Self, EvidenceError> {
        let body = row
            .get("body")
            .and_then(Value::as_str)
            .ok_or_else(|| corrupt(TABLE, "no body"))?;
        let report: Report = serde_json::from_str(body)
            .map_err(|e| corrupt(TABLE, format!("the body is not a report: {e}")))?;
        Ok(Self {
            run_id: report.run_id,
            recorded_at: report.started_at,
            subject: report.subject.clone(),
            subject_kind: report.subject_kind,
            operator: report.operator.clone(),
            report,
        })
    }
}

/// Which receipts [`list`] returns.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Filter {
    /// Only those of the subject with this pseudonym.
    pub subject: Option<String>,
    /// Only those recorded at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many, newest first (default 100).
    pub limit: Option<u64>,
}

impl Filter {
    /// Every receipt, newest first, up to the default limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only the subject with pseudonym `subject`.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Only those recorded at or after `since`.
    pub fn since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self
    }

    /// At most `limit`.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// Receipts matching `filter`, newest first.
///
/// # Errors
///
/// A statement fails, or a stored receipt cannot be read back.
pub async fn list<DB: Backend>(
    pool: &Pool<DB>,
    filter: &Filter,
) -> Result<Vec<Receipt>, EvidenceError> {
    let mut select = Select::columns(table(), []);
    if let Some(subject) = &filter.subject {
        select = select.filter(Condition::eq(ident!("subject"), subject.as_str()));
    }
    if let Some(since) = filter.since {
        select = select.filter(Condition::compare(ident!("recorded_at"), Cmp::Ge, since));
    }
    let select = select
        .order_by([ident!("recorded_at"), ident!("run_id")])
        .limit(filter.limit.unwrap_or(100));
    let mut conn = pool.acquire().await?;
    let rows = DB::fetch_all(&mut conn, &select.descending().to_sql()).await?;
    rows.iter().map(Receipt::from_row).collect()
}

/// The receipt of run `run_id`, if that erasure committed.
///
/// # Errors
///
/// A statement fails, or the stored receipt cannot be read back.
pub async fn get<DB: Backend>(
    pool: &Pool<DB>,
    run_id: Uuid,
) -> Result<Option<Receipt>, EvidenceError> {
    let mut conn = pool.acquire().await?;
    let rows = DB::fetch_all(
        &mut conn,
        &Select::columns(table(), [])
            .filter(Condition::eq(ident!("run_id"), run_id.to_string()))
            .to_sql(),
    )
    .await?;
    rows.first().map(Receipt::from_row).transpose()
}

/// The receipts of `subject`, newest first: its pseudonym is computed with `pseudonymizer`,
/// which must hold the key the chain had.
///
/// # Errors
///
/// As for [`list`].
pub async fn for_subject<DB: Backend>(
    pool: &Pool<DB>,
    pseudonymizer: &Pseudonymizer,
    subject: &Subject,
) -> Result<Vec<Receipt>, EvidenceError> {
    list(pool, &Filter::new().subject(pseudonymizer.subject(subject))).await
}
