//! The transaction discipline (`erasure::transaction`), on every backend: explicit commit and
//! rollback, a refused commit rolled back, a connection in doubt (a savepoint the database
//! forgot, a commit whose answer was lost) closed rather than pooled, the outbox dispatcher's
//! mark all or nothing, and cancellation (a dropped future) of a unit, a job, the requests
//! worker and the outbox dispatcher leaving nothing half-done.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use erasure::clock::{FixedClock, ManualClock};
use erasure::evidence::outbox::{self, EventState, OutboxEvent, SinkError};
use erasure::evidence::{Dispatcher, EventSink, Outbox};
use erasure::job::{BatchContext, BatchOutcome, Job, JobRunner};
use erasure::requests::{RequestKind, Requests, State, Worker};
use erasure::sql::{Condition, Delete, Insert, Select, Sql};
use erasure::transaction::{Failure, Isolation, Tx};
use erasure::{
    Backend, DeletionHandler, Dialect, Erasure, ErasureContext, HandlerError, Outcome,
    PseudonymKey, Value, async_trait, ident,
};
use erasure_testkit::{SeedConfig, Shape, TestBackend, TestDb};
use sqlx::Connection as _;
use support::{Shop, assert_clean, backend_tests, count};

fn key() -> PseudonymKey {
    PseudonymKey::from_hex("0f1e2d3c4b5a69788796a5b4c3d2e1f0").expect("key")
}

async fn exec<DB: Backend>(conn: &mut DB::Connection, sql: &'static str) {
    DB::execute(conn, &Sql::new(sql)).await.expect(sql);
}

async fn rows_of<DB: Backend>(pool: &sqlx::Pool<DB>, table: &'static str) -> i64 {
    count(
        pool,
        Select::count(erasure::Ident::new(table).expect("table")),
    )
    .await
}

async fn scratch<DB: Backend>(pool: &sqlx::Pool<DB>) {
    let mut conn = pool.acquire().await.expect("conn");
    exec::<DB>(&mut conn, "CREATE TABLE scratch (id BIGINT PRIMARY KEY)").await;
}

async fn insert<DB: Backend>(conn: &mut DB::Connection, id: i64) {
    let mut rows = Insert::new(ident!("scratch"), [ident!("id")]);
    rows.row([Value::from(id)]);
    DB::execute(conn, &rows.to_sql()).await.expect("insert");
}

/// Waits (at most 5 s) until every connection of `pool` is back and idle: a dropped connection
/// returns to its pool in a background task, which first sends the rollback a dropped unit
/// queued (and so releases its locks).
async fn back_in_the_pool<DB: Backend>(pool: &sqlx::Pool<DB>) {
    for _ in 0..500 {
        if pool.num_idle() == pool.size() as usize {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("a connection did not come back to the pool");
}

/// Asserts that no connection of `pool` is left inside a transaction once they are all back (a
/// rollback queued by a dropped unit has been sent; a connection in doubt was closed, not
/// pooled).
async fn no_pooled_connection_in_a_transaction<DB: Backend>(pool: &sqlx::Pool<DB>) {
    back_in_the_pool(pool).await;
    let mut held = Vec::new();
    for _ in 0..pool.size().max(1) {
        let mut conn = pool.acquire().await.expect("conn");
        // A statement flushes whatever rollback was queued on the connection.
        DB::fetch_all(&mut conn, &Sql::new("SELECT 1"))
            .await
            .expect("a pooled connection works");
        assert!(
            !conn.is_in_transaction(),
            "a pooled connection is still inside a transaction"
        );
        held.push(conn);
    }
}

/// Commit on success, explicit rollback on failure, always rollback for `roll_back`, and a
/// savepoint that fails rolls back alone inside its enclosing unit.
async fn settle_commits_success_and_rolls_back_everything_else<DB: TestBackend>(db: TestDb<DB>) {
    scratch(&db.pool).await;
    let mut conn = db.pool.acquire().await.expect("conn");

    let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
        .await
        .expect("begin");
    assert!(!tx.is_savepoint());
    insert::<DB>(&mut tx, 1).await;
    tx.settle(Ok::<(), &str>(())).await.expect("commit");

    let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
        .await
        .expect("begin");
    insert::<DB>(&mut tx, 2).await;
    match tx.settle(Err::<(), _>("the work failed")).await {
        Err(Failure::Work("the work failed")) => {}
        other => panic!("expected the work's error, rolled back: {other:?}"),
    }
    assert!(!conn.is_in_transaction());

    let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
        .await
        .expect("begin");
    insert::<DB>(&mut tx, 3).await;
    tx.roll_back(Ok::<(), &str>(())).await.expect("rolled back");
    assert!(!conn.is_in_transaction());

    // A savepoint's failure rolls back the savepoint only.
    let mut outer = Tx::<DB>::begin(&mut conn, Isolation::Write)
        .await
        .expect("begin");
    insert::<DB>(&mut outer, 4).await;
    let mut inner = Tx::<DB>::begin(&mut outer, Isolation::Write)
        .await
        .expect("savepoint");
    assert!(inner.is_savepoint());
    insert::<DB>(&mut inner, 5).await;
    assert!(matches!(
        inner.settle(Err::<(), _>("inner")).await,
        Err(Failure::Work("inner"))
    ));
    outer.settle(Ok::<(), &str>(())).await.expect("commit");
    drop(conn);

    let ids: Vec<i64> = DB::fetch_all(
        &mut *db.pool.acquire().await.expect("conn"),
        &Select::column(ident!("scratch"), ident!("id"))
            .order_by([ident!("id")])
            .to_sql(),
    )
    .await
    .expect("ids")
    .iter()
    .filter_map(|r| r.get_index(0).and_then(Value::as_i64))
    .collect();
    assert_eq!(ids, vec![1, 4]);
}

/// A unit whose future is dropped before it settles (cancellation) queues its rollback: the
/// connection's next statement sees nothing of it, outside any transaction.
async fn a_dropped_unit_rolls_back<DB: TestBackend>(db: TestDb<DB>) {
    scratch(&db.pool).await;
    let mut conn = db.pool.acquire().await.expect("conn");
    let inserted = Arc::new(tokio::sync::Notify::new());
    let work = {
        let inserted = Arc::clone(&inserted);
        let conn = &mut *conn;
        async move {
            let mut tx = Tx::<DB>::begin(conn, Isolation::Write)
                .await
                .expect("begin");
            insert::<DB>(&mut tx, 1).await;
            inserted.notify_one();
            std::future::pending::<()>().await;
            tx.settle(Ok::<(), ()>(())).await.expect("never reached");
        }
    };
    tokio::select! {
        () = work => unreachable!("the work never ends"),
        () = inserted.notified() => {}
    }
    // The work's future is dropped here, with its unsettled unit.
    let n = DB::fetch_all(&mut conn, &Select::count(ident!("scratch")).to_sql())
        .await
        .expect("count");
    assert_eq!(n[0].get_index(0).and_then(Value::as_i64), Some(0));
    assert!(!conn.is_in_transaction());
    drop(conn);
    assert_eq!(rows_of(&db.pool, "scratch").await, 0);
}

/// Opens a savepoint through sqlx and never closes it: the chain's unit must roll it back with
/// itself, innermost first, and the connection stays usable.
struct LeavesASavepoint;

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for LeavesASavepoint {
    fn name(&self) -> &str {
        "leaves-a-savepoint"
    }

    fn description(&self) -> &str {
        "leaves a savepoint open (test)"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let mut savepoint = cx.connection().begin().await?;
        insert::<DB>(&mut savepoint, 77).await;
        std::mem::forget(savepoint);
        Ok(Outcome::new())
    }
}

/// Opens a savepoint through sqlx, then releases it behind sqlx's back: sqlx still counts it,
/// the database has forgotten it, as after MySQL ended the whole transaction on a deadlock.
/// Rolling back to it fails: the connection is in doubt. Notes its connection's server id.
#[derive(Clone, Default)]
struct ForgetsASavepoint(Arc<std::sync::Mutex<Option<i64>>>);

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for ForgetsASavepoint {
    fn name(&self) -> &str {
        "forgets-a-savepoint"
    }

    fn description(&self) -> &str {
        "makes the database forget a savepoint sqlx counts (test)"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let id = backend_id::<DB>(cx.connection()).await;
        *self.0.lock().expect("lock") = id;
        let savepoint = cx.connection().begin().await?;
        std::mem::forget(savepoint);
        DB::execute(
            cx.connection(),
            &Sql::new("RELEASE SAVEPOINT _sqlx_savepoint_1"),
        )
        .await?;
        Err(HandlerError::Config("the handler failed".into()))
    }
}

/// The connection's id on the server, to find it again.
async fn backend_id<DB: Backend>(conn: &mut DB::Connection) -> Option<i64> {
    let sql = match DB::DIALECT {
        Dialect::Postgres => "SELECT pg_backend_pid()",
        Dialect::MySql => "SELECT CONNECTION_ID()",
        Dialect::Sqlite => return None,
    };
    let rows = DB::fetch_all(conn, &Sql::new(sql)).await.expect("id");
    rows[0].get_index(0).and_then(Value::as_i64)
}

/// A savepoint a handler left open is rolled back with the chain's transaction: the erasure is
/// refused at the commit (nobody settled that work), nothing of it stays, and the connection
/// goes back to the pool clean.
async fn a_savepoint_left_open_is_rolled_back_and_nothing_commits<DB: TestBackend>(db: TestDb<DB>) {
    scratch(&db.pool).await;
    let shop = Shop::new(db, SeedConfig::new(3)).await;
    let chain = erasure::standard_chain::<DB>()
        .register(1, LeavesASavepoint)
        .build()
        .expect("chain");
    let e = chain
        .erase(
            &shop.db.pool,
            &Erasure::new(shop.seed.customer(1).subject()),
        )
        .await
        .expect_err("the commit is refused");
    assert!(matches!(e, erasure::Error::Commit(_)), "{e}");
    assert!(!e.leaves_connection_unusable());
    assert_eq!(rows_of(&shop.db.pool, "scratch").await, 0);
    assert!(
        !shop
            .residue(&shop.seed.customer(1).needles())
            .await
            .hits
            .is_empty()
    );
    no_pooled_connection_in_a_transaction(&shop.db.pool).await;
}

/// A connection whose transaction is in doubt after a failed erasure is closed, never returned
/// to the pool: no pooled connection is left in a transaction, and (on the servers) the server
/// no longer has that connection. Not on in-memory SQLite, whose database lives in its one
/// connection.
async fn a_connection_in_doubt_is_closed_not_pooled<DB: TestBackend>(db: TestDb<DB>) {
    scratch(&db.pool).await;
    let shop = Shop::new(db, SeedConfig::new(3)).await;
    let forgets = ForgetsASavepoint::default();
    let chain = erasure::standard_chain::<DB>()
        .register(1, forgets.clone())
        .build()
        .expect("chain");
    // Warm the pool so that the failing erasure's connection is one of several, and wait until
    // they are all back and idle, so that the erasure takes one of them.
    let mut warm = Vec::new();
    for _ in 0..3 {
        warm.push(shop.db.pool.acquire().await.expect("conn"));
    }
    drop(warm);
    back_in_the_pool(&shop.db.pool).await;
    let before = shop.db.pool.size();
    let e = chain
        .erase(
            &shop.db.pool,
            &Erasure::new(shop.seed.customer(1).subject()),
        )
        .await
        .expect_err("the handler fails");
    assert!(
        e.leaves_connection_unusable(),
        "the forgotten savepoint puts the transaction in doubt: {e}"
    );
    // The pool closes a discarded connection in the background.
    let mut closed = false;
    for _ in 0..500 {
        if shop.db.pool.size() < before {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        closed,
        "the connection in doubt went back to the pool ({before} -> {}): {e}",
        shop.db.pool.size()
    );
    no_pooled_connection_in_a_transaction(&shop.db.pool).await;
    let used = *forgets.0.lock().expect("lock");
    if let Some(used) = used {
        let live = match DB::DIALECT {
            Dialect::Postgres => "SELECT pid FROM pg_stat_activity",
            _ => "SELECT ID FROM information_schema.PROCESSLIST",
        };
        // The server lets go of a closed connection's thread shortly after the client left.
        let mut gone = false;
        for _ in 0..100 {
            let mut conn = shop.db.pool.acquire().await.expect("conn");
            let ids: Vec<i64> = DB::fetch_all(&mut conn, &Sql::new(live))
                .await
                .expect("live connections")
                .iter()
                .filter_map(|r| r.get_index(0).and_then(Value::as_i64))
                .collect();
            if !ids.contains(&used) {
                gone = true;
                break;
            }
            drop(conn);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone, "the server still has the connection in doubt");
    } else {
        assert_eq!(DB::DIALECT, Dialect::Sqlite);
    }
    // Nothing of the failed erasure is there.
    let found = shop.residue(&shop.seed.customer(1).needles()).await;
    assert!(!found.hits.is_empty(), "the failed erasure changed nothing");
}

mod in_doubt {
    #[tokio::test]
    async fn sqlite_file() {
        let _traces = crate::support::checked_traces();
        let db = erasure_testkit::TestDb::sqlite_file(4).await.expect("db");
        super::a_connection_in_doubt_is_closed_not_pooled(db).await;
    }

    #[cfg(feature = "postgres")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let _traces = crate::support::checked_traces();
        if let Some(db) = crate::support::server::<sqlx::Postgres>().await {
            super::a_connection_in_doubt_is_closed_not_pooled(db).await;
        }
    }

    #[cfg(feature = "mysql")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        let _traces = crate::support::checked_traces();
        if let Some(db) = crate::support::server::<sqlx::MySql>().await {
            super::a_connection_in_doubt_is_closed_not_pooled(db).await;
        }
    }
}

/// Deletes every row of `scratch` in its first batch, then (on the first run only) waits
/// forever: the test drops the job's future while the batch's transaction is open.
struct StallsOnce {
    stalled: AtomicBool,
    reached: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl<DB: Backend> Job<DB> for StallsOnce {
    fn name(&self) -> &str {
        "stalls-once"
    }

    fn description(&self) -> &str {
        "deletes scratch rows; stalls mid-batch once (test)"
    }

    async fn remaining(&self, cx: &mut BatchContext<'_, DB>) -> Result<u64, HandlerError> {
        let rows = cx.fetch_all(Select::count(ident!("scratch"))).await?;
        Ok(rows[0]
            .get_index(0)
            .and_then(Value::as_i64)
            .map_or(0, |n| n as u64))
    }

    async fn batch(&self, cx: &mut BatchContext<'_, DB>) -> Result<BatchOutcome, HandlerError> {
        if cx.after().is_some() {
            return Ok(BatchOutcome::default());
        }
        let n = cx
            .execute(Delete::new(ident!("scratch"), Condition::always()))
            .await?;
        if !self.stalled.swap(true, Ordering::SeqCst) {
            self.reached.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(BatchOutcome {
            outcome: Outcome::new().deleted(ident!("scratch"), n),
            rows: n,
            last_key: Some(Value::from(n as i64)),
            failed: 0,
        })
    }
}

/// A job run dropped mid-batch commits nothing of that batch and leaves no connection in a
/// transaction; running the job again does the whole work once.
async fn a_cancelled_job_commits_nothing_of_its_open_batch<DB: TestBackend>(db: TestDb<DB>) {
    scratch(&db.pool).await;
    {
        let mut conn = db.pool.acquire().await.expect("conn");
        for id in 1..=20 {
            insert::<DB>(&mut conn, id).await;
        }
    }
    let job = StallsOnce {
        stalled: AtomicBool::new(false),
        reached: Arc::new(tokio::sync::Notify::new()),
    };
    let runner = JobRunner::new().clock(FixedClock(Utc::now()));
    tokio::select! {
        r = runner.run(&db.pool, &job, |_| {}) => panic!("the first run stalls: {r:?}"),
        () = job.reached.notified() => {}
    }
    assert_eq!(rows_of(&db.pool, "scratch").await, 20, "nothing committed");
    no_pooled_connection_in_a_transaction(&db.pool).await;
    let summary = runner.run(&db.pool, &job, |_| {}).await.expect("rerun");
    assert_eq!((summary.rows, summary.batches), (20, 1));
    assert_eq!(rows_of(&db.pool, "scratch").await, 0);
}

/// Runs last in the chain; on its first run waits forever, after every other handler erased.
struct StallsAtTheEnd {
    runs: AtomicU32,
    reached: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for StallsAtTheEnd {
    fn name(&self) -> &str {
        "stalls-at-the-end"
    }

    fn description(&self) -> &str {
        "stalls once after every other handler ran (test)"
    }

    async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        if self.runs.fetch_add(1, Ordering::SeqCst) == 0 {
            self.reached.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(Outcome::new())
    }
}

/// The requests worker dropped mid-erasure (the claim, the erasure and the new state share one
/// transaction) leaves the request confirmed and the customer whole; the next worker carries it
/// out.
async fn a_cancelled_worker_leaves_its_request_confirmed<DB: TestBackend>(db: TestDb<DB>) {
    scratch(&db.pool).await;
    let shop = Shop::new(db, SeedConfig::new(3).shape(Shape::typical())).await;
    let pool = &shop.db.pool;
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2027, 1, 10, 9, 0, 0)
            .single()
            .expect("time"),
    );
    let store = Requests::<DB>::new(key()).clock(clock.clone());
    store.install(pool).await.expect("install");
    let c = shop.seed.customer(1);
    let sub = store
        .submit(
            pool,
            RequestKind::Erasure,
            Some(c.subject()),
            Some(&c.users[0].email),
        )
        .await
        .expect("submit");
    store
        .confirm(pool, &sub.request.id, sub.token.as_ref().expect("token"))
        .await
        .expect("confirm");
    let stall = Arc::new(StallsAtTheEnd {
        runs: AtomicU32::new(0),
        reached: Arc::new(tokio::sync::Notify::new()),
    });
    let chain = erasure::standard_chain::<DB>()
        .register(999, Arc::clone(&stall))
        .clock(clock.clone())
        .build()
        .expect("chain");
    let worker = Worker::new(store.clone(), chain);
    tokio::select! {
        r = worker.process_next(pool) => panic!("the first attempt stalls: {r:?}"),
        () = stall.reached.notified() => {}
    }
    no_pooled_connection_in_a_transaction(pool).await;
    let request = store.get(pool, &sub.request.id).await.expect("request");
    assert_eq!(request.state, State::Confirmed, "the claim was rolled back");
    assert_eq!(request.attempts, 0);
    assert!(
        !shop.residue(&c.needles()).await.hits.is_empty(),
        "nothing of the erasure committed"
    );
    let done = worker
        .process_next(pool)
        .await
        .expect("process")
        .expect("the request");
    assert_eq!(done.state, State::Completed);
    assert_clean(&shop.residue(&c.needles()).await);
}

/// A sink that never answers the first time it is called.
#[derive(Clone, Default)]
struct HangsOnce {
    calls: Arc<AtomicU32>,
    reached: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl EventSink for HangsOnce {
    async fn deliver(&self, _: &OutboxEvent) -> Result<(), SinkError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            self.reached.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

/// The dispatcher dropped while a sink call hangs: its claim was committed before the call (no
/// transaction is open during delivery), so the event stays pending under the claim's lease,
/// is not delivered twice while the lease runs, and is delivered once the lease is over.
async fn a_cancelled_dispatcher_leaves_its_event_for_after_the_lease<DB: TestBackend>(
    db: TestDb<DB>,
) {
    scratch(&db.pool).await;
    let shop = Shop::new(db, SeedConfig::new(3)).await;
    let pool = &shop.db.pool;
    erasure::evidence::install(pool).await.expect("install");
    let start = Utc
        .with_ymd_and_hms(2027, 3, 1, 9, 0, 0)
        .single()
        .expect("time");
    let clock = ManualClock::new(start);
    let chain = erasure::standard_chain::<DB>()
        .pseudonym_key(key())
        .recorder(
            Outbox::new()
                .destination("newsletter")
                .expect("destination"),
        )
        .clock(clock.clone())
        .build()
        .expect("chain");
    shop.erase(&chain, shop.seed.customer(1).subject()).await;
    let sink = HangsOnce::default();
    let lease = Duration::from_secs(300);
    let dispatcher = Dispatcher::<DB>::new()
        .sink("newsletter", sink.clone())
        .clock(clock.clone())
        .lease(lease);
    tokio::select! {
        r = dispatcher.dispatch_once(pool) => panic!("the first call hangs: {r:?}"),
        () = sink.reached.notified() => {}
    }
    no_pooled_connection_in_a_transaction(pool).await;
    let events = outbox::list(pool, &outbox::Filter::new())
        .await
        .expect("list");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].state, EventState::Pending);
    // The lease still runs: nobody takes the event.
    let during = dispatcher.dispatch_once(pool).await.expect("during");
    assert_eq!(during.attempted(), 0);
    clock.advance(chrono::Duration::seconds(301));
    let after = dispatcher.dispatch_once(pool).await.expect("after");
    assert_eq!(after.delivered, 1);
    assert_eq!(sink.calls.load(Ordering::SeqCst), 2);
    let events = outbox::list(pool, &outbox::Filter::new())
        .await
        .expect("list");
    assert_eq!(events[0].state, EventState::Delivered);
}

/// A sink that delivers every event and counts its calls.
#[derive(Clone, Default)]
struct Delivers(Arc<AtomicU32>);

#[async_trait]
impl EventSink for Delivers {
    async fn deliver(&self, _: &OutboxEvent) -> Result<(), SinkError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A sink whose every delivery fails with the message `refuse`.
struct Refuses;

#[async_trait]
impl EventSink for Refuses {
    async fn deliver(&self, _: &OutboxEvent) -> Result<(), SinkError> {
        Err("refuse".into())
    }
}

/// Makes the database refuse any update that stores `refuse` as an outbox event's last error:
/// the dispatcher's mark fails at its statement for the failed events, after its statement for
/// the delivered ones has run.
async fn refuse_failed_marks<DB: Backend>(conn: &mut DB::Connection) {
    match DB::DIALECT {
        Dialect::Sqlite => {
            exec::<DB>(
                conn,
                "CREATE TRIGGER refuse_mark BEFORE UPDATE ON erasure_outbox \
                 WHEN NEW.last_error = 'refuse' \
                 BEGIN SELECT RAISE(ABORT, 'the test refuses this mark'); END",
            )
            .await;
        }
        Dialect::Postgres => {
            exec::<DB>(
                conn,
                "CREATE FUNCTION refuse_mark() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.last_error = 'refuse' THEN \
                 RAISE EXCEPTION 'the test refuses this mark'; END IF; RETURN NEW; END $$",
            )
            .await;
            exec::<DB>(
                conn,
                "CREATE TRIGGER refuse_mark BEFORE UPDATE ON erasure_outbox \
                 FOR EACH ROW EXECUTE FUNCTION refuse_mark()",
            )
            .await;
        }
        Dialect::MySql => {
            exec::<DB>(
                conn,
                "CREATE TRIGGER refuse_mark BEFORE UPDATE ON erasure_outbox FOR EACH ROW \
                 BEGIN IF NEW.last_error = 'refuse' THEN SIGNAL SQLSTATE '45000' \
                 SET MESSAGE_TEXT = 'the test refuses this mark'; END IF; END",
            )
            .await;
        }
    }
}

async fn allow_failed_marks<DB: Backend>(conn: &mut DB::Connection) {
    match DB::DIALECT {
        Dialect::Postgres => exec::<DB>(conn, "DROP TRIGGER refuse_mark ON erasure_outbox").await,
        _ => exec::<DB>(conn, "DROP TRIGGER refuse_mark").await,
    }
}

/// How many outbox events still carry their payload.
async fn payloads<DB: Backend>(pool: &sqlx::Pool<DB>) -> i64 {
    count(
        pool,
        Select::count(ident!("erasure_outbox")).filter(Condition::is_not_null(ident!("payload"))),
    )
    .await
}

/// The dispatcher's mark is one transaction: when its statement for the failed events is
/// refused after its statement for the delivered ones ran, neither stays. Both events are as
/// the claim left them (pending, no attempt counted, payload kept, under the claim's lease), and
/// once the lease is over they are taken again and marked, the delivered one delivered again
/// (delivery is at least once). Marked in autocommit, the delivered event would have stayed
/// marked delivered, its payload cleared, while the round reported an error.
async fn the_dispatchers_mark_is_all_or_nothing<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(3)).await;
    let pool = &shop.db.pool;
    erasure::evidence::install(pool).await.expect("install");
    let start = Utc
        .with_ymd_and_hms(2027, 3, 1, 9, 0, 0)
        .single()
        .expect("time");
    let clock = ManualClock::new(start);
    let chain = erasure::standard_chain::<DB>()
        .pseudonym_key(key())
        .recorder(
            Outbox::new()
                .destination("newsletter")
                .expect("destination")
                .destination("crm")
                .expect("destination"),
        )
        .clock(clock.clone())
        .build()
        .expect("chain");
    shop.erase(&chain, shop.seed.customer(1).subject()).await;
    let state = || async {
        let mut events: Vec<_> = outbox::list(pool, &outbox::Filter::new())
            .await
            .expect("list")
            .into_iter()
            .map(|e| {
                (
                    e.destination,
                    e.state,
                    e.attempts,
                    e.delivered_at,
                    e.last_error,
                )
            })
            .collect();
        events.sort_by(|a, b| a.0.cmp(&b.0));
        events
    };
    let before = state().await;
    assert_eq!(
        before,
        [
            ("crm".to_owned(), EventState::Pending, 0, None, None),
            ("newsletter".to_owned(), EventState::Pending, 0, None, None),
        ]
    );
    assert_eq!(payloads(pool).await, 2);

    refuse_failed_marks::<DB>(&mut *pool.acquire().await.expect("conn")).await;
    let delivered = Delivers::default();
    let dispatcher = Dispatcher::<DB>::new()
        .sink("newsletter", delivered.clone())
        .sink("crm", Refuses)
        .clock(clock.clone())
        .lease(Duration::from_secs(300));
    let e = dispatcher
        .dispatch_once(pool)
        .await
        .expect_err("the mark of the failed event is refused");
    assert!(e.to_string().contains("refuses this mark"), "{e}");
    assert_eq!(
        delivered.0.load(Ordering::SeqCst),
        1,
        "the newsletter got it"
    );
    assert_eq!(
        state().await,
        before,
        "a mark that failed part-way changed no event"
    );
    assert_eq!(payloads(pool).await, 2, "no payload was cleared");
    no_pooled_connection_in_a_transaction(pool).await;

    allow_failed_marks::<DB>(&mut *pool.acquire().await.expect("conn")).await;
    let during = dispatcher.dispatch_once(pool).await.expect("during");
    assert_eq!(during.attempted(), 0, "the claim's lease still runs");
    clock.advance(chrono::Duration::seconds(301));
    let after = dispatcher.dispatch_once(pool).await.expect("after");
    assert_eq!((after.delivered, after.retrying, after.dead), (1, 1, 0));
    assert_eq!(delivered.0.load(Ordering::SeqCst), 2);
    let events = state().await;
    assert_eq!(
        (
            &events[0].0,
            events[0].1,
            events[0].2,
            events[0].4.as_deref()
        ),
        (&"crm".to_owned(), EventState::Pending, 1, Some("refuse"))
    );
    assert_eq!(
        (&events[1].0, events[1].1, events[1].2),
        (&"newsletter".to_owned(), EventState::Delivered, 1)
    );
    assert_eq!(
        payloads(pool).await,
        1,
        "the delivered event's payload is gone"
    );
}

backend_tests!(
    settle_commits_success_and_rolls_back_everything_else,
    a_dropped_unit_rolls_back,
    a_savepoint_left_open_is_rolled_back_and_nothing_commits,
    a_cancelled_job_commits_nothing_of_its_open_batch,
    a_cancelled_worker_leaves_its_request_confirmed,
    a_cancelled_dispatcher_leaves_its_event_for_after_the_lease,
    the_dispatchers_mark_is_all_or_nothing,
);

/// A commit whose answer is lost: the server ends the connection's session (PostgreSQL
/// `pg_terminate_backend`, MariaDB `KILL`, from another connection) after the unit's write and
/// before its `COMMIT`. The client cannot know whether the transaction committed: the unit
/// reports it in doubt with no work error (`Failure::InDoubt { work: None, .. }`), and the
/// connection, discarded, is closed without going back through the pool (the pool's
/// `after_release` hook, which sees every connection returned to it, never sees it). The server
/// ended the session before the `COMMIT`, so nothing was committed; the pool serves a new
/// connection.
async fn a_commit_whose_answer_is_lost_leaves_its_connection_in_doubt<DB: TestBackend>(
    db: TestDb<DB>,
) {
    scratch(&db.pool).await;
    let released = Arc::new(AtomicU32::new(0));
    let pool = {
        let released = Arc::clone(&released);
        sqlx::pool::PoolOptions::<DB>::new()
            .max_connections(2)
            .after_release(
                move |_: &mut DB::Connection, _: sqlx::pool::PoolConnectionMetadata| {
                    released.fetch_add(1, Ordering::SeqCst);
                    Box::pin(async { Ok(true) })
                },
            )
            .connect(db.connect_url())
            .await
            .expect("pool")
    };
    // The hook sees a connection that goes back to the pool.
    drop(pool.acquire().await.expect("conn"));
    back_in_the_pool(&pool).await;
    assert_eq!(released.load(Ordering::SeqCst), 1);

    let mut conn = pool.acquire().await.expect("conn");
    let id = backend_id::<DB>(&mut conn)
        .await
        .expect("a server connection");
    let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
        .await
        .expect("begin");
    insert::<DB>(&mut tx, 1).await;
    {
        let mut other = db.pool.acquire().await.expect("conn");
        let (mut end, live) = match DB::DIALECT {
            Dialect::Postgres => (
                Sql::new("SELECT pg_terminate_backend(CAST("),
                "SELECT pid FROM pg_stat_activity",
            ),
            _ => (
                Sql::new("KILL "),
                "SELECT ID FROM information_schema.PROCESSLIST",
            ),
        };
        end.bind(id);
        if DB::DIALECT == Dialect::Postgres {
            end.push(" AS INTEGER))");
        }
        DB::fetch_all(&mut other, &end)
            .await
            .expect("end the session");
        // Settle only once the server has let the session go.
        let mut gone = false;
        for _ in 0..200 {
            let ids: Vec<i64> = DB::fetch_all(&mut other, &Sql::new(live))
                .await
                .expect("live connections")
                .iter()
                .filter_map(|r| r.get_index(0).and_then(Value::as_i64))
                .collect();
            if !ids.contains(&id) {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(gone, "the server did not end the session");
    }
    let before = pool.size();
    let failure = match tx.settle(Ok::<(), erasure::DatabaseError>(())).await {
        Err(failure @ Failure::InDoubt { work: None, .. }) => failure,
        other => panic!("expected a commit in doubt: {other:?}"),
    };
    assert!(failure.is_in_doubt());
    assert!(failure.work().is_none());
    let _error: erasure::DatabaseError = failure.discard_if_in_doubt(&mut conn);
    drop(conn);
    let mut closed = false;
    for _ in 0..500 {
        if pool.size() < before {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        closed,
        "the connection in doubt is still counted by the pool"
    );
    assert_eq!(
        released.load(Ordering::SeqCst),
        1,
        "the connection in doubt went back through the pool instead of being discarded"
    );
    let mut again = pool
        .acquire()
        .await
        .expect("the pool serves a new connection");
    assert_ne!(backend_id::<DB>(&mut again).await, Some(id));
    drop(again);
    assert_eq!(rows_of(&db.pool, "scratch").await, 0, "nothing committed");
    pool.close().await;
}

mod lost_commit {
    #[cfg(feature = "postgres")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let _traces = crate::support::checked_traces();
        if let Some(db) = crate::support::server::<sqlx::Postgres>().await {
            super::a_commit_whose_answer_is_lost_leaves_its_connection_in_doubt(db).await;
        }
    }

    #[cfg(feature = "mysql")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        let _traces = crate::support::checked_traces();
        if let Some(db) = crate::support::server::<sqlx::MySql>().await {
            super::a_commit_whose_answer_is_lost_leaves_its_connection_in_doubt(db).await;
        }
    }
}

/// A commit the database refuses (a deferred foreign key) is followed by an explicit rollback:
/// the transaction is gone, nothing committed, and the connection begins the next one. SQLite
/// keeps the transaction open after a refused COMMIT, so without the rollback the next BEGIN
/// would fail. MySQL has no deferred constraints: its COMMIT fails only with the connection,
/// which the in-doubt test covers.
async fn a_refused_commit_is_rolled_back_explicitly<DB: TestBackend>(db: TestDb<DB>) {
    let mut conn = db.pool.acquire().await.expect("conn");
    exec::<DB>(&mut conn, "CREATE TABLE parent (id BIGINT PRIMARY KEY)").await;
    exec::<DB>(
        &mut conn,
        "CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT \
         REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
    )
    .await;
    let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
        .await
        .expect("begin");
    exec::<DB>(&mut tx, "INSERT INTO child (id, parent_id) VALUES (1, 99)").await;
    match tx.settle(Ok::<(), HandlerError>(())).await {
        Err(Failure::Commit(db)) => assert_eq!(
            db.kind(),
            Some(sqlx::error::ErrorKind::ForeignKeyViolation),
            "{db}"
        ),
        other => panic!("expected a refused commit: {other:?}"),
    }
    assert!(!conn.is_in_transaction());
    let tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
        .await
        .expect("the next transaction begins");
    tx.roll_back(Ok::<(), HandlerError>(()))
        .await
        .expect("rollback");
    drop(conn);
    assert_eq!(rows_of(&db.pool, "child").await, 0);
}

mod refused_commit {
    #[tokio::test]
    async fn sqlite_file() {
        let db = erasure_testkit::TestDb::sqlite_file(2).await.expect("db");
        super::a_refused_commit_is_rolled_back_explicitly(db).await;
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn postgres() {
        if let Some(db) = crate::support::server::<sqlx::Postgres>().await {
            super::a_refused_commit_is_rolled_back_explicitly(db).await;
        }
    }
}

/// Takes part in a deadlock on its `nth` run (1-based): locks row 1 of `locks`, lets the test
/// lock row 2, then asks for row 2 while the test asks for row 1. The database picks this
/// transaction as the victim (on MySQL the lighter one, on PostgreSQL the one that waited
/// first) and, on MySQL, ends it whole, savepoints included.
struct DeadlocksOnRun {
    nth: u32,
    runs: Arc<AtomicU32>,
    locked_first: Arc<tokio::sync::Notify>,
    test_locked: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for DeadlocksOnRun {
    fn name(&self) -> &str {
        "deadlocks-on-run"
    }

    fn description(&self) -> &str {
        "takes part in one deadlock (test)"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        if self.runs.fetch_add(1, Ordering::SeqCst) + 1 == self.nth {
            let row = |id: i64| {
                erasure::sql::Update::new(ident!("locks"), Condition::eq(ident!("id"), id))
                    .set(ident!("v"), 1)
            };
            cx.execute(row(1)).await?;
            self.locked_first.notify_one();
            self.test_locked.notified().await;
            cx.execute(row(2)).await?;
        }
        Ok(Outcome::new())
    }
}

/// The inactive-accounts job loses a deadlock inside its batch, on its third account. On
/// MySQL the deadlock ends the whole batch transaction (the two accounts erased before it in
/// savepoints are rolled back with it); on PostgreSQL the erasure's savepoint rolls back. Either
/// way the batch is abandoned and retried as a whole in a new transaction: every account is
/// erased once the job returns, the two rolled-back ones by the retry (the handler runs 3 + 6
/// times: a batch that had carried on in autocommit would have found only 4 accounts left), and
/// the summary counts exactly the accounts that are gone.
async fn a_deadlock_inside_the_inactive_accounts_batch_retries_the_batch<DB: TestBackend>(
    db: TestDb<DB>,
) {
    use chrono::Duration as Days;
    let shop = Shop::new(db, SeedConfig::new(6).shape(Shape::typical()).guests(0)).await;
    let pool = shop.db.pool.clone();
    let now = Utc
        .with_ymd_and_hms(2030, 6, 1, 12, 0, 0)
        .single()
        .expect("time");
    let after = erasure::retention::Period::months(36);
    let old = after.before(now) - Days::days(1);
    {
        let mut conn = pool.acquire().await.expect("conn");
        for (table, column) in [
            (ident!("customers"), ident!("created_at")),
            (ident!("users"), ident!("last_login_at")),
            (ident!("orders"), ident!("ordered_at")),
        ] {
            let update = erasure::sql::Update::new(table, Condition::always()).set(column, old);
            DB::execute(&mut conn, &update.to_sql()).await.expect("age");
        }
        exec::<DB>(
            &mut conn,
            "CREATE TABLE locks (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)",
        )
        .await;
        let mut rows = Insert::new(ident!("locks"), [ident!("id"), ident!("v")]);
        for id in 1..=1_002_i64 {
            rows.row([Value::from(id), Value::from(0)]);
        }
        for statement in rows.statements(500) {
            DB::execute(&mut conn, &statement).await.expect("rows");
        }
    }
    let customers_before = rows_of(&pool, "customers").await;
    assert_eq!(customers_before, 6);

    let runs = Arc::new(AtomicU32::new(0));
    let locked_first = Arc::new(tokio::sync::Notify::new());
    let test_locked = Arc::new(tokio::sync::Notify::new());
    let chain = erasure::standard_chain::<DB>()
        .register(
            1,
            DeadlocksOnRun {
                nth: 3,
                runs: Arc::clone(&runs),
                locked_first: Arc::clone(&locked_first),
                test_locked: Arc::clone(&test_locked),
            },
        )
        .build()
        .expect("chain");
    // One batch of all six, however slow the machine: the test is about its rerun, not its time.
    let job = erasure::jobs::InactiveAccounts::new(chain, Default::default(), after)
        .batch_time(Duration::from_secs(3600));
    let job_pool = pool.clone();
    let running = tokio::spawn(async move {
        JobRunner::new()
            .clock(FixedClock(now))
            .batch_size(10)
            .run(&job_pool, &job, |_| {})
            .await
    });

    // The other side: heavy (so that MySQL picks the job as the victim), row 2, then row 1.
    locked_first.notified().await;
    let mut conn = pool.acquire().await.expect("conn");
    let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
        .await
        .expect("begin");
    let update = |filter: Condition| {
        erasure::sql::Update::new(ident!("locks"), filter)
            .set(ident!("v"), 7)
            .to_sql()
    };
    DB::execute(
        &mut tx,
        &update(Condition::compare(ident!("id"), erasure::sql::Cmp::Ge, 3)),
    )
    .await
    .expect("heavy");
    DB::execute(&mut tx, &update(Condition::eq(ident!("id"), 2)))
        .await
        .expect("row 2");
    test_locked.notify_one();
    // Let the job wait for row 2 first (PostgreSQL's victim is the one that waited first).
    tokio::time::sleep(Duration::from_millis(300)).await;
    DB::execute(&mut tx, &update(Condition::eq(ident!("id"), 1)))
        .await
        .expect("the test's transaction is not the victim");
    tx.settle(Ok::<(), ()>(())).await.expect("commit");
    drop(conn);

    let summary = running
        .await
        .expect("task")
        .expect("the deadlocked batch is retried");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        3 + 6,
        "the whole batch ran again"
    );
    let gone = customers_before - rows_of(&pool, "customers").await;
    assert_eq!(gone, 6);
    assert_eq!(
        (summary.rows, summary.failed, summary.batches),
        (6, 0, 1),
        "the summary counts what committed: {summary}"
    );
    for i in 0..6 {
        assert_clean(&shop.residue(&shop.seed.customer(i).needles()).await);
    }
    // The other transaction's changes are all there.
    let sevens = count(
        &pool,
        Select::count(ident!("locks")).filter(Condition::eq(ident!("v"), 7)),
    )
    .await;
    assert_eq!(sevens, 1_002);
    no_pooled_connection_in_a_transaction(&pool).await;
}

mod deadlock_in_a_batch {
    #[cfg(feature = "postgres")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let _traces = crate::support::checked_traces();
        if let Some(db) = crate::support::server::<sqlx::Postgres>().await {
            super::a_deadlock_inside_the_inactive_accounts_batch_retries_the_batch(db).await;
        }
    }

    #[cfg(feature = "mysql")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        let _traces = crate::support::checked_traces();
        if let Some(db) = crate::support::server::<sqlx::MySql>().await {
            super::a_deadlock_inside_the_inactive_accounts_batch_retries_the_batch(db).await;
        }
    }
}
