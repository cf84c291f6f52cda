//! The chain checked against the live schema: mapped names that do not exist, and personal data
//! no handler covers.

mod support;

use erasure::coverage::{Concern, Missing, SchemaError};
use erasure_fixture_registered::DDL;
use erasure_testkit::{TestBackend, TestDb};
use support::backend_tests;

async fn the_standard_chain_fits_and_covers_the_reference_schema<DB: TestBackend>(db: TestDb<DB>) {
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let mut conn = db.pool.acquire().await.expect("conn");
    chain
        .check_schema(&mut conn)
        .await
        .expect("every mapped table and column exists");
    let uncovered = chain
        .coverage(&mut conn, &["customers", "users"])
        .await
        .expect("coverage");
    assert!(uncovered.is_empty(), "{uncovered:#?}");

    // A table of the integrator's that refers to customers and holds a name is found.
    DB::execute(&mut conn, &erasure::sql::Sql::new(DDL))
        .await
        .expect("create");
    let uncovered = chain
        .coverage(&mut conn, &["customers", "users"])
        .await
        .expect("coverage");
    let found: Vec<(&str, &str, bool)> = uncovered
        .iter()
        .map(|u| {
            (
                u.table.as_str(),
                u.column.as_str(),
                matches!(u.concern, Concern::Personal),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("loyalty_points", "customer_id", false),
            ("loyalty_points", "user_id", false),
            ("loyalty_points", "member_name", true),
        ],
        "{uncovered:#?}"
    );
    // With a declared foreign key the report names the table it refers to. (MySQL ignores the
    // fixture's column-level REFERENCES, so there the column name gives it away instead.)
    if DB::LABEL != "mysql" {
        assert_eq!(
            uncovered[0].to_string(),
            "loyalty_points.customer_id refers to customers"
        );
    }

    // With the integrator's handler registered, it is covered.
    let _ = erasure_fixture_registered::LoyaltyPoints;
    let covered = erasure::standard_chain::<DB>()
        .with_registered()
        .build()
        .expect("chain");
    assert!(
        covered
            .coverage(&mut conn, &["customers", "users"])
            .await
            .expect("coverage")
            .is_empty()
    );
}

async fn a_mapping_that_does_not_fit_is_named_before_anything_runs<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let mappings: erasure::StandardMappings = toml::from_str(
        "[order]\ntable = \"sales\"\n[wishlist]\nsubject = { customer = \"customer_id\", user = \"owner_id\" }\n",
    )
    .expect("mappings");
    let chain = erasure::standard_chain_with::<DB>(&mappings)
        .build()
        .expect("chain");
    let mut conn = db.pool.acquire().await.expect("conn");
    let err = chain.check_schema(&mut conn).await.expect_err("mismatch");
    let SchemaError::Mismatch(mismatch) = &err else {
        panic!("{err}")
    };
    assert!(
        mismatch.missing.contains(&Missing {
            table: "sales".into(),
            column: None
        }),
        "{err}"
    );
    assert!(
        mismatch.missing.contains(&Missing {
            table: "wishlists".into(),
            column: Some("owner_id".into())
        }),
        "{err}"
    );
    assert!(err.to_string().contains("table `sales`"), "{err}");
    assert!(
        err.to_string().contains("column `wishlists.owner_id`"),
        "{err}"
    );
}

backend_tests!(
    the_standard_chain_fits_and_covers_the_reference_schema,
    a_mapping_that_does_not_fit_is_named_before_anything_runs,
);
