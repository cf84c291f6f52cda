//! Each standard handler on its own: what it changes, what it must not change, a subject with
//! nothing in its area, and idempotency (a second run changes nothing and counts zero).

mod support;

use std::collections::BTreeSet;

use erasure::position::{
    ALERTS, B2B_ADMIN_GUARD, BASKET, CASHBACK, CUSTOMER, GIFT_CARD, ORDER, PROMOTION, RECURRING,
    WISHLIST,
};
use erasure::{Action, Chain, DeletionHandler, Report, StandardMappings, Subject, Value};
use erasure_testkit::dump::{Change, Dump};
use erasure_testkit::seed::Count;
use erasure_testkit::{Owner, SeedConfig, Shape, TestBackend, TestDb};
use support::{Shop, backend_tests, owned_rows, row, rows, truthy};

/// A chain holding only the standard handler at `position`.
fn only<DB: TestBackend>(position: u32) -> Chain<DB> {
    let (_, handler) = erasure::standard_handlers::<DB>(&StandardMappings::default())
        .into_iter()
        .find(|(p, _)| *p == position)
        .expect("a standard position");
    Chain::builder()
        .register_boxed(position, handler)
        .build()
        .expect("chain")
}

/// Runs the handler at `position` alone for `subject` and checks what every handler must
/// satisfy; returns the report and the dumps before and after.
async fn run_alone<DB: TestBackend>(
    shop: &Shop<DB>,
    position: u32,
    subject: Subject,
    owner: Owner,
) -> (Report, Dump, Dump) {
    let chain = only::<DB>(position);
    let footprint: BTreeSet<String> = chain
        .footprint()
        .tables()
        .iter()
        .map(|t| t.table.as_str().to_owned())
        .collect();
    let before = shop.dump().await;
    let report = shop.erase(&chain, subject.clone()).await;
    let after = shop.dump().await;

    // Only the subject's rows, only in tables the handler declares.
    shop.assert_only_owned_changed(&before, &after, &[owner]);
    for change in before.changes(&after) {
        assert!(
            footprint.contains(&change.table),
            "{} is outside the footprint",
            change.table
        );
    }
    // The report counts exactly the rows that changed, table by table.
    let outcome = &report.handlers[0].outcome;
    for table in &footprint {
        let removed = before
            .changes(&after)
            .iter()
            .filter(|c| &c.table == table && c.change == Change::Removed)
            .count() as u64;
        let changed = before
            .changes(&after)
            .iter()
            .filter(|c| &c.table == table && c.change == Change::Changed)
            .count() as u64;
        assert_eq!(
            outcome.rows(table, &Action::Deleted),
            removed,
            "{table} deleted"
        );
        let written = outcome
            .effects()
            .iter()
            .filter(|e| e.table.as_str() == table && e.action != Action::Deleted)
            .map(|e| e.rows)
            .max()
            .unwrap_or(0);
        assert_eq!(written, changed, "{table} rows written");
    }

    // Idempotent: a second run changes nothing and counts zero.
    let again = shop.erase(&chain, subject).await;
    assert!(again.is_noop(), "second run:\n{again}");
    assert_eq!(after.diff(&shop.dump().await), None);
    (report, before, after)
}

fn typical(customers: u64) -> SeedConfig {
    SeedConfig::new(customers).shape(Shape::typical())
}

/// A customer whose shape has nothing in any area but the account itself.
fn with_empty_customer(config: SeedConfig, index: u64) -> SeedConfig {
    let zero = Count::exactly(0);
    config.with_override(
        index,
        Shape {
            addresses: Count::exactly(1),
            baskets: zero,
            basket_items: zero,
            wishlists: zero,
            wishlist_items: zero,
            orders: zero,
            order_lines: Count::exactly(1),
            recurring_orders: zero,
            referral_codes: zero,
            promotion_usages: zero,
            gift_cards: zero,
            cashbacks: zero,
            alerts: zero,
        },
    )
}

async fn a_subject_with_nothing_in_an_area_counts_zero<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, with_empty_customer(typical(12), 4)).await;
    let empty = shop.seed.customer(4);
    for (position, _) in erasure::standard_handlers::<DB>(&StandardMappings::default()) {
        if position == CUSTOMER {
            continue; // every customer has an account
        }
        let before = shop.dump().await;
        let report = shop.erase(&only::<DB>(position), empty.subject()).await;
        assert!(report.is_noop(), "{position}: {report}");
        assert_eq!(before.diff(&shop.dump().await), None, "{position}");
    }
}

async fn b2b_guard_removes_role_assignments<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, typical(40)).await;
    let c = shop.customer_where(|c| c.is_b2b());
    let (report, before, after) =
        run_alone(&shop, B2B_ADMIN_GUARD, c.subject(), Owner::Customer(c.id)).await;
    assert_eq!(report.totals().deleted, 3);
    assert_eq!(
        owned_rows(&shop.seed, &before, "b2b_roles", Owner::Customer(c.id)).len(),
        3
    );
    assert!(owned_rows(&shop.seed, &after, "b2b_roles", Owner::Customer(c.id)).is_empty());
    // A private customer has no roles: nothing to do, nothing refused.
    let p = shop.customer_where(|c| !c.is_b2b());
    assert!(
        shop.erase(&only::<DB>(B2B_ADMIN_GUARD), p.subject())
            .await
            .is_noop()
    );
}

async fn baskets_are_marked_invalid_and_unlinked<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, typical(12)).await;
    let c = shop.seed.customer(2);
    let (report, before, after) =
        run_alone(&shop, BASKET, c.subject(), Owner::Customer(c.id)).await;
    assert_eq!(report.totals().deferred, 5);
    for basket in owned_rows(&shop.seed, &after, "baskets", Owner::Customer(c.id)) {
        assert_eq!(basket["status"], Value::from("INVALID"));
        assert!(basket["customer_id"].is_null() && basket["user_id"].is_null());
        assert!(!basket["invalidated_at"].is_null());
    }
    // Items stay until the purge job.
    assert_eq!(
        owned_rows(&shop.seed, &before, "basket_items", Owner::Customer(c.id)),
        owned_rows(&shop.seed, &after, "basket_items", Owner::Customer(c.id))
    );
}

async fn wishlists_and_items_are_deleted<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, typical(12)).await;
    let c = shop.seed.customer(3);
    let (report, _, after) = run_alone(&shop, WISHLIST, c.subject(), Owner::Customer(c.id)).await;
    let outcome = &report.handlers[0].outcome;
    assert_eq!(outcome.rows("wishlists", &Action::Deleted), 3);
    assert_eq!(outcome.rows("wishlist_items", &Action::Deleted), 15);
    assert!(owned_rows(&shop.seed, &after, "wishlist_items", Owner::Customer(c.id)).is_empty());
}

async fn unredeemed_cashbacks_go_and_redeemed_ones_stay_anonymized<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let shop = Shop::new(db, typical(12)).await;
    let c = shop.seed.customer(5);
    let owner = Owner::Customer(c.id);
    let (report, before, after) = run_alone(&shop, CASHBACK, c.subject(), owner).await;
    let redeemed: Vec<_> = owned_rows(&shop.seed, &before, "cashbacks", owner)
        .into_iter()
        .filter(|r| r["status"] == Value::from("REDEEMED"))
        .collect();
    let kept = owned_rows(&shop.seed, &after, "cashbacks", owner);
    assert_eq!(
        kept.len(),
        redeemed.len(),
        "exactly the redeemed cashbacks stay"
    );
    assert!(!kept.is_empty() && kept.len() < 3);
    for k in &kept {
        assert_eq!(k["status"], Value::from("REDEEMED"));
        for col in ["account_holder", "iban", "customer_id", "user_id"] {
            assert!(k[col].is_null(), "{col}");
        }
        let old = redeemed
            .iter()
            .find(|r| r["id"] == k["id"])
            .expect("same row");
        assert_eq!(
            k["amount_cents"], old["amount_cents"],
            "the amount is an accounting fact"
        );
    }
    let codes = owned_rows(&shop.seed, &after, "cashback_codes", owner);
    assert_eq!(codes.len(), kept.len(), "only redeemed codes stay");
    assert!(
        codes
            .iter()
            .all(|c| c["email"].is_null() && !c["redeemed_at"].is_null())
    );
    let outcome = &report.handlers[0].outcome;
    assert!(outcome.effects().iter().any(
        |e| matches!(&e.action, Action::Retained { reason } if reason.contains("accounting"))
    ));
}

async fn orders_are_anonymized_and_kept<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, typical(12)).await;
    let c = shop.seed.customer(1);
    let owner = Owner::Customer(c.id);
    let (report, before, after) = run_alone(&shop, ORDER, c.subject(), owner).await;
    let outcome = &report.handlers[0].outcome;
    assert_eq!(outcome.rows("orders", &Action::Anonymized), 20);
    assert_eq!(outcome.rows("orders", &Action::Deferred), 20);
    assert_eq!(outcome.rows("order_addresses", &Action::Anonymized), 40);
    for order in owned_rows(&shop.seed, &after, "orders", owner) {
        for col in [
            "email",
            "phone",
            "ip_address",
            "notes",
            "customer_id",
            "user_id",
        ] {
            assert!(order[col].is_null(), "orders.{col}");
        }
        assert!(truthy(order.get("to_be_deleted")));
        let old = row(&before, "orders", order["id"].as_i64().expect("id")).expect("before");
        for col in [
            "total_cents",
            "ordered_at",
            "status",
            "currency",
            "order_no",
        ] {
            assert_eq!(order[col], old[col], "orders.{col} is kept");
        }
    }
    for address in owned_rows(&shop.seed, &after, "order_addresses", owner) {
        for col in [
            "first_name",
            "last_name",
            "street",
            "city",
            "postcode",
            "phone",
            "email",
        ] {
            assert!(address[col].is_null(), "order_addresses.{col}");
        }
        assert!(!address["kind"].is_null() && !address["country"].is_null());
    }
    assert_eq!(
        owned_rows(&shop.seed, &before, "order_lines", owner),
        owned_rows(&shop.seed, &after, "order_lines", owner)
    );
}

async fn recurring_orders_are_deleted<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, typical(12)).await;
    let c = shop.seed.customer(6);
    let (report, _, _) = run_alone(&shop, RECURRING, c.subject(), Owner::Customer(c.id)).await;
    let outcome = &report.handlers[0].outcome;
    assert_eq!(outcome.rows("recurring_orders", &Action::Deleted), 2);
    assert_eq!(outcome.rows("recurring_order_lines", &Action::Deleted), 4);
}

async fn promotion_codes_and_usages_lose_name_and_email<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, typical(12)).await;
    let c = shop.seed.customer(7);
    let owner = Owner::Customer(c.id);
    let (report, _, after) = run_alone(&shop, PROMOTION, c.subject(), owner).await;
    assert_eq!(
        report.handlers[0]
            .outcome
            .rows("promotion_code_usages", &Action::Anonymized),
        5
    );
    assert_eq!(
        report.handlers[0]
            .outcome
            .rows("promotion_codes", &Action::Anonymized),
        1
    );
    for table in ["promotion_codes", "promotion_code_usages"] {
        for r in owned_rows(&shop.seed, &after, table, owner) {
            for col in ["name", "email", "customer_id", "user_id"] {
                assert!(r[col].is_null(), "{table}.{col}");
            }
        }
    }
    // Campaign codes are shared and untouched.
    assert_eq!(
        rows(&after, "promotion_codes")
            .iter()
            .filter(|r| r["code"]
                .as_str()
                .is_some_and(|c| c.starts_with("CAMPAIGN")))
            .count(),
        20
    );
}

async fn gift_cards_keep_their_balance<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, typical(12)).await;
    let c = shop.seed.customer(8);
    let owner = Owner::Customer(c.id);
    let (report, before, after) = run_alone(&shop, GIFT_CARD, c.subject(), owner).await;
    assert_eq!(report.totals().anonymized, 2);
    for card in owned_rows(&shop.seed, &after, "gift_cards", owner) {
        let old = row(&before, "gift_cards", card["id"].as_i64().expect("id")).expect("before");
        assert_eq!(card["balance_cents"], old["balance_cents"]);
        assert_eq!(card["code"], old["code"]);
        for col in ["customer_id", "user_id", "holder_name", "holder_email"] {
            assert!(card[col].is_null(), "{col}");
        }
    }
}

async fn alerts_are_deleted_also_for_guests<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, typical(12).guests(3)).await;
    let c = shop.seed.customer(9);
    let (report, _, _) = run_alone(&shop, ALERTS, c.subject(), Owner::Customer(c.id)).await;
    assert_eq!(report.totals().deleted, 10);
    let g = shop.seed.guest(1);
    let (report, _, _) = run_alone(&shop, ALERTS, g.subject(), Owner::Guest(1)).await;
    assert_eq!(report.totals().deleted, 10);
}

async fn the_customer_handler_deletes_addresses_users_and_customer<DB: TestBackend>(
    db: TestDb<DB>,
) {
    // Alone, it can only succeed for a customer with nothing but the account.
    let shop = Shop::new(db, with_empty_customer(typical(12), 4)).await;
    let c = shop.seed.customer(4);
    let (report, _, after) = run_alone(&shop, CUSTOMER, c.subject(), Owner::Customer(c.id)).await;
    let outcome = &report.handlers[0].outcome;
    assert_eq!(outcome.rows("customers", &Action::Deleted), 1);
    assert_eq!(
        outcome.rows("users", &Action::Deleted),
        c.users.len() as u64
    );
    assert_eq!(outcome.rows("addresses", &Action::Deleted), 1);
    assert!(row(&after, "customers", c.id).is_none());

    // With data left in other tables, the foreign keys stop it and nothing changes.
    let other = shop.seed.customer(2);
    let before = shop.dump().await;
    let err = only::<DB>(CUSTOMER)
        .erase(&shop.db.pool, &erasure::Erasure::new(other.subject()))
        .await
        .expect_err("referenced rows remain");
    assert_eq!(err.position(), Some(CUSTOMER));
    let kind = match err.handler_error() {
        Some(erasure::HandlerError::Database(db)) => db.kind(),
        _ => None,
    };
    assert_eq!(
        kind,
        Some(sqlx::error::ErrorKind::ForeignKeyViolation),
        "{err}"
    );
    assert_eq!(before.diff(&shop.dump().await), None);
}

async fn the_injected_clock_dates_what_handlers_write<DB: TestBackend>(db: TestDb<DB>) {
    use chrono::TimeZone as _;
    let shop = Shop::new(db, typical(6)).await;
    let now = chrono::Utc
        .with_ymd_and_hms(2031, 2, 3, 4, 5, 6)
        .single()
        .expect("time");
    let chain = erasure::standard_chain::<DB>()
        .clock(erasure::clock::FixedClock(now))
        .build()
        .expect("chain");
    let c = shop.seed.customer(2);
    let report = shop.erase(&chain, c.subject()).await;
    assert_eq!(report.started_at, now);
    let after = shop.dump().await;
    let stamp = |v: &Value| match v {
        Value::Timestamp(t) => *t,
        // SQLite keeps timestamps as text written by sqlx.
        Value::Text(t) => chrono::DateTime::parse_from_rfc3339(t)
            .expect("rfc3339")
            .to_utc(),
        other => panic!("not a timestamp: {other:?}"),
    };
    let baskets = owned_rows(&shop.seed, &after, "baskets", Owner::Customer(c.id));
    let orders = owned_rows(&shop.seed, &after, "orders", Owner::Customer(c.id));
    assert!(!baskets.is_empty() && !orders.is_empty());
    for b in baskets {
        assert_eq!(stamp(&b["invalidated_at"]), now);
    }
    for o in orders {
        assert_eq!(stamp(&o["anonymized_at"]), now);
    }
}

#[test]
fn every_handler_declares_its_footprint_and_mapping_defaults_are_valid() {
    let handlers = erasure::standard_handlers::<sqlx::Sqlite>(&StandardMappings::default());
    let names: Vec<&str> = handlers.iter().map(|(_, h)| h.name()).collect();
    assert_eq!(
        names,
        [
            "b2b-admin-guard",
            "basket-invalidation",
            "wishlist-deletion",
            "cashback",
            "order-anonymization",
            "recurring-orders",
            "promotion-scrubbing",
            "gift-card-unlinking",
            "customer-alerts",
            "customer"
        ]
    );
    for (_, h) in &handlers {
        assert!(
            !h.footprint().tables().is_empty(),
            "{} declares nothing",
            h.name()
        );
        assert!(!h.description().is_empty());
    }
    // The defaults survive a round trip through TOML.
    let text = toml::to_string(&StandardMappings::default()).expect("serialize");
    let back: StandardMappings = toml::from_str(&text).expect("deserialize");
    assert_eq!(back, StandardMappings::default());
}

backend_tests!(
    a_subject_with_nothing_in_an_area_counts_zero,
    b2b_guard_removes_role_assignments,
    baskets_are_marked_invalid_and_unlinked,
    wishlists_and_items_are_deleted,
    unredeemed_cashbacks_go_and_redeemed_ones_stay_anonymized,
    orders_are_anonymized_and_kept,
    recurring_orders_are_deleted,
    promotion_codes_and_usages_lose_name_and_email,
    gift_cards_keep_their_balance,
    alerts_are_deleted_also_for_guests,
    the_customer_handler_deletes_addresses_users_and_customer,
    the_injected_clock_dates_what_handlers_write,
);
