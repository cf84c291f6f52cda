//! The `shopware6` preset through the CLI, end to end, on a SQLite file holding the preset's
//! fixture (`tests/fixtures/presets/shopware6/`): install, coverage, the erasure of a customer
//! given as the hex of their binary id and of a guest given by email, and no residue of either
//! in any table, the logs that name them inside JSON included (the job run has no basket purge).

mod support;

use support::{code, erasure, text};

use erasure_testkit::Needle;
use erasure_testkit::dump::dump;
use erasure_testkit::residue::scan;

const SCHEMA: &str = include_str!("../../../tests/fixtures/presets/shopware6/sqlite.sql");
const SEED: &str = include_str!("../../../tests/fixtures/presets/shopware6/seed.sql");

/// Every residue hit of `values` as (table, column, value), sorted.
async fn residue(url: &str, values: &[&str]) -> Vec<(String, String, String)> {
    let pool = erasure::sqlite::open(url, 1).await.expect("open");
    let mut conn = pool.acquire().await.expect("conn");
    let needles: Vec<Needle> = values.iter().map(|v| Needle::new(*v, *v)).collect();
    let report = scan::<sqlx::Sqlite>(&mut conn, &needles)
        .await
        .expect("scan");
    assert!(report.unreadable_tables.is_empty(), "{report}");
    drop(conn);
    pool.close().await;
    let mut hits: Vec<(String, String, String)> = report
        .hits
        .into_iter()
        .map(|h| (h.table, h.column, h.label))
        .collect();
    hits.sort();
    hits
}

async fn snapshot(url: &str) -> erasure_testkit::dump::Dump {
    let pool = erasure::sqlite::open(url, 1).await.expect("open");
    let mut conn = pool.acquire().await.expect("conn");
    let d = dump::<sqlx::Sqlite>(&mut conn).await.expect("dump");
    drop(conn);
    pool.close().await;
    d
}

#[tokio::test]
async fn a_shopware_customer_by_hex_id_and_a_guest_by_email_are_erased_through_the_cli() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    {
        let pool = erasure::sqlite::open(&format!("{url}?mode=rwc"), 1)
            .await
            .expect("create");
        sqlx::raw_sql(SCHEMA).execute(&pool).await.expect("schema");
        sqlx::raw_sql(SEED).execute(&pool).await.expect("seed");
        pool.close().await;
    }

    // The preset defers orders to the ledger, which is not installed yet.
    let out = erasure(&["coverage", "--db", &url, "--preset", "shopware6"]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(text(&out).contains("erasure_deferred"), "{}", text(&out));
    let out = erasure(&["install", "--db", &url]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("deferral ledger ready: erasure_deferred"),
        "{}",
        text(&out)
    );

    // Covered, but for the columns the preset judges, with their reasons.
    let out = erasure(&["coverage", "--db", &url, "--preset", "shopware6"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = text(&out);
    assert!(report.starts_with("covered: "), "{report}");
    for line in [
        "product_translation.name looks personal: a product's name, not a person's",
        "import_export_log.profile_name looks personal: the name of the import/export profile used",
        "user.email looks personal: an administration user (staff), not a customer",
        "version_commit.user_id looks like a reference to a customer or user: the administration \
         user (staff) or integration",
    ] {
        assert!(report.contains(line), "`{line}` missing from:\n{report}");
    }
    assert_eq!(report.matches(" looks personal: ").count(), 5, "{report}");
    // The logs that name people inside JSON are covered by the preset's rules, not judged.
    for table in ["log_entry", "webhook_event_log", "version_commit_data"] {
        assert!(
            !report.contains(&format!("{table}.")),
            "{table} in:\n{report}"
        );
    }

    // An id that is no UUID matches nothing.
    let before = snapshot(&url).await;
    let out = erasure(&[
        "erase",
        "--db",
        &url,
        "--preset",
        "shopware6",
        "--customer",
        "42",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("nothing to erase"), "{}", text(&out));
    assert_eq!(before.diff(&snapshot(&url).await), None);

    // The customer, by the hex of their id.
    let out = erasure(&[
        "erase",
        "--db",
        &url,
        "--preset",
        "shopware6",
        "--customer",
        "a1010000000000000000000000000001",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("total: 17 deleted, 11 anonymized, 2 deferred, 2 retained"),
        "{}",
        text(&out)
    );

    // The guest, by email: her session's cart, the session and the addresses of her guest
    // accounts go too.
    let out = erasure(&[
        "erase",
        "--db",
        &url,
        "--preset",
        "shopware6",
        "--guest",
        "gwendolyn.fairbanks@example.test",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("total: 10 deleted, 7 anonymized, 1 deferred, 2 retained"),
        "{}",
        text(&out)
    );

    // The jobs run on the preset's tables: nothing is due yet (the orders are kept six years),
    // and the kept orders are still there.
    let before = snapshot(&url).await;
    let out = erasure(&["jobs", "run", "--db", &url, "--preset", "shopware6"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    // The order purge and the request purge run; no basket purge, since the preset leaves the
    // basket handler out (and maps nothing as baskets).
    let ran = text(&out);
    let jobs: Vec<&str> = ran
        .lines()
        .filter_map(|line| line.split_once(':').map(|(name, _)| name))
        .collect();
    assert_eq!(jobs, ["order-purge", "request-purge"], "{ran}");
    let after = snapshot(&url).await;
    assert_eq!(before.diff(&after), None);
    assert_eq!(after.table("order").map(|t| t.rows.len()), Some(5));
    assert_eq!(
        after.table("erasure_deferred").map(|t| t.rows.len()),
        Some(3)
    );

    // Nothing of either is left in any table: not the redeemed promotion codes' payloads, not the
    // invoices' deep links, not the guest's session's cart, not the logs that name them inside
    // JSON.
    assert_eq!(
        residue(
            &url,
            &[
                "Aurelio",
                "Quennvik",
                "aurelio.quennvik@example.test",
                "Larchwood Lane 7",
                "Ferncastle Road 12",
                "Dunmere",
                "+49 151 20000001",
                "198.51.100.23",
                "Please ring twice",
                "Quayside Court 3",
                "Ellsworth Hollow",
                "+49 151 30000003",
                "203.0.113.77",
                "Gwendolyn will collect it",
                "Gwen F.",
                "ctx-gwendolyn-c3",
                "a1010000000000000000000000000001",
                "c3010000000000000000000000000001",
                "aureliodocdeeplink",
                "gwendolyndocdeeplink",
                "Gwendolyn.Fairbanks@example.test",
            ]
        )
        .await,
        Vec::<(String, String, String)>::new()
    );
    // The others are all there.
    let kept = [
        "brigida.holloway@example.test",
        "Brigida Holloway",
        "Saltmarsh Row 19",
        "dorian.ashcombe@example.test",
        "Millrace Yard 44",
        "Orchard Rise 21",
    ];
    let found = residue(&url, &kept).await;
    for value in kept {
        assert!(
            found.iter().any(|h| h.2 == value),
            "{value} was lost: {found:?}"
        );
    }
}
