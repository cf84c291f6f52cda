//! The context of one handler's export step, and the sink it writes tables into.

use std::borrow::Cow;
use std::io;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;

use super::Exported;
use crate::backend::catalog::Catalog;
use crate::backend::{Backend, Row};
use crate::error::{DatabaseError, HandlerError};
use crate::ident::Ident;
use crate::settings::Settings;
use crate::sql::{Condition, Select};
use crate::subject::{Subject, SubjectColumns};

/// Where an [`ExportContext`] writes its tables. Object safe, so that the context does not
/// carry the writer's type.
#[async_trait]
pub(crate) trait TableSink: Send {
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
///     let Some(filter) = cx.subject_filter(&cols, "guests have no alerts") else {
///         return Ok(Exported::Written); // the note is in the section
///     };
///     cx.rows(Select::columns(ident!("alerts"), []).filter(filter).order_by([ident!("id")])).await?;
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
    /// A handler's step usually wants [`subject_filter`](Self::subject_filter), which also notes why there is nothing.
    pub fn subject_condition(&self, cols: &SubjectColumns) -> Option<Condition> {
        self.subject.condition(cols)
    }

    /// The condition selecting the subject's rows in a table with subject columns `cols`; when
    /// the table holds no data of this kind of subject, notes `nothing` in the handler's
    /// section and returns `None` (as [`ErasureContext::subject_filter`](crate::ErasureContext::subject_filter)
    /// does in an erasure's report).
    pub fn subject_filter(
        &mut self,
        cols: &SubjectColumns,
        nothing: impl Into<Cow<'static, str>>,
    ) -> Option<Condition> {
        let filter = self.subject.condition(cols);
        if filter.is_none() {
            self.note(nothing);
        }
        filter
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

impl<'c, DB: Backend> ExportContext<'c, DB> {
    /// A context for one handler's step, writing into `sink`.
    pub(crate) fn new(
        conn: &'c mut DB::Connection,
        shared: &Shared<'c>,
        sink: &'c mut (dyn TableSink + 'c),
    ) -> Self {
        Self {
            conn,
            subject: shared.subject,
            now: shared.now,
            settings: shared.settings,
            catalog: shared.catalog,
            sink,
            tables: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The tables the step wrote (with their row counts) and its notes.
    pub(crate) fn into_parts(self) -> (Vec<(String, u64)>, Vec<Cow<'static, str>>) {
        (self.tables, self.notes)
    }
}

/// What every step of one export shares.
pub(crate) struct Shared<'a> {
    pub(crate) subject: &'a Subject,
    pub(crate) now: DateTime<Utc>,
    pub(crate) settings: &'a Settings,
    pub(crate) catalog: &'a Catalog,
}
