//! An integrator's schema with different table and column names, configured only through
//! mappings, is erased completely.

mod support;

use erasure::{Erasure, StandardMappings, Subject};
use erasure_testkit::Needle;
use erasure_testkit::dump::dump;
use erasure_testkit::residue::scan;
use sqlx::Sqlite;

const SCHEMA: &str = include_str!("fixtures/acme_sqlite.sql");
const MAPPINGS: &str = include_str!("fixtures/acme_mappings.toml");

fn needles(values: &[&str]) -> Vec<Needle> {
    values.iter().map(|v| Needle::new(*v, *v)).collect()
}

async fn acme() -> sqlx::SqlitePool {
    let pool = erasure::sqlite::open("sqlite::memory:", 1)
        .await
        .expect("pool");
    sqlx::raw_sql(SCHEMA).execute(&pool).await.expect("schema");
    pool
}

#[tokio::test]
async fn an_account_of_another_schema_is_erased_through_mappings_alone() {
    let _traces = support::checked_traces();
    let pool = acme().await;
    let mappings: StandardMappings = toml::from_str(MAPPINGS).expect("mappings");
    let chain = erasure::standard_chain_with::<Sqlite>(&mappings)
        .build()
        .expect("chain");

    let mut conn = pool.acquire().await.expect("conn");
    chain
        .check_schema(&mut conn)
        .await
        .expect("the mappings fit the schema");
    let uncovered = chain
        .coverage(&mut conn, &["accounts", "members"])
        .await
        .expect("coverage");
    assert!(uncovered.is_empty(), "{uncovered:#?}");
    let before = dump::<Sqlite>(&mut conn).await.expect("dump");
    // The same mappings export what they erase.
    let mut document = Vec::new();
    let summary = chain
        .export(&mut *conn, &Subject::customer(1), &mut document)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(summary.complete && summary.not_included.is_empty());
    let exported = String::from_utf8(document).expect("utf-8");
    let report = chain
        .erase(&mut *conn, &Erasure::new(Subject::customer(1)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!report.is_noop());

    let gone = needles(&[
        "Zarovin",
        "Ilsa",
        "Varnok",
        "Teodor",
        "Brask",
        "ilsa.varnok@acme.example",
        "teodor.brask@acme.example",
        "+44 7700 900111",
        "+44 7700 900112",
        "Wrenfold",
        "Quarry Row",
        "PB1 4WL",
        "GB29NWBK60161331926819",
        "198.51.100.11",
        "198.51.100.12",
    ]);
    let residue = scan::<Sqlite>(&mut conn, &gone).await.expect("scan");
    assert!(residue.is_clean(), "{residue}");
    for n in &gone {
        assert!(
            exported.contains(&n.value),
            "{} was erased but not exported",
            n.label
        );
    }

    // Account 2 and the guest are untouched.
    let kept = needles(&[
        "Quellmark",
        "Maren",
        "Holt",
        "maren.holt@acme.example",
        "GB94BARC10201530093459",
        "Ostmere",
        "walk.in@guest.example",
        "Walkin Guestly",
    ]);
    let after = dump::<Sqlite>(&mut conn).await.expect("dump");
    let found = scan::<Sqlite>(&mut conn, &kept).await.expect("scan");
    for n in &kept {
        assert!(
            found.hits.iter().any(|h| h.label == n.label),
            "{} was lost",
            n.label
        );
    }
    for table in ["sales", "sale_parties", "gift_vouchers"] {
        let count = |d: &erasure_testkit::dump::Dump| d.table(table).map(|t| t.rows.len());
        assert_eq!(
            count(&before),
            count(&after),
            "{table} rows are kept or belong to others"
        );
    }
    // Kept facts: sales keep their amounts and are flagged for the purge job; the paid-out
    // refund stays, the pending one goes; the gift voucher keeps its value.
    let sales = after.table("sales").expect("sales");
    let gross = sales
        .columns
        .iter()
        .position(|c| c == "gross_cents")
        .expect("column");
    let flag = sales
        .columns
        .iter()
        .position(|c| c == "purge_flag")
        .expect("column");
    let phone = sales
        .columns
        .iter()
        .position(|c| c == "buyer_phone")
        .expect("column");
    let sale1 = &sales.rows[0];
    assert_eq!(sale1[gross], erasure::Value::Int(9900));
    assert_eq!(sale1[flag], erasure::Value::Int(1));
    assert_eq!(sale1[phone], erasure::Value::from("anonymized"));
    let refunds = after.table("refunds").expect("refunds");
    assert_eq!(
        refunds.rows.len(),
        2,
        "paid-out refund 1 and account 2's refund"
    );
    let parties = after.table("sale_parties").expect("parties");
    let name = parties
        .columns
        .iter()
        .position(|c| c == "party_name")
        .expect("column");
    let pseudonym = parties.rows[0][name].as_str().expect("pseudonym");
    assert_eq!(pseudonym.len(), 32, "a keyed pseudonym, not the name");
    assert_eq!(
        report.handler(25).map(|h| h.outcome.totals().retained),
        Some(1),
        "{report}"
    );
}

#[tokio::test]
async fn a_member_and_a_guest_of_another_schema_are_erased() {
    let _traces = support::checked_traces();
    let pool = acme().await;
    let mappings: StandardMappings = toml::from_str(MAPPINGS).expect("mappings");
    let chain = erasure::standard_chain_with::<Sqlite>(&mappings)
        .build()
        .expect("chain");

    // The owner of account 1 may not go alone; the staff member may.
    let err = chain
        .erase(&pool, &Erasure::new(Subject::user(1, 11)))
        .await
        .expect_err("sole owner");
    assert!(err.is_refusal() && err.position() == Some(5), "{err}");
    chain
        .erase(&pool, &Erasure::new(Subject::user(1, 12)))
        .await
        .expect("staff member");
    chain
        .erase(
            &pool,
            &Erasure::new(Subject::guest("walk.in@guest.example").expect("email")),
        )
        .await
        .expect("guest");

    let mut conn = pool.acquire().await.expect("conn");
    let gone = needles(&[
        "Teodor",
        "Brask",
        "teodor.brask@acme.example",
        "198.51.100.12",
        "walk.in@guest.example",
        "Walkin Guestly",
        "198.51.100.99",
    ]);
    let residue = scan::<Sqlite>(&mut conn, &gone).await.expect("scan");
    assert!(residue.is_clean(), "{residue}");
    let kept = needles(&["Ilsa", "Varnok", "ilsa.varnok@acme.example", "Zarovin"]);
    let found = scan::<Sqlite>(&mut conn, &kept).await.expect("scan");
    assert_eq!(
        found
            .hits
            .iter()
            .map(|h| h.label.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        4
    );
}
