//! A shop whose schema is not the reference schema, served by configuration alone: handlers
//! left out (and their tables absent), declarative rules for extra tables (own subject
//! columns, a parent, a key-value filter), a guest marker and `NOT NULL` links, keys stored as
//! text, and jobs that follow a renamed table. On every backend.

mod support;

use chrono::{Duration, TimeZone, Utc};
use erasure::clock::FixedClock;
use erasure::job::JobRunner;
use erasure::rule::Rule;
use erasure::sql::{Condition, Select, Sql};
use erasure::{
    Backend, ChainConfig, Dialect, Erasure, Ident, Key, StandardMappings, Subject, Value, ident,
};
use erasure_testkit::{SeedConfig, Shape, TestBackend, TestDb};
use support::{Shop, assert_clean, backend_tests, count, exec};

/// DDL per dialect: text columns are `TEXT` on SQLite and PostgreSQL, `VARCHAR(255)` on MySQL.
fn ddl<DB: Backend>(sqlite_pg: &'static str, mysql: &'static str) -> Sql {
    Sql::new(match DB::DIALECT {
        Dialect::MySql => mysql,
        _ => sqlite_pg,
    })
}

fn rules(text: &str) -> Vec<Rule> {
    #[derive(serde::Deserialize)]
    struct File {
        rules: Vec<Rule>,
    }
    toml::from_str::<File>(text).expect("rules").rules
}

async fn ids<DB: Backend>(pool: &sqlx::Pool<DB>, select: Select) -> Vec<i64> {
    let mut conn = pool.acquire().await.expect("conn");
    DB::fetch_all(&mut conn, &select.to_sql())
        .await
        .expect("select")
        .iter()
        .filter_map(|r| r.get_index(0).and_then(Value::as_i64))
        .collect()
}

async fn text_values<DB: Backend>(pool: &sqlx::Pool<DB>, select: Select) -> Vec<Option<String>> {
    let mut conn = pool.acquire().await.expect("conn");
    DB::fetch_all(&mut conn, &select.to_sql())
        .await
        .expect("select")
        .iter()
        .map(|r| r.get_index(0).and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// A shop without B2B roles, cashbacks and recurring orders: with those handlers disabled the
/// chain neither runs them nor asks for their tables; the erasure and the export work.
async fn disabled_handlers_are_out_of_the_chain_and_need_no_tables<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let shop = Shop::new(db, SeedConfig::new(6).shape(Shape::typical())).await;
    let pool = &shop.db.pool;
    for table in [
        "b2b_roles",
        "cashback_codes",
        "cashbacks",
        "recurring_order_lines",
        "recurring_orders",
    ] {
        let sql = match table {
            "b2b_roles" => Sql::new("DROP TABLE b2b_roles"),
            "cashback_codes" => Sql::new("DROP TABLE cashback_codes"),
            "cashbacks" => Sql::new("DROP TABLE cashbacks"),
            "recurring_order_lines" => Sql::new("DROP TABLE recurring_order_lines"),
            _ => Sql::new("DROP TABLE recurring_orders"),
        };
        exec(pool, sql).await;
    }
    let standard = erasure::standard_chain::<DB>().build().expect("chain");
    let mut conn = pool.acquire().await.expect("conn");
    let refused = standard
        .check_schema(&mut conn)
        .await
        .expect_err("the standard chain needs the tables");
    assert!(refused.to_string().contains("b2b_roles"), "{refused}");

    let config: ChainConfig =
        toml::from_str("disable = [\"b2b-admin-guard\", \"cashback\", \"recurring-orders\"]")
            .expect("config");
    let chain = erasure::configured_chain::<DB>(&StandardMappings::default(), &config, &[])
        .build()
        .expect("chain");
    assert_eq!(chain.positions(), vec![10, 20, 30, 50, 70, 80, 100]);
    chain
        .check_schema(&mut conn)
        .await
        .expect("no stand-in tables needed");
    drop(conn);
    let c = shop.seed.customer(1);
    let report = shop.erase(&chain, c.subject()).await;
    assert!(
        report.handlers.iter().all(
            |h| !["b2b-admin-guard", "cashback", "recurring-orders"].contains(&h.name.as_str())
        )
    );
    assert_clean(&shop.residue(&c.needles()).await);
    assert!(
        !shop
            .residue(&shop.seed.customer(2).needles())
            .await
            .hits
            .is_empty(),
        "the other customers stay"
    );
    let mut out = Vec::new();
    chain
        .export(pool, &shop.seed.customer(2).subject(), &mut out)
        .await
        .expect("export");
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let handlers: Vec<&str> = doc["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .filter_map(|s| s["handler"].as_str())
        .collect();
    assert!(!handlers.contains(&"cashback"), "{handlers:?}");

    let unknown: ChainConfig = toml::from_str("disable = [\"b2b\"]").expect("config");
    let e = erasure::configured_chain::<DB>(&StandardMappings::default(), &unknown, &[])
        .build()
        .expect_err("unknown name");
    assert!(
        e.to_string().contains("no handler is named `b2b`")
            && e.to_string().contains("b2b-admin-guard"),
        "{e}"
    );
}

/// The issue's form, and what real schemas need: a newsletter table by customer or email, a
/// denormalized grid keyed by the customer's id, and the personal keys of a key-value meta
/// table reached through the orders (before position 30, which unlinks them).
async fn rules_erase_extra_tables_and_are_full_handlers<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(6).shape(Shape::typical()).guests(2)).await;
    let pool = &shop.db.pool;
    exec(
        pool,
        ddl::<DB>(
            "CREATE TABLE newsletter_subscriber (id BIGINT PRIMARY KEY, customer_id BIGINT, \
             subscriber_email TEXT NOT NULL)",
            "CREATE TABLE newsletter_subscriber (id BIGINT PRIMARY KEY, customer_id BIGINT, \
             subscriber_email VARCHAR(255) NOT NULL)",
        ),
    )
    .await;
    exec(
        pool,
        ddl::<DB>(
            "CREATE TABLE customer_grid_flat (entity_id BIGINT PRIMARY KEY, name TEXT, \
             email TEXT, billing_telephone TEXT)",
            "CREATE TABLE customer_grid_flat (entity_id BIGINT PRIMARY KEY, name VARCHAR(255), \
             email VARCHAR(255), billing_telephone VARCHAR(255))",
        ),
    )
    .await;
    exec(
        pool,
        ddl::<DB>(
            "CREATE TABLE order_meta (id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL, \
             meta_key TEXT NOT NULL, meta_value TEXT)",
            "CREATE TABLE order_meta (id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL, \
             meta_key VARCHAR(64) NOT NULL, meta_value VARCHAR(255))",
        ),
    )
    .await;
    let (erased, kept) = (shop.seed.customer(1), shop.seed.customer(2));
    let guest_email = "list.only@example.test";
    let mut subscribers = erasure::sql::Insert::new(
        ident!("newsletter_subscriber"),
        [
            ident!("id"),
            ident!("customer_id"),
            ident!("subscriber_email"),
        ],
    );
    subscribers.row([
        1.into(),
        erased.id.into(),
        erased.users[0].email.clone().into(),
    ]);
    subscribers.row([2.into(), kept.id.into(), kept.users[0].email.clone().into()]);
    subscribers.row([3.into(), Value::Null, guest_email.into()]);
    exec(pool, subscribers.to_sql()).await;
    let mut grid = erasure::sql::Insert::new(
        ident!("customer_grid_flat"),
        [
            ident!("entity_id"),
            ident!("name"),
            ident!("email"),
            ident!("billing_telephone"),
        ],
    );
    for c in [&erased, &kept] {
        let u = &c.users[0];
        grid.row([
            c.id.into(),
            u.full_name().into(),
            u.email.clone().into(),
            u.phone.clone().into(),
        ]);
    }
    exec(pool, grid.to_sql()).await;
    let orders_of = |c: i64| {
        Select::column(ident!("orders"), ident!("id"))
            .filter(Condition::eq(ident!("customer_id"), c))
            .order_by([ident!("id")])
    };
    let (erased_orders, kept_orders) = (
        ids(pool, orders_of(erased.id)).await,
        ids(pool, orders_of(kept.id)).await,
    );
    assert!(!erased_orders.is_empty() && !kept_orders.is_empty());
    let mut meta = erasure::sql::Insert::new(
        ident!("order_meta"),
        [
            ident!("id"),
            ident!("order_id"),
            ident!("meta_key"),
            ident!("meta_value"),
        ],
    );
    let mut next = 0_i64;
    for (order, c) in erased_orders
        .iter()
        .map(|o| (o, &erased))
        .chain(kept_orders.iter().map(|o| (o, &kept)))
    {
        for (key, value) in [
            ("_billing_phone", c.users[0].phone.clone()),
            ("_billing_email", c.users[0].email.clone()),
            ("_order_total", "42.00".to_owned()),
        ] {
            next += 1;
            meta.row([next.into(), (*order).into(), key.into(), value.into()]);
        }
    }
    exec(pool, meta.to_sql()).await;

    let rules = rules(
        r#"
        [[rules]]
        name = "newsletter"
        position = 85
        table = "newsletter_subscriber"
        subject = { customer = "customer_id", email = "subscriber_email" }
        action = "delete"

        [[rules]]
        name = "customer-grid"
        position = 90
        table = "customer_grid_flat"
        subject = { customer = "entity_id" }
        action = "delete"
        key = "entity_id"

        [[rules]]
        name = "order-meta"
        position = 28
        table = "order_meta"
        parent = { table = "orders", id = "id", column = "order_id" }
        subject = { customer = "customer_id", user = "user_id", email = "email" }
        where = { meta_key = ["_billing_phone", "_billing_email"] }
        action = "anonymize"
        anonymize = { meta_value = "null" }
        key = "id"
        "#,
    );
    let chain = erasure::configured_chain::<DB>(
        &StandardMappings::default(),
        &ChainConfig::default(),
        &rules,
    )
    .build()
    .expect("chain");
    let names: Vec<String> = chain
        .describe()
        .handlers
        .iter()
        .map(|h| h.name.clone())
        .collect();
    for name in ["newsletter", "customer-grid", "order-meta"] {
        assert!(names.iter().any(|n| n == name), "{names:?}");
    }
    // The chain's footprint names each rule's table and the columns it writes.
    let footprint = chain.footprint();
    for (table, column) in [
        ("newsletter_subscriber", "subscriber_email"),
        ("customer_grid_flat", "email"),
        ("customer_grid_flat", "billing_telephone"),
        ("order_meta", "meta_value"),
    ] {
        assert!(
            footprint.covers(&Ident::new(table).unwrap(), &Ident::new(column).unwrap()),
            "{table}.{column} is in the rules' footprint"
        );
    }
    // Coverage finds nothing uncovered in the three tables.
    let mut conn = pool.acquire().await.expect("conn");
    let uncovered = chain
        .coverage(&mut conn, &["customers", "users"])
        .await
        .expect("coverage");
    drop(conn);
    let extra: Vec<_> = uncovered
        .iter()
        .filter(|u| {
            ["newsletter_subscriber", "customer_grid_flat", "order_meta"]
                .contains(&u.table.as_str())
        })
        .collect();
    assert!(extra.is_empty(), "{extra:?}");

    // A dry run reports what the erasure then does.
    let preview = chain
        .dry_run(pool, &Erasure::new(erased.subject()))
        .await
        .expect("dry run");
    let report = shop.erase(&chain, erased.subject()).await;
    assert_eq!(preview.totals(), report.totals());
    let by = |name: &str| {
        report
            .handlers
            .iter()
            .find(|h| h.name == name)
            .expect("handler")
            .outcome
            .clone()
    };
    assert_eq!(by("newsletter").totals().deleted, 1);
    assert_eq!(by("customer-grid").totals().deleted, 1);
    assert_eq!(
        by("order-meta").totals().anonymized,
        2 * erased_orders.len() as u64
    );
    let subscribers_left = ids(
        pool,
        Select::column(ident!("newsletter_subscriber"), ident!("id")).order_by([ident!("id")]),
    )
    .await;
    assert_eq!(subscribers_left, vec![2, 3]);
    let grid_left = ids(
        pool,
        Select::column(ident!("customer_grid_flat"), ident!("entity_id")),
    )
    .await;
    assert_eq!(grid_left, vec![kept.id]);
    let meta_of = |orders: &[i64], key: &str| {
        Select::column(ident!("order_meta"), ident!("meta_value"))
            .filter(Condition::is_in(
                ident!("order_id"),
                orders.iter().map(|&o| Value::Int(o)).collect(),
            ))
            .filter(Condition::eq(ident!("meta_key"), key))
    };
    for key in ["_billing_phone", "_billing_email"] {
        assert!(
            text_values(pool, meta_of(&erased_orders, key))
                .await
                .iter()
                .all(Option::is_none),
            "{key} cleared"
        );
        assert!(
            text_values(pool, meta_of(&kept_orders, key))
                .await
                .iter()
                .all(Option::is_some),
            "{key} of the other customer kept"
        );
    }
    assert!(
        text_values(pool, meta_of(&erased_orders, "_order_total"))
            .await
            .iter()
            .all(|v| v.as_deref() == Some("42.00")),
        "rows the filter leaves out are untouched"
    );
    assert_clean(&shop.residue(&erased.needles()).await);

    // A guest's subscription goes by email; the other customer's stays.
    let guest = Subject::guest(guest_email).expect("guest");
    shop.erase(&chain, guest).await;
    let subscribers_left = ids(
        pool,
        Select::column(ident!("newsletter_subscriber"), ident!("id")),
    )
    .await;
    assert_eq!(subscribers_left, vec![2]);

    // The export holds each rule's rows as its table's rows.
    let mut out = Vec::new();
    chain
        .export(pool, &kept.subject(), &mut out)
        .await
        .expect("export");
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let section = |name: &str| {
        doc["sections"]
            .as_array()
            .expect("sections")
            .iter()
            .find(|s| s["handler"] == name)
            .cloned()
            .expect("section")
    };
    assert_eq!(section("newsletter")["tables"][0]["count"], 1);
    assert_eq!(section("customer-grid")["tables"][0]["count"], 1);
    assert_eq!(
        section("order-meta")["tables"][0]["count"],
        2 * kept_orders.len()
    );
}

/// A table that marks guests with `0` and declares its link column `NOT NULL`: guests are
/// found by the marker, and unlinking writes it, so the constraint holds. (The reference
/// schema keeps `NULL` and its foreign keys: the marker is set for this table, where a shop
/// whose every table uses it sets `guest_marker = 0` once in `[mappings]`.)
async fn a_guest_marker_and_not_null_links<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(4)).await;
    let pool = &shop.db.pool;
    exec(
        pool,
        ddl::<DB>(
            "CREATE TABLE tickets (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL DEFAULT 0, \
             email TEXT NOT NULL, body TEXT)",
            "CREATE TABLE tickets (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL DEFAULT 0, \
             email VARCHAR(255) NOT NULL, body VARCHAR(255))",
        ),
    )
    .await;
    let (c, other) = (shop.seed.customer(1), shop.seed.customer(2));
    let guest = "walk.in@example.test";
    let mut tickets = erasure::sql::Insert::new(
        ident!("tickets"),
        [
            ident!("id"),
            ident!("customer_id"),
            ident!("email"),
            ident!("body"),
        ],
    );
    tickets.row([
        1.into(),
        c.id.into(),
        c.users[0].email.clone().into(),
        "where is my parcel".into(),
    ]);
    tickets.row([2.into(), 0.into(), guest.into(), "wrong size".into()]);
    tickets.row([
        3.into(),
        other.id.into(),
        other.users[0].email.clone().into(),
        "thanks".into(),
    ]);
    // A customer's ticket with the guest's address is the customer's, not the guest's.
    tickets.row([
        4.into(),
        other.id.into(),
        guest.into(),
        "sent for a friend".into(),
    ]);
    exec(pool, tickets.to_sql()).await;
    let mappings = StandardMappings::default();
    let rules = rules(
        r#"
        [[rules]]
        name = "tickets"
        position = 60
        table = "tickets"
        subject = { customer = "customer_id", email = "email", guest_marker = 0 }
        action = "anonymize"
        anonymize = { email = "keep_domain", body = "null" }
        retain = "support history"
        "#,
    );
    let chain = erasure::configured_chain::<DB>(&mappings, &ChainConfig::default(), &rules)
        .build()
        .expect("chain");
    let row = |id: i64| {
        Select::columns(
            ident!("tickets"),
            [ident!("customer_id"), ident!("email"), ident!("body")],
        )
        .filter(Condition::eq(ident!("id"), id))
    };
    let read = |id: i64| async move {
        let mut conn = pool.acquire().await.expect("conn");
        let rows = DB::fetch_all(&mut conn, &row(id).to_sql())
            .await
            .expect("row");
        rows[0].values().to_vec()
    };
    let report = shop.erase(&chain, c.subject()).await;
    let tickets = report
        .handlers
        .iter()
        .find(|h| h.name == "tickets")
        .expect("rule");
    assert_eq!(tickets.outcome.totals().anonymized, 1);
    assert_eq!(tickets.outcome.totals().retained, 1);
    let domain = c.users[0].email.rsplit('@').next().expect("a domain");
    assert_eq!(
        read(1).await,
        vec![
            Value::Int(0),
            Value::Text(format!("anonymized@{domain}")),
            Value::Null
        ]
    );
    shop.erase(&chain, Subject::guest(guest).expect("guest"))
        .await;
    assert_eq!(
        read(2).await,
        vec![
            Value::Int(0),
            Value::Text("anonymized@example.test".into()),
            Value::Null
        ]
    );
    assert_eq!(read(3).await[2], Value::Text("thanks".into()));
    assert_eq!(read(4).await[2], Value::Text("sent for a friend".into()));
}

/// A table that stores user ids as text, and a subject whose key is given as text where the
/// column is an integer: keys are converted before they are bound, on every backend
/// (PostgreSQL would otherwise refuse to compare `bigint` with `text`).
async fn keys_stored_as_text_or_given_as_text<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(3)).await;
    let pool = &shop.db.pool;
    exec(
        pool,
        ddl::<DB>(
            "CREATE TABLE sessions (id BIGINT PRIMARY KEY, user_id TEXT NOT NULL, data TEXT)",
            "CREATE TABLE sessions (id BIGINT PRIMARY KEY, user_id VARCHAR(64) NOT NULL, \
             data VARCHAR(255))",
        ),
    )
    .await;
    exec(
        pool,
        ddl::<DB>(
            "CREATE TABLE points (customer_id BIGINT NOT NULL, points BIGINT NOT NULL)",
            "CREATE TABLE points (customer_id BIGINT NOT NULL, points BIGINT NOT NULL)",
        ),
    )
    .await;
    let (c, other) = (shop.seed.customer(1), shop.seed.customer(2));
    let (user, other_user) = (c.users[0].id, other.users[0].id);
    let mut sessions = erasure::sql::Insert::new(
        ident!("sessions"),
        [ident!("id"), ident!("user_id"), ident!("data")],
    );
    sessions.row([1.into(), user.to_string().into(), "cart".into()]);
    sessions.row([2.into(), other_user.to_string().into(), "cart".into()]);
    exec(pool, sessions.to_sql()).await;
    let mut points =
        erasure::sql::Insert::new(ident!("points"), [ident!("customer_id"), ident!("points")]);
    points.row([c.id.into(), 10.into()]);
    points.row([other.id.into(), 20.into()]);
    exec(pool, points.to_sql()).await;
    let rules = rules(
        r#"
        [[rules]]
        name = "sessions"
        position = 60
        table = "sessions"
        subject = { user = "user_id", keys = "text" }
        action = "delete"

        [[rules]]
        name = "points"
        position = 61
        table = "points"
        subject = { customer = "customer_id", keys = "integer" }
        action = "delete"
        "#,
    );
    // Only the rules: every standard handler disabled (their tables bind keys as given).
    let chain = erasure::configured_chain::<DB>(
        &StandardMappings::default(),
        &ChainConfig {
            disable: erasure::position::STANDARD
                .iter()
                .map(|(_, name)| (*name).to_owned())
                .collect(),
        },
        &rules,
    )
    .build()
    .expect("chain");
    assert_eq!(chain.positions(), vec![60, 61]);
    // One user, the key given as an integer, the column holding text.
    shop.erase(&chain, Subject::user(c.id, user)).await;
    let left = ids(pool, Select::column(ident!("sessions"), ident!("id"))).await;
    assert_eq!(left, vec![2]);
    // The customer, its key given as text, the column holding integers.
    let text_key = Subject::customer(Key::text(c.id.to_string()).expect("key"));
    let report = chain
        .erase(pool, &Erasure::new(text_key))
        .await
        .expect("a text key against an integer column");
    let points = report
        .handlers
        .iter()
        .find(|h| h.name == "points")
        .expect("rule");
    assert_eq!(points.outcome.totals().deleted, 1);
    let left = ids(
        pool,
        Select::column(ident!("points"), ident!("customer_id")),
    )
    .await;
    assert_eq!(left, vec![other.id]);
    // A text key that is no integer matches nothing, and fails nothing.
    let odd = Subject::customer(Key::text("not-a-number").expect("key"));
    let report = chain
        .erase(pool, &Erasure::new(odd))
        .await
        .expect("no match");
    assert!(report.is_noop());
}

/// The order table renamed in the order mapping alone: the chain anonymizes there, and the
/// order purge (with the default retention rule) and the inactive-accounts job follow.
async fn jobs_follow_a_table_renamed_in_the_mappings<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(5).shape(Shape::typical()).guests(0)).await;
    let pool = &shop.db.pool;
    exec(
        pool,
        match DB::DIALECT {
            Dialect::MySql => Sql::new("RENAME TABLE orders TO sales_orders"),
            _ => Sql::new("ALTER TABLE orders RENAME TO sales_orders"),
        },
    )
    .await;
    let mappings: StandardMappings =
        toml::from_str("[order]\ntable = \"sales_orders\"").expect("mappings");
    let chain = erasure::configured_chain::<DB>(&mappings, &ChainConfig::default(), &[])
        .build()
        .expect("chain");
    let c = shop.seed.customer(1);
    let marked_before = count(
        pool,
        Select::count(ident!("sales_orders")).filter(Condition::eq(ident!("to_be_deleted"), true)),
    )
    .await;
    shop.erase(&chain, c.subject()).await;
    let marked = count(
        pool,
        Select::count(ident!("sales_orders")).filter(Condition::eq(ident!("to_be_deleted"), true)),
    )
    .await;
    assert!(
        marked > marked_before,
        "the renamed table was anonymized and marked"
    );
    let total = count(pool, Select::count(ident!("sales_orders"))).await;
    // Years later, every marked order is past the default retention (six years from the order
    // date): the purge deletes exactly those not in an excluded status, in the renamed table.
    let later = Utc
        .with_ymd_and_hms(2040, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    let excluded = ["PENDING", "MANUAL_INTERVENTION_NEEDED", "EXPORTFAILED"];
    let due = count(
        pool,
        Select::count(ident!("sales_orders"))
            .filter(Condition::eq(ident!("to_be_deleted"), true))
            .filter(Condition::not_in(
                ident!("status"),
                excluded.iter().map(|s| Value::from(*s)).collect(),
            )),
    )
    .await;
    assert!(due > 0);
    let jobs_config = erasure::jobs::JobsConfig {
        inactive_accounts_after: Some(erasure::retention::Period::years(100)),
        ..Default::default()
    };
    let retention = erasure::jobs::default_retention(&mappings);
    assert_eq!(retention.0[0].table.as_str(), "sales_orders");
    let jobs = erasure::jobs::standard_jobs(&mappings, &retention, &jobs_config, &chain);
    let runner = JobRunner::new().clock(FixedClock(later + Duration::seconds(1)));
    let mut purged = 0;
    for job in &jobs {
        let summary = runner.run(pool, job.as_ref(), |_| {}).await.expect("job");
        if job.name() == "order-purge" {
            purged = summary.rows;
        }
    }
    assert_eq!(purged as i64, due);
    assert_eq!(
        count(pool, Select::count(ident!("sales_orders"))).await,
        total - due
    );
    assert_eq!(
        count(
            pool,
            Select::count(ident!("sales_orders"))
                .filter(Condition::eq(ident!("to_be_deleted"), true))
        )
        .await,
        marked - due,
        "marked orders in an excluded status stay"
    );
}

/// A shop whose orders and baskets have no column to mark them with: the deferral is recorded
/// in the library's ledger (`erasure_deferred`) in the erasure's transaction, the shop's rows
/// are not marked, and the purge jobs delete what the ledger lists once it is due, then
/// forget it. Without the ledger installed, the schema check names it.
async fn deferrals_without_a_mark_column_go_to_the_ledger<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(5).shape(Shape::typical()).guests(0)).await;
    let pool = &shop.db.pool;
    let mappings: StandardMappings =
        toml::from_str("[order]\nto_be_deleted = \"\"\n[basket]\nstatus = \"\"\n")
            .expect("mappings");
    let chain = erasure::configured_chain::<DB>(&mappings, &ChainConfig::default(), &[])
        .build()
        .expect("chain");
    let mut conn = pool.acquire().await.expect("conn");
    let missing = chain
        .check_schema(&mut conn)
        .await
        .expect_err("the ledger is not installed");
    assert!(
        missing.to_string().contains("erasure_deferred"),
        "{missing}"
    );
    drop(conn);
    erasure::ledger::install(pool).await.expect("install");
    erasure::ledger::install(pool)
        .await
        .expect("install is idempotent");
    let mut conn = pool.acquire().await.expect("conn");
    chain.check_schema(&mut conn).await.expect("schema");
    drop(conn);

    let c = shop.seed.customer(1);
    let orders_of_c = ids(
        pool,
        Select::column(ident!("orders"), ident!("id"))
            .filter(Condition::eq(ident!("customer_id"), c.id)),
    )
    .await;
    let baskets_of_c = ids(
        pool,
        Select::column(ident!("baskets"), ident!("id"))
            .filter(Condition::eq(ident!("customer_id"), c.id)),
    )
    .await;
    let marked_before = count(
        pool,
        Select::count(ident!("orders")).filter(Condition::eq(ident!("to_be_deleted"), true)),
    )
    .await;
    let report = shop.erase(&chain, c.subject()).await;
    assert_eq!(
        report.totals().deferred as usize,
        orders_of_c.len() + baskets_of_c.len()
    );
    assert_eq!(
        count(
            pool,
            Select::count(ident!("orders")).filter(Condition::eq(ident!("to_be_deleted"), true))
        )
        .await,
        marked_before,
        "the shop's rows are not marked"
    );
    let ledger = count(pool, Select::count(ident!("erasure_deferred"))).await;
    assert_eq!(ledger as usize, orders_of_c.len() + baskets_of_c.len());
    // Erasing again records nothing twice.
    shop.erase(&chain, c.subject()).await;
    assert_eq!(
        count(pool, Select::count(ident!("erasure_deferred"))).await,
        ledger
    );
    assert_clean(&shop.residue(&c.needles()).await);

    // Years later the purge jobs delete what the ledger lists (not in an excluded status),
    // and forget it; nothing else goes.
    let excluded = ["PENDING", "MANUAL_INTERVENTION_NEEDED", "EXPORTFAILED"];
    let kept_orders = count(
        pool,
        Select::count(ident!("orders"))
            .filter(Condition::is_in(
                ident!("id"),
                orders_of_c.iter().map(|&o| Value::Int(o)).collect(),
            ))
            .filter(Condition::is_in(
                ident!("status"),
                excluded.iter().map(|s| Value::from(*s)).collect(),
            )),
    )
    .await;
    let orders_before = count(pool, Select::count(ident!("orders"))).await;
    let baskets_before = count(pool, Select::count(ident!("baskets"))).await;
    let later = Utc
        .with_ymd_and_hms(2040, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    let retention = erasure::jobs::default_retention(&mappings);
    let jobs = erasure::jobs::standard_jobs(
        &mappings,
        &retention,
        &erasure::jobs::JobsConfig::default(),
        &chain,
    );
    let runner = JobRunner::new().clock(FixedClock(later));
    for job in jobs
        .iter()
        .filter(|j| ["order-purge", "basket-purge"].contains(&j.name()))
    {
        runner.run(pool, job.as_ref(), |_| {}).await.expect("job");
    }
    let purged_orders = orders_of_c.len() as i64 - kept_orders;
    assert_eq!(
        count(pool, Select::count(ident!("orders"))).await,
        orders_before - purged_orders
    );
    assert_eq!(
        count(pool, Select::count(ident!("baskets"))).await,
        baskets_before - baskets_of_c.len() as i64
    );
    assert_eq!(
        count(pool, Select::count(ident!("erasure_deferred"))).await,
        kept_orders,
        "only the entries of rows still kept remain"
    );
}

/// Rules reach rows two parents up (a note on an order line, through the line, through the
/// order) and through a filtered parent (notes of active accounts only).
async fn rules_reach_through_nested_and_filtered_parents<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(4).shape(Shape::typical()).guests(0)).await;
    let pool = &shop.db.pool;
    exec(
        pool,
        ddl::<DB>(
            "CREATE TABLE line_notes (id BIGINT PRIMARY KEY, line_id BIGINT NOT NULL, note TEXT)",
            "CREATE TABLE line_notes (id BIGINT PRIMARY KEY, line_id BIGINT NOT NULL, \
             note VARCHAR(255))",
        ),
    )
    .await;
    exec(
        pool,
        ddl::<DB>(
            "CREATE TABLE account_notes (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             note TEXT)",
            "CREATE TABLE account_notes (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, \
             note VARCHAR(255))",
        ),
    )
    .await;
    let people: Vec<i64> = (0..3).map(|i| shop.seed.customer(i).id).collect();
    let (active, inactive, other) = (people[0], people[1], people[2]);
    exec(
        pool,
        erasure::sql::Update::new(ident!("customers"), Condition::eq(ident!("id"), inactive))
            .set(ident!("active"), false)
            .into(),
    )
    .await;
    let lines_of = |customer: i64| {
        Select::column(ident!("order_lines"), ident!("id")).filter(Condition::in_select(
            ident!("order_id"),
            Select::column(ident!("orders"), ident!("id"))
                .filter(Condition::eq(ident!("customer_id"), customer)),
        ))
    };
    let mut notes = erasure::sql::Insert::new(
        ident!("line_notes"),
        [ident!("id"), ident!("line_id"), ident!("note")],
    );
    let mut accounts = erasure::sql::Insert::new(
        ident!("account_notes"),
        [ident!("id"), ident!("customer_id"), ident!("note")],
    );
    let mut lines = Vec::new();
    for (n, &customer) in people.iter().enumerate() {
        let of_customer = ids(pool, lines_of(customer)).await;
        assert!(
            !of_customer.is_empty(),
            "customer {customer} has order lines"
        );
        for line in &of_customer {
            notes.row([
                (*line).into(),
                (*line).into(),
                format!("gift wrap {line}").into(),
            ]);
        }
        lines.push(of_customer);
        let id = i64::try_from(n).expect("small") + 1;
        accounts.row([id.into(), customer.into(), format!("called {id}").into()]);
    }
    exec(pool, notes.to_sql()).await;
    exec(pool, accounts.to_sql()).await;
    let config = erasure::config::Configuration::from_toml(
        r#"
[[rules]]
name = "line-notes"
position = 29
table = "line_notes"
parent = { table = "order_lines", id = "id", column = "line_id", parent = { table = "orders", id = "id", column = "order_id" } }
subject = { customer = "customer_id", email = "email" }
action = "anonymize"
anonymize = { note = "null" }

[[rules]]
name = "account-notes"
position = 95
table = "account_notes"
parent = { table = "customers", id = "id", column = "customer_id", where = { active = true } }
subject = { customer = "id" }
action = "delete"
"#,
    )
    .expect("config");
    let chain = config
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    for customer in [active, inactive] {
        let report = shop.erase(&chain, Subject::customer(customer)).await;
        let line_notes = report.handlers.iter().find(|h| h.name == "line-notes");
        assert!(
            line_notes.is_some_and(|h| h.outcome.totals().anonymized > 0),
            "{report}"
        );
    }
    let notes_of = |customer_lines: &[i64]| {
        Select::column(ident!("line_notes"), ident!("note")).filter(Condition::is_in(
            ident!("line_id"),
            customer_lines.iter().map(|l| Value::from(*l)).collect(),
        ))
    };
    for erased in &lines[..2] {
        let left = text_values(pool, notes_of(erased)).await;
        assert!(left.iter().all(Option::is_none), "{left:?}");
    }
    let kept = text_values(pool, notes_of(&lines[2])).await;
    assert_eq!(kept.len(), lines[2].len());
    assert!(kept.iter().all(Option::is_some), "{kept:?}");
    // The active account's notes went; the inactive one's stay (the filter leaves them), as do
    // those of the customer not erased.
    let remaining = ids(
        pool,
        Select::column(ident!("account_notes"), ident!("customer_id")),
    )
    .await;
    let mut remaining = remaining;
    remaining.sort_unstable();
    let mut expected = vec![inactive, other];
    expected.sort_unstable();
    assert_eq!(remaining, expected);
}

/// The purges of handlers a shop left out are not among its jobs, and without the order
/// handler there is no default retention: with the basket tables gone, every job runs and
/// changes nothing. The same file without `disable` has both purges (and would fail).
async fn the_jobs_of_disabled_handlers_do_not_run<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(4).shape(Shape::typical())).await;
    let pool = &shop.db.pool;
    let names = |config: &erasure::config::Configuration| -> Vec<String> {
        let chain = config
            .chain::<DB>(None)
            .expect("chain")
            .build()
            .expect("build");
        erasure::jobs::standard_jobs(&config.mappings, &config.retention, &config.jobs, &chain)
            .iter()
            .map(|job| job.name().to_owned())
            .collect()
    };
    let full = erasure::config::Configuration::from_toml("").expect("config");
    let all = names(&full);
    assert!(
        all.contains(&"basket-purge".to_owned()) && all.contains(&"order-purge".to_owned()),
        "{all:?}"
    );
    let config = erasure::config::Configuration::from_toml(
        "[chain]\ndisable = [\"basket-invalidation\", \"order-anonymization\", \"recurring-orders\"]\n",
    )
    .expect("config");
    assert!(config.retention.0.is_empty(), "{:?}", config.retention);
    let left = names(&config);
    assert!(
        !left.contains(&"basket-purge".to_owned()) && !left.contains(&"order-purge".to_owned()),
        "{left:?}"
    );
    // The shop has no basket tables now: a basket purge would fail on them. (The orders stay,
    // for the promotion-code usages that refer to them; no job touches them.)
    for sql in [
        "DROP TABLE basket_items",
        "DROP TABLE baskets",
        "DROP TABLE recurring_order_lines",
        "DROP TABLE recurring_orders",
    ] {
        exec(pool, Sql::new(sql)).await;
    }
    let before = shop.dump().await;
    let chain = config
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    let jobs =
        erasure::jobs::standard_jobs(&config.mappings, &config.retention, &config.jobs, &chain);
    let runner = JobRunner::new();
    for job in &jobs {
        runner
            .run(pool, job.as_ref(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("job {}: {e}", job.name()));
    }
    assert_eq!(shop.dump().await.diff(&before), None);
}

backend_tests!(
    the_jobs_of_disabled_handlers_do_not_run,
    rules_reach_through_nested_and_filtered_parents,
    deferrals_without_a_mark_column_go_to_the_ledger,
    disabled_handlers_are_out_of_the_chain_and_need_no_tables,
    rules_erase_extra_tables_and_are_full_handlers,
    a_guest_marker_and_not_null_links,
    keys_stored_as_text_or_given_as_text,
    jobs_follow_a_table_renamed_in_the_mappings,
);
