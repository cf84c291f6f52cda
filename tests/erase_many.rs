//! Many subjects per commit (`Chain::erase_many`): each subject in a savepoint of its own, one
//! commit per batch; a subject that fails rolls back alone; a failure that ends the batch's
//! transaction reruns the batch without it; on every backend.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use erasure::sql::Sql;
use erasure::{
    Backend, BatchOptions, Chain, Dialect, Erasure, ErasureContext, HandlerError, Key, Outcome,
    Report, SubjectResult, async_trait,
};
use erasure_testkit::{Owner, SeedConfig, Shape, TestBackend, TestDb};
use sqlx::Connection as _;
use support::{Sent, Shop, assert_clean, backend_tests};

/// What a [`Trap`] does at its customer.
enum Sprung {
    /// Fails with an error: the subject's savepoint rolls back alone.
    Fails,
    /// Ends the transaction the chain runs in, as MySQL does on a deadlock, then fails.
    EndsTransaction,
    /// Begins a savepoint (sqlx's) and never ends it, nor queues its rollback.
    LeavesSavepointOpen,
    /// Waits forever the first time, after notifying `reached`.
    Stalls {
        stalled: AtomicBool,
        reached: Arc<tokio::sync::Notify>,
    },
}

/// Springs at one customer's erasure (see [`Sprung`]); does nothing for the others.
struct Trap {
    customer: i64,
    sprung: Sprung,
}

impl Trap {
    fn new(customer: i64, sprung: Sprung) -> Self {
        Self { customer, sprung }
    }
}

#[async_trait]
impl<DB: Backend> erasure::DeletionHandler<DB> for Trap {
    fn name(&self) -> &str {
        "trap"
    }

    fn description(&self) -> &str {
        "springs at one customer's erasure (test)"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        if cx.subject().customer_key() != Some(&Key::Int(self.customer)) {
            return Ok(Outcome::new());
        }
        match &self.sprung {
            Sprung::Fails => {}
            Sprung::EndsTransaction => {
                cx.execute(Sql::new("ROLLBACK")).await?;
            }
            Sprung::LeavesSavepointOpen => {
                let savepoint = sqlx::Connection::begin(cx.connection()).await?;
                std::mem::forget(savepoint);
                return Ok(Outcome::new());
            }
            Sprung::Stalls { stalled, reached } => {
                if !stalled.swap(true, Ordering::SeqCst) {
                    reached.notify_one();
                    std::future::pending::<()>().await;
                }
                return Ok(Outcome::new());
            }
        }
        Err(HandlerError::other("the trap sprang"))
    }
}

/// Takes at least its duration over every subject: a subject of known least duration.
struct Slow(Duration);

#[async_trait]
impl<DB: Backend> erasure::DeletionHandler<DB> for Slow {
    fn name(&self) -> &str {
        "slow"
    }

    fn description(&self) -> &str {
        "takes its time over every subject (test)"
    }

    async fn erase(&self, _cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        tokio::time::sleep(self.0).await;
        Ok(Outcome::new())
    }
}

/// The trap at 90: after every standard handler but the customer's own, so that the subject
/// has written a lot before it fails.
fn chain_with_trap<DB: Backend>(trap: Option<Trap>) -> Chain<DB> {
    let builder = erasure::standard_chain::<DB>();
    let builder = match trap {
        Some(trap) => builder.register(90, trap),
        None => builder,
    };
    builder.build().expect("chain")
}

const CUSTOMERS: u64 = 12;

/// A batch time no test reaches: batches close by their number of subjects.
const HOUR: Duration = Duration::from_secs(3600);

async fn shop<DB: TestBackend>(db: TestDb<DB>) -> Shop<DB> {
    Shop::new(db, SeedConfig::new(CUSTOMERS).shape(Shape::typical())).await
}

/// Customers 1..=`n` (ids, which are index + 1), as erasures.
fn erasures(n: u64) -> impl Iterator<Item = Erasure> {
    (1..=n).map(|id| Erasure::new(erasure::Subject::customer(id as i64)))
}

async fn run<DB: Backend>(
    chain: &Chain<DB>,
    pool: &sqlx::Pool<DB>,
    n: u64,
    options: BatchOptions,
) -> (erasure::ManySummary, Vec<SubjectResult>) {
    let mut done = Vec::new();
    let summary = chain
        .erase_many(pool, erasures(n), options, |d| done.push(d))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (summary, done)
}

/// Customers 1..=`n` in one batch, and the queries sent meanwhile.
async fn one_batch_caught<DB: Backend>(
    chain: &Chain<DB>,
    pool: &sqlx::Pool<DB>,
    n: u64,
) -> (erasure::ManySummary, Vec<SubjectResult>, Vec<String>) {
    let sent = Sent::default();
    let (summary, done) = sent
        .during(run(chain, pool, n, BatchOptions::default().time(HOUR)))
        .await;
    (summary, done, sent.take())
}

fn owners(ids: impl IntoIterator<Item = i64>) -> Vec<Owner> {
    ids.into_iter().map(Owner::Customer).collect()
}

/// Ten customers in batches of four: three commits, every subject reported once and in input
/// order, nothing of the ten left, and the two others untouched.
async fn many_customers_are_erased_in_batches<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db).await;
    let chain = chain_with_trap::<DB>(None);
    let before = shop.dump().await;
    let (summary, done) = run(
        &chain,
        &shop.db.pool,
        10,
        BatchOptions::default().subjects(4).time(HOUR),
    )
    .await;
    assert!(summary.longest_batch_us > 0);
    assert_eq!(
        summary,
        erasure::ManySummary {
            subjects: 10,
            erased: 10,
            no_op: 0,
            failed: 0,
            batches: 3,
            reruns: 0,
            longest_batch_us: summary.longest_batch_us,
        }
    );
    // Subjects 0-3 in the first transaction, 4-7 in the second, 8-9 in the third; each
    // subject carries its batch's time, the summary the longest of them.
    let numbers: Vec<u64> = done.iter().map(|d| d.batch).collect();
    assert_eq!(numbers, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3]);
    for group in done.chunk_by(|a, b| a.batch == b.batch) {
        assert!(
            group
                .iter()
                .all(|d| d.held == group[0].held && !d.held.is_zero())
        );
    }
    let longest = done.iter().map(|d| d.held).max().unwrap();
    assert_eq!(summary.longest_batch_us, longest.as_micros() as u64);
    let indices: Vec<usize> = done.iter().map(|d| d.index).collect();
    assert_eq!(indices, (0..10).collect::<Vec<_>>());
    assert!(
        done.iter()
            .all(|d| d.result.as_ref().is_ok_and(|r| !r.is_noop()))
    );
    let after = shop.dump().await;
    shop.assert_only_owned_changed(&before, &after, &owners(1..=10));
    for i in 0..10 {
        assert_clean(&shop.residue(&shop.seed.customer(i).needles()).await);
    }
    for i in 10..CUSTOMERS {
        let found = shop.residue(&shop.seed.customer(i).needles()).await;
        assert!(
            !found.is_clean(),
            "customer {i} is not in the batch and stays"
        );
    }
    // Erasing the same subjects again finds nothing: a rerun after a crash is harmless.
    let (again, _) = run(
        &chain,
        &shop.db.pool,
        10,
        BatchOptions::default().time(HOUR),
    )
    .await;
    assert_eq!((again.no_op, again.erased, again.batches), (10, 0, 1));
    assert_eq!(shop.dump().await.diff(&after), None);
}

/// A subject whose handler fails rolls back alone: its rows are exactly as before, the error
/// names the handler and position, and the others of its batch are erased.
async fn a_failing_subject_rolls_back_alone<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db).await;
    let chain = chain_with_trap::<DB>(Some(Trap::new(3, Sprung::Fails)));
    let before = shop.dump().await;
    let (summary, done) = run(
        &chain,
        &shop.db.pool,
        6,
        BatchOptions::default().subjects(100).time(HOUR),
    )
    .await;
    assert_eq!(
        (
            summary.erased,
            summary.failed,
            summary.batches,
            summary.reruns
        ),
        (5, 1, 1, 0)
    );
    let failed: Vec<(usize, String)> = done
        .iter()
        .filter_map(|d| d.result.as_ref().err().map(|e| (d.index, e.to_string())))
        .collect();
    assert_eq!(
        failed,
        [(
            2,
            "handler `trap` at position 90 failed: the trap sprang".to_owned()
        )]
    );
    let after = shop.dump().await;
    shop.assert_only_owned_changed(&before, &after, &owners([1, 2, 4, 5, 6]));
    for i in [0, 1, 3, 4, 5] {
        assert_clean(&shop.residue(&shop.seed.customer(i).needles()).await);
    }
}

/// A subject whose failure ends the batch's transaction (its savepoint cannot be rolled back
/// alone) fails alone: the batch is rolled back and run again without it, on a new connection;
/// the others are erased once and reported once, and nothing runs in autocommit.
async fn a_failure_that_ends_the_transaction_reruns_the_batch_without_it<DB: TestBackend>(
    db: TestDb<DB>,
) {
    if DB::DIALECT == Dialect::Sqlite && db.dir().is_none() {
        // An in-memory database lives in its one connection, which a connection in doubt
        // closes: the file database of the same test covers SQLite.
        return;
    }
    let shop = shop(db).await;
    let chain = chain_with_trap::<DB>(Some(Trap::new(4, Sprung::EndsTransaction)));
    let before = shop.dump().await;
    let (summary, done) = run(
        &chain,
        &shop.db.pool,
        8,
        BatchOptions::default().subjects(5).time(HOUR),
    )
    .await;
    assert_eq!(
        (
            summary.subjects,
            summary.erased,
            summary.failed,
            summary.batches,
            summary.reruns
        ),
        (8, 7, 1, 2, 1)
    );
    // The failed subject is reported at once; the others once each, after their commit.
    assert_eq!(done[0].index, 3);
    let error = done[0].result.as_ref().expect_err("customer 4 failed");
    assert!(
        error.leaves_connection_unusable(),
        "the savepoint could not be rolled back alone: {error}"
    );
    let mut erased: Vec<usize> = done[1..].iter().map(|d| d.index).collect();
    erased.sort_unstable();
    assert_eq!(erased, [0, 1, 2, 4, 5, 6, 7]);
    assert!(done[1..].iter().all(|d| d.result.is_ok()));
    // Transactions are numbered as begun, the rolled back one included: the first decided the
    // failed subject; the second, its rerun, took the three before it and the next two; the
    // third the last two.
    let numbers: Vec<u64> = done.iter().map(|d| d.batch).collect();
    assert_eq!(numbers, [1, 2, 2, 2, 2, 2, 3, 3]);
    let after = shop.dump().await;
    shop.assert_only_owned_changed(&before, &after, &owners([1, 2, 3, 5, 6, 7, 8]));
    let untouched = shop.residue(&shop.seed.customer(3).needles()).await;
    assert!(!untouched.is_clean(), "customer 4 was rolled back");
    for i in [0, 1, 2, 4, 5, 6, 7] {
        assert_clean(&shop.residue(&shop.seed.customer(i).needles()).await);
    }
}

/// With no time for more than one subject, every subject commits on its own.
async fn a_batch_closes_when_its_time_is_up<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db).await;
    let chain = chain_with_trap::<DB>(None);
    let (summary, _) = run(
        &chain,
        &shop.db.pool,
        3,
        BatchOptions::default().subjects(100).time(Duration::ZERO),
    )
    .await;
    assert_eq!((summary.erased, summary.batches), (3, 3));
}

/// A batch takes no subject that would, at the pace of its slowest so far, end after its time:
/// subjects of at least 60 ms under a 100 ms batch time commit one per batch (60 ms run plus
/// 60 ms more would pass 100), where waiting for the time to be up would have taken two.
async fn a_batch_takes_no_subject_that_would_end_after_its_time<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db).await;
    let chain = erasure::standard_chain::<DB>()
        .register(95, Slow(Duration::from_millis(60)))
        .build()
        .expect("chain");
    let (summary, done) = run(
        &chain,
        &shop.db.pool,
        3,
        BatchOptions::default()
            .subjects(100)
            .time(Duration::from_millis(100)),
    )
    .await;
    assert_eq!((summary.erased, summary.batches), (3, 3));
    let numbers: Vec<u64> = done.iter().map(|d| d.batch).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert!(done.iter().all(|d| d.held >= Duration::from_millis(60)));
}

/// A dry run of many subjects reports what each would lose and changes nothing.
async fn a_dry_run_of_many_changes_nothing<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db).await;
    let chain = chain_with_trap::<DB>(None);
    let before = shop.dump().await;
    let (summary, done) = run(
        &chain,
        &shop.db.pool,
        5,
        BatchOptions::default().subjects(2).time(HOUR).dry_run(),
    )
    .await;
    assert_eq!((summary.erased, summary.batches), (5, 3));
    let reports: Vec<&Report> = done.iter().filter_map(|d| d.result.as_ref().ok()).collect();
    assert!(reports.iter().all(|r| r.totals().deleted > 0));
    assert_eq!(shop.dump().await.diff(&before), None);
}

/// Where the backend sends statements together (SQLite), each subject of a batch is one query:
/// its statements, then the `RELEASE` of the savepoint it ran in and the `SAVEPOINT` for the
/// next subject; the batch opened that savepoint once, before its first subject. Elsewhere no
/// query names it (sqlx's own savepoints are not logged as queries).
async fn each_subject_of_a_batch_is_one_query_where_statements_go_together<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let shop = shop(db).await;
    let chain = chain_with_trap::<DB>(None);
    let (summary, done, queries) = one_batch_caught(&chain, &shop.db.pool, 4).await;
    assert_eq!((summary.erased, summary.batches), (4, 1));
    assert!(
        done.iter()
            .all(|d| d.result.as_ref().is_ok_and(|r| r.totals().deleted > 0))
    );
    for i in 0..4 {
        assert_clean(&shop.residue(&shop.seed.customer(i).needles()).await);
    }
    // A connection the pool opens meanwhile logs its set-up pragmas: not the batch's.
    let queries: Vec<String> = queries
        .into_iter()
        .filter(|q| !q.starts_with("PRAGMA "))
        .collect();
    if !DB::FOLDS_SAVEPOINTS {
        assert!(
            queries.iter().all(|q| !q.contains("erasure_subject")),
            "{queries:#?}"
        );
        return;
    }
    assert_eq!(queries.len(), 1 + 4, "{queries:#?}");
    assert_eq!(queries[0], "SAVEPOINT erasure_subject");
    for q in &queries[1..] {
        assert!(
            q.ends_with(";\nRELEASE erasure_subject;\nSAVEPOINT erasure_subject;"),
            "{q}"
        );
        assert_eq!(q.matches("erasure_subject").count(), 2, "{q}");
    }
}

/// A subject that leaves a savepoint open inside its own does not commit: it is rolled back
/// alone, savepoint and all, and the batch goes on and commits the others.
async fn a_subject_that_leaves_a_savepoint_open_rolls_back_alone<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db).await;
    let chain = erasure::standard_chain::<DB>()
        .register(95, Trap::new(2, Sprung::LeavesSavepointOpen))
        .build()
        .expect("chain");
    let before = shop.dump().await;
    let (summary, done) = run(&chain, &shop.db.pool, 4, BatchOptions::default().time(HOUR)).await;
    assert_eq!(
        (
            summary.erased,
            summary.failed,
            summary.batches,
            summary.reruns
        ),
        (3, 1, 1, 0)
    );
    let error = done[1].result.as_ref().expect_err("customer 2 is refused");
    assert!(
        matches!(error, erasure::Error::Commit(_)) && error.to_string().contains("left open"),
        "{error}"
    );
    assert!(!error.leaves_connection_unusable(), "{error}");
    let after = shop.dump().await;
    shop.assert_only_owned_changed(&before, &after, &owners([1, 3, 4]));
    assert!(
        !shop
            .residue(&shop.seed.customer(1).needles())
            .await
            .is_clean()
    );
}

/// A batch dropped while a subject runs (cancellation) commits nothing, the subjects before it
/// included, and leaves no connection in a transaction or a savepoint; the same input run
/// again erases every subject.
async fn a_cancelled_batch_commits_nothing<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db).await;
    let reached = Arc::new(tokio::sync::Notify::new());
    let chain = erasure::standard_chain::<DB>()
        .register(
            95,
            Trap::new(
                3,
                Sprung::Stalls {
                    stalled: AtomicBool::new(false),
                    reached: reached.clone(),
                },
            ),
        )
        .build()
        .expect("chain");
    let before = shop.dump().await;
    let options = BatchOptions::default().time(HOUR);
    tokio::select! {
        r = chain.erase_many(&shop.db.pool, erasures(5), options, |_| {}) => {
            panic!("the batch stalls at its third subject: {r:?}")
        }
        () = reached.notified() => {}
    }
    let mut conn = shop.db.pool.acquire().await.expect("conn");
    // A statement sends whatever rollback was queued on the connection.
    DB::fetch_all(&mut conn, &Sql::new("SELECT 1"))
        .await
        .expect("the connection works");
    assert!(!conn.is_in_transaction());
    if DB::FOLDS_SAVEPOINTS {
        let gone = DB::execute(&mut conn, &Sql::new("RELEASE erasure_subject")).await;
        assert!(
            gone.is_err(),
            "the subjects' savepoint is gone with the batch"
        );
    }
    drop(conn);
    assert_eq!(shop.dump().await.diff(&before), None, "nothing committed");
    let (summary, _) = run(&chain, &shop.db.pool, 5, options).await;
    assert_eq!((summary.erased, summary.batches), (5, 1));
    for i in 0..5 {
        assert_clean(&shop.residue(&shop.seed.customer(i).needles()).await);
    }
}

/// With a recorder writing after the handlers, each subject's receipt is written in its
/// savepoint and commits with the batch: a receipt for each erased subject, none for the one
/// that failed. On SQLite the savepoint's `RELEASE` and the next subject's `SAVEPOINT` then go
/// together in one query after the receipt, and the failed subject rolls back to it.
async fn receipts_commit_with_their_subjects_in_a_batch<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db).await;
    erasure::evidence::install(&shop.db.pool)
        .await
        .expect("install the evidence tables");
    let chain = erasure::standard_chain::<DB>()
        .register(90, Trap::new(3, Sprung::Fails))
        .pseudonym_key(
            erasure::PseudonymKey::from_hex("8f1e2d3c4b5a69788796a5b4c3d2e1f0").expect("key"),
        )
        .recorder(erasure::evidence::Receipts::new())
        .build()
        .expect("chain");
    let before = shop.dump().await;
    let (summary, done, queries) = one_batch_caught(&chain, &shop.db.pool, 5).await;
    assert_eq!((summary.erased, summary.failed, summary.batches), (4, 1, 1));
    assert!(done[2].result.is_err());
    let receipts = support::count(
        &shop.db.pool,
        erasure::sql::Select::count(erasure::ident!("erasure_receipts")),
    )
    .await;
    assert_eq!(receipts, 4, "a receipt for each erased subject");
    let after = shop.dump().await;
    assert!(
        !shop
            .residue(&shop.seed.customer(2).needles())
            .await
            .is_clean()
    );
    for i in [0, 1, 3, 4] {
        assert_clean(&shop.residue(&shop.seed.customer(i).needles()).await);
    }
    let changed = Shop::<DB>::changed_tables(&before, &after, erasure_testkit::dump::Change::Added);
    assert!(changed.contains("erasure_receipts"), "{changed:?}");
    if !DB::FOLDS_SAVEPOINTS {
        return;
    }
    let closing =
        |q: &&String| q.as_str() == "RELEASE erasure_subject;\nSAVEPOINT erasure_subject;";
    assert_eq!(queries.iter().filter(closing).count(), 4, "{queries:#?}");
    let rolled_back: Vec<&String> = queries
        .iter()
        .filter(|q| q.as_str() == "ROLLBACK TO erasure_subject")
        .collect();
    assert_eq!(rolled_back.len(), 1, "{queries:#?}");
}

backend_tests!(
    receipts_commit_with_their_subjects_in_a_batch,
    each_subject_of_a_batch_is_one_query_where_statements_go_together,
    a_subject_that_leaves_a_savepoint_open_rolls_back_alone,
    a_cancelled_batch_commits_nothing,
    many_customers_are_erased_in_batches,
    a_failing_subject_rolls_back_alone,
    a_failure_that_ends_the_transaction_reruns_the_batch_without_it,
    a_batch_closes_when_its_time_is_up,
    a_batch_takes_no_subject_that_would_end_after_its_time,
    a_dry_run_of_many_changes_nothing,
);
