//! Helpers shared by the integration tests: seeded shops, dumps, residue checks, and the macro
//! that instantiates one generic scenario per database.
#![allow(dead_code, unreachable_pub, unused_macros, unused_imports)]

use std::collections::BTreeSet;

use erasure::{Backend, Chain, Erasure, Report, Subject};
use erasure_testkit::dump::{Change, Dump, dump};
use erasure_testkit::residue::{ResidueReport, scan};
use erasure_testkit::{Needle, Owner, Seed, SeedConfig, TestBackend, TestDb};

/// A fresh database on the server of `DB`, or `None` (with a note on stderr) when the server is
/// unreachable and `ERASURE_REQUIRE_BACKENDS` is not set. CI sets it, so there a missing server
/// fails the test instead.
pub async fn server<DB: TestBackend>() -> Option<TestDb<DB>> {
    match DB::fresh(12).await {
        Ok(db) => Some(db),
        Err(e) if e.is_unreachable() && !erasure_testkit::db::backends_required() => {
            eprintln!("skipped on {}: {e}", <DB as TestBackend>::LABEL);
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// Instantiates `async fn name<DB: TestBackend>(db: TestDb<DB>)` scenarios once per database:
/// SQLite in memory and in a file, PostgreSQL and MySQL/MariaDB (with their features, each test
/// in a database of its own).
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::support::server::<sqlx::Postgres>().await else { return };
                    super::$name(db).await;
                }
            )*
        }
        #[cfg(feature = "mysql")]
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::support::server::<sqlx::MySql>().await else { return };
                    super::$name(db).await;
                }
            )*
        }
        mod sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = erasure_testkit::TestDb::sqlite_memory().await.expect("in-memory SQLite");
                    super::$name(db).await;
                }
            )*
        }
        mod sqlite_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = erasure_testkit::TestDb::sqlite_file(4).await.expect("SQLite file");
                    super::$name(db).await;
                }
            )*
        }
    };
}
pub(crate) use backend_tests;

/// A database with the reference schema and seeded data.
pub struct Shop<DB: Backend> {
    pub db: TestDb<DB>,
    pub seed: Seed,
}

impl<DB: TestBackend> Shop<DB> {
    /// Seeds `config` into `db`.
    pub async fn new(db: TestDb<DB>, config: SeedConfig) -> Self {
        let seed = Seed::new(config);
        seed.insert(&db.pool).await.expect("seeding");
        Self { db, seed }
    }

    /// `customers` customers with the varied shape.
    pub async fn seeded(db: TestDb<DB>, customers: u64) -> Self {
        Self::new(db, SeedConfig::new(customers)).await
    }

    pub async fn dump(&self) -> Dump {
        let mut conn = self.db.pool.acquire().await.expect("connection");
        dump::<DB>(&mut conn).await.expect("dump")
    }

    pub async fn residue(&self, needles: &[Needle]) -> ResidueReport {
        let mut conn = self.db.pool.acquire().await.expect("connection");
        scan::<DB>(&mut conn, needles).await.expect("residue scan")
    }

    pub async fn erase(&self, chain: &Chain<DB>, subject: Subject) -> Report {
        chain
            .erase(&self.db.pool, &Erasure::new(subject))
            .await
            .unwrap_or_else(|e| panic!("erasure failed: {e}"))
    }

    /// The first customer (by index) for which `pick` holds.
    pub fn customer_where(
        &self,
        pick: impl Fn(&erasure_testkit::SeededCustomer) -> bool,
    ) -> erasure_testkit::SeededCustomer {
        self.seed
            .customers()
            .find(|c| pick(c))
            .expect("a seeded customer with the wanted shape")
    }

    /// Asserts that every row that differs between `before` and `after` belongs to `owner`.
    pub fn assert_only_owned_changed(&self, before: &Dump, after: &Dump, owners: &[Owner]) {
        let foreign: Vec<_> = before
            .changes(after)
            .into_iter()
            .filter(|c| {
                let id: i64 = c.key.parse().expect("integer ids");
                match self.seed.owner(&c.table, id) {
                    Some(owner) => !owners.contains(&owner),
                    None => true,
                }
            })
            .collect();
        assert!(foreign.is_empty(), "rows of others changed: {foreign:#?}");
    }

    /// Tables in which some row changed between `before` and `after`.
    pub fn changed_tables(before: &Dump, after: &Dump, change: Change) -> BTreeSet<String> {
        before
            .changes(after)
            .into_iter()
            .filter(|c| c.change == change)
            .map(|c| c.table)
            .collect()
    }
}

/// The rows of `table` as column → value maps, in dump order.
pub fn rows(dump: &Dump, table: &str) -> Vec<std::collections::BTreeMap<String, erasure::Value>> {
    let Some(t) = dump.table(table) else {
        return Vec::new();
    };
    t.rows
        .iter()
        .map(|r| t.columns.iter().cloned().zip(r.iter().cloned()).collect())
        .collect()
}

/// The row of `table` whose `id` is `id`.
pub fn row(
    dump: &Dump,
    table: &str,
    id: i64,
) -> Option<std::collections::BTreeMap<String, erasure::Value>> {
    rows(dump, table)
        .into_iter()
        .find(|r| r.get("id").and_then(erasure::Value::as_i64) == Some(id))
}

/// Rows of `table` owned (by the seed's id blocks) by `owner`.
pub fn owned_rows(
    seed: &Seed,
    dump: &Dump,
    table: &str,
    owner: Owner,
) -> Vec<std::collections::BTreeMap<String, erasure::Value>> {
    rows(dump, table)
        .into_iter()
        .filter(|r| {
            r.get("id")
                .and_then(erasure::Value::as_i64)
                .and_then(|id| seed.owner(table, id))
                == Some(owner)
        })
        .collect()
}

/// Whether a value read back means "true" (SQLite and MySQL store booleans as integers).
pub fn truthy(v: Option<&erasure::Value>) -> bool {
    matches!(
        v,
        Some(erasure::Value::Bool(true)) | Some(erasure::Value::Int(1))
    )
}

/// Asserts a residue scan is clean, printing where values were found otherwise.
pub fn assert_clean(report: &ResidueReport) {
    assert!(report.is_clean(), "personal values survive:\n{report}");
}
