//! The standard chain on a seeded shop of 1,000 customers: nothing of the subject survives,
//! nothing of anyone else changes, and what the law keeps is kept.

mod support;

use erasure::{Erasure, Subject};
use erasure_testkit::{Owner, SeedConfig, SeededCustomer, TestBackend, TestDb};
use support::{Shop, assert_clean, backend_tests, owned_rows, row, truthy};

const SHOP: u64 = 1_000;

/// Erases `subject`, then checks residue, other customers' rows and the kept order facts.
async fn erase_and_check<DB: TestBackend>(
    shop: &Shop<DB>,
    subject: Subject,
    owner: Owner,
    needles: &[erasure_testkit::Needle],
) -> erasure::Report {
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let before = shop.dump().await;
    assert!(
        !shop.residue(needles).await.hits.is_empty(),
        "the subject has data before"
    );

    let report = shop.erase(&chain, subject).await;
    assert!(!report.is_noop(), "{report}");

    let after = shop.dump().await;
    assert_clean(&shop.residue(needles).await);
    shop.assert_only_owned_changed(&before, &after, &[owner]);

    // Orders are tax records: amounts, dates, status and lines stay; they are marked for purge.
    let orders = owned_rows(&shop.seed, &before, "orders", owner);
    for order in &orders {
        let id = order["id"].as_i64().expect("id");
        let kept = row(&after, "orders", id).expect("the order is kept");
        for column in [
            "order_no",
            "total_cents",
            "currency",
            "ordered_at",
            "status",
        ] {
            assert_eq!(kept[column], order[column], "orders.{column} of {id}");
        }
        assert!(
            truthy(kept.get("to_be_deleted")),
            "order {id} is marked to_be_deleted"
        );
        assert!(kept["customer_id"].is_null() && kept["user_id"].is_null());
    }
    let lines_before = owned_rows(&shop.seed, &before, "order_lines", owner);
    let lines_after = owned_rows(&shop.seed, &after, "order_lines", owner);
    assert_eq!(lines_before, lines_after, "order lines are kept unchanged");
    assert_eq!(
        report.handler(30).map(|h| h.outcome.totals().deferred),
        Some(orders.len() as u64)
    );
    report
}

async fn a_private_customer_is_erased_completely<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, SHOP).await;
    let c = shop.customer_where(|c| {
        !c.is_b2b() && c.orders >= 3 && c.cashbacks >= 2 && c.addresses.len() >= 2
    });
    let report = erase_and_check(&shop, c.subject(), Owner::Customer(c.id), &c.needles()).await;
    assert_eq!(
        report
            .handler(100)
            .map(|h| h.outcome.rows("customers", &erasure::Action::Deleted)),
        Some(1)
    );
}

async fn a_b2b_customer_is_erased_completely<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, SHOP).await;
    let c = shop.customer_where(|c| c.is_b2b() && c.orders >= 2);
    let report = erase_and_check(&shop, c.subject(), Owner::Customer(c.id), &c.needles()).await;
    assert_eq!(
        report.handler(5).map(|h| h.outcome.totals().deleted),
        Some(3),
        "three role assignments"
    );
    assert_eq!(
        report
            .handler(100)
            .map(|h| h.outcome.rows("users", &erasure::Action::Deleted)),
        Some(3)
    );
}

async fn a_guest_is_erased_by_email<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, SHOP).await;
    let g = shop.seed.guest(7);
    let report = erase_and_check(&shop, g.subject(), Owner::Guest(7), &g.needles()).await;
    assert_eq!(report.subject_kind, erasure::SubjectKind::Guest);
    // Only the handlers holding guest data did anything.
    for h in &report.handlers {
        if h.outcome.totals().sum() > 0 {
            assert!(
                [30, 50, 80].contains(&h.position),
                "{} touched guest data",
                h.name
            );
        }
    }
}

async fn erasing_twice_is_a_no_op<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, 100).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    for subject in [
        shop.customer_where(|c| c.orders > 2 && !c.is_b2b())
            .subject(),
        shop.seed.guest(1).subject(),
    ] {
        let first = shop.erase(&chain, subject.clone()).await;
        assert!(!first.is_noop());
        let after_first = shop.dump().await;
        let second = shop.erase(&chain, subject).await;
        assert!(second.is_noop(), "second run must count zero:\n{second}");
        assert_eq!(after_first.diff(&shop.dump().await), None);
    }
}

fn sole_admin(c: &SeededCustomer) -> bool {
    c.is_b2b() && c.users[0].admin && !c.users[1].admin && !c.users[2].admin
}

async fn the_only_admin_of_a_b2b_customer_is_refused<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, 200).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let c = shop.customer_where(sole_admin);
    let before = shop.dump().await;
    for subject in [
        Subject::user(c.id, c.users[0].id),
        // Erasing every admin at once is refused too.
        Subject::users(c.id, [c.users[0].id, c.users[1].id]).expect("users"),
    ] {
        let err = chain
            .erase(&shop.db.pool, &Erasure::new(subject))
            .await
            .expect_err("sole admin");
        assert!(err.is_refusal(), "{err:?}");
        assert_eq!(err.position(), Some(5));
        assert_eq!(
            err.to_string(),
            format!(
                "handler `b2b-admin-guard` at position 5 refused the erasure: {}",
                erasure::b2b::SOLE_ADMIN
            )
        );
        assert_eq!(
            before.diff(&shop.dump().await),
            None,
            "a refusal changes nothing"
        );
    }
    // The whole customer may go: then nobody is left to administer.
    let report = shop.erase(&chain, c.subject()).await;
    assert!(!report.is_noop());
}

async fn one_user_of_a_b2b_customer_is_erased_and_the_rest_stays<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, 200).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let c = shop.customer_where(|c| sole_admin(c) && c.orders >= 3);
    let before = shop.dump().await;
    let report = shop.erase(&chain, Subject::user(c.id, c.users[2].id)).await;
    assert!(!report.is_noop());
    let after = shop.dump().await;

    assert_clean(&shop.residue(&c.user_needles(2)).await);
    shop.assert_only_owned_changed(&before, &after, &[Owner::Customer(c.id)]);
    assert!(
        row(&after, "customers", c.id).is_some(),
        "the customer stays"
    );
    for u in [0, 1] {
        let user = row(&after, "users", c.users[u].id).expect("other users stay");
        assert_eq!(row(&before, "users", c.users[u].id), Some(user));
    }
    assert!(row(&after, "users", c.users[2].id).is_none());
    // The other users' own data is untouched: every value of theirs is still where it was.
    for u in [0, 1] {
        let before_scan = {
            let mut conn = shop.db.pool.acquire().await.expect("conn");
            erasure_testkit::residue::scan::<DB>(&mut conn, &c.user_needles(u))
                .await
                .expect("scan")
        };
        for needle in c.user_needles(u) {
            assert!(
                before_scan.hits.iter().any(|h| h.label == needle.label),
                "{} was lost with another user",
                needle.label
            );
        }
    }
    // Rows that changed are the erased user's: none of them belonged to another user.
    for change in before.changes(&after) {
        let id: i64 = change.key.parse().expect("id");
        let old = row(&before, &change.table, id);
        if let Some(user) = old.and_then(|o| o.get("user_id").and_then(erasure::Value::as_i64)) {
            assert_eq!(
                user, c.users[2].id,
                "{} {id} of another user changed",
                change.table
            );
        }
    }
}

async fn an_admin_may_go_when_another_admin_stays<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, 200).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let c = shop.customer_where(|c| c.is_b2b() && c.users[0].admin && c.users[1].admin);
    let report = shop.erase(&chain, Subject::user(c.id, c.users[0].id)).await;
    assert_eq!(
        report.handler(5).map(|h| h.outcome.totals().deleted),
        Some(1)
    );
    assert_clean(&shop.residue(&c.user_needles(0)).await);
}

async fn a_shop_without_recurring_orders_switches_the_handler_off<DB: TestBackend>(db: TestDb<DB>) {
    let config = SeedConfig::new(20).shape(erasure_testkit::Shape {
        recurring_orders: erasure_testkit::seed::Count::exactly(0),
        ..erasure_testkit::Shape::typical()
    });
    let shop = Shop::new(db, config).await;
    let chain = erasure::standard_chain::<DB>()
        .settings(erasure::Settings::default().with_feature(erasure::recurring::FEATURE, false))
        .build()
        .expect("chain");
    let c = shop.seed.customer(3);
    let report = shop.erase(&chain, c.subject()).await;
    let recurring = report.handler(40).expect("recurring handler ran");
    assert_eq!(recurring.outcome.totals().sum(), 0);
    assert_eq!(recurring.statements, 0);
    assert!(recurring.outcome.notes().any(|n| n.contains("disabled")));
    assert_clean(&shop.residue(&c.needles()).await);
}

backend_tests!(
    a_private_customer_is_erased_completely,
    a_b2b_customer_is_erased_completely,
    a_guest_is_erased_by_email,
    erasing_twice_is_a_no_op,
    the_only_admin_of_a_b2b_customer_is_refused,
    one_user_of_a_b2b_customer_is_erased_and_the_rest_stays,
    an_admin_may_go_when_another_admin_stays,
    a_shop_without_recurring_orders_switches_the_handler_off,
);
