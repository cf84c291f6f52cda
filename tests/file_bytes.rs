//! The file itself: after an erasure and a checkpoint, the bytes of the SQLite database file and
//! its WAL hold none of the erased values. Without `secure_delete`, deleted and overwritten
//! values would survive in free pages and cells.
//!
//! The test checkpoints and closes its pool itself before it reads the files: it shows what
//! `secure_delete` and a checkpoint achieve, not that a program does both before it exits (a
//! process that ends with its connections open leaves the old pages in the file and the erased
//! values in the WAL). For the `erasure` binary, `crates/erasure-cli/tests/files_on_disk.rs`
//! reads the files exactly as the process left them.

mod support;

use erasure::Erasure;
use erasure_testkit::{Needle, SeedConfig, Shape, TestDb};

fn found_in(bytes: &[u8], needles: &[Needle]) -> Vec<String> {
    needles
        .iter()
        .filter(|n| {
            bytes
                .windows(n.value.len())
                .any(|w| w == n.value.as_bytes())
        })
        .map(|n| n.label.clone())
        .collect()
}

#[tokio::test]
async fn no_erased_value_survives_in_the_database_file_or_its_wal() {
    let _traces = support::checked_traces();
    let db = TestDb::sqlite_file(2).await.expect("db");
    let path = db.path().expect("file");
    let shop = support::Shop::new(db, SeedConfig::new(200).shape(Shape::typical())).await;
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .build()
        .expect("chain");
    let erased: Vec<_> = [3, 50, 120]
        .iter()
        .map(|&i| shop.seed.customer(i))
        .collect();
    let kept = shop.seed.customer(7);
    for c in &erased {
        chain
            .erase(&shop.db.pool, &Erasure::new(c.subject()))
            .await
            .expect("erase");
    }
    let mut conn = shop.db.pool.acquire().await.expect("conn");
    erasure::sqlite::checkpoint(&mut conn)
        .await
        .expect("checkpoint");
    drop(conn);
    shop.db.pool.close().await;

    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    let mut bytes = std::fs::read(&path).expect("database file");
    if wal.exists() {
        bytes.extend(std::fs::read(&wal).expect("wal"));
    }
    let needles: Vec<Needle> = erased.iter().flat_map(|c| c.needles()).collect();
    let survivors = found_in(&bytes, &needles);
    assert!(
        survivors.is_empty(),
        "erased values in the file's bytes: {survivors:?}"
    );
    // The check can fail: another customer's values are right there.
    assert!(!found_in(&bytes, &kept.needles()).is_empty());
}

/// PostgreSQL keeps erased values in dead tuples until `VACUUM FULL` rewrites the table; the test
/// shows both halves (it needs to read the server's files, so it runs where the server is local).
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_dead_tuples_keep_values_until_reclaimed() {
    let _traces = support::checked_traces();
    use erasure::postgres::{Vacuum, reclaim};
    let Some(db) = support::server::<sqlx::Postgres>().await else {
        return;
    };
    let shop = support::Shop::new(db, SeedConfig::new(30).shape(Shape::typical())).await;
    let c = shop.seed.customer(4);
    let email = c.users[0].email.clone();
    let file = |pool: sqlx::PgPool| async move {
        let mut conn = pool.acquire().await.expect("conn");
        sqlx::query("CHECKPOINT")
            .execute(&mut *conn)
            .await
            .expect("checkpoint");
        let dir: String = sqlx::query_scalar("SHOW data_directory")
            .fetch_one(&mut *conn)
            .await
            .expect("dir");
        let rel: String = sqlx::query_scalar("SELECT pg_relation_filepath('orders')")
            .fetch_one(&mut *conn)
            .await
            .expect("path");
        std::fs::read(std::path::Path::new(&dir).join(rel)).ok()
    };
    let Some(before) = file(shop.db.pool.clone()).await else {
        eprintln!("skipped: the server's files are not readable here");
        return;
    };
    assert!(before.windows(email.len()).any(|w| w == email.as_bytes()));
    let chain = erasure::standard_chain::<sqlx::Postgres>()
        .build()
        .expect("chain");
    chain
        .erase(&shop.db.pool, &Erasure::new(c.subject()))
        .await
        .expect("erase");
    let after = file(shop.db.pool.clone()).await.expect("file");
    let dead = after.windows(email.len()).any(|w| w == email.as_bytes());
    let mut conn = shop.db.pool.acquire().await.expect("conn");
    reclaim(&mut conn, &[erasure::ident!("orders")], Vacuum::Full)
        .await
        .expect("vacuum");
    drop(conn);
    let reclaimed = file(shop.db.pool.clone()).await.expect("file");
    assert!(
        !reclaimed
            .windows(email.len())
            .any(|w| w == email.as_bytes()),
        "VACUUM FULL leaves no erased email in the table's file"
    );
    eprintln!(
        "postgres: the erased email was {} in the table's file before VACUUM FULL",
        if dead { "still" } else { "no longer" }
    );
}
