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
/// shows both halves (it needs to read the server's files, so it runs where the server is local;
/// with `ERASURE_REQUIRE_BACKENDS=1` it fails where it cannot read them).
///
/// The "still there" half is deterministic: the erasure's `UPDATE` leaves the old version of each
/// order row in its page, and only pruning (a later access to the page, or a vacuum) removes it.
/// Autovacuum is switched off for the table, and nothing reads the table's pages between the
/// erasure's commit and the read of its file (`CHECKPOINT` writes the pages out without pruning
/// them).
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_dead_tuples_keep_values_until_reclaimed() {
    let _traces = support::checked_traces();
    use erasure::postgres::{Vacuum, reclaim};
    let Some(db) = support::server::<sqlx::Postgres>().await else {
        return;
    };
    let shop = support::Shop::new(db, SeedConfig::new(30).shape(Shape::typical())).await;
    let c = shop.customer_where(|c| c.orders > 0);
    let email = c.users[0].email.clone();
    let contains = |bytes: &[u8]| bytes.windows(email.len()).any(|w| w == email.as_bytes());
    // The table's file after a checkpoint, or why it cannot be read here.
    let file = |pool: sqlx::PgPool| async move {
        let mut conn = pool.acquire().await.expect("conn");
        sqlx::query("CHECKPOINT")
            .execute(&mut *conn)
            .await
            .map_err(|e| format!("CHECKPOINT needs more rights: {e}"))?;
        let dir: String = sqlx::query_scalar("SHOW data_directory")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| format!("the data directory is not shown: {e}"))?;
        let rel: String = sqlx::query_scalar("SELECT pg_relation_filepath('orders')")
            .fetch_one(&mut *conn)
            .await
            .expect("path");
        let path = std::path::Path::new(&dir).join(rel);
        std::fs::read(&path).map_err(|e| {
            format!(
                "the server's file {} is not readable here: {e}",
                path.display()
            )
        })
    };
    let mut conn = shop.db.pool.acquire().await.expect("conn");
    sqlx::query("ALTER TABLE orders SET (autovacuum_enabled = false)")
        .execute(&mut *conn)
        .await
        .expect("autovacuum off for the table");
    drop(conn);
    let before = match file(shop.db.pool.clone()).await {
        Ok(bytes) => bytes,
        Err(reason) => {
            support::skip_or_fail(&format!("postgres dead tuples: {reason}"));
            return;
        }
    };
    assert!(contains(&before), "the email is in the table's file");
    let chain = erasure::standard_chain::<sqlx::Postgres>()
        .build()
        .expect("chain");
    chain
        .erase(&shop.db.pool, &Erasure::new(c.subject()))
        .await
        .expect("erase");
    let after = file(shop.db.pool.clone()).await.expect("file");
    assert!(
        contains(&after),
        "before VACUUM FULL the erased email is still in a dead tuple in the table's file"
    );
    // Though no query can see it any more.
    support::assert_clean(&shop.residue(&c.needles()).await);
    let mut conn = shop.db.pool.acquire().await.expect("conn");
    reclaim(&mut conn, &[erasure::ident!("orders")], Vacuum::Full)
        .await
        .expect("vacuum");
    drop(conn);
    let reclaimed = file(shop.db.pool.clone()).await.expect("file");
    if contains(&reclaimed) {
        // VACUUM FULL keeps a dead tuple that a transaction still open in the database may see:
        // say which sessions were there.
        let sessions: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT state, backend_xmin::text, left(query, 80) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&shop.db.pool)
        .await
        .expect("sessions");
        panic!(
            "VACUUM FULL left the erased email in the table's file; other sessions in the \
             database (state, xmin, query): {sessions:?}"
        );
    }
}
