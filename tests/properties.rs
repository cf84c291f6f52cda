//! Property tests: random chains, random identifiers, hostile subject values, random shops.
//!
//! Case counts are modest so CI stays quick; `PROPTEST_CASES=1000 cargo test --test properties`
//! runs more.

mod support;

use std::sync::{Arc, Mutex};

use erasure::{
    Backend, Chain, DeletionHandler, Erasure, ErasureContext, HandlerError, Ident, Key, Outcome,
    Subject, async_trait,
};
use erasure_testkit::{Owner, Seed, SeedConfig, TestDb};
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[derive(Clone)]
struct Recorder(u32, Arc<Mutex<Vec<u32>>>);

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    fn description(&self) -> &str {
        "records its position (test)"
    }

    async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        self.1.lock().expect("lock").push(self.0);
        Ok(Outcome::new())
    }
}

/// The rules of `Ident`, written again from the documentation, independently of the code.
fn valid_by_the_docs(s: &str) -> bool {
    let part_ok = |p: &str| {
        let mut chars = p.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && p.len() <= 63
    };
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() <= 2 && parts.iter().all(|p| part_ok(p))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_chains_always_run_in_position_order(mut positions in proptest::collection::btree_set(0u32..1_000, 1..24).prop_map(|s| s.into_iter().collect::<Vec<_>>()), shuffle in any::<u64>()) {
        // Register in a scrambled order.
        let n = positions.len();
        for i in 0..n {
            let j = (shuffle.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % n as u64) as usize;
            positions.swap(i, j);
        }
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut builder = Chain::<sqlx::Sqlite>::builder();
        for &p in &positions {
            builder = builder.register(p, Recorder(p, log.clone()));
        }
        let chain = builder.build().expect("chain");
        let _traces = support::checked_traces();
        runtime().block_on(async {
            let pool = erasure::sqlite::open("sqlite::memory:", 1).await.expect("pool");
            chain.erase(&pool, &Erasure::new(Subject::customer(1))).await.expect("erase");
        });
        let mut sorted = positions.clone();
        sorted.sort_unstable();
        prop_assert_eq!(log.lock().expect("lock").clone(), sorted);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    #[test]
    fn identifiers_are_accepted_exactly_by_the_documented_rules(s in "\\PC{0,70}|[A-Za-z_][A-Za-z0-9_.]{0,70}|[a-z_]{1,10}\\.[a-z_]{1,10}") {
        let accepted = Ident::new(&s).is_ok();
        prop_assert_eq!(accepted, valid_by_the_docs(&s), "{:?}", s);
        if let Ok(ident) = Ident::new(&s) {
            // Rendered, an identifier is its own characters in quotes, and nothing else.
            let mut out = String::new();
            erasure::Dialect::Postgres.quote_ident(&ident, &mut out);
            let stripped: String = out.chars().filter(|c| *c != '"').collect();
            prop_assert_eq!(stripped, s);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn hostile_subject_values_are_rejected_or_bound_safely(value in prop_oneof![
        Just("1 OR 1=1".to_owned()),
        Just("'; DROP TABLE customers; --".to_owned()),
        Just("a\0@example.test".to_owned()),
        Just("x".repeat(100_000)),
        Just("аda@example.test".to_owned()), // Cyrillic a
        Just("ada@example.test\u{200b}".to_owned()),
        "\\PC{0,40}",
        "[a-z]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}['\"`;]{0,3}",
    ]) {
        let _traces = support::checked_traces();
        runtime().block_on(async {
            let db = TestDb::sqlite_memory().await.expect("db");
            let shop = support::Shop::seeded(db, 12).await;
            let chain = erasure::standard_chain::<sqlx::Sqlite>().build().expect("chain");
            let before = shop.dump().await;
            let subjects = [
                Subject::guest(value.clone()),
                Key::text(value.clone()).map(Subject::customer),
                Key::text(value.clone()).and_then(|u| Subject::users(1, [u])),
            ];
            for subject in subjects {
                match subject {
                    Err(e) => {
                        // Rejected with a clear error that does not repeat the value.
                        if value.len() > 3 {
                            assert!(!e.to_string().contains(&value), "{e}");
                        }
                    }
                    Ok(subject) => {
                        let report = chain.erase(&shop.db.pool, &Erasure::new(subject)).await.expect("a bound value breaks nothing");
                        assert!(report.is_noop(), "a hostile value matched something");
                    }
                }
            }
            assert_eq!(before.diff(&shop.dump().await), None);
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn random_shops_lose_everything_of_the_subject_and_nothing_else(customers in 5u64..40, seed in any::<u64>(), pick in any::<u64>(), kind in 0u8..3) {
        let _traces = support::checked_traces();
        runtime().block_on(async {
            let mut config = SeedConfig::new(customers);
            config.seed = seed;
            let db = TestDb::sqlite_memory().await.expect("db");
            let shop = support::Shop::new(db, config).await;
            let seeded: &Seed = &shop.seed;
            let (subject, owner, needles) = match kind {
                0 => {
                    let c = seeded.customer(pick % customers);
                    (c.subject(), Owner::Customer(c.id), c.needles())
                }
                1 => {
                    let g = seeded.guest(pick % seeded.config().guests);
                    (g.subject(), Owner::Guest(g.index - customers), g.needles())
                }
                _ => {
                    // One user of a B2B customer with another admin, or a whole customer.
                    match seeded.customers().find(|c| c.is_b2b() && c.users[1].admin) {
                        Some(c) => (Subject::user(c.id, c.users[2].id), Owner::Customer(c.id), c.user_needles(2)),
                        None => {
                            let c = seeded.customer(pick % customers);
                            (c.subject(), Owner::Customer(c.id), c.needles())
                        }
                    }
                }
            };
            let chain = erasure::standard_chain::<sqlx::Sqlite>().build().expect("chain");
            let before = shop.dump().await;
            shop.erase(&chain, subject).await;
            let after = shop.dump().await;
            support::assert_clean(&shop.residue(&needles).await);
            shop.assert_only_owned_changed(&before, &after, &[owner]);
        });
    }
}
