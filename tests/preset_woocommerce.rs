//! The `woocommerce` preset on a fixture of WordPress + WooCommerce 8+/9 core tables (HPOS,
//! prefix `wp_`, `tests/fixtures/presets/woocommerce/`), in fresh empty databases: SQLite (a
//! file) and MariaDB. What each test proves is listed in `docs/presets/woocommerce.md`.
//!
//! The seed's ids say whose a row is: the rows of subject N (users 1100, 1200, 1300; guests 21
//! and 22) take ids N*100 .. N*100+99 in every table's first column; ids below 100 are the
//! shop's. So every row change is checked against exactly the rows the preset page describes.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use erasure::clock::FixedClock;
use erasure::job::JobRunner;

use erasure::config::Configuration;
use erasure::{Backend, Chain, Erasure, Ident, Report, Subject, Value};
use erasure_testkit::Needle;
use erasure_testkit::dump::{Change, Dump, dump};
use erasure_testkit::fault::{Fault, FaultHandler};
use erasure_testkit::residue::scan;
use erasure_testkit::{TestBackend, TestDb};

const SEED: &str = include_str!("fixtures/presets/woocommerce/seed.sql");

/// A backend with the fixture's DDL (WooCommerce runs on MySQL/MariaDB; SQLite for the tests
/// that need no server).
trait Fixture: TestBackend {
    fn load(pool: &sqlx::Pool<Self>, sql: &'static str) -> impl Future<Output = ()> + Send;
    const DDL: &'static str;
}

impl Fixture for sqlx::Sqlite {
    const DDL: &'static str = include_str!("fixtures/presets/woocommerce/sqlite.sql");
    async fn load(pool: &sqlx::Pool<Self>, sql: &'static str) {
        sqlx::raw_sql(sql).execute(pool).await.expect("fixture sql");
    }
}

#[cfg(feature = "mysql")]
impl Fixture for sqlx::MySql {
    const DDL: &'static str = include_str!("fixtures/presets/woocommerce/mysql.sql");
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

/// A fresh empty database with the fixture and the library's deferral ledger (the preset defers
/// orders to it), or `None` when its server is unreachable and that is allowed.
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
    Configuration::from_toml("preset = \"woocommerce\"").expect("the preset reads")
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

/// A row's id, from the dump's rendering of its first column.
fn id_of(key: &str) -> u64 {
    key.trim_matches('"')
        .parse()
        .unwrap_or_else(|_| panic!("not a numeric id: {key}"))
}

/// The subject a row belongs to by the seed's id convention (0: the shop).
fn owner(id: u64) -> u64 {
    if id < 100 { 0 } else { id / 100 }
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
        .find(|r| r.first().is_some_and(|v| value_id(v) == Some(id)))
        .map(|r| r[at].clone())
}

fn value_id(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        Value::Text(s) => s.parse().ok(),
        _ => None,
    }
}

/// A cell as text, whatever type the backend decodes it as.
fn text(v: &Option<Value>) -> Option<String> {
    match v.as_ref()? {
        Value::Null => None,
        Value::Text(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        other => Some(format!("{other:?}")),
    }
}

type Changes = BTreeSet<(String, u64, &'static str)>;

/// Every row change between two dumps but the ledger's, as (table, id, what).
fn changes(before: &Dump, after: &Dump) -> Changes {
    before
        .changes(after)
        .into_iter()
        .filter(|c| c.table != "erasure_deferred")
        .map(|c| {
            let what = match c.change {
                Change::Removed => "deleted",
                Change::Changed => "changed",
                Change::Added => "added",
            };
            (c.table, id_of(&c.key), what)
        })
        .collect()
}

fn expect(rows: &[(&str, &[u64], &'static str)]) -> Changes {
    rows.iter()
        .flat_map(|(table, ids, what)| ids.iter().map(move |id| ((*table).to_owned(), *id, *what)))
        .collect()
}

/// The order ids the ledger holds, sorted.
fn ledger(d: &Dump) -> Vec<String> {
    let t = d.table("erasure_deferred").expect("ledger table");
    let table = t.columns.iter().position(|c| c == "table_name");
    let mut keys: Vec<String> = t
        .rows
        .iter()
        .map(|r| {
            if let Some(at) = table {
                assert_eq!(r[at], Value::Text("wp_wc_orders".into()), "{r:?}");
            }
            text(&Some(r[1].clone())).expect("a key")
        })
        .collect();
    keys.sort();
    keys
}

fn needles(values: &[&str]) -> Vec<Needle> {
    values.iter().map(|v| Needle::new(*v, *v)).collect()
}

/// Asserts none of `gone` is anywhere in the database, and every one of `kept` still is.
async fn assert_residue<DB: Backend>(pool: &sqlx::Pool<DB>, gone: &[&str], kept: &[&str]) {
    let mut conn = pool.acquire().await.expect("conn");
    let residue = scan::<DB>(&mut conn, &needles(gone)).await.expect("scan");
    assert!(residue.is_clean(), "{residue}");
    let found = scan::<DB>(&mut conn, &needles(kept)).await.expect("scan");
    for k in kept {
        assert!(
            found.hits.iter().any(|h| h.label == *k),
            "{k} belongs to someone else and was lost"
        );
    }
}

/// Every personal value of user 1100 (Wilhelmina Quackenbush) the seed writes.
const WILHELMINA: &[&str] = &[
    "Wilhelmina",
    "Quackenbush",
    "wquackenbush",
    "wilhelmina.quackenbush@example.org",
    "quackenbush.example.org",
    "w.quack.paypal@example.org",
    "+49 3946 511011",
    "Gaertnerweg",
    "Hinterhaus links",
    "Quedlinburg",
    "06484",
    "198.51.11.45",
    "198.51.11.46",
    "198.51.11.47",
    "QuackFox",
    "Ottilie Grasmueck",
    "PAYID-QB11-7F3K",
    "tok_quack_11",
    "qb11x7",
    "Die Kobaltvase kam heil an",
    "Salzglasur aus dem Harz",
    "Qk11quackHash",
];

/// Every personal value of guest 21 (Cornelius Ambergast) the seed writes.
const CORNELIUS: &[&str] = &[
    "Cornelius",
    "Ambergast",
    "c.ambergast@example.net",
    "ambergast.example.net",
    "ambergast.pay@example.net",
    "+31 20 555 0121",
    "Zonnebloemstraat",
    "bovenwoning",
    "Zwolle",
    "8011 AB",
    "192.0.2.121",
    "192.0.2.122",
    "AmberChrome",
    "PAYID-AG21-9X2M",
    "ambergast21",
    "vaas te zwaar",
];

/// Values of the others (user 1200, user 1300, guest 22) and of the shop, which stay.
const OTHERS: &[&str] = &[
    "Bartholomew",
    "Fiddlesticks",
    "bart.fiddlesticks@example.com",
    "2001:db8:12:ab::14",
    "Ottoline",
    "Wrenfield",
    "ottoline.wrenfield@example.net",
    "13 Rue des Hirondelles",
    "Philippa",
    "Dunwoody",
    "philippa.dunwoody@example.com",
    "22 Maple Hollow Road",
    "198.18.22.9",
    "shopowner@shop.example",
    "Shop Owner",
];

/// The preset fits the fixture, and coverage finds every column that refers to a user or looks
/// personal covered, but for exactly the columns the preset judges in `[coverage] ignore`.
async fn the_preset_fits_and_covers_the_woocommerce_schema<DB: Fixture>(db: TestDb<DB>) {
    let config = preset();
    let chain = chain::<DB>(&config);
    let mut conn = db.pool.acquire().await.expect("conn");
    chain
        .check_schema(&mut conn)
        .await
        .expect("the preset's tables and columns are in the fixture");
    let subject_tables = config.subject_tables();
    let tables: Vec<&str> = subject_tables.iter().map(String::as_str).collect();
    assert_eq!(tables, ["wp_users", "wp_users"]);
    let found = chain.coverage(&mut conn, &tables).await.expect("coverage");
    let (uncovered, ignored) = erasure::coverage::judge(found, &config.coverage.ignore);
    assert!(uncovered.is_empty(), "not covered: {uncovered:#?}");
    let mut ignored: Vec<String> = ignored
        .iter()
        .map(|i| format!("{}.{}", i.column.table, i.column.column))
        .collect();
    ignored.sort();
    assert_eq!(
        ignored,
        [
            "wp_options.option_name",
            "wp_posts.post_name",
            "wp_wc_webhooks.name",
            "wp_woocommerce_order_items.order_item_name",
        ],
        "the columns judged in [coverage] ignore, each found by coverage"
    );
    assert!(
        config.coverage.ignore.iter().all(|i| !i.reason.is_empty()),
        "every judgement has its reason"
    );
}

/// The rows of user 1100 the preset page says change, and how.
fn wilhelmina_changes() -> Changes {
    expect(&[
        ("wp_users", &[1100], "deleted"),
        ("wp_usermeta", &(1101..=1124).collect::<Vec<_>>(), "deleted"),
        ("wp_woocommerce_sessions", &[1101], "deleted"),
        ("wp_wc_customer_lookup", &[1101], "deleted"),
        ("wp_wc_orders", &[1101, 1102], "changed"),
        (
            "wp_wc_order_addresses",
            &[1101, 1102, 1103, 1104],
            "changed",
        ),
        (
            "wp_wc_orders_meta",
            &[
                1104, 1106, 1107, 1108, 1109, 1110, 1111, 1115, 1117, 1118, 1119,
            ],
            "deleted",
        ),
        ("wp_wc_order_stats", &[1101, 1102, 1103], "changed"),
        ("wp_wc_order_product_lookup", &[1101, 1103], "changed"),
        ("wp_comments", &[1101, 1102, 1103], "deleted"),
        // The notes' meta, through the notes, through the orders.
        ("wp_commentmeta", &[1101, 1102, 1103], "deleted"),
        ("wp_comments", &[1104, 1105], "changed"),
        ("wp_woocommerce_payment_tokens", &[1101], "deleted"),
        (
            "wp_woocommerce_payment_tokenmeta",
            &[1101, 1102, 1103, 1104],
            "deleted",
        ),
        ("wp_woocommerce_api_keys", &[1101], "deleted"),
        ("wp_wc_webhooks", &[1101], "changed"),
        (
            "wp_woocommerce_downloadable_product_permissions",
            &[1101],
            "deleted",
        ),
        ("wp_wc_download_log", &[1101, 1102], "deleted"),
        (
            "wp_postmeta",
            &[1101, 1102, 1103, 1104, 1105, 1106, 1107, 1108, 1109],
            "deleted",
        ),
        ("wp_posts", &[1101], "changed"),
    ])
}

/// The rows of guest 21 the preset page says change, and how.
fn cornelius_changes() -> Changes {
    expect(&[
        ("wp_wc_customer_lookup", &[2101], "deleted"),
        ("wp_wc_orders", &[2101, 2102], "changed"),
        (
            "wp_wc_order_addresses",
            &[2101, 2102, 2103, 2104],
            "changed",
        ),
        (
            "wp_wc_orders_meta",
            &[2104, 2106, 2107, 2108, 2109, 2110, 2111, 2115, 2117, 2118],
            "deleted",
        ),
        ("wp_wc_order_stats", &[2101, 2102], "changed"),
        ("wp_wc_order_product_lookup", &[2101, 2103], "changed"),
        ("wp_comments", &[2101, 2102, 2103], "deleted"),
        // The notes' meta, through the notes, through the orders found by email.
        ("wp_commentmeta", &[2101, 2102, 2103], "deleted"),
        ("wp_comments", &[2104], "changed"),
        (
            "wp_woocommerce_downloadable_product_permissions",
            &[2101],
            "deleted",
        ),
        ("wp_wc_download_log", &[2101, 2102], "deleted"),
        ("wp_postmeta", &[2101, 2102, 2103, 2104, 2105], "deleted"),
        ("wp_posts", &[2101], "changed"),
    ])
}

fn count(changes: &Changes, what: &str) -> u64 {
    changes.iter().filter(|c| c.2 == what).count() as u64
}

/// The kept order `id`: unlinked, without the person, the IP's network kept; what was sold,
/// for how much, when and how paid unchanged.
fn assert_order_kept(before: &Dump, after: &Dump, id: u64, network: &str) {
    let t = "wp_wc_orders";
    assert_eq!(
        text(&cell(after, t, id, "customer_id")).as_deref(),
        Some("0")
    );
    for column in [
        "billing_email",
        "user_agent",
        "customer_note",
        "transaction_id",
    ] {
        assert_eq!(cell(after, t, id, column), Some(Value::Null), "{column}");
    }
    assert_eq!(
        text(&cell(after, t, id, "ip_address")).as_deref(),
        Some(network)
    );
    for column in [
        "status",
        "currency",
        "type",
        "tax_amount",
        "total_amount",
        "date_created_gmt",
        "payment_method",
        "payment_method_title",
    ] {
        assert_eq!(
            cell(after, t, id, column),
            cell(before, t, id, column),
            "{column} is kept"
        );
        assert!(cell(after, t, id, column).is_some_and(|v| v != Value::Null));
    }
}

/// An order address: the person gone, the country and state kept.
fn assert_address_kept(before: &Dump, after: &Dump, id: u64) {
    let t = "wp_wc_order_addresses";
    for column in [
        "first_name",
        "last_name",
        "company",
        "address_1",
        "address_2",
        "city",
        "postcode",
        "email",
        "phone",
    ] {
        assert_eq!(cell(after, t, id, column), Some(Value::Null), "{column}");
    }
    for column in ["order_id", "address_type", "state", "country"] {
        assert_eq!(
            cell(after, t, id, column),
            cell(before, t, id, column),
            "{column}"
        );
    }
}

/// A review or comment: kept in its thread, anonymous, without its text, as WordPress's own
/// eraser leaves it.
fn assert_comment_anonymous(before: &Dump, after: &Dump, id: u64) {
    let t = "wp_comments";
    let get = |column: &str| text(&cell(after, t, id, column)).unwrap_or_default();
    assert_eq!(get("comment_author"), "Anonymous");
    assert_eq!(get("comment_author_email"), "");
    assert_eq!(get("comment_author_url"), "");
    assert_eq!(get("comment_author_IP"), "");
    assert_eq!(get("comment_agent"), "");
    assert_eq!(
        get("comment_content"),
        "This content was deleted by the author."
    );
    assert_eq!(get("user_id"), "0");
    for column in [
        "comment_post_ID",
        "comment_type",
        "comment_date_gmt",
        "comment_approved",
    ] {
        assert_eq!(
            cell(after, t, id, column),
            cell(before, t, id, column),
            "{column}"
        );
    }
}

/// A registered customer (user 1100): deleted, anonymized and kept exactly as the preset page
/// says; nothing of theirs is left anywhere; every row of the others and of the shop unchanged.
async fn a_registered_customer_is_erased_as_documented<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let chain = chain::<DB>(&preset());
    let before = snapshot(pool).await;
    let report = chain
        .erase(pool, &Erasure::new(Subject::customer(1100)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = snapshot(pool).await;

    let expected = wilhelmina_changes();
    let actual = changes(&before, &after);
    let missing: Vec<_> = expected.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "expected but not done: {missing:#?}\ndone but not expected: {extra:#?}"
    );
    assert!(actual.iter().all(|(_, id, _)| owner(*id) == 11));
    assert_totals(&report, &expected, 2, 4);
    // The notes' meta goes first (position 21), through the notes and the orders that
    // `order-notes` (28) and the order handler (30) then delete and unlink.
    let at = |position: u32| report.handler(position).map(|h| h.outcome.totals().deleted);
    assert_eq!((at(21), at(28)), (Some(3), Some(3)), "{report:?}");
    // The rating and "verified" meta of the customer's review stay with the review.
    for meta in [1104, 1105] {
        assert_eq!(
            cell(&after, "wp_commentmeta", meta, "meta_value"),
            cell(&before, "wp_commentmeta", meta, "meta_value")
        );
    }

    for order in [1101, 1102] {
        assert_order_kept(&before, &after, order, "198.51.11.0");
    }
    for address in 1101..=1104 {
        assert_address_kept(&before, &after, address);
    }
    for comment in [1104, 1105] {
        assert_comment_anonymous(&before, &after, comment);
    }
    assert_eq!(
        ledger(&after),
        ["1101", "1102"],
        "the orders wait for the purge"
    );
    // Analytics rows stay for the shop's reports, unlinked from the deleted customer record.
    for stats in [1101, 1102, 1103] {
        let id = cell(&after, "wp_wc_order_stats", stats, "customer_id");
        assert_eq!(text(&id).as_deref(), Some("0"), "order stats {stats}");
        assert_eq!(
            cell(&after, "wp_wc_order_stats", stats, "total_sales"),
            cell(&before, "wp_wc_order_stats", stats, "total_sales")
        );
    }
    for item in [1101, 1103] {
        let id = cell(&after, "wp_wc_order_product_lookup", item, "customer_id");
        assert_eq!(id, Some(Value::Null), "product lookup {item}");
    }
    // The webhook the user created stays, without its creator.
    assert_eq!(
        text(&cell(&after, "wp_wc_webhooks", 1101, "user_id")).as_deref(),
        Some("0")
    );
    assert_eq!(
        text(&cell(&after, "wp_wc_webhooks", 1101, "delivery_url")).as_deref(),
        Some("https://erp.shop.example/orders")
    );
    // The pre-HPOS copy of order 1101: the customer's note cleared, the personal meta gone,
    // the amounts and the country kept.
    assert_eq!(
        text(&cell(&after, "wp_posts", 1101, "post_excerpt")).as_deref(),
        Some("")
    );
    assert_eq!(
        text(&cell(&after, "wp_posts", 1101, "post_type")).as_deref(),
        Some("shop_order")
    );
    assert_eq!(
        text(&cell(&after, "wp_postmeta", 1110, "meta_value")).as_deref(),
        Some("54.80")
    );
    assert_eq!(
        text(&cell(&after, "wp_postmeta", 1111, "meta_value")).as_deref(),
        Some("DE")
    );
    // What was sold stays with the order, for the purge.
    assert_eq!(
        text(&cell(
            &after,
            "wp_woocommerce_order_items",
            1101,
            "order_item_name"
        ))
        .as_deref(),
        Some("Steingut-Vase Kobalt")
    );

    assert_residue(pool, WILHELMINA, &[OTHERS, CORNELIUS].concat()).await;

    // Erasing again finds nothing more and defers nothing twice.
    let again = chain
        .erase(pool, &Erasure::new(Subject::customer(1100)))
        .await
        .expect("again");
    assert!(again.is_noop(), "{again:?}");
    assert_eq!(snapshot(pool).await.diff(&after), None);
}

/// The report counts what the dump shows: deleted rows, anonymized rows, deferred orders, and
/// the rows kept on purpose (reviews and comments, webhooks, pre-HPOS order posts).
fn assert_totals(report: &Report, expected: &Changes, deferred: u64, retained: u64) {
    let totals = report.totals();
    assert_eq!(totals.retained, retained, "{report:?}");
    assert_eq!(totals.deleted, count(expected, "deleted"), "{report:?}");
    assert_eq!(totals.anonymized, count(expected, "changed"), "{report:?}");
    assert_eq!(totals.deferred, deferred, "{report:?}");
}

/// A guest (guest 21, found by the email of their orders; `customer_id` 0 marks a guest):
/// deleted, anonymized and kept exactly as the preset page says; nothing of theirs is left.
async fn a_guest_is_erased_as_documented<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let chain = chain::<DB>(&preset());
    let before = snapshot(pool).await;
    let report = chain
        .erase(
            pool,
            &Erasure::new(Subject::guest("c.ambergast@example.net").expect("email")),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = snapshot(pool).await;

    let expected = cornelius_changes();
    let actual = changes(&before, &after);
    let missing: Vec<_> = expected.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "expected but not done: {missing:#?}\ndone but not expected: {extra:#?}"
    );
    assert!(actual.iter().all(|(_, id, _)| owner(*id) == 21));
    assert_totals(&report, &expected, 2, 2);
    assert_eq!(
        report.handler(21).map(|h| h.outcome.totals().deleted),
        Some(3),
        "the meta of the guest's order notes: {report:?}"
    );

    assert_order_kept(&before, &after, 2101, "192.0.2.0");
    assert_order_kept(&before, &after, 2102, "192.0.2.0");
    for address in 2101..=2104 {
        assert_address_kept(&before, &after, address);
    }
    assert_comment_anonymous(&before, &after, 2104);
    assert_eq!(ledger(&after), ["2101", "2102"]);
    // The guest's session is keyed by a random id, holds no personal value, and stays.
    assert_eq!(
        cell(&after, "wp_woocommerce_sessions", 2101, "session_value"),
        cell(&before, "wp_woocommerce_sessions", 2101, "session_value")
    );

    assert_residue(pool, CORNELIUS, &[OTHERS, WILHELMINA].concat()).await;
}

/// The extension table of a loyalty plugin, which the extended configuration covers.
fn loyalty_table(dialect: erasure::Dialect) -> &'static str {
    match dialect {
        erasure::Dialect::MySql => {
            "CREATE TABLE wp_loyalty_points (id bigint(20) unsigned NOT NULL PRIMARY KEY, \
             user_id bigint(20) unsigned NOT NULL, points int(11) NOT NULL, \
             note varchar(200) NULL) ENGINE=InnoDB"
        }
        _ => {
            "CREATE TABLE wp_loyalty_points (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, \
             points INTEGER NOT NULL, note TEXT)"
        }
    }
}

const EXTENDED: &str = r#"
preset = "woocommerce"

# An extension's table the preset does not know.
[[rules]]
name = "loyalty-points"
position = 95
table = "wp_loyalty_points"
subject = { customer = "user_id" }
action = "delete"
key = "id"

# Keep the email's domain on kept orders instead of nothing.
[mappings.order.anonymize]
billing_email = "keep_domain"

# The preset's review rule, replaced by name: reviews keep their author's display name.
[[rules]]
name = "comments"
position = 60
table = "wp_comments"
subject = { customer = "user_id", email = "comment_author_email", unlink = 0 }
action = "anonymize"
retain = "reviews stay under a neutral name"
key = "comment_ID"

[rules.anonymize]
comment_author = { fixed = "A customer" }
comment_author_email = { fixed = "" }
comment_author_url = { fixed = "" }
comment_author_IP = { fixed = "" }
comment_agent = { fixed = "" }
comment_content = { fixed = "removed" }
"#;

/// A configuration that names the preset and extends it: an extra rule for an extension's
/// table, an order column's strategy overridden, a preset rule replaced by name; the rest of
/// the preset still applies.
async fn the_preset_extended_in_the_same_file_takes_effect<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let mut conn = pool.acquire().await.expect("conn");
    DB::execute(
        &mut conn,
        &erasure::sql::Sql::new(loyalty_table(DB::DIALECT)),
    )
    .await
    .expect("extension table");
    for (id, user, note) in [
        (1101, 1100, "Wilhelmina's birthday bonus"),
        (1201, 1200, "Bartholomew's welcome bonus"),
    ] {
        let mut insert = erasure::sql::Insert::new(
            Ident::new("wp_loyalty_points").expect("ident"),
            ["id", "user_id", "points", "note"].map(|c| Ident::new(c).expect("ident")),
        );
        insert.row([
            Value::Int(id),
            Value::Int(user),
            Value::Int(50),
            Value::Text(note.into()),
        ]);
        DB::execute(&mut conn, &insert.to_sql())
            .await
            .expect("points");
    }
    let config = Configuration::from_toml(EXTENDED).expect("the extended preset reads");
    assert_eq!(
        config.rules.len(),
        preset().rules.len() + 1,
        "one rule added, one replaced"
    );
    let chain = chain::<DB>(&config);
    chain.check_schema(&mut conn).await.expect("schema");
    let tables = config.subject_tables();
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let found = chain.coverage(&mut conn, &tables).await.expect("coverage");
    let (uncovered, _) = erasure::coverage::judge(found, &config.coverage.ignore);
    assert!(uncovered.is_empty(), "{uncovered:#?}");
    drop(conn);

    let before = snapshot(pool).await;
    let report = chain
        .erase(pool, &Erasure::new(Subject::customer(1100)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = snapshot(pool).await;
    let mut expected = wilhelmina_changes();
    expected.insert(("wp_loyalty_points".to_owned(), 1101, "deleted"));
    assert_eq!(changes(&before, &after), expected);
    assert_eq!(
        report.handler(95).map(|h| h.outcome.totals().deleted),
        Some(1),
        "{report:?}"
    );
    assert_eq!(
        text(&cell(&after, "wp_loyalty_points", 1201, "note")).as_deref(),
        Some("Bartholomew's welcome bonus")
    );
    for order in [1101, 1102] {
        assert_eq!(
            text(&cell(&after, "wp_wc_orders", order, "billing_email")).as_deref(),
            Some("anonymized@example.org"),
            "the overridden strategy"
        );
        // The preset's other strategies still apply.
        assert_eq!(
            text(&cell(&after, "wp_wc_orders", order, "ip_address")).as_deref(),
            Some("198.51.11.0")
        );
        assert_eq!(
            cell(&after, "wp_wc_orders", order, "user_agent"),
            Some(Value::Null)
        );
    }
    for comment in [1104, 1105] {
        let get = |c: &str| text(&cell(&after, "wp_comments", comment, c)).unwrap_or_default();
        assert_eq!(get("comment_author"), "A customer");
        assert_eq!(get("comment_content"), "removed");
    }
    assert_eq!(ledger(&after), ["1101", "1102"]);
}

/// A failure late in the chain (after every preset handler but the customer's has written) rolls
/// everything back: the database is exactly as before, the ledger included; the same erasure
/// then succeeds.
async fn a_failure_halfway_leaves_the_database_as_it_was<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let config = preset();
    let before = snapshot(pool).await;
    for fault in [Fault::Error, Fault::Panic] {
        // At 95: after the orders (30), rules (12..90) and user meta (90) have written, before
        // the user (100); it first wipes the shop's settings, to prove its own writes roll back.
        let faulty = config
            .chain::<DB>(None)
            .expect("chain")
            .register(
                95,
                FaultHandler::always("injected-fault", fault)
                    .wiping(Ident::new("wp_options").expect("ident")),
            )
            .build()
            .expect("build");
        for subject in [
            Subject::customer(1100),
            Subject::guest("c.ambergast@example.net").expect("email"),
        ] {
            let err = faulty
                .erase(pool, &Erasure::new(subject))
                .await
                .expect_err("the fault fails the erasure");
            assert_eq!(err.position(), Some(95), "{err}");
            assert_eq!(snapshot(pool).await.diff(&before), None, "{fault:?}");
        }
    }
    // The same chain without the fault erases.
    let report = chain::<DB>(&config)
        .erase(pool, &Erasure::new(Subject::customer(1100)))
        .await
        .expect("erasure");
    assert_eq!(report.totals().deferred, 2);
    assert_eq!(ledger(&snapshot(pool).await), ["1101", "1102"]);
}

/// Years later the order purge deletes the deferred orders whose retention (six years from
/// `date_created_gmt`) has passed, with their addresses, items, operational data, meta and
/// analytics rows, and forgets them in the ledger; orders still being processed stay, and
/// nothing before the six years, nor anyone else's, is touched.
async fn the_order_purge_deletes_the_deferred_orders_when_due<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let config = preset();
    let chain = chain::<DB>(&config);
    for subject in [
        Subject::customer(1100),
        Subject::guest("c.ambergast@example.net").expect("email"),
    ] {
        chain
            .erase(pool, &Erasure::new(subject))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let jobs =
        erasure::jobs::standard_jobs(&config.mappings, &config.retention, &config.jobs, &chain);
    let purge = jobs
        .iter()
        .find(|j| j.name() == "order-purge")
        .expect("order purge");
    let at = |year: i32| {
        FixedClock(
            Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0)
                .single()
                .expect("time"),
        )
    };

    // 2029: under six years for every order; nothing goes.
    let before = snapshot(pool).await;
    let summary = JobRunner::new()
        .clock(at(2029))
        .run(pool, purge.as_ref(), |_| {})
        .await
        .expect("purge");
    assert_eq!(summary.rows, 0);
    assert_eq!(snapshot(pool).await.diff(&before), None);

    // 2040: the completed orders go with everything that hangs on them; the processing ones
    // stay (excluded statuses) and stay in the ledger.
    let summary = JobRunner::new()
        .batch_size(1)
        .clock(at(2040))
        .run(pool, purge.as_ref(), |_| {})
        .await
        .expect("purge");
    assert_eq!(summary.rows, 2, "{summary:?}");
    let after = snapshot(pool).await;
    let expected = expect(&[
        ("wp_wc_orders", &[1101, 2101], "deleted"),
        (
            "wp_wc_order_addresses",
            &[1101, 1102, 2101, 2102],
            "deleted",
        ),
        (
            "wp_woocommerce_order_items",
            &[1101, 1102, 2101, 2102],
            "deleted",
        ),
        ("wp_wc_order_operational_data", &[1101, 2101], "deleted"),
        (
            "wp_wc_orders_meta",
            &[1101, 1102, 1103, 1105, 2101, 2102, 2103, 2105],
            "deleted",
        ),
        ("wp_wc_order_stats", &[1101, 2101], "deleted"),
        ("wp_wc_order_product_lookup", &[1101, 2101], "deleted"),
        ("wp_posts", &[1101, 2101], "deleted"),
        ("wp_postmeta", &[1110, 1111, 2106], "deleted"),
    ]);
    assert_eq!(changes(&before, &after), expected);
    assert_eq!(ledger(&after), ["1102", "2102"]);
    // Left behind, holding nothing personal: the items' meta (product, quantity, totals), and
    // the refund of order 1101 with its analytics row.
    assert!(cell(&after, "wp_woocommerce_order_itemmeta", 1101, "meta_value").is_some());
    assert!(cell(&after, "wp_wc_orders", 1103, "type").is_some());
    assert!(cell(&after, "wp_wc_order_stats", 1103, "order_id").is_some());
}

/// An erasure request on a WordPress shop is taken (WordPress users have no flag to switch
/// off, and the preset says so): nothing of the shop changes, the request is stored.
async fn an_erasure_request_is_taken_and_changes_nothing<DB: Fixture>(db: TestDb<DB>) {
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
            Some(Subject::customer(1100)),
            Some("requester@example.test"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = snapshot(pool).await;
    let changed: Vec<String> = before
        .changes(&after)
        .into_iter()
        .map(|c| c.table)
        .collect();
    assert_eq!(changed, ["erasure_requests"]);
}

preset_tests!(
    the_preset_fits_and_covers_the_woocommerce_schema,
    an_erasure_request_is_taken_and_changes_nothing,
    a_registered_customer_is_erased_as_documented,
    a_guest_is_erased_as_documented,
    the_preset_extended_in_the_same_file_takes_effect,
    a_failure_halfway_leaves_the_database_as_it_was,
    the_order_purge_deletes_the_deferred_orders_when_due,
);
