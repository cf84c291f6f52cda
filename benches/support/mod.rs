//! Scenarios shared by the criterion benches (`benches/erasure.rs`) and the bench report
//! (`examples/bench_report.rs`): seeded shops, the hand-written SQL the chain is compared with,
//! and timing helpers.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use erasure::{Chain, Erasure, Subject};
use erasure_testkit::seed::Count;
use erasure_testkit::{Seed, SeedConfig, Shape};
use sqlx::SqlitePool;

/// The reference schema for SQLite, as the test kit's migration writes it.
pub const SQLITE_SCHEMA: &str = include_str!(
    "../../crates/erasure-testkit/migrations/sqlite/20260101000000_reference_schema.sql"
);

/// A shop in a SQLite file (WAL, as `erasure::sqlite::open` sets it up), seeded.
pub struct SqliteShop {
    pub pool: SqlitePool,
    pub seed: Seed,
    /// The indexes of the customers seeded with the measured shape, in the order to use them.
    pub measured: Vec<u64>,
    pub path: std::path::PathBuf,
    pub _dir: tempfile::TempDir,
}

/// A shape with nothing but `orders` orders of 3 lines (and 2 addresses each).
pub fn orders_only(orders: u32) -> Shape {
    let zero = Count::exactly(0);
    Shape {
        addresses: Count::exactly(1),
        baskets: zero,
        basket_items: zero,
        wishlists: zero,
        wishlist_items: zero,
        orders: Count::exactly(orders),
        order_lines: Count::exactly(3),
        recurring_orders: zero,
        referral_codes: zero,
        promotion_usages: zero,
        gift_cards: zero,
        cashbacks: zero,
        alerts: zero,
    }
}

impl SqliteShop {
    /// `customers` customers of the `filler` shape, of which `measured`, spread evenly over the
    /// id space, have the `measured_shape`. With `cascade`, every foreign key cascades deletes.
    pub async fn new(
        customers: u64,
        filler: Shape,
        measured: u64,
        measured_shape: Shape,
        cascade: bool,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("bench.db");
        let mut options = erasure::sqlite::connect_options(&format!("sqlite://{}", path.display()))
            .expect("options");
        if let Ok(v) = std::env::var("BENCH_MMAP") {
            options = options.pragma("mmap_size", v);
        }
        if let Ok(v) = std::env::var("BENCH_CACHE") {
            options = options.pragma("cache_size", v);
        }
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .expect("open");
        let schema = if cascade {
            cascading(SQLITE_SCHEMA)
        } else {
            SQLITE_SCHEMA.to_owned()
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(schema))
            .execute(&pool)
            .await
            .expect("schema");
        let step = (customers / measured.max(1)).max(1);
        let measured: Vec<u64> = (0..measured).map(|i| i * step).collect();
        let mut config = SeedConfig::new(customers).shape(filler).guests(0);
        config.b2b_every = 0;
        for &i in &measured {
            config = config.with_override(i, measured_shape);
        }
        let seed = Seed::new(config);
        seed.insert(&pool).await.expect("seed");
        sqlx::query("ANALYZE")
            .execute(&pool)
            .await
            .expect("analyze");
        Self {
            pool,
            seed,
            measured,
            path,
            _dir: dir,
        }
    }

    /// The measured customers' subjects, in order.
    pub fn subjects(&self) -> Vec<(i64, Subject)> {
        self.measured
            .iter()
            .map(|&i| {
                let c = self.seed.customer(i);
                (c.id, c.subject())
            })
            .collect()
    }
}

/// The schema with `ON DELETE CASCADE` on every foreign key: what many would write instead of
/// an erasure chain (it cannot keep orders).
pub fn cascading(schema: &str) -> String {
    let mut out = String::with_capacity(schema.len() + 1024);
    for line in schema.lines() {
        match line.find(" REFERENCES ") {
            Some(at) => {
                // `col INTEGER REFERENCES t (id),` → `… REFERENCES t (id) ON DELETE CASCADE,`
                let close = line[at..].find(')').map_or(line.len(), |i| at + i + 1);
                out.push_str(&line[..close]);
                out.push_str(" ON DELETE CASCADE");
                out.push_str(&line[close..]);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The same writes the standard chain makes for a whole customer, written by hand with sqlx in
/// one transaction (SQLite text, `BEGIN IMMEDIATE` like the chain): what an engineer would write
/// without the library.
pub async fn hand_written(pool: &SqlitePool, customer: i64) -> Result<(), sqlx::Error> {
    let now = chrono::Utc::now();
    let mut conn = pool.acquire().await?;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    let statements: [&'static str; 18] = [
        "DELETE FROM b2b_roles WHERE customer_id = ?1",
        "UPDATE baskets SET status = 'INVALID', invalidated_at = ?2, customer_id = NULL, user_id = NULL WHERE customer_id = ?1",
        "DELETE FROM wishlist_items WHERE wishlist_id IN (SELECT id FROM wishlists WHERE customer_id = ?1)",
        "DELETE FROM wishlists WHERE customer_id = ?1",
        "DELETE FROM cashback_codes WHERE cashback_id IN (SELECT id FROM cashbacks WHERE customer_id = ?1) AND redeemed_at IS NULL",
        "UPDATE cashback_codes SET email = NULL WHERE cashback_id IN (SELECT id FROM cashbacks WHERE customer_id = ?1)",
        "DELETE FROM cashbacks WHERE customer_id = ?1 AND status <> 'REDEEMED'",
        "UPDATE cashbacks SET account_holder = NULL, iban = NULL, customer_id = NULL, user_id = NULL WHERE customer_id = ?1",
        "UPDATE order_addresses SET first_name = NULL, last_name = NULL, company = NULL, street = NULL, city = NULL, postcode = NULL, phone = NULL, email = NULL WHERE order_id IN (SELECT id FROM orders WHERE customer_id = ?1)",
        "UPDATE orders SET email = NULL, phone = NULL, ip_address = NULL, notes = NULL, customer_id = NULL, user_id = NULL, to_be_deleted = 1, anonymized_at = ?2 WHERE customer_id = ?1",
        "DELETE FROM recurring_order_lines WHERE recurring_order_id IN (SELECT id FROM recurring_orders WHERE customer_id = ?1)",
        "DELETE FROM recurring_orders WHERE customer_id = ?1",
        "UPDATE promotion_codes SET name = NULL, email = NULL, customer_id = NULL, user_id = NULL WHERE customer_id = ?1",
        "UPDATE promotion_code_usages SET name = NULL, email = NULL, customer_id = NULL, user_id = NULL WHERE customer_id = ?1",
        "UPDATE gift_cards SET holder_name = NULL, holder_email = NULL, customer_id = NULL, user_id = NULL WHERE customer_id = ?1",
        "DELETE FROM alerts WHERE customer_id = ?1",
        "DELETE FROM addresses WHERE customer_id = ?1",
        "DELETE FROM users WHERE customer_id = ?1",
    ];
    for sql in statements {
        let query = sqlx::query(sql).bind(customer);
        let query = if sql.contains("?2") {
            query.bind(now)
        } else {
            query
        };
        query.execute(&mut *tx).await?;
    }
    sqlx::query("DELETE FROM customers WHERE id = ?1")
        .bind(customer)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// One `DELETE` of the customer with cascading foreign keys.
pub async fn cascade_delete(pool: &SqlitePool, customer: i64) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    sqlx::query("DELETE FROM customers WHERE id = ?")
        .bind(customer)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Erases `subject` with `chain` and returns how long it took.
pub async fn time_chain(
    chain: &Chain<sqlx::Sqlite>,
    pool: &SqlitePool,
    subject: Subject,
    dry: bool,
) -> Duration {
    let erasure = Erasure::new(subject);
    let t0 = Instant::now();
    let report = if dry {
        chain.dry_run(pool, &erasure).await
    } else {
        chain.erase(pool, &erasure).await
    };
    let took = t0.elapsed();
    let report = report.expect("erasure");
    assert!(!report.is_noop(), "a measured subject must have data");
    took
}

/// The median of `samples`.
pub fn median(samples: &mut [Duration]) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    samples[samples.len() / 2]
}

/// The export of `customer` written by hand: the same 19 reads the standard chain's export
/// steps make, each row turned into a JSON object and written to `out`. What `Chain::export` is
/// compared with.
pub async fn hand_written_export(
    pool: &SqlitePool,
    customer: i64,
    out: &mut Vec<u8>,
) -> Result<u64, sqlx::Error> {
    use sqlx::{Column as _, Row as _, TypeInfo as _, ValueRef as _};
    let reads: [&'static str; 19] = [
        "SELECT * FROM b2b_roles WHERE customer_id = ?1 ORDER BY user_id, role",
        "SELECT * FROM baskets WHERE customer_id = ?1 ORDER BY id",
        "SELECT * FROM basket_items WHERE basket_id IN (SELECT id FROM baskets WHERE customer_id = ?1) ORDER BY basket_id",
        "SELECT * FROM wishlists WHERE customer_id = ?1 ORDER BY id",
        "SELECT * FROM wishlist_items WHERE wishlist_id IN (SELECT id FROM wishlists WHERE customer_id = ?1) ORDER BY wishlist_id",
        "SELECT * FROM cashbacks WHERE customer_id = ?1 ORDER BY id",
        "SELECT * FROM cashback_codes WHERE cashback_id IN (SELECT id FROM cashbacks WHERE customer_id = ?1) ORDER BY cashback_id",
        "SELECT * FROM orders WHERE customer_id = ?1 ORDER BY id",
        "SELECT * FROM order_addresses WHERE order_id IN (SELECT id FROM orders WHERE customer_id = ?1) ORDER BY order_id",
        "SELECT * FROM order_lines WHERE order_id IN (SELECT id FROM orders WHERE customer_id = ?1) ORDER BY order_id",
        "SELECT * FROM recurring_orders WHERE customer_id = ?1 ORDER BY id",
        "SELECT * FROM recurring_order_lines WHERE recurring_order_id IN (SELECT id FROM recurring_orders WHERE customer_id = ?1) ORDER BY recurring_order_id",
        "SELECT * FROM promotion_codes WHERE customer_id = ?1 ORDER BY id",
        "SELECT * FROM promotion_code_usages WHERE customer_id = ?1 ORDER BY id",
        "SELECT * FROM gift_cards WHERE customer_id = ?1 ORDER BY customer_id",
        "SELECT * FROM alerts WHERE customer_id = ?1 ORDER BY customer_id",
        "SELECT * FROM customers WHERE id = ?1",
        "SELECT * FROM users WHERE customer_id = ?1 ORDER BY id",
        "SELECT * FROM addresses WHERE customer_id = ?1 ORDER BY customer_id",
    ];
    let mut conn = pool.acquire().await?;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN DEFERRED").await?;
    let mut rows = 0;
    for sql in reads {
        for row in sqlx::query(sql).bind(customer).fetch_all(&mut *tx).await? {
            let mut object = serde_json::Map::new();
            for (i, column) in row.columns().iter().enumerate() {
                let raw = row.try_get_raw(i)?;
                let value = if raw.is_null() {
                    serde_json::Value::Null
                } else {
                    match raw.type_info().name() {
                        "INTEGER" | "BOOLEAN" => row.try_get::<i64, _>(i)?.into(),
                        "REAL" => row.try_get::<f64, _>(i)?.into(),
                        "BLOB" => hex::encode(row.try_get::<Vec<u8>, _>(i)?).into(),
                        _ => row.try_get::<String, _>(i)?.into(),
                    }
                };
                object.insert(column.name().to_owned(), value);
            }
            serde_json::to_writer(&mut *out, &object)
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            rows += 1;
        }
    }
    tx.rollback().await?;
    Ok(rows)
}
