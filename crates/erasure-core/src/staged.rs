//! The erase pass's planned writes: the statements of consecutive
//! [planned](crate::DeletionHandler::planned) handlers, sent to the database together.
//!
//! A handler whose erasure is its policy carried out as it is states its statements instead of
//! running them ([`ErasureContext::plan`]); the chain collects those of the handlers that follow
//! each other and sends them with [`Backend::execute_batch`]: one round trip on SQLite, however
//! many statements. Before a handler that runs its own `erase`, and at the end of the pass, the
//! collected statements are sent, so every statement still runs in position order. Each
//! statement's rows are recorded in its handler's report as the handler's own `apply` would
//! have recorded them; a statement that fails is reported as its handler's failure.

use std::time::Instant;

use crate::backend::Backend;
use crate::chain::{Entry, micros};
use crate::context::{ErasureContext, RunInfo, Write};
use crate::error::{DatabaseError, Error, HandlerError};
use crate::ident::Ident;
use crate::policy::Policy;
use crate::report::HandlerReport;
use crate::runner::{StepFailure, Stopped};

/// Statements planned and not yet sent.
#[derive(Debug, Default)]
pub(crate) struct Stage {
    writes: Vec<Staged>,
}

/// One planned statement and the handler it belongs to.
#[derive(Debug)]
struct Staged {
    /// The handler's index in the chain.
    handler: usize,
    table: Ident,
    write: Write,
}

impl Stage {
    /// Whether nothing waits to be sent.
    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Plans the erase pass of `policy`, the policy of the chain's handler number `index`,
    /// noting in `report` what planning notes (a kind of subject the policy does not apply to).
    pub(crate) fn plan<DB: Backend>(
        &mut self,
        conn: &mut DB::Connection,
        run: &RunInfo<'_>,
        (index, entry): (usize, &Entry<DB>),
        policy: &Policy,
        report: &mut HandlerReport,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let mut cx = ErasureContext::<DB>::new(conn, run);
        let planned = cx.plan(policy);
        report.outcome.merge(cx.take_outcome());
        report.elapsed_us += micros(started);
        let writes = planned.map_err(|cause| failed(entry, cause))?;
        self.writes
            .extend(writes.into_iter().map(|(table, write)| Staged {
                handler: index,
                table,
                write,
            }));
        Ok(())
    }

    /// Sends what waits, in order, and records each statement's rows in its handler's report
    /// (`reports` and `entries` in chain order). The time the round trip took is shared among
    /// the handlers by their number of statements.
    pub(crate) async fn flush<DB: Backend>(
        &mut self,
        conn: &mut DB::Connection,
        entries: &[Entry<DB>],
        reports: &mut [HandlerReport],
    ) -> Result<(), Error> {
        let writes = std::mem::take(&mut self.writes);
        let started = Instant::now();
        let statements: Vec<_> = writes.iter().map(|w| w.write.sql.clone()).collect();
        let counts = match DB::execute_batch(conn, &statements).await {
            Ok(counts) => counts,
            Err((i, e)) => {
                let entry = &entries[writes[i].handler];
                let cause = HandlerError::Database(DatabaseError::from(e));
                return Err(failed(entry, cause));
            }
        };
        let share = micros(started) / writes.len().max(1) as u64;
        for (staged, rows) in writes.into_iter().zip(counts) {
            let report = &mut reports[staged.handler];
            report.statements += 1;
            report.elapsed_us += share;
            for action in staged.write.actions {
                report.outcome.record(staged.table.clone(), action, rows);
            }
            if rows > 0
                && let Some(note) = staged.write.note_if_rows
            {
                report.outcome.push_note(note);
            }
        }
        Ok(())
    }
}

/// The chain's error for `entry`'s failure, logged in the handler's span as the runner logs a
/// handler's own failure.
fn failed<DB: Backend>(entry: &Entry<DB>, cause: HandlerError) -> Error {
    Error::from(StepFailure::logged(
        entry,
        Stopped::Failed(cause),
        &entry.span(),
    ))
}
