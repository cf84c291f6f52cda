//! Bad input gets a clear error and touches nothing.

mod support;

use erasure::{Erasure, Error, Key, StandardMappings, Subject, SubjectError};
use erasure_testkit::{TestBackend, TestDb};
use support::{Shop, backend_tests};

#[test]
fn invalid_identifiers_in_a_mapping_are_rejected_with_the_key_and_line() {
    let cases = [
        ("orders; DROP TABLE x", "';'"),
        ("", "empty"),
        ("\\\"orders\\\"", "'\"'"),
        ("`orders`", "'`'"),
        ("оrders", "'о'"), // Cyrillic o
        ("orders\\u200b", "'\\u{200b}'"),
        ("shop.orders.x", "at most one `.`"),
        ("1orders", "digit"),
    ];
    for (bad, why) in cases {
        let config = format!("[basket]\nstatus = \"status\"\n\n[order]\ntable = \"{bad}\"\n");
        let err = toml::from_str::<StandardMappings>(&config)
            .expect_err(bad)
            .to_string();
        assert!(err.contains("invalid identifier"), "{bad:?}: {err}");
        assert!(err.contains(why), "{bad:?}: {err}");
        assert!(err.contains("line 5"), "{bad:?}: the line is named: {err}");
        assert!(err.contains("table"), "{bad:?}: the key is named: {err}");
    }
    // Unknown keys are errors too, not silently ignored.
    let err = toml::from_str::<StandardMappings>("[order]\ntabel = \"orders\"\n")
        .expect_err("typo")
        .to_string();
    assert!(err.contains("tabel"), "{err}");
    let err = toml::from_str::<StandardMappings>("[orders]\ntable = \"orders\"\n")
        .expect_err("unknown section")
        .to_string();
    assert!(err.contains("orders"), "{err}");
}

async fn an_unknown_customer_is_a_no_op_report<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, 20).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let before = shop.dump().await;
    for subject in [
        Subject::customer(424_242),
        Subject::user(424_242, 1),
        Subject::guest("nobody@nowhere.example").expect("email"),
        // A real user id under the wrong customer matches nothing either.
        Subject::user(2, shop.seed.customer(5).users[0].id),
    ] {
        let report = shop.erase(&chain, subject).await;
        assert!(report.is_noop(), "{report}");
        assert_eq!(report.handlers.len(), 10);
    }
    assert_eq!(before.diff(&shop.dump().await), None);
}

async fn an_invalid_subject_is_rejected_before_anything_runs<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, 5).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let before = shop.dump().await;
    let hostile = [
        Subject::Users {
            customer: Key::Int(1),
            users: vec![],
        },
        Subject::Guest {
            email: "nul\0@example.test".into(),
        },
        Subject::Guest {
            email: "x".repeat(10_000),
        },
        Subject::Customer {
            customer: Key::Text(String::new()),
        },
    ];
    for subject in hostile {
        let err = chain
            .erase(&shop.db.pool, &Erasure::new(subject))
            .await
            .expect_err("invalid subject");
        assert!(matches!(err, Error::Subject(_)), "{err:?}");
        assert!(err.to_string().len() < 200, "short message: {err}");
    }
    assert_eq!(
        Subject::users(1, Vec::<i64>::new()).expect_err("empty"),
        SubjectError::NoUsers
    );
    // SQL in a subject value is only ever a bound value: it matches nothing and breaks nothing.
    let injection = Subject::guest("x@y' OR '1'='1").expect("email");
    let report = shop.erase(&chain, injection).await;
    assert!(report.is_noop());
    let injection =
        Subject::customer(Key::text("1 OR 1=1; DROP TABLE customers; --").expect("key"));
    // SQLite compares the text key with the integer column and finds nothing.
    let _ = chain.erase(&shop.db.pool, &Erasure::new(injection)).await;
    assert_eq!(before.diff(&shop.dump().await), None);
}

/// Look-alikes of a real guest's email (another script's letter, invisible characters, a
/// full-width `@`, surrounding spaces) never erase that guest: they are rejected before anything
/// runs, or bound as values that match nothing, on every database.
async fn confusable_emails_match_nothing<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, 10).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let email = shop.seed.guest(0).users[0].email.clone();
    let (local, domain) = email.split_once('@').expect("seeded email");
    let cyrillic: String = email
        .chars()
        .map(|c| match c {
            'a' => 'а',
            'e' => 'е',
            'o' => 'о',
            c => c,
        })
        .collect();
    assert_ne!(cyrillic, email, "the seeded email has a letter to swap");
    let accented = email.replacen(['a', 'e', 'o'], "é", 1);
    let before = shop.dump().await;
    let variants = [
        cyrillic,
        accented,
        email.replacen('@', "\u{ad}@", 1),
        format!("{email}\u{200b}"),
        format!("\u{200b}{email}"),
        format!("{local}\u{ff20}{domain}"),
        format!("{local}@{domain}\u{feff}"),
        format!("{email} "),
        format!(" {email}"),
        format!("{email}\t"),
        format!("{local}\u{0}@{domain}"),
    ];
    for variant in &variants {
        match Subject::guest(variant.clone()) {
            Err(e) => {
                assert!(matches!(e, SubjectError::InvalidEmail(_)), "{e:?}");
                assert!(
                    !e.to_string().contains(local),
                    "the error repeats the value: {e}"
                );
            }
            Ok(subject) => {
                let report = shop.erase(&chain, subject).await;
                assert!(report.is_noop(), "{variant:?} matched: {report}");
            }
        }
    }
    assert_eq!(before.diff(&shop.dump().await), None);
    // The real address still finds the guest.
    let report = shop
        .erase(&chain, Subject::guest(email).expect("email"))
        .await;
    assert!(!report.is_noop());
}

/// Fixed replacement values from a mapping are bound like every value: SQL, quotes, look-alike
/// letters and a long string land verbatim in the subject's rows and break nothing.
async fn hostile_replacement_values_are_stored_verbatim<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::seeded(db, 10).await;
    let payloads = [
        "'; DROP TABLE orders; --".to_owned(),
        "\\' OR 1=1 /* ` \" */".to_owned(),
        "аnonymized\u{200b}".to_owned(),
        "x".repeat(10_000),
    ];
    let customers: Vec<_> = shop
        .seed
        .customers()
        .filter(|c| c.orders > 0)
        .take(4)
        .collect();
    assert_eq!(customers.len(), payloads.len());
    for (i, (payload, c)) in payloads.iter().zip(customers).enumerate() {
        let mut mappings = StandardMappings::default();
        mappings.order.anonymize.insert(
            erasure::ident!("notes"),
            erasure::Replacement::Fixed(payload.clone()),
        );
        let chain = erasure::standard_chain_with::<DB>(&mappings)
            .build()
            .expect("chain");
        let before = shop.dump().await;
        shop.erase(&chain, c.subject()).await;
        let after = shop.dump().await;
        shop.assert_only_owned_changed(&before, &after, &[erasure_testkit::Owner::Customer(c.id)]);
        let notes: Vec<String> = support::rows(&after, "orders")
            .iter()
            .filter(|o| {
                o["id"]
                    .as_i64()
                    .and_then(|id| shop.seed.owner("orders", id))
                    == Some(erasure_testkit::Owner::Customer(c.id))
            })
            .map(|o| o["notes"].as_str().unwrap_or("<null>").to_owned())
            .collect();
        assert!(!notes.is_empty());
        assert!(
            notes.iter().all(|n| n == payload),
            "payload {i} not verbatim"
        );
    }
}

backend_tests!(
    hostile_replacement_values_are_stored_verbatim,
    an_unknown_customer_is_a_no_op_report,
    an_invalid_subject_is_rejected_before_anything_runs,
    confusable_emails_match_nothing,
);
