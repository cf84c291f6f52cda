//! The generator's output, pinned.

use super::tables::Tables;
use super::*;
use crate::dump::show;
use erasure_core::Dialect;

/// FNV-1a (64 bits): a digest with no dependency, the same on every platform and version.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    /// Adds `text` and a separator that no UTF-8 text contains.
    fn text(&mut self, text: &str) {
        for b in text.bytes().chain([0xff]) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The generator's output is pinned: tests elsewhere depend on its exact values, so a
/// restructuring of the generator must leave every generated row as it was. The digest
/// covers every statement (columns, values, `NULL`s) of every customer and guest of
/// `SeedConfig::new(50)`, table by table.
#[test]
fn generated_rows_are_pinned() {
    let seed = Seed::new(SeedConfig::new(50));
    let config = seed.config();
    let mut tables = Tables::new();
    for index in 0..config.customers + config.guests {
        let person = if index < config.customers {
            seed.customer(index)
        } else {
            seed.person(index, true)
        };
        seed.rows(&person, &mut tables);
    }
    let mut digest = Fnv::new();
    let mut rows = 0;
    for (name, insert) in tables.in_order() {
        rows += insert.len();
        let sql = insert.to_sql();
        let (text, params) = sql.render(Dialect::Postgres);
        digest.text(name);
        digest.text(&text);
        for value in params {
            digest.text(&show(value));
        }
    }
    assert_eq!((rows, digest.0), (1_842, 0x55eb_dfdc_068c_e0d6));
}

/// What [`Seed::insert`] writes (the campaign codes and every customer's and guest's rows,
/// as SQLite stores them) is pinned too.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn inserted_rows_are_pinned() {
    let db = crate::TestDb::sqlite_memory().await.expect("database");
    let seed = Seed::new(SeedConfig::new(50));
    let summary = seed.insert(&db.pool).await.expect("insert");
    let mut conn = db.pool.acquire().await.expect("connection");
    let dump = crate::dump::dump::<sqlx::Sqlite>(&mut conn)
        .await
        .expect("dump");
    let mut digest = Fnv::new();
    for name in dump.tables() {
        let table = dump.table(name).expect("listed");
        digest.text(name);
        for column in &table.columns {
            digest.text(column);
        }
        for row in &table.rows {
            for value in row {
                digest.text(&show(value));
            }
        }
    }
    assert_eq!((summary.total(), digest.0), (1_862, 0x8e96_f6be_ddbd_5f03));
}
