//! The seed generator writes what `Seed::customer` describes, deterministically, and the residue
//! scanner finds it.

use erasure_testkit::dump::dump;
use erasure_testkit::residue::scan;
use erasure_testkit::{Seed, SeedConfig, TestDb};

#[tokio::test]
async fn seeding_is_deterministic_and_the_scanner_finds_every_value() {
    let seed = Seed::new(SeedConfig::new(300));
    let a = TestDb::sqlite_file(2).await.expect("db");
    let b = TestDb::sqlite_memory().await.expect("db");
    let started = std::time::Instant::now();
    let summary = seed.insert(&a.pool).await.expect("seed a");
    eprintln!("seeded {} rows in {:?}", summary.total(), started.elapsed());
    seed.insert(&b.pool).await.expect("seed b");
    assert_eq!(summary.rows("customers"), 300);
    assert_eq!(summary.rows("users"), 270 + 30 * 3);

    let mut ca = a.pool.acquire().await.expect("conn");
    let mut cb = b.pool.acquire().await.expect("conn");
    let (da, db) = (
        dump::<sqlx::Sqlite>(&mut ca).await.expect("dump"),
        dump::<sqlx::Sqlite>(&mut cb).await.expect("dump"),
    );
    assert_eq!(
        da.diff(&db),
        None,
        "two seeds of one config must be identical"
    );
    for (table, rows) in da.counts() {
        if table != "_sqlx_migrations" {
            assert_eq!(rows as u64, summary.rows(table), "{table}");
        }
    }

    // Every value of a customer is found, and only in rows of that customer.
    let c = seed.customer(41);
    let report = scan::<sqlx::Sqlite>(&mut ca, &c.needles())
        .await
        .expect("scan");
    for needle in c.needles() {
        assert!(
            report.hits.iter().any(|h| h.label == needle.label),
            "{} not found anywhere",
            needle.label
        );
    }
    let users = report
        .hits
        .iter()
        .find(|h| h.table == "users" && h.column == "email")
        .expect("email in users");
    assert_eq!(users.rows, 1);

    // Values are unique across all customers and guests.
    let mut all = std::collections::HashSet::new();
    for p in seed.customers().chain(seed.guests()) {
        for n in p.needles() {
            assert!(all.insert(n.value.clone()), "{} is not unique", n.label);
        }
    }
}
