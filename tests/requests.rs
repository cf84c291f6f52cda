//! The life cycle of personal-data requests: every transition allowed or refused, tokens,
//! deadlines, the purge, the worker, and many workers at once.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{Duration, TimeZone, Utc};
use erasure::clock::ManualClock;
use erasure::job::JobRunner;
use erasure::requests::{
    DirectoryTarget, ExportTarget, Notifier, RequestConfig, RequestError, RequestKind,
    RequestPurge, Requests, State, Submission, Token, Transition, Worker,
};
use erasure::retention::Period;
use erasure::sql::{Condition, Select};
use erasure::transaction::{Isolation, Tx};
use erasure::{Backend, PseudonymKey, Subject, Value, ident};
use erasure_testkit::fault::{Fault, FaultHandler};
use erasure_testkit::{Needle, SeedConfig, TestBackend, TestDb};
use support::{Shop, assert_clean, backend_tests};

fn key() -> PseudonymKey {
    PseudonymKey::from_hex("0f1e2d3c4b5a69788796a5b4c3d2e1f0").expect("key")
}

/// Records every transition the store reports.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Noted>>>);

/// One notification: request id, from, to, whether it carried the token, whether the contact.
type Noted = (String, Option<State>, State, bool, bool);

#[erasure::async_trait]
impl Notifier for Recorder {
    async fn notify(
        &self,
        t: &Transition<'_>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.lock().expect("lock").push((
            t.request.id.clone(),
            t.from,
            t.to,
            t.token.is_some(),
            t.request.contact_email().is_some(),
        ));
        Ok(())
    }
}

impl Recorder {
    fn of(&self, id: &str) -> Vec<(Option<State>, State)> {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .filter(|(i, ..)| i == id)
            .map(|(_, f, t, ..)| (*f, *t))
            .collect()
    }
}

struct Fixture<DB: TestBackend> {
    shop: Shop<DB>,
    clock: ManualClock,
    notes: Recorder,
    store: Requests<DB>,
}

async fn fixture<DB: TestBackend>(
    db: TestDb<DB>,
    customers: u64,
    config: RequestConfig,
) -> Fixture<DB> {
    let shop = Shop::new(db, SeedConfig::new(customers)).await;
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2027, 1, 10, 9, 0, 0)
            .single()
            .expect("time"),
    );
    let notes = Recorder::default();
    let store = Requests::<DB>::new(key())
        .config(config)
        .clock(clock.clone())
        .notifier(notes.clone());
    store.install(&shop.db.pool).await.expect("install");
    store
        .install(&shop.db.pool)
        .await
        .expect("install is idempotent");
    Fixture {
        shop,
        clock,
        notes,
        store,
    }
}

async fn active<DB: Backend>(pool: &sqlx::Pool<DB>, customer: i64) -> bool {
    let mut conn = pool.acquire().await.expect("conn");
    let rows = DB::fetch_all(
        &mut conn,
        &Select::column(ident!("customers"), ident!("active"))
            .filter(Condition::eq(ident!("id"), customer))
            .to_sql(),
    )
    .await
    .expect("active");
    matches!(
        rows[0].get_index(0),
        Some(Value::Bool(true)) | Some(Value::Int(1))
    )
}

async fn submit<DB: TestBackend>(
    f: &Fixture<DB>,
    subject: Option<Subject>,
    email: &str,
) -> Submission {
    f.store
        .submit(&f.shop.db.pool, RequestKind::Erasure, subject, Some(email))
        .await
        .expect("submit")
}

/// Submits and confirms an erasure request for each of the seed's first `n` customers (by their
/// first user's email); the requests' ids, in that order.
async fn confirmed_for_first<DB: TestBackend>(f: &Fixture<DB>, n: u64) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let c = f.shop.seed.customer(i);
        let sub = submit(f, Some(c.subject()), &c.users[0].email).await;
        f.store
            .confirm(
                &f.shop.db.pool,
                &sub.request.id,
                sub.token.as_ref().expect("token"),
            )
            .await
            .expect("confirm");
        ids.push(sub.request.id);
    }
    ids
}

/// The operations an operator or requester can attempt on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Confirm,
    Resolve,
    Reject,
    Cancel,
    Retry,
}

async fn attempt<DB: TestBackend>(
    f: &Fixture<DB>,
    id: &str,
    token: &Token,
    op: Op,
) -> Result<State, RequestError> {
    let pool = &f.shop.db.pool;
    let r = match op {
        Op::Confirm => f.store.confirm(pool, id, token).await,
        Op::Resolve => {
            f.store
                .resolve(pool, id, Subject::customer(3), Some("identified by phone"))
                .await
        }
        Op::Reject => f.store.reject(pool, id, "not the account holder").await,
        Op::Cancel => f.store.cancel(pool, id).await,
        Op::Retry => f.store.retry(pool, id).await,
    };
    r.map(|r| r.state)
}

/// Brings a fresh request of customer `c` (or of someone unknown) into `state`.
async fn request_in<DB: TestBackend>(
    f: &Fixture<DB>,
    state: State,
    c: i64,
    failing: &Worker<DB>,
    working: &Worker<DB>,
) -> (String, Token) {
    let pool = &f.shop.db.pool;
    let email = format!("state-{state}-{c}@example.test");
    let subject = (state != State::AwaitingOperator).then(|| Subject::customer(c));
    let sub = submit(f, subject, &email).await;
    let (id, token) = (sub.request.id.clone(), sub.token.expect("new request"));
    match state {
        State::Pending => {}
        State::AwaitingOperator | State::Confirmed => {
            f.store.confirm(pool, &id, &token).await.expect("confirm");
        }
        State::Completed | State::Failed => {
            f.store.confirm(pool, &id, &token).await.expect("confirm");
            // The worker takes it once the erasure delay is over.
            f.clock.advance(Duration::days(8));
            let w = if state == State::Failed {
                failing
            } else {
                working
            };
            let done = w
                .process_next(pool)
                .await
                .expect("process")
                .expect("a request");
            f.clock.advance(Duration::days(-8));
            assert_eq!(done.id, id);
        }
        State::Rejected => {
            f.store
                .reject(pool, &id, "duplicate")
                .await
                .expect("reject");
        }
        State::Expired => {
            f.clock.advance(Duration::hours(24));
            assert!(matches!(
                f.store.confirm(pool, &id, &token).await,
                Err(RequestError::TokenExpired(_))
            ));
            f.clock.advance(Duration::hours(-24));
        }
        State::Cancelled => {
            f.store.cancel(pool, &id).await.expect("cancel");
        }
        State::Processing => unreachable!("not observable between transactions"),
    }
    assert_eq!(f.store.get(pool, &id).await.expect("get").state, state);
    (id, token)
}

async fn every_operation_from_every_state_is_allowed_or_refused<DB: TestBackend>(db: TestDb<DB>) {
    let f = fixture(
        db,
        120,
        RequestConfig {
            erasure_delay: Some(Period::days(7)),
            ..RequestConfig::default()
        },
    )
    .await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let failing = Worker::new(
        f.store.clone(),
        erasure::standard_chain::<DB>()
            .register(99, FaultHandler::always("boom", Fault::Error))
            .build()
            .expect("chain"),
    );
    let working = Worker::new(f.store.clone(), chain);
    let expected: Vec<((State, Op), Option<State>)> = [
        (
            State::Pending,
            [
                (Op::Confirm, Some(State::Confirmed)),
                (Op::Resolve, None),
                (Op::Reject, Some(State::Rejected)),
                (Op::Cancel, Some(State::Cancelled)),
                (Op::Retry, None),
            ],
        ),
        (
            State::AwaitingOperator,
            [
                (Op::Confirm, None),
                (Op::Resolve, Some(State::Confirmed)),
                (Op::Reject, Some(State::Rejected)),
                (Op::Cancel, None),
                (Op::Retry, None),
            ],
        ),
        (
            State::Confirmed,
            [
                (Op::Confirm, None),
                (Op::Resolve, None),
                (Op::Reject, Some(State::Rejected)),
                (Op::Cancel, Some(State::Cancelled)),
                (Op::Retry, None),
            ],
        ),
        (
            State::Completed,
            [
                (Op::Confirm, None),
                (Op::Resolve, None),
                (Op::Reject, None),
                (Op::Cancel, None),
                (Op::Retry, None),
            ],
        ),
        (
            State::Failed,
            [
                (Op::Confirm, None),
                (Op::Resolve, None),
                (Op::Reject, Some(State::Rejected)),
                (Op::Cancel, None),
                (Op::Retry, Some(State::Confirmed)),
            ],
        ),
        (
            State::Rejected,
            [
                (Op::Confirm, None),
                (Op::Resolve, None),
                (Op::Reject, None),
                (Op::Cancel, None),
                (Op::Retry, None),
            ],
        ),
        (
            State::Expired,
            [
                (Op::Confirm, None),
                (Op::Resolve, None),
                (Op::Reject, None),
                (Op::Cancel, None),
                (Op::Retry, None),
            ],
        ),
        (
            State::Cancelled,
            [
                (Op::Confirm, None),
                (Op::Resolve, None),
                (Op::Reject, None),
                (Op::Cancel, None),
                (Op::Retry, None),
            ],
        ),
    ]
    .into_iter()
    .flat_map(|(s, ops)| ops.into_iter().map(move |(op, to)| ((s, op), to)))
    .collect();
    let mut customer = 1;
    for ((state, op), to) in expected {
        customer += 1;
        let (id, token) = request_in(&f, state, customer, &failing, &working).await;
        let before = f.store.get(&f.shop.db.pool, &id).await.expect("get");
        let result = attempt(&f, &id, &token, op).await;
        match to {
            Some(expected_state) => {
                assert_eq!(
                    result.as_ref().ok(),
                    Some(&expected_state),
                    "{state} {op:?}: {result:?}"
                );
            }
            None => {
                assert!(
                    result.is_err(),
                    "{state} {op:?} must be refused, got {result:?}"
                );
                let after = f.store.get(&f.shop.db.pool, &id).await.expect("get");
                assert_eq!(
                    before, after,
                    "{state} {op:?}: a refused operation changes nothing"
                );
            }
        }
        // Leave no open request behind: the worker takes the oldest waiting one.
        let _ = f.store.reject(&f.shop.db.pool, &id, "test done").await;
    }
    // Every state the enum names is covered by State::allows, closed states allow nothing.
    for s in State::ALL.into_iter().filter(|s| s.is_closed()) {
        assert!(State::ALL.iter().all(|t| !s.allows(*t)));
    }
}

async fn tokens_expire_are_hashed_and_accounts_are_deactivated<DB: TestBackend>(db: TestDb<DB>) {
    let f = fixture(db, 10, RequestConfig::default()).await;
    let pool = &f.shop.db.pool;
    let c = f.shop.seed.customer(1);
    assert!(active(pool, c.id).await);
    let sub = submit(&f, Some(c.subject()), &c.users[0].email).await;
    let token = sub.token.clone().expect("token");
    assert!(!active(pool, c.id).await, "deactivated at once");
    assert!(
        f.notes.0.lock().expect("lock")[0].3,
        "the notifier gets the token on submission"
    );

    // The raw token is nowhere in the database; its hash is.
    assert_clean(
        &f.shop
            .residue(&[Needle::new("token", token.expose())])
            .await,
    );

    // A second request for the same subject returns the open one, without a new token.
    let again = submit(&f, Some(c.subject()), &c.users[0].email).await;
    assert!(again.existing && again.token.is_none());
    assert_eq!(again.request.id, sub.request.id);

    // The wrong token changes nothing.
    let wrong = f
        .store
        .confirm(pool, &sub.request.id, &Token::from_string("0".repeat(64)))
        .await;
    assert!(
        matches!(wrong, Err(RequestError::WrongToken(_))),
        "{wrong:?}"
    );
    // One second before expiry it still works; another request's token expires one second after.
    let other = f.shop.seed.customer(2);
    let late = submit(&f, Some(other.subject()), &other.users[0].email).await;
    f.clock.advance(Duration::hours(24) - Duration::seconds(1));
    f.store
        .confirm(pool, &sub.request.id, &token)
        .await
        .expect("in time");
    f.clock.advance(Duration::seconds(2));
    let expired = f
        .store
        .confirm(pool, &late.request.id, late.token.as_ref().expect("token"))
        .await;
    assert!(
        matches!(expired, Err(RequestError::TokenExpired(_))),
        "{expired:?}"
    );
    assert_eq!(
        f.store
            .get(pool, &late.request.id)
            .await
            .expect("get")
            .state,
        State::Expired
    );
    assert!(
        active(pool, other.id).await,
        "an expired request gives the account back"
    );
    assert_eq!(
        f.notes.of(&late.request.id),
        [
            (None, State::Pending),
            (Some(State::Pending), State::Expired)
        ]
    );

    // expire_tokens does the same for requests nobody tried to confirm.
    let third = f.shop.seed.customer(3);
    let idle = submit(&f, Some(third.subject()), &third.users[0].email).await;
    f.clock.advance(Duration::hours(25));
    let gone = f.store.expire_tokens(pool).await.expect("expire");
    assert_eq!(
        gone.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [idle.request.id.as_str()]
    );
    assert!(active(pool, third.id).await);
}

async fn overdue_requests_and_the_thirty_day_purge<DB: TestBackend>(db: TestDb<DB>) {
    let f = fixture(db, 10, RequestConfig::default()).await;
    let pool = &f.shop.db.pool;
    let a = submit(&f, Some(Subject::customer(1)), "a@example.test").await;
    let b = submit(&f, Some(Subject::customer(2)), "b@example.test").await;
    f.store
        .reject(pool, &b.request.id, "duplicate")
        .await
        .expect("reject");
    // Due one month after receipt: not overdue one second before, overdue one second after.
    let due = a.request.due_at;
    assert_eq!(due, Period::months(1).after(a.request.received_at));
    f.clock.set(due - Duration::seconds(1));
    assert!(f.store.overdue(pool).await.expect("overdue").is_empty());
    f.clock.set(due + Duration::seconds(1));
    let overdue: Vec<String> = f
        .store
        .overdue(pool)
        .await
        .expect("overdue")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        overdue,
        std::slice::from_ref(&a.request.id),
        "closed requests are never overdue"
    );

    // The purge: b was closed at receipt time; 30 days later it goes; the stale pending a too.
    let closed_at = f
        .store
        .get(pool, &b.request.id)
        .await
        .expect("get")
        .closed_at
        .expect("closed");
    let purge = RequestPurge::new(Period::days(30));
    let run = |at| JobRunner::new().clock(erasure::clock::FixedClock(at));
    let s = run(closed_at + Duration::days(30) - Duration::seconds(1))
        .run(pool, &purge, |_| {})
        .await
        .expect("purge");
    assert_eq!(s.rows, 0);
    let s = run(closed_at + Duration::days(30))
        .run(pool, &purge, |_| {})
        .await
        .expect("purge");
    assert_eq!(s.rows, 2, "the closed request and the stale pending one");
    assert!(f.store.list(pool, None).await.expect("list").is_empty());
}

async fn the_worker_erases_forgets_the_subject_and_honours_the_delay<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let f = fixture(
        db,
        20,
        RequestConfig {
            erasure_delay: Some(Period::days(7)),
            ..RequestConfig::default()
        },
    )
    .await;
    let pool = &f.shop.db.pool;
    let c = f.shop.customer_where(|c| c.orders > 1 && !c.is_b2b());
    let sub = submit(&f, Some(c.subject()), &c.users[0].email).await;
    f.store
        .confirm(pool, &sub.request.id, sub.token.as_ref().expect("token"))
        .await
        .expect("confirm");
    let worker = Worker::new(
        f.store.clone(),
        erasure::standard_chain::<DB>().build().expect("chain"),
    );
    // During the delay: nothing to do, and the requester may still cancel.
    f.clock.advance(Duration::days(7) - Duration::seconds(1));
    assert!(worker.process_next(pool).await.expect("worker").is_none());
    f.clock.advance(Duration::seconds(1));
    assert!(matches!(
        f.store.cancel(pool, &sub.request.id).await,
        Err(RequestError::TooLateToCancel(_))
    ));
    let done = worker
        .process_next(pool)
        .await
        .expect("worker")
        .expect("the request");
    assert_eq!(done.state, State::Completed);
    assert!(
        done.outcome
            .as_deref()
            .is_some_and(|o| o.contains("deleted")),
        "{done:?}"
    );
    assert!(
        done.subject().is_none() && done.contact_email().is_none(),
        "the request forgets who it was"
    );
    // Nothing of the customer remains, in the shop or in the request table.
    assert_clean(&f.shop.residue(&c.needles()).await);
    let notes = f.notes.of(&sub.request.id);
    assert_eq!(
        notes,
        [
            (None, State::Pending),
            (Some(State::Pending), State::Confirmed),
            (Some(State::Confirmed), State::Processing),
            (Some(State::Processing), State::Completed),
        ]
    );
    let told_contact = f
        .notes
        .0
        .lock()
        .expect("lock")
        .iter()
        .any(|(i, _, to, _, contact)| i == &sub.request.id && *to == State::Completed && *contact);
    assert!(told_contact, "the notifier can still tell the requester");
    assert!(worker.process_next(pool).await.expect("worker").is_none());
}

async fn an_anonymous_request_needs_an_operator<DB: TestBackend>(db: TestDb<DB>) {
    let f = fixture(db, 10, RequestConfig::default()).await;
    let pool = &f.shop.db.pool;
    let g = f.shop.seed.guest(0);
    let sub = submit(&f, None, &g.users[0].email).await;
    let r = f
        .store
        .confirm(pool, &sub.request.id, sub.token.as_ref().expect("token"))
        .await
        .expect("confirm");
    assert_eq!(r.state, State::AwaitingOperator);
    let worker = Worker::new(
        f.store.clone(),
        erasure::standard_chain::<DB>().build().expect("chain"),
    );
    assert!(
        worker.process_next(pool).await.expect("worker").is_none(),
        "not before an operator resolves it"
    );
    let r = f
        .store
        .resolve(
            pool,
            &sub.request.id,
            g.subject(),
            Some("guest orders found by email"),
        )
        .await
        .expect("resolve");
    assert_eq!(
        (r.state, r.note.as_deref()),
        (State::Confirmed, Some("guest orders found by email"))
    );
    let done = worker
        .process_next(pool)
        .await
        .expect("worker")
        .expect("request");
    assert_eq!(done.state, State::Completed);
    assert_clean(&f.shop.residue(&g.needles()).await);
}

/// `complete_by_hand`: from awaiting an operator, confirmed or failed, with the note; the request
/// forgets its subject and contact; not from pending, processing or a closed state.
async fn customer_service_completes_a_request_by_hand<DB: TestBackend>(db: TestDb<DB>) {
    let f = fixture(db, 10, RequestConfig::default()).await;
    let pool = &f.shop.db.pool;
    let g = f.shop.seed.guest(1);
    let sub = submit(&f, None, &g.users[0].email).await;
    let pending = f
        .store
        .complete_by_hand(pool, &sub.request.id, "too early")
        .await
        .expect_err("pending");
    assert!(
        matches!(pending, RequestError::InvalidTransition { .. }),
        "{pending}"
    );
    f.store
        .confirm(pool, &sub.request.id, sub.token.as_ref().expect("token"))
        .await
        .expect("confirm");
    let done = f
        .store
        .complete_by_hand(pool, &sub.request.id, "copy sent by post, ticket 4711")
        .await
        .expect("complete");
    assert_eq!(done.state, State::Completed);
    assert_eq!(done.note.as_deref(), Some("copy sent by post, ticket 4711"));
    assert_eq!(done.outcome.as_deref(), Some("completed by hand"));
    assert!(done.subject().is_none() && done.contact_email().is_none());
    assert!(done.closed_at.is_some());
    let again = f
        .store
        .complete_by_hand(pool, &sub.request.id, "twice")
        .await
        .expect_err("closed");
    assert!(
        matches!(again, RequestError::InvalidTransition { .. }),
        "{again}"
    );
}

async fn four_workers_process_two_hundred_requests_exactly_once<DB: TestBackend>(db: TestDb<DB>) {
    four_workers_process_every_request_once(db, 1).await;
}

/// The same, seven requests per transaction.
async fn four_workers_in_batches_process_two_hundred_requests_exactly_once<DB: TestBackend>(
    db: TestDb<DB>,
) {
    four_workers_process_every_request_once(db, 7).await;
}

async fn four_workers_process_every_request_once<DB: TestBackend>(db: TestDb<DB>, batch: usize) {
    const N: u64 = 200;
    let f = fixture(db, N, RequestConfig::default()).await;
    let pool = f.shop.db.pool.clone();
    let ids: BTreeSet<String> = confirmed_for_first(&f, N).await.into_iter().collect();
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (worker, pool) = (Worker::new(f.store.clone(), chain.clone()), pool.clone());
        tasks.push(tokio::spawn(async move {
            worker.drain(&pool, None, batch).await
        }));
    }
    let mut processed = Vec::new();
    for t in tasks {
        processed.extend(t.await.expect("task").expect("worker"));
    }
    let unique: BTreeSet<String> = processed.iter().map(|r| r.id.clone()).collect();
    assert_eq!(
        processed.len() as u64,
        N,
        "every request processed once, none twice"
    );
    assert_eq!(unique, ids);
    assert!(
        processed
            .iter()
            .all(|r| r.state == State::Completed && r.attempts == 1)
    );
    let completions = f
        .notes
        .0
        .lock()
        .expect("lock")
        .iter()
        .filter(|n| n.2 == State::Completed)
        .count();
    assert_eq!(completions as u64, N);
    assert_eq!(
        f.store
            .list(&pool, Some(State::Completed))
            .await
            .expect("list")
            .len() as u64,
        N
    );
    for i in [0, 57, 199] {
        assert_clean(&f.shop.residue(&f.shop.seed.customer(i).needles()).await);
    }
}

/// A chain whose handler at 99 cannot export.
struct NoExport;

#[erasure::async_trait]
impl<DB: Backend> erasure::DeletionHandler<DB> for NoExport {
    fn name(&self) -> &str {
        "no-export"
    }

    fn description(&self) -> &str {
        "fails every export (test)"
    }

    async fn erase(
        &self,
        _: &mut erasure::ErasureContext<'_, DB>,
    ) -> Result<erasure::Outcome, erasure::HandlerError> {
        Ok(erasure::Outcome::new())
    }

    async fn export(
        &self,
        _: &mut erasure::export::ExportContext<'_, DB>,
    ) -> Result<erasure::export::Exported, erasure::HandlerError> {
        Err(erasure::HandlerError::other("the archive is offline"))
    }
}

/// A target that cannot open anything.
struct Unwritable;

#[erasure::async_trait]
impl ExportTarget for Unwritable {
    async fn open(
        &self,
        _: &erasure::requests::Request,
    ) -> std::io::Result<Box<dyn tokio::io::AsyncWrite + Unpin + Send>> {
        Err(std::io::Error::other("disk full"))
    }

    async fn publish(
        &self,
        _: &erasure::requests::Request,
        _: &erasure::export::ExportSummary,
    ) -> std::io::Result<()> {
        Ok(())
    }

    async fn discard(&self, _: &erasure::requests::Request) -> std::io::Result<()> {
        Ok(())
    }
}

async fn the_worker_carries_out_export_requests<DB: TestBackend>(db: TestDb<DB>) {
    let f = fixture(db, 20, RequestConfig::default()).await;
    let pool = &f.shop.db.pool;
    let mut customers = f
        .shop
        .seed
        .customers()
        .filter(|c| !c.is_b2b() && c.orders > 0);
    let (c, d, e, g) = (
        customers.next().expect("customer"),
        customers.next().expect("customer"),
        customers.next().expect("customer"),
        customers.next().expect("customer"),
    );
    let confirmed = |kind: RequestKind, customer: &erasure_testkit::SeededCustomer| {
        let (store, subject, email) = (
            f.store.clone(),
            customer.subject(),
            customer.users[0].email.clone(),
        );
        async move {
            let sub = store
                .submit(pool, kind, Some(subject), Some(&email))
                .await
                .expect("submit");
            store
                .confirm(pool, &sub.request.id, sub.token.as_ref().expect("token"))
                .await
                .expect("confirm")
        }
    };
    let export = confirmed(RequestKind::Export, &c).await;
    let erasure = confirmed(RequestKind::Erasure, &d).await;
    let dir = tempfile::tempdir().expect("dir");
    let target = DirectoryTarget::new(dir.path());
    let worker = Worker::new(
        f.store.clone(),
        erasure::standard_chain::<DB>().build().expect("chain"),
    );

    let done = worker
        .process_next_export(pool, &target)
        .await
        .expect("worker")
        .expect("the export request");
    assert_eq!(
        (done.id.as_str(), done.state),
        (export.id.as_str(), State::Completed)
    );
    assert!(
        done.outcome
            .as_deref()
            .is_some_and(|o| o.contains("rows from")),
        "{done:?}"
    );
    assert!(done.subject().is_none() && done.contact_email().is_none());
    let path = target.path_of(&export.id).expect("path");
    let text = std::fs::read_to_string(&path).expect("the document");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(doc["complete"], true);
    assert!(text.contains(&c.users[0].email) && text.contains(&c.addresses[0].street));
    assert!(!text.contains(&d.users[0].email));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // An export erases nothing, and leaves the erasure request alone.
    assert!(!f.shop.residue(&c.needles()).await.is_clean());
    assert!(
        worker
            .process_next_export(pool, &target)
            .await
            .expect("worker")
            .is_none()
    );
    let still = f.store.get(pool, &erasure.id).await.expect("get");
    assert_eq!(still.state, State::Confirmed);
    assert_eq!(
        f.notes.of(&export.id)[2..],
        [
            (Some(State::Confirmed), State::Processing),
            (Some(State::Processing), State::Completed)
        ]
    );

    // A target that cannot be written: failed, with the reason.
    let unwritable = confirmed(RequestKind::Export, &e).await;
    let failed = worker
        .process_next_export(pool, &Unwritable)
        .await
        .expect("worker")
        .expect("the request");
    assert_eq!(
        (failed.id.as_str(), failed.state),
        (unwritable.id.as_str(), State::Failed)
    );
    assert!(
        failed
            .outcome
            .as_deref()
            .is_some_and(|o| o.contains("disk full"))
    );

    // A handler that cannot export: failed, naming it, and nothing left in the directory.
    let broken = confirmed(RequestKind::Export, &g).await;
    let worker = Worker::new(
        f.store.clone(),
        erasure::standard_chain::<DB>()
            .register(99, NoExport)
            .build()
            .expect("chain"),
    );
    let failed = worker
        .process_next_export(pool, &target)
        .await
        .expect("worker")
        .expect("the request");
    assert_eq!(
        (failed.id.as_str(), failed.state),
        (broken.id.as_str(), State::Failed)
    );
    let outcome = failed.outcome.clone().unwrap_or_default();
    assert!(
        outcome.contains("no-export") && outcome.contains("99"),
        "{outcome}"
    );
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(files.len(), 1, "only the first document: {files:?}");
}

/// Fails the erasure of one customer (test).
struct FailsFor(i64);

#[erasure::async_trait]
impl<DB: Backend> erasure::DeletionHandler<DB> for FailsFor {
    fn name(&self) -> &str {
        "fails-for-one"
    }

    fn description(&self) -> &str {
        "fails one customer's erasure (test)"
    }

    async fn erase(
        &self,
        cx: &mut erasure::ErasureContext<'_, DB>,
    ) -> Result<erasure::Outcome, erasure::HandlerError> {
        if cx.subject().customer_key() == Some(&erasure::Key::Int(self.0)) {
            return Err(erasure::HandlerError::other(
                "this customer cannot be erased",
            ));
        }
        Ok(erasure::Outcome::new())
    }
}

/// Five confirmed requests processed as one batch: one transaction, the one whose erasure
/// fails recorded as failed alone (its customer untouched), the four others completed.
async fn a_batch_of_requests_records_a_failed_erasure_alone<DB: TestBackend>(db: TestDb<DB>) {
    let f = fixture(db, 5, RequestConfig::default()).await;
    let pool = f.shop.db.pool.clone();
    let failing = f.shop.seed.customer(2);
    confirmed_for_first(&f, 5).await;
    let chain = erasure::standard_chain::<DB>()
        .register(99, FailsFor(failing.id))
        .build()
        .expect("chain");
    // Time enough for all five in one batch, however slow the build.
    let worker = Worker::new(f.store.clone(), chain).batch_time(std::time::Duration::from_secs(60));
    let done = worker.process_batch(&pool, 10).await.expect("batch");
    assert_eq!(done.len(), 5);
    let failed: Vec<_> = done.iter().filter(|r| r.state == State::Failed).collect();
    assert_eq!(failed.len(), 1, "{done:#?}");
    let reason = failed[0].outcome.clone().unwrap_or_default();
    assert!(
        reason.contains("`fails-for-one` at position 99"),
        "{reason}"
    );
    assert_eq!(
        done.iter().filter(|r| r.state == State::Completed).count(),
        4
    );
    assert!(
        !f.shop.residue(&failing.needles()).await.is_clean(),
        "the failed erasure was rolled back alone"
    );
    for i in [0, 1, 3, 4] {
        assert_clean(&f.shop.residue(&f.shop.seed.customer(i).needles()).await);
    }
    // Nothing is waiting any more.
    assert!(
        worker
            .process_batch(&pool, 10)
            .await
            .expect("batch")
            .is_empty()
    );
}

/// A batch closes when its time is up: with no time at all, each batch takes its first
/// request only (a batch always takes one), in age order, and the others stay confirmed for
/// the next; with time enough, one batch takes them all.
async fn a_batch_claims_no_request_once_its_time_is_up<DB: TestBackend>(db: TestDb<DB>) {
    let f = fixture(db, 4, RequestConfig::default()).await;
    let pool = f.shop.db.pool.clone();
    let ids = confirmed_for_first(&f, 4).await;
    let chain = || erasure::standard_chain::<DB>().build().expect("chain");
    let states = || async {
        let mut states = Vec::new();
        for id in &ids {
            states.push(f.store.get(&pool, id).await.expect("get").state);
        }
        states
    };
    let count = |states: &[State], state: State| states.iter().filter(|&&s| s == state).count();
    let hurried = Worker::new(f.store.clone(), chain()).batch_time(std::time::Duration::ZERO);
    let mut first = Vec::new();
    for taken in 1..=2 {
        let done = hurried.process_batch(&pool, 10).await.expect("batch");
        assert_eq!(done.len(), 1, "{done:#?}");
        assert_eq!(done[0].state, State::Completed);
        first.push(done[0].id.clone());
        let now = states().await;
        assert_eq!(count(&now, State::Completed), taken, "{now:?}");
        assert_eq!(count(&now, State::Confirmed), 4 - taken, "{now:?}");
    }
    let patient =
        Worker::new(f.store.clone(), chain()).batch_time(std::time::Duration::from_secs(60));
    let done = patient.process_batch(&pool, 10).await.expect("batch");
    assert_eq!(done.len(), 2, "{done:#?}");
    assert!(
        done.iter()
            .all(|r| r.state == State::Completed && !first.contains(&r.id))
    );
    assert_eq!(count(&states().await, State::Completed), 4);
    for i in 0..4 {
        assert_clean(&f.shop.residue(&f.shop.seed.customer(i).needles()).await);
    }
}

backend_tests!(
    a_batch_claims_no_request_once_its_time_is_up,
    a_batch_of_requests_records_a_failed_erasure_alone,
    four_workers_in_batches_process_two_hundred_requests_exactly_once,
    the_worker_carries_out_export_requests,
    every_operation_from_every_state_is_allowed_or_refused,
    tokens_expire_are_hashed_and_accounts_are_deactivated,
    overdue_requests_and_the_thirty_day_purge,
    the_worker_erases_forgets_the_subject_and_honours_the_delay,
    an_anonymous_request_needs_an_operator,
    four_workers_process_two_hundred_requests_exactly_once,
    customer_service_completes_a_request_by_hand,
);

/// Takes part in a deadlock on its first run: locks row 1 of `scratch`, lets the test lock row 2,
/// then asks for row 2 while the test asks for row 1. The database picks the worker's transaction
/// as the victim (on MySQL the lighter transaction, on PostgreSQL the one that waited first) and,
/// on MySQL, ends it whole, savepoints included.
struct Deadlocking {
    runs: Arc<std::sync::atomic::AtomicU32>,
    locked_first: Arc<tokio::sync::Notify>,
    test_locked: Arc<tokio::sync::Notify>,
}

#[erasure::async_trait]
impl<DB: Backend> erasure::DeletionHandler<DB> for Deadlocking {
    fn name(&self) -> &str {
        "deadlocking"
    }

    fn description(&self) -> &str {
        "takes part in one deadlock"
    }

    async fn erase(
        &self,
        cx: &mut erasure::ErasureContext<'_, DB>,
    ) -> Result<erasure::Outcome, erasure::HandlerError> {
        use std::sync::atomic::Ordering;
        if self.runs.fetch_add(1, Ordering::SeqCst) == 0 {
            let row = |id: i64| {
                erasure::sql::Update::new(ident!("scratch"), Condition::eq(ident!("id"), id))
                    .set(ident!("v"), 1)
            };
            cx.execute(row(1)).await?;
            self.locked_first.notify_one();
            self.test_locked.notified().await;
            cx.execute(row(2)).await?;
        }
        Ok(erasure::Outcome::new())
    }
}

/// A lock conflict inside the worker's erasure (a real deadlock) is retried in a new transaction
/// and the request completes; the connection whose transaction the deadlock ended is not reused
/// in a confused state; the other transaction is untouched.
async fn a_deadlock_in_the_workers_erasure_is_retried<DB: TestBackend>(db: TestDb<DB>) {
    use std::sync::atomic::Ordering;
    let f = fixture(db, 3, RequestConfig::default()).await;
    let pool = f.shop.db.pool.clone();
    DB::execute(
        &mut *pool.acquire().await.expect("conn"),
        &erasure::sql::Sql::new("CREATE TABLE scratch (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)"),
    )
    .await
    .expect("scratch");
    let mut rows = erasure::sql::Insert::new(ident!("scratch"), [ident!("id"), ident!("v")]);
    for id in 1..=1_002_i64 {
        rows.row([Value::from(id), Value::from(0)]);
    }
    for statement in rows.statements(500) {
        DB::execute(&mut *pool.acquire().await.expect("conn"), &statement)
            .await
            .expect("rows");
    }
    let c = f.shop.seed.customer(1);
    let sub = submit(&f, Some(c.subject()), &c.users[0].email).await;
    f.store
        .confirm(&pool, &sub.request.id, sub.token.as_ref().expect("token"))
        .await
        .expect("confirm");

    let (runs, locked_first, test_locked) = Default::default();
    let handler = Deadlocking {
        runs: Arc::clone(&runs),
        locked_first: Arc::clone(&locked_first),
        test_locked: Arc::clone(&test_locked),
    };
    let chain = erasure::standard_chain::<DB>()
        .register(1, handler)
        .build()
        .expect("chain");
    let worker = Worker::new(f.store.clone(), chain);
    let worker_pool = pool.clone();
    let processing = tokio::spawn(async move { worker.process_next(&worker_pool).await });

    // The other side: heavy (so that MySQL picks the worker as the victim), row 2, then row 1.
    let locked_first: Arc<tokio::sync::Notify> = locked_first;
    locked_first.notified().await;
    let mut conn = pool.acquire().await.expect("conn");
    let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
        .await
        .expect("begin");
    let update = |filter: Condition| {
        erasure::sql::Update::new(ident!("scratch"), filter)
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
    // Let the worker wait for row 2 first (PostgreSQL's victim is the one that waited first).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    DB::execute(&mut tx, &update(Condition::eq(ident!("id"), 1)))
        .await
        .expect("the test's transaction is not the victim");
    tx.settle(Ok::<(), ()>(())).await.expect("commit");
    drop(conn);

    let done = processing
        .await
        .expect("task")
        .expect("the deadlock is retried")
        .expect("a request");
    assert_eq!(done.state, State::Completed);
    assert_eq!(done.id, sub.request.id);
    assert_eq!(runs.load(Ordering::SeqCst), 2, "one deadlock, one retry");
    assert_clean(&f.shop.residue(&c.needles()).await);
    // The other transaction's changes are all there.
    let sevens = DB::fetch_all(
        &mut *pool.acquire().await.expect("conn"),
        &Select::columns(ident!("scratch"), [ident!("id")])
            .filter(Condition::eq(ident!("v"), 7))
            .to_sql(),
    )
    .await
    .expect("count");
    assert_eq!(sevens.len(), 1_002);
    // Every pooled connection still works (a confused one would fail here or in begin).
    let mut held = Vec::new();
    for _ in 0..pool.size() {
        let mut conn = pool.acquire().await.expect("conn");
        let tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
            .await
            .expect("begin");
        tx.roll_back(Ok::<(), ()>(())).await.expect("rollback");
        held.push(conn);
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_deadlock_in_the_workers_erasure_is_retried() {
    support::guard_traces();
    if let Some(db) = support::server::<sqlx::Postgres>().await {
        a_deadlock_in_the_workers_erasure_is_retried(db).await;
    }
    support::assert_no_personal_values_in_traces();
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_a_deadlock_in_the_workers_erasure_is_retried() {
    support::guard_traces();
    if let Some(db) = support::server::<sqlx::MySql>().await {
        a_deadlock_in_the_workers_erasure_is_retried(db).await;
    }
    support::assert_no_personal_values_in_traces();
}
