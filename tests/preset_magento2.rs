//! The `magento2` preset on a fixture of Magento 2.4 Open Source core tables
//! (`tests/fixtures/presets/magento2/`), in fresh empty databases: SQLite (a file) and MariaDB.
//! What each test proves is listed in `docs/presets/magento2.md`.
//!
//! The seed's ids say whose a row is: the rows of subject N (customers 1, 2, 3 with entity_id
//! 100, 200, 300; guests 5 and 6) take ids N*100 .. N*100+99; ids below 100 are the shop's. So
//! every row of the database is checked: the erased subject's rows are deleted, anonymized or
//! kept exactly as the preset's page says, and every other row is unchanged.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use erasure::clock::FixedClock;
use erasure::config::Configuration;
use erasure::coverage::judge;
use erasure::job::JobRunner;
use erasure::{Backend, Chain, Erasure, Ident, Subject, Value};
use erasure_testkit::Needle;
use erasure_testkit::dump::{Dump, dump, show};
use erasure_testkit::fault::{Fault, FaultHandler};
use erasure_testkit::residue::scan;
use erasure_testkit::{TestBackend, TestDb};

const SEED: &str = include_str!("fixtures/presets/magento2/seed.sql");

/// A backend with the fixture's DDL.
trait Fixture: TestBackend {
    const DDL: &'static str;
    /// Runs a script of several statements.
    fn load(pool: &sqlx::Pool<Self>, sql: &'static str) -> impl Future<Output = ()> + Send;
}

impl Fixture for sqlx::Sqlite {
    const DDL: &'static str = include_str!("fixtures/presets/magento2/sqlite.sql");
    async fn load(pool: &sqlx::Pool<Self>, sql: &'static str) {
        sqlx::raw_sql(sql).execute(pool).await.expect("fixture sql");
    }
}

#[cfg(feature = "mysql")]
impl Fixture for sqlx::MySql {
    const DDL: &'static str = include_str!("fixtures/presets/magento2/mysql.sql");
    async fn load(pool: &sqlx::Pool<Self>, sql: &'static str) {
        sqlx::raw_sql(sql).execute(pool).await.expect("fixture sql");
    }
}

/// Instantiates `async fn name<DB: Fixture>(db: TestDb<DB>)` on SQLite (a file) and MariaDB.
macro_rules! preset_tests {
    ($($name:ident),* $(,)?) => {
        #[cfg(feature = "mysql")]
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::empty::<sqlx::MySql>().await else { return };
                    super::$name(db).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::empty::<sqlx::Sqlite>().await else { return };
                    super::$name(db).await;
                }
            )*
        }
    };
}

/// A fresh empty database with the fixture, its seed and the library's deferral ledger (the
/// preset defers orders and carts to it), or `None` when its server is unreachable and that is
/// allowed.
async fn empty<DB: Fixture>() -> Option<TestDb<DB>> {
    let db = match DB::empty(4).await {
        Ok(db) => db,
        Err(e) if e.is_unreachable() => {
            assert!(
                !erasure_testkit::db::backends_required(),
                "ERASURE_REQUIRE_BACKENDS is set, and {} is unreachable: {e}",
                <DB as TestBackend>::LABEL
            );
            eprintln!("skipped on {}: {e}", <DB as TestBackend>::LABEL);
            return None;
        }
        Err(e) => panic!("{e}"),
    };
    DB::load(&db.pool, DB::DDL).await;
    DB::load(&db.pool, SEED).await;
    erasure::ledger::install(&db.pool).await.expect("ledger");
    Some(db)
}

fn preset() -> Configuration {
    Configuration::from_toml("preset = \"magento2\"").expect("the preset reads")
}

fn chain<DB: Fixture>(config: &Configuration) -> Chain<DB> {
    config
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("the preset builds")
}

async fn snapshot<DB: Backend>(pool: &sqlx::Pool<DB>) -> Dump {
    let mut conn = pool.acquire().await.expect("conn");
    dump::<DB>(&mut conn).await.expect("dump")
}

/// The emails of the seed's subjects, by subject number.
const EMAILS: [(u64, &str); 5] = [
    (1, "ilvana.quorstedt@kundenpost.example"),
    (2, "bertil.yanosz@kundenpost.example"),
    (3, "corvina.eldham@kundenpost.example"),
    (5, "dagny.voskuijlen@gastpost.example"),
    (6, "emrik.tallqvist@gastpost.example"),
];

/// The columns that identify a row of `table` (the first column, unless the table is keyed
/// otherwise).
fn key_columns(table: &str) -> &'static [&'static str] {
    match table {
        "captcha_log" => &["type", "value"],
        "salesrule_coupon_usage" => &["coupon_id", "customer_id"],
        "vault_payment_token_order_payment_link" => &["order_payment_id", "payment_token_id"],
        "erasure_deferred" => &["table_name", "row_key"],
        _ => &[],
    }
}

fn int(v: &Value) -> u64 {
    match v {
        Value::Int(i) => u64::try_from(*i).expect("a positive id"),
        Value::Text(s) => s.parse().unwrap_or_else(|_| panic!("not an id: {s}")),
        other => panic!("not an id: {other:?}"),
    }
}

/// The subject a row belongs to by the seed's convention (0: the shop).
fn owner(table: &str, columns: &[String], row: &[Value]) -> u64 {
    let col = |name: &str| -> &Value {
        let at = columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {table}.{name}"));
        &row[at]
    };
    let id = match table {
        "captcha_log" => {
            let value = col("value").as_str().expect("text");
            return EMAILS
                .iter()
                .find(|(_, e)| *e == value)
                .map_or(0, |(n, _)| *n);
        }
        "salesrule_coupon_usage" | "login_as_customer" => int(col("customer_id")),
        _ => int(&row[0]),
    };
    if id < 100 { 0 } else { id / 100 }
}

/// Every row of every table of the shop (the ledger apart), by table and key, with its owner.
fn rows(d: &Dump) -> BTreeMap<(String, String), (u64, Vec<Value>)> {
    let mut out = BTreeMap::new();
    for table in d.tables() {
        if table == "erasure_deferred" {
            continue;
        }
        let t = d.table(table).expect("table");
        let keys = key_columns(table);
        for row in &t.rows {
            let key = if keys.is_empty() {
                show(&row[0])
            } else {
                keys.iter()
                    .map(|k| {
                        let at = t.columns.iter().position(|c| c == k).expect("key column");
                        show(&row[at])
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            };
            let who = owner(table, &t.columns, row);
            let previous = out.insert((table.to_owned(), key.clone()), (who, row.clone()));
            assert!(previous.is_none(), "two rows of {table} with key {key}");
        }
    }
    out
}

/// What the preset does to a subject's rows of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Deleted,
    Anonymized,
    Kept,
}
use Fate::{Anonymized, Deleted, Kept};

/// What erasing registered customer 1 does, table by table (every table where the seed gives
/// them rows); the page `docs/presets/magento2.md` says the same.
const CUSTOMER_FATES: &[(&str, Fate)] = &[
    ("captcha_log", Deleted),
    ("catalog_compare_item", Deleted),
    ("customer_address_entity", Deleted),
    ("customer_address_entity_datetime", Deleted),
    ("customer_address_entity_decimal", Deleted),
    ("customer_address_entity_int", Deleted),
    ("customer_address_entity_text", Deleted),
    ("customer_address_entity_varchar", Deleted),
    ("customer_entity", Deleted),
    ("customer_entity_datetime", Deleted),
    ("customer_entity_decimal", Deleted),
    ("customer_entity_int", Deleted),
    ("customer_entity_text", Deleted),
    ("customer_entity_varchar", Deleted),
    ("customer_grid_flat", Deleted),
    ("customer_log", Deleted),
    ("customer_visitor", Deleted),
    ("downloadable_link_purchased", Deleted),
    ("downloadable_link_purchased_item", Deleted),
    ("gift_message", Deleted),
    ("login_as_customer", Deleted),
    ("login_as_customer_assistance_allowed", Deleted),
    ("magento_login_as_customer_log", Anonymized),
    ("newsletter_problem", Deleted),
    ("newsletter_queue_link", Deleted),
    ("newsletter_subscriber", Deleted),
    ("oauth_token", Deleted),
    ("oauth_token_request_log", Deleted),
    ("password_reset_request_event", Deleted),
    ("paypal_billing_agreement", Deleted),
    ("paypal_billing_agreement_order", Deleted),
    ("persistent_session", Deleted),
    ("product_alert_price", Deleted),
    ("product_alert_stock", Deleted),
    ("quote", Anonymized),
    ("quote_address", Deleted),
    ("quote_item", Kept),
    ("quote_payment", Deleted),
    ("rating_option_vote", Deleted),
    ("report_compared_product_index", Deleted),
    ("report_event", Deleted),
    ("report_viewed_product_index", Deleted),
    ("review", Deleted),
    ("review_detail", Deleted),
    ("sales_creditmemo", Anonymized),
    ("sales_creditmemo_comment", Anonymized),
    ("sales_creditmemo_grid", Anonymized),
    ("sales_invoice", Anonymized),
    ("sales_invoice_comment", Anonymized),
    ("sales_invoice_grid", Anonymized),
    ("sales_order", Anonymized),
    ("sales_order_address", Anonymized),
    ("sales_order_grid", Anonymized),
    ("sales_order_item", Kept),
    ("sales_order_payment", Anonymized),
    ("sales_order_status_history", Anonymized),
    ("sales_shipment", Anonymized),
    ("sales_shipment_comment", Anonymized),
    ("sales_shipment_grid", Anonymized),
    ("salesrule_coupon_usage", Deleted),
    ("salesrule_customer", Deleted),
    ("vault_payment_token", Deleted),
    ("vault_payment_token_order_payment_link", Deleted),
    ("wishlist", Deleted),
    ("wishlist_item", Deleted),
];

/// What erasing guest 5 (by email) does, table by table.
const GUEST_FATES: &[(&str, Fate)] = &[
    ("downloadable_link_purchased", Kept),
    ("gift_message", Deleted),
    ("newsletter_queue_link", Deleted),
    ("newsletter_subscriber", Deleted),
    ("quote", Anonymized),
    ("quote_address", Deleted),
    ("quote_id_mask", Deleted),
    ("quote_item", Kept),
    ("quote_payment", Deleted),
    ("sales_invoice", Anonymized),
    ("sales_invoice_comment", Anonymized),
    ("sales_invoice_grid", Anonymized),
    ("sales_order", Anonymized),
    ("sales_order_address", Anonymized),
    ("sales_order_grid", Anonymized),
    ("sales_order_item", Kept),
    ("sales_order_payment", Anonymized),
    ("sales_order_status_history", Anonymized),
    ("sales_shipment", Anonymized),
    ("sales_shipment_comment", Anonymized),
    ("sales_shipment_grid", Anonymized),
];

/// Every row of every subject but `subject`, and of the shop, is unchanged; every row of
/// `subject` went the way `fates` says for its table, and every table where `subject` has rows
/// is in `fates` (and the other way round); nothing was added.
fn assert_fates(before: &Dump, after: &Dump, subject: u64, fates: &[(&str, Fate)]) {
    let (was, now) = (rows(before), rows(after));
    let fate_of: BTreeMap<&str, Fate> = fates.iter().copied().collect();
    let mut seen = BTreeSet::new();
    for ((table, key), (who, row)) in &was {
        let later = now.get(&(table.clone(), key.clone())).map(|(_, r)| r);
        if *who != subject {
            assert_eq!(
                later,
                Some(row),
                "{table} {key} of subject {who} changed (erasing subject {subject})"
            );
            continue;
        }
        let fate = *fate_of
            .get(table.as_str())
            .unwrap_or_else(|| panic!("{table} {key} of subject {subject}: no fate listed"));
        seen.insert(table.as_str());
        match fate {
            Deleted => assert_eq!(later, None, "{table} {key} should be deleted"),
            Kept => assert_eq!(later, Some(row), "{table} {key} should be kept as it was"),
            Anonymized => {
                let later = later.unwrap_or_else(|| panic!("{table} {key} should be kept"));
                assert_ne!(later, row, "{table} {key} should be anonymized");
            }
        }
    }
    let listed: BTreeSet<&str> = fates.iter().map(|(t, _)| *t).collect();
    assert_eq!(seen, listed, "the tables where subject {subject} has rows");
    let added: Vec<_> = now.keys().filter(|k| !was.contains_key(*k)).collect();
    assert!(added.is_empty(), "rows were added: {added:?}");
}

/// The value of `column` in the row of `table` whose first column is `id`.
fn cell(d: &Dump, table: &str, id: u64, column: &str) -> Option<Value> {
    let t = d.table(table)?;
    let at = t
        .columns
        .iter()
        .position(|c| c == column)
        .unwrap_or_else(|| panic!("no column {table}.{column}"));
    t.rows
        .iter()
        .find(|r| matches!(&r[0], Value::Int(i) if u64::try_from(*i).ok() == Some(id)))
        .map(|r| r[at].clone())
}

fn text(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::Text(s)) => Some(s),
        Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
        _ => None,
    }
}

/// The ledger's entries: `table:key`.
fn ledger(d: &Dump) -> BTreeSet<String> {
    d.table("erasure_deferred")
        .map(|t| {
            t.rows
                .iter()
                .map(|r| {
                    format!(
                        "{}:{}",
                        r[0].as_str().expect("table name"),
                        r[1].as_str().expect("key")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn needles(values: &[&str]) -> Vec<Needle> {
    values.iter().map(|v| Needle::new(*v, *v)).collect()
}

/// Customer 1's personal values, everywhere the seed writes them.
const CUSTOMER_VALUES: &[&str] = &[
    "Ilvana",
    "ILVANA",
    "ilvana",
    "Quorstedt",
    "QUORSTEDT",
    "ilvana.quorstedt@kundenpost.example",
    "+49 170 5550101",
    "Lindwurmweg",
    "Oberhollfeld",
    "91345",
    "DE812345671",
    "203.0.113.54",
    // The IP of a password reset request, as Magento stores it (ip2long).
    "3405803830",
    "B-1ILV100QRST",
    // Read as text on SQLite only (MariaDB returns dates as dates, which the scan skips).
    "1986-04-12",
];

/// Guest 5's personal values.
const GUEST_VALUES: &[&str] = &[
    "Dagny",
    "dagny",
    "Voskuijlen",
    "dagny.voskuijlen@gastpost.example",
    "+31 6 55500505",
    "Zeilweg",
    "Brakkendorp",
    "1234 AB",
    "192.0.2.77",
];

/// Values of the other subjects, which every erasure here keeps.
const OTHERS_VALUES: &[&str] = &[
    "Bertil",
    "Yanosz",
    "bertil.yanosz@kundenpost.example",
    "Kranichstieg",
    "198.51.100.23",
    "3325256727",
    "B-2BRT200YNSZ",
    "Corvina",
    "corvina.eldham@kundenpost.example",
    "Emrik",
    "Tallqvist",
    "emrik.tallqvist@gastpost.example",
    "Sjoevaegen",
    "192.0.2.99",
];

async fn assert_no_residue<DB: Backend>(pool: &sqlx::Pool<DB>, gone: &[&str]) {
    let mut conn = pool.acquire().await.expect("conn");
    let residue = scan::<DB>(&mut conn, &needles(gone)).await.expect("scan");
    assert!(residue.is_clean(), "{residue}");
    assert!(residue.tables_scanned >= 68, "{}", residue.tables_scanned);
    let kept = scan::<DB>(&mut conn, &needles(OTHERS_VALUES))
        .await
        .expect("scan");
    let found: BTreeSet<&str> = kept.hits.iter().map(|h| h.label.as_str()).collect();
    assert_eq!(found.len(), OTHERS_VALUES.len(), "{found:?}");
}

/// The columns coverage finds that the preset leaves as they are, with its reasons: every one
/// of them is in the preset's `[coverage] ignore`; nothing is uncovered.
const JUDGED: &[&str] = &[
    "magento_login_as_customer_log.user_id",
    "magento_login_as_customer_log.user_name",
    "quote_item.name",
    "sales_creditmemo_comment.user_id",
    "sales_invoice_comment.user_id",
    "sales_invoice_grid.store_name",
    "sales_order.coupon_rule_name",
    "sales_order.store_name",
    "sales_order_grid.store_name",
    "sales_order_item.name",
    "sales_order_status_history.entity_name",
    "sales_shipment_comment.user_id",
    "salesrule.name",
    "sendfriend_log.ip",
    "store.name",
];

/// `check_schema` passes on the fixture, and coverage over all of it finds nothing uncovered:
/// only the columns the preset lists under `[coverage] ignore`, each with its reason.
async fn the_preset_fits_the_schema_and_covers_it<DB: Fixture>(db: TestDb<DB>) {
    let config = preset();
    let chain = chain::<DB>(&config);
    let mut conn = db.pool.acquire().await.expect("conn");
    chain
        .check_schema(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let tables = config.subject_tables();
    let subject_tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    assert_eq!(subject_tables, ["customer_entity", "customer_entity"]);
    let found = chain
        .coverage(&mut conn, &subject_tables)
        .await
        .expect("coverage");
    let (uncovered, ignored) = judge(found, &config.coverage.ignore);
    assert!(uncovered.is_empty(), "{uncovered:#?}");
    let judged: Vec<String> = ignored
        .iter()
        .map(|i| format!("{}.{}", i.column.table, i.column.column))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(judged, JUDGED);
    assert!(ignored.iter().all(|i| !i.reason.trim().is_empty()));
    // No engine gap is left: the comments of invoices, shipments and credit memos are covered
    // by the rules that reach them through two parents, and judged nowhere.
    assert!(
        ignored.iter().all(|i| !i.reason.contains("NOT ERASED")),
        "{ignored:#?}"
    );
    let handlers: Vec<(u32, &str)> = chain
        .handlers()
        .map(|(position, h)| (position, h.name()))
        .filter(|(_, name)| name.ends_with("-comments"))
        .collect();
    assert_eq!(
        handlers,
        [
            (2, "invoice-comments"),
            (3, "shipment-comments"),
            (4, "creditmemo-comments"),
        ]
    );
    // Without them, coverage finds the comments again: the check can fail.
    let mut bare = config.clone();
    bare.rules.retain(|r| !r.name().ends_with("-comments"));
    let found = bare
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build")
        .coverage(&mut conn, &subject_tables)
        .await
        .expect("coverage");
    let (uncovered, _) = judge(found, &bare.coverage.ignore);
    let left: BTreeSet<String> = uncovered
        .iter()
        .map(|u| format!("{}.{}", u.table, u.column))
        .collect();
    assert_eq!(
        left,
        set(&[
            "sales_creditmemo_comment.comment",
            "sales_invoice_comment.comment",
            "sales_shipment_comment.comment",
        ])
    );
}

/// A registered customer: nothing of theirs is left anywhere, every row of theirs went the way
/// the page says, nobody else's row changed; the kept orders read as the preset anonymizes
/// them; the orders and carts wait in the ledger; erasing again finds nothing.
async fn a_customer_is_erased_as_the_page_says<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let chain = chain::<DB>(&preset());
    let before = snapshot(pool).await;
    let report = chain
        .erase(pool, &Erasure::new(Subject::customer(100)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = snapshot(pool).await;
    assert_fates(&before, &after, 1, CUSTOMER_FATES);
    assert_no_residue(pool, CUSTOMER_VALUES).await;

    let totals = report.totals();
    assert_eq!(
        (
            totals.deleted,
            totals.anonymized,
            totals.deferred,
            totals.retained
        ),
        (55, 23, 4, 1),
        "{report}"
    );
    // The handlers that found rows, by position.
    let positions = |p: u32| report.handler(p).map(|h| h.outcome.totals().sum());
    assert_eq!(positions(10), Some(4), "two carts, anonymized and deferred");
    assert_eq!(positions(30), Some(19), "{report}");
    // The comments of the invoice, the shipment and the credit memo, through them and the order,
    // before the order handler unlinks the orders.
    for position in [2, 3, 4] {
        assert_eq!(positions(position), Some(1), "{report}");
    }
    assert_eq!(positions(100), Some(2), "the address and the account");

    // The orders are kept as tax records: amounts, status, country and region stay.
    let order = |column: &str| cell(&after, "sales_order", 130, column);
    assert_eq!(order("customer_id"), Some(Value::Null));
    for column in [
        "customer_email",
        "customer_firstname",
        "customer_lastname",
        "customer_dob",
        "customer_taxvat",
        "customer_note",
        "ext_customer_id",
        "x_forwarded_for",
    ] {
        assert_eq!(order(column), Some(Value::Null), "sales_order.{column}");
    }
    assert_eq!(text(order("remote_ip")).as_deref(), Some("203.0.113.0"));
    assert_eq!(text(order("increment_id")).as_deref(), Some("000000130"));
    assert_eq!(text(order("status")).as_deref(), Some("complete"));
    assert_eq!(
        text(order("coupon_rule_name")).as_deref(),
        Some("Spring ten percent")
    );
    let address = |column: &str| cell(&after, "sales_order_address", 131, column);
    for column in [
        "firstname",
        "lastname",
        "street",
        "city",
        "postcode",
        "telephone",
        "email",
    ] {
        assert_eq!(
            address(column),
            Some(Value::Null),
            "sales_order_address.{column}"
        );
    }
    assert_eq!(text(address("country_id")).as_deref(), Some("DE"));
    assert_eq!(text(address("region")).as_deref(), Some("Bayern"));
    assert_eq!(
        text(cell(&after, "sales_order_item", 131, "name")).as_deref(),
        Some("E-book: glaze recipes")
    );
    for (table, id) in [("sales_shipment_grid", 145), ("sales_creditmemo_grid", 148)] {
        assert_eq!(
            text(cell(&after, table, id, "customer_name")).as_deref(),
            Some("anonymized"),
            "{table}.customer_name is NOT NULL"
        );
    }
    assert_eq!(
        cell(&after, "sales_shipment", 145, "shipping_label"),
        Some(Value::Null)
    );
    // The comments of the documents: the text gone, the row kept with its document (who wrote
    // it, when); the other customer's identical comment stays.
    for (table, id) in [
        ("sales_invoice_comment", 140),
        ("sales_shipment_comment", 145),
        ("sales_creditmemo_comment", 148),
    ] {
        assert_eq!(
            cell(&after, table, id, "comment"),
            Some(Value::Null),
            "{table}"
        );
        for column in ["parent_id", "created_at", "user_id", "user_type"] {
            let was = cell(&before, table, id, column);
            assert!(was.is_some(), "{table}.{column}");
            assert_eq!(cell(&after, table, id, column), was, "{table}.{column}");
        }
    }
    assert_eq!(
        text(cell(&after, "sales_invoice_comment", 240, "comment")).as_deref(),
        Some("Paid by bank transfer, reference checked")
    );
    // Carts: unlinked, without the buyer, items kept for the purge.
    for column in [
        "customer_id",
        "customer_email",
        "customer_firstname",
        "remote_ip",
    ] {
        assert_eq!(
            cell(&after, "quote", 110, column),
            Some(Value::Null),
            "{column}"
        );
    }
    assert_eq!(cell(&after, "quote", 110, "is_active"), Some(Value::Int(1)));
    // The admin's "login as customer" record stays, without the customer.
    let log = |column: &str| cell(&after, "magento_login_as_customer_log", 100, column);
    assert_eq!(log("customer_id"), Some(Value::Null));
    assert_eq!(log("customer_email"), Some(Value::Null));
    assert_eq!(text(log("user_name")).as_deref(), Some("shopadmin"));
    // A visitor's report event with the same number as the customer stays (subtype 1).
    assert_eq!(
        cell(&after, "report_event", 40, "subject_id"),
        Some(Value::Int(100))
    );

    assert_eq!(
        ledger(&after),
        set(&[
            "quote:110",
            "quote:115",
            "sales_order:130",
            "sales_order:132"
        ])
    );
    let again = chain
        .erase(pool, &Erasure::new(Subject::customer(100)))
        .await
        .expect("again");
    assert!(again.is_noop(), "{again}");
    assert_eq!(after.diff(&snapshot(pool).await), None);
}

/// A guest, found by email: their carts, orders, newsletter subscription and gift message go
/// the way the page says; nothing of theirs is left; nobody else's row changed.
async fn a_guest_is_erased_as_the_page_says<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let chain = chain::<DB>(&preset());
    let before = snapshot(pool).await;
    let guest = Subject::guest("dagny.voskuijlen@gastpost.example").expect("email");
    let report = chain
        .erase(pool, &Erasure::new(guest.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = snapshot(pool).await;
    assert_fates(&before, &after, 5, GUEST_FATES);
    assert_no_residue(pool, GUEST_VALUES).await;
    let totals = report.totals();
    assert_eq!(
        (totals.deleted, totals.anonymized, totals.deferred),
        (7, 13, 2),
        "{report}"
    );
    // The comments of the guest's invoice and shipment, reached through the order by email.
    for (table, id) in [
        ("sales_invoice_comment", 540),
        ("sales_shipment_comment", 545),
    ] {
        assert_eq!(
            cell(&after, table, id, "comment"),
            Some(Value::Null),
            "{table}"
        );
    }
    assert_eq!(
        text(cell(&after, "sales_order", 530, "remote_ip")).as_deref(),
        Some("192.0.2.0")
    );
    assert_eq!(
        cell(&after, "sales_order", 530, "customer_email"),
        Some(Value::Null)
    );
    assert_eq!(
        cell(&after, "sales_order", 530, "customer_is_guest"),
        Some(Value::Int(1))
    );
    assert_eq!(ledger(&after), set(&["quote:510", "sales_order:530"]));
    // The other guest's newsletter subscription (customer_id 0 too) stays.
    assert_eq!(
        text(cell(
            &after,
            "newsletter_subscriber",
            660,
            "subscriber_email"
        ))
        .as_deref(),
        Some("emrik.tallqvist@gastpost.example")
    );
    let again = chain
        .erase(pool, &Erasure::new(guest))
        .await
        .expect("again");
    assert!(again.is_noop(), "{again}");
}

/// Years later the purge jobs delete the deferred orders (with their addresses, items,
/// payments, grids, invoices, shipments and credit memos) and carts (with their items), and
/// forget them in the ledger; the other subjects' orders and carts stay.
async fn the_purge_jobs_delete_what_was_deferred<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let config = preset();
    let chain = chain::<DB>(&config);
    chain
        .erase(pool, &Erasure::new(Subject::customer(100)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let jobs =
        erasure::jobs::standard_jobs(&config.mappings, &config.retention, &config.jobs, &chain);
    let later = Utc
        .with_ymd_and_hms(2031, 6, 1, 0, 0, 0)
        .single()
        .expect("time");
    let before = snapshot(pool).await;
    for name in ["order-purge", "basket-purge"] {
        let job = jobs
            .iter()
            .find(|j| j.name() == name)
            .unwrap_or_else(|| panic!("no job {name}"));
        JobRunner::new()
            .clock(FixedClock(later))
            .run(pool, job.as_ref(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let after = snapshot(pool).await;
    // Order 132 is still `processing`: never purged while it is being processed.
    assert_eq!(ledger(&after), set(&["sales_order:132"]));
    let (was, now) = (rows(&before), rows(&after));
    let gone: BTreeSet<(String, u64)> = was
        .keys()
        .filter(|k| !now.contains_key(*k))
        .map(|(t, k)| (t.clone(), k.trim_matches('"').parse::<u64>().expect("id")))
        .collect();
    let expected: BTreeSet<(String, u64)> = [
        ("quote", 110),
        ("quote", 115),
        ("quote_item", 110),
        ("quote_item", 111),
        ("quote_item", 115),
        ("sales_order", 130),
        ("sales_order_item", 130),
        ("sales_order_item", 131),
        ("sales_order_address", 130),
        ("sales_order_address", 131),
        ("sales_order_payment", 130),
        ("sales_order_grid", 130),
        ("sales_order_status_history", 130),
        ("sales_invoice", 140),
        ("sales_invoice_grid", 140),
        ("sales_invoice_comment", 140),
        ("sales_shipment", 145),
        ("sales_shipment_grid", 145),
        ("sales_shipment_comment", 145),
        ("sales_creditmemo", 148),
        ("sales_creditmemo_grid", 148),
        ("sales_creditmemo_comment", 148),
    ]
    .into_iter()
    .map(|(t, k)| (t.to_owned(), k))
    .collect();
    assert_eq!(gone, expected);
    for ((table, key), (_, row)) in &now {
        assert_eq!(
            was.get(&(table.clone(), key.clone())).map(|(_, r)| r),
            Some(row)
        );
    }
}

/// The file that names the preset extends it: a rule for a table of its own (a loyalty
/// extension's), and another strategy for one column of the orders.
const EXTENDED: &str = r#"
preset = "magento2"

[[rules]]
name = "loyalty-cards"
position = 96
table = "vendor_loyalty_card"
subject = { customer = "customer_id" }
action = "delete"
key = "card_id"

[mappings.order.anonymize]
remote_ip = "null"
"#;

/// A rule added in the file and a strategy overridden in it take effect; the rest of the preset
/// still applies.
async fn the_preset_is_extended_in_the_same_file<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    DB::load(
        pool,
        "CREATE TABLE vendor_loyalty_card (card_id INT NOT NULL PRIMARY KEY, \
         customer_id INT NOT NULL, card_number VARCHAR(32) NOT NULL, holder_name VARCHAR(255));
         INSERT INTO vendor_loyalty_card (card_id, customer_id, card_number, holder_name) \
         VALUES (100, 100, 'LC-0100-7731', 'Ilvana Quorstedt'), \
         (200, 200, 'LC-0200-1182', 'Bertil Yanosz');",
    )
    .await;

    // The preset alone does not know the table: coverage says so.
    let plain = preset();
    let mut conn = pool.acquire().await.expect("conn");
    let found = chain::<DB>(&plain)
        .coverage(&mut conn, &["customer_entity"])
        .await
        .expect("coverage");
    let (uncovered, _) = judge(found, &plain.coverage.ignore);
    let names: Vec<String> = uncovered
        .iter()
        .map(|u| format!("{}.{}", u.table, u.column))
        .collect();
    assert_eq!(
        names,
        [
            "vendor_loyalty_card.customer_id",
            "vendor_loyalty_card.holder_name"
        ]
    );

    let config = Configuration::from_toml(EXTENDED).expect("extended");
    let chain = chain::<DB>(&config);
    chain.check_schema(&mut conn).await.expect("schema");
    let found = chain
        .coverage(&mut conn, &["customer_entity"])
        .await
        .expect("coverage");
    let (uncovered, ignored) = judge(found, &config.coverage.ignore);
    assert!(uncovered.is_empty(), "{uncovered:#?}");
    assert_eq!(ignored.len(), JUDGED.len());
    drop(conn);

    let before = snapshot(pool).await;
    let report = chain
        .erase(pool, &Erasure::new(Subject::customer(100)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = snapshot(pool).await;
    let mut fates = CUSTOMER_FATES.to_vec();
    fates.push(("vendor_loyalty_card", Deleted));
    assert_fates(&before, &after, 1, &fates);
    assert_eq!(
        report.handler(96).map(|h| h.outcome.totals().deleted),
        Some(1)
    );
    assert_eq!(
        text(cell(&after, "vendor_loyalty_card", 200, "holder_name")).as_deref(),
        Some("Bertil Yanosz")
    );
    for id in [130, 132] {
        // The overridden strategy: the IP is gone, not truncated.
        assert_eq!(
            cell(&after, "sales_order", id, "remote_ip"),
            Some(Value::Null)
        );
        // The preset's other strategies still apply.
        assert_eq!(
            cell(&after, "sales_order", id, "customer_email"),
            Some(Value::Null)
        );
    }
    assert_eq!(
        text(cell(&after, "sales_shipment_grid", 145, "customer_name")).as_deref(),
        Some("anonymized")
    );
    assert_no_residue(pool, CUSTOMER_VALUES).await;
}

/// A failure late in the chain, after every handler but the account's has written, rolls
/// everything back: the database is exactly as before, the ledger included; the erasure then
/// succeeds.
async fn a_failure_halfway_leaves_the_database_as_it_was<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let config = preset();
    let before = snapshot(pool).await;
    for (subject, fault) in [
        (Subject::customer(100), Fault::Error),
        (Subject::customer(100), Fault::Panic),
        (
            Subject::guest("dagny.voskuijlen@gastpost.example").expect("email"),
            Fault::Error,
        ),
    ] {
        // At 97: after the carts (10), orders (30) and every rule up to 95 have written, before
        // the account (100); it first deletes every order item, to prove its own writes roll back.
        let faulty = config
            .chain::<DB>(None)
            .expect("chain")
            .register(
                97,
                FaultHandler::always("injected-fault", fault)
                    .wiping(Ident::new("sales_order_item").expect("ident")),
            )
            .build()
            .expect("chain");
        let err = faulty
            .erase(pool, &Erasure::new(subject))
            .await
            .expect_err("the fault stops the erasure");
        assert_eq!(err.position(), Some(97), "{err}");
        assert_eq!(before.diff(&snapshot(pool).await), None, "{fault:?}");
    }
    let report = chain::<DB>(&config)
        .erase(pool, &Erasure::new(Subject::customer(100)))
        .await
        .expect("then it succeeds");
    assert_eq!(report.totals().deleted, 55);
}

/// An erasure request switches the account off at once in Magento's own flag, `is_active`: of
/// that customer only, and nothing else of the shop changes.
async fn an_erasure_request_switches_the_account_off<DB: Fixture>(db: TestDb<DB>) {
    use erasure::requests::{RequestKind, Requests};
    let pool = &db.pool;
    let key = erasure::PseudonymKey::from_hex("00112233445566778899aabbccddeeff").expect("key");
    let store = Requests::<DB>::new(key).config(preset().requests.clone());
    store.install(pool).await.expect("install");
    let before = snapshot(pool).await;
    store
        .submit(
            pool,
            RequestKind::Erasure,
            Some(Subject::customer(100)),
            Some("requester@example.test"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = snapshot(pool).await;
    let shop: Vec<String> = before
        .changes(&after)
        .into_iter()
        .filter(|c| !c.table.starts_with("erasure_"))
        .map(|c| c.table)
        .collect();
    assert_eq!(shop, ["customer_entity"], "one row of the shop changes");
    let active = |id| cell(&after, "customer_entity", id, "is_active").map(|v| int(&v));
    assert_eq!((active(100), active(200)), (Some(0), Some(1)));
}

preset_tests!(
    the_preset_fits_the_schema_and_covers_it,
    an_erasure_request_switches_the_account_off,
    a_customer_is_erased_as_the_page_says,
    a_guest_is_erased_as_the_page_says,
    the_purge_jobs_delete_what_was_deferred,
    the_preset_is_extended_in_the_same_file,
    a_failure_halfway_leaves_the_database_as_it_was,
);
