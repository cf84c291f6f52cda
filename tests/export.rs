//! The export (the right of access, GDPR Articles 15 and 20) with the standard chain: it holds
//! every personal value of the subject the database holds and nothing of anyone else, has the
//! documented structure, writes nothing, fails clearly and without personal data, and streams a
//! customer with 100,000 orders in bounded memory.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use erasure::position::{
    ALERTS, B2B_ADMIN_GUARD, BASKET, CASHBACK, CUSTOMER, GIFT_CARD, ORDER, PROMOTION, RECURRING,
    WISHLIST,
};
use erasure::recorder::{Committing, Recorder};
use erasure::sql::{Condition, Select};
use erasure::{
    Backend, Chain, DeletionHandler, ErasureContext, ExportContext, ExportError, ExportSummary,
    Exported, HandlerError, Outcome, Subject, async_trait, ident,
};
use erasure_testkit::{SeededCustomer, TestBackend, TestDb};
use serde_json::{Map, Value as Json};
use support::{Shop, backend_tests};

/// `cargo test` runs the tests of this binary on threads of one process: the memory test takes
/// this lock exclusively so that no other test of the binary allocates while it measures; every
/// other test holds it shared.
static MEASURING: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

const SHOP: u64 = 200;

/// Exports `subject` into memory; returns the parsed document, the summary and the bytes.
async fn export<DB: Backend>(
    chain: &Chain<DB>,
    pool: &sqlx::Pool<DB>,
    subject: &Subject,
) -> (Json, ExportSummary, Vec<u8>) {
    let mut out = Vec::new();
    let summary = chain
        .export(pool, subject, &mut out)
        .await
        .unwrap_or_else(|e| panic!("export failed: {e}"));
    let doc = serde_json::from_slice(&out).expect("the export is one JSON document");
    (doc, summary, out)
}

fn sections(doc: &Json) -> &[Json] {
    doc["sections"].as_array().expect("sections")
}

/// Every exported row, by table, across sections.
fn exported_rows(doc: &Json) -> BTreeMap<String, Vec<&Map<String, Json>>> {
    let mut out: BTreeMap<String, Vec<&Map<String, Json>>> = BTreeMap::new();
    for section in sections(doc) {
        for table in section["tables"].as_array().expect("tables") {
            let name = table["table"].as_str().expect("table name").to_owned();
            let rows = table["rows"].as_array().expect("rows");
            out.entry(name).or_default().extend(
                rows.iter()
                    .map(|r| r.as_object().expect("a row is an object")),
            );
        }
    }
    out
}

/// Every string anywhere in the document (keys too), joined by a separator no value holds.
fn all_text(doc: &Json) -> String {
    fn walk(v: &Json, out: &mut String) {
        match v {
            Json::String(s) => {
                out.push_str(s);
                out.push('\u{1}');
            }
            Json::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Json::Object(map) => {
                for (k, v) in map {
                    out.push_str(k);
                    out.push('\u{1}');
                    walk(v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    walk(doc, &mut out);
    out
}

/// Whether a seeded personal value of anyone but `person` occurs in `text`; the label of the
/// first one found.
fn foreign_value(seed: &erasure_testkit::Seed, person: i64, text: &str) -> Option<String> {
    seed.customers()
        .chain(seed.guests())
        .filter(|other| other.id != person)
        .flat_map(|other| other.needles())
        .find(|n| text.contains(&n.value))
        .map(|n| n.label)
}

/// Completeness: every personal value of `person` the residue scanner finds in the database is
/// in the export, in the same table and column and in as many rows; nothing of anyone else is.
async fn assert_export_complete<DB: TestBackend>(shop: &Shop<DB>, person: &SeededCustomer) -> Json {
    let needles = person.needles();
    let found = shop.residue(&needles).await;
    assert!(found.hits.len() > 3, "the subject has data: {found}");
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let (doc, summary, _) = export(&chain, &shop.db.pool, &person.subject()).await;
    assert!(summary.complete, "every value was read");

    let rows = exported_rows(&doc);
    for hit in &found.hits {
        let needle = needles
            .iter()
            .find(|n| n.label == hit.label)
            .expect("the hit's needle");
        let exported = rows.get(&hit.table).map_or(0, |rows| {
            rows.iter()
                .filter(|r| {
                    r.get(&hit.column)
                        .and_then(Json::as_str)
                        .is_some_and(|s| s.contains(&needle.value))
                })
                .count() as u64
        });
        assert_eq!(
            exported, hit.rows,
            "{}: rows of {}.{} holding it, in the export vs in the database",
            hit.label, hit.table, hit.column
        );
    }
    if let Some(label) = foreign_value(&shop.seed, person.id, &all_text(&doc)) {
        panic!("the export holds a value of someone else: {label}");
    }
    doc
}

async fn a_private_customer_s_export_holds_all_their_data_and_nothing_else<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let _shared = MEASURING.read().await;
    let shop = Shop::seeded(db, SHOP).await;
    let c = shop.customer_where(|c| {
        !c.is_b2b() && c.orders >= 3 && c.cashbacks >= 2 && c.addresses.len() >= 2
    });
    let doc = assert_export_complete(&shop, &c).await;
    let rows = exported_rows(&doc);
    for table in ["customers", "users", "addresses", "orders", "order_lines"] {
        assert!(rows.get(table).is_some_and(|r| !r.is_empty()), "{table}");
    }
    assert_eq!(rows["orders"].len(), c.orders as usize);
    assert_eq!(rows["cashbacks"].len(), c.cashbacks as usize);
    // Orders come by primary key.
    let ids: Vec<i64> = rows["orders"]
        .iter()
        .map(|o| o["id"].as_i64().expect("id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "orders by id: {ids:?}");
}

async fn a_b2b_customer_s_export_holds_all_their_data_and_nothing_else<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let _shared = MEASURING.read().await;
    let shop = Shop::seeded(db, SHOP).await;
    let c = shop.customer_where(|c| c.is_b2b() && c.orders >= 2);
    let doc = assert_export_complete(&shop, &c).await;
    let rows = exported_rows(&doc);
    assert_eq!(rows["users"].len(), 3);
    assert_eq!(
        rows["b2b_roles"].len(),
        3,
        "the role assignments the guard removes"
    );
}

async fn a_guest_s_export_holds_their_orders_and_nothing_else<DB: TestBackend>(db: TestDb<DB>) {
    let _shared = MEASURING.read().await;
    let shop = Shop::seeded(db, SHOP).await;
    let g = shop.seed.guest(3);
    let doc = assert_export_complete(&shop, &g).await;
    for section in sections(&doc) {
        let position = section["position"].as_u64().expect("position");
        let tables = section["tables"].as_array().expect("tables");
        let notes = section["notes"].as_array().expect("notes");
        if [ORDER, PROMOTION, ALERTS]
            .map(u64::from)
            .contains(&position)
        {
            assert!(!tables.is_empty(), "{position} holds guest data");
        } else {
            assert!(tables.is_empty(), "{position} holds no guest data");
            assert_eq!(notes.len(), 1, "{position} says why it holds nothing");
        }
    }
    assert!(!exported_rows(&doc)["orders"].is_empty());
}

/// An integrator's handler without an export step.
struct LoyaltyPoints;

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for LoyaltyPoints {
    fn name(&self) -> &str {
        "loyalty-points"
    }

    fn description(&self) -> &str {
        "an integrator's handler without an export step"
    }

    async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        Ok(Outcome::new())
    }
}

async fn the_document_has_the_documented_structure<DB: TestBackend>(db: TestDb<DB>) {
    let _shared = MEASURING.read().await;
    let shop = Shop::seeded(db, 40).await;
    let c = shop.customer_where(|c| c.orders >= 2 && c.addresses.len() >= 2);
    let now = chrono::DateTime::parse_from_rfc3339("2027-01-10T09:00:00Z")
        .expect("time")
        .to_utc();
    let chain = erasure::standard_chain::<DB>()
        .register(60, LoyaltyPoints)
        .clock(erasure::clock::FixedClock(now))
        .build()
        .expect("chain");
    let subject = c.subject();
    let (doc, summary, bytes) = export(&chain, &shop.db.pool, &subject).await;

    assert_eq!(doc["format"], erasure::export::FORMAT);
    assert_eq!(doc["schema_version"], erasure::export::SCHEMA_VERSION);
    assert_eq!(doc["generated_at"], "2027-01-10T09:00:00Z");
    assert_eq!(summary.generated_at, now);
    assert_eq!(doc["export_id"], summary.export_id.to_string());
    assert!(
        doc["generator"]
            .as_str()
            .is_some_and(|g| g.starts_with("erasure "))
    );
    assert_eq!(
        doc["subject"],
        serde_json::to_value(&subject).expect("subject")
    );
    assert_eq!(summary.subject_kind, erasure::SubjectKind::Customer);

    // One section per handler, in position order.
    let described: Vec<(u64, String)> = chain
        .describe()
        .handlers
        .iter()
        .map(|h| (u64::from(h.position), h.name.clone()))
        .collect();
    let listed: Vec<(u64, String)> = sections(&doc)
        .iter()
        .map(|s| {
            let position = s["position"].as_u64().expect("position");
            (position, s["handler"].as_str().expect("handler").to_owned())
        })
        .collect();
    assert_eq!(listed, described);
    assert_eq!(
        listed.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [
            B2B_ADMIN_GUARD,
            BASKET,
            WISHLIST,
            CASHBACK,
            ORDER,
            RECURRING,
            PROMOTION,
            60, // the loyalty points registered above
            GIFT_CARD,
            ALERTS,
            CUSTOMER,
        ]
        .map(u64::from)
    );

    // Every table's count is its number of rows; the totals add up.
    let mut tables: BTreeMap<String, u64> = BTreeMap::new();
    let mut included = Vec::new();
    for section in sections(&doc) {
        let position = section["position"].as_u64().expect("position");
        let exported = section["exported"].as_bool().expect("exported");
        assert_eq!(exported, position != 60, "{position}");
        assert!(
            section["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for table in section["tables"].as_array().expect("tables") {
            let name = table["table"].as_str().expect("name").to_owned();
            let count = table["count"].as_u64().expect("count");
            assert_eq!(count, table["rows"].as_array().expect("rows").len() as u64);
            *counts.entry(name.clone()).or_default() += count;
            *tables.entry(name).or_default() += count;
        }
        if exported {
            included.push(serde_json::json!({
                "position": position,
                "handler": section["handler"],
                "tables": counts,
            }));
        }
    }
    assert_eq!(doc["included"], Json::Array(included));
    assert_eq!(
        doc["not_included"],
        serde_json::json!([{
            "position": 60,
            "handler": "loyalty-points",
            "reason": "the handler has no export step",
        }])
    );
    assert_eq!(summary.not_included, [(60, "loyalty-points".to_owned())]);
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["unreadable"], serde_json::json!([]));
    assert!(doc["read_as_text"].is_array());

    // The summary is the document's.
    let rows: u64 = tables.values().sum();
    assert_eq!(doc["rows"], rows);
    assert_eq!(summary.rows, rows);
    assert_eq!(summary.tables, tables);
    assert!(summary.complete);
    assert_eq!(summary.bytes, bytes.len() as u64);
    for table in [
        "customers",
        "users",
        "addresses",
        "orders",
        "order_addresses",
        "order_lines",
    ] {
        assert!(tables.get(table).is_some_and(|n| *n > 0), "{table}");
    }
}

async fn exporting_writes_nothing<DB: TestBackend>(db: TestDb<DB>) {
    let _shared = MEASURING.read().await;
    let shop = Shop::seeded(db, 40).await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let before = shop.dump().await;
    for subject in [
        shop.customer_where(|c| c.is_b2b()).subject(),
        shop.customer_where(|c| !c.is_b2b() && c.orders > 0)
            .subject(),
        shop.seed.guest(0).subject(),
    ] {
        let (_, summary, _) = export(&chain, &shop.db.pool, &subject).await;
        assert!(summary.rows > 0);
    }
    assert_eq!(before.diff(&shop.dump().await), None, "the export wrote");
}

/// A handler whose export step writes the subject's orders and then fails.
enum Failing {
    /// A statement that fails in the database, with the subject's email bound.
    Database,
    /// An error of the handler's own.
    Own,
    /// A panic, whose message holds the subject's email.
    Panic,
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Failing {
    fn name(&self) -> &str {
        "failing-export"
    }

    fn description(&self) -> &str {
        "fails while exporting"
    }

    async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        Ok(Outcome::new())
    }

    async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
        let Subject::Guest { email } = cx.subject() else {
            return Err(HandlerError::Config("a guest was expected".into()));
        };
        cx.rows(
            Select::columns(ident!("orders"), [])
                .filter(Condition::eq(ident!("email"), email.as_str())),
        )
        .await?;
        match self {
            Failing::Database => {
                cx.rows(
                    Select::columns(ident!("no_such_table"), [])
                        .filter(Condition::eq(ident!("email"), email.as_str())),
                )
                .await?;
                Ok(Exported::Written)
            }
            Failing::Own => Err(HandlerError::other("the loyalty service is unreachable")),
            Failing::Panic => panic!("no loyalty account for {email}"),
        }
    }
}

async fn a_failing_export_step_names_its_handler_and_no_personal_value<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let _shared = MEASURING.read().await;
    let shop = Shop::seeded(db, 20).await;
    let g = shop.seed.guest(0);
    for failing in [Failing::Database, Failing::Own] {
        let chain = erasure::standard_chain::<DB>()
            .register(60, failing)
            .build()
            .expect("chain");
        let err = chain
            .export(&shop.db.pool, &g.subject(), tokio::io::sink())
            .await
            .expect_err("the export fails");
        assert!(
            matches!(&err, ExportError::Handler { position: 60, handler, .. } if handler == "failing-export"),
            "{err:?}"
        );
        assert_eq!(err.position(), Some(60));
        let message = format!("{err} {err:?}");
        assert!(
            message.starts_with("handler `failing-export` at position 60 failed to export: "),
            "{message}"
        );
        for needle in g.needles() {
            assert!(
                !message.contains(&needle.value),
                "the error holds {}",
                needle.label
            );
        }
    }
}

/// An export step that panics is caught like a handler's erase step: the error names the handler
/// and its position, the panic's message (here with the subject's email) is dropped, and the
/// pool's connection is usable for the next export.
async fn a_panicking_export_step_names_its_handler_and_no_personal_value<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let _shared = MEASURING.read().await;
    let shop = Shop::seeded(db, 20).await;
    let g = shop.seed.guest(0);
    let chain = erasure::standard_chain::<DB>()
        .register(60, Failing::Panic)
        .build()
        .expect("chain");
    let err = chain
        .export(&shop.db.pool, &g.subject(), tokio::io::sink())
        .await
        .expect_err("the export fails");
    assert!(
        matches!(&err, ExportError::Panicked { position: 60, handler } if handler == "failing-export"),
        "{err:?}"
    );
    assert_eq!(err.position(), Some(60));
    let message = format!("{err} {err:?}");
    assert!(
        message.starts_with("handler `failing-export` at position 60 panicked while exporting"),
        "{message}"
    );
    for needle in g.needles() {
        assert!(
            !message.contains(&needle.value),
            "the error holds {}",
            needle.label
        );
    }
    // The export's transaction was rolled back: the pool's connections export again.
    for _ in 0..3 {
        assert_export_complete(&shop, &g).await;
    }
}

async fn a_missing_table_fails_the_export_clearly<DB: TestBackend>(db: TestDb<DB>) {
    let _shared = MEASURING.read().await;
    let shop = Shop::seeded(db, 20).await;
    // No table refers to alerts: it can go.
    let mut conn = shop.db.pool.acquire().await.expect("connection");
    DB::execute(&mut conn, &erasure::sql::Sql::new("DROP TABLE alerts"))
        .await
        .expect("drop");
    drop(conn);
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let c = shop.customer_where(|c| c.orders > 0);
    let err = chain
        .export(&shop.db.pool, &c.subject(), tokio::io::sink())
        .await
        .expect_err("no alerts table");
    assert!(
        matches!(&err, ExportError::Handler { position: ALERTS, handler, cause: HandlerError::Database(_) } if handler == "customer-alerts"),
        "{err:?}"
    );
    for needle in c.needles() {
        assert!(!err.to_string().contains(&needle.value), "{}", needle.label);
    }
}

/// A recorder that keeps the identifiers handed over, as a suppression list would.
#[derive(Clone, Default)]
struct Identifiers(Arc<Mutex<Vec<(String, String)>>>);

#[async_trait]
impl<DB: Backend> Recorder<DB> for Identifiers {
    fn name(&self) -> &str {
        "identifiers"
    }

    fn wants_identifiers(&self) -> bool {
        true
    }

    async fn record(
        &self,
        _: &mut DB::Connection,
        run: &Committing<'_>,
    ) -> Result<(), HandlerError> {
        let mut kept = self
            .0
            .lock()
            .map_err(|_| HandlerError::Config("poisoned".into()))?;
        kept.extend(
            run.identifiers
                .iter()
                .map(|i| (i.kind.to_string(), i.value.clone())),
        );
        Ok(())
    }
}

/// The customer handler reads its users' emails with one query before it deletes them, for a
/// recorder that wants them.
async fn the_customer_handler_hands_over_the_emails_of_its_users<DB: TestBackend>(db: TestDb<DB>) {
    let _shared = MEASURING.read().await;
    let shop = Shop::seeded(db, 40).await;
    let b2b = shop.customer_where(|c| c.is_b2b() && !c.users[2].admin);
    let private = shop.customer_where(|c| !c.is_b2b());
    let plain = erasure::standard_chain::<DB>().build().expect("chain");
    for (subject, users) in [
        (Subject::user(b2b.id, b2b.users[2].id), vec![&b2b.users[2]]),
        // The users that remain.
        (b2b.subject(), vec![&b2b.users[0], &b2b.users[1]]),
        (private.subject(), vec![&private.users[0]]),
    ] {
        let dry = plain
            .dry_run(&shop.db.pool, &erasure::Erasure::new(subject.clone()))
            .await
            .expect("dry run");
        let kept = Identifiers::default();
        let chain = erasure::standard_chain::<DB>()
            .recorder(kept.clone())
            .build()
            .expect("chain");
        let report = shop.erase(&chain, subject).await;
        let got: BTreeSet<(String, String)> =
            kept.0.lock().expect("lock").iter().cloned().collect();
        let expected: BTreeSet<(String, String)> = users
            .iter()
            .map(|u| ("email".to_owned(), u.email.clone()))
            .collect();
        assert!(
            got == expected,
            "the identifiers handed over are the users' emails"
        );
        assert_eq!(
            report.handler(CUSTOMER).expect("customer").statements,
            dry.handler(CUSTOMER).expect("customer").statements + 1,
            "one query reads the emails, and only for a recorder that wants them"
        );
    }
}

/// Exports a table of the integrator's with an exact decimal column.
struct Invoices;

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Invoices {
    fn name(&self) -> &str {
        "invoices"
    }

    fn description(&self) -> &str {
        "exports the subject's invoices (test)"
    }

    async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        Ok(Outcome::new())
    }

    async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
        let filter = Condition::eq(ident!("customer_id"), 7);
        cx.rows(Select::columns(ident!("invoices"), []).filter(filter))
            .await?;
        Ok(Exported::Written)
    }
}

async fn exact_decimals_are_read_as_text_where_the_driver_cannot_decode_them<DB: TestBackend>(
    db: TestDb<DB>,
) {
    use erasure::sql::Sql;
    let mut conn = db.pool.acquire().await.expect("conn");
    DB::execute(
        &mut conn,
        &Sql::new("CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, amount NUMERIC(10, 2) NOT NULL)"),
    )
    .await
    .expect("table");
    DB::execute(
        &mut conn,
        &Sql::new(
            "INSERT INTO invoices (id, customer_id, amount) VALUES (1, 7, 12.50), (2, 8, 99.99)",
        ),
    )
    .await
    .expect("rows");
    drop(conn);
    let chain = erasure::Chain::<DB>::builder()
        .register(90, Invoices)
        .build()
        .expect("chain");
    let mut out = Vec::new();
    let summary = chain
        .export(&db.pool, &Subject::customer(7), &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(summary.complete);
    let doc: Json = serde_json::from_slice(&out).expect("json");
    let rows = &doc["sections"][0]["tables"][0]["rows"];
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    let amount = &rows[0]["amount"];
    if DB::DIALECT == erasure::Dialect::Sqlite {
        // SQLite stores the value with its own storage class, which decodes.
        assert_eq!(amount.as_f64(), Some(12.5), "{amount}");
        assert_eq!(doc["read_as_text"], serde_json::json!([]));
    } else {
        // The driver does not decode NUMERIC/DECIMAL into a value: read exactly, as text.
        assert_eq!(amount, "12.50");
        assert_eq!(
            doc["read_as_text"],
            serde_json::json!([{ "table": "invoices", "column": "amount" }])
        );
    }
}

backend_tests!(
    exact_decimals_are_read_as_text_where_the_driver_cannot_decode_them,
    a_private_customer_s_export_holds_all_their_data_and_nothing_else,
    a_b2b_customer_s_export_holds_all_their_data_and_nothing_else,
    a_guest_s_export_holds_their_orders_and_nothing_else,
    the_document_has_the_documented_structure,
    exporting_writes_nothing,
    a_failing_export_step_names_its_handler_and_no_personal_value,
    a_panicking_export_step_names_its_handler_and_no_personal_value,
    a_missing_table_fails_the_export_clearly,
    the_customer_handler_hands_over_the_emails_of_its_users,
    a_granular_export_holds_only_the_sections_asked_for,
);

/// `export_only`: the sections named, the same rows as in the full export, the others listed
/// as not asked for; an unknown name reads nothing.
async fn a_granular_export_holds_only_the_sections_asked_for<DB: TestBackend>(db: TestDb<DB>) {
    let _shared = MEASURING.read().await;
    let shop = Shop::seeded(db, SHOP).await;
    let c = shop.customer_where(|c| !c.is_b2b() && c.orders >= 2 && c.addresses.len() >= 2);
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let (full, _, _) = export(&chain, &shop.db.pool, &c.subject()).await;
    let asked = ["order-anonymization", "customer"];
    let mut out = Vec::new();
    let summary = chain
        .export_only(
            &shop.db.pool,
            &c.subject(),
            &erasure::export::Sections::only(asked),
            &mut out,
        )
        .await
        .expect("export");
    let doc: Json = serde_json::from_slice(&out).expect("JSON");
    let names: Vec<&str> = sections(&doc)
        .iter()
        .map(|s| s["handler"].as_str().expect("handler"))
        .collect();
    assert_eq!(names, asked, "sections in position order");
    assert_eq!(
        doc["only"],
        serde_json::json!(["customer", "order-anonymization"])
    );
    let rows = exported_rows(&doc);
    let full_rows = exported_rows(&full);
    for table in ["orders", "order_lines", "customers", "addresses"] {
        assert_eq!(rows[table], full_rows[table], "{table}");
    }
    assert!(!rows.contains_key("wishlists") && !rows.contains_key("cashbacks"));
    let left_out: Vec<&str> = doc["not_included"]
        .as_array()
        .expect("not_included")
        .iter()
        .filter(|n| {
            n["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("not asked for"))
        })
        .map(|n| n["handler"].as_str().expect("handler"))
        .collect();
    assert_eq!(
        left_out.len(),
        chain.describe().handlers.len() - asked.len()
    );
    assert_eq!(summary.left_out.len(), left_out.len());
    assert!(
        summary.not_included.is_empty(),
        "{:?}",
        summary.not_included
    );
    assert_eq!(doc["rows"].as_u64(), Some(summary.rows));

    let mut out = Vec::new();
    let err = chain
        .export_only(
            &shop.db.pool,
            &c.subject(),
            &erasure::export::Sections::only(["orders"]),
            &mut out,
        )
        .await
        .expect_err("no handler is named `orders`");
    assert!(matches!(err, ExportError::UnknownSection { .. }), "{err:?}");
    assert!(err.to_string().contains("order-anonymization"), "{err}");
    assert!(out.is_empty(), "nothing written");
}

/// An `AsyncWrite` that discards what it is given and counts the bytes.
#[derive(Debug, Default)]
struct CountingSink {
    bytes: u64,
}

impl tokio::io::AsyncWrite for CountingSink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.bytes += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The process's memory, from `/proc/self/status`. The workspace forbids unsafe code, so a
/// counting global allocator is not available: the resident set (Rust's heap, SQLite's page
/// cache and everything else) is measured instead, and its high-water mark reset before the
/// export.
mod memory {
    fn status(field: &str) -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        let kib: u64 = line[field.len()..]
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    }

    /// Resets the peak resident set to the current one (Linux: `5` to `clear_refs`); returns
    /// the current one, or `None` where this cannot be measured (not on Linux).
    pub(crate) fn reset_peak() -> Option<u64> {
        std::fs::write("/proc/self/clear_refs", "5").ok()?;
        status("VmRSS:")
    }

    /// The peak resident set since the last reset.
    pub(crate) fn peak() -> Option<u64> {
        status("VmHWM:")
    }
}

/// Orders of the measured customer (some six seconds in a debug build).
const MANY_ORDERS: i64 = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_with_100_000_orders_exports_in_bounded_memory() {
    let _traces = support::checked_traces();
    let _alone = MEASURING.write().await;
    let orders = MANY_ORDERS;
    let db = TestDb::sqlite_file(1).await.expect("SQLite file");
    let mut tx = db.pool.begin().await.expect("begin");
    for statement in [
        "INSERT INTO customers (id, customer_no, created_at) VALUES (1, 'C00000001', '2026-01-01 00:00:00')",
        "INSERT INTO users (id, customer_id, email, first_name, last_name, phone, created_at) \
         VALUES (8, 1, 'many.orders@example.test', 'Many', 'Orders', '+49 15 000000000', '2026-01-01 00:00:00')",
    ] {
        sqlx::raw_sql(statement)
            .execute(&mut *tx)
            .await
            .expect("insert");
    }
    sqlx::query(
        "INSERT INTO orders (id, order_no, customer_id, user_id, email, phone, ip_address, notes, \
                             status, currency, total_cents, ordered_at) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
         SELECT i, printf('O%014d', i), 1, 8, 'many.orders@example.test', '+49 15 000000000', \
                '2001:db8::1', 'Please leave the parcel with the neighbours at number ' || i, \
                'COMPLETED', 'EUR', 1000 + i, '2026-01-01 00:00:00' FROM n",
    )
    .bind(orders)
    .execute(&mut *tx)
    .await
    .expect("orders");
    sqlx::raw_sql(
        "INSERT INTO order_lines (id, order_id, sku, product_name, quantity, unit_price_cents) \
         SELECT id, id, 'SKU-1001', 'Espresso machine', 1, 34900 FROM orders",
    )
    .execute(&mut *tx)
    .await
    .expect("order lines");
    tx.commit().await.expect("commit");

    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .build()
        .expect("chain");
    let mut sink = CountingSink::default();
    let started = std::time::Instant::now();
    let before = memory::reset_peak();
    let summary = chain
        .export(&db.pool, &Subject::customer(1), &mut sink)
        .await
        .unwrap_or_else(|e| panic!("export failed: {e}"));
    let peak = memory::peak();
    let elapsed = started.elapsed();

    assert_eq!(summary.tables.get("orders"), Some(&(orders as u64)));
    assert_eq!(summary.tables.get("order_lines"), Some(&(orders as u64)));
    assert_eq!(summary.bytes, sink.bytes);
    // Each order and its line take some 460 bytes of JSON.
    assert!(sink.bytes > orders as u64 * 400, "{} bytes", sink.bytes);

    let measured = before.zip(peak);
    if measured.is_none() && !cfg!(target_os = "linux") {
        eprintln!(
            "export of {orders} orders: {} document bytes in {elapsed:?}; memory not measured \
             (no /proc/self/clear_refs)",
            sink.bytes
        );
        return;
    }
    let (before, peak) = measured.expect("the peak resident set could be reset and read");
    let growth = peak.saturating_sub(before);
    eprintln!(
        "export of {orders} orders: document bytes {}, peak memory growth bytes {growth}, \
         ratio {:.4}, in {elapsed:?}",
        sink.bytes,
        growth as f64 / sink.bytes as f64
    );
    const BOUND: u64 = 8 << 20;
    assert!(
        growth < BOUND,
        "the export's memory grew by {growth} bytes for a {} byte document",
        sink.bytes
    );
    assert!(sink.bytes > 30 << 20, "{} bytes", sink.bytes);
    assert!(
        growth * 4 < sink.bytes,
        "memory growth {growth} is not far below the document's {} bytes",
        sink.bytes
    );
}
