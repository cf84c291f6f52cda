//! An integrator's handler at position 60, on a table of their own, registered statically from
//! another crate, runs between promotion codes (50) and gift cards (70).

mod support;

use erasure::{Erasure, sql::Insert};
use erasure_fixture_registered::{DDL, LoyaltyPoints};
use erasure_testkit::{Needle, TestBackend, TestDb};
use support::{Shop, assert_clean, backend_tests};

async fn a_registered_handler_runs_between_50_and_70<DB: TestBackend>(db: TestDb<DB>) {
    let _ = LoyaltyPoints; // keeps the registering crate linked
    let shop = Shop::seeded(db, 30).await;
    let c = shop.customer_where(|c| !c.is_b2b() && c.orders > 0);
    let other = shop.customer_where(|o| o.id != c.id);
    {
        let mut conn = shop.db.pool.acquire().await.expect("conn");
        DB::execute(&mut conn, &erasure::sql::Sql::new(DDL))
            .await
            .expect("create table");
        let mut insert = Insert::new(
            erasure::ident!("loyalty_points"),
            ["id", "customer_id", "user_id", "member_name", "points"]
                .map(|c| erasure::Ident::new(c).expect("ident")),
        );
        insert.row([
            1.into(),
            c.id.into(),
            c.users[0].id.into(),
            c.users[0].full_name().into(),
            120.into(),
        ]);
        insert.row([
            2.into(),
            c.id.into(),
            erasure::Value::Null,
            c.users[0].full_name().into(),
            30.into(),
        ]);
        insert.row([
            3.into(),
            other.id.into(),
            other.users[0].id.into(),
            other.users[0].full_name().into(),
            7.into(),
        ]);
        DB::execute(&mut conn, &insert.to_sql())
            .await
            .expect("insert");
    }

    // Without the integrator's handler the loyalty rows still point at the customer, so the
    // customer delete at 100 fails and nothing is erased: a forgotten table cannot be skipped.
    let standard = erasure::standard_chain::<DB>().build().expect("chain");
    let before = shop.dump().await;
    let err = standard
        .erase(&shop.db.pool, &Erasure::new(c.subject()))
        .await
        .expect_err("a table no handler covers");
    assert_eq!(err.position(), Some(100), "{err}");
    assert_eq!(before.diff(&shop.dump().await), None);

    let chain = erasure::standard_chain::<DB>()
        .with_registered()
        .build()
        .expect("chain");
    let report = shop.erase(&chain, c.subject()).await;
    let order: Vec<u32> = report.handlers.iter().map(|h| h.position).collect();
    let at = |p: u32| order.iter().position(|&x| x == p).expect("position");
    assert!(at(50) < at(60) && at(60) < at(70), "{order:?}");
    let loyalty = report.handler(60).expect("loyalty ran");
    assert_eq!(loyalty.name, "loyalty-points");
    assert_eq!(loyalty.outcome.totals().deleted, 2);
    let mut needles = c.needles();
    needles.push(Needle::new("member name", c.users[0].full_name()));
    assert_clean(&shop.residue(&needles).await);
    // The other member's points are untouched.
    let after = shop.dump().await;
    assert_eq!(after.table("loyalty_points").map(|t| t.rows.len()), Some(1));
}

backend_tests!(a_registered_handler_runs_between_50_and_70);
