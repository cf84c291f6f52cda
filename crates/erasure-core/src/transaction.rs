//! The one owner of begin, commit and rollback in the workspace.
//!
//! Every unit of work that writes (an erasure, a purge batch, a request's transition, an outbox
//! claim) and every read that must see one snapshot (an export) runs in a [`Tx`]: begun with
//! [`Tx::begin`], ended with [`Tx::settle`] (commit on success) or [`Tx::roll_back`] (always roll
//! back: dry runs, reads). No other module calls sqlx's `commit` or `rollback`.
//!
//! The rules this module enforces, so that the code that uses it cannot forget them:
//!
//! * **Every error path rolls back explicitly**: the work's error, a failed commit, a dry run.
//!   A dropped sqlx transaction only *queues* its rollback until the connection is next used,
//!   leaving its locks held (a `SKIP LOCKED` claim would then hide rows from other workers).
//! * **A failed commit is followed by an explicit rollback.** When the database reported why the
//!   commit failed (a deferred constraint, a serialization failure), it discarded the
//!   transaction and the rollback only confirms it: [`Failure::Commit`]. When it did not (the
//!   connection broke during `COMMIT`), nobody knows whether the transaction committed.
//! * **A savepoint left open inside a unit is rolled back with it**, innermost first, and a unit
//!   with a savepoint still open inside it does not commit ([`Failure::Commit`]): nobody settled
//!   that work.
//! * **A connection in doubt is never reused.** When a rollback fails, or a commit's outcome is
//!   unknown, or a savepoint inside the unit could not be rolled back (MySQL ends the whole
//!   transaction on a deadlock, savepoints included), the result is [`Failure::InDoubt`]: close
//!   the connection ([`Lease::discard`]) and start again on another one. The database discards
//!   whatever transaction the closed connection still had. (An in-memory SQLite database lives
//!   in its one connection and goes with it; such databases are for tests.)
//! * **Cancellation rolls back.** A [`Tx`] dropped before it was settled (its future was
//!   dropped) queues a rollback, which sqlx sends before the connection is used again or
//!   returned to its pool.
//!
//! One kind of unit is for the batches of [`Chain::erase_many`](crate::Chain::erase_many)
//! alone: a *subject savepoint*. Where the backend sends many statements as one query (SQLite),
//! a batch keeps one savepoint open between its subjects (`open_subject_savepoint`), and each
//! subject runs in it (`Tx::in_subject_savepoint`): its `RELEASE`, and the `SAVEPOINT` for
//! the next subject, travel with the subject's last statements (`Tx::closing_statements`), or
//! go together in one query when it settles, and a failure rolls back to the savepoint, which
//! stays open for the next subject. A subject then costs one round trip to the database where
//! it cost three. sqlx does not count this savepoint in its transaction depth, so the unit is
//! only ever used inside a transaction of the batch's own: cancelling the batch rolls back that
//! transaction, savepoint and all.
//!
//! Lock conflicts are retried by [`RetryPolicy`](crate::RetryPolicy) in a *new* transaction;
//! see [`RetryPolicy::run`](crate::RetryPolicy::run).
//!
//! ```
//! use erasure_core::transaction::{Isolation, Tx};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = erasure_core::sqlite::open("sqlite::memory:", 1).await?;
//! sqlx::query("CREATE TABLE t (x INTEGER)").execute(&pool).await?;
//! let mut conn = pool.acquire().await?;
//!
//! let mut tx = Tx::<sqlx::Sqlite>::begin(&mut conn, Isolation::Write).await?;
//! let work = sqlx::query("INSERT INTO t VALUES (1)").execute(&mut *tx).await;
//! tx.settle(work).await?; // committed
//!
//! let mut tx = Tx::<sqlx::Sqlite>::begin(&mut conn, Isolation::Write).await?;
//! let work: Result<(), &str> = Err("changed my mind");
//! sqlx::query("INSERT INTO t VALUES (2)").execute(&mut *tx).await?;
//! assert!(tx.settle(work).await.is_err()); // rolled back, explicitly
//!
//! let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t").fetch_one(&mut *conn).await?;
//! assert_eq!(n, 1);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
//! ```

use std::fmt;
use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx_core::transaction::TransactionManager as _;

use crate::backend::Backend;
use crate::error::DatabaseError;
use crate::sql::Sql;

pub use crate::backend::Isolation;

/// A transaction, or a savepoint inside one, on a borrowed connection.
///
/// Dereferences to the connection, so statements run with `&mut *tx`. End it with
/// [`settle`](Self::settle) or [`roll_back`](Self::roll_back); dropping it unsettled (a
/// cancelled future) queues a rollback.
pub struct Tx<'c, DB: Backend> {
    conn: &'c mut DB::Connection,
    /// The connection's transaction depth once this unit began: 1 for a transaction of its own,
    /// more for a savepoint.
    depth: usize,
    open: bool,
    /// A subject savepoint (see the module's documentation): whether it is one, and whether its
    /// `RELEASE` already went with the subject's last statements.
    subject: Option<Released>,
}

/// Whether a subject savepoint's `RELEASE` (and the next `SAVEPOINT`) was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Released {
    No,
    Yes,
}

// The savepoint a batch keeps open between its subjects is named `erasure_subject`.
fn savepoint_sql() -> Sql {
    Sql::new("SAVEPOINT erasure_subject")
}

/// Releases a subject's savepoint into the batch and opens the next subject's: sent with the
/// subject's last statements, or alone when it settles.
fn release_and_reopen() -> [Sql; 2] {
    [Sql::new("RELEASE erasure_subject"), savepoint_sql()]
}

/// Opens the savepoint the subjects of a batch run in, inside the batch's transaction `tx`;
/// see the module's documentation.
///
/// # Errors
///
/// The `SAVEPOINT` fails.
pub(crate) async fn open_subject_savepoint<DB: Backend>(
    tx: &mut Tx<'_, DB>,
) -> Result<(), DatabaseError> {
    debug_assert!(tx.subject.is_none() && DB::FOLDS_SAVEPOINTS);
    DB::execute(tx.conn, &savepoint_sql()).await?;
    Ok(())
}

impl<'c, DB: Backend> Tx<'c, DB> {
    /// Begins a transaction of `isolation` on `conn`, or a savepoint when `conn` is already
    /// inside a transaction.
    ///
    /// # Errors
    ///
    /// The `BEGIN` (or `SAVEPOINT`) fails.
    pub async fn begin(
        conn: &'c mut DB::Connection,
        isolation: Isolation,
    ) -> Result<Self, DatabaseError> {
        DB::start(conn, isolation).await?;
        let depth = DB::TransactionManager::get_transaction_depth(conn);
        Ok(Self {
            conn,
            depth,
            open: true,
            subject: None,
        })
    }

    /// One subject of a batch, in the savepoint the batch opened with
    /// [`open_subject_savepoint`] and keeps open between subjects. Sends nothing.
    pub(crate) fn in_subject_savepoint(conn: &'c mut DB::Connection) -> Self {
        let depth = DB::TransactionManager::get_transaction_depth(conn);
        Self {
            conn,
            depth,
            open: true,
            subject: Some(Released::No),
        }
    }

    /// Whether this unit is a savepoint inside a transaction someone else began.
    pub fn is_savepoint(&self) -> bool {
        self.depth > 1 || self.subject.is_some()
    }

    /// For a subject savepoint: the statements that release it and open the next subject's,
    /// to send after the unit's last statements, in the same query. `None` for any other unit,
    /// and when a savepoint begun inside this one is still open (settling then refuses to
    /// commit). Once they were sent, call [`closed_by_statements`](Self::closed_by_statements).
    pub(crate) fn closing_statements(&self) -> Option<[Sql; 2]> {
        (self.open && self.subject == Some(Released::No) && self.depth() == self.depth)
            .then(release_and_reopen)
    }

    /// The statements of [`closing_statements`](Self::closing_statements) ran: the subject's
    /// work is released into the batch, and settling sends nothing more.
    pub(crate) fn closed_by_statements(&mut self) {
        debug_assert!(self.subject.is_some());
        self.subject = Some(Released::Yes);
    }

    /// Commits when `result` is `Ok`, rolls back explicitly when it is an error, and returns
    /// `result` (or why the commit or rollback failed).
    ///
    /// A savepoint is released on success; it commits with its enclosing transaction.
    ///
    /// # Errors
    ///
    /// [`Failure::Work`] with the work's error, rolled back; [`Failure::Commit`] when the
    /// database refused the commit and discarded the transaction; [`Failure::InDoubt`] when the
    /// connection's state is unknown.
    pub async fn settle<T, E>(mut self, result: Result<T, E>) -> Result<T, Failure<E>> {
        match result {
            Ok(value) => self.commit().await.map(|()| value),
            Err(work) => Err(self.rollback_after(work).await),
        }
    }

    /// Rolls back explicitly whatever `result` is (a dry run, a read), and returns `result`.
    ///
    /// # Errors
    ///
    /// [`Failure::Work`] with the work's error; [`Failure::InDoubt`] when the rollback failed
    /// (with the work's error, if any).
    pub async fn roll_back<T, E>(mut self, result: Result<T, E>) -> Result<T, Failure<E>> {
        match result {
            Ok(value) => match self.rollback().await {
                Ok(()) => Ok(value),
                Err(error) => Err(Failure::InDoubt { work: None, error }),
            },
            Err(work) => Err(self.rollback_after(work).await),
        }
    }

    async fn commit<E>(&mut self) -> Result<(), Failure<E>> {
        if self.depth() != self.depth {
            // A savepoint inside this unit is still open (or this unit was ended behind its
            // back): committing would commit, or lose, work nobody settled. Roll everything
            // back instead; the commit is refused.
            let error = self.depth_error();
            return Err(match self.rollback().await {
                Ok(()) => Failure::Commit(error),
                Err(rollback) => Failure::InDoubt {
                    work: None,
                    error: rollback,
                },
            });
        }
        if let Some(released) = self.subject {
            // Until the statements ran (the future may be dropped meanwhile), the unit stays
            // open, so that dropping it queues the rollback.
            let sent = match released {
                Released::Yes => Ok(Vec::new()),
                Released::No => DB::execute_batch(self.conn, &release_and_reopen()).await,
            };
            self.open = false;
            return match sent {
                Ok(_) => Ok(()),
                // The `RELEASE` may have run: what the subject did is then part of the batch
                // and cannot be rolled back alone.
                Err((_, error)) => Err(Failure::InDoubt {
                    work: None,
                    error: DatabaseError::from(error),
                }),
            };
        }
        match DB::TransactionManager::commit(self.conn).await {
            Ok(()) => {
                self.open = false;
                Ok(())
            }
            Err(error) => {
                // The database said why: it discarded the transaction, and the rollback below
                // only confirms it. Otherwise (the connection broke during COMMIT) nobody knows
                // whether the transaction committed.
                let reported = matches!(error, sqlx::Error::Database(_));
                let error = DatabaseError::from(error);
                match self.rollback().await {
                    Ok(()) if reported => Err(Failure::Commit(error)),
                    Ok(()) | Err(_) => Err(Failure::InDoubt { work: None, error }),
                }
            }
        }
    }

    /// Rolls back after the work failed with `work`.
    async fn rollback_after<E>(&mut self, work: E) -> Failure<E> {
        match self.rollback().await {
            Ok(()) => Failure::Work(work),
            Err(error) => Failure::InDoubt {
                work: Some(work),
                error,
            },
        }
    }

    /// Rolls back this unit, after any savepoint still open inside it (innermost first).
    async fn rollback(&mut self) -> Result<(), DatabaseError> {
        // Whatever the outcome, this unit is over: a failed rollback leaves the connection in
        // doubt, and queueing another rollback on drop would only repeat the failure.
        self.open = false;
        let depth = self.depth();
        if depth < self.depth {
            // Someone ended this unit behind its back: what it did is unknown.
            return Err(self.depth_error());
        }
        let Some(released) = self.subject else {
            for _ in self.depth..=depth {
                // A savepoint the database already forgot (MySQL ends the whole transaction on
                // a deadlock) fails here: the connection is then in doubt.
                DB::TransactionManager::rollback(self.conn).await?;
            }
            return Ok(());
        };
        if released == Released::Yes {
            // Released into the batch with the subject's last statements: it can no longer be
            // rolled back alone. (The chain sends those statements last, so this is not
            // reached; should it be, the batch must be rolled back, which the error asks for.)
            return Err(DatabaseError::from(sqlx::Error::Protocol(
                "the subject's savepoint was already released".to_owned(),
            )));
        }
        // Savepoints begun inside this one first (sqlx counts them), then the subject's own,
        // which stays open, empty, for the next subject.
        for _ in self.depth..depth {
            DB::TransactionManager::rollback(self.conn).await?;
        }
        DB::execute(self.conn, &Sql::new("ROLLBACK TO erasure_subject")).await?;
        Ok(())
    }

    fn depth(&self) -> usize {
        DB::TransactionManager::get_transaction_depth(self.conn)
    }

    fn depth_error(&self) -> DatabaseError {
        DatabaseError::from(sqlx::Error::Protocol(format!(
            "the transaction is at depth {}, not {}: a savepoint inside it was left open",
            self.depth(),
            self.depth
        )))
    }
}

impl<DB: Backend> Deref for Tx<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        self.conn
    }
}

impl<DB: Backend> DerefMut for Tx<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.conn
    }
}

impl<DB: Backend> Drop for Tx<'_, DB> {
    fn drop(&mut self) {
        // Unsettled: the future running this unit was dropped. Queue the rollback; sqlx sends
        // it before the connection runs anything else or goes back to its pool. Exactly one,
        // whatever the depth says: SQLite counts a queued rollback only once its worker ran it,
        // so when nested units are dropped together, the inner one's rollback is still counted
        // in the depth while the outer one queues its own.
        // A subject savepoint is not counted by sqlx: this queues the rollback of the batch's
        // transaction around it, which is being dropped too (see the module's documentation).
        if self.open {
            DB::TransactionManager::start_rollback(self.conn);
        }
    }
}

impl<DB: Backend> fmt::Debug for Tx<'_, DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("backend", &DB::DIALECT)
            .field("depth", &self.depth)
            .field("open", &self.open)
            .field("subject_savepoint", &self.subject.is_some())
            .finish()
    }
}

/// Why a [`Tx`] did not end as the work wanted.
#[derive(Debug)]
pub enum Failure<E> {
    /// The work failed; everything it did was rolled back.
    Work(E),
    /// The database refused the commit and discarded the transaction: nothing was committed.
    Commit(DatabaseError),
    /// The connection's transaction is in an unknown state: a rollback failed, the commit's
    /// outcome is unknown (the connection broke during `COMMIT`), or a savepoint inside the
    /// unit could not be rolled back. Close the connection ([`Lease::discard`]); the database
    /// discards whatever transaction it still had.
    InDoubt {
        /// The work's error, when the work failed before.
        work: Option<E>,
        /// What failed at the end: the rollback, or the commit.
        error: DatabaseError,
    },
}

impl<E> Failure<E> {
    /// Whether the connection must be closed rather than reused.
    pub fn is_in_doubt(&self) -> bool {
        matches!(self, Failure::InDoubt { .. })
    }

    /// The work's error, if the work failed.
    pub fn work(&self) -> Option<&E> {
        match self {
            Failure::Work(e) | Failure::InDoubt { work: Some(e), .. } => Some(e),
            _ => None,
        }
    }

    /// Closes `lease` when in doubt, then turns the failure into the work's error type: the
    /// work's error when it failed, the database error of the commit or rollback otherwise. For
    /// callers that need no more than one error.
    pub fn discard_if_in_doubt<DB: Backend>(self, lease: &mut impl Lease<DB>) -> E
    where
        E: From<DatabaseError>,
    {
        if self.is_in_doubt() {
            lease.discard();
        }
        self.into_error()
    }

    /// The work's error when it failed, the database error of the commit or rollback
    /// otherwise. An in-doubt failure whose work failed too is logged (without personal data).
    pub fn into_error(self) -> E
    where
        E: From<DatabaseError>,
    {
        self.into_error_with(E::from)
    }

    /// [`into_error`](Self::into_error) for error types that take a database error through
    /// `database` rather than `From`.
    pub fn into_error_with(self, database: impl FnOnce(DatabaseError) -> E) -> E {
        match self {
            Failure::Work(e) => e,
            Failure::Commit(db)
            | Failure::InDoubt {
                work: None,
                error: db,
            } => database(db),
            Failure::InDoubt {
                work: Some(e),
                error,
            } => {
                tracing::warn!(error = %error, "rolling back after a failure failed too; the connection is closed");
                e
            }
        }
    }
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Work(e) => write!(f, "{e}"),
            Failure::Commit(db) => write!(f, "could not commit: {db}"),
            Failure::InDoubt {
                work: Some(e),
                error,
            } => {
                write!(f, "{e}; rolling back also failed: {error}")
            }
            Failure::InDoubt { work: None, error } => {
                write!(f, "the transaction is in doubt: {error}")
            }
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for Failure<E> {}

mod sealed {
    pub trait Sealed<DB> {}
}

/// A connection as [`sqlx::Acquire`] hands it out: a pool's connection, or one the caller
/// lent. [`discard`](Self::discard) makes sure a connection in doubt is never used again by
/// this library's caller through the pool.
pub trait Lease<DB: Backend>:
    DerefMut<Target = DB::Connection> + Send + sealed::Sealed<DB>
{
    /// Marks the connection to be closed instead of returned to its pool. A lent connection
    /// belongs to the caller, who learns from the error that it is in doubt.
    fn discard(&mut self);
}

impl<DB: Backend> sealed::Sealed<DB> for PoolConnection<DB> {}

impl<DB: Backend> Lease<DB> for PoolConnection<DB> {
    fn discard(&mut self) {
        self.close_on_drop();
    }
}

impl<DB: Backend> sealed::Sealed<DB> for &mut DB::Connection {}

impl<DB: Backend> Lease<DB> for &mut DB::Connection {
    fn discard(&mut self) {}
}
