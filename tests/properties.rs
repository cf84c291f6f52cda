//! Property tests: random chains, random identifiers, hostile subject values, random shops.
//!
//! The properties that touch a database run on each of them: SQLite (in memory) and, when their
//! servers are reachable (required in CI), PostgreSQL and MySQL/MariaDB, with fewer cases on
//! the servers (a case of the random shops creates a database of its own). Case counts are
//! modest so CI stays quick; `PROPTEST_CASES=1000 cargo test --all-features --test properties`
//! runs that many cases of every property on every database.

mod support;

use std::future::Future;
use std::sync::{Arc, Mutex};

use erasure::{
    Backend, Chain, DeletionHandler, Dialect, Erasure, ErasureContext, HandlerError, Ident, Key,
    Outcome, Subject, async_trait,
};
use erasure_testkit::{Owner, Seed, SeedConfig, TestBackend, TestDb};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// `cases`, unless `PROPTEST_CASES` asks for another number.
fn cases(cases: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases)
}

/// Runs `test` on `cases` values of `strategy`, shrinking and reporting a failure as the
/// `proptest!` macro does.
fn check<S: Strategy>(
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(Config {
        cases: self::cases(cases),
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

/// Instantiates `fn property<DB: TestBackend>(cases, open)` once per database: SQLite in memory
/// with `$sqlite` cases, PostgreSQL and MySQL/MariaDB (skipped when unreachable, unless
/// `ERASURE_REQUIRE_BACKENDS=1`) with `$servers` cases.
macro_rules! on_every_backend {
    ($property:ident, sqlite: $sqlite:expr, servers: $servers:expr) => {
        mod $property {
            #[test]
            fn sqlite_memory() {
                super::$property::<sqlx::Sqlite, _>($sqlite, || async {
                    Some(
                        erasure_testkit::TestDb::sqlite_memory()
                            .await
                            .expect("in-memory SQLite"),
                    )
                });
            }

            #[cfg(feature = "postgres")]
            #[test]
            fn postgres() {
                super::$property::<sqlx::Postgres, _>(
                    $servers,
                    crate::support::server::<sqlx::Postgres>,
                );
            }

            #[cfg(feature = "mysql")]
            #[test]
            fn mysql() {
                super::$property::<sqlx::MySql, _>($servers, crate::support::server::<sqlx::MySql>);
            }
        }
    };
}

#[derive(Clone)]
/// Records its position; named after it, since a chain's handler names are unique.
struct Recorder(u32, String, Arc<Mutex<Vec<u32>>>);

impl Recorder {
    fn new(position: u32, log: Arc<Mutex<Vec<u32>>>) -> Self {
        Self(position, format!("recorder-{position}"), log)
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Recorder {
    fn name(&self) -> &str {
        &self.1
    }

    fn description(&self) -> &str {
        "records its position (test)"
    }

    async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        self.2.lock().expect("lock").push(self.0);
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

/// Random chains (1–24 handlers at random positions, registered in a scrambled order) run their
/// handlers sorted by position, in a real transaction on the database.
fn random_chains_always_run_in_position_order<DB, F>(cases: u32, open: impl Fn() -> F)
where
    DB: TestBackend,
    F: Future<Output = Option<TestDb<DB>>>,
{
    let _traces = support::checked_traces();
    let rt = runtime();
    let Some(db) = rt.block_on(open()) else {
        return;
    };
    let strategy = (
        proptest::collection::btree_set(0u32..1_000, 1..24)
            .prop_map(|s| s.into_iter().collect::<Vec<_>>()),
        any::<u64>(),
    );
    check(cases, strategy, |(mut positions, shuffle)| {
        // Register in a scrambled order.
        let n = positions.len();
        for i in 0..n {
            let j = (shuffle
                .wrapping_mul(6364136223846793005)
                .wrapping_add(i as u64)
                % n as u64) as usize;
            positions.swap(i, j);
        }
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut builder = Chain::<DB>::builder();
        for &p in &positions {
            builder = builder.register(p, Recorder::new(p, log.clone()));
        }
        let chain = builder.build().expect("chain");
        rt.block_on(async {
            chain
                .erase(&db.pool, &Erasure::new(Subject::customer(1)))
                .await
                .expect("erase");
        });
        let mut sorted = positions.clone();
        sorted.sort_unstable();
        prop_assert_eq!(log.lock().expect("lock").clone(), sorted);
        Ok(())
    });
}

on_every_backend!(random_chains_always_run_in_position_order, sqlite: 64, servers: 16);

/// Each dialect and the quote it puts around an identifier's parts.
const QUOTES: [(Dialect, char); 3] = [
    (Dialect::Sqlite, '"'),
    (Dialect::Postgres, '"'),
    (Dialect::MySql, '`'),
];

proptest! {
    #![proptest_config(Config::with_cases(cases(4_000)))]

    /// Accepted exactly by the documented rules, and rendered in every dialect as its own
    /// characters, each part between that dialect's quotes.
    #[test]
    fn identifiers_are_accepted_exactly_by_the_documented_rules(s in "\\PC{0,70}|[A-Za-z_][A-Za-z0-9_.]{0,70}|[a-z_]{1,10}\\.[a-z_]{1,10}") {
        let accepted = Ident::new(&s).is_ok();
        prop_assert_eq!(accepted, valid_by_the_docs(&s), "{:?}", s);
        if let Ok(ident) = Ident::new(&s) {
            for (dialect, quote) in QUOTES {
                let mut out = String::new();
                dialect.quote_ident(&ident, &mut out);
                let expected: Vec<String> =
                    s.split('.').map(|part| format!("{quote}{part}{quote}")).collect();
                prop_assert_eq!(&out, &expected.join("."), "{:?}", dialect);
            }
        }
    }
}

/// Hostile values as guest emails, customer keys and user keys are rejected with an error that
/// does not repeat them, or bound as values that match nothing (on PostgreSQL a text key fails
/// on the type of the integer key columns instead, with an error that does not repeat it); the
/// database is unchanged.
fn hostile_subject_values_are_rejected_or_bound_safely<DB, F>(cases: u32, open: impl Fn() -> F)
where
    DB: TestBackend,
    F: Future<Output = Option<TestDb<DB>>>,
{
    let _traces = support::checked_traces();
    let rt = runtime();
    let Some(db) = rt.block_on(open()) else {
        return;
    };
    let shop = rt.block_on(support::Shop::seeded(db, 12));
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let before = rt.block_on(shop.dump());
    let strategy = prop_oneof![
        Just("1 OR 1=1".to_owned()),
        Just("'; DROP TABLE customers; --".to_owned()),
        Just("a\0@example.test".to_owned()),
        Just("x".repeat(100_000)),
        Just("аda@example.test".to_owned()), // Cyrillic a
        Just("ada@example.test\u{200b}".to_owned()),
        "\\PC{0,40}",
        "[a-z]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}['\"`;]{0,3}",
    ];
    check(cases, strategy, |value| {
        rt.block_on(async {
            // (subject, whether its key is text compared with the integer key columns)
            let subjects = [
                (Subject::guest(value.clone()), false),
                (Key::text(value.clone()).map(Subject::customer), true),
                (
                    Key::text(value.clone()).and_then(|u| Subject::users(1, [u])),
                    true,
                ),
            ];
            for (subject, text_key) in subjects {
                match subject {
                    Err(e) => {
                        // Rejected with a clear error that does not repeat the value.
                        if value.len() > 3 {
                            assert!(!e.to_string().contains(&value), "{e}");
                        }
                    }
                    Ok(subject) => match chain.erase(&shop.db.pool, &Erasure::new(subject)).await {
                        Ok(report) => {
                            assert!(report.is_noop(), "a hostile value matched something")
                        }
                        // PostgreSQL does not compare a text key with a BIGINT column (SQLite and
                        // MySQL do, and find nothing): the erasure fails on the type, with an
                        // error that does not repeat the value, and rolls back.
                        Err(e) if text_key && DB::DIALECT == Dialect::Postgres => {
                            let code = match e.handler_error() {
                                Some(HandlerError::Database(db)) => {
                                    db.code().map(|c| c.into_owned())
                                }
                                _ => None,
                            };
                            assert_eq!(code.as_deref(), Some("42883"), "{e}");
                            if value.len() > 3 {
                                assert!(!e.to_string().contains(&value), "{e}");
                            }
                        }
                        Err(e) => panic!("a bound value breaks nothing: {e}"),
                    },
                }
            }
            assert_eq!(before.diff(&shop.dump().await), None);
        });
        Ok(())
    });
}

on_every_backend!(hostile_subject_values_are_rejected_or_bound_safely, sqlite: 48, servers: 16);

/// Random seeded shops (5–40 customers, a random seed, a random subject: a customer, a guest, or
/// one user of a B2B customer): the subject's residue is empty and only the subject's rows
/// changed. Each case seeds a database of its own.
fn random_shops_lose_everything_of_the_subject_and_nothing_else<DB, F>(
    cases: u32,
    open: impl Fn() -> F,
) where
    DB: TestBackend,
    F: Future<Output = Option<TestDb<DB>>>,
{
    let _traces = support::checked_traces();
    let rt = runtime();
    // Unreachable servers are skipped (or fail) before any case runs.
    let Some(first) = rt.block_on(open()) else {
        return;
    };
    let spare = Mutex::new(Some(first));
    let strategy = (5u64..40, any::<u64>(), any::<u64>(), 0u8..3);
    check(cases, strategy, |(customers, seed, pick, kind)| {
        let spare = spare.lock().expect("lock").take();
        rt.block_on(async {
            let db = match spare {
                Some(db) => db,
                None => open().await.expect("a fresh database"),
            };
            let mut config = SeedConfig::new(customers);
            config.seed = seed;
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
                        Some(c) => (
                            Subject::user(c.id, c.users[2].id),
                            Owner::Customer(c.id),
                            c.user_needles(2),
                        ),
                        None => {
                            let c = seeded.customer(pick % customers);
                            (c.subject(), Owner::Customer(c.id), c.needles())
                        }
                    }
                }
            };
            let chain = erasure::standard_chain::<DB>().build().expect("chain");
            let before = shop.dump().await;
            shop.erase(&chain, subject).await;
            let after = shop.dump().await;
            support::assert_clean(&shop.residue(&needles).await);
            shop.assert_only_owned_changed(&before, &after, &[owner]);
        });
        Ok(())
    });
}

on_every_backend!(random_shops_lose_everything_of_the_subject_and_nothing_else, sqlite: 16, servers: 5);
