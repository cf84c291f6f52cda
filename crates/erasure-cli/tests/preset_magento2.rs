//! The `magento2` preset through the CLI, on a SQLite file with the preset's fixture
//! (`tests/fixtures/presets/magento2/`): coverage before and after `erasure install`, a dry
//! run, the erasure of a registered customer and of a guest, and nothing of them left anywhere
//! afterwards while everybody else's rows are as they were.

mod support;

use support::{code, erasure, text};

use std::collections::BTreeSet;

const SCHEMA: &str = include_str!("../../../tests/fixtures/presets/magento2/sqlite.sql");
const SEED: &str = include_str!("../../../tests/fixtures/presets/magento2/seed.sql");

/// A row: its table, the subject it belongs to by the seed's convention (ids N*100 .. N*100+99
/// are subject N's, lower ids the shop's), and its cells as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    table: String,
    owner: u64,
    text: String,
}

const EMAILS: [(u64, &str); 5] = [
    (1, "ilvana.quorstedt@kundenpost.example"),
    (2, "bertil.yanosz@kundenpost.example"),
    (3, "corvina.eldham@kundenpost.example"),
    (5, "dagny.voskuijlen@gastpost.example"),
    (6, "emrik.tallqvist@gastpost.example"),
];

/// Whose a row is: by its first column, or, for the tables keyed otherwise, by its customer or
/// the email it holds.
fn owner(table: &str, cells: &[String]) -> u64 {
    let id = match table {
        "captcha_log" => {
            return EMAILS
                .iter()
                .find(|(_, e)| cells[1] == *e)
                .map_or(0, |(n, _)| *n);
        }
        // (coupon_id, customer_id, …) and (secret, customer_id, …)
        "salesrule_coupon_usage" | "login_as_customer" => &cells[1],
        _ => &cells[0],
    };
    let id: u64 = id
        .parse()
        .unwrap_or_else(|_| panic!("{table}: not an id: {id}"));
    if id < 100 { 0 } else { id / 100 }
}

/// Every row of every table but the library's own, as text.
async fn rows(url: &str) -> BTreeSet<Row> {
    let pool = erasure::sqlite::open(url, 1).await.expect("open");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT LIKE 'erasure_%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    let mut all = BTreeSet::new();
    for table in tables {
        // The names come from sqlite_master of the test's own database.
        let sql = format!("SELECT * FROM \"{table}\"");
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .expect("rows");
        for row in found {
            use sqlx::Row as _;
            let cells: Vec<String> = (0..row.len())
                .map(|i| {
                    row.try_get::<Option<String>, _>(i)
                        .ok()
                        .flatten()
                        .or_else(|| {
                            row.try_get::<Option<i64>, _>(i)
                                .ok()
                                .flatten()
                                .map(|n| n.to_string())
                        })
                        .or_else(|| {
                            row.try_get::<Option<f64>, _>(i)
                                .ok()
                                .flatten()
                                .map(|n| n.to_string())
                        })
                        .unwrap_or_else(|| "NULL".to_owned())
                })
                .collect();
            all.insert(Row {
                owner: owner(&table, &cells),
                table: table.clone(),
                text: cells.join("|"),
            });
        }
    }
    pool.close().await;
    all
}

/// The library's ledger: `table:key`.
async fn ledger(url: &str) -> BTreeSet<String> {
    let pool = erasure::sqlite::open(url, 1).await.expect("open");
    let entries: Vec<(String, String)> =
        sqlx::query_as("SELECT table_name, row_key FROM erasure_deferred")
            .fetch_all(&pool)
            .await
            .expect("ledger");
    pool.close().await;
    entries
        .into_iter()
        .map(|(t, k)| format!("{t}:{k}"))
        .collect()
}

fn of(rows: &BTreeSet<Row>, owners: &[u64]) -> BTreeSet<Row> {
    rows.iter()
        .filter(|r| owners.contains(&r.owner))
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_magento2_preset_erases_a_customer_and_a_guest_through_the_cli() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("magento.db").display());
    {
        let pool = erasure::sqlite::open(&format!("{url}?mode=rwc"), 1)
            .await
            .expect("create");
        sqlx::raw_sql(SCHEMA).execute(&pool).await.expect("schema");
        sqlx::raw_sql(SEED).execute(&pool).await.expect("seed");
        pool.close().await;
    }

    // The preset defers orders and carts to the ledger, which is not installed yet.
    let out = erasure(&["coverage", "--db", &url, "--preset", "magento2"]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(text(&out).contains("erasure_deferred"), "{}", text(&out));
    let out = erasure(&["install", "--db", &url]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("deferral ledger ready: erasure_deferred"),
        "{}",
        text(&out)
    );

    // Covered, apart from the columns the preset judged, each shown with its reason.
    let out = erasure(&["coverage", "--db", &url, "--preset", "magento2"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = text(&out);
    assert!(
        report.contains("covered: every column that refers to customer_entity"),
        "{report}"
    );
    let judged: Vec<&str> = report
        .lines()
        .skip_while(|l| !l.starts_with("kept as judged"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(judged.len(), 15, "{report}");
    for line in [
        "sendfriend_log.ip looks personal: the sender's IP of \"Email to a Friend\"",
        "sales_invoice_comment.user_id looks like a reference to a customer or user: the admin user who wrote the comment",
        "store.name looks personal: the store view's name, not a person's",
    ] {
        assert!(report.contains(line), "`{line}` missing from:\n{report}");
    }
    // The comments of invoices, shipments and credit memos are erased now, not judged.
    assert!(!report.contains("NOT ERASED"), "{report}");
    assert!(!report.contains("_comment.comment"), "{report}");

    let out = erasure(&["handlers", "--preset", "magento2"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    for name in [
        "basket-invalidation",
        "order-anonymization",
        "quote-addresses",
        "invoice-comments",
        "shipment-comments",
        "creditmemo-comments",
        "order-gift-messages",
        "newsletter-subscriptions",
        "customer-grid",
        "customer",
    ] {
        assert!(text(&out).contains(name), "{name}: {}", text(&out));
    }
    assert!(!text(&out).contains("cashback"), "{}", text(&out));

    // A dry run changes nothing.
    let before = rows(&url).await;
    let out = erasure(&[
        "erase",
        "--db",
        &url,
        "--preset",
        "magento2",
        "--customer",
        "100",
        "--dry-run",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(rows(&url).await, before, "the dry run changed nothing");
    assert!(ledger(&url).await.is_empty());

    // The registered customer.
    let out = erasure(&[
        "erase",
        "--db",
        &url,
        "--preset",
        "magento2",
        "--customer",
        "100",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("total: 55 deleted, 23 anonymized, 4 deferred, 1 retained"),
        "{}",
        text(&out)
    );
    // The guest, by email.
    let out = erasure(&[
        "erase",
        "--db",
        &url,
        "--preset",
        "magento2",
        "--guest",
        "dagny.voskuijlen@gastpost.example",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("total: 7 deleted, 13 anonymized, 2 deferred"),
        "{}",
        text(&out)
    );

    let after = rows(&url).await;
    let everything: String = after.iter().map(|r| format!("{}\n", r.text)).collect();
    for value in [
        "Ilvana",
        "ILVANA",
        "ilvana",
        "Quorstedt",
        "QUORSTEDT",
        "+49 170 5550101",
        "Lindwurmweg",
        "Oberhollfeld",
        "91345",
        "DE812345671",
        "203.0.113.54",
        "1986-04-12",
        // A password reset request's IP (ip2long) and a PayPal billing agreement's reference.
        "3405803830",
        "B-1ILV100QRST",
        "Dagny",
        "dagny",
        "Voskuijlen",
        "+31 6 55500505",
        "Zeilweg",
        "Brakkendorp",
        "1234 AB",
        "192.0.2.77",
        // The comment on customer 1's credit memo (nobody else's says so).
        "One mug arrived broken",
    ] {
        assert!(!everything.contains(value), "{value} survived");
    }
    // Everybody else's rows, and the shop's, are as they were.
    assert_eq!(of(&after, &[0, 2, 3, 6]), of(&before, &[0, 2, 3, 6]));
    // The erased subjects' orders stay, anonymized, with the IP's network.
    let order = |id: &str| {
        after
            .iter()
            .find(|r| r.table == "sales_order" && r.text.starts_with(&format!("{id}|")))
            .map(|r| r.text.clone())
            .unwrap_or_default()
    };
    assert!(order("130").contains("|203.0.113.0|"), "{}", order("130"));
    assert!(order("530").contains("|192.0.2.0|"), "{}", order("530"));
    assert_eq!(
        of(&after, &[1])
            .iter()
            .filter(|r| r.table == "sales_order")
            .count(),
        2
    );
    assert_eq!(
        ledger(&url).await,
        [
            "quote:110",
            "quote:115",
            "quote:510",
            "sales_order:130",
            "sales_order:132",
            "sales_order:530"
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    );
}
