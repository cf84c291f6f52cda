//! Importing a list: read line by line, checked, written in batches of one transaction each.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use erasure_core::sql::{Condition, Insert, Select};
use erasure_core::transaction::{Isolation, Lease, Tx};
use erasure_core::{Backend, DatabaseError, Value};
use erasure_evidence::SuppressionList;
use serde::Serialize;
use sqlx::Pool;
use tokio::io::AsyncBufRead;

use super::csv::{Lines, Record, next_record};
use super::{Entry, Field, ListFormat, RawLine, Reason, header_columns};
use crate::columns::{self as col, changes, wordings};
use crate::error::{ConsentError, Operation};
use crate::model::{Channel, ConsentSubject};
use crate::queries::as_bool;
use crate::store::Consents;

const OP: Operation = Operation::Import;

/// What an import does with a line it cannot use (a malformed line, a bad value, a wording
/// that is not stored or differs from the stored one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBadLine {
    /// Report it (line number and reason) and import the other lines. The default.
    #[default]
    Skip,
    /// Stop at it: nothing of the batch holding it is written; the batches before it stay
    /// committed ([`ImportSummary::committed_through`]). Fix the line and import the file again:
    /// what was committed is recognized and skipped.
    Stop,
}

/// How [`Consents::import_list`] imports.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    batch_size: usize,
    on_bad_line: OnBadLine,
    suppression: Option<SuppressionList>,
    max_reported: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            // Measured on SQLite (docs/performance.md): 5,000 lines a commit import 1.6 times
            // as fast as 1,000, for 3 MiB more memory.
            batch_size: 5000,
            on_bad_line: OnBadLine::Skip,
            suppression: None,
            max_reported: 100,
        }
    }
}

impl ImportOptions {
    /// Batches of 5,000 lines, bad lines skipped and the first 100 reported, no suppression list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lines per batch, each batch one transaction (at least 1). Memory is bounded by it.
    #[must_use]
    pub fn batch_size(mut self, lines: usize) -> Self {
        self.batch_size = lines.max(1);
        self
    }

    /// What to do with a bad line.
    #[must_use]
    pub fn on_bad_line(mut self, on_bad_line: OnBadLine) -> Self {
        self.on_bad_line = on_bad_line;
        self
    }

    /// Refuse lines whose subject is an email on this suppression list (an erased person must
    /// not come back through an import); they are counted in
    /// [`ImportSummary::suppressed`], not reported one by one.
    #[must_use]
    pub fn suppression(mut self, list: SuppressionList) -> Self {
        self.suppression = Some(list);
        self
    }

    /// How many bad lines the summary lists (all are counted).
    #[must_use]
    pub fn max_reported(mut self, lines: usize) -> Self {
        self.max_reported = lines;
        self
    }
}

/// A line that was not imported, and why. The reason names the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    /// The line number, from 1 (a CSV header is line 1; a CSV record spanning lines is
    /// numbered by its first line).
    pub line: u64,
    /// Why, for example "`at` is not an RFC 3339 time (2026-03-01T12:00:00Z)".
    pub reason: String,
}

/// What an import did (also handed to the progress callback after each batch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ImportSummary {
    /// Lines read (records; not the CSV header or blank JSON lines).
    pub lines: u64,
    /// Changes written.
    pub imported: u64,
    /// Lines whose change was already in the history (an earlier import of the same list),
    /// or twice in the list: not written again.
    pub already_recorded: u64,
    /// Lines refused because their email is on the suppression list.
    pub suppressed: u64,
    /// Lines refused as bad.
    pub rejected: u64,
    /// The first bad lines (up to [`ImportOptions::max_reported`]), in order.
    pub bad_lines: Vec<BadLine>,
    /// With [`OnBadLine::Stop`]: the bad line the import stopped at.
    pub stopped_at: Option<u64>,
    /// The last line of the last committed batch (0: none).
    pub committed_through: u64,
    /// Batches committed.
    pub batches: u64,
}

impl ImportSummary {
    fn reject(&mut self, line: u64, reason: Reason, max: usize) {
        self.rejected += 1;
        if self.bad_lines.len() < max {
            self.bad_lines.push(BadLine { line, reason });
        }
    }

    /// Whether every line was imported or already recorded (none refused, nothing stopped).
    pub fn is_clean(&self) -> bool {
        self.rejected == 0 && self.suppressed == 0 && self.stopped_at.is_none()
    }
}

/// The lines of a list, as entries or reasons.
enum Reader<R> {
    Csv {
        lines: Lines<R>,
        record: Record,
        columns: Vec<Option<Field>>,
    },
    Json {
        lines: Lines<R>,
    },
}

impl<R: AsyncBufRead + Unpin> Reader<R> {
    async fn open(format: ListFormat, reader: R) -> Result<Self, ConsentError> {
        let mut lines = Lines::new(reader);
        match format {
            ListFormat::JsonLines => Ok(Reader::Json { lines }),
            ListFormat::Csv => {
                let mut record = Record::default();
                let header = |problem: String| ConsentError::Header { op: OP, problem };
                match next_record(&mut lines, &mut record).await.map_err(io)? {
                    None => Err(header("is missing: the list is empty".to_owned())),
                    Some(Err(e)) => Err(header(e.reason().to_owned())),
                    Some(Ok(())) => {
                        let columns = header_columns(&record.fields).map_err(header)?;
                        Ok(Reader::Csv {
                            lines,
                            record,
                            columns,
                        })
                    }
                }
            }
        }
    }

    /// The next line: its number and its entry or why it is refused.
    async fn next(&mut self) -> Result<Option<(u64, Result<Entry, Reason>)>, ConsentError> {
        match self {
            Reader::Csv {
                lines,
                record,
                columns,
            } => {
                let Some(read) = next_record(lines, record).await.map_err(io)? else {
                    return Ok(None);
                };
                let entry = read
                    .map_err(|e| e.reason().to_owned())
                    .and_then(|()| RawLine::from_csv(columns, &mut record.fields))
                    .and_then(RawLine::into_entry);
                Ok(Some((record.line, entry)))
            }
            Reader::Json { lines } => loop {
                let Some((line, read)) = lines.next_line().await.map_err(io)? else {
                    return Ok(None);
                };
                match read {
                    Ok(text) if text.trim().is_empty() => continue,
                    Ok(text) => {
                        let entry = RawLine::from_json(text).and_then(RawLine::into_entry);
                        return Ok(Some((line, entry)));
                    }
                    Err(e) => return Ok(Some((line, Err(e.reason().to_owned())))),
                }
            },
        }
    }
}

fn io(source: std::io::Error) -> ConsentError {
    ConsentError::Io { op: OP, source }
}

/// A batch of lines read, waiting to be written.
struct Batch {
    entries: Vec<(u64, Entry)>,
    first_line: u64,
    last_line: u64,
}

/// What writing a batch found: counted into the summary once the batch commits.
#[derive(Default)]
struct Outcome {
    imported: u64,
    already_recorded: u64,
    suppressed: u64,
    rejected: Vec<(u64, Reason)>,
}

impl<DB: Backend> Consents<DB> {
    /// Imports an opt-in or opt-out list (CSV or JSON Lines, see the [field
    /// table](crate#lists-in-and-out)) from `reader`, line by line: each batch of
    /// [`ImportOptions::batch_size`] lines is checked and written in one transaction, so
    /// memory is bounded by the batch, whatever the length of the list. `progress` is called
    /// after each committed batch.
    ///
    /// * Each line is checked as [`record`](Self::record) checks a change; a bad line is
    ///   reported by number with a reason that names the field, never its value
    ///   ([`OnBadLine`] says whether the import goes on).
    /// * The import is idempotent: a change already in the subject's history (same subject,
    ///   purpose, channel, given or withdrawn, time and wording) is not written again, so a
    ///   list can be imported twice, or again after a failure.
    /// * An older change never overrides a newer one: the current state is the latest change
    ///   by time, whatever the order of arrival.
    /// * With a suppression list, lines of erased emails are refused and counted.
    ///
    /// # Errors
    ///
    /// The CSV header is unusable ([`ConsentError::Header`], nothing imported); reading fails
    /// ([`ConsentError::Io`]); a batch fails in the database ([`ConsentError::Batch`]: that
    /// batch is rolled back, the ones before it stay committed).
    pub async fn import_list<R>(
        &self,
        pool: &Pool<DB>,
        format: ListFormat,
        reader: R,
        options: &ImportOptions,
        mut progress: impl FnMut(&ImportSummary) + Send,
    ) -> Result<ImportSummary, ConsentError>
    where
        R: AsyncBufRead + Unpin + Send,
    {
        let mut reader = Reader::open(format, reader).await?;
        let mut summary = ImportSummary::default();
        let mut batch = Batch {
            entries: Vec::with_capacity(options.batch_size),
            first_line: 0,
            last_line: 0,
        };
        loop {
            let next = reader.next().await?;
            let done = next.is_none();
            if let Some((line, read)) = next
                && take_line(&mut batch, &mut summary, options, line, read) == Flow::Stop
            {
                return Ok(summary);
            }
            let full = batch.entries.len() >= options.batch_size;
            if (full || done) && !batch.entries.is_empty() {
                if commit_batch(pool, &mut batch, options, &mut summary).await? == Flow::Stop {
                    return Ok(summary);
                }
                progress(&summary);
            }
            if done {
                break;
            }
        }
        tracing::info!(
            lines = summary.lines,
            imported = summary.imported,
            already_recorded = summary.already_recorded,
            suppressed = summary.suppressed,
            rejected = summary.rejected,
            "consent list imported"
        );
        Ok(summary)
    }
}

/// Whether an import goes on after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Go,
    /// [`OnBadLine::Stop`] met a bad line: the summary is final.
    Stop,
}

/// Counts a line read: its entry joins the batch, or its refusal goes into the summary.
fn take_line(
    batch: &mut Batch,
    summary: &mut ImportSummary,
    options: &ImportOptions,
    line: u64,
    read: Result<Entry, Reason>,
) -> Flow {
    summary.lines += 1;
    if batch.entries.is_empty() {
        batch.first_line = line;
    }
    batch.last_line = line;
    match read {
        Ok(entry) => batch.entries.push((line, entry)),
        Err(reason) => {
            summary.reject(line, reason, options.max_reported);
            if options.on_bad_line == OnBadLine::Stop {
                summary.stopped_at = Some(line);
                return Flow::Stop;
            }
        }
    }
    Flow::Go
}

/// Writes the batch on a connection of its own and counts what it did into the summary; the
/// batch is emptied for the next lines.
async fn commit_batch<DB: Backend>(
    pool: &Pool<DB>,
    batch: &mut Batch,
    options: &ImportOptions,
    summary: &mut ImportSummary,
) -> Result<Flow, ConsentError> {
    let mut conn = pool.acquire().await.map_err(|e| ConsentError::Batch {
        op: OP,
        first_line: batch.first_line,
        last_line: batch.last_line,
        committed_through: summary.committed_through,
        source: DatabaseError::from(e),
    })?;
    let outcome = write_batch::<DB, _>(&mut conn, batch, options, summary).await?;
    if options.on_bad_line == OnBadLine::Stop && !outcome.rejected.is_empty() {
        // The batch was rolled back: only its refusals count.
        for (line, reason) in outcome.rejected {
            summary.stopped_at.get_or_insert(line);
            summary.reject(line, reason, options.max_reported);
        }
        return Ok(Flow::Stop);
    }
    summary.imported += outcome.imported;
    summary.already_recorded += outcome.already_recorded;
    summary.suppressed += outcome.suppressed;
    for (line, reason) in outcome.rejected {
        summary.reject(line, reason, options.max_reported);
    }
    summary.committed_through = batch.last_line;
    summary.batches += 1;
    batch.entries.clear();
    Ok(Flow::Go)
}

/// Checks and writes one batch in one transaction. With [`OnBadLine::Stop`] and a line refused
/// in the database's light (its wording), nothing is written.
async fn write_batch<DB: Backend, L: Lease<DB>>(
    lease: &mut L,
    batch: &Batch,
    options: &ImportOptions,
    summary: &ImportSummary,
) -> Result<Outcome, ConsentError> {
    let failed = |source: DatabaseError| ConsentError::Batch {
        op: OP,
        first_line: batch.first_line,
        last_line: batch.last_line,
        committed_through: summary.committed_through,
        source,
    };
    let mut tx = Tx::<DB>::begin(&mut **lease, Isolation::Write)
        .await
        .map_err(failed)?;
    let stop = options.on_bad_line == OnBadLine::Stop;
    let result = match check_and_insert::<DB>(&mut tx, batch, options).await {
        // Stop mode with a refused line: roll back what the batch stored (a wording).
        Ok(outcome) if stop && !outcome.rejected.is_empty() => {
            Err(ConsentFailure::Refused(outcome))
        }
        Ok(outcome) => Ok(outcome),
        Err(e) => Err(ConsentFailure::Db(e)),
    };
    let settled = tx.settle(result).await;
    match settled {
        Ok(outcome) => Ok(outcome),
        Err(failure) => {
            if failure.is_in_doubt() {
                lease.discard();
            }
            match failure.into_error_with(|e: DatabaseError| ConsentFailure::Db(failed(e))) {
                ConsentFailure::Refused(outcome) => Ok(outcome),
                ConsentFailure::Db(ConsentError::Database { source, .. }) => Err(failed(source)),
                ConsentFailure::Db(e) => Err(e),
            }
        }
    }
}

/// Why a batch's transaction is rolled back: refused lines in stop mode (not an error), or a
/// failure.
enum ConsentFailure {
    Refused(Outcome),
    Db(ConsentError),
}

/// The key that makes a change the same change: subject, purpose, channel, given, time,
/// wording.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ChangeKey {
    subject_ref: String,
    kind: String,
    purpose: String,
    channel: Option<Channel>,
    given: bool,
    at_micros: i64,
    wording_id: String,
}

/// Checks a batch's lines against the database and inserts the changes that are new, in four
/// steps: erased emails, wordings, changes already recorded, the insert.
async fn check_and_insert<DB: Backend>(
    conn: &mut DB::Connection,
    batch: &Batch,
    options: &ImportOptions,
) -> Result<Outcome, ConsentError> {
    let mut outcome = Outcome::default();
    let mut keep = vec![true; batch.entries.len()];
    if let Some(list) = &options.suppression {
        refuse_suppressed::<DB>(conn, list, batch, &mut keep, &mut outcome).await?;
    }
    let ids = store_new_wordings::<DB>(conn, batch, &keep).await?;
    let stored = stored_wordings::<DB>(conn, &ids).await?;
    refuse_other_wordings(batch, &stored, &mut keep, &mut outcome);
    let mut known = recorded_changes::<DB>(conn, batch, &keep).await?;
    insert_new_changes::<DB>(conn, batch, &keep, &mut known, &mut outcome).await?;
    Ok(outcome)
}

/// The entries of the batch still kept.
fn kept<'a>(batch: &'a Batch, keep: &'a [bool]) -> impl Iterator<Item = &'a (u64, Entry)> {
    batch
        .entries
        .iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .map(|(entry, _)| entry)
}

/// Step 1: lines whose subject is an email on the suppression list are dropped and counted.
async fn refuse_suppressed<DB: Backend>(
    conn: &mut DB::Connection,
    list: &SuppressionList,
    batch: &Batch,
    keep: &mut [bool],
    outcome: &mut Outcome,
) -> Result<(), ConsentError> {
    let emails: Vec<(usize, &str)> = batch
        .entries
        .iter()
        .enumerate()
        .filter_map(|(i, (_, e))| match &e.subject {
            ConsentSubject::Email { email } => Some((i, email.as_str())),
            _ => None,
        })
        .collect();
    if emails.is_empty() {
        return Ok(());
    }
    let hits = list
        .suppressed_on::<DB>(&mut *conn, emails.iter().map(|(_, e)| *e))
        .await
        .map_err(|e| match e {
            erasure_evidence::EvidenceError::Database(source) => {
                ConsentError::Database { op: OP, source }
            }
            _ => ConsentError::Corrupt {
                op: OP,
                problem: "the suppression list cannot be read",
            },
        })?;
    for hit in hits {
        keep[emails[hit].0] = false;
        outcome.suppressed += 1;
    }
    Ok(())
}

/// Step 2a: stores the wordings the kept lines give that are not stored yet (a stored one is
/// left as it is). Returns the wording ids of the kept lines, each once, in line order.
async fn store_new_wordings<DB: Backend>(
    conn: &mut DB::Connection,
    batch: &Batch,
    keep: &[bool],
) -> Result<Vec<String>, ConsentError> {
    let mut given: HashMap<String, (&str, &str, &Entry)> = HashMap::new();
    let mut ids: Vec<String> = Vec::new();
    for (_, entry) in kept(batch, keep) {
        let id = entry.wording_id.clone();
        if let Some((name, text)) = &entry.wording {
            given
                .entry(id.clone())
                .or_insert((name.as_str(), text.as_str(), entry));
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if given.is_empty() {
        return Ok(ids);
    }
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
    let now = Utc::now();
    for (id, (name, text, entry)) in &given {
        insert.row([
            id.clone().into(),
            entry.purpose.clone().into(),
            entry.version.clone().into(),
            entry.language.clone().into(),
            (*name).to_owned().into(),
            (*text).to_owned().into(),
            Value::Timestamp(now),
        ]);
    }
    for statement in insert.statements(500) {
        DB::execute(&mut *conn, &statement)
            .await
            .map_err(ConsentError::db(OP))?;
    }
    Ok(ids)
}

/// Step 2b: the stored name and text of each wording id.
async fn stored_wordings<DB: Backend>(
    conn: &mut DB::Connection,
    ids: &[String],
) -> Result<HashMap<String, (String, String)>, ConsentError> {
    let mut stored: HashMap<String, (String, String)> = HashMap::new();
    for chunk in ids.chunks(1000) {
        let rows = DB::fetch_all(
            &mut *conn,
            &Select::columns(wordings(), [col::id(), col::name(), col::text()])
                .filter(Condition::is_in(
                    col::id(),
                    chunk.iter().map(|id| Value::from(id.as_str())).collect(),
                ))
                .to_sql(),
        )
        .await
        .map_err(ConsentError::db(OP))?;
        for row in rows {
            let text = |i: usize| row.get_index(i).and_then(Value::as_str).map(str::to_owned);
            if let (Some(id), Some(name), Some(body)) = (text(0), text(1), text(2)) {
                stored.insert(id, (name, body));
            }
        }
    }
    Ok(stored)
}

/// Step 2c: refuses the kept lines whose wording is not stored, or differs from the stored one.
fn refuse_other_wordings(
    batch: &Batch,
    stored: &HashMap<String, (String, String)>,
    keep: &mut [bool],
    outcome: &mut Outcome,
) {
    for ((line, entry), keep) in batch.entries.iter().zip(keep.iter_mut()) {
        if !*keep {
            continue;
        }
        let refused = match (stored.get(&entry.wording_id), &entry.wording) {
            (None, _) => Some(
                "names a wording (purpose, version, language) that is not stored: give its \
                 `name` and `text` on this line",
            ),
            (Some((name, text)), Some((n, t))) if name != n || text != t => Some(
                "gives a wording `name` or `text` other than the one stored for this purpose, \
                 version and language; a changed wording needs a new version",
            ),
            _ => None,
        };
        if let Some(reason) = refused {
            *keep = false;
            outcome.rejected.push((*line, reason.to_owned()));
        }
    }
}

/// Step 3: the changes already recorded for the subjects of the kept lines (an earlier import).
async fn recorded_changes<DB: Backend>(
    conn: &mut DB::Connection,
    batch: &Batch,
    keep: &[bool],
) -> Result<HashSet<ChangeKey>, ConsentError> {
    let mut refs: Vec<String> = Vec::new();
    let mut seen_refs = HashSet::new();
    for (_, entry) in kept(batch, keep) {
        let r = entry.reference.clone();
        if seen_refs.insert(r.clone()) {
            refs.push(r);
        }
    }
    let mut known: HashSet<ChangeKey> = HashSet::new();
    for chunk in refs.chunks(1000) {
        let rows = DB::fetch_all(
            &mut *conn,
            &Select::columns(
                changes(),
                [
                    col::subject_ref(),
                    col::subject_kind(),
                    col::purpose(),
                    col::channel(),
                    col::given(),
                    col::at(),
                    col::wording_id(),
                ],
            )
            .filter(Condition::is_in(
                col::subject_ref(),
                chunk.iter().map(|r| Value::from(r.as_str())).collect(),
            ))
            .to_sql(),
        )
        .await
        .map_err(ConsentError::db(OP))?;
        for row in rows {
            if let Some(key) = read_key(&row) {
                known.insert(key);
            }
        }
    }
    Ok(known)
}

/// Step 4: inserts the kept lines whose change is not in `known` (recorded, or earlier in this
/// batch), as multi-row inserts.
async fn insert_new_changes<DB: Backend>(
    conn: &mut DB::Connection,
    batch: &Batch,
    keep: &[bool],
    known: &mut HashSet<ChangeKey>,
    outcome: &mut Outcome,
) -> Result<(), ConsentError> {
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
    for (_, entry) in kept(batch, keep) {
        if !known.insert(change_key(entry)) {
            outcome.already_recorded += 1;
            continue;
        }
        let [customer, user, email] = entry.subject.columns();
        let key_type = entry.subject.key_type()?;
        insert.row([
            entry.subject.kind().into(),
            key_type.map(str::to_owned).into(),
            customer,
            user,
            email,
            entry.reference.clone().into(),
            entry.purpose.clone().into(),
            entry.channel.map(|c| c.as_str().to_owned()).into(),
            entry.given.into(),
            entry.wording_id.clone().into(),
            entry.source.as_str().into(),
            Value::Timestamp(entry.at),
        ]);
        outcome.imported += 1;
    }
    // 12 values a row: 1,000 rows a statement stays under every backend's parameter limit.
    for statement in insert.statements(1000) {
        DB::execute(&mut *conn, &statement)
            .await
            .map_err(ConsentError::db(OP))?;
    }
    Ok(())
}

/// The key of the change a line gives.
fn change_key(entry: &Entry) -> ChangeKey {
    ChangeKey {
        subject_ref: entry.reference.clone(),
        kind: entry.subject.kind().to_owned(),
        purpose: entry.purpose.clone(),
        channel: entry.channel,
        given: entry.given,
        at_micros: entry.at.timestamp_micros(),
        wording_id: entry.wording_id.clone(),
    }
}

fn read_key(row: &erasure_core::Row) -> Option<ChangeKey> {
    let text = |i: usize| row.get_index(i).and_then(Value::as_str).map(str::to_owned);
    let channel = match row.get_index(3) {
        None | Some(Value::Null) => None,
        Some(Value::Text(name)) => Some(Channel::parse(name)?),
        Some(_) => return None,
    };
    let at: DateTime<Utc> = row.get_index(5).and_then(Value::as_timestamp)?;
    Some(ChangeKey {
        subject_ref: text(0)?,
        kind: text(1)?,
        purpose: text(2)?,
        channel,
        given: row.get_index(4).and_then(as_bool)?,
        at_micros: at.timestamp_micros(),
        wording_id: text(6)?,
    })
}
