//! Evidence of erasure: receipts, the suppression list and the outbox, on every backend.
//!
//! What they write exists if and only if the erasure committed; receipts hold no personal
//! value; outbox events are delivered at least once, with retries recorded.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use erasure::clock::{Clock as _, ManualClock};
use erasure::evidence::outbox::{self, EventState, Retry};
use erasure::evidence::receipts::{self, Filter};
use erasure::evidence::{
    Dispatcher, EventSink, Outbox, OutboxEvent, Receipts, SinkError, Suppression, SuppressionList,
};
use erasure::{
    Backend, ChainBuilder, DeletionHandler, Erasure, ErasureContext, Error, HandlerError, Outcome,
    PseudonymKey, async_trait,
};
use erasure_testkit::fault::{Fault, FaultHandler};
use erasure_testkit::{SeedConfig, Shape, TestBackend, TestDb};
use support::{Shop, backend_tests};

fn key() -> PseudonymKey {
    PseudonymKey::from_hex("8f1e2d3c4b5a69788796a5b4c3d2e1f0").expect("key")
}

/// The standard chain with every evidence recorder and a configured key.
fn with_evidence<DB: Backend>(builder: ChainBuilder<DB>) -> ChainBuilder<DB> {
    builder
        .pseudonym_key(key())
        .recorder(Receipts::new())
        .recorder(Suppression::new())
        .recorder(
            Outbox::new()
                .destination("newsletter")
                .expect("destination"),
        )
}

/// Emits an event for the search index, with the downstream system's own id for the subject.
struct SearchIndex;

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for SearchIndex {
    fn name(&self) -> &str {
        "search-index"
    }

    fn description(&self) -> &str {
        "asks the search index to drop the subject (test)"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let id = match cx.subject().customer_key() {
            Some(key) => serde_json::json!({ "document": key }),
            None => serde_json::Value::Null,
        };
        cx.emit("search-index", id);
        Ok(Outcome::new())
    }
}

/// A seeded shop with the evidence tables.
async fn shop<DB: TestBackend>(db: TestDb<DB>, config: SeedConfig) -> Shop<DB> {
    let shop = Shop::new(db, config).await;
    erasure::evidence::install(&shop.db.pool)
        .await
        .expect("install");
    shop
}

async fn count<DB: TestBackend>(shop: &Shop<DB>, table: erasure::Ident) -> i64 {
    support::count(&shop.db.pool, erasure::sql::Select::count(table)).await
}

async fn receipts_record_committed_erasures_without_personal_values<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let shop = shop(db, SeedConfig::new(30).guests(4).shape(Shape::typical())).await;
    let chain = with_evidence(erasure::standard_chain::<DB>())
        .build()
        .expect("chain");
    let c = shop.customer_where(|c| !c.is_b2b() && c.orders > 1);
    let guest = shop.seed.guest(1);

    // A dry run writes no receipt, no event, no hash.
    let before = shop.dump().await;
    chain
        .dry_run(&shop.db.pool, &Erasure::new(c.subject()))
        .await
        .expect("dry run");
    assert_eq!(before.diff(&shop.dump().await), None);

    let erasure = Erasure::new(c.subject()).with_operator("support-17");
    let report = chain.erase(&shop.db.pool, &erasure).await.expect("erase");
    let receipt = receipts::get(&shop.db.pool, report.run_id)
        .await
        .expect("read")
        .expect("a receipt for the committed erasure");
    assert_eq!(receipt.run_id, report.run_id);
    assert_eq!(receipt.operator.as_deref(), Some("support-17"));
    assert_eq!(receipt.subject, chain.pseudonym(&c.subject()));
    assert_eq!(receipt.report.totals(), report.totals());
    // The chain as it ran: every handler by position and name, with its outcome.
    let ran: Vec<(u32, &str)> = report
        .handlers
        .iter()
        .map(|h| (h.position, h.name.as_str()))
        .collect();
    let recorded: Vec<(u32, &str)> = receipt
        .report
        .handlers
        .iter()
        .map(|h| (h.position, h.name.as_str()))
        .collect();
    assert_eq!(recorded, ran);
    assert_eq!(ran.len(), chain.positions().len());
    for (r, h) in receipt.report.handlers.iter().zip(&report.handlers) {
        assert_eq!(r.outcome, h.outcome, "{}", h.name);
    }
    // Found again by subject, with the same key.
    let found = receipts::for_subject(
        &shop.db.pool,
        &erasure::Pseudonymizer::new(key()),
        &c.subject(),
    )
    .await
    .expect("by subject");
    assert_eq!(found, vec![receipt.clone()]);

    let guest_report = chain
        .erase(&shop.db.pool, &Erasure::new(guest.subject()))
        .await
        .expect("erase guest");
    let listed = receipts::list(&shop.db.pool, &Filter::new())
        .await
        .expect("list");
    assert_eq!(listed.len(), 2);
    let mut ids: Vec<_> = listed.iter().map(|r| r.run_id).collect();
    ids.sort();
    let mut expected = vec![report.run_id, guest_report.run_id];
    expected.sort();
    assert_eq!(ids, expected);

    // The guest's pending outbox event names the guest until it is delivered: deliver it.
    let sink = Recording::default();
    let dispatched = Dispatcher::<DB>::new()
        .sink("newsletter", sink.clone())
        .dispatch_once(&shop.db.pool)
        .await
        .expect("dispatch");
    assert_eq!(dispatched.delivered, 2);

    // No personal value of either subject anywhere: not in receipts, not in the suppression
    // list, not in the delivered events.
    let mut needles = c.needles();
    needles.extend(guest.needles());
    support::assert_clean(&shop.residue(&needles).await);
}

async fn an_unconfigured_key_fails_the_erasure_and_writes_nothing<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db, SeedConfig::new(10).shape(Shape::typical())).await;
    // No pseudonym key: the chain draws one per process; receipts could never be found again.
    let chain = erasure::standard_chain::<DB>()
        .recorder(
            Outbox::new()
                .destination("newsletter")
                .expect("destination"),
        )
        .recorder(Receipts::new())
        .build()
        .expect("chain");
    let c = shop.seed.customer(2);
    let before = shop.dump().await;
    let err = chain
        .erase(&shop.db.pool, &Erasure::new(c.subject()))
        .await
        .expect_err("receipts need a configured key");
    assert!(matches!(err, Error::Record { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("receipts"), "{message}");
    assert!(message.contains("pseudonym key"), "{message}");
    // The outbox recorder ran first: its event was rolled back with everything else.
    assert_eq!(before.diff(&shop.dump().await), None);
}

async fn the_suppression_list_holds_the_erased_emails_only<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db, SeedConfig::new(20).guests(3).shape(Shape::typical())).await;
    let chain = with_evidence(erasure::standard_chain::<DB>())
        .build()
        .expect("chain");
    let c = shop.customer_where(|c| c.users.len() > 1);
    let other = shop.customer_where(|o| o.id != c.id);
    let guest = shop.seed.guest(0);
    let list = SuppressionList::new(key());

    let emails = |s: &erasure_testkit::SeededCustomer| -> Vec<String> {
        s.users.iter().map(|u| u.email.clone()).collect()
    };
    assert!(
        list.suppressed(&shop.db.pool, emails(&c).iter().map(String::as_str))
            .await
            .expect("check")
            .is_empty()
    );
    shop.erase(
        &with_evidence(erasure::standard_chain::<DB>())
            .build()
            .expect("chain"),
        c.subject(),
    )
    .await;
    chain
        .erase(&shop.db.pool, &Erasure::new(guest.subject()))
        .await
        .expect("erase guest");

    let mut batch: Vec<String> = emails(&c)
        .iter()
        // Case and surrounding whitespace do not matter.
        .map(|e| format!("  {}", e.to_uppercase()))
        .collect();
    batch.extend(emails(&guest));
    let erased = batch.len();
    batch.extend(emails(&other));
    let suppressed = list
        .suppressed(&shop.db.pool, batch.iter().map(String::as_str))
        .await
        .expect("check");
    assert_eq!(
        suppressed,
        (0..erased).collect(),
        "exactly the erased addresses are suppressed"
    );
    // Erasing again adds nothing twice.
    let hashes = count(&shop, erasure::ident!("erasure_suppressions")).await;
    chain
        .erase(&shop.db.pool, &Erasure::new(guest.subject()))
        .await
        .expect("erase guest again");
    assert_eq!(
        count(&shop, erasure::ident!("erasure_suppressions")).await,
        hashes
    );
    // Lifted when the person signs up again of their own accord.
    assert!(
        list.lift(&shop.db.pool, &guest.users[0].email)
            .await
            .expect("lift")
    );
    assert!(
        !list
            .is_suppressed(&shop.db.pool, &guest.users[0].email)
            .await
            .expect("check")
    );
}

async fn outbox_events_exist_iff_the_erasure_committed<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db, SeedConfig::new(12).shape(Shape::typical())).await;
    let c = shop.customer_where(|c| !c.is_b2b() && c.orders > 0);
    let positions: Vec<u32> = erasure::standard_chain::<DB>()
        .build()
        .expect("chain")
        .positions();
    let before = shop.dump().await;
    // A failure after the emitting handler and after every standard handler: no event, no
    // receipt, no hash, nothing changed.
    for position in positions.iter().map(|p| p + 1) {
        let chain = with_evidence(erasure::standard_chain::<DB>())
            .register(1, SearchIndex)
            .register(position, FaultHandler::always("fault", Fault::Error))
            .build()
            .expect("chain");
        let err = chain
            .erase(&shop.db.pool, &Erasure::new(c.subject()))
            .await
            .expect_err("the fault fails the erasure");
        assert_eq!(err.position(), Some(position), "{err}");
        assert_eq!(
            before.diff(&shop.dump().await),
            None,
            "fault at {position} left a trace"
        );
    }
    // Committed: one event per configured destination, one per emitted event.
    let chain = with_evidence(erasure::standard_chain::<DB>())
        .register(1, SearchIndex)
        .build()
        .expect("chain");
    let report = chain
        .erase(&shop.db.pool, &Erasure::new(c.subject()))
        .await
        .expect("erase");
    let events = outbox::list(&shop.db.pool, &outbox::Filter::new().run(report.run_id))
        .await
        .expect("list");
    let mut destinations: Vec<(&str, Option<u32>)> = events
        .iter()
        .map(|e| (e.destination.as_str(), e.position))
        .collect();
    destinations.sort();
    assert_eq!(
        destinations,
        vec![("newsletter", None), ("search-index", Some(1))]
    );
    assert!(events.iter().all(|e| e.state == EventState::Pending));
    // What the sink receives: the subject and the handler's data.
    let sink = Recording::default();
    Dispatcher::<DB>::new()
        .sink("search-index", sink.clone())
        .dispatch_once(&shop.db.pool)
        .await
        .expect("dispatch");
    let seen = sink.events();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].subject, c.subject());
    assert_eq!(
        seen[0].data,
        serde_json::json!({ "document": c.subject().customer_key() })
    );
    assert_eq!(seen[0].run_id, report.run_id);
}

/// Records what it is given.
#[derive(Clone, Default)]
struct Recording(Arc<std::sync::Mutex<Vec<OutboxEvent>>>);

impl Recording {
    fn events(&self) -> Vec<OutboxEvent> {
        self.0.lock().expect("lock").clone()
    }
}

#[async_trait]
impl EventSink for Recording {
    async fn deliver(&self, event: &OutboxEvent) -> Result<(), SinkError> {
        self.0.lock().expect("lock").push(event.clone());
        Ok(())
    }
}

/// Fails its first `failures` calls, then succeeds.
#[derive(Clone)]
struct Flaky {
    failures: u32,
    calls: Arc<AtomicU32>,
    successes: Arc<AtomicU32>,
}

#[async_trait]
impl EventSink for Flaky {
    async fn deliver(&self, _: &OutboxEvent) -> Result<(), SinkError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call < self.failures {
            return Err(format!("newsletter service answered 503 (call {})", call + 1).into());
        }
        self.successes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn a_sink_that_fails_twice_gets_the_event_once_with_its_retries_recorded<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let shop = shop(db, SeedConfig::new(5).shape(Shape::typical())).await;
    let start = Utc
        .with_ymd_and_hms(2027, 3, 1, 9, 0, 0)
        .single()
        .expect("time");
    let clock = ManualClock::new(start);
    let chain = with_evidence(erasure::standard_chain::<DB>())
        .clock(clock.clone())
        .build()
        .expect("chain");
    let report = shop.erase(&chain, shop.seed.customer(1).subject()).await;
    let sink = Flaky {
        failures: 2,
        calls: Arc::default(),
        successes: Arc::default(),
    };
    let base = Duration::from_secs(60);
    let dispatcher = Dispatcher::<DB>::new()
        .sink("newsletter", sink.clone())
        .clock(clock.clone())
        .backoff(base, Duration::from_secs(3600));
    let event = || async {
        let events = outbox::list(&shop.db.pool, &outbox::Filter::new().run(report.run_id))
            .await
            .expect("list");
        assert_eq!(events.len(), 1);
        events.into_iter().next().expect("one event")
    };

    let first = dispatcher
        .dispatch_once(&shop.db.pool)
        .await
        .expect("first");
    assert_eq!((first.delivered, first.retrying, first.dead), (0, 1, 0));
    let e = event().await;
    assert_eq!((e.state, e.attempts), (EventState::Pending, 1));
    assert_eq!(e.next_attempt_at, start + chrono::Duration::seconds(60));
    assert!(
        e.last_error
            .as_deref()
            .is_some_and(|m| m.contains("503 (call 1)"))
    );
    // Not due yet: nothing happens.
    let early = dispatcher
        .dispatch_once(&shop.db.pool)
        .await
        .expect("early");
    assert_eq!(early.attempted(), 0);

    clock.advance(chrono::Duration::seconds(60));
    let second = dispatcher
        .dispatch_once(&shop.db.pool)
        .await
        .expect("second");
    assert_eq!(second.retrying, 1);
    let e = event().await;
    assert_eq!(e.attempts, 2);
    // The backoff doubled.
    assert_eq!(
        e.next_attempt_at,
        clock.now() + chrono::Duration::seconds(120)
    );

    clock.advance(chrono::Duration::seconds(120));
    let third = dispatcher
        .dispatch_once(&shop.db.pool)
        .await
        .expect("third");
    assert_eq!(third.delivered, 1);
    let e = event().await;
    assert_eq!((e.state, e.attempts), (EventState::Delivered, 3));
    assert_eq!(e.delivered_at, Some(clock.now()));
    assert!(e.last_error.is_some(), "the failed attempts stay recorded");

    // Delivered once: no further call, however long we wait.
    clock.advance(chrono::Duration::days(30));
    let later = dispatcher
        .dispatch_once(&shop.db.pool)
        .await
        .expect("later");
    assert_eq!(later.attempted(), 0);
    assert_eq!(sink.calls.load(Ordering::SeqCst), 3);
    assert_eq!(sink.successes.load(Ordering::SeqCst), 1);
    // The delivered event no longer holds the subject.
    let dump = shop.dump().await;
    let rows = support::rows(&dump, "erasure_outbox");
    assert!(rows.iter().all(|r| r["payload"].is_null()));
}

async fn an_event_that_keeps_failing_dies_and_an_operator_revives_it<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let shop = shop(db, SeedConfig::new(5).shape(Shape::typical())).await;
    let clock = ManualClock::new(Utc::now());
    let chain = with_evidence(erasure::standard_chain::<DB>())
        .clock(clock.clone())
        .build()
        .expect("chain");
    shop.erase(&chain, shop.seed.customer(0).subject()).await;
    let always_down = Flaky {
        failures: u32::MAX,
        calls: Arc::default(),
        successes: Arc::default(),
    };
    let dispatcher = Dispatcher::<DB>::new()
        .sink("newsletter", always_down.clone())
        .clock(clock.clone())
        .max_attempts(3)
        .backoff(Duration::from_secs(1), Duration::from_secs(1));
    let mut dead = 0;
    for _ in 0..5 {
        dead += dispatcher
            .dispatch_once(&shop.db.pool)
            .await
            .expect("dispatch")
            .dead;
        clock.advance(chrono::Duration::seconds(1));
    }
    assert_eq!(dead, 1);
    assert_eq!(always_down.calls.load(Ordering::SeqCst), 3);
    let dead_events = outbox::list(
        &shop.db.pool,
        &outbox::Filter::new().state(EventState::Dead),
    )
    .await
    .expect("list");
    assert_eq!(dead_events.len(), 1);
    assert_eq!(dead_events[0].attempts, 3);

    let revived = outbox::retry(&shop.db.pool, &Retry::AllDead, clock.now())
        .await
        .expect("retry");
    assert_eq!(revived, 1);
    let sink = Recording::default();
    let delivered = Dispatcher::<DB>::new()
        .sink("newsletter", sink.clone())
        .clock(clock.clone())
        .dispatch_once(&shop.db.pool)
        .await
        .expect("dispatch");
    assert_eq!(delivered.delivered, 1);
    assert_eq!(sink.events().len(), 1);
}

/// `expire_dead`: a dead event older than the limit keeps its metadata for the operator, loses
/// the subject and the data, and cannot be retried; a younger dead event is untouched.
async fn a_dead_event_loses_its_payload_after_the_maximum_age<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db, SeedConfig::new(5).shape(Shape::typical())).await;
    let clock = ManualClock::new(Utc::now());
    let chain = with_evidence(erasure::standard_chain::<DB>())
        .clock(clock.clone())
        .build()
        .expect("chain");
    let old = shop.seed.customer(0);
    shop.erase(&chain, old.subject()).await;
    clock.advance(chrono::Duration::days(31));
    let young = shop.seed.customer(1);
    shop.erase(&chain, young.subject()).await;
    let always_down = Flaky {
        failures: u32::MAX,
        calls: Arc::default(),
        successes: Arc::default(),
    };
    let dispatcher = Dispatcher::<DB>::new()
        .sink("newsletter", always_down)
        .clock(clock.clone())
        .max_attempts(1);
    assert_eq!(
        dispatcher
            .dispatch_once(&shop.db.pool)
            .await
            .expect("dispatch")
            .dead,
        2
    );

    let cutoff = clock.now() - chrono::Duration::days(30);
    let expired = outbox::expire_dead(&shop.db.pool, cutoff)
        .await
        .expect("expire");
    assert_eq!(expired, 1);
    let entries = outbox::list(&shop.db.pool, &outbox::Filter::new())
        .await
        .expect("list");
    let states: Vec<EventState> = entries.iter().map(|e| e.state).collect();
    assert!(
        states.contains(&EventState::Expired) && states.contains(&EventState::Dead),
        "{states:?}"
    );
    let dump = shop.dump().await;
    let rows = support::rows(&dump, "erasure_outbox");
    for row in &rows {
        let payload = &row["payload"];
        if row["state"].as_str() == Some("expired") {
            assert!(payload.is_null(), "{row:?}");
        } else {
            assert!(
                !payload.is_null(),
                "the younger dead event keeps its payload"
            );
        }
    }
    let text = format!("{rows:?}");
    for needle in old.needles() {
        assert!(
            !text.contains(&needle.value),
            "{} survived in the outbox",
            needle.label
        );
    }
    // Expired events are not revived: there is nothing left to deliver.
    let revived = outbox::retry(&shop.db.pool, &Retry::AllDead, clock.now())
        .await
        .expect("retry");
    assert_eq!(revived, 1, "only the dead one");
    // Running it again changes nothing.
    assert_eq!(
        outbox::expire_dead(&shop.db.pool, cutoff)
            .await
            .expect("again"),
        0
    );
}

async fn concurrent_dispatchers_deliver_each_event_once<DB: TestBackend>(db: TestDb<DB>) {
    let shop = shop(db, SeedConfig::new(40).shape(Shape::typical())).await;
    let chain = with_evidence(erasure::standard_chain::<DB>())
        .build()
        .expect("chain");
    for c in shop.seed.customers().filter(|c| !c.is_b2b()).take(30) {
        shop.erase(&chain, c.subject()).await;
    }
    let sink = Recording::default();
    let dispatcher = Arc::new(
        Dispatcher::<DB>::new()
            .sink("newsletter", sink.clone())
            .batch(4),
    );
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let dispatcher = Arc::clone(&dispatcher);
        let pool = shop.db.pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut delivered = 0;
            loop {
                let round = dispatcher.dispatch_once(&pool).await.expect("dispatch");
                if round.attempted() == 0 {
                    return delivered;
                }
                delivered += round.delivered;
            }
        }));
    }
    let mut delivered = 0;
    for task in tasks {
        delivered += task.await.expect("task");
    }
    let events = sink.events();
    let mut ids: Vec<_> = events.iter().map(|e| e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(delivered as usize, events.len());
    assert_eq!(ids.len(), events.len(), "an event was delivered twice");
    let erased = shop
        .seed
        .customers()
        .filter(|c| !c.is_b2b())
        .take(30)
        .count();
    assert_eq!(events.len(), erased);
}

async fn retention_rules_clear_delivered_events_and_old_receipts<DB: TestBackend>(db: TestDb<DB>) {
    use erasure::job::JobRunner;
    use erasure::retention::{RetentionJob, RetentionRule};

    let shop = shop(db, SeedConfig::new(10).shape(Shape::typical())).await;
    let start = Utc
        .with_ymd_and_hms(2027, 5, 1, 8, 0, 0)
        .single()
        .expect("time");
    let clock = ManualClock::new(start);
    let chain = erasure::standard_chain::<DB>()
        .pseudonym_key(key())
        .recorder(Receipts::new())
        .recorder(
            Outbox::new()
                .destination("newsletter")
                .and_then(|o| o.destination("crm"))
                .expect("destinations"),
        )
        .clock(clock.clone())
        .build()
        .expect("chain");
    for c in shop.seed.customers().filter(|c| !c.is_b2b()).take(3) {
        shop.erase(&chain, c.subject()).await;
    }
    // The newsletter events are delivered; the CRM has no sink yet: its events stay pending.
    let delivered = Dispatcher::<DB>::new()
        .sink("newsletter", Recording::default())
        .clock(clock.clone())
        .dispatch_once(&shop.db.pool)
        .await
        .expect("dispatch");
    assert_eq!(delivered.delivered, 3);
    let rule = |text: &str| -> RetentionRule { toml::from_str(text).expect("rule") };
    let outbox_rule =
        rule("table = \"erasure_outbox\"\ndate_column = \"delivered_at\"\nkeep = \"90d\"\n");
    let receipts_rule = rule(
        "table = \"erasure_receipts\"\nid = \"run_id\"\ndate_column = \"recorded_at\"\nkeep = \"1y\"\n",
    );
    let run = |at: chrono::DateTime<Utc>, rule: RetentionRule| {
        let pool = shop.db.pool.clone();
        async move {
            JobRunner::new()
                .clock(erasure::clock::FixedClock(at))
                .batch_size(2)
                .run(&pool, &RetentionJob::new(rule), |_| {})
                .await
                .expect("retention")
                .rows
        }
    };
    let later = start + chrono::Duration::days(100);
    assert_eq!(
        run(later, outbox_rule.clone()).await,
        3,
        "delivered events go"
    );
    assert_eq!(
        run(later, receipts_rule.clone()).await,
        0,
        "receipts stay a year"
    );
    let left = outbox::list(&shop.db.pool, &outbox::Filter::new())
        .await
        .expect("list");
    assert_eq!(left.len(), 3);
    assert!(
        left.iter()
            .all(|e| e.state == EventState::Pending && e.destination == "crm"),
        "pending events are never purged"
    );
    let much_later = start + chrono::Duration::days(400);
    assert_eq!(run(much_later, receipts_rule).await, 3);
    assert_eq!(count(&shop, erasure::ident!("erasure_receipts")).await, 0);
    assert_eq!(run(much_later, outbox_rule).await, 0);
}

backend_tests!(
    retention_rules_clear_delivered_events_and_old_receipts,
    receipts_record_committed_erasures_without_personal_values,
    an_unconfigured_key_fails_the_erasure_and_writes_nothing,
    the_suppression_list_holds_the_erased_emails_only,
    outbox_events_exist_iff_the_erasure_committed,
    a_sink_that_fails_twice_gets_the_event_once_with_its_retries_recorded,
    an_event_that_keeps_failing_dies_and_an_operator_revives_it,
    a_dead_event_loses_its_payload_after_the_maximum_age,
    concurrent_dispatchers_deliver_each_event_once,
);
