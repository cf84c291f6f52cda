//! SQLite opened the way an erasure library needs it: WAL, a busy timeout, foreign keys,
//! `secure_delete`, and in memory one shared connection.

mod support;

use erasure_testkit::TestDb;

async fn int_pragma(pool: &sqlx::SqlitePool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

#[tokio::test]
async fn a_file_database_gets_wal_busy_timeout_foreign_keys_and_secure_delete() {
    let _traces = support::checked_traces();
    let db = TestDb::sqlite_file(4).await.expect("db");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&db.pool)
        .await
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    assert_eq!(int_pragma(&db.pool, "PRAGMA foreign_keys").await, 1);
    assert_eq!(int_pragma(&db.pool, "PRAGMA secure_delete").await, 1);
    assert_eq!(
        int_pragma(&db.pool, "PRAGMA busy_timeout").await,
        erasure::sqlite::BUSY_TIMEOUT.as_millis() as i64
    );
    // Every pooled connection has them, not only the first.
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(db.pool.acquire().await.expect("conn"));
    }
    for conn in &mut conns {
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut **conn)
            .await
            .expect("fk");
        let sd: i64 = sqlx::query_scalar("PRAGMA secure_delete")
            .fetch_one(&mut **conn)
            .await
            .expect("sd");
        assert_eq!((fk, sd), (1, 1));
    }
}

#[tokio::test]
async fn an_in_memory_pool_is_one_database_for_all_its_users() {
    let _traces = support::checked_traces();
    let pool = erasure::sqlite::open("sqlite::memory:", 8)
        .await
        .expect("pool");
    sqlx::query("CREATE TABLE t (x INTEGER)")
        .execute(&pool)
        .await
        .expect("create");
    // Many concurrent users of the pool all see the same table.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            sqlx::query("INSERT INTO t VALUES (?)")
                .bind(i)
                .execute(&pool)
                .await
                .expect("insert");
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(n, 16);
    assert_eq!(pool.options().get_max_connections(), 1);
    assert_eq!(int_pragma(&pool, "PRAGMA foreign_keys").await, 1);
    assert_eq!(int_pragma(&pool, "PRAGMA secure_delete").await, 1);
}

#[tokio::test]
async fn a_plain_path_works_like_a_url() {
    let _traces = support::checked_traces();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("plain.db");
    let pool = erasure::sqlite::open(path.to_str().expect("utf-8"), 2)
        .await
        .expect("pool");
    sqlx::query("CREATE TABLE t (x INTEGER)")
        .execute(&pool)
        .await
        .expect("create");
    assert!(path.exists());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .expect("mode");
    assert_eq!(mode, "wal");
}
