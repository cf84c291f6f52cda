//! A dry run runs the whole chain, reports what an erasure would do, and changes nothing.

mod support;

use erasure::{Erasure, Mode, Subject};
use erasure_testkit::{TestBackend, TestDb};
use support::{Shop, backend_tests};

async fn a_dry_run_reports_the_same_counts_as_the_erasure_and_changes_nothing<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let shop = Shop::seeded(db, 200).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let b2b = shop.customer_where(|c| c.is_b2b() && c.orders > 1);
    let private = shop.customer_where(|c| !c.is_b2b() && c.orders > 2 && c.cashbacks > 1);
    let guest = shop.seed.guest(3);
    let subjects = [
        private.subject(),
        b2b.subject(),
        Subject::user(b2b.id, b2b.users[2].id),
        guest.subject(),
        Subject::customer(999_999),
    ];
    for subject in subjects {
        let before = shop.dump().await;
        let erasure = Erasure::new(subject.clone());
        let preview = chain
            .dry_run(&shop.db.pool, &erasure)
            .await
            .expect("dry run");
        assert_eq!(preview.mode, Mode::DryRun);
        assert_eq!(
            before.diff(&shop.dump().await),
            None,
            "a dry run changed the database"
        );

        let report = chain.erase(&shop.db.pool, &erasure).await.expect("erase");
        assert_eq!(report.mode, Mode::Erase);
        assert_eq!(preview.totals(), report.totals(), "{subject:?}");
        for (p, r) in preview.handlers.iter().zip(&report.handlers) {
            assert_eq!((p.position, &p.outcome), (r.position, &r.outcome));
            assert_eq!(p.statements, r.statements);
        }
        assert_eq!(
            preview.subject, report.subject,
            "same subject, same pseudonym"
        );
    }
}

backend_tests!(a_dry_run_reports_the_same_counts_as_the_erasure_and_changes_nothing);
