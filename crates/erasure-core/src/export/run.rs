//! Running the chain's export steps: [`Chain::export`](crate::Chain::export).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::io::AsyncWrite;
use uuid::Uuid;

use super::ExportContext;
use super::context::Shared;
use super::document::{ColumnNote, Document, Header, Included, NotIncluded, Trailer};
use super::{ExportError, ExportSummary, Exported, FORMAT, SCHEMA_VERSION, Sections};
use crate::backend::Backend;
use crate::backend::catalog::Catalog;
use crate::chain::Entry;
use crate::error::HandlerError;
use crate::runner::{self, StepFailure, Stopped};
use crate::subject::{Subject, SubjectKind};

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
    ///         if let Some(filter) = cx.subject_filter(&cols, "guests have no alerts") {
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
        self.export_only(db, subject, &Sections::all(), out).await
    }

    /// [`export`](Self::export) limited to `sections`: the document holds the sections of the
    /// handlers named, says `"only":[…]` in its header, and lists the others under
    /// `not_included` as not asked for (GDPR Art. 15: a subject may ask for part of their data).
    ///
    /// # Errors
    ///
    /// [`ExportError::UnknownSection`] when a name is not one of the chain's handlers (nothing
    /// is read); otherwise as for [`export`](Self::export).
    pub async fn export_only<'a, A, W>(
        &self,
        db: A,
        subject: &Subject,
        sections: &Sections,
        out: W,
    ) -> Result<ExportSummary, ExportError>
    where
        A: sqlx::Acquire<'a, Database = DB>,
        A::Connection: crate::transaction::Lease<DB>,
        W: AsyncWrite + Unpin + Send,
    {
        use crate::transaction::Lease as _;
        subject.validate()?;
        self.check_sections(sections)?;
        let mut conn = db
            .acquire()
            .await
            .map_err(|e| ExportError::Acquire(e.into()))?;
        let result = self.export_on_only(&mut conn, subject, sections, out).await;
        if result
            .as_ref()
            .is_err_and(ExportError::leaves_connection_unusable)
        {
            conn.discard();
        }
        result
    }

    /// Every name of `sections` is a handler of the chain.
    fn check_sections(&self, sections: &Sections) -> Result<(), ExportError> {
        let Some(mut names) = sections.names() else {
            return Ok(());
        };
        let known: Vec<&str> = self.entries().iter().map(|e| e.handler.name()).collect();
        match names.find(|name| !known.contains(name)) {
            Some(unknown) => Err(ExportError::UnknownSection {
                name: unknown.to_owned(),
                known: known.join(", "),
            }),
            None => Ok(()),
        }
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
        self.export_on_only(conn, subject, &Sections::all(), out)
            .await
    }

    async fn export_on_only<W>(
        &self,
        conn: &mut DB::Connection,
        subject: &Subject,
        sections: &Sections,
        out: W,
    ) -> Result<ExportSummary, ExportError>
    where
        W: AsyncWrite + Unpin + Send,
    {
        use tracing::Instrument as _;
        subject.validate()?;
        self.check_sections(sections)?;
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
            let result = self
                .export_in(&mut tx, subject, sections, out, export_id)
                .await;
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

    /// The document, in the export's transaction: the header, each handler's section in
    /// position order (or its place under `not_included`), the trailer.
    async fn export_in<W: AsyncWrite + Unpin + Send>(
        &self,
        conn: &mut DB::Connection,
        subject: &Subject,
        sections: &Sections,
        out: W,
        export_id: Uuid,
    ) -> Result<ExportSummary, ExportError> {
        let now = self.clock().now();
        let catalog = Catalog::for_export::<DB>(conn)
            .await
            .map_err(|e| ExportError::Begin(e.into()))?;
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
            only: sections.names().map(Iterator::collect),
        })
        .await?;
        let mut tally = Tally::default();
        for entry in self.entries() {
            if sections.includes(entry.handler.name()) {
                let (exported, tables) = section(entry, &mut *conn, &shared, &mut doc).await?;
                tally.section(entry, exported, tables);
            } else {
                tally.leave_out(entry);
            }
        }
        tally.finish(&mut doc, export_id, now, subject.kind()).await
    }
}

/// One handler's section of the document: its step run by [`runner::step`], as every pass runs
/// a handler; its rows, or why it stopped the export.
async fn section<DB: Backend, W: AsyncWrite + Unpin + Send>(
    entry: &Entry<DB>,
    conn: &mut DB::Connection,
    shared: &Shared<'_>,
    doc: &mut Document<W>,
) -> Result<(Exported, Vec<(String, u64)>), ExportError> {
    doc.section_start(
        entry.position,
        entry.handler.name(),
        entry.handler.description(),
    )
    .await?;
    let mut cx = ExportContext::<DB>::new(conn, shared, doc);
    let step = runner::step(entry, entry.handler.export(&mut cx)).await;
    let (tables, notes) = cx.into_parts();
    let exported = step?;
    doc.section_end(exported, &notes).await?;
    Ok((exported, tables))
}

impl From<StepFailure> for ExportError {
    /// A step that could not write the document is [`ExportError::Write`]; any other error
    /// is [`ExportError::Handler`], a panic [`ExportError::Panicked`].
    fn from(failure: StepFailure) -> Self {
        let StepFailure {
            position,
            handler,
            stopped,
        } = failure;
        match stopped {
            Stopped::Failed(HandlerError::Output(e)) => ExportError::Write(e),
            Stopped::Failed(cause) => ExportError::Handler {
                position,
                handler,
                cause,
            },
            Stopped::Panicked => ExportError::Panicked { position, handler },
        }
    }
}

/// What the sections of one export came to: the handlers included and not, the rows per table.
#[derive(Default)]
struct Tally {
    included: Vec<Included>,
    /// The handlers without an export step, and those left out.
    not_included: Vec<NotIncluded>,
    totals: BTreeMap<String, u64>,
    /// The handlers whose sections were not asked for.
    left_out: Vec<(u32, String)>,
}

impl Tally {
    /// `entry`'s section was not asked for.
    fn leave_out<DB: Backend>(&mut self, entry: &Entry<DB>) {
        let name = entry.handler.name();
        self.left_out.push((entry.position, name.to_owned()));
        self.not_included.push(NotIncluded {
            position: entry.position,
            handler: name.to_owned(),
            reason: "not asked for: the export was limited to some sections",
        });
    }

    /// `entry`'s section is written: `exported` says whether it had an export step, `tables`
    /// the rows it wrote per table.
    fn section<DB: Backend>(
        &mut self,
        entry: &Entry<DB>,
        exported: Exported,
        tables: Vec<(String, u64)>,
    ) {
        let handler = entry.handler.name().to_owned();
        match exported {
            Exported::Written => {
                let mut counts = BTreeMap::new();
                for (table, rows) in tables {
                    *counts.entry(table.clone()).or_insert(0) += rows;
                    *self.totals.entry(table).or_insert(0) += rows;
                }
                self.included.push(Included {
                    position: entry.position,
                    handler,
                    tables: counts,
                });
            }
            Exported::NotSupported => self.not_included.push(NotIncluded {
                position: entry.position,
                handler,
                reason: "the handler has no export step",
            }),
        }
    }

    /// Writes the trailer and ends the document; the summary of the export `export_id`, which
    /// read the clock at `generated_at`, for a subject of `subject_kind`.
    async fn finish<W: AsyncWrite + Unpin + Send>(
        self,
        doc: &mut Document<W>,
        export_id: Uuid,
        generated_at: DateTime<Utc>,
        subject_kind: SubjectKind,
    ) -> Result<ExportSummary, ExportError> {
        let rows = self.totals.values().sum();
        let complete = doc.unreadable().is_empty();
        let read_as_text: Vec<(String, String)> = doc.read_as_text().to_vec();
        let unreadable: Vec<(String, String, String)> = doc.unreadable().to_vec();
        let note = |table, column, ty| ColumnNote { table, column, ty };
        let trailer = Trailer {
            included: &self.included,
            not_included: &self.not_included,
            read_as_text: read_as_text.iter().map(|(t, c)| note(t, c, None)).collect(),
            unreadable: unreadable
                .iter()
                .map(|(t, c, ty)| note(t, c, Some(ty)))
                .collect(),
            rows,
            complete,
        };
        let bytes = doc.finish(&trailer).await?;
        let left_out = self.left_out;
        Ok(ExportSummary {
            export_id,
            generated_at,
            subject_kind,
            tables: self.totals,
            rows,
            not_included: self
                .not_included
                .into_iter()
                .filter(|n| !left_out.iter().any(|(p, _)| *p == n.position))
                .map(|n| (n.position, n.handler))
                .collect(),
            left_out,
            complete,
            bytes,
        })
    }
}
