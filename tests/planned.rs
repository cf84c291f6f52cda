//! Planned handlers: the chain plans the erase pass of every handler whose `erase` is its
//! policy, and sends the statements of neighbouring planned handlers together (one query on
//! SQLite). The outcome is the one the handlers would have had one statement at a time, statements
//! still run in position order around a handler that writes its own `erase`, and a statement
//! that fails is its handler's failure. On PostgreSQL, neighbouring planned writes that do not
//! touch what an earlier one of them writes are sent as one statement (a writable `WITH`): fewer
//! round trips, the same result, and a failure still named exactly. On every backend.

mod support;

use std::sync::{Arc, Mutex};

use erasure::clock::FixedClock;
use erasure::policy::{Policy, Reach, Step};
use erasure::sql::Select;
use erasure::{
    Backend, DeletionHandler, Erasure, ErasureContext, Error, HandlerError, Outcome,
    StandardMappings, Subject, SubjectColumns, async_trait, ident,
};
use erasure_testkit::{SeedConfig, Shape, TestBackend, TestDb};
use support::{Sent, Shop, backend_tests};

fn joined(sent: &[String]) -> usize {
    sent.iter().filter(|s| s.starts_with("WITH ")).count()
}

/// A standard handler with `planned()` false: its erase pass runs one statement at a time, as
/// every handler's did before planning.
struct OneAtATime<DB: Backend>(Box<dyn DeletionHandler<DB>>);

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for OneAtATime<DB> {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn description(&self) -> &str {
        self.0.description()
    }

    fn policy(&self) -> Option<&Policy> {
        self.0.policy()
    }

    async fn prepare(&self, cx: &mut ErasureContext<'_, DB>) -> Result<(), HandlerError> {
        self.0.prepare(cx).await
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        self.0.erase(cx).await
    }
}

/// A second database of the same kind, with the reference schema, or `None` when its server is
/// unreachable (and that is allowed).
async fn twin<DB: TestBackend>() -> Option<TestDb<DB>> {
    match DB::fresh(4).await {
        Ok(db) => Some(db),
        Err(e) if e.is_unreachable() => {
            support::skip_or_fail(&format!("on {}: {e}", <DB as TestBackend>::LABEL));
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn one_at_a_time<DB: Backend>(clock: FixedClock) -> erasure::Chain<DB> {
    let mut builder = erasure::Chain::<DB>::builder().clock(clock);
    for (position, handler) in erasure::standard_handlers::<DB>(&StandardMappings::default()) {
        assert!(handler.planned(), "{} is planned", handler.name());
        builder = builder.register(position, OneAtATime(handler));
    }
    builder.build().expect("chain")
}

/// The same customers erased by the planned standard chain in one shop and one statement at a
/// time in a twin shop: the same report, handler by handler, and the same database after.
async fn planned_and_one_at_a_time_erase_alike<DB: TestBackend>(db: TestDb<DB>) {
    let Some(twin) = twin::<DB>().await else {
        return;
    };
    let config = SeedConfig::new(8).shape(Shape::varied()).guests(2);
    let planned_shop = Shop::new(db, config.clone()).await;
    let twin_shop = Shop::new(twin, config).await;
    // One clock for both: marks and anonymization times are the same.
    let now = chrono::Utc::now();
    let planned = erasure::standard_chain::<DB>()
        .clock(FixedClock(now))
        .build()
        .expect("chain");
    let unplanned = one_at_a_time::<DB>(FixedClock(now));
    let mut subjects: Vec<Subject> = (0..8)
        .map(|i| planned_shop.seed.customer(i).subject())
        .collect();
    subjects.extend(planned_shop.seed.guests().map(|g| g.subject()));
    for subject in subjects {
        let a = planned_shop.erase(&planned, subject.clone()).await;
        let b = twin_shop.erase(&unplanned, subject).await;
        assert_eq!(a.handlers.len(), b.handlers.len());
        for (x, y) in a.handlers.iter().zip(&b.handlers) {
            assert_eq!((x.position, &x.name), (y.position, &y.name));
            assert_eq!(x.outcome, y.outcome, "{}", x.name);
            assert_eq!(x.statements, y.statements, "{}", x.name);
        }
    }
    let (after, twin_after) = (planned_shop.dump().await, twin_shop.dump().await);
    assert_eq!(after.diff(&twin_after), None);
}

/// The standard chain with writes joined and with `join_writes(false)`, on two customers of the
/// same shape: on PostgreSQL the joined chain sends a few statements where the other sends one
/// per write, and both report the same; elsewhere joining changes nothing.
async fn joined_writes_take_fewer_round_trips_on_postgres<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(4).shape(Shape::typical())).await;
    let now = chrono::Utc::now();
    let joining = erasure::standard_chain::<DB>()
        .clock(FixedClock(now))
        .build()
        .expect("chain");
    let alone = erasure::standard_chain::<DB>()
        .clock(FixedClock(now))
        .join_writes(false)
        .build()
        .expect("chain");
    // One connection for both: a connection the pool would open meanwhile logs its own set-up
    // statements.
    let mut conn = shop.db.pool.acquire().await.expect("connection");
    let sent = Sent::default();
    let mut erase = async |chain: &erasure::Chain<DB>, customer: u64| {
        let erasure = Erasure::new(shop.seed.customer(customer).subject());
        let report = sent
            .during(chain.erase_on(&mut conn, &erasure))
            .await
            .expect("erase");
        (report, sent.take())
    };
    let (a, with_joins) = erase(&joining, 0).await;
    let (b, one_by_one) = erase(&alone, 1).await;
    assert_eq!(joined(&one_by_one), 0, "{one_by_one:#?}");
    for (x, y) in a.handlers.iter().zip(&b.handlers) {
        assert_eq!(x.statements, y.statements, "{}", x.name);
        // Customers of one shape: the same rows in every table.
        assert_eq!(x.outcome.effects(), y.outcome.effects(), "{}", x.name);
    }
    assert!(a.totals().deleted > 0 && a.totals().anonymized > 0, "{a}");
    // PostgreSQL joins; SQLite already sends them as one query, MySQL one at a time.
    let postgres = <DB as Backend>::DIALECT == erasure::Dialect::Postgres;
    assert_eq!(<DB as Backend>::JOINS_WRITES, postgres);
    if postgres {
        // The 19 writes of a whole customer in a few statements, and its two locks in one.
        assert!(joined(&with_joins) >= 2, "{with_joins:#?}");
        assert_eq!(
            with_joins
                .iter()
                .filter(|s| s.starts_with(r#"WITH "l0" AS (SELECT"#))
                .count(),
            1,
            "{with_joins:#?}"
        );
        assert!(
            with_joins.len() + 13 <= one_by_one.len(),
            "joined: {with_joins:#?}\none by one: {one_by_one:#?}"
        );
    } else {
        assert_eq!(with_joins, one_by_one);
    }
}

/// At the start of the erase pass, tries from a connection of its own to lock the subject's
/// customer row and users, and another customer's row, without waiting: whether each was free.
struct Probe<DB: Backend> {
    pool: sqlx::Pool<DB>,
    mine: i64,
    other: i64,
    free: Arc<Mutex<Vec<(&'static str, bool)>>>,
}

impl<DB: Backend> Probe<DB> {
    async fn free(
        &self,
        what: &'static str,
        mut sql: erasure::sql::Sql,
    ) -> Result<(), HandlerError> {
        sql.push(" FOR UPDATE NOWAIT");
        let mut conn = self.pool.acquire().await?;
        let locked = DB::fetch_all(&mut conn, &sql).await;
        if let Err(e) = &locked {
            assert!(DB::is_transient(e), "{what}: {e}");
        }
        self.free.lock().expect("lock").push((what, locked.is_ok()));
        Ok(())
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Probe<DB> {
    fn name(&self) -> &str {
        "probe"
    }

    fn description(&self) -> &str {
        "tries to lock the subject's account rows from another connection (test)"
    }

    async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let id = self.mine;
        let mut customer = erasure::sql::Sql::new("SELECT id FROM customers WHERE id = ");
        customer.bind(id);
        self.free("customer", customer).await?;
        let mut users = erasure::sql::Sql::new("SELECT id FROM users WHERE customer_id = ");
        users.bind(id);
        self.free("users", users).await?;
        let mut other = erasure::sql::Sql::new("SELECT id FROM customers WHERE id = ");
        other.bind(self.other);
        self.free("another customer", other).await?;
        Ok(Outcome::new())
    }
}

/// Before any handler writes, the customer handler holds the locks an order insert takes for
/// its foreign keys (the subject's customer row and users), and no other customer's: one at a
/// time, and joined into one statement on PostgreSQL. SQLite's write transaction holds the
/// whole database instead.
async fn the_customer_s_rows_are_locked_before_any_write<DB: TestBackend>(db: TestDb<DB>) {
    if <DB as Backend>::LOCKS_WHOLE_DATABASE {
        return;
    }
    let shop = Shop::new(db, SeedConfig::new(3).shape(Shape::typical())).await;
    let other = shop.seed.customer(2).id;
    for (customer, join) in [(0, true), (1, false)] {
        let free = Arc::new(Mutex::new(Vec::new()));
        let probe = Probe {
            pool: shop.db.pool.clone(),
            mine: shop.seed.customer(customer).id,
            other,
            free: free.clone(),
        };
        let chain = erasure::standard_chain::<DB>()
            .register(1, probe)
            .join_writes(join)
            .build()
            .expect("chain");
        let report = shop
            .erase(&chain, shop.seed.customer(customer).subject())
            .await;
        assert!(report.totals().deleted > 0, "{report}");
        assert_eq!(
            *free.lock().expect("lock"),
            [
                ("customer", false),
                ("users", false),
                ("another customer", true)
            ],
            "joined: {join}"
        );
    }
}

/// Counts the wishlist items left when it runs, and writes nothing: it must see the writes of
/// the planned handlers before it.
struct Counter(Arc<Mutex<Vec<i64>>>);

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Counter {
    fn name(&self) -> &str {
        "counter"
    }

    fn description(&self) -> &str {
        "counts the wishlist items left (test)"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let n = cx
            .fetch_count(Select::count(ident!("wishlist_items")))
            .await?;
        self.0.lock().expect("lock").push(n as i64);
        Ok(Outcome::new())
    }
}

/// Between planned handlers, a handler with its own `erase` sees every statement planned before
/// it carried out: the wishlist handler (20) deletes the items, and the counter at 21 counts
/// what is left.
async fn a_handler_of_its_own_sees_the_planned_writes_before_it<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(3).shape(Shape::typical())).await;
    let counts = Arc::new(Mutex::new(Vec::new()));
    let chain = erasure::standard_chain::<DB>()
        .register(21, Counter(counts.clone()))
        .build()
        .expect("chain");
    let before = support::count(&shop.db.pool, Select::count(ident!("wishlist_items"))).await;
    let customer = shop.seed.customer(0);
    let report = shop.erase(&chain, customer.subject()).await;
    let deleted = report
        .handler(20)
        .expect("wishlists")
        .outcome
        .totals()
        .deleted;
    assert!(deleted > 0, "{report}");
    let seen = counts.lock().expect("lock").clone();
    // Nothing after the counter touches the items: it saw what is left now.
    let items_after = support::count(&shop.db.pool, Select::count(ident!("wishlist_items"))).await;
    assert_eq!(seen, [items_after]);
    assert!(items_after < before);
}

/// A planned rule whose statement fails (it writes `NULL` into a `NOT NULL` column) fails the
/// erasure in its own name and position, and nothing is left changed.
async fn a_failing_planned_statement_is_its_handler_s_failure<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(3).shape(Shape::typical())).await;
    let breaking = Policy::new("no orders for this kind of subject").step(Step::anonymize(
        ident!("orders"),
        Reach::subject(SubjectColumns::customer(ident!("customer_id"))),
        [(ident!("status"), erasure::Replacement::Null)].into(),
    ));
    struct Breaking(Policy);
    impl<DB: Backend> DeletionHandler<DB> for Breaking {
        fn name(&self) -> &str {
            "breaking"
        }
        fn description(&self) -> &str {
            "writes NULL into orders.status (test)"
        }
        fn policy(&self) -> Option<&Policy> {
            Some(&self.0)
        }
        fn planned(&self) -> bool {
            true
        }
    }
    let chain = erasure::standard_chain::<DB>()
        .register(27, Breaking(breaking))
        .build()
        .expect("chain");
    let before = shop.dump().await;
    let sent = Sent::default();
    let e = sent
        .during(chain.erase(
            &shop.db.pool,
            &Erasure::new(shop.seed.customer(0).subject()),
        ))
        .await
        .expect_err("status is NOT NULL");
    let sent = sent.take();
    if <DB as Backend>::JOINS_WRITES {
        // It failed inside a joined statement, and was then found alone.
        assert!(joined(&sent) >= 1, "{sent:#?}");
    }
    assert!(
        matches!(&e, Error::Handler { handler, position: 27, .. } if handler == "breaking"),
        "{e}"
    );
    assert_eq!(shop.dump().await.diff(&before), None);
}

backend_tests!(
    planned_and_one_at_a_time_erase_alike,
    joined_writes_take_fewer_round_trips_on_postgres,
    a_handler_of_its_own_sees_the_planned_writes_before_it,
    a_failing_planned_statement_is_its_handler_s_failure,
    the_customer_s_rows_are_locked_before_any_write,
);
