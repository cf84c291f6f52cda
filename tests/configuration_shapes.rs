//! Shops of real shapes, served by a configuration file alone, on every backend: baskets that
//! hold personal columns, `NOT NULL` link columns (a global guest marker, an explicit `unlink`
//! value, rows deleted instead of unlinked), guests reached through a parent by a rule, rules
//! that defer (and their purge jobs), rules in receipts, a rule at a taken position, and the
//! requests' account flags derived from the customer mapping.
//!
//! Every table here is created by the test (the reference schema's tables stay empty), so the
//! residue scan covers exactly what the configuration maps.

mod support;

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use erasure::clock::FixedClock;
use erasure::config::Configuration;
use erasure::job::JobRunner;
use erasure::sql::{Condition, Insert, Select, Sql};
use erasure::{Action, Backend, Dialect, PseudonymKey, Subject, Value, ident};
use erasure_testkit::{Needle, TestBackend, TestDb};
use support::{
    assert_clean, backend_tests, configured_chain, count, exec, residue_in, rows_by_key,
};

/// DDL per dialect.
fn ddl<DB: Backend>(sqlite: &'static str, postgres: &'static str, mysql: &'static str) -> Sql {
    Sql::new(match DB::DIALECT {
        Dialect::Sqlite => sqlite,
        Dialect::Postgres => postgres,
        Dialect::MySql => mysql,
    })
}

/// The rows of `table` whose key is not in `keys`.
fn except(rows: &BTreeMap<i64, Vec<Value>>, keys: &[i64]) -> BTreeMap<i64, Vec<Value>> {
    rows.iter()
        .filter(|(k, _)| !keys.contains(k))
        .map(|(k, v)| (*k, v.clone()))
        .collect()
}

fn key() -> PseudonymKey {
    PseudonymKey::from_hex("00112233445566778899aabbccddeeff").expect("key")
}

/// Three people: `(name, email, phone)`. The customers have ids 1 and 2; the guest has none.
const ADA: (&str, &str, &str) = (
    "Ada Erasedname",
    "ada.erased@example.test",
    "+49 151 1111 001",
);
const KIM: (&str, &str, &str) = ("Kim Keptname", "kim.kept@example.test", "+49 151 2222 002");
const GUS: (&str, &str, &str) = (
    "Gus Guestname",
    "gus.guest@example.test",
    "+49 151 3333 003",
);

fn needles(person: (&str, &str, &str)) -> Vec<Needle> {
    vec![
        Needle::new("name", person.0),
        Needle::new("email", person.1),
        Needle::new("phone", person.2),
    ]
}

/// The shop of the first test: customers (their logins in the same table), quotes with items,
/// orders without a deletion mark and their key-value meta, gift cards and coupon usages, every
/// link column `NOT NULL` with `0` for "no account".
async fn create_shop<DB: Backend>(pool: &sqlx::Pool<DB>) {
    for sql in [
        ddl::<DB>(
            "CREATE TABLE shop_customers (id BIGINT PRIMARY KEY, email TEXT NOT NULL, \
             name TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1)",
            "CREATE TABLE shop_customers (id BIGINT PRIMARY KEY, email TEXT NOT NULL, \
             name TEXT NOT NULL, active BOOLEAN NOT NULL DEFAULT TRUE)",
            "CREATE TABLE shop_customers (id BIGINT PRIMARY KEY, email VARCHAR(255) NOT NULL, \
             name VARCHAR(255) NOT NULL, active BOOLEAN NOT NULL DEFAULT TRUE)",
        ),
        ddl::<DB>(
            "CREATE TABLE quote (entity_id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL \
             DEFAULT 0, customer_email TEXT, customer_name TEXT, status TEXT NOT NULL)",
            "CREATE TABLE quote (entity_id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL \
             DEFAULT 0, customer_email TEXT, customer_name TEXT, status TEXT NOT NULL)",
            "CREATE TABLE quote (entity_id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL \
             DEFAULT 0, customer_email VARCHAR(255), customer_name VARCHAR(255), \
             status VARCHAR(32) NOT NULL)",
        ),
        ddl::<DB>(
            "CREATE TABLE quote_item (id BIGINT PRIMARY KEY, quote_id BIGINT NOT NULL, sku TEXT)",
            "CREATE TABLE quote_item (id BIGINT PRIMARY KEY, quote_id BIGINT NOT NULL, sku TEXT)",
            "CREATE TABLE quote_item (id BIGINT PRIMARY KEY, quote_id BIGINT NOT NULL, \
             sku VARCHAR(64))",
        ),
        ddl::<DB>(
            "CREATE TABLE sales_order (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL \
             DEFAULT 0, email TEXT, name TEXT, status TEXT NOT NULL, ordered_at TEXT NOT NULL)",
            "CREATE TABLE sales_order (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL \
             DEFAULT 0, email TEXT, name TEXT, status TEXT NOT NULL, \
             ordered_at TIMESTAMPTZ NOT NULL)",
            "CREATE TABLE sales_order (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL \
             DEFAULT 0, email VARCHAR(255), name VARCHAR(255), status VARCHAR(32) NOT NULL, \
             ordered_at DATETIME(6) NOT NULL)",
        ),
        ddl::<DB>(
            "CREATE TABLE order_meta (id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL, \
             meta_key TEXT NOT NULL, meta_value TEXT)",
            "CREATE TABLE order_meta (id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL, \
             meta_key TEXT NOT NULL, meta_value TEXT)",
            "CREATE TABLE order_meta (id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL, \
             meta_key VARCHAR(64) NOT NULL, meta_value VARCHAR(255))",
        ),
        ddl::<DB>(
            "CREATE TABLE gift_card (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             holder TEXT, balance BIGINT NOT NULL)",
            "CREATE TABLE gift_card (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             holder TEXT, balance BIGINT NOT NULL)",
            "CREATE TABLE gift_card (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             holder VARCHAR(255), balance BIGINT NOT NULL)",
        ),
        ddl::<DB>(
            "CREATE TABLE coupon_usage (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             email TEXT NOT NULL, code TEXT NOT NULL)",
            "CREATE TABLE coupon_usage (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             email TEXT NOT NULL, code TEXT NOT NULL)",
            "CREATE TABLE coupon_usage (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             email VARCHAR(255) NOT NULL, code VARCHAR(32) NOT NULL)",
        ),
    ] {
        exec(pool, sql).await;
    }
    // Row n of every table is person n: 1 Ada, 2 Kim (customers 1 and 2), 3 Gus (a guest).
    let people = [(1_i64, 1_i64, ADA), (2, 2, KIM), (3, 0, GUS)];
    let mut customers = Insert::new(
        ident!("shop_customers"),
        [ident!("id"), ident!("email"), ident!("name")],
    );
    let mut quotes = Insert::new(
        ident!("quote"),
        [
            ident!("entity_id"),
            ident!("customer_id"),
            ident!("customer_email"),
            ident!("customer_name"),
            ident!("status"),
        ],
    );
    let mut items = Insert::new(
        ident!("quote_item"),
        [ident!("id"), ident!("quote_id"), ident!("sku")],
    );
    let mut orders = Insert::new(
        ident!("sales_order"),
        [
            ident!("id"),
            ident!("customer_id"),
            ident!("email"),
            ident!("name"),
            ident!("status"),
            ident!("ordered_at"),
        ],
    );
    let mut meta = Insert::new(
        ident!("order_meta"),
        [
            ident!("id"),
            ident!("order_id"),
            ident!("meta_key"),
            ident!("meta_value"),
        ],
    );
    let mut cards = Insert::new(
        ident!("gift_card"),
        [
            ident!("id"),
            ident!("customer_id"),
            ident!("holder"),
            ident!("balance"),
        ],
    );
    let mut coupons = Insert::new(
        ident!("coupon_usage"),
        [
            ident!("id"),
            ident!("customer_id"),
            ident!("email"),
            ident!("code"),
        ],
    );
    let ordered = Utc
        .with_ymd_and_hms(2024, 1, 15, 10, 0, 0)
        .single()
        .expect("time");
    for (n, customer, (who, email, phone)) in people {
        if customer != 0 {
            customers.row([n.into(), email.into(), who.into()]);
            cards.row([n.into(), customer.into(), who.into(), 50.into()]);
        }
        quotes.row([
            n.into(),
            customer.into(),
            email.into(),
            who.into(),
            "ACTIVE".into(),
        ]);
        items.row([n.into(), n.into(), "SKU-1".into()]);
        orders.row([
            n.into(),
            customer.into(),
            email.into(),
            who.into(),
            "COMPLETE".into(),
            ordered.into(),
        ]);
        for (k, (meta_key, value)) in [
            ("_billing_phone", phone),
            ("_billing_email", email),
            ("_order_total", "42.00"),
        ]
        .into_iter()
        .enumerate()
        {
            let id = (n - 1) * 3 + i64::try_from(k).expect("small") + 1;
            meta.row([id.into(), n.into(), meta_key.into(), value.into()]);
        }
        coupons.row([n.into(), customer.into(), email.into(), "WELCOME".into()]);
    }
    for insert in [customers, quotes, items, orders, meta, cards, coupons] {
        exec(pool, insert.to_sql()).await;
    }
}

/// The configuration of the first test: every standard handler that fits, mapped; the rest
/// left out; one rule for the order meta.
const SHOP: &str = r#"
[chain]
disable = ["b2b-admin-guard", "wishlist-deletion", "cashback", "recurring-orders", "customer-alerts"]

[mappings]
guest_marker = 0

[mappings.customer]
table = "shop_customers"
id = "id"
users = { table = "shop_customers", id = "id", customer = "id", email = "email" }
addresses = []

[mappings.basket]
table = "quote"
id = "entity_id"
subject = { customer = "customer_id", email = "customer_email" }
status = "status"
invalid_status = "INVALID"
invalidated_at = ""
items = { table = "quote_item", parent = "quote_id" }
anonymize = { customer_email = "null", customer_name = "null" }

[mappings.order]
table = "sales_order"
id = "id"
subject = { customer = "customer_id", email = "email" }
anonymize = { email = "null", name = "null" }
to_be_deleted = ""
anonymized_at = ""
children = []
lines = []

[[mappings.promotion.tables]]
table = "coupon_usage"
subject = { customer = "customer_id", email = "email" }
anonymize = {}
delete = true

[mappings.giftcard]
table = "gift_card"
subject = { customer = "customer_id", unlink = -1 }
anonymize = { holder = "null" }

[[rules]]
name = "order-meta"
position = 28
table = "order_meta"
parent = { table = "sales_order", id = "id", column = "order_id" }
subject = { customer = "customer_id", email = "email" }
where = { meta_key = ["_billing_phone", "_billing_email"] }
action = "anonymize"
anonymize = { meta_value = "null" }
key = "id"

[jobs.order_purge]
children = [{ table = "order_meta", parent = "order_id" }]
"#;

const SHOP_TABLES: [&str; 7] = [
    "shop_customers",
    "quote",
    "quote_item",
    "sales_order",
    "order_meta",
    "gift_card",
    "coupon_usage",
];

/// A shop of real shapes by configuration alone: deferred quotes lose their personal columns at
/// once (`[mappings.basket] anonymize`), `NOT NULL` links are unlinked to the global
/// `guest_marker` (quotes, orders) or to an explicit `unlink = -1` (gift cards), coupon usages
/// are deleted (`delete = true`), and a rule clears the order meta of a customer's and of a
/// guest's orders through the orders. Nothing of the erased people is left; the other
/// customer's rows are as they were; the purges delete the deferred rows when they are due.
async fn a_shop_of_real_shapes_by_configuration_alone<DB: TestBackend>(db: TestDb<DB>) {
    let pool = &db.pool;
    create_shop(pool).await;
    erasure::ledger::install(pool).await.expect("ledger");
    let config = Configuration::from_toml(SHOP).expect("config");
    let chain = config
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    assert_eq!(chain.positions(), vec![10, 28, 30, 50, 70, 100]);
    let mut conn = pool.acquire().await.expect("conn");
    chain
        .check_schema(&mut conn)
        .await
        .expect("the schema fits");
    drop(conn);
    let mut before = BTreeMap::new();
    for t in SHOP_TABLES {
        before.insert(t, rows_by_key(pool, t).await);
    }
    let kim_hits = residue_in(pool, &needles(KIM)).await.hits;
    assert!(!kim_hits.is_empty());

    // The customer.
    let report = chain
        .erase(pool, &erasure::Erasure::new(Subject::customer(1)))
        .await
        .expect("erasure");
    let of = |name: &str| {
        report
            .handlers
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.outcome.clone())
            .unwrap_or_else(|| panic!("{name} ran"))
    };
    assert_eq!(
        of("basket-invalidation").rows("quote", &Action::Deferred),
        1
    );
    assert_eq!(of("order-meta").rows("order_meta", &Action::Anonymized), 2);
    assert_eq!(
        of("order-anonymization").rows("sales_order", &Action::Deferred),
        1
    );
    assert_eq!(
        of("promotion-scrubbing").rows("coupon_usage", &Action::Deleted),
        1
    );
    assert_eq!(
        of("gift-card-unlinking").rows("gift_card", &Action::Anonymized),
        1
    );
    assert!(of("customer").rows("shop_customers", &Action::Deleted) >= 1);
    let quote = rows_by_key(pool, "quote").await;
    assert_eq!(
        quote[&1],
        vec![
            Value::Int(1),
            Value::Int(0),
            Value::Null,
            Value::Null,
            Value::Text("INVALID".into())
        ],
        "the deferred quote lost its personal columns now, unlinked to the guest marker"
    );
    let order = rows_by_key(pool, "sales_order").await;
    assert_eq!(order[&1][1..4], [Value::Int(0), Value::Null, Value::Null]);
    assert_eq!(order[&1][4..], before["sales_order"][&1][4..]);
    let meta = rows_by_key(pool, "order_meta").await;
    assert_eq!(meta[&1][3], Value::Null);
    assert_eq!(meta[&2][3], Value::Null);
    assert_eq!(
        meta[&3], before["order_meta"][&3],
        "the filter leaves other keys"
    );
    let cards = rows_by_key(pool, "gift_card").await;
    assert_eq!(
        cards[&1],
        vec![Value::Int(1), Value::Int(-1), Value::Null, Value::Int(50)],
        "the explicit unlink value, not the global guest marker"
    );
    assert!(!rows_by_key(pool, "coupon_usage").await.contains_key(&1));
    assert!(!rows_by_key(pool, "shop_customers").await.contains_key(&1));
    assert_eq!(
        count(pool, Select::count(ident!("erasure_deferred"))).await,
        1
    );
    assert_clean(&residue_in(pool, &needles(ADA)).await);

    // The guest: found by email where the customer column holds the guest marker, and the
    // order meta through the guest's order.
    let report = chain
        .erase(
            pool,
            &erasure::Erasure::new(Subject::guest(GUS.1).expect("guest")),
        )
        .await
        .expect("guest erasure");
    let meta_rule = report
        .handlers
        .iter()
        .find(|h| h.name == "order-meta")
        .expect("the rule ran");
    assert_eq!(meta_rule.outcome.rows("order_meta", &Action::Anonymized), 2);
    let quote = rows_by_key(pool, "quote").await;
    assert_eq!(
        quote[&3][1..],
        [
            Value::Int(0),
            Value::Null,
            Value::Null,
            Value::Text("INVALID".into())
        ]
    );
    let meta = rows_by_key(pool, "order_meta").await;
    assert_eq!(
        (meta[&7][3].clone(), meta[&8][3].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(meta[&9], before["order_meta"][&9]);
    assert!(!rows_by_key(pool, "coupon_usage").await.contains_key(&3));
    assert_eq!(
        count(pool, Select::count(ident!("erasure_deferred"))).await,
        2
    );
    assert_clean(&residue_in(pool, &needles(GUS)).await);

    // The other customer's rows are as they were.
    let kim_rows = |t: &str, all: &BTreeMap<i64, Vec<Value>>| {
        let erased: &[i64] = if t == "order_meta" {
            &[1, 2, 3, 7, 8, 9]
        } else {
            &[1, 3]
        };
        except(all, erased)
    };
    for t in SHOP_TABLES {
        assert_eq!(
            kim_rows(t, &rows_by_key(pool, t).await),
            kim_rows(t, &before[t]),
            "{t}"
        );
    }
    assert_eq!(residue_in(pool, &needles(KIM)).await.hits, kim_hits);

    // Years later the purges delete the deferred quotes with their items and the orders of
    // the ledger with their meta, and forget them; the other customer's rows stay.
    let later = Utc
        .with_ymd_and_hms(2040, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    let runner = JobRunner::new().clock(FixedClock(later));
    for job in config.jobs(&chain) {
        runner
            .run(pool, job.as_ref(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("job {}: {e}", job.name()));
    }
    for t in ["quote", "quote_item", "sales_order"] {
        let left: Vec<i64> = rows_by_key(pool, t).await.into_keys().collect();
        assert_eq!(left, vec![2], "{t}");
    }
    let left: Vec<i64> = rows_by_key(pool, "order_meta").await.into_keys().collect();
    assert_eq!(left, vec![4, 5, 6]);
    assert_eq!(
        count(pool, Select::count(ident!("erasure_deferred"))).await,
        0
    );
    for t in SHOP_TABLES {
        assert_eq!(
            kim_rows(t, &rows_by_key(pool, t).await),
            kim_rows(t, &before[t]),
            "{t}"
        );
    }
}

/// A link column declared `NOT NULL` with no value to write: unlinking fails the erasure (and
/// rolls it back), and `delete = true` on the mapping deletes the subject's rows instead.
async fn a_mapping_deletes_the_rows_it_cannot_unlink<DB: TestBackend>(db: TestDb<DB>) {
    let pool = &db.pool;
    exec(
        pool,
        ddl::<DB>(
            "CREATE TABLE gift_card (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             holder TEXT, balance BIGINT NOT NULL)",
            "CREATE TABLE gift_card (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             holder TEXT, balance BIGINT NOT NULL)",
            "CREATE TABLE gift_card (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             holder VARCHAR(255), balance BIGINT NOT NULL)",
        ),
    )
    .await;
    let mut cards = Insert::new(
        ident!("gift_card"),
        [
            ident!("id"),
            ident!("customer_id"),
            ident!("holder"),
            ident!("balance"),
        ],
    );
    cards.row([1.into(), 1.into(), ADA.0.into(), 50.into()]);
    cards.row([2.into(), 2.into(), KIM.0.into(), 70.into()]);
    exec(pool, cards.to_sql()).await;
    let only_gift_cards = r#"
[chain]
disable = ["b2b-admin-guard", "basket-invalidation", "wishlist-deletion", "cashback",
           "order-anonymization", "recurring-orders", "promotion-scrubbing", "customer-alerts",
           "customer"]
[mappings.giftcard]
table = "gift_card"
subject = { customer = "customer_id" }
anonymize = { holder = "null" }
"#;
    let before = rows_by_key(pool, "gift_card").await;
    let unlinking = configured_chain::<DB>(only_gift_cards);
    unlinking
        .erase(pool, &erasure::Erasure::new(Subject::customer(1)))
        .await
        .expect_err("NULL into a NOT NULL column");
    assert_eq!(rows_by_key(pool, "gift_card").await, before, "rolled back");

    let deleting = configured_chain::<DB>(&format!("{only_gift_cards}delete = true\n"));
    let described = deleting.describe();
    let card = described
        .handlers
        .iter()
        .find(|h| h.name == "gift-card-unlinking")
        .expect("handler");
    assert!(card.description.contains("deletes"), "{}", card.description);
    let report = deleting
        .erase(pool, &erasure::Erasure::new(Subject::customer(1)))
        .await
        .expect("erasure");
    assert_eq!(report.totals().deleted, 1);
    let after = rows_by_key(pool, "gift_card").await;
    assert_eq!(after, except(&before, &[1]));
    assert_clean(&residue_in(pool, &needles(ADA)).await);
}

/// Rules that defer: into the ledger (no mark), their personal columns cleared and their link
/// removed at once, deleted by the rule's purge job `purge_after` the deferral; and by a mark,
/// deleted at the job's next run. Other customers' rows stay.
async fn rules_that_defer_are_purged_when_due<DB: TestBackend>(db: TestDb<DB>) {
    let pool = &db.pool;
    for sql in [
        ddl::<DB>(
            "CREATE TABLE reviews (id BIGINT PRIMARY KEY, customer_id BIGINT, author TEXT, \
             email TEXT, body TEXT)",
            "CREATE TABLE reviews (id BIGINT PRIMARY KEY, customer_id BIGINT, author TEXT, \
             email TEXT, body TEXT)",
            "CREATE TABLE reviews (id BIGINT PRIMARY KEY, customer_id BIGINT, \
             author VARCHAR(255), email VARCHAR(255), body VARCHAR(255))",
        ),
        ddl::<DB>(
            "CREATE TABLE chat_logs (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             message TEXT, to_purge INTEGER NOT NULL DEFAULT 0)",
            "CREATE TABLE chat_logs (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             message TEXT, to_purge INTEGER NOT NULL DEFAULT 0)",
            "CREATE TABLE chat_logs (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             message VARCHAR(255), to_purge INTEGER NOT NULL DEFAULT 0)",
        ),
    ] {
        exec(pool, sql).await;
    }
    erasure::ledger::install(pool).await.expect("ledger");
    let mut reviews = Insert::new(
        ident!("reviews"),
        [
            ident!("id"),
            ident!("customer_id"),
            ident!("author"),
            ident!("email"),
            ident!("body"),
        ],
    );
    let mut chats = Insert::new(
        ident!("chat_logs"),
        [ident!("id"), ident!("customer_id"), ident!("message")],
    );
    let mut id = 0_i64;
    for (customer, (who, email, phone)) in [(1_i64, ADA), (2, KIM)] {
        for _ in 0..2 {
            id += 1;
            reviews.row([
                id.into(),
                customer.into(),
                who.into(),
                email.into(),
                "fits well".into(),
            ]);
            chats.row([
                id.into(),
                customer.into(),
                format!("call me on {phone}").into(),
            ]);
        }
    }
    exec(pool, reviews.to_sql()).await;
    exec(pool, chats.to_sql()).await;
    let config = Configuration::from_toml(
        r#"
[chain]
disable = ["b2b-admin-guard", "basket-invalidation", "wishlist-deletion", "cashback",
           "order-anonymization", "recurring-orders", "promotion-scrubbing",
           "gift-card-unlinking", "customer-alerts", "customer"]

[[rules]]
name = "reviews"
position = 60
table = "reviews"
subject = { customer = "customer_id", email = "email" }
action = "defer"
anonymize = { author = "null", email = "null" }
key = "id"
purge_after = "30d"

[[rules]]
name = "chat-logs"
position = 61
table = "chat_logs"
subject = { customer = "customer_id", unlink = 0 }
action = "defer"
anonymize = { message = "null" }
mark = { to_purge = 1 }
key = "id"
"#,
    )
    .expect("config");
    let chain = config
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    let jobs: Vec<String> = config
        .jobs(&chain)
        .iter()
        .map(|j| j.name().to_owned())
        .collect();
    assert!(
        jobs.contains(&"rule-purge:reviews".to_owned())
            && jobs.contains(&"rule-purge:chat-logs".to_owned()),
        "{jobs:?}"
    );
    let before = (
        rows_by_key(pool, "reviews").await,
        rows_by_key(pool, "chat_logs").await,
    );
    let report = chain
        .erase(pool, &erasure::Erasure::new(Subject::customer(1)))
        .await
        .expect("erasure");
    assert_eq!(report.totals().deferred, 4, "{report}");
    // Cleared and unlinked now; the rows wait for the purge.
    let reviews = rows_by_key(pool, "reviews").await;
    for id in [1, 2] {
        assert_eq!(
            reviews[&id][1..],
            [
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Text("fits well".into())
            ]
        );
    }
    let chats = rows_by_key(pool, "chat_logs").await;
    for id in [1, 2] {
        assert_eq!(chats[&id][1..3], [Value::Int(0), Value::Null]);
        assert_eq!(chats[&id][3].as_i64(), Some(1), "marked");
    }
    assert_eq!(
        count(pool, Select::count(ident!("erasure_deferred"))).await,
        2
    );
    assert_clean(&residue_in(pool, &needles(ADA)).await);
    assert_eq!(except(&reviews, &[1, 2]), except(&before.0, &[1, 2]));
    assert_eq!(except(&chats, &[1, 2]), except(&before.1, &[1, 2]));

    // Ten days on: the marked chat logs go, the reviews wait for their 30 days.
    let now = Utc::now();
    let (config, chain) = (&config, &chain);
    let run_at = |at| async move {
        let runner = JobRunner::new().clock(FixedClock(at));
        for job in config.jobs(chain) {
            runner
                .run(pool, job.as_ref(), |_| {})
                .await
                .unwrap_or_else(|e| panic!("job {}: {e}", job.name()));
        }
    };
    run_at(now + Duration::days(10)).await;
    let chat_ids: Vec<i64> = rows_by_key(pool, "chat_logs").await.into_keys().collect();
    assert_eq!(chat_ids, vec![3, 4]);
    let review_ids: Vec<i64> = rows_by_key(pool, "reviews").await.into_keys().collect();
    assert_eq!(review_ids, vec![1, 2, 3, 4], "not due yet");
    // Past 30 days: the reviews go, and so do their ledger entries.
    run_at(now + Duration::days(31)).await;
    let reviews = rows_by_key(pool, "reviews").await;
    assert_eq!(reviews, except(&before.0, &[1, 2]));
    assert_eq!(
        rows_by_key(pool, "chat_logs").await,
        except(&before.1, &[1, 2])
    );
    assert_eq!(
        count(pool, Select::count(ident!("erasure_deferred"))).await,
        0
    );
}

/// A configured chain with receipts and a rule: the committed erasure's receipt lists the rule
/// with its table counts.
async fn a_rule_appears_in_receipts<DB: TestBackend>(db: TestDb<DB>) {
    let pool = &db.pool;
    exec(
        pool,
        ddl::<DB>(
            "CREATE TABLE newsletter_subscriber (id BIGINT PRIMARY KEY, customer_id BIGINT, \
             subscriber_email TEXT NOT NULL)",
            "CREATE TABLE newsletter_subscriber (id BIGINT PRIMARY KEY, customer_id BIGINT, \
             subscriber_email TEXT NOT NULL)",
            "CREATE TABLE newsletter_subscriber (id BIGINT PRIMARY KEY, customer_id BIGINT, \
             subscriber_email VARCHAR(255) NOT NULL)",
        ),
    )
    .await;
    let mut subscribers = Insert::new(
        ident!("newsletter_subscriber"),
        [
            ident!("id"),
            ident!("customer_id"),
            ident!("subscriber_email"),
        ],
    );
    subscribers.row([1.into(), 1.into(), ADA.1.into()]);
    subscribers.row([2.into(), 1.into(), "ada.second@example.test".into()]);
    subscribers.row([3.into(), 2.into(), KIM.1.into()]);
    exec(pool, subscribers.to_sql()).await;
    erasure::evidence::install(pool).await.expect("evidence");
    let config = Configuration::from_toml(
        r#"
[chain]
disable = ["b2b-admin-guard", "basket-invalidation", "wishlist-deletion", "cashback",
           "order-anonymization", "recurring-orders", "promotion-scrubbing",
           "gift-card-unlinking", "customer-alerts", "customer"]

[evidence]
receipts = true

[[rules]]
name = "newsletter"
position = 85
table = "newsletter_subscriber"
subject = { customer = "customer_id", email = "subscriber_email" }
action = "delete"
"#,
    )
    .expect("config");
    let chain = config
        .chain::<DB>(Some(key()))
        .expect("chain")
        .build()
        .expect("build");
    let report = chain
        .erase(pool, &erasure::Erasure::new(Subject::customer(1)))
        .await
        .expect("erasure");
    let receipt = erasure::evidence::receipts::get(pool, report.run_id)
        .await
        .expect("read")
        .expect("a receipt");
    let rule = receipt
        .report
        .handlers
        .iter()
        .find(|h| h.name == "newsletter")
        .expect("the rule is in the receipt");
    assert_eq!(rule.position, 85);
    assert_eq!(
        rule.outcome.rows("newsletter_subscriber", &Action::Deleted),
        2
    );
    assert_eq!(receipt.report.totals().deleted, 2);
    let left: Vec<i64> = rows_by_key(pool, "newsletter_subscriber")
        .await
        .into_keys()
        .collect();
    assert_eq!(left, vec![3]);
}

/// The requests' account flags follow `[mappings.customer]`: with the customer table renamed,
/// the library's defaults (the reference schema's `customers`) would switch nothing off; the
/// configuration's requests switch off the renamed table's flag, and a file can still set its
/// own table or none.
async fn requests_deactivate_the_mapped_customer_table<DB: TestBackend>(db: TestDb<DB>) {
    use erasure::requests::{RequestConfig, RequestKind, Requests};
    let pool = &db.pool;
    create_shop(pool).await;
    let active = |id: i64| async move {
        let mut conn = pool.acquire().await.expect("conn");
        let rows = DB::fetch_all(
            &mut conn,
            &Select::column(ident!("shop_customers"), ident!("active"))
                .filter(Condition::eq(ident!("id"), id))
                .to_sql(),
        )
        .await
        .expect("active");
        matches!(
            rows[0].get_index(0),
            Some(Value::Bool(true)) | Some(Value::Int(1))
        )
    };
    let submit = |config: RequestConfig, customer: i64| async move {
        let store = Requests::<DB>::new(key()).config(config);
        store.install(pool).await.expect("install");
        store
            .submit(
                pool,
                RequestKind::Erasure,
                Some(Subject::customer(customer)),
                Some("requester@example.test"),
            )
            .await
            .expect("submit");
    };
    // The library's default names the reference schema's table: nothing is switched off here.
    submit(RequestConfig::default(), 1).await;
    assert!(
        active(1).await,
        "the default misses a renamed customer table"
    );

    let config = Configuration::from_toml(SHOP).expect("config");
    let deactivate = config
        .requests
        .deactivate_customer
        .clone()
        .expect("derived");
    assert_eq!(
        (deactivate.table.as_str(), deactivate.at.clone()),
        ("shop_customers", None)
    );
    submit(config.requests.clone(), 2).await;
    assert!(!active(2).await, "switched off at once");
    assert!(active(1).await, "another customer stays active");

    // A file's own table wins, and `false` switches the deactivation off.
    let own = Configuration::from_toml(&format!(
        "{SHOP}\n[requests]\ndeactivate_customer = {{ table = \"quote\", id = \"entity_id\", \
         active = \"status\" }}\ndeactivate_users = false\n"
    ))
    .expect("config");
    assert_eq!(
        own.requests
            .deactivate_customer
            .as_ref()
            .map(|d| d.table.as_str()),
        Some("quote")
    );
    assert!(own.requests.deactivate_users.is_none());
    let e = Configuration::from_toml("[requests]\ndeactivate_users = true\n")
        .expect_err("true names no table");
    assert!(e.to_string().contains("`false` for none"), "{e}");
    // The Shopware preset's customers live in `customer`, keyed by binary ids.
    let shopware = Configuration::from_toml("preset = \"shopware6\"\n").expect("preset");
    let d = shopware
        .requests
        .deactivate_customer
        .as_ref()
        .expect("derived");
    assert_eq!(
        (d.table.as_str(), d.keys),
        ("customer", Some(erasure::KeyType::Binary))
    );
    // Without a customer mapping, the reference schema's flags, as before.
    let reference = Configuration::from_toml("").expect("config");
    assert_eq!(reference.requests, RequestConfig::default());
}

backend_tests!(
    a_shop_of_real_shapes_by_configuration_alone,
    a_mapping_deletes_the_rows_it_cannot_unlink,
    rules_that_defer_are_purged_when_due,
    a_rule_appears_in_receipts,
    requests_deactivate_the_mapped_customer_table,
);

/// A rule at a position a standard handler holds is a build error naming both.
#[test]
fn a_rule_at_a_taken_position_is_a_build_error_naming_both() {
    let config = Configuration::from_toml(
        r#"
[[rules]]
name = "order-notes"
position = 30
table = "order_notes"
subject = { customer = "customer_id" }
action = "delete"
"#,
    )
    .expect("the file itself is valid");
    let e = config
        .chain::<sqlx::Sqlite>(None)
        .expect("chain")
        .build()
        .expect_err("position 30 is the order handler's");
    let e = e.to_string();
    assert!(
        e.contains("position 30")
            && e.contains("`order-anonymization`")
            && e.contains("`order-notes`"),
        "{e}"
    );
    // Once the standard handler is left out, the position is the rule's.
    let config = Configuration::from_toml(
        r#"
[chain]
disable = ["order-anonymization"]
[[rules]]
name = "order-notes"
position = 30
table = "order_notes"
subject = { customer = "customer_id" }
action = "delete"
"#,
    )
    .expect("config");
    let chain = config
        .chain::<sqlx::Sqlite>(None)
        .expect("chain")
        .build()
        .expect("build");
    assert!(chain.positions().contains(&30));
}

/// A deferring rule needs a key (its purge job deletes by it), and `purge_after` needs the
/// ledger (a mark records no date); both are refused naming the rule, the key and the line.
#[test]
fn deferring_rules_are_checked_when_read() {
    let e = Configuration::from_toml(
        "[[rules]]\nname = \"logs\"\nposition = 60\ntable = \"logs\"\n\
         subject = { customer = \"c\" }\naction = \"defer\"\nmark = { to_purge = 1 }\n",
    )
    .expect_err("no key");
    assert_eq!(
        e.to_string(),
        "rule `logs`: `key` is missing: the purge job deletes deferred rows by their key (the \
         rule at line 1)"
    );
    let e = Configuration::from_toml(
        "\n[[rules]]\nname = \"logs\"\nposition = 60\ntable = \"logs\"\n\
         subject = { customer = \"c\" }\naction = \"defer\"\nmark = { to_purge = 1 }\nkey = \"id\"\n\
         purge_after = \"30d\"\n",
    )
    .expect_err("a mark has no date");
    assert!(
        e.to_string()
            .starts_with("rule `logs`: `purge_after` needs the deferral ledger")
            && e.to_string().ends_with("(the rule at line 2)"),
        "{e}"
    );
    let e = Configuration::from_toml(
        "[[rules]]\nname = \"logs\"\nposition = 60\ntable = \"logs\"\n\
         subject = { customer = \"c\" }\naction = \"delete\"\npurge_after = \"30d\"\n",
    )
    .expect_err("nothing deferred");
    assert!(
        e.to_string()
            .contains("`purge_after` only applies to `action = \"defer\"`"),
        "{e}"
    );
}
