//! An erasure can join a larger unit of work: inside a caller's transaction it runs in a
//! savepoint and commits or rolls back with the caller.

mod support;

use erasure::{Erasure, sql::Condition, sql::Select};
use erasure_testkit::{TestBackend, TestDb};
use support::{Shop, backend_tests};

async fn the_callers_rollback_undoes_the_erasure<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, 50).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let customer = shop.customer_where(|c| c.orders > 0);
    let before = shop.dump().await;

    let mut tx = shop.db.pool.begin().await.expect("begin");
    let report = chain
        .erase_on(&mut tx, &Erasure::new(customer.subject()))
        .await
        .expect("erase inside the caller's transaction");
    assert!(report.totals().deleted > 0);
    // Inside the transaction, the customer is gone.
    let count = Select::count(erasure::ident!("customers"))
        .filter(Condition::eq(erasure::ident!("id"), customer.id));
    let rows = DB::fetch_all(&mut tx, &count.to_sql())
        .await
        .expect("count");
    assert_eq!(rows[0].get_index(0).and_then(|v| v.as_i64()), Some(0));
    tx.rollback().await.expect("rollback");

    assert_eq!(before.diff(&shop.dump().await), None);
}

async fn the_callers_commit_makes_it_durable<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, 50).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let customer = shop.customer_where(|c| c.orders > 0);

    let mut tx = shop.db.pool.begin().await.expect("begin");
    chain
        .erase_on(&mut tx, &Erasure::new(customer.subject()))
        .await
        .expect("erase");
    tx.commit().await.expect("commit");

    let residue = shop.residue(&customer.needles()).await;
    support::assert_clean(&residue);
}

async fn a_failed_erasure_leaves_the_callers_transaction_usable<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, 50).await;
    let customer = shop.customer_where(|c| c.orders > 0);
    let failing = erasure::standard_chain::<DB>()
        .register(
            99,
            erasure_testkit::fault::FaultHandler::always(
                "boom",
                erasure_testkit::fault::Fault::Error,
            ),
        )
        .build()
        .expect("chain");
    let chain = erasure::standard_chain::<DB>().build().expect("chain");

    let mut tx = shop.db.pool.begin().await.expect("begin");
    failing
        .erase_on(&mut tx, &Erasure::new(customer.subject()))
        .await
        .expect_err("fault");
    // The savepoint was rolled back; the caller's transaction goes on and can commit other work.
    chain
        .erase_on(&mut tx, &Erasure::new(customer.subject()))
        .await
        .expect("the transaction is still usable");
    tx.commit().await.expect("commit");
    support::assert_clean(&shop.residue(&customer.needles()).await);
}

backend_tests!(
    the_callers_rollback_undoes_the_erasure,
    the_callers_commit_makes_it_durable,
    a_failed_erasure_leaves_the_callers_transaction_usable,
);

/// On a file, a committed erasure survives closing and reopening the database.
#[tokio::test]
async fn a_committed_erasure_survives_reopening_the_file() {
    let _traces = support::checked_traces();
    let db = TestDb::sqlite_file(2).await.expect("db");
    let path = db.path().expect("file");
    let shop = Shop::seeded(db, 30).await;
    let customer = shop.customer_where(|c| c.orders > 0);
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .build()
        .expect("chain");
    let mut tx = shop.db.pool.begin().await.expect("begin");
    chain
        .erase_on(&mut tx, &Erasure::new(customer.subject()))
        .await
        .expect("erase");
    tx.commit().await.expect("commit");
    shop.db.pool.close().await;

    let url = format!("sqlite://{}", path.display());
    let pool = erasure::sqlite::open(&url, 1).await.expect("reopen");
    let mut conn = pool.acquire().await.expect("conn");
    let report = erasure_testkit::residue::scan::<sqlx::Sqlite>(&mut conn, &customer.needles())
        .await
        .expect("scan");
    support::assert_clean(&report);
}
