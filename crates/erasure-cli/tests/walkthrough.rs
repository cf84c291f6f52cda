//! The walkthrough of docs/mapping.md, step by step, on its own shop
//! (`docs/walkthrough/schema.sql`) and configuration (`docs/walkthrough/erasure.toml`): what
//! the page shows each command saying is what the command says.

mod support;

use support::{code, erasure, text};

const SCHEMA: &str = include_str!("../../../docs/walkthrough/schema.sql");
const CONFIG: &str = include_str!("../../../docs/walkthrough/erasure.toml");

/// Every row of every table of the shop, as text, for comparisons and residue checks.
async fn rows(url: &str) -> Vec<(String, String)> {
    let pool = erasure::sqlite::open(url, 1).await.expect("open");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'erasure_%' \
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
                        .unwrap_or_else(|| "NULL".to_owned())
                })
                .collect();
            all.push((table.clone(), cells.join("|")));
        }
    }
    pool.close().await;
    all
}

#[tokio::test]
async fn the_walkthrough_of_an_unfamiliar_shop_ends_in_a_clean_run() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    {
        let pool = erasure::sqlite::open(&format!("{url}?mode=rwc"), 1)
            .await
            .expect("create");
        sqlx::raw_sql(SCHEMA).execute(&pool).await.expect("schema");
        pool.close().await;
    }
    let first = CONFIG
        .split("\n[[rules]]")
        .next()
        .expect("the configuration up to its rules");
    let first_path = dir.path().join("first.toml");
    std::fs::write(&first_path, first).expect("first configuration");
    let full_path = dir.path().join("erasure.toml");
    std::fs::write(&full_path, CONFIG).expect("configuration");
    let (first_cfg, full_cfg) = (
        first_path.display().to_string(),
        full_path.display().to_string(),
    );

    // 1. Without a configuration: the standard chain's tables are not there.
    let out = erasure(&["coverage", "--db", &url]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(text(&out).contains("table `customers`"), "{}", text(&out));

    // 2. The handlers that fit, mapped: the ledger the order mapping needs is not installed.
    let out = erasure(&["coverage", "--db", &url, "--config", &first_cfg]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(text(&out).contains("erasure_deferred"), "{}", text(&out));
    let out = erasure(&["install", "--db", &url]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    for line in [
        "deferral ledger ready: erasure_deferred",
        "consent tables ready: erasure_consent_wordings, erasure_consent_changes",
    ] {
        assert!(text(&out).contains(line), "{}", text(&out));
    }

    // 3. What no handler covers yet.
    let out = erasure(&["coverage", "--db", &url, "--config", &first_cfg]);
    assert_eq!(code(&out), 8, "{}", text(&out));
    let found = text(&out);
    for line in [
        "newsletter.account_id refers to accounts",
        "newsletter.email looks personal",
        "product_reviews.account_id refers to accounts",
        "product_reviews.ip_address looks personal",
        "products.name looks personal",
    ] {
        assert!(found.contains(line), "`{line}` missing from:\n{found}");
    }

    // 4. Rules for the two tables, a judgement on the third: coverage is clean.
    let out = erasure(&["coverage", "--db", &url, "--config", &full_cfg]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("products.name looks personal: a product's name, not a person's"),
        "{}",
        text(&out)
    );
    let out = erasure(&["handlers", "--config", &full_cfg]);
    let chain = text(&out);
    for name in [
        "order-anonymization",
        "newsletter",
        "product-reviews",
        "customer",
    ] {
        assert!(chain.contains(name), "{chain}");
    }
    assert!(!chain.contains("basket-invalidation"), "{chain}");

    // 5. A dry run changes nothing; the erasures of a customer and a guest leave nothing of
    // them, and nothing of anyone else changes.
    let before = rows(&url).await;
    let out = erasure(&[
        "erase",
        "--db",
        &url,
        "--config",
        &full_cfg,
        "--customer",
        "1",
        "--dry-run",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(rows(&url).await, before, "the dry run changed nothing");
    let out = erasure(&[
        "erase",
        "--db",
        &url,
        "--config",
        &full_cfg,
        "--customer",
        "1",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("total: 4 deleted, 3 anonymized, 1 deferred"),
        "{}",
        text(&out)
    );
    let out = erasure(&[
        "erase",
        "--db",
        &url,
        "--config",
        &full_cfg,
        "--guest",
        "grace@example.net",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let after = rows(&url).await;
    let everything: String = after.iter().map(|(_, r)| format!("{r}\n")).collect();
    for value in [
        "ada@example.org",
        "Ada Byron",
        "7946 0001",
        "12 St James Sq",
        "SW1Y 4JH",
        "203.0.113.7",
        "grace@example.net",
        "Grace Hopper",
        "1 Navy Yard",
        "192.0.2.44",
    ] {
        assert!(
            !everything.contains(value),
            "{value} survived:\n{everything}"
        );
    }
    let alan = |rows: &[(String, String)]| -> Vec<(String, String)> {
        rows.iter()
            .filter(|(_, r)| r.contains("Alan") || r.contains("alan") || r.contains("|2|"))
            .cloned()
            .collect()
    };
    assert_eq!(
        alan(&after),
        alan(&before),
        "the other customer is untouched"
    );
    assert!(
        after.contains(&(
            "sales".to_owned(),
            "31|NULL|anonymized@example.org|NULL|203.0.113.0|shipped|2025-03-01|4200".to_owned()
        )),
        "the order is kept, anonymized: {after:?}"
    );
    assert!(
        after.contains(&(
            "product_reviews".to_owned(),
            "61|NULL|1|former customer|Boils fast.|NULL".to_owned()
        )),
        "the review is kept, unlinked: {after:?}"
    );
    assert!(
        after.contains(&("products".to_owned(), "1|Kettle".to_owned())),
        "{after:?}"
    );
}
