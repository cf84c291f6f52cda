//! `[consents]` in the configuration: the chain the configuration builds erases the subject's
//! consent history with the rest of the subject (the `consents` handler at 85), and without the
//! section it has no such handler. On every backend, on the reference schema with the consent
//! tables installed.

mod support;

use chrono::{TimeZone as _, Utc};
use erasure::config::Configuration;
use erasure::consents::{
    Channel, ConsentChange, ConsentSubject, Consents, POSITION, Source, Wording,
};
use erasure::position::CONSENTS;
use erasure::{Erasure, Subject};
use erasure_testkit::{SeedConfig, Shape, TestBackend, TestDb};
use support::{Shop, backend_tests};

async fn a_configured_chain_erases_the_subjects_consents<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(3).shape(Shape::typical())).await;
    let pool = &shop.db.pool;
    let consents = Consents::<DB>::new();
    consents.install(pool).await.expect("install");
    let wording = Wording::new("Newsletter", "Send me offers by email.", "v1", "en");
    let at = Utc
        .with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .expect("time");
    let change = ConsentChange::new(
        "newsletter",
        Some(Channel::Email),
        true,
        wording,
        Source::Checkout,
        at,
    );
    let (erased, kept) = (shop.seed.customer(0), shop.seed.customer(1));
    let (erased_ref, kept_ref) = (
        ConsentSubject::customer(erased.id),
        ConsentSubject::customer(kept.id),
    );
    for subject in [&erased_ref, &kept_ref] {
        consents
            .record(pool, subject, &change)
            .await
            .expect("record");
    }

    let without = Configuration::from_toml("").expect("config");
    let chain = without
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    assert!(!chain.positions().contains(&POSITION));

    let config = Configuration::from_toml("[consents]\n").expect("config");
    let chain = config
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    let (position, handler) = chain
        .handlers()
        .find(|(p, _)| *p == POSITION)
        .expect("the consents handler");
    assert_eq!((position, handler.name()), (CONSENTS, "consents"));
    let report = chain
        .erase(pool, &Erasure::new(Subject::customer(erased.id)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.handler(POSITION).map(|h| h.outcome.totals().deleted),
        Some(1)
    );
    assert!(
        consents
            .history(pool, &erased_ref)
            .await
            .expect("history")
            .is_empty()
    );
    assert_eq!(
        consents
            .history(pool, &kept_ref)
            .await
            .expect("history")
            .len(),
        1
    );
    let proof: Configuration =
        Configuration::from_toml("[consents]\nkeep_withdrawals_as_proof = true\n").expect("config");
    assert!(proof.consents.expect("section").keep_withdrawals_as_proof);
    let e = Configuration::from_toml("[consents]\nkeep = true\n").expect_err("unknown key");
    assert!(e.to_string().contains("keep"), "{e}");
}

backend_tests!(a_configured_chain_erases_the_subjects_consents);
