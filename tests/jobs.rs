//! Purge jobs and retention: what goes, what stays, at the boundaries, in batches, twice.

mod support;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use erasure::clock::FixedClock;
use erasure::job::JobRunner;
use erasure::retention::{Period, RetentionAction, RetentionJob, RetentionRule, RetentionRules};
use erasure::sql::{Condition, Select, Sql, Update};
use erasure::{
    Backend, DeletionHandler, Dialect, ErasureContext, HandlerError, Outcome, Reason, Value,
    async_trait, ident,
};
use erasure_testkit::{Owner, SeedConfig, Shape, TestBackend, TestDb};
use support::{Shop, backend_tests, count, owned_rows, rows, truthy};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 6, 1, 12, 0, 0)
        .single()
        .expect("time")
}

async fn exec<DB: Backend>(pool: &sqlx::Pool<DB>, sql: impl Into<Sql>) -> u64 {
    let mut conn = pool.acquire().await.expect("conn");
    DB::execute(&mut conn, &sql.into())
        .await
        .expect("statement")
}

/// Sets one order's status, date and mark.
async fn order<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    id: i64,
    status: &str,
    ordered_at: DateTime<Utc>,
    marked: bool,
) {
    let n = exec(
        pool,
        Update::new(ident!("orders"), Condition::eq(ident!("id"), id))
            .set(ident!("status"), status)
            .set(ident!("ordered_at"), ordered_at)
            .set(ident!("to_be_deleted"), marked),
    )
    .await;
    assert_eq!(n, 1);
}

async fn order_purge_honours_retention_and_excluded_statuses_at_the_boundaries<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let shop = Shop::new(db, SeedConfig::new(6).shape(Shape::typical())).await;
    // Customer 2's orders (ids come in blocks of 2^14 per customer).
    let o = |k: i64| 2 * (1 << 14) + k;
    let six_years_ago = Period::years(6).before(now());
    // Due one second ago: goes. Due in one second: stays. Excluded statuses: stay however old.
    order(
        &shop.db.pool,
        o(0),
        "COMPLETED",
        six_years_ago - Duration::seconds(1),
        true,
    )
    .await;
    order(
        &shop.db.pool,
        o(1),
        "COMPLETED",
        six_years_ago + Duration::seconds(1),
        true,
    )
    .await;
    order(
        &shop.db.pool,
        o(2),
        "PENDING",
        six_years_ago - Duration::days(400),
        true,
    )
    .await;
    order(
        &shop.db.pool,
        o(3),
        "MANUAL_INTERVENTION_NEEDED",
        six_years_ago - Duration::days(400),
        true,
    )
    .await;
    order(
        &shop.db.pool,
        o(4),
        "EXPORTFAILED",
        six_years_ago - Duration::days(400),
        true,
    )
    .await;
    order(&shop.db.pool, o(5), "SHIPPED", six_years_ago, true).await; // exactly due: goes
    order(
        &shop.db.pool,
        o(6),
        "COMPLETED",
        six_years_ago - Duration::days(3000),
        false,
    )
    .await; // not marked
    // Everything else in the shop: not marked (the seed marks nothing).
    let before = shop.dump().await;
    let job = erasure::order::OrderPurge::new(Default::default(), &RetentionRules::default());
    let runner = JobRunner::new().clock(FixedClock(now())).batch_size(1);
    let mut seen = Vec::new();
    let summary = runner
        .run(&shop.db.pool, &job, |p| seen.push(p))
        .await
        .expect("purge");
    assert_eq!(summary.rows, 2, "{summary}");
    assert_eq!(summary.batches, 2, "one row per batch");
    assert_eq!(seen.last().map(|p| (p.done, p.left)), Some((2, 0)));

    let after = shop.dump().await;
    let ids: Vec<i64> = rows(&after, "orders")
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    for (k, stays) in [
        (0, false),
        (1, true),
        (2, true),
        (3, true),
        (4, true),
        (5, false),
        (6, true),
    ] {
        assert_eq!(ids.contains(&o(k)), stays, "order {k}");
    }
    // Lines and addresses went with their orders; promotion-code usages lost the reference.
    for table in ["order_lines", "order_addresses"] {
        for r in rows(&after, table) {
            let parent = r["order_id"].as_i64().expect("order id");
            assert!(
                parent != o(0) && parent != o(5),
                "{table} of a purged order survived"
            );
        }
    }
    for r in rows(&before, "promotion_code_usages") {
        if matches!(r["order_id"].as_i64(), Some(x) if x == o(0) || x == o(5)) {
            let kept = support::row(
                &after,
                "promotion_code_usages",
                r["id"].as_i64().expect("id"),
            )
            .expect("usage stays");
            assert!(kept["order_id"].is_null());
        }
    }
    // Nothing of any other customer changed.
    shop.assert_only_owned_changed(&before, &after, &[Owner::Customer(2)]);

    // Again: nothing left to do.
    let again = runner
        .run(&shop.db.pool, &job, |_| {})
        .await
        .expect("purge");
    assert_eq!((again.rows, again.batches), (0, 0));
    assert_eq!(after.diff(&shop.dump().await), None);

    // Without a retention rule for orders, marked orders go at once (excluded ones still stay).
    let immediate =
        erasure::order::OrderPurge::new(Default::default(), &RetentionRules(Vec::new()));
    let summary = runner
        .run(&shop.db.pool, &immediate, |_| {})
        .await
        .expect("purge");
    assert_eq!(summary.rows, 1, "only the order due in one second");
    assert_eq!(
        count(
            &shop.db.pool,
            Select::count(ident!("orders")).filter(Condition::eq(ident!("to_be_deleted"), true))
        )
        .await,
        3
    );
}

async fn basket_purge_deletes_invalid_baskets_and_their_items<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(8).shape(Shape::typical())).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    for i in [1, 4] {
        shop.erase(&chain, shop.seed.customer(i).subject()).await;
    }
    let before = shop.dump().await;
    let invalid = rows(&before, "baskets")
        .iter()
        .filter(|r| r["status"] == Value::from("INVALID"))
        .count();
    assert_eq!(invalid, 10);
    let job = erasure::basket::BasketPurge::new(Default::default());
    let summary = JobRunner::new()
        .batch_size(3)
        .run(&shop.db.pool, &job, |_| {})
        .await
        .expect("purge");
    assert_eq!(summary.rows, 10);
    assert_eq!(summary.batches, 4);
    assert_eq!(summary.totals.deleted, 10 + 30, "baskets and their items");
    let after = shop.dump().await;
    shop.assert_only_owned_changed(&before, &after, &[Owner::Customer(2), Owner::Customer(5)]);
    assert!(
        rows(&after, "baskets")
            .iter()
            .all(|r| r["status"] != Value::from("INVALID"))
    );
    assert_eq!(rows(&after, "baskets").len(), 8 * 5 - 10);
}

/// A table of the integrator's with a retention rule of its own.
async fn labels<DB: Backend>(pool: &sqlx::Pool<DB>) {
    let ddl = match DB::DIALECT {
        Dialect::Sqlite => {
            "CREATE TABLE shipping_labels (id BIGINT PRIMARY KEY, recipient TEXT, created_at TEXT NOT NULL)"
        }
        Dialect::Postgres => {
            "CREATE TABLE shipping_labels (id BIGINT PRIMARY KEY, recipient TEXT, created_at TIMESTAMPTZ NOT NULL)"
        }
        Dialect::MySql => {
            "CREATE TABLE shipping_labels (id BIGINT PRIMARY KEY, recipient VARCHAR(200), created_at DATETIME(6) NOT NULL)"
        }
    };
    exec(pool, Sql::new(ddl)).await;
    let mut insert = erasure::sql::Insert::new(
        ident!("shipping_labels"),
        [ident!("id"), ident!("recipient"), ident!("created_at")],
    );
    let cutoff = Period::days(21).before(now());
    for i in 0..100i64 {
        // Even ids are due (one second past the period or more), odd ids are not (one second short).
        let at = if i % 2 == 0 {
            cutoff - Duration::seconds(1 + i)
        } else {
            cutoff + Duration::seconds(1 + i)
        };
        insert.row([i.into(), format!("Recipient {i}").into(), at.into()]);
    }
    exec(pool, insert).await;
}

async fn retention_rules_delete_or_anonymize_at_the_boundary<DB: TestBackend>(db: TestDb<DB>) {
    labels(&db.pool).await;
    let rules: RetentionRules = toml::from_str::<toml::Table>(
        "[[retention]]\ntable = \"shipping_labels\"\ndate_column = \"created_at\"\nkeep = \"21d\"\n",
    )
    .ok()
    .and_then(|t| t.get("retention").cloned())
    .and_then(|v| v.try_into().ok())
    .expect("rules");
    let rule = rules
        .for_table(&ident!("shipping_labels"))
        .expect("rule")
        .clone();
    let runner = JobRunner::new().clock(FixedClock(now())).batch_size(7);
    let summary = runner
        .run(&db.pool, &RetentionJob::new(rule.clone()), |_| {})
        .await
        .expect("retention");
    assert_eq!(summary.rows, 50);
    assert_eq!(summary.batches, 8, "50 rows in batches of 7");
    let left = count(&db.pool, Select::count(ident!("shipping_labels"))).await;
    assert_eq!(left, 50);
    let odd = count(
        &db.pool,
        Select::count(ident!("shipping_labels")).filter(Condition::compare(
            ident!("created_at"),
            erasure::sql::Cmp::Gt,
            rule.keep.before(now()),
        )),
    )
    .await;
    assert_eq!(odd, 50, "every row one second short of its period stays");

    // Anonymize instead: later, the rest are due; their recipient goes, the rows stay.
    let later = now() + Duration::days(30);
    let anonymize = RetentionRule {
        action: RetentionAction::Anonymize(
            [(ident!("recipient"), erasure::Replacement::Null)]
                .into_iter()
                .collect(),
        ),
        ..rule
    };
    let runner = JobRunner::new().clock(FixedClock(later)).batch_size(7);
    let summary = runner
        .run(&db.pool, &RetentionJob::new(anonymize.clone()), |_| {})
        .await
        .expect("retention");
    assert_eq!(summary.rows, 50);
    assert_eq!(summary.totals.anonymized, 50);
    assert_eq!(
        count(&db.pool, Select::count(ident!("shipping_labels"))).await,
        50
    );
    assert_eq!(
        count(
            &db.pool,
            Select::count(ident!("shipping_labels"))
                .filter(Condition::is_not_null(ident!("recipient")))
        )
        .await,
        0
    );
    // Anonymized rows are done: a second run finds nothing.
    let again = runner
        .run(&db.pool, &RetentionJob::new(anonymize), |_| {})
        .await
        .expect("retention");
    assert_eq!(again.rows, 0);
}

/// Records the reason of every erasure it takes part in.
#[derive(Clone, Default)]
struct Reasons(Arc<Mutex<Vec<Reason>>>);

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Reasons {
    fn name(&self) -> &str {
        "reasons"
    }

    fn description(&self) -> &str {
        "records reasons (test)"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        self.0.lock().expect("lock").push(cx.reason());
        Ok(Outcome::new())
    }
}

async fn inactive_accounts_are_erased_through_the_chain<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(10).shape(Shape::typical()).guests(0)).await;
    let after = Period::months(36);
    let cutoff = after.before(now());
    let old = cutoff - Duration::days(1);
    // Everybody is old and inactive...
    exec(
        &shop.db.pool,
        Update::new(ident!("customers"), Condition::always()).set(ident!("created_at"), old),
    )
    .await;
    exec(
        &shop.db.pool,
        Update::new(ident!("users"), Condition::always()).set(ident!("last_login_at"), old),
    )
    .await;
    exec(
        &shop.db.pool,
        Update::new(ident!("orders"), Condition::always()).set(ident!("ordered_at"), old),
    )
    .await;
    // ...except customer 3 (a login one second after the cutoff), customer 4 (an order after it)
    // and customer 5 (an account too young).
    let c = |i: u64| shop.seed.customer(i);
    exec(
        &shop.db.pool,
        Update::new(
            ident!("users"),
            Condition::eq(ident!("id"), c(2).users[0].id),
        )
        .set(ident!("last_login_at"), cutoff + Duration::seconds(1)),
    )
    .await;
    exec(
        &shop.db.pool,
        Update::new(
            ident!("orders"),
            Condition::eq(ident!("customer_id"), c(3).id),
        )
        .set(ident!("ordered_at"), cutoff + Duration::seconds(1)),
    )
    .await;
    exec(
        &shop.db.pool,
        Update::new(ident!("customers"), Condition::eq(ident!("id"), c(4).id))
            .set(ident!("created_at"), cutoff + Duration::seconds(1)),
    )
    .await;

    let reasons = Reasons::default();
    let chain = erasure::standard_chain::<DB>()
        .register(999, reasons.clone())
        .build()
        .expect("chain");
    let job = erasure::jobs::InactiveAccounts::new(chain, Default::default(), after);
    let summary = JobRunner::new()
        .clock(FixedClock(now()))
        .batch_size(3)
        .run(&shop.db.pool, &job, |_| {})
        .await
        .expect("job");
    assert_eq!(summary.rows, 7, "{summary}");
    let reasons = reasons.0.lock().expect("lock").clone();
    assert_eq!(reasons.len(), 7);
    assert!(reasons.iter().all(|r| *r == Reason::Retention));
    for i in 0..10 {
        let stays = [2, 3, 4].contains(&i);
        let found = shop.residue(&c(i).needles()).await;
        if stays {
            assert!(
                !found.hits.is_empty(),
                "customer index {i} is active and must stay"
            );
        } else {
            support::assert_clean(&found);
        }
    }
    let kept = owned_rows(
        &shop.seed,
        &shop.dump().await,
        "orders",
        Owner::Customer(c(0).id),
    );
    assert!(
        kept.iter().all(|o| truthy(o.get("to_be_deleted"))),
        "their orders are kept, marked"
    );
}

/// A batch of the inactive-accounts job takes no account that would end past its time: with no
/// time at all, each account is a batch of its own (where the batch size would take all ten),
/// and every one is erased.
async fn inactive_accounts_batches_close_when_their_time_is_up<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(10).shape(Shape::bare()).guests(0)).await;
    let after = Period::months(36);
    let old = after.before(now()) - Duration::days(1);
    for (table, column) in [
        (ident!("customers"), ident!("created_at")),
        (ident!("users"), ident!("last_login_at")),
        (ident!("orders"), ident!("ordered_at")),
    ] {
        exec(
            &shop.db.pool,
            Update::new(table, Condition::always()).set(column, old),
        )
        .await;
    }
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let job = erasure::jobs::InactiveAccounts::new(chain, Default::default(), after)
        .batch_time(std::time::Duration::ZERO);
    let summary = JobRunner::new()
        .clock(FixedClock(now()))
        .batch_size(100)
        .run(&shop.db.pool, &job, |_| {})
        .await
        .expect("job");
    assert_eq!(
        (summary.rows, summary.batches, summary.failed),
        (10, 10, 0),
        "{summary}"
    );
    for i in 0..10 {
        support::assert_clean(&shop.residue(&shop.seed.customer(i).needles()).await);
    }
}

backend_tests!(
    inactive_accounts_batches_close_when_their_time_is_up,
    order_purge_honours_retention_and_excluded_statuses_at_the_boundaries,
    basket_purge_deletes_invalid_baskets_and_their_items,
    retention_rules_delete_or_anonymize_at_the_boundary,
    inactive_accounts_are_erased_through_the_chain,
);
