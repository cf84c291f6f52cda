//! Binary keys (`keys = "binary"`): customers keyed by 16-byte UUIDs, as Shopware keys every
//! row, given as the 32 hex digits of the id. A customer with a wishlist and its items (reached
//! through the wishlist), orders with addresses and lines (reached through the orders), deferred
//! in the ledger, exported, purged: on SQLite (`BLOB`), PostgreSQL (`BYTEA`) and MariaDB
//! (`BINARY(16)`), in fresh empty databases with a schema of their own.

mod support;

use chrono::{TimeZone, Utc};
use erasure::clock::FixedClock;
use erasure::config::Configuration;
use erasure::job::JobRunner;
use erasure::sql::{Insert, Select, Sql};
use erasure::{Backend, Dialect, Erasure, Key, Subject, Value, ident};
use erasure_testkit::dump::{Change, Dump, dump, show};
use erasure_testkit::{TestBackend, TestDb};
use support::exec;

/// Instantiates `async fn name<DB: TestBackend>(db: TestDb<DB>)` once per database, each in a
/// fresh database without the reference schema: SQLite (a file), PostgreSQL and MariaDB (with
/// their features).
macro_rules! empty_backend_tests {
    ($($name:ident),* $(,)?) => {
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::empty::<sqlx::Postgres>().await else { return };
                    super::$name(db).await;
                }
            )*
        }
        #[cfg(feature = "mysql")]
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::empty::<sqlx::MySql>().await else { return };
                    super::$name(db).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::empty::<sqlx::Sqlite>().await else { return };
                    super::$name(db).await;
                }
            )*
        }
    };
}

/// A fresh empty database, or `None` when its server is unreachable (and that is allowed).
async fn empty<DB: TestBackend>() -> Option<TestDb<DB>> {
    match DB::empty(4).await {
        Ok(db) => Some(db),
        Err(e) if e.is_unreachable() => {
            support::skip_or_fail(&format!("on {}: {e}", <DB as TestBackend>::LABEL));
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// The schema: every key and reference a 16-byte binary column.
fn schema(dialect: Dialect) -> [&'static str; 6] {
    match dialect {
        Dialect::Sqlite => [
            "CREATE TABLE customer (id BLOB NOT NULL PRIMARY KEY, email TEXT NOT NULL, \
             first_name TEXT NOT NULL)",
            "CREATE TABLE wishlist (id BLOB NOT NULL PRIMARY KEY, \
             customer_id BLOB NOT NULL REFERENCES customer (id), name TEXT)",
            "CREATE TABLE wishlist_item (id BLOB NOT NULL PRIMARY KEY, \
             wishlist_id BLOB NOT NULL REFERENCES wishlist (id), note TEXT)",
            "CREATE TABLE orders (id BLOB NOT NULL PRIMARY KEY, \
             customer_id BLOB REFERENCES customer (id), email TEXT, status TEXT NOT NULL, \
             ordered_at TEXT NOT NULL)",
            "CREATE TABLE order_addresses (id BLOB NOT NULL PRIMARY KEY, \
             order_id BLOB NOT NULL REFERENCES orders (id), street TEXT)",
            "CREATE TABLE order_lines (id BLOB NOT NULL PRIMARY KEY, \
             order_id BLOB NOT NULL REFERENCES orders (id), sku TEXT NOT NULL)",
        ],
        Dialect::Postgres => [
            "CREATE TABLE customer (id BYTEA NOT NULL PRIMARY KEY, email TEXT NOT NULL, \
             first_name TEXT NOT NULL)",
            "CREATE TABLE wishlist (id BYTEA NOT NULL PRIMARY KEY, \
             customer_id BYTEA NOT NULL REFERENCES customer (id), name TEXT)",
            "CREATE TABLE wishlist_item (id BYTEA NOT NULL PRIMARY KEY, \
             wishlist_id BYTEA NOT NULL REFERENCES wishlist (id), note TEXT)",
            "CREATE TABLE orders (id BYTEA NOT NULL PRIMARY KEY, \
             customer_id BYTEA REFERENCES customer (id), email TEXT, status TEXT NOT NULL, \
             ordered_at TIMESTAMPTZ NOT NULL)",
            "CREATE TABLE order_addresses (id BYTEA NOT NULL PRIMARY KEY, \
             order_id BYTEA NOT NULL REFERENCES orders (id), street TEXT)",
            "CREATE TABLE order_lines (id BYTEA NOT NULL PRIMARY KEY, \
             order_id BYTEA NOT NULL REFERENCES orders (id), sku TEXT NOT NULL)",
        ],
        Dialect::MySql => [
            "CREATE TABLE customer (id BINARY(16) NOT NULL PRIMARY KEY, \
             email VARCHAR(254) NOT NULL, first_name VARCHAR(255) NOT NULL)",
            "CREATE TABLE wishlist (id BINARY(16) NOT NULL PRIMARY KEY, \
             customer_id BINARY(16) NOT NULL, name VARCHAR(255), \
             FOREIGN KEY (customer_id) REFERENCES customer (id))",
            "CREATE TABLE wishlist_item (id BINARY(16) NOT NULL PRIMARY KEY, \
             wishlist_id BINARY(16) NOT NULL, note VARCHAR(255), \
             FOREIGN KEY (wishlist_id) REFERENCES wishlist (id))",
            "CREATE TABLE orders (id BINARY(16) NOT NULL PRIMARY KEY, customer_id BINARY(16), \
             email VARCHAR(254), status VARCHAR(32) NOT NULL, ordered_at DATETIME(3) NOT NULL, \
             FOREIGN KEY (customer_id) REFERENCES customer (id))",
            "CREATE TABLE order_addresses (id BINARY(16) NOT NULL PRIMARY KEY, \
             order_id BINARY(16) NOT NULL, street VARCHAR(255), \
             FOREIGN KEY (order_id) REFERENCES orders (id))",
            "CREATE TABLE order_lines (id BINARY(16) NOT NULL PRIMARY KEY, \
             order_id BINARY(16) NOT NULL, sku VARCHAR(64) NOT NULL, \
             FOREIGN KEY (order_id) REFERENCES orders (id))",
        ],
    }
}

/// The configuration: the wishlist and order handlers on binary keys, the orders deferred in
/// the ledger (no mark column), the customer row deleted by a rule; the other standard handlers
/// have no table here.
const CONFIG: &str = r#"
[chain]
disable = ["b2b-admin-guard", "basket-invalidation", "cashback", "recurring-orders",
           "promotion-scrubbing", "gift-card-unlinking", "customer-alerts", "customer"]

[mappings.wishlist]
table = "wishlist"
subject = { customer = "customer_id", keys = "binary" }
items = { table = "wishlist_item", parent = "wishlist_id" }

[mappings.order]
table = "orders"
subject = { customer = "customer_id", email = "email", keys = "binary" }
anonymize = { email = "null" }
to_be_deleted = ""
anonymized_at = ""
children = [{ table = "order_addresses", parent = "order_id", anonymize = { street = "null" } }]
lines = [{ table = "order_lines", parent = "order_id" }]

[[rules]]
name = "customer-row"
position = 100
table = "customer"
subject = { customer = "id", keys = "binary" }
action = "delete"
key = "id"

[jobs.order_purge]
detach = []
"#;

/// One customer's ids: every row of it has an id of its own, derived from the customer's.
#[derive(Clone)]
struct Person {
    id: [u8; 16],
    email: &'static str,
    name: &'static str,
}

impl Person {
    /// The id of the customer's `n`th row of `kind`: the customer's id with the last two bytes
    /// replaced, so that they stay of the same kind (ASCII, or not valid UTF-8).
    fn row(&self, kind: u8, n: u8) -> [u8; 16] {
        let mut id = self.id;
        id[14] = kind;
        id[15] = n;
        id
    }

    fn hex(&self) -> String {
        hex::encode(self.id)
    }

    /// Every id of its rows, shown as the dump shows first columns.
    fn ids(&self) -> Vec<String> {
        let mut ids = vec![self.id];
        ids.extend([
            self.row(b'W', b'1'),
            self.row(b'I', b'1'),
            self.row(b'I', b'2'),
        ]);
        for o in [b'1', b'2'] {
            ids.extend([self.row(b'O', o), self.row(b'A', o)]);
            ids.extend([self.row(b'L', o), self.row(b'M', o)]);
        }
        ids.into_iter()
            .map(|id| show(&Value::Bytes(id.to_vec())))
            .collect()
    }
}

/// Not valid UTF-8 (`0xa9`, `0xe9`, `0xbe` are continuation or lead bytes out of place).
const NOT_UTF8: Person = Person {
    id: [
        0x0f, 0xa9, 0x1c, 0xe3, 0xe9, 0x6a, 0x4b, 0xc2, 0xbe, 0x4b, 0xd9, 0xce, 0x75, 0x2c, 0x00,
        0x00,
    ],
    email: "binary.one@example.test",
    name: "Binaryone",
};
/// Every byte printable ASCII: valid UTF-8, which MySQL's protocol cannot tell from text.
const ASCII: Person = Person {
    id: *b"SHOPWARE-UUID-00",
    email: "ascii.two@example.test",
    name: "Asciitwo",
};
/// Kept throughout.
const OTHER: Person = Person {
    id: [
        0xc4, 0x1f, 0x00, 0x7e, 0x80, 0x81, 0xfe, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x00,
        0x00,
    ],
    email: "other.three@example.test",
    name: "Otherthree",
};

fn bytes(id: [u8; 16]) -> Value {
    Value::Bytes(id.to_vec())
}

async fn seed<DB: Backend>(pool: &sqlx::Pool<DB>) {
    for ddl in schema(DB::DIALECT) {
        exec(pool, Sql::new(ddl)).await;
    }
    erasure::ledger::install(pool).await.expect("ledger");
    let ordered = Utc
        .with_ymd_and_hms(2024, 3, 15, 10, 0, 0)
        .single()
        .expect("time");
    for p in [&NOT_UTF8, &ASCII, &OTHER] {
        let mut customer = Insert::new(
            ident!("customer"),
            [ident!("id"), ident!("email"), ident!("first_name")],
        );
        customer.row([bytes(p.id), p.email.into(), p.name.into()]);
        exec(pool, customer.to_sql()).await;
        let mut wishlist = Insert::new(
            ident!("wishlist"),
            [ident!("id"), ident!("customer_id"), ident!("name")],
        );
        wishlist.row([
            bytes(p.row(b'W', b'1')),
            bytes(p.id),
            format!("{} wishes", p.name).into(),
        ]);
        exec(pool, wishlist.to_sql()).await;
        let mut items = Insert::new(
            ident!("wishlist_item"),
            [ident!("id"), ident!("wishlist_id"), ident!("note")],
        );
        for n in [b'1', b'2'] {
            items.row([
                bytes(p.row(b'I', n)),
                bytes(p.row(b'W', b'1')),
                format!("{} gift idea", p.name).into(),
            ]);
        }
        exec(pool, items.to_sql()).await;
        for o in [b'1', b'2'] {
            let mut order = Insert::new(
                ident!("orders"),
                [
                    ident!("id"),
                    ident!("customer_id"),
                    ident!("email"),
                    ident!("status"),
                    ident!("ordered_at"),
                ],
            );
            order.row([
                bytes(p.row(b'O', o)),
                bytes(p.id),
                p.email.into(),
                "COMPLETE".into(),
                ordered.into(),
            ]);
            exec(pool, order.to_sql()).await;
            let mut address = Insert::new(
                ident!("order_addresses"),
                [ident!("id"), ident!("order_id"), ident!("street")],
            );
            address.row([
                bytes(p.row(b'A', o)),
                bytes(p.row(b'O', o)),
                format!("{} Street 1", p.name).into(),
            ]);
            exec(pool, address.to_sql()).await;
            let mut lines = Insert::new(
                ident!("order_lines"),
                [ident!("id"), ident!("order_id"), ident!("sku")],
            );
            lines.row([bytes(p.row(b'L', o)), bytes(p.row(b'O', o)), "SKU-1".into()]);
            lines.row([bytes(p.row(b'M', o)), bytes(p.row(b'O', o)), "SKU-2".into()]);
            exec(pool, lines.to_sql()).await;
        }
    }
}

async fn snapshot<DB: Backend>(pool: &sqlx::Pool<DB>) -> Dump {
    let mut conn = pool.acquire().await.expect("conn");
    dump::<DB>(&mut conn).await.expect("dump")
}

fn rows_of(d: &Dump, table: &str) -> Vec<Vec<Value>> {
    d.table(table).map(|t| t.rows.clone()).unwrap_or_default()
}

/// The value of `column` in the row of `table` whose first column is `id`.
fn cell(d: &Dump, table: &str, id: [u8; 16], column: &str) -> Option<Value> {
    let t = d.table(table)?;
    let at = t.columns.iter().position(|c| c == column)?;
    t.rows
        .iter()
        .find(|r| r.first() == Some(&bytes(id)))
        .map(|r| r[at].clone())
}

/// Every row that changed between `before` and `after`, apart from the ledger's, belongs to
/// one of `people`; the ledger gained exactly `ledger` entries.
fn assert_only_changed(before: &Dump, after: &Dump, people: &[&Person]) {
    let theirs: Vec<String> = people.iter().flat_map(|p| p.ids()).collect();
    let foreign: Vec<_> = before
        .changes(after)
        .into_iter()
        .filter(|c| c.table != "erasure_deferred" && !theirs.contains(&c.key))
        .collect();
    assert!(foreign.is_empty(), "rows of others changed: {foreign:#?}");
}

fn ledger_keys(d: &Dump) -> Vec<String> {
    let mut keys: Vec<String> = rows_of(d, "erasure_deferred")
        .iter()
        .map(|r| r[1].as_str().expect("text key").to_owned())
        .collect();
    keys.sort();
    keys
}

/// The wishlist, order and customer of a binary-keyed customer, given as its 32 hex digits in
/// several forms: erased, anonymized, deferred in the ledger by the orders' hex ids, exported
/// with hex ids, and purged later; nobody else's rows change, and keys that are no UUID match
/// nothing.
async fn a_binary_keyed_customer_is_erased_exported_and_purged<DB: TestBackend>(db: TestDb<DB>) {
    let pool = &db.pool;
    seed(pool).await;
    let config = Configuration::from_toml(CONFIG).expect("config");
    let chain = config
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    let mut conn = pool.acquire().await.expect("conn");
    chain.check_schema(&mut conn).await.expect("schema");
    drop(conn);

    // Keys that are no UUID of the column's kind match nothing and change nothing.
    let before = snapshot(pool).await;
    for key in [
        Key::Int(1),
        Key::text("not-a-uuid").expect("key"),
        Key::text("0fa91ce3e96a4bc2be4bd9ce752c34").expect("key"),
    ] {
        let report = chain
            .erase(pool, &Erasure::new(Subject::customer(key)))
            .await
            .expect("no match");
        assert!(report.is_noop(), "{report:?}");
    }
    assert_eq!(before.diff(&snapshot(pool).await), None);

    // The export reads the ids back from the binary columns and writes them in hex.
    for p in [&NOT_UTF8, &ASCII] {
        let mut out = Vec::new();
        chain
            .export(
                pool,
                &Subject::customer(Key::text(p.hex()).expect("key")),
                &mut out,
            )
            .await
            .expect("export");
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("json");
        let tables: Vec<&serde_json::Value> = doc["sections"]
            .as_array()
            .expect("sections")
            .iter()
            .flat_map(|s| s["tables"].as_array().expect("tables"))
            .collect();
        let rows = |name: &str| -> Vec<serde_json::Value> {
            tables
                .iter()
                .filter(|t| t["table"] == name)
                .flat_map(|t| t["rows"].as_array().expect("rows").clone())
                .collect()
        };
        let hex = |id: [u8; 16]| serde_json::Value::String(hex::encode(id));
        assert_eq!(rows("customer").len(), 1, "{doc}");
        assert_eq!(rows("customer")[0]["id"], hex(p.id), "{doc}");
        assert_eq!(rows("wishlist")[0]["customer_id"], hex(p.id), "{doc}");
        let mut items: Vec<String> = rows("wishlist_item")
            .iter()
            .map(|r| r["id"].as_str().expect("a hex string").to_owned())
            .collect();
        items.sort();
        assert_eq!(
            items,
            [
                hex::encode(p.row(b'I', b'1')),
                hex::encode(p.row(b'I', b'2'))
            ],
            "{doc}"
        );
        let orders: Vec<serde_json::Value> =
            rows("orders").iter().map(|r| r["id"].clone()).collect();
        assert_eq!(
            orders,
            [hex(p.row(b'O', b'1')), hex(p.row(b'O', b'2'))],
            "{doc}"
        );
        assert_eq!(rows("order_addresses").len(), 2, "{doc}");
        assert_eq!(rows("order_lines").len(), 4, "{doc}");
    }

    // The first customer, its key in upper case and dashed.
    let dashed = {
        let h = NOT_UTF8.hex().to_uppercase();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    };
    let before = snapshot(pool).await;
    let report = chain
        .erase(
            pool,
            &Erasure::new(Subject::customer(Key::text(dashed).expect("key"))),
        )
        .await
        .expect("erasure");
    let totals = report.totals();
    // Wishlist and two items, the customer row.
    assert_eq!(totals.deleted, 4, "{report:?}");
    // Two orders and their two addresses; the orders also deferred.
    assert_eq!(totals.anonymized, 4, "{report:?}");
    assert_eq!(totals.deferred, 2, "{report:?}");
    let after = snapshot(pool).await;
    assert_only_changed(&before, &after, &[&NOT_UTF8]);
    let gone = |table: &str, id: [u8; 16]| cell(&after, table, id, "id").is_none();
    assert!(gone("customer", NOT_UTF8.id));
    assert!(gone("wishlist", NOT_UTF8.row(b'W', b'1')));
    assert!(gone("wishlist_item", NOT_UTF8.row(b'I', b'1')));
    assert!(gone("wishlist_item", NOT_UTF8.row(b'I', b'2')));
    for o in [b'1', b'2'] {
        let order = NOT_UTF8.row(b'O', o);
        assert_eq!(
            cell(&after, "orders", order, "customer_id"),
            Some(Value::Null)
        );
        assert_eq!(cell(&after, "orders", order, "email"), Some(Value::Null));
        assert_eq!(
            cell(&after, "order_addresses", NOT_UTF8.row(b'A', o), "street"),
            Some(Value::Null)
        );
        // The lines stay for the purge.
        assert_eq!(
            cell(&after, "order_lines", NOT_UTF8.row(b'L', o), "sku"),
            Some(Value::Text("SKU-1".into()))
        );
    }
    assert_eq!(
        ledger_keys(&after),
        [
            hex::encode(NOT_UTF8.row(b'O', b'1')),
            hex::encode(NOT_UTF8.row(b'O', b'2'))
        ]
    );
    // Erasing again finds nothing more and records nothing twice.
    let again = chain
        .erase(
            pool,
            &Erasure::new(Subject::customer(Key::text(NOT_UTF8.hex()).expect("key"))),
        )
        .await
        .expect("again");
    assert_eq!(again.totals().deleted, 0);
    assert_eq!(ledger_keys(&snapshot(pool).await).len(), 2);

    // The second customer, whose ids are valid UTF-8, by its plain lower-case hex.
    let before = snapshot(pool).await;
    let report = chain
        .erase(
            pool,
            &Erasure::new(Subject::customer(Key::text(ASCII.hex()).expect("key"))),
        )
        .await
        .expect("erasure");
    assert_eq!(report.totals().deleted, 4, "{report:?}");
    let after = snapshot(pool).await;
    assert_only_changed(&before, &after, &[&ASCII]);
    assert!(cell(&after, "customer", ASCII.id, "id").is_none());
    assert_eq!(ledger_keys(&after).len(), 4);
    assert!(ledger_keys(&after).contains(&hex::encode(ASCII.row(b'O', b'1'))));

    // Years later the order purge reads the keys back from the binary column, deletes the
    // orders with their lines and addresses, and forgets exactly their ledger entries.
    let retention = config.retention.clone();
    let jobs = erasure::jobs::standard_jobs(&config.mappings, &retention, &config.jobs, &chain);
    let purge = jobs
        .iter()
        .find(|j| j.name() == "order-purge")
        .expect("order purge");
    let later = Utc
        .with_ymd_and_hms(2040, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    let before = snapshot(pool).await;
    let summary = JobRunner::new()
        .batch_size(1)
        .clock(FixedClock(later))
        .run(pool, purge.as_ref(), |_| {})
        .await
        .expect("purge");
    assert_eq!(summary.rows, 4);
    let after = snapshot(pool).await;
    assert_eq!(
        ledger_keys(&after),
        Vec::<String>::new(),
        "the ledger forgot them"
    );
    let changes = before.changes(&after);
    assert!(
        changes
            .iter()
            .filter(|c| c.table != "erasure_deferred")
            .all(|c| c.change == Change::Removed
                && (NOT_UTF8.ids().contains(&c.key) || ASCII.ids().contains(&c.key))),
        "{changes:#?}"
    );
    assert_eq!(
        rows_of(&after, "orders").len(),
        2,
        "the other customer's orders stay"
    );
    assert_eq!(rows_of(&after, "order_lines").len(), 4);
    assert_eq!(
        cell(&after, "orders", OTHER.row(b'O', b'1'), "email"),
        Some(Value::Text(OTHER.email.into()))
    );
    let mut conn = pool.acquire().await.expect("conn");
    let left = DB::fetch_all(
        &mut conn,
        &Select::columns(ident!("customer"), [ident!("first_name")]).to_sql(),
    )
    .await
    .expect("customers");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].get_index(0), Some(&Value::Text(OTHER.name.into())));
}

empty_backend_tests!(a_binary_keyed_customer_is_erased_exported_and_purged);
