//! What the consent crate's test files share: one test per database, and a row count.

#![allow(dead_code, unused_macros, unused_imports)]

use erasure_core::sql::Select;
use erasure_core::{Backend, Ident, Value};
use erasure_testkit::{TestBackend, TestDb};

/// Instantiates `async fn name<DB: TestBackend>(db: TestDb<DB>)` once per database.
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

/// A fresh database with the reference schema, or `None` (skipped) when the server is
/// unreachable and backends are not required.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) async fn server<DB: TestBackend>() -> Option<TestDb<DB>> {
    match DB::fresh(4).await {
        Ok(db) => Some(db),
        Err(e) if e.is_unreachable() && !erasure_testkit::db::backends_required() => {
            eprintln!("skipped on {}: {e}", <DB as TestBackend>::LABEL);
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// The rows of `table`.
pub(crate) async fn count<DB: Backend>(db: &TestDb<DB>, table: &str) -> i64 {
    let mut conn = db.pool.acquire().await.expect("conn");
    let rows = DB::fetch_all(
        &mut conn,
        &Select::count(Ident::new(table).expect("ident")).to_sql(),
    )
    .await
    .expect("count");
    rows[0]
        .get_index(0)
        .and_then(Value::as_i64)
        .expect("a count")
}
