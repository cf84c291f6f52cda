//! Messages written by others are masked before they are shown, logged or stored: a database
//! error that echoes a value (quoted in single or double quotes), an integrator's handler error,
//! a downstream system's delivery error. Each path is fed a seeded customer's real personal
//! values; none may come out in the error's text, in a request's stored failure reason, in an
//! outbox event's stored last error, or in any trace (the privacy guard reads every trace).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{TimeZone, Utc};
use erasure::clock::ManualClock;
use erasure::evidence::outbox::{self, OutboxEvent, SinkError};
use erasure::evidence::{Dispatcher, EventSink, Outbox};
use erasure::requests::{RequestKind, Requests, State, Worker};
use erasure::sql::{Select, Sql};
use erasure::{
    Backend, DeletionHandler, Dialect, Erasure, ErasureContext, HandlerError, Outcome,
    PseudonymKey, async_trait,
};
use erasure_testkit::{SeedConfig, SeededCustomer, TestBackend, TestDb};
use support::{Shop, backend_tests};

fn key() -> PseudonymKey {
    PseudonymKey::from_hex("1f1e2d3c4b5a69788796a5b4c3d2e1f0").expect("key")
}

/// The customer's personal values that the paths below are fed and that masking recognizes:
/// email, phone, IBAN, IP address. Names in plain words cannot be told from other words (see
/// `erasure::redact`): the message of a handler or sink must not carry them, and masking does
/// not pretend to find them.
fn values(c: &SeededCustomer) -> Vec<String> {
    let u = &c.users[0];
    vec![
        u.email.clone(),
        u.phone.clone(),
        u.iban.clone(),
        u.ip.clone(),
    ]
}

fn assert_none_in(text: &str, values: &[String], what: &str) {
    for v in values {
        assert!(
            !text.contains(v.as_str()),
            "{what} shows a personal value: {text}"
        );
    }
    // Phone numbers are also matched by their last group of digits.
    for v in values {
        if let Some(digits) = v.rsplit(' ').next().filter(|d| d.len() >= 5) {
            assert!(
                !text.contains(digits),
                "{what} shows a phone number: {text}"
            );
        }
    }
}

/// Fails as an integrator's handler might: with the customer's values in its message.
struct TalksTooMuch(String);

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for TalksTooMuch {
    fn name(&self) -> &str {
        "talks-too-much"
    }

    fn description(&self) -> &str {
        "fails with personal values in its message (test)"
    }

    async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        Err(HandlerError::other(self.0.clone()))
    }
}

/// Makes the database echo a value in its error: PostgreSQL quotes it in double quotes
/// (`invalid input syntax for type bigint: "…"`), MySQL in single quotes (`Incorrect integer
/// value: '…' for column …`, strict mode). SQLite converts instead of failing.
struct EchoesAValue(String);

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for EchoesAValue {
    fn name(&self) -> &str {
        "echoes-a-value"
    }

    fn description(&self) -> &str {
        "makes the database echo a personal value (test)"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let mut sql = match DB::DIALECT {
            Dialect::MySql => Sql::new("INSERT INTO numbers (n) VALUES ("),
            _ => Sql::new("SELECT CAST("),
        };
        sql.bind(self.0.as_str());
        sql.push(match DB::DIALECT {
            Dialect::MySql => ")",
            _ => " AS BIGINT)",
        });
        cx.execute(sql).await?;
        if DB::DIALECT == Dialect::Sqlite {
            // SQLite converts instead of failing: make it fail without a value in the message.
            return Err(HandlerError::other(format!("could not convert {}", self.0)));
        }
        Ok(Outcome::new())
    }
}

async fn errors_with_personal_values_are_masked<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(4)).await;
    let pool = &shop.db.pool;
    DB::execute(
        &mut *pool.acquire().await.expect("conn"),
        &Sql::new("CREATE TABLE numbers (n BIGINT)"),
    )
    .await
    .expect("numbers");
    let c = shop.seed.customer(1);
    let values = values(&c);
    let u = &c.users[0];
    let chatty = format!(
        "CRM has no contact {} (phone {}, IBAN {}) from {}, their record: '{}'",
        u.email,
        u.phone,
        u.iban,
        u.ip,
        u.full_name()
    );

    // An integrator's handler error, through the chain.
    let chain = erasure::standard_chain::<DB>()
        .register(60, TalksTooMuch(chatty.clone()))
        .build()
        .expect("chain");
    let e = chain
        .erase(pool, &Erasure::new(c.subject()))
        .await
        .expect_err("the handler fails");
    let shown = e.to_string();
    assert!(
        shown.contains("talks-too-much") && shown.contains("position 60"),
        "{shown}"
    );
    assert_none_in(&shown, &values, "the erasure error");

    // A database error echoing the customer's email, through the chain.
    let chain = erasure::standard_chain::<DB>()
        .register(60, EchoesAValue(u.email.clone()))
        .build()
        .expect("chain");
    let e = chain
        .erase(pool, &Erasure::new(c.subject()))
        .await
        .expect_err("the statement fails");
    assert_none_in(&e.to_string(), &values, "the database error");

    // The same failures as a request's stored failure reason.
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2027, 1, 10, 9, 0, 0)
            .single()
            .expect("time"),
    );
    let store = Requests::<DB>::new(key()).clock(clock.clone());
    store.install(pool).await.expect("install");
    for handler in [
        Box::new(TalksTooMuch(chatty.clone())) as Box<dyn DeletionHandler<DB>>,
        Box::new(EchoesAValue(u.email.clone())),
    ] {
        let sub = store
            .submit(
                pool,
                RequestKind::Erasure,
                Some(c.subject()),
                Some(&u.email),
            )
            .await
            .expect("submit");
        store
            .confirm(pool, &sub.request.id, sub.token.as_ref().expect("token"))
            .await
            .expect("confirm");
        let chain = erasure::standard_chain::<DB>()
            .register_boxed(60, handler)
            .clock(clock.clone())
            .build()
            .expect("chain");
        let done = Worker::new(store.clone(), chain)
            .process_next(pool)
            .await
            .expect("process")
            .expect("a request");
        assert_eq!(done.state, State::Failed);
        let reason = done.outcome.clone().expect("a failure reason");
        assert!(reason.contains("position 60"), "{reason}");
        assert_none_in(&reason, &values, "the stored failure reason");
        // Closed, so that the next submission opens a new request.
        store
            .reject(pool, &done.id, "closed by the test")
            .await
            .expect("reject");
    }

    // A downstream system's delivery error, stored on the event.
    erasure::evidence::install(pool).await.expect("install");
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
    shop.erase(&chain, shop.seed.customer(2).subject()).await;
    let sink = Refuses {
        message: chatty.clone(),
        calls: Arc::default(),
    };
    Dispatcher::<DB>::new()
        .sink("newsletter", sink.clone())
        .clock(clock.clone())
        .dispatch_once(pool)
        .await
        .expect("dispatch");
    assert_eq!(sink.calls.load(Ordering::SeqCst), 1);
    let events = outbox::list(pool, &outbox::Filter::new())
        .await
        .expect("list");
    let stored = events[0].last_error.clone().expect("the error is stored");
    assert!(stored.contains("CRM has no contact"), "{stored}");
    assert_none_in(&stored, &values, "the stored delivery error");

    // And the requests table holds none of it.
    let stored = DB::fetch_all(
        &mut *pool.acquire().await.expect("conn"),
        &Select::columns(
            erasure::Ident::new(erasure::requests::TABLE).expect("table"),
            [erasure::ident!("outcome"), erasure::ident!("note")],
        )
        .to_sql(),
    )
    .await
    .expect("requests");
    for row in stored {
        for value in row.values() {
            if let Some(text) = value.as_str() {
                assert_none_in(text, &values, "a stored request");
            }
        }
    }
}

/// A downstream system that refuses, repeating the request's personal values in its answer.
#[derive(Clone)]
struct Refuses {
    message: String,
    calls: Arc<AtomicU32>,
}

#[async_trait]
impl EventSink for Refuses {
    async fn deliver(&self, _: &OutboxEvent) -> Result<(), SinkError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(self.message.clone().into())
    }
}

backend_tests!(errors_with_personal_values_are_masked);
