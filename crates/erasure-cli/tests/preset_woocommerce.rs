//! The `woocommerce` preset through the CLI, on a SQLite file with the preset's fixture
//! (`tests/fixtures/presets/woocommerce/`): coverage, install, a dry run, the erasure of a
//! registered customer and of a guest, and nothing of them left anywhere afterwards.

mod support;

use support::{code, erasure, text};

const SCHEMA: &str = include_str!("../../../tests/fixtures/presets/woocommerce/sqlite.sql");
const SEED: &str = include_str!("../../../tests/fixtures/presets/woocommerce/seed.sql");

/// Every row of every table (the library's own too), as (table, first column, row as text).
async fn rows(url: &str) -> Vec<(String, String, String)> {
    let pool = erasure::sqlite::open(url, 1).await.expect("open");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    let mut all = Vec::new();
    for table in tables {
        // The names come from sqlite_master of the test's own database.
        let sql = format!("SELECT * FROM \"{table}\" ORDER BY 1");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .expect("rows");
        for row in rows {
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
            all.push((table.clone(), cells[0].clone(), cells.join("|")));
        }
    }
    pool.close().await;
    all
}

/// The rows of the seed's subject `n` (ids `n*100 .. n*100+99`, see the seed), by id.
fn of(rows: &[(String, String, String)], n: u64) -> Vec<(String, String, String)> {
    rows.iter()
        .filter(|(table, id, _)| {
            !table.starts_with("erasure_") && id.parse::<u64>().is_ok_and(|i| i / 100 == n)
        })
        .cloned()
        .collect()
}

/// The rows of everyone but subjects `erased` (and the library's own tables).
fn others(rows: &[(String, String, String)], erased: &[u64]) -> Vec<(String, String, String)> {
    rows.iter()
        .filter(|(table, id, _)| {
            !table.starts_with("erasure_")
                && !id.parse::<u64>().is_ok_and(|i| erased.contains(&(i / 100)))
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_woocommerce_preset_erases_a_customer_and_a_guest_through_the_cli() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("woocommerce.db").display());
    {
        let pool = erasure::sqlite::open(&format!("{url}?mode=rwc"), 1)
            .await
            .expect("create");
        sqlx::raw_sql(SCHEMA).execute(&pool).await.expect("schema");
        sqlx::raw_sql(SEED).execute(&pool).await.expect("seed");
        pool.close().await;
    }
    let preset = ["--preset", "woocommerce"];

    // The preset defers orders to the library's ledger: coverage says it is missing until
    // `erasure install`.
    let out = erasure(&[&["coverage", "--db", &url][..], &preset].concat());
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(text(&out).contains("erasure_deferred"), "{}", text(&out));
    let out = erasure(&["install", "--db", &url]);
    assert_eq!(code(&out), 0, "{}", text(&out));

    // Covered, but for the four columns the preset judges, each with its reason.
    let out = erasure(&[&["coverage", "--db", &url][..], &preset].concat());
    assert_eq!(code(&out), 0, "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("kept as judged ([coverage] ignore):"),
        "{said}"
    );
    for column in [
        "wp_woocommerce_order_items.order_item_name",
        "wp_wc_webhooks.name",
        "wp_posts.post_name",
        "wp_options.option_name",
    ] {
        assert!(said.contains(&format!("  {column} ")), "{column}: {said}");
    }
    assert_eq!(
        said.lines().filter(|l| l.starts_with("  ")).count(),
        4,
        "{said}"
    );

    // A dry run changes nothing.
    let before = rows(&url).await;
    let erase = |subject: &[&str], extra: &[&str]| {
        erasure(&[&["erase", "--db", &url][..], &preset, subject, extra].concat())
    };
    let out = erase(&["--customer", "1100"], &["--dry-run"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(rows(&url).await, before, "the dry run changed nothing");

    // The registered customer: 62 rows deleted (the three meta rows of their order notes among
    // them), 15 anonymized, 2 orders deferred.
    let out = erase(&["--customer", "1100"], &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("total: 62 deleted, 15 anonymized, 2 deferred"),
        "{}",
        text(&out)
    );
    // The guest, by the email of their orders: 25 deleted (three of them their order notes'
    // meta), 12 anonymized, 2 deferred.
    let out = erase(&["--guest", "c.ambergast@example.net"], &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("total: 25 deleted, 12 anonymized, 2 deferred"),
        "{}",
        text(&out)
    );

    let after = rows(&url).await;
    let everything: String = after.iter().map(|(_, _, r)| format!("{r}\n")).collect();
    for value in [
        "Wilhelmina",
        "Quackenbush",
        "wilhelmina.quackenbush@example.org",
        "w.quack.paypal@example.org",
        "+49 3946 511011",
        "Gaertnerweg",
        "Quedlinburg",
        "06484",
        "198.51.11.45",
        "198.51.11.47",
        "QuackFox",
        "Ottilie Grasmueck",
        "Die Kobaltvase kam heil an",
        "Cornelius",
        "Ambergast",
        "c.ambergast@example.net",
        "ambergast.pay@example.net",
        "+31 20 555 0121",
        "Zonnebloemstraat",
        "Zwolle",
        "8011 AB",
        "192.0.2.121",
        "AmberChrome",
        "vaas te zwaar",
    ] {
        assert!(
            !everything.contains(value),
            "{value} survived:\n{everything}"
        );
    }
    assert_eq!(
        others(&after, &[11, 21]),
        others(&before, &[11, 21]),
        "every row of the other customers, the other guest and the shop is as it was"
    );
    // The orders are kept as tax records, unlinked, the IP's network kept; the ledger holds
    // them for the purge.
    let order = |id: &str| {
        after
            .iter()
            .find(|(t, i, _)| t == "wp_wc_orders" && i == id)
            .map(|(_, _, r)| r.clone())
            .expect("the order is kept")
    };
    assert!(
        order("1101").starts_with(
            "1101|wc-completed|EUR|shop_order|7.96722689|54.80000000|0|NULL|2024-03-15 10:20:30|"
        ),
        "{}",
        order("1101")
    );
    assert!(order("1101").contains("|198.51.11.0|"), "{}", order("1101"));
    assert!(order("2101").contains("|192.0.2.0|"), "{}", order("2101"));
    let mut ledger: Vec<&str> = after
        .iter()
        .filter(|(t, _, _)| t == "erasure_deferred")
        .map(|(_, _, r)| r.as_str())
        .collect();
    ledger.sort();
    assert_eq!(ledger.len(), 4, "{ledger:?}");
    for id in ["1101", "1102", "2101", "2102"] {
        assert!(
            ledger
                .iter()
                .any(|r| r.starts_with(&format!("wp_wc_orders|{id}|"))),
            "{ledger:?}"
        );
    }
    // What is left of the two: rows of kept orders, analytics and reviews, none of them theirs.
    // Their order notes' meta is gone with the notes.
    for id in ["1101", "1102", "1103", "2101", "2102", "2103"] {
        assert!(
            !after
                .iter()
                .any(|(t, i, _)| t == "wp_commentmeta" && i == id),
            "wp_commentmeta {id} survived"
        );
    }
    assert_eq!(of(&after, 11).len(), of(&before, 11).len() - 62);
    assert_eq!(of(&after, 21).len(), of(&before, 21).len() - 25);
}
