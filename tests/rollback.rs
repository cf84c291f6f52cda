//! All or nothing: a failure at any position leaves the database exactly as it was.

mod support;

use erasure::{Chain, Erasure, Error, StandardMappings, standard_handlers};
use erasure_testkit::fault::{Fault, FaultHandler, Faulty};
use erasure_testkit::{SeedConfig, TestBackend, TestDb};
use support::{Shop, backend_tests};

/// A B2B customer with data in every table, so that every handler writes before the fault.
fn rich_config() -> SeedConfig {
    SeedConfig::new(60).shape(erasure_testkit::Shape::typical())
}

/// The standard chain with the handler at `fail_at` wrapped so that it does its work and then
/// fails with `fault`.
fn chain_failing_at<DB: TestBackend>(fail_at: u32, fault: Fault) -> Chain<DB> {
    let mut builder = Chain::<DB>::builder();
    for (position, handler) in standard_handlers::<DB>(&StandardMappings::default()) {
        if position == fail_at {
            let (faulty, switch) = Faulty::new(handler, fault);
            switch.arm();
            builder = builder.register(position, faulty);
        } else {
            builder = builder.register_boxed(position, handler);
        }
    }
    builder.build().expect("chain")
}

async fn a_failure_at_each_standard_position_rolls_everything_back<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let shop = Shop::new(db, rich_config()).await;
    let customer = shop.customer_where(|c| c.is_b2b());
    let before = shop.dump().await;
    let positions: Vec<u32> = standard_handlers::<DB>(&StandardMappings::default())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for &position in &positions {
        for fault in [Fault::Error, Fault::Refuse, Fault::Panic] {
            let chain = chain_failing_at::<DB>(position, fault);
            let name = chain
                .handlers()
                .find(|(p, _)| *p == position)
                .map(|(_, h)| h.name().to_owned())
                .expect("handler");
            let err = chain
                .erase(&shop.db.pool, &Erasure::new(customer.subject()))
                .await
                .expect_err("the injected fault must abort the erasure");
            assert_eq!(err.position(), Some(position), "{err}");
            assert_eq!(err.handler(), Some(name.as_str()), "{err}");
            let message = err.to_string();
            assert!(
                message.contains(&format!("`{name}` at position {position}")),
                "{message}"
            );
            match fault {
                Fault::Error => assert!(matches!(err, Error::Handler { .. }), "{err:?}"),
                Fault::Refuse => assert!(err.is_refusal(), "{err:?}"),
                Fault::Panic => assert!(matches!(err, Error::Panicked { .. }), "{err:?}"),
            }
            let after = shop.dump().await;
            assert_eq!(
                before.diff(&after),
                None,
                "fault {fault:?} at {position} left changes"
            );
        }
    }
    // And without the fault the same chain erases: the faults, not the data, stopped it.
    let report = erasure::standard_chain::<DB>()
        .build()
        .expect("chain")
        .erase(&shop.db.pool, &Erasure::new(customer.subject()))
        .await
        .expect("erase");
    assert!(report.totals().deleted > 0);
}

async fn a_failure_between_or_after_the_standard_handlers_rolls_back<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let shop = Shop::new(db, rich_config()).await;
    let customer = shop.customer_where(|c| c.orders > 0);
    let before = shop.dump().await;
    for position in [1, 15, 35, 99, 1_000] {
        // The fault handler first deletes every row of a table no standard handler touches on
        // its own, so the rollback has its writes to undo as well.
        let fault =
            FaultHandler::always("injected", Fault::Error).wiping(erasure::ident!("order_lines"));
        let chain = erasure::standard_chain::<DB>()
            .register(position, fault)
            .build()
            .expect("chain");
        let err = chain
            .erase(&shop.db.pool, &Erasure::new(customer.subject()))
            .await
            .expect_err("fault");
        assert_eq!(err.position(), Some(position));
        assert!(err.to_string().contains("`injected` at position"), "{err}");
        assert_eq!(before.diff(&shop.dump().await), None, "fault at {position}");
    }
}

async fn the_pool_stays_usable_after_failures<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, rich_config()).await;
    let customer = shop.customer_where(|c| c.orders > 0);
    for _ in 0..5 {
        let chain = chain_failing_at::<DB>(30, Fault::Panic);
        chain
            .erase(&shop.db.pool, &Erasure::new(customer.subject()))
            .await
            .expect_err("panic");
    }
    // The connection that saw the panic went back to the pool rolled back, not mid-transaction.
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let report = chain
        .erase(&shop.db.pool, &Erasure::new(customer.subject()))
        .await
        .expect("erase after failures");
    assert!(report.totals().anonymized > 0);
}

backend_tests!(
    a_failure_at_each_standard_position_rolls_everything_back,
    a_failure_between_or_after_the_standard_handlers_rolls_back,
    the_pool_stays_usable_after_failures,
);
