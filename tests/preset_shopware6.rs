//! The `shopware6` preset on a fixture of Shopware 6.5/6.6's core tables
//! (`tests/fixtures/presets/shopware6/`: every id a 16-byte UUID), on SQLite (a file) and
//! MariaDB, each in a fresh empty database: the preset fits the schema and covers it, a
//! registered customer (by the hex of their id) and a guest (by email) are erased as
//! `docs/presets/shopware6.md` says and nobody else's rows change, the preset extended in the
//! same file takes effect, a failure half-way leaves the database as it was, and the order purge
//! deletes the deferred orders years later.

mod support;

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use erasure::clock::FixedClock;
use erasure::config::Configuration;
use erasure::evidence::SuppressionList;
use erasure::job::JobRunner;
use erasure::position::{CUSTOMER, ORDER, WISHLIST};
use erasure::{Backend, Erasure, Key, PseudonymKey, Subject, Value, ident};
use erasure_testkit::dump::{Change, Dump, dump, show};
use erasure_testkit::fault::{Fault, FaultHandler};
use erasure_testkit::residue::scan;
use erasure_testkit::{Needle, TestBackend, TestDb};

const MYSQL_SCHEMA: &str = include_str!("fixtures/presets/shopware6/mysql.sql");
const SQLITE_SCHEMA: &str = include_str!("fixtures/presets/shopware6/sqlite.sql");
const SEED: &str = include_str!("fixtures/presets/shopware6/seed.sql");

/// Shopware's live version id, which every versioned row of the fixture has.
const LIVE_VERSION: &str = "0fa91ce3e96a4bc2be4bd9ce752c3425";

/// Instantiates `async fn name<DB: Fixture>(db: TestDb<DB>)` once per database, each in a fresh
/// database holding the fixture: SQLite (a file) and MariaDB (with the `mysql` feature).
macro_rules! shopware_tests {
    ($($name:ident),* $(,)?) => {
        #[cfg(feature = "mysql")]
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::shop::<sqlx::MySql>().await else { return };
                    super::$name(db).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::shop::<sqlx::Sqlite>().await else { return };
                    super::$name(db).await;
                }
            )*
        }
    };
}

/// A backend the fixture is written for: runs a script of several statements.
trait Fixture: TestBackend {
    const SCHEMA: &'static str;
    /// A plugin's table, for the extension test.
    const LOYALTY: &'static str;
    async fn script(pool: &sqlx::Pool<Self>, sql: &'static str);
}

impl Fixture for sqlx::Sqlite {
    const SCHEMA: &'static str = SQLITE_SCHEMA;
    const LOYALTY: &'static str = "CREATE TABLE swag_loyalty_account (id BLOB NOT NULL PRIMARY KEY, \
         customer_id BLOB NOT NULL REFERENCES customer (id), points INTEGER NOT NULL, note TEXT)";
    async fn script(pool: &sqlx::Pool<Self>, sql: &'static str) {
        sqlx::raw_sql(sql).execute(pool).await.expect("script");
    }
}

#[cfg(feature = "mysql")]
impl Fixture for sqlx::MySql {
    const SCHEMA: &'static str = MYSQL_SCHEMA;
    const LOYALTY: &'static str = "CREATE TABLE swag_loyalty_account (id BINARY(16) NOT NULL \
         PRIMARY KEY, customer_id BINARY(16) NOT NULL, points INT NOT NULL, note VARCHAR(255), \
         FOREIGN KEY (customer_id) REFERENCES customer (id))";
    async fn script(pool: &sqlx::Pool<Self>, sql: &'static str) {
        sqlx::raw_sql(sql).execute(pool).await.expect("script");
    }
}

/// A fresh database with the fixture's schema and seed and the deferral ledger, or `None` when
/// its server is unreachable (and that is allowed).
async fn shop<DB: Fixture>() -> Option<TestDb<DB>> {
    let db = match DB::empty(4).await {
        Ok(db) => db,
        Err(e) if e.is_unreachable() => {
            support::skip_or_fail(&format!("on {}: {e}", <DB as TestBackend>::LABEL));
            return None;
        }
        Err(e) => panic!("{e}"),
    };
    DB::script(&db.pool, DB::SCHEMA).await;
    DB::script(&db.pool, SEED).await;
    erasure::ledger::install(&db.pool).await.expect("ledger");
    Some(db)
}

fn preset() -> Configuration {
    Configuration::from_toml("preset = \"shopware6\"").expect("preset")
}

/// The fixture's id of kind `kind`, number `n`, of `owner` (see seed.sql), as hex.
fn id(owner: u8, kind: u8, n: u8) -> String {
    format!("{owner:02x}{kind:02x}{}{n:02x}", "0".repeat(26))
}

fn bytes(hex_id: &str) -> Value {
    Value::Bytes(hex::decode(hex_id).expect("hex"))
}

const AURELIO: u8 = 0xa1;
const BRIGIDA: u8 = 0xb2;
const GWENDOLYN: u8 = 0xc3;
const DORIAN: u8 = 0xd4;
const GWENDOLYN_REGISTERED: u8 = 0xe5;
const GWENDOLYN_EMAIL: &str = "gwendolyn.fairbanks@example.test";

async fn snapshot<DB: Backend>(pool: &sqlx::Pool<DB>) -> Dump {
    let mut conn = pool.acquire().await.expect("conn");
    dump::<DB>(&mut conn).await.expect("dump")
}

/// The value of `column` in the row of `table` whose first column is `key`.
fn cell(d: &Dump, table: &str, key: &Value, column: &str) -> Option<Value> {
    let t = d.table(table)?;
    let at = t.columns.iter().position(|c| c == column)?;
    t.rows
        .iter()
        .find(|r| r.first() == Some(key))
        .map(|r| r[at].clone())
}

fn text(s: &str) -> Option<Value> {
    Some(Value::Text(s.to_owned()))
}

/// The rows that changed, apart from the ledger's, as (table, first column, change), sorted.
fn changes(before: &Dump, after: &Dump) -> Vec<(String, String, Change)> {
    let mut out: Vec<(String, String, Change)> = before
        .changes(after)
        .into_iter()
        .filter(|c| c.table != "erasure_deferred")
        .map(|c| (c.table, c.key, c.change))
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

/// What [`changes`] reports for the row of `table` keyed by the fixture id `hex_id`.
fn row(table: &str, hex_id: &str, change: Change) -> (String, String, Change) {
    (table.to_owned(), show(&bytes(hex_id)), change)
}

/// What [`changes`] reports for the row of `table` keyed by the text `key`.
fn text_row(table: &str, key: &str, change: Change) -> (String, String, Change) {
    (table.to_owned(), show(&Value::Text(key.to_owned())), change)
}

/// The ledger's entries, as (table, key).
fn ledger(d: &Dump) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = d
        .table("erasure_deferred")
        .map(|t| t.rows.clone())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r[0].as_str().expect("table").to_owned(),
                r[1].as_str().expect("key").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn needles(values: &[&str]) -> Vec<Needle> {
    values.iter().map(|v| Needle::new(*v, *v)).collect()
}

/// Every residue hit as (table, column, needle, rows), sorted.
async fn residue<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    values: &[&str],
) -> Vec<(String, String, String, u64)> {
    let mut conn = pool.acquire().await.expect("conn");
    let report = scan::<DB>(&mut conn, &needles(values)).await.expect("scan");
    assert!(report.unreadable_tables.is_empty(), "{report}");
    let mut hits: Vec<(String, String, String, u64)> = report
        .hits
        .into_iter()
        .map(|h| (h.table, h.column, h.label, h.rows))
        .collect();
    hits.sort();
    hits
}

fn hit(table: &str, column: &str, needle: &str, rows: u64) -> (String, String, String, u64) {
    (table.to_owned(), column.to_owned(), needle.to_owned(), rows)
}

/// The subject's export: the rows per table, sorted by table, and the document's text.
async fn export<DB: Backend>(
    chain: &erasure::Chain<DB>,
    pool: &sqlx::Pool<DB>,
    subject: Subject,
) -> (Vec<(String, usize)>, String) {
    let mut document = Vec::new();
    let summary = chain
        .export(pool, &subject, &mut document)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(summary.complete && summary.not_included.is_empty());
    let doc: serde_json::Value = serde_json::from_slice(&document).expect("json");
    let mut exported: Vec<(String, usize)> = Vec::new();
    for section in doc["sections"].as_array().expect("sections") {
        for table in section["tables"].as_array().expect("tables") {
            let name = table["table"].as_str().expect("name").to_owned();
            let rows = table["rows"].as_array().expect("rows").len();
            match exported.iter_mut().find(|(n, _)| *n == name) {
                Some((_, count)) => *count += rows,
                None => exported.push((name, rows)),
            }
        }
    }
    exported.retain(|(_, rows)| *rows > 0);
    exported.sort();
    (exported, String::from_utf8(document).expect("utf-8"))
}

fn tables(list: &[(&str, usize)]) -> Vec<(String, usize)> {
    list.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

/// Aurelio's personal values, everywhere the seed writes them.
const AURELIO_VALUES: &[&str] = &[
    "Aurelio",
    "Quennvik",
    "aurelio.quennvik@example.test",
    "Larchwood Lane 7",
    "Ferncastle Road 12",
    "40213",
    "40215",
    "Dunmere",
    "+49 151 20000001",
    "+49 211 20000011",
    "198.51.100.23",
    "1984-05-17",
    "$2y$10$aurelioQuennvikPasswordHash0001",
    "DE811100001",
    "SW10001",
    "recoveryAurelioQuennvik00000001",
    "nlhasha1quennvik",
    "Please ring twice",
    "aureliodeeplink",
    "aureliodocdeeplink",
    "ctx-aurelio-a1",
    "a1010000000000000000000000000001",
];

/// Gwendolyn's personal values as a guest (her registered account has the email and the name,
/// but none of these).
const GWENDOLYN_GUEST_VALUES: &[&str] = &[
    "Quayside Court 3",
    "60311",
    "Ellsworth Hollow",
    "+49 151 30000003",
    "203.0.113.77",
    "SW10003",
    "Gwendolyn will collect it",
    "Fairbanks on the kettle",
    "found it heavy",
    "Gwen F.",
    "nlhashc3fairbanks",
    "gwendolyndeeplink",
    "gwendolyndocdeeplink",
    "c3010000000000000000000000000001",
    "c3010000000000000000000000000002",
    "ctx-gwendolyn-c3",
];

/// The values of the people who stay: all of them are still there afterwards.
const KEPT_VALUES: &[&str] = &[
    "Brigida",
    "Holloway",
    "brigida.holloway@example.test",
    "Saltmarsh Row 19",
    "+49 151 20000002",
    "198.51.100.42",
    "Dorian",
    "Ashcombe",
    "dorian.ashcombe@example.test",
    "Millrace Yard 44",
    "203.0.113.99",
    "Orchard Rise 21",
    "Pemberly Cross",
    "Margit",
    "margit.staffwell@shop.example",
    "Brigida Holloway",
    "brigidadocdeeplink",
];

async fn assert_kept<DB: Backend>(pool: &sqlx::Pool<DB>) {
    let found: BTreeSet<String> = residue(pool, KEPT_VALUES)
        .await
        .into_iter()
        .map(|h| h.2)
        .collect();
    let missing: Vec<&&str> = KEPT_VALUES
        .iter()
        .filter(|v| !found.contains(**v))
        .collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
}

/// (a) The preset's tables and columns are all there, and coverage finds nothing it does not
/// cover but the columns its `[coverage] ignore` judges, each with its reason.
async fn the_preset_fits_the_schema_and_covers_it<DB: Fixture>(db: TestDb<DB>) {
    let config = preset();
    let chain = config
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    assert_eq!(
        chain.positions(),
        [
            2, 3, 4, 8, 11, 12, WISHLIST, 22, 24, 26, 27, 28, 29, ORDER, 60, 85, 86, 87, 88, 92,
            93, CUSTOMER
        ]
    );
    // The standard customer handler runs on Shopware's binary ids (no rules in its place), and
    // the guest's rules before the guest accounts go.
    let names: Vec<(u32, &str)> = chain
        .handlers()
        .map(|(position, h)| (position, h.name()))
        .collect();
    assert_eq!(
        names,
        [
            (2, "guest-carts"),
            (3, "guest-api-contexts"),
            (4, "guest-addresses"),
            (8, "guest-accounts"),
            (11, "carts"),
            (12, "api-contexts"),
            (WISHLIST, "wishlist-deletion"),
            (22, "password-recovery"),
            (24, "promotion-personas"),
            (26, "customer-tags"),
            (27, "version-commits-order-addresses"),
            (28, "promotion-codes"),
            (29, "version-commits-order-customers"),
            (ORDER, "order-anonymization"),
            (60, "product-reviews"),
            (85, "newsletter-recipients"),
            (86, "newsletter-recipients-guest"),
            (87, "log-entries"),
            (88, "log-entries-account-email"),
            (92, "webhook-deliveries"),
            (93, "webhook-deliveries-account-email"),
            (CUSTOMER, "customer"),
        ]
    );
    let mut conn = db.pool.acquire().await.expect("conn");
    chain.check_schema(&mut conn).await.expect("schema");
    let subject_tables = config.subject_tables();
    assert_eq!(subject_tables, ["customer", "customer"]);
    let tables: Vec<&str> = subject_tables.iter().map(String::as_str).collect();
    let found = chain.coverage(&mut conn, &tables).await.expect("coverage");
    let (uncovered, ignored) = erasure::coverage::judge(found, &config.coverage.ignore);
    assert!(uncovered.is_empty(), "{uncovered:#?}");
    let mut judged: Vec<String> = ignored
        .iter()
        .map(|i| format!("{}.{}", i.column.table, i.column.column))
        .collect();
    judged.sort();
    assert_eq!(
        judged,
        [
            "import_export_log.profile_name",
            "product_translation.name",
            "user.email",
            "user.first_name",
            "user.last_name",
            "version_commit.user_id",
        ]
    );
    assert!(ignored.iter().all(|i| !i.reason.is_empty()));
    // Columns whose names say nothing, but which hold a person: the preset's footprint covers
    // them (the redeemer's name and account id in a promotion code's payload, the deep link that
    // opens an invoice, the logs that name people inside JSON), so no erasure leaves them as
    // they were.
    let footprint = chain.footprint();
    for (table, column) in [
        ("promotion_individual_code", "payload"),
        ("document", "deep_link_code"),
        ("order", "deep_link_code"),
        ("log_entry", "context"),
        ("webhook_event_log", "request_content"),
        ("version_commit_data", "payload"),
    ] {
        assert!(
            footprint.covers(
                &erasure::Ident::new(table).expect("table"),
                &erasure::Ident::new(column).expect("column")
            ),
            "{table}.{column}"
        );
    }

    // Without the preset's rules, coverage finds the tables they cover: the check can fail.
    let bare = Configuration::from_toml(
        "preset = \"shopware6\"\n[[rules]]\nname = \"product-reviews\"\nposition = 60\n\
         table = \"product_review\"\nsubject = { customer = \"customer_id\", keys = \"binary\" }\n\
         action = \"anonymize\"\nanonymize = { title = \"null\" }\n",
    )
    .expect("config");
    let chain = bare
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    let found = chain.coverage(&mut conn, &tables).await.expect("coverage");
    let (uncovered, _) = erasure::coverage::judge(found, &bare.coverage.ignore);
    let mut left: Vec<String> = uncovered
        .iter()
        .map(|u| format!("{}.{}", u.table, u.column))
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["product_review.comment", "product_review.external_email"]
    );
}

/// (b) A registered customer, given as the hex of their id: their account, addresses, wishlist,
/// recovery hash, tags, promotion persona, sessions, carts and newsletter subscription are
/// deleted; their orders and invoices are kept, anonymized, unlinked and deferred in the ledger;
/// their review stays, anonymous; their redeemed promotion code stays redeemed, without their name
/// and id; the log entries and webhook deliveries that mention their account email or id, and the
/// recorded administration edits of their order's address and buyer, are deleted. Nobody else's
/// rows change, and nothing of them is left in any table.
async fn a_registered_customer_is_erased_by_the_hex_of_their_id<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let chain = preset()
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    let before = snapshot(pool).await;
    // A key that is no UUID matches nothing, and changes nothing.
    for key in [Key::Int(1), Key::text("a101").expect("key")] {
        let report = chain
            .erase(pool, &Erasure::new(Subject::customer(key)))
            .await
            .expect("no match");
        assert!(report.is_noop(), "{report:?}");
    }
    assert_eq!(before.diff(&snapshot(pool).await), None);

    // The export holds what the erasure deletes, anonymizes and keeps, ids in hex.
    let (exported, text_doc) = export(
        &chain,
        pool,
        Subject::customer(Key::text(id(AURELIO, 1, 1)).expect("key")),
    )
    .await;
    let expected_export: Vec<(String, usize)> = [
        ("cart", 1),
        // The account row, once: Shopware's customer table is also the user table, which the
        // customer handler exports (and deletes) once.
        ("customer", 1),
        ("customer_address", 2),
        ("customer_recovery", 1),
        ("customer_tag", 1),
        ("customer_wishlist", 1),
        ("customer_wishlist_product", 2),
        ("document", 1),
        // The log entry that mentions the account email.
        ("log_entry", 1),
        ("newsletter_recipient", 1),
        ("order", 2),
        ("order_address", 4),
        ("order_customer", 2),
        ("order_delivery", 2),
        ("order_line_item", 5),
        ("order_transaction", 2),
        ("product_review", 1),
        ("promotion_individual_code", 1),
        ("promotion_persona_customer", 1),
        ("sales_channel_api_context", 1),
        // The recorded edits of the order's address and buyer.
        ("version_commit_data", 2),
        // The deliveries that mention the account email, and the account id.
        ("webhook_event_log", 2),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_owned(), n))
    .collect();
    assert_eq!(exported, expected_export);
    for value in ["Larchwood Lane 7", "Please ring twice", &id(AURELIO, 6, 1)] {
        assert!(text_doc.contains(value), "{value} not exported");
    }

    // The id in upper case, dashed, as Shopware's administration shows none of them but an
    // operator may paste it.
    let hex_id = id(AURELIO, 1, 1).to_uppercase();
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        &hex_id[..8],
        &hex_id[8..12],
        &hex_id[12..16],
        &hex_id[16..20],
        &hex_id[20..]
    );
    let report = chain
        .erase(
            pool,
            &Erasure::new(Subject::customer(Key::text(dashed).expect("key"))),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let totals = report.totals();
    // Account, 2 addresses, wishlist and 2 products, recovery, tag, persona, session, cart,
    // newsletter; a log entry, 2 webhook deliveries and 2 recorded edits.
    assert_eq!(totals.deleted, 17, "{report}");
    // 2 orders, their 2 order customers, 4 addresses and the invoice; the redeemed promotion
    // code; the review.
    assert_eq!(totals.anonymized, 11, "{report}");
    assert_eq!(totals.deferred, 2, "{report}");
    // The review and the promotion code.
    assert_eq!(totals.retained, 2, "{report}");

    let after = snapshot(pool).await;
    let a = |kind, n| id(AURELIO, kind, n);
    let mut expected = vec![
        text_row("cart", "ctx-aurelio-a1", Change::Removed),
        row("customer", &a(1, 1), Change::Removed),
        row("customer_address", &a(2, 1), Change::Removed),
        row("customer_address", &a(2, 2), Change::Removed),
        row("customer_recovery", &a(5, 1), Change::Removed),
        row("customer_tag", &a(1, 1), Change::Removed),
        row("customer_wishlist", &a(3, 1), Change::Removed),
        row("customer_wishlist_product", &a(4, 1), Change::Removed),
        row("customer_wishlist_product", &a(4, 2), Change::Removed),
        row("document", &a(0x10, 1), Change::Changed),
        row("log_entry", &a(0x13, 1), Change::Removed),
        row("newsletter_recipient", &a(13, 1), Change::Removed),
        row("order", &a(6, 1), Change::Changed),
        row("order", &a(6, 2), Change::Changed),
        row("order_address", &a(8, 1), Change::Changed),
        row("order_address", &a(8, 2), Change::Changed),
        row("order_address", &a(8, 3), Change::Changed),
        row("order_address", &a(8, 4), Change::Changed),
        row("order_customer", &a(7, 1), Change::Changed),
        row("order_customer", &a(7, 2), Change::Changed),
        row("product_review", &a(12, 1), Change::Changed),
        row("promotion_individual_code", &a(14, 1), Change::Changed),
        row("promotion_persona_customer", &a(1, 1), Change::Removed),
        text_row(
            "sales_channel_api_context",
            "ctx-aurelio-a1",
            Change::Removed,
        ),
        row("version_commit_data", &a(0x12, 1), Change::Removed),
        row("version_commit_data", &a(0x12, 2), Change::Removed),
        row("webhook_event_log", &a(0x14, 1), Change::Removed),
        row("webhook_event_log", &a(0x14, 2), Change::Removed),
    ];
    expected.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
    assert_eq!(changes(&before, &after), expected);

    // The kept orders: the buyer anonymized and unlinked, the comment gone, the deep link
    // replaced; amounts, lines, deliveries and transactions as they were.
    let order_customer = bytes(&a(7, 1));
    let value = |table, key: &Value, column| cell(&after, table, key, column);
    assert_eq!(
        value("order_customer", &order_customer, "customer_id"),
        Some(Value::Null)
    );
    assert_eq!(
        value("order_customer", &order_customer, "email"),
        text("anonymized@anonymized.invalid")
    );
    assert_eq!(
        value("order_customer", &order_customer, "first_name"),
        text("Anonymized")
    );
    assert_eq!(
        value("order_customer", &order_customer, "last_name"),
        text("Anonymized")
    );
    for column in ["company", "customer_number", "vat_ids", "remote_address"] {
        assert_eq!(
            value("order_customer", &order_customer, column),
            Some(Value::Null),
            "{column}"
        );
    }
    assert_eq!(
        value("order_customer", &order_customer, "order_id"),
        Some(bytes(&a(6, 1)))
    );
    let order = bytes(&a(6, 1));
    assert_eq!(
        value("order", &order, "customer_comment"),
        Some(Value::Null)
    );
    let deep_link = value("order", &order, "deep_link_code").expect("order");
    let deep_link = deep_link.as_str().expect("text");
    assert!(
        deep_link.len() == 32 && deep_link.bytes().all(|b| b.is_ascii_hexdigit()),
        "{deep_link}"
    );
    assert!(!deep_link.starts_with("aurelio"));
    assert_eq!(
        value("order", &order, "amount_total"),
        Some(Value::Float(59.9))
    );
    assert_eq!(
        value("order", &order, "version_id"),
        Some(bytes(LIVE_VERSION))
    );
    let address = bytes(&a(8, 1));
    assert_eq!(
        value("order_address", &address, "street"),
        text("Anonymized")
    );
    assert_eq!(value("order_address", &address, "city"), text("Anonymized"));
    assert_eq!(
        value("order_address", &address, "zipcode"),
        Some(Value::Null)
    );
    assert_eq!(
        value("order_address", &address, "phone_number"),
        Some(Value::Null)
    );
    assert_eq!(
        value("order_address", &address, "vat_id"),
        Some(Value::Null)
    );
    assert_eq!(
        value("order_address", &address, "country_id"),
        Some(bytes(&id(0x50, 0x24, 1)))
    );
    for (table, count) in [
        ("order_line_item", 13),
        ("order_delivery", 5),
        ("order_transaction", 5),
    ] {
        assert_eq!(
            after.table(table).map(|t| t.rows.len()),
            Some(count),
            "{table}"
        );
    }
    // The review: unlinked, anonymous, its points kept.
    let review = bytes(&a(12, 1));
    assert_eq!(
        value("product_review", &review, "customer_id"),
        Some(Value::Null)
    );
    assert_eq!(value("product_review", &review, "title"), text("Deleted"));
    assert_eq!(
        value("product_review", &review, "content"),
        text("This review was deleted by its author.")
    );
    assert_eq!(
        value("product_review", &review, "comment"),
        Some(Value::Null)
    );
    assert_eq!(
        value("product_review", &review, "points"),
        Some(Value::Float(5.0))
    );
    // The orders wait in the ledger, by the hex of their ids.
    assert_eq!(
        ledger(&after),
        [
            ("order_customer".to_owned(), a(6, 1)),
            ("order_customer".to_owned(), a(6, 2)),
        ]
    );

    // The redeemed promotion code: still redeemed (an `orderId` key), without his name and id;
    // Brigida's, redeemed the same way, as it was.
    assert_eq!(
        value("promotion_individual_code", &bytes(&a(14, 1)), "payload"),
        text(r#"{"orderId":"","customerId":"","customerName":"Anonymized"}"#)
    );
    assert_eq!(
        value(
            "promotion_individual_code",
            &bytes(&id(BRIGIDA, 14, 1)),
            "payload"
        ),
        cell(
            &before,
            "promotion_individual_code",
            &bytes(&id(BRIGIDA, 14, 1)),
            "payload"
        )
    );
    // The invoice stays (the tax record), its number and date as they were; the deep link that
    // opened it without a login is replaced.
    let document = bytes(&a(0x10, 1));
    assert_eq!(
        value("document", &document, "config"),
        cell(&before, "document", &document, "config")
    );
    let document_link = value("document", &document, "deep_link_code").expect("document");
    let document_link = document_link.as_str().expect("text");
    assert!(
        document_link.len() == 32 && document_link.bytes().all(|b| b.is_ascii_hexdigit()),
        "{document_link}"
    );

    // Nothing of Aurelio is left in any table: not in the logs, which name him only inside JSON
    // (by his account email, by the hex of his id, by the id of his order's address).
    let left = residue(pool, AURELIO_VALUES).await;
    assert!(left.is_empty(), "{left:?}");
    // Brigida's log rows, in the same tables, are as they were.
    for (table, kind) in [
        ("log_entry", 0x13),
        ("webhook_event_log", 0x14),
        ("version_commit_data", 0x12),
    ] {
        let key = bytes(&id(BRIGIDA, kind, 1));
        assert_eq!(
            after
                .table(table)
                .and_then(|t| t.rows.iter().find(|r| r.first() == Some(&key))),
            before
                .table(table)
                .and_then(|t| t.rows.iter().find(|r| r.first() == Some(&key))),
            "{table}"
        );
        assert!(cell(&after, table, &key, "id").is_some(), "{table}");
    }
    assert_kept(pool).await;

    // Again: nothing more, and nothing recorded twice.
    let again = chain
        .erase(
            pool,
            &Erasure::new(Subject::customer(
                Key::text(id(AURELIO, 1, 1)).expect("key"),
            )),
        )
        .await
        .expect("again");
    assert_eq!(again.totals().deleted, 0);
    assert_eq!(ledger(&snapshot(pool).await).len(), 2);
}

/// (c) A guest, by email: the carts of the guest accounts' sessions, the sessions and the
/// addresses are deleted (reached through the guest rows of that email, `guest = 1`), then the
/// guest accounts; the guest's order is kept, anonymized and deferred, the newsletter
/// subscription deleted, the imported review anonymized; the log entry and the webhook delivery
/// that mention the email (in any case), and the recorded edit of the order's address, deleted. The registered account with the same
/// email, and everybody else, stay as they were; nothing of the guest is left.
async fn a_guest_is_erased_by_email<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let chain = preset()
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    // The export holds the guest accounts with their addresses, session and its cart, the
    // subscription and the imported review. Not the guest's order: it points at a guest account
    // until the erasure deletes that account, and the order mapping finds a guest's orders by
    // email only among orders of no account (a gap the preset page documents).
    let (exported, _) = export(
        &chain,
        pool,
        Subject::guest(GWENDOLYN_EMAIL).expect("email"),
    )
    .await;
    assert_eq!(
        exported,
        tables(&[
            ("cart", 1),
            ("customer", 2),
            ("customer_address", 2),
            ("log_entry", 1),
            ("newsletter_recipient", 1),
            ("product_review", 1),
            ("sales_channel_api_context", 1),
            ("webhook_event_log", 1),
        ])
    );
    let before = snapshot(pool).await;
    let report = chain
        .erase(
            pool,
            &Erasure::new(Subject::guest("Gwendolyn.Fairbanks@example.test").expect("email")),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let totals = report.totals();
    // The cart, the session, two addresses, two guest accounts, the newsletter subscription; the
    // log entry, the webhook delivery and the recorded edit.
    assert_eq!(totals.deleted, 10, "{report}");
    // The order, its order customer, two addresses and the invoice; the redeemed promotion code;
    // the review.
    assert_eq!(totals.anonymized, 7, "{report}");
    assert_eq!(totals.deferred, 1, "{report}");

    let after = snapshot(pool).await;
    let g = |kind, n| id(GWENDOLYN, kind, n);
    let mut expected = vec![
        text_row("cart", "ctx-gwendolyn-c3", Change::Removed),
        row("customer", &g(1, 1), Change::Removed),
        row("customer", &g(1, 2), Change::Removed),
        row("customer_address", &g(2, 1), Change::Removed),
        row("customer_address", &g(2, 2), Change::Removed),
        row("document", &g(0x10, 1), Change::Changed),
        row("log_entry", &g(0x13, 1), Change::Removed),
        row("newsletter_recipient", &g(13, 1), Change::Removed),
        row("order", &g(6, 1), Change::Changed),
        row("order_address", &g(8, 1), Change::Changed),
        row("order_address", &g(8, 2), Change::Changed),
        row("order_customer", &g(7, 1), Change::Changed),
        row("product_review", &g(12, 1), Change::Changed),
        row("promotion_individual_code", &g(14, 1), Change::Changed),
        text_row(
            "sales_channel_api_context",
            "ctx-gwendolyn-c3",
            Change::Removed,
        ),
        row("version_commit_data", &g(0x12, 1), Change::Removed),
        row("webhook_event_log", &g(0x14, 1), Change::Removed),
    ];
    expected.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
    assert_eq!(changes(&before, &after), expected);
    let order_customer = bytes(&g(7, 1));
    assert_eq!(
        cell(&after, "order_customer", &order_customer, "customer_id"),
        Some(Value::Null)
    );
    assert_eq!(
        cell(&after, "order_customer", &order_customer, "email"),
        text("anonymized@anonymized.invalid")
    );
    let review = bytes(&g(12, 1));
    assert_eq!(
        cell(&after, "product_review", &review, "external_email"),
        Some(Value::Null)
    );
    assert_eq!(
        cell(&after, "product_review", &review, "external_user"),
        Some(Value::Null)
    );
    assert_eq!(ledger(&after), [("order_customer".to_owned(), g(6, 1))]);
    // The registered account of the same email is whole.
    let registered = bytes(&id(GWENDOLYN_REGISTERED, 1, 1));
    assert_eq!(
        cell(&after, "customer", &registered, "email"),
        text(GWENDOLYN_EMAIL)
    );
    // TINYINT(1) reads as a boolean on MySQL, INTEGER as an integer on SQLite.
    assert!(
        matches!(
            cell(&after, "customer", &registered, "guest"),
            Some(Value::Int(0) | Value::Bool(false))
        ),
        "a registered account"
    );
    assert!(
        cell(
            &after,
            "customer_address",
            &bytes(&id(GWENDOLYN_REGISTERED, 2, 1)),
            "id"
        )
        .is_some()
    );

    // Nothing of the guest is left: not even the cart of her session.
    let left = residue(pool, GWENDOLYN_GUEST_VALUES).await;
    assert!(left.is_empty(), "{left:?}");
    // Her email and name are left only in her registered account and its address book.
    assert_eq!(
        residue(pool, &[GWENDOLYN_EMAIL, "Gwendolyn", "Fairbanks"]).await,
        [
            hit("customer", "custom_fields", "Gwendolyn", 1),
            hit("customer", "email", "gwendolyn.fairbanks@example.test", 1),
            hit("customer", "first_name", "Gwendolyn", 1),
            hit("customer", "last_name", "Fairbanks", 1),
            hit(
                "customer_address",
                "additional_address_line1",
                "Fairbanks",
                1
            ),
            hit("customer_address", "first_name", "Gwendolyn", 1),
            hit("customer_address", "last_name", "Fairbanks", 1),
        ]
    );
    assert_kept(pool).await;
    // Dorian, the other guest, keeps his order.
    assert_eq!(
        cell(&after, "order_customer", &bytes(&id(DORIAN, 7, 1)), "email"),
        text("dorian.ashcombe@example.test")
    );
}

/// (d) The preset extended in the same file: a plugin's table gets a rule of its own (its
/// binary keys from the preset's `[mappings] keys`), a preset rule is replaced by name, a
/// mapping key is overridden; the rest of the preset still applies.
async fn the_preset_extended_in_the_same_file_takes_effect<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    DB::script(pool, DB::LOYALTY).await;
    let mut conn = pool.acquire().await.expect("conn");
    for (owner, points) in [(AURELIO, 120), (BRIGIDA, 80)] {
        let mut insert = erasure::sql::Insert::new(
            ident!("swag_loyalty_account"),
            [
                ident!("id"),
                ident!("customer_id"),
                ident!("points"),
                ident!("note"),
            ],
        );
        insert.row([
            bytes(&id(owner, 0x30, 1)),
            bytes(&id(owner, 1, 1)),
            Value::Int(points),
            format!("loyalty note of {owner:02x}").into(),
        ]);
        DB::execute(&mut conn, &insert.to_sql())
            .await
            .expect("insert");
    }
    // The preset alone does not know the plugin's table.
    let plain = preset();
    let chain = plain
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    let tables = ["customer"];
    let found = chain.coverage(&mut conn, &tables).await.expect("coverage");
    let (uncovered, _) = erasure::coverage::judge(found, &plain.coverage.ignore);
    let mut left: Vec<String> = uncovered
        .iter()
        .map(|u| format!("{}.{}", u.table, u.column))
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "swag_loyalty_account.customer_id",
            "swag_loyalty_account.note"
        ]
    );
    drop(conn);

    let config = Configuration::from_toml(
        r#"
preset = "shopware6"

[[rules]]
name = "loyalty-accounts"
position = 90
table = "swag_loyalty_account"
subject = { customer = "customer_id" }
action = "delete"
key = "id"

# Reviews go altogether in this shop.
[[rules]]
name = "product-reviews"
position = 60
table = "product_review"
subject = { customer = "customer_id", email = "external_email" }
action = "delete"
key = "id"

[mappings.order.anonymize]
remote_address = "truncate_ip"
"#,
    )
    .expect("config");
    let chain = config
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    let mut conn = pool.acquire().await.expect("conn");
    chain.check_schema(&mut conn).await.expect("schema");
    let found = chain.coverage(&mut conn, &tables).await.expect("coverage");
    let (uncovered, ignored) = erasure::coverage::judge(found, &config.coverage.ignore);
    assert!(uncovered.is_empty(), "{uncovered:#?}");
    assert_eq!(ignored.len(), 6);
    drop(conn);

    let before = snapshot(pool).await;
    let report = chain
        .erase(
            pool,
            &Erasure::new(Subject::customer(
                Key::text(id(AURELIO, 1, 1)).expect("key"),
            )),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The preset's seventeen, the loyalty account and the review.
    assert_eq!(report.totals().deleted, 19, "{report}");
    let after = snapshot(pool).await;
    assert!(
        cell(
            &after,
            "swag_loyalty_account",
            &bytes(&id(AURELIO, 0x30, 1)),
            "id"
        )
        .is_none()
    );
    assert_eq!(
        cell(
            &after,
            "swag_loyalty_account",
            &bytes(&id(BRIGIDA, 0x30, 1)),
            "points"
        ),
        Some(Value::Int(80))
    );
    assert!(cell(&after, "product_review", &bytes(&id(AURELIO, 12, 1)), "id").is_none());
    assert!(cell(&after, "product_review", &bytes(&id(BRIGIDA, 12, 2)), "id").is_some());
    // The overridden key, and the preset's others beside it.
    let order_customer = bytes(&id(AURELIO, 7, 1));
    assert_eq!(
        cell(&after, "order_customer", &order_customer, "remote_address"),
        text("198.51.100.0")
    );
    assert_eq!(
        cell(&after, "order_customer", &order_customer, "first_name"),
        text("Anonymized")
    );
    assert!(cell(&before, "customer", &bytes(&id(AURELIO, 1, 1)), "id").is_some());
    assert!(cell(&after, "customer", &bytes(&id(AURELIO, 1, 1)), "id").is_none());
}

/// (e) A handler failing half-way (after the orders were anonymized and deferred, and after it
/// deleted every product name itself) rolls everything back: the database is exactly as before,
/// for a customer and for a guest.
async fn a_failure_half_way_leaves_the_database_as_it_was<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let chain = preset()
        .chain::<DB>(None)
        .expect("chain")
        .register(
            90,
            FaultHandler::always("fault", Fault::Error).wiping(ident!("product_translation")),
        )
        .build()
        .expect("build");
    let before = snapshot(pool).await;
    for subject in [
        Subject::customer(Key::text(id(AURELIO, 1, 1)).expect("key")),
        Subject::guest(GWENDOLYN_EMAIL).expect("email"),
    ] {
        let err = chain
            .erase(pool, &Erasure::new(subject))
            .await
            .expect_err("the fault fails the erasure");
        assert_eq!(err.position(), Some(90), "{err}");
        assert_eq!(before.diff(&snapshot(pool).await), None);
    }
    assert!(ledger(&before).is_empty());
}

/// (f) The standard customer handler on Shopware's binary ids hands the account's email to the
/// suppression list (`[evidence] suppression`), as the rules that stood in for it could not; a
/// guest's email goes there too, and nobody else's.
async fn the_erased_emails_go_to_the_suppression_list<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    erasure::evidence::install(pool)
        .await
        .expect("evidence tables");
    let key = || PseudonymKey::from_hex("8f1e2d3c4b5a69788796a5b4c3d2e1f0").expect("key");
    let config =
        Configuration::from_toml("preset = \"shopware6\"\n[evidence]\nsuppression = true\n")
            .expect("config");
    let chain = config
        .chain::<DB>(Some(key()))
        .expect("chain")
        .build()
        .expect("build");
    let list = SuppressionList::new(key());
    let emails = [
        "aurelio.quennvik@example.test",
        GWENDOLYN_EMAIL,
        "brigida.holloway@example.test",
        "dorian.ashcombe@example.test",
    ];
    let suppressed = || list.suppressed(pool, emails);
    assert!(suppressed().await.expect("check").is_empty());
    chain
        .erase(
            pool,
            &Erasure::new(Subject::customer(
                Key::text(id(AURELIO, 1, 1)).expect("key"),
            )),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(suppressed().await.expect("check"), BTreeSet::from([0]));
    chain
        .erase(
            pool,
            &Erasure::new(Subject::guest(GWENDOLYN_EMAIL).expect("email")),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(suppressed().await.expect("check"), BTreeSet::from([0, 1]));
}

/// The order purge, years later, deletes the deferred orders with their lines, addresses and
/// order customers, and forgets them in the ledger; the other orders stay.
async fn the_order_purge_deletes_deferred_orders_after_retention<DB: Fixture>(db: TestDb<DB>) {
    let pool = &db.pool;
    let config = preset();
    let chain = config
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    chain
        .erase(
            pool,
            &Erasure::new(Subject::customer(
                Key::text(id(AURELIO, 1, 1)).expect("key"),
            )),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let jobs =
        erasure::jobs::standard_jobs(&config.mappings, &config.retention, &config.jobs, &chain);
    // No basket purge: the basket handler is out of the chain (Shopware's carts are no baskets,
    // and the preset no longer maps them as such).
    let names: Vec<&str> = jobs.iter().map(|j| j.name()).collect();
    assert_eq!(names, ["order-purge"]);
    let purge = jobs
        .iter()
        .find(|j| j.name() == "order-purge")
        .expect("order purge");
    let run = |year| {
        let at = Utc
            .with_ymd_and_hms(year, 1, 1, 0, 0, 0)
            .single()
            .expect("time");
        JobRunner::new().batch_size(1).clock(FixedClock(at))
    };
    // Within the six years: nothing.
    let before = snapshot(pool).await;
    let summary = run(2029)
        .run(pool, purge.as_ref(), |_| {})
        .await
        .expect("purge");
    assert_eq!(summary.rows, 0);
    assert_eq!(before.diff(&snapshot(pool).await), None);
    // After them: Aurelio's two orders go, with everything that belongs to them.
    let summary = run(2031)
        .run(pool, purge.as_ref(), |_| {})
        .await
        .expect("purge");
    // The purge counts the rows it deleted from `order_customer`, its table: none, because
    // Shopware's ON DELETE CASCADE removed them with their `order` rows, one of the tables
    // deleted with each order. The orders, their lines, deliveries, transactions and addresses:
    // 2 + 5 + 2 + 2 + 4 (the invoice goes by the same cascade as the order customers).
    assert_eq!(summary.rows, 0, "{summary:?}");
    assert_eq!(summary.totals.deleted, 15, "{summary:?}");
    let after = snapshot(pool).await;
    assert!(ledger(&after).is_empty());
    let theirs = |key: &str| key.starts_with(&show(&bytes(&id(AURELIO, 6, 1)))[..5]);
    let changes = changes(&before, &after);
    assert!(
        changes
            .iter()
            .all(|(_, key, change)| *change == Change::Removed && theirs(key)),
        "{changes:#?}"
    );
    for (table, left) in [
        ("order", 3),
        ("order_customer", 3),
        ("order_address", 6),
        ("order_delivery", 3),
        ("order_line_item", 8),
        ("document", 2),
        ("order_transaction", 3),
    ] {
        assert_eq!(
            after.table(table).map(|t| t.rows.len()),
            Some(left),
            "{table}"
        );
    }
}

shopware_tests!(
    the_preset_fits_the_schema_and_covers_it,
    a_registered_customer_is_erased_by_the_hex_of_their_id,
    a_guest_is_erased_by_email,
    the_preset_extended_in_the_same_file_takes_effect,
    a_failure_half_way_leaves_the_database_as_it_was,
    the_order_purge_deletes_deferred_orders_after_retention,
    the_erased_emails_go_to_the_suppression_list,
);
