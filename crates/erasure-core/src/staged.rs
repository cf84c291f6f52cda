//! The erase pass's planned writes: the statements of consecutive
//! [planned](crate::DeletionHandler::planned) handlers, sent to the database together.
//!
//! A handler whose erasure is its policy carried out as it is states its statements instead of
//! running them ([`ErasureContext::plan`]); the chain collects those of the handlers that follow
//! each other and sends them with [`Backend::execute_batch`]: one round trip on SQLite, however
//! many statements. On PostgreSQL ([`Backend::JOINS_WRITES`]) they go in runs ([`runs`]), each
//! as one writable `WITH` statement ([`Backend::execute_joined`]); a run that fails makes the
//! chain run the subject again without joining, so the failure is named statement by
//! statement. Before a handler that runs its own `erase`, and at the end of the pass, the
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
use crate::transaction::Tx;

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
    ///
    /// Where the database joins writes ([`Backend::JOINS_WRITES`]) and `joining` allows it,
    /// neighbours are sent as one statement by the rule of [`runs`]; when such a joined
    /// statement fails, `joining` notes it, and the error names the first of its handlers.
    ///
    /// `last`: nothing of the unit `tx` follows these statements, so that a batch's subject
    /// savepoint is released in the same query (see [`Tx::closing_statements`]).
    pub(crate) async fn flush<DB: Backend>(
        &mut self,
        tx: &mut Tx<'_, DB>,
        entries: &[Entry<DB>],
        reports: &mut [HandlerReport],
        joining: &mut Joining,
        last: bool,
    ) -> Result<(), Error> {
        let writes = std::mem::take(&mut self.writes);
        let started = Instant::now();
        let mut statements: Vec<_> = writes.iter().map(|w| w.write.sql.clone()).collect();
        let joins = DB::JOINS_WRITES && joining.enabled;
        // The unit's last statements close a batch's subject savepoint in the same query.
        let closing = if last && !joins {
            tx.closing_statements()
        } else {
            None
        };
        let closes = closing.is_some();
        statements.extend(closing.into_iter().flatten());
        let sent = if joins {
            send_joined::<DB>(tx, &writes, &statements, joining).await
        } else {
            DB::execute_batch(tx, &statements).await
        };
        let counts = match sent {
            Ok(counts) => {
                if closes {
                    tx.closed_by_statements();
                }
                counts
            }
            Err((i, e)) if i >= writes.len() => {
                // Every planned statement ran; closing the subject's savepoint failed, and
                // whether its `RELEASE` ran is unknown: the batch must be rolled back.
                return Err(Error::InDoubt(DatabaseError::from(e)));
            }
            Err((i, e)) => {
                let entry = &entries[writes[i].handler];
                let cause = HandlerError::Database(DatabaseError::from(e));
                if joining.failed {
                    // Any statement of the run may have failed: not logged as this handler's
                    // failure. The chain runs the subject again one statement at a time, which
                    // logs the failure in the handler it belongs to.
                    tracing::warn!(error = %cause, "planned statements sent as one failed");
                    return Err(Error::Handler {
                        position: entry.position,
                        handler: entry.handler.name().to_owned(),
                        cause,
                    });
                }
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

/// Whether planned writes may be joined into one statement in a run of the chain, and whether
/// a joined statement failed (the chain then runs the subject again without joining, so that
/// the failure is found and named statement by statement).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Joining {
    pub(crate) enabled: bool,
    pub(crate) failed: bool,
}

impl Joining {
    /// Joining as the chain allows it, nothing failed yet.
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            failed: false,
        }
    }
}

/// The most values one joined statement binds: PostgreSQL takes at most 65,535 parameters in
/// a statement; a run stops short of half of that.
const MOST_JOINED_BINDS: usize = 32_767;

/// Where `writes` may be joined into one statement: runs of neighbours, in order, none of
/// which names a table (or a column of the same name: the test is on names, and errs on the
/// side of not joining) that an earlier write of its run writes. Sent as one statement, every
/// write of a run sees the database as it was before the run, which is what it would have
/// seen one at a time: nothing before it in its run changed what it reads or writes.
fn runs(writes: &[Staged]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut binds = 0;
    let mut written: Vec<&str> = Vec::new();
    for (i, staged) in writes.iter().enumerate() {
        let sql = &staged.write.sql;
        let clash = sql
            .names()
            .iter()
            .any(|name| written.iter().any(|t| t.eq_ignore_ascii_case(name)));
        let more = sql.binds();
        if i > start && (clash || binds + more > MOST_JOINED_BINDS) {
            runs.push(start..i);
            start = i;
            binds = 0;
            written.clear();
        }
        binds += more;
        written.push(staged.table.name());
    }
    if start < writes.len() {
        runs.push(start..writes.len());
    }
    runs
}

/// Sends `statements` (those of `writes`) run by run ([`runs`]): a run of one as it is, a
/// longer one as one statement ([`Backend::execute_joined`]). On failure, the index of the
/// first statement of the run that failed.
async fn send_joined<DB: Backend>(
    conn: &mut DB::Connection,
    writes: &[Staged],
    statements: &[crate::sql::Sql],
    joining: &mut Joining,
) -> Result<Vec<u64>, (usize, sqlx::Error)> {
    let mut counts = Vec::with_capacity(statements.len());
    for run in runs(writes) {
        let start = run.start;
        let sent = DB::execute_joined(conn, &statements[run.clone()]).await;
        match sent {
            Ok(rows) => counts.extend(rows),
            Err(e) => {
                joining.failed = run.len() > 1;
                return Err((start, e));
            }
        }
    }
    Ok(counts)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident;
    use crate::sql::{Condition, Delete, Update};

    fn staged(table: Ident, sql: crate::sql::Sql) -> Staged {
        Staged {
            handler: 0,
            table,
            write: Write {
                sql,
                actions: Vec::new(),
                note_if_rows: None,
            },
        }
    }

    fn delete(table: &str, column: &str) -> Staged {
        let table = Ident::new(table).expect("ident");
        let filter = Condition::eq(Ident::new(column).expect("ident"), 7);
        staged(table.clone(), Delete::new(table, filter).to_sql())
    }

    /// `DELETE FROM child WHERE parent_id IN (SELECT id FROM parent WHERE customer_id = ?)`.
    fn delete_through(child: &str, parent: &str) -> Staged {
        let child = Ident::new(child).expect("ident");
        let parent = Ident::new(parent).expect("ident");
        let filter = Condition::in_select(
            ident!("parent_id"),
            crate::sql::Select::columns(parent, [ident!("id")])
                .filter(Condition::eq(ident!("customer_id"), 7)),
        );
        staged(child.clone(), Delete::new(child, filter).to_sql())
    }

    #[test]
    fn writes_to_different_tables_join() {
        let writes = [
            delete("alerts", "customer_id"),
            delete("wishlists", "customer_id"),
            delete("addresses", "customer_id"),
        ];
        assert_eq!(runs(&writes), vec![0..3]);
    }

    #[test]
    fn a_write_that_names_a_table_written_before_starts_a_run() {
        let writes = [
            // Reads `wishlists`, which nothing before it wrote: joins.
            delete("alerts", "customer_id"),
            delete_through("wishlist_items", "wishlists"),
            delete("wishlists", "customer_id"),
            // Reads `wishlists`, written by the write before it: a new run.
            delete_through("wishlist_notes", "wishlists"),
            // The same table twice: a new run.
            delete("alerts", "customer_id"),
            delete("alerts", "user_id"),
        ];
        assert_eq!(runs(&writes), [0..3, 3..5, 5..6]);
    }

    #[test]
    fn names_compare_without_schema_or_case() {
        let writes = [
            delete("shop.Alerts", "customer_id"),
            delete_through("alert_lines", "alerts"),
        ];
        assert_eq!(runs(&writes), [0..1, 1..2]);
    }

    #[test]
    fn a_column_named_as_a_table_written_before_starts_a_run() {
        // Errs on the side of not joining: `orders` here is a column.
        let writes = [delete("orders", "customer_id"), delete("notes", "orders")];
        assert_eq!(runs(&writes), [0..1, 1..2]);
    }

    #[test]
    fn a_run_stops_short_of_the_parameter_limit() {
        let many: Vec<i64> = (0..20_000).collect();
        // An id list binds each value once (a text list twice, for MySQL's form).
        let big = |table: &str| {
            let table = Ident::new(table).expect("ident");
            let update = Update::new(
                table.clone(),
                Condition::is_in(ident!("id"), many.iter().map(|&n| n.into()).collect()),
            )
            .set(ident!("email"), crate::value::Value::Null);
            staged(table, update.to_sql())
        };
        let writes = [big("a"), big("b"), big("c")];
        assert_eq!(writes[0].write.sql.binds(), 20_000);
        assert_eq!(runs(&writes), [0..1, 1..2, 2..3]);
        assert!(runs(&[]).is_empty());
    }
}
