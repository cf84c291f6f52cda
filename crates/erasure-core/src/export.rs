//! The right of access (GDPR Articles 15 and 20): everything the chain's handlers know about a
//! subject, as one machine-readable JSON document.
//!
//! The handlers that know where a subject's data lives for erasure also hand it over: each
//! [`DeletionHandler`](crate::DeletionHandler) may implement
//! [`export`](crate::DeletionHandler::export), reading with the same mapping what
//! [`erase`](crate::DeletionHandler::erase) would erase. [`Chain::export`](crate::Chain::export)
//! runs them in position order inside one read-only snapshot transaction and streams one
//! document:
//!
//! ```json
//! {"format":"erasure-export","schema_version":1,"generated_at":"2027-01-10T09:00:00Z",
//!  "generator":"erasure 0.1.0","export_id":"…","subject":{"kind":"customer","customer":42},
//!  "sections":[
//!   {"position":20,"handler":"wishlist-deletion","description":"…","tables":[
//!     {"table":"wishlists","rows":[{"id":7,"customer_id":42,"name":"…"}],"count":1}],
//!    "exported":true,"notes":[]}],
//!  "included":[{"position":20,"handler":"wishlist-deletion","tables":{"wishlists":1}}],
//!  "not_included":[{"position":60,"handler":"loyalty-points","reason":"…"}],
//!  "read_as_text":[], "unreadable":[], "rows":1, "complete":true}
//! ```
//!
//! Rows are written as they arrive from the database, one at a time, so a customer with
//! 100,000 orders exports in bounded memory. Values are JSON numbers, booleans, strings and
//! `null`; timestamps are RFC 3339 strings, dates `YYYY-MM-DD`, bytes lowercase hex. Columns of
//! types the backend layer does not decode (`NUMERIC`, `UUID`, `INET`, `JSON`, enums …) are read
//! as text and listed under `read_as_text`; a value that could still not be read is written as
//! `null`, listed under `unreadable`, and the document says `"complete": false`.
//!
//! The document holds the subject's personal data: it is meant for the subject. Nothing about
//! it is logged beyond counts.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt as _;
use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt as _, BufWriter};
use uuid::Uuid;

use crate::backend::{Backend, Dialect, Row};
use crate::error::{DatabaseError, HandlerError};
use crate::ident::Ident;
use crate::settings::Settings;
use crate::sql::{Condition, Select};
use crate::subject::{Subject, SubjectColumns, SubjectError, SubjectKind};
use crate::value::Value;

/// The `format` field of every export document.
pub const FORMAT: &str = "erasure-export";

/// The version of the document's structure (`schema_version`). It changes only when a field
/// changes meaning or disappears; new fields may appear without a change.
pub const SCHEMA_VERSION: u32 = 1;

/// What a handler's export step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exported {
    /// The handler wrote its tables (possibly none, for a subject it holds nothing of).
    Written,
    /// The handler has no export step; the document lists it under `not_included`.
    NotSupported,
}

/// Why an export did not complete. Whatever the variant, the document written so far is
/// incomplete and must be discarded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The subject breaks a validation rule; nothing was read.
    #[error("invalid subject: {0}")]
    Subject(#[from] SubjectError),
    /// No connection could be acquired.
    #[error("could not acquire a database connection: {0}")]
    Acquire(DatabaseError),
    /// The snapshot transaction could not begin, or the catalog could not be read.
    #[error("could not begin the export: {0}")]
    Begin(DatabaseError),
    /// A handler's export step failed.
    #[error("handler `{handler}` at position {position} failed to export: {cause}")]
    Handler {
        /// The handler's position.
        position: u32,
        /// The handler's name.
        handler: String,
        /// Why it failed.
        cause: HandlerError,
    },
    /// A handler's export step panicked. The payload is not kept: it may hold personal data.
    #[error("handler `{handler}` at position {position} panicked while exporting")]
    Panicked {
        /// The handler's position.
        position: u32,
        /// The handler's name.
        handler: String,
    },
    /// The document could not be written.
    #[error("could not write the export: {0}")]
    Write(#[from] io::Error),
    /// The export's read-only transaction could not be rolled back: the connection's
    /// transaction state is unknown. Discard the document; the connection is closed when it
    /// came from a pool, and must be closed by you otherwise.
    #[error("the export's read transaction could not be rolled back: {0}")]
    InDoubt(DatabaseError),
}

impl ExportError {
    /// The position of the handler that failed or panicked.
    pub fn position(&self) -> Option<u32> {
        match self {
            ExportError::Handler { position, .. } | ExportError::Panicked { position, .. } => {
                Some(*position)
            }
            _ => None,
        }
    }

    /// Whether the connection must be closed rather than reused (see
    /// [`ExportError::InDoubt`]).
    pub fn leaves_connection_unusable(&self) -> bool {
        matches!(self, ExportError::InDoubt(_))
    }
}

/// What an export wrote: counts and completeness, no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// The export's id (also in the document and in traces).
    pub export_id: Uuid,
    /// The clock reading the export used.
    pub generated_at: DateTime<Utc>,
    /// The kind of subject.
    pub subject_kind: SubjectKind,
    /// Rows written, per table (a table written by two handlers counts both).
    pub tables: BTreeMap<String, u64>,
    /// Rows written in all.
    pub rows: u64,
    /// Handlers without an export step, by position.
    pub not_included: Vec<(u32, String)>,
    /// Whether every value could be read (see the module docs).
    pub complete: bool,
    /// Bytes written.
    pub bytes: u64,
}

impl std::fmt::Display for ExportSummary {
    /// One line of counts, no personal data: `export <id>: 36 rows from 19 tables, 10620
    /// bytes`, with `, incomplete (unreadable values)` when a value could not be read.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "export {}: {} rows from {} tables, {} bytes",
            self.export_id,
            self.rows,
            self.tables.len(),
            self.bytes
        )?;
        if !self.complete {
            f.write_str(", incomplete (unreadable values)")?;
        }
        Ok(())
    }
}

/// The live schema's column types, to read undecodable types as text.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    tables: HashMap<String, Vec<(Ident, String)>>,
}

impl Catalog {
    pub(crate) async fn read<DB: Backend>(conn: &mut DB::Connection) -> Result<Self, sqlx::Error> {
        let mut tables: HashMap<String, Vec<(Ident, String)>> = HashMap::new();
        let mut invalid = Vec::new();
        for column in DB::columns(conn).await? {
            match column.column_ident() {
                Some(ident) => tables
                    .entry(column.table.clone())
                    .or_default()
                    .push((ident, column.data_type.clone())),
                None => invalid.push(column.table.clone()),
            }
        }
        // A table with a column whose name is no valid identifier is read with `*`.
        for table in invalid {
            tables.remove(&table);
        }
        Ok(Self { tables })
    }

    /// The projection for `table`: every column, those of undecodable types as text; `None`
    /// when the table is not in the catalog (then `*`).
    fn projection(&self, dialect: Dialect, table: &Ident) -> Option<Vec<(Ident, bool)>> {
        let columns = self.tables.get(table.as_str())?;
        Some(
            columns
                .iter()
                .map(|(c, ty)| (c.clone(), !decodes(dialect, ty)))
                .collect(),
        )
    }
}

/// Whether the backend layer decodes a column of catalog type `ty` into a [`Value`].
fn decodes(dialect: Dialect, ty: &str) -> bool {
    let ty = ty.to_ascii_lowercase();
    match dialect {
        // SQLite values carry their own storage class, and every class decodes.
        Dialect::Sqlite => true,
        Dialect::Postgres => matches!(
            ty.as_str(),
            "smallint"
                | "integer"
                | "bigint"
                | "real"
                | "double precision"
                | "boolean"
                | "text"
                | "character varying"
                | "character"
                | "name"
                | "timestamp with time zone"
                | "timestamp without time zone"
                | "date"
                | "bytea"
        ),
        Dialect::MySql => matches!(
            ty.as_str(),
            "tinyint"
                | "smallint"
                | "mediumint"
                | "int"
                | "bigint"
                | "float"
                | "double"
                | "varchar"
                | "char"
                | "text"
                | "tinytext"
                | "mediumtext"
                | "longtext"
                | "enum"
                | "set"
                | "timestamp"
                | "datetime"
                | "date"
                | "blob"
                | "tinyblob"
                | "mediumblob"
                | "longblob"
                | "varbinary"
                | "binary"
        ),
    }
}

/// Where an [`ExportContext`] writes its tables. Object safe, so that the context does not
/// carry the writer's type.
#[async_trait]
trait TableSink: Send {
    /// Opens `table`, read with `columns` (those flagged `true` as text).
    async fn table_start(&mut self, table: &str, columns: &[(Ident, bool)]) -> io::Result<()>;
    async fn row(&mut self, table: &str, row: &Row) -> io::Result<()>;
    async fn table_end(&mut self, rows: u64) -> io::Result<()>;
}

/// The context of one handler's export step: the connection inside the export's read-only
/// snapshot transaction, the subject, the clock reading and the settings.
///
/// ```
/// use erasure_core::{Backend, HandlerError, ident, sql::Select, SubjectColumns};
/// use erasure_core::export::{ExportContext, Exported};
///
/// async fn export_alerts<DB: Backend>(cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
///     let cols = SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id"));
///     if let Some(filter) = cx.subject_condition(&cols) {
///         cx.rows(Select::columns(ident!("alerts"), []).filter(filter).order_by([ident!("id")])).await?;
///     }
///     Ok(Exported::Written)
/// }
/// ```
pub struct ExportContext<'c, DB: Backend> {
    conn: &'c mut DB::Connection,
    subject: &'c Subject,
    now: DateTime<Utc>,
    settings: &'c Settings,
    catalog: &'c Catalog,
    sink: &'c mut (dyn TableSink + 'c),
    tables: Vec<(String, u64)>,
    notes: Vec<Cow<'static, str>>,
}

impl<'c, DB: Backend> ExportContext<'c, DB> {
    /// The subject being exported. The borrow is not tied to the context.
    pub fn subject(&self) -> &'c Subject {
        self.subject
    }

    /// The condition selecting the subject's rows in a table with subject columns `cols`, or
    /// `None` if the table holds no data of this kind of subject. See [`Subject::condition`].
    pub fn subject_condition(&self, cols: &SubjectColumns) -> Option<Condition> {
        self.subject.condition(cols)
    }

    /// The clock reading of this export.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The chain's settings.
    pub fn settings(&self) -> &'c Settings {
        self.settings
    }

    /// Writes every row `select` selects into the document, under the name of its table, as the
    /// rows arrive. Every column of the table is written, whatever `select` names; its filter
    /// and order apply. Returns the number of rows.
    ///
    /// # Errors
    ///
    /// [`HandlerError::Database`] when the query fails, [`HandlerError::Output`] when the
    /// document cannot be written.
    pub async fn rows(&mut self, select: Select) -> Result<u64, HandlerError> {
        let table = select.table().clone();
        // Every column, undecodable ones as text; `*` when the catalog does not know the table.
        let columns = self
            .catalog
            .projection(DB::DIALECT, &table)
            .unwrap_or_default();
        let name = table.as_str();
        self.sink.table_start(name, &columns).await?;
        let sql = select.read_as_text(columns).to_sql();
        let mut count = 0u64;
        {
            let mut rows = DB::fetch(self.conn, &sql);
            while let Some(row) = rows.next().await {
                let row = row.map_err(DatabaseError::from)?;
                self.sink.row(name, &row).await?;
                count += 1;
            }
        }
        self.sink.table_end(count).await?;
        self.tables.push((name.to_owned(), count));
        Ok(count)
    }

    /// Writes the rows of `table` that `filter` selects, ordered by `id`, then for each child
    /// table the rows whose parent column points at one of them, ordered by that column: the
    /// export of a handler that erases a table and its children. Returns the rows written.
    ///
    /// # Errors
    ///
    /// As for [`rows`](Self::rows).
    pub async fn rows_with_children(
        &mut self,
        table: &Ident,
        id: &Ident,
        filter: Condition,
        children: &[&crate::ChildTable],
    ) -> Result<u64, HandlerError> {
        let parents = Select::column(table.clone(), id.clone()).filter(filter.clone());
        let mut written = self
            .rows(
                Select::columns(table.clone(), [])
                    .filter(filter)
                    .order_by([id.clone()]),
            )
            .await?;
        for child in children {
            written += self
                .rows(
                    Select::columns(child.table.clone(), [])
                        .filter(Condition::in_select(child.parent.clone(), parents.clone()))
                        .order_by([child.parent.clone()]),
                )
                .await?;
        }
        Ok(written)
    }

    /// Writes every table `policy` reaches, parents first, each once (see
    /// [`Policy::export_tables`](crate::policy::Policy::export_tables)); notes the policy's
    /// `nothing` when no step applies to this kind of subject.
    ///
    /// # Errors
    ///
    /// As for [`rows`](Self::rows).
    pub async fn export_policy(
        &mut self,
        policy: &crate::policy::Policy,
    ) -> Result<Exported, HandlerError> {
        if !policy.applies_to(self.subject) {
            self.note(policy.nothing().to_owned());
            return Ok(Exported::Written);
        }
        for table in policy.export_tables() {
            if let Some(select) = table.select(self.subject) {
                self.rows(select).await?;
            }
        }
        Ok(Exported::Written)
    }

    /// Adds a note to this handler's section: fixed text for the reader ("guests hold no
    /// wishlists"), never personal data.
    pub fn note(&mut self, note: impl Into<Cow<'static, str>>) {
        self.notes.push(note.into());
    }

    /// The raw connection, inside the export's read-only transaction, for reads the builders do
    /// not cover. Bind every value.
    pub fn connection(&mut self) -> &mut DB::Connection {
        self.conn
    }
}

impl<DB: Backend> std::fmt::Debug for ExportContext<'_, DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportContext")
            .field("subject", &self.subject)
            .field("now", &self.now)
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

/// The JSON document, written piece by piece.
pub(crate) struct Document<W: AsyncWrite + Unpin + Send> {
    out: BufWriter<W>,
    buf: Vec<u8>,
    bytes: u64,
    first_section: bool,
    first_table: bool,
    first_row: bool,
    read_as_text: Vec<(String, String)>,
    unreadable: Vec<(String, String, String)>,
}

impl<W: AsyncWrite + Unpin + Send> Document<W> {
    pub(crate) fn new(out: W) -> Self {
        Self {
            out: BufWriter::with_capacity(64 * 1024, out),
            buf: Vec::with_capacity(4096),
            bytes: 0,
            first_section: true,
            first_table: true,
            first_row: true,
            read_as_text: Vec::new(),
            unreadable: Vec::new(),
        }
    }

    async fn raw(&mut self, text: &[u8]) -> io::Result<()> {
        self.bytes += text.len() as u64;
        self.out.write_all(text).await
    }

    async fn json(&mut self, value: &impl Serialize) -> io::Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, value).map_err(io::Error::other)?;
        self.bytes += self.buf.len() as u64;
        self.out.write_all(&self.buf).await
    }

    pub(crate) async fn start(&mut self, header: &Header<'_>) -> io::Result<()> {
        // The header's fields, then the open `sections` array.
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, header).map_err(io::Error::other)?;
        // `{…}` without its closing brace, then the sections.
        self.buf.pop();
        self.buf.extend_from_slice(b",\"sections\":[");
        self.bytes += self.buf.len() as u64;
        self.out.write_all(&self.buf).await
    }

    pub(crate) async fn section_start(
        &mut self,
        position: u32,
        handler: &str,
        description: &str,
    ) -> io::Result<()> {
        if !self.first_section {
            self.raw(b",").await?;
        }
        self.first_section = false;
        self.first_table = true;
        self.raw(b"\n{\"position\":").await?;
        self.json(&position).await?;
        self.raw(b",\"handler\":").await?;
        self.json(&handler).await?;
        self.raw(b",\"description\":").await?;
        self.json(&description).await?;
        self.raw(b",\"tables\":[").await
    }

    pub(crate) async fn section_end(
        &mut self,
        exported: Exported,
        notes: &[Cow<'static, str>],
    ) -> io::Result<()> {
        self.raw(b"],\"exported\":").await?;
        self.json(&(exported == Exported::Written)).await?;
        self.raw(b",\"notes\":").await?;
        self.json(&notes).await?;
        self.raw(b"}").await
    }

    pub(crate) async fn finish(&mut self, trailer: &Trailer<'_>) -> io::Result<u64> {
        self.raw(b"\n],").await?;
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, trailer).map_err(io::Error::other)?;
        // The trailer's fields without its opening brace close the document.
        let body = self.buf.split_off(1);
        self.bytes += body.len() as u64 + 1;
        self.out.write_all(&body).await?;
        self.out.write_all(b"\n").await?;
        self.out.flush().await?;
        Ok(self.bytes)
    }

    pub(crate) fn read_as_text(&self) -> &[(String, String)] {
        &self.read_as_text
    }

    pub(crate) fn unreadable(&self) -> &[(String, String, String)] {
        &self.unreadable
    }

    fn note_read_as_text(&mut self, table: &str, columns: &[(Ident, bool)]) {
        for (c, as_text) in columns {
            if *as_text
                && !self
                    .read_as_text
                    .iter()
                    .any(|(t, col)| t == table && col == c.as_str())
            {
                self.read_as_text
                    .push((table.to_owned(), c.as_str().to_owned()));
            }
        }
    }
}

#[async_trait]
impl<W: AsyncWrite + Unpin + Send> TableSink for Document<W> {
    async fn table_start(&mut self, table: &str, columns: &[(Ident, bool)]) -> io::Result<()> {
        self.note_read_as_text(table, columns);
        if !self.first_table {
            self.raw(b",").await?;
        }
        self.first_table = false;
        self.first_row = true;
        self.raw(b"\n {\"table\":").await?;
        self.json(&table).await?;
        self.raw(b",\"rows\":[").await
    }

    async fn row(&mut self, table: &str, row: &Row) -> io::Result<()> {
        let mut object = serde_json::Map::with_capacity(row.columns().len());
        for (column, value) in row.columns().iter().zip(row.values()) {
            let json = match value {
                Value::Unsupported(ty) => {
                    if !self
                        .unreadable
                        .iter()
                        .any(|(t, c, _)| t == table && c == column)
                    {
                        self.unreadable
                            .push((table.to_owned(), column.clone(), ty.clone()));
                    }
                    serde_json::Value::Null
                }
                other => to_json(other),
            };
            object.insert(column.clone(), json);
        }
        let separator: &[u8] = if self.first_row { b"\n  " } else { b",\n  " };
        self.first_row = false;
        self.raw(separator).await?;
        self.json(&object).await
    }

    async fn table_end(&mut self, rows: u64) -> io::Result<()> {
        self.raw(b"],\"count\":").await?;
        self.json(&rows).await?;
        self.raw(b"}").await
    }
}

/// A value as JSON (see the module docs).
pub fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null | Value::Unsupported(_) => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
        Value::Text(s) => J::String(s.clone()),
        Value::Timestamp(t) => J::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        Value::Date(d) => J::String(d.format("%Y-%m-%d").to_string()),
        Value::Bytes(b) => J::String(hex::encode(b)),
    }
}

/// The fields that open the document.
#[derive(Serialize)]
pub(crate) struct Header<'a> {
    pub(crate) format: &'static str,
    pub(crate) schema_version: u32,
    pub(crate) generated_at: String,
    pub(crate) generator: String,
    pub(crate) export_id: Uuid,
    pub(crate) subject: &'a Subject,
}

/// A handler the document includes, with its tables' row counts.
#[derive(Serialize)]
pub(crate) struct Included {
    pub(crate) position: u32,
    pub(crate) handler: String,
    pub(crate) tables: BTreeMap<String, u64>,
}

/// A handler the document does not include.
#[derive(Serialize)]
pub(crate) struct NotIncluded {
    pub(crate) position: u32,
    pub(crate) handler: String,
    pub(crate) reason: &'static str,
}

/// A column read as text, or a value that could not be read.
#[derive(Serialize)]
pub(crate) struct ColumnNote<'a> {
    pub(crate) table: &'a str,
    pub(crate) column: &'a str,
    #[serde(skip_serializing_if = "Option::is_none", rename = "type")]
    pub(crate) ty: Option<&'a str>,
}

/// The fields that close the document.
#[derive(Serialize)]
pub(crate) struct Trailer<'a> {
    pub(crate) included: &'a [Included],
    pub(crate) not_included: &'a [NotIncluded],
    pub(crate) read_as_text: Vec<ColumnNote<'a>>,
    pub(crate) unreadable: Vec<ColumnNote<'a>>,
    pub(crate) rows: u64,
    pub(crate) complete: bool,
}

/// Runs one handler's export step with a context over `conn` and `doc`; returns what it said,
/// its tables and its notes.
pub(crate) async fn run_step<DB: Backend, W: AsyncWrite + Unpin + Send>(
    handler: &dyn crate::DeletionHandler<DB>,
    conn: &mut DB::Connection,
    doc: &mut Document<W>,
    shared: &Shared<'_>,
) -> (
    Result<Exported, HandlerError>,
    Vec<(String, u64)>,
    Vec<Cow<'static, str>>,
) {
    let mut cx = ExportContext::<DB> {
        conn,
        subject: shared.subject,
        now: shared.now,
        settings: shared.settings,
        catalog: shared.catalog,
        sink: doc,
        tables: Vec::new(),
        notes: Vec::new(),
    };
    let result = handler.export(&mut cx).await;
    (result, cx.tables, cx.notes)
}

/// What every step of one export shares.
pub(crate) struct Shared<'a> {
    pub(crate) subject: &'a Subject,
    pub(crate) now: DateTime<Utc>,
    pub(crate) settings: &'a Settings,
    pub(crate) catalog: &'a Catalog,
}

impl<DB: Backend> crate::Chain<DB> {
    /// Exports everything the chain's handlers hold of `subject` into `out` as one JSON document
    /// (see [`crate::export`]), and returns what was written.
    ///
    /// `db` is anything sqlx can acquire a connection from. The handlers' export steps run in
    /// position order inside one read-only snapshot transaction, which is always rolled back;
    /// rows are streamed, so memory stays bounded whatever the subject's size. Handlers without
    /// an export step are listed in the document as not included.
    ///
    /// ```
    /// # use erasure_core::{async_trait, ident, sql::Select, Backend, Chain, DeletionHandler,
    /// #     ErasureContext, HandlerError, Outcome, Subject, SubjectColumns};
    /// # use erasure_core::export::{ExportContext, Exported};
    /// struct Alerts;
    ///
    /// #[async_trait]
    /// impl<DB: Backend> DeletionHandler<DB> for Alerts {
    ///     fn name(&self) -> &str { "alerts" }
    ///     fn description(&self) -> &str { "deletes the subject's alerts" }
    ///     async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
    ///         Ok(Outcome::new())
    ///     }
    ///     async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
    ///         let cols = SubjectColumns::customer(ident!("customer_id"));
    ///         if let Some(filter) = cx.subject_condition(&cols) {
    ///             cx.rows(Select::columns(ident!("alerts"), []).filter(filter)).await?;
    ///         }
    ///         Ok(Exported::Written)
    ///     }
    /// }
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = erasure_core::sqlite::open("sqlite::memory:", 1).await?;
    /// sqlx::query("CREATE TABLE alerts (id INTEGER PRIMARY KEY, customer_id INTEGER, sku TEXT)")
    ///     .execute(&pool).await?;
    /// sqlx::query("INSERT INTO alerts (customer_id, sku) VALUES (42, 'A-1'), (7, 'B-2')")
    ///     .execute(&pool).await?;
    /// let chain = Chain::<sqlx::Sqlite>::builder().register(80, Alerts).build()?;
    ///
    /// let mut out = Vec::new();
    /// let summary = chain.export(&pool, &Subject::customer(42), &mut out).await?;
    /// assert_eq!(summary.rows, 1);
    /// let doc: serde_json::Value = serde_json::from_slice(&out)?;
    /// assert_eq!(doc["sections"][0]["tables"][0]["rows"][0]["sku"], "A-1");
    /// assert_eq!(doc["complete"], true);
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// An [`ExportError`]; the document written so far is then incomplete and must be
    /// discarded.
    pub async fn export<'a, A, W>(
        &self,
        db: A,
        subject: &Subject,
        out: W,
    ) -> Result<ExportSummary, ExportError>
    where
        A: sqlx::Acquire<'a, Database = DB>,
        A::Connection: crate::transaction::Lease<DB>,
        W: AsyncWrite + Unpin + Send,
    {
        use crate::transaction::Lease as _;
        subject.validate()?;
        let mut conn = db
            .acquire()
            .await
            .map_err(|e| ExportError::Acquire(e.into()))?;
        let result = self.export_on(&mut conn, subject, out).await;
        if result
            .as_ref()
            .is_err_and(ExportError::leaves_connection_unusable)
        {
            conn.discard();
        }
        result
    }

    /// [`export`](Self::export) on a connection, for code generic over the backend. Inside a
    /// transaction of your own the export reads in a savepoint of it, and sees what your
    /// transaction sees.
    ///
    /// # Errors
    ///
    /// As for [`export`](Self::export).
    pub async fn export_on<W>(
        &self,
        conn: &mut DB::Connection,
        subject: &Subject,
        out: W,
    ) -> Result<ExportSummary, ExportError>
    where
        W: AsyncWrite + Unpin + Send,
    {
        use tracing::Instrument as _;
        subject.validate()?;
        let export_id = Uuid::new_v4();
        let span = tracing::info_span!(
            "export",
            export_id = %export_id,
            subject = %self.pseudonym(subject),
            subject_kind = %subject.kind(),
            backend = %DB::DIALECT,
        );
        async move {
            use crate::transaction::{Failure, Isolation, Tx};
            let mut tx = Tx::<DB>::begin(conn, Isolation::Snapshot)
                .await
                .map_err(ExportError::Begin)?;
            let result = self.export_in(&mut tx, subject, out, export_id).await;
            // Read only: always rolled back, explicitly.
            let result = tx.roll_back(result).await.map_err(|failure| match failure {
                Failure::Work(e) => e,
                // A read never commits; a refused commit cannot happen here.
                Failure::Commit(error) => ExportError::InDoubt(error),
                Failure::InDoubt { work, error } => {
                    if let Some(work) = work {
                        tracing::warn!(error = %work, "export failed");
                    }
                    ExportError::InDoubt(error)
                }
            });
            match &result {
                Ok(summary) => tracing::info!(
                    rows = summary.rows,
                    bytes = summary.bytes,
                    complete = summary.complete,
                    "export written"
                ),
                Err(e) => tracing::warn!(error = %e, "export failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn export_in<W: AsyncWrite + Unpin + Send>(
        &self,
        conn: &mut DB::Connection,
        subject: &Subject,
        out: W,
        export_id: Uuid,
    ) -> Result<ExportSummary, ExportError> {
        use futures_util::FutureExt as _;
        use std::panic::AssertUnwindSafe;
        use tracing::Instrument as _;

        let now = self.clock().now();
        // SQLite values carry their own storage class and every class decodes: `SELECT *`
        // reads them all, and the catalog is not needed.
        let catalog = if DB::DIALECT == Dialect::Sqlite {
            Catalog::default()
        } else {
            Catalog::read::<DB>(conn)
                .await
                .map_err(|e| ExportError::Begin(e.into()))?
        };
        let shared = Shared {
            subject,
            now,
            settings: self.settings(),
            catalog: &catalog,
        };
        let mut doc = Document::new(out);
        doc.start(&Header {
            format: FORMAT,
            schema_version: SCHEMA_VERSION,
            generated_at: now.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            generator: concat!("erasure ", env!("CARGO_PKG_VERSION")).to_owned(),
            export_id,
            subject,
        })
        .await?;
        let mut included = Vec::new();
        let mut not_included = Vec::new();
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for entry in self.entries() {
            let name = entry.handler.name();
            doc.section_start(entry.position, name, entry.handler.description())
                .await?;
            let span = tracing::info_span!("handler", position = entry.position, handler = name);
            let step = AssertUnwindSafe(run_step::<DB, W>(
                &*entry.handler,
                &mut *conn,
                &mut doc,
                &shared,
            ))
            .catch_unwind()
            .instrument(span)
            .await;
            let (exported, tables, notes) = match step {
                Ok((Ok(exported), tables, notes)) => (exported, tables, notes),
                Ok((Err(HandlerError::Output(e)), ..)) => return Err(ExportError::Write(e)),
                Ok((Err(cause), ..)) => {
                    return Err(ExportError::Handler {
                        position: entry.position,
                        handler: name.to_owned(),
                        cause,
                    });
                }
                Err(_panic) => {
                    return Err(ExportError::Panicked {
                        position: entry.position,
                        handler: name.to_owned(),
                    });
                }
            };
            doc.section_end(exported, &notes).await?;
            match exported {
                Exported::Written => {
                    let mut counts = BTreeMap::new();
                    for (table, rows) in tables {
                        *counts.entry(table.clone()).or_insert(0) += rows;
                        *totals.entry(table).or_insert(0) += rows;
                    }
                    included.push(Included {
                        position: entry.position,
                        handler: name.to_owned(),
                        tables: counts,
                    });
                }
                Exported::NotSupported => not_included.push(NotIncluded {
                    position: entry.position,
                    handler: name.to_owned(),
                    reason: "the handler has no export step",
                }),
            }
        }
        let rows = totals.values().sum();
        let complete = doc.unreadable().is_empty();
        let read_as_text: Vec<(String, String)> = doc.read_as_text().to_vec();
        let unreadable: Vec<(String, String, String)> = doc.unreadable().to_vec();
        let trailer = Trailer {
            included: &included,
            not_included: &not_included,
            read_as_text: read_as_text
                .iter()
                .map(|(t, c)| ColumnNote {
                    table: t,
                    column: c,
                    ty: None,
                })
                .collect(),
            unreadable: unreadable
                .iter()
                .map(|(t, c, ty)| ColumnNote {
                    table: t,
                    column: c,
                    ty: Some(ty),
                })
                .collect(),
            rows,
            complete,
        };
        let bytes = doc.finish(&trailer).await?;
        Ok(ExportSummary {
            export_id,
            generated_at: now,
            subject_kind: subject.kind(),
            tables: totals,
            rows,
            not_included: not_included
                .into_iter()
                .map(|n| (n.position, n.handler))
                .collect(),
            complete,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_json_as_documented() {
        use chrono::TimeZone as _;
        let t = Utc
            .with_ymd_and_hms(2027, 1, 10, 9, 0, 0)
            .single()
            .expect("time");
        assert_eq!(to_json(&Value::Timestamp(t)), "2027-01-10T09:00:00Z");
        assert_eq!(to_json(&Value::Date(t.date_naive())), "2027-01-10");
        assert_eq!(to_json(&Value::Bytes(vec![0, 255])), "00ff");
        assert_eq!(to_json(&Value::Float(f64::NAN)), serde_json::Value::Null);
        assert_eq!(to_json(&Value::Int(-3)), -3);
    }

    #[test]
    fn postgres_numeric_and_uuid_are_read_as_text() {
        assert!(!decodes(Dialect::Postgres, "numeric"));
        assert!(!decodes(Dialect::Postgres, "USER-DEFINED"));
        assert!(decodes(Dialect::Postgres, "character varying"));
        assert!(!decodes(Dialect::MySql, "decimal"));
        assert!(decodes(Dialect::MySql, "longtext"));
        assert!(decodes(Dialect::Sqlite, "NUMERIC"));
    }
}
