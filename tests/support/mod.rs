//! Helpers shared by the integration tests: seeded shops, dumps, residue checks, and the macro
//! that instantiates one generic scenario per database.
#![allow(dead_code, unreachable_pub, unused_macros, unused_imports)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, Once, OnceLock};

use erasure::{Backend, Chain, Erasure, Report, Subject};
use erasure_testkit::dump::{Change, Dump, dump};
use erasure_testkit::residue::{ResidueReport, scan};
use erasure_testkit::{Needle, Owner, Seed, SeedConfig, TestBackend, TestDb};

/// The shortest seeded token the guard looks for. Every token is searched as a substring of
/// whatever a trace says (so `xx<email>yy` and a Debug-quoted `"<name>"` are caught), and a short
/// token would match innocently inside other text; the seed's tokens are all at least 8
/// characters long (4-syllable words, 9-digit phone groups, emails, IBANs, IP addresses), and
/// [`seeded_tokens`] panics if a change to the generator ever makes one shorter than this.
const MIN_TOKEN_LEN: usize = 8;

/// The seeded personal values the [`PrivacyGuard`] looks for, in one Aho-Corasick automaton: a
/// trace is searched once for all of them, in time linear in its length.
struct SeededTokens {
    automaton: aho_corasick::AhoCorasick,
    /// Per pattern: whose value it is (`customer 17 user value`), for the report.
    what: Vec<String>,
    /// Per pattern: whether it is all digits (a phone number, or its digit group).
    digits: Vec<bool>,
}

/// Every personal value the seed generator writes for customer (and guest) indexes below 1,400
/// with the default seed, B2B customers every 10th or none, and up to three addresses: a superset
/// of what any test here seeds with the default seed. By distinctive token (names, company, street
/// and city words, emails, phone numbers whole and compact and their digit groups, IBANs, IP
/// addresses), for scanning traces.
///
/// The matching rule (see [`personal_values_in`]): a token matches anywhere inside the text,
/// case-sensitively (the generator writes names capitalized and emails lower-case, and the
/// emails are tokens of their own), except that an all-digit token (a phone number's 9-digit
/// group, or the number in national or international digits) matches only as a number of its
/// own: neither neighbour is a letter, a digit or a `.`. Traces are full of numbers (sqlx logs
/// every statement's `elapsed_secs` as a float, durations print up to nine decimals, test
/// databases are named by the time), and nine digits of a seeded phone number turn up inside
/// them by chance; a standalone `123456789`, `tel:123456789` or `"+49 15 123456789"` is still
/// caught, as is the whole phone number anywhere.
fn seeded_tokens() -> &'static SeededTokens {
    static TOKENS: OnceLock<SeededTokens> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let mut tokens = HashMap::new();
        for b2b in [10, 0] {
            let mut config = SeedConfig::new(1_400).shape(erasure_testkit::Shape {
                addresses: erasure_testkit::seed::Count::exactly(3),
                ..erasure_testkit::Shape::varied()
            });
            config.b2b_every = b2b;
            let seed = Seed::new(config);
            for c in seed.customers() {
                for u in &c.users {
                    for v in [&u.first_name, &u.last_name, &u.email, &u.iban, &u.ip] {
                        tokens.insert(v.clone(), format!("customer {} user value", c.id));
                    }
                    // `+49 15 123456789`: whole, compact, in digits, national, the group alone.
                    let compact = u.phone.replace(' ', "");
                    let national = compact.replacen("+49", "0", 1);
                    let group = u.phone.rsplit(' ').next().unwrap_or_default().to_owned();
                    for v in [
                        u.phone.clone(),
                        compact.replace('+', ""),
                        compact,
                        national,
                        group,
                    ] {
                        tokens.insert(v, format!("customer {} phone", c.id));
                    }
                }
                if let Some(word) = c.company.as_deref().and_then(|n| n.split(' ').next()) {
                    tokens.insert(word.to_owned(), format!("customer {} company", c.id));
                }
                for a in &c.addresses {
                    tokens.insert(a.city.clone(), format!("customer {} city", c.id));
                    if let Some(word) = a.street.split(' ').next() {
                        tokens.insert(word.to_owned(), format!("customer {} street", c.id));
                    }
                }
            }
        }
        let (patterns, what): (Vec<String>, Vec<String>) = tokens.into_iter().unzip();
        if let Some(short) = patterns.iter().find(|p| p.len() < MIN_TOKEN_LEN) {
            panic!(
                "a seeded token of {} characters: shorter than {MIN_TOKEN_LEN}, it would match \
                 innocent text; decide how the guard should treat it",
                short.len()
            );
        }
        let digits = patterns
            .iter()
            .map(|p| p.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        let automaton = aho_corasick::AhoCorasick::new(&patterns).expect("automaton");
        SeededTokens {
            automaton,
            what,
            digits,
        }
    })
}

/// Whose seeded personal values occur in `text` (see [`seeded_tokens`] for the rule), one entry
/// per occurrence.
pub fn personal_values_in(text: &str) -> Vec<String> {
    let tokens = seeded_tokens();
    let bytes = text.as_bytes();
    tokens
        .automaton
        .find_overlapping_iter(text)
        .filter(|m| {
            let part_of_a_number = |i: Option<usize>| {
                i.and_then(|i| bytes.get(i))
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.')
            };
            !tokens.digits[m.pattern().as_usize()]
                || !(part_of_a_number(m.start().checked_sub(1)) || part_of_a_number(Some(m.end())))
        })
        .map(|m| tokens.what[m.pattern().as_usize()].clone())
        .collect()
}

/// Personal values found in traces so far: (what, target).
static TRACE_HITS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// A tracing layer that reads every event and span at TRACE level, from every crate (sqlx's
/// statement log included), and records any seeded personal value it finds anywhere in what the
/// event or span says.
struct PrivacyGuard;

struct Collect(String);

impl tracing::field::Visit for Collect {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push(' ');
        self.0.push_str(field.name());
        self.0.push('=');
        self.0.push_str(value);
    }
}

impl PrivacyGuard {
    fn check(text: &str, target: &str) {
        let found = personal_values_in(text);
        if !found.is_empty()
            && let Ok(mut hits) = TRACE_HITS.lock()
        {
            hits.extend(found.into_iter().map(|what| (what, target.to_owned())));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PrivacyGuard {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut c = Collect(String::new());
        event.record(&mut c);
        Self::check(&c.0, event.metadata().target());
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut c = Collect(String::new());
        attrs.record(&mut c);
        Self::check(&c.0, attrs.metadata().target());
    }
}

/// Installs the [`PrivacyGuard`] as the process's tracing subscriber, at TRACE level, once. (A
/// test that installs a subscriber of its own first keeps it.)
pub fn guard_traces() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::layer::SubscriberExt as _;
        seeded_tokens();
        let subscriber = tracing_subscriber::registry()
            .with(PrivacyGuard)
            .with(SentQueries);
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// The personal values found in traces so far.
pub fn trace_hits() -> Vec<(String, String)> {
    TRACE_HITS.lock().map(|h| h.clone()).unwrap_or_default()
}

/// Checks the traces when dropped: `let _traces = support::checked_traces();` at the top of a
/// test installs the guard and fails the test at its end (on every return path) if a trace
/// carried a seeded personal value.
#[must_use = "the check runs when the value is dropped"]
pub struct TraceCheck(());

impl Drop for TraceCheck {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_no_personal_values_in_traces();
        }
    }
}

/// Installs the guard (see [`guard_traces`]) and returns the check that runs at the end.
pub fn checked_traces() -> TraceCheck {
    guard_traces();
    TraceCheck(())
}

/// Asserts that no trace so far carried a seeded personal value.
pub fn assert_no_personal_values_in_traces() {
    let hits = TRACE_HITS.lock().map(|h| h.clone()).unwrap_or_default();
    assert!(hits.is_empty(), "personal values in traces: {hits:?}");
}

/// For a test that cannot do its work here for lack of a server, or of a permission on it (the
/// caller returns right after): without `ERASURE_REQUIRE_BACKENDS` it notes the skip on stderr;
/// with it (CI) it panics, so a test never passes for lack of what it needed.
pub fn skip_or_fail(reason: &str) {
    assert!(
        !erasure_testkit::db::backends_required(),
        "ERASURE_REQUIRE_BACKENDS is set, and this test cannot run: {reason}"
    );
    eprintln!("skipped: {reason}");
}

/// A fresh database on the server of `DB`, or `None` (with a note on stderr) when the server is
/// unreachable and `ERASURE_REQUIRE_BACKENDS` is not set. CI sets it, so there a missing server
/// fails the test instead (see [`skip_or_fail`]).
pub async fn server<DB: TestBackend>() -> Option<TestDb<DB>> {
    match DB::fresh(12).await {
        Ok(db) => Some(db),
        Err(e) if e.is_unreachable() => {
            skip_or_fail(&format!("on {}: {e}", <DB as TestBackend>::LABEL));
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
                    crate::support::guard_traces();
                    let Some(db) = crate::support::server::<sqlx::Postgres>().await else { return };
                    super::$name(db).await;
                    crate::support::assert_no_personal_values_in_traces();
                }
            )*
        }
        #[cfg(feature = "mysql")]
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::support::guard_traces();
                    let Some(db) = crate::support::server::<sqlx::MySql>().await else { return };
                    super::$name(db).await;
                    crate::support::assert_no_personal_values_in_traces();
                }
            )*
        }
        mod sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::support::guard_traces();
                    let db = erasure_testkit::TestDb::sqlite_memory().await.expect("in-memory SQLite");
                    super::$name(db).await;
                    crate::support::assert_no_personal_values_in_traces();
                }
            )*
        }
        mod sqlite_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::support::guard_traces();
                    let db = erasure_testkit::TestDb::sqlite_file(4).await.expect("SQLite file");
                    super::$name(db).await;
                    crate::support::assert_no_personal_values_in_traces();
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
        guard_traces();
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

/// The single integer a `SELECT COUNT(*)` (or any one-value select) returns.
pub async fn count<DB: Backend>(pool: &sqlx::Pool<DB>, select: erasure::sql::Select) -> i64 {
    let mut conn = pool.acquire().await.expect("conn");
    let rows = DB::fetch_all(&mut conn, &select.to_sql())
        .await
        .expect("count");
    rows[0]
        .get_index(0)
        .and_then(erasure::Value::as_i64)
        .expect("integer")
}

/// Where `needles` still occur, for residue checks of many subjects at once: reads every text
/// value of every table, as the residue scanner does (`Shop::residue`), but searches each value
/// once for all needles with one Aho-Corasick automaton (the scanner tries every needle on every
/// value, too slow for 1,000 subjects). By needle index: the `table.column`s it occurs in.
pub async fn residue_of_many<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    needles: &[Needle],
) -> std::collections::BTreeMap<usize, BTreeSet<String>> {
    assert!(
        needles.iter().all(|n| !n.value.is_empty()),
        "an empty needle"
    );
    let automaton = aho_corasick::AhoCorasick::new(needles.iter().map(|n| n.value.as_bytes()))
        .expect("automaton");
    let mut conn = pool.acquire().await.expect("connection");
    let columns = DB::columns(&mut conn).await.expect("catalog");
    let tables: BTreeSet<String> = columns.into_iter().map(|c| c.table).collect();
    assert!(!tables.is_empty(), "no tables to scan");
    let mut found = std::collections::BTreeMap::<usize, BTreeSet<String>>::new();
    for table in tables {
        let ident = erasure::Ident::new(&table)
            .unwrap_or_else(|e| panic!("table {table:?} cannot be scanned: {e}"));
        let select = erasure::sql::Select::columns(ident, []);
        let rows = DB::fetch_all(&mut conn, &select.to_sql())
            .await
            .expect("read a table");
        for row in &rows {
            for (column, value) in row.columns().iter().zip(row.values()) {
                let bytes = match value {
                    erasure::Value::Text(s) => s.as_bytes(),
                    erasure::Value::Bytes(b) => b.as_slice(),
                    _ => continue,
                };
                for m in automaton.find_overlapping_iter(bytes) {
                    found
                        .entry(m.pattern().as_usize())
                        .or_default()
                        .insert(format!("{table}.{column}"));
                }
            }
        }
    }
    found
}

/// Runs one statement on a connection of `pool`.
pub async fn exec<DB: Backend>(pool: &sqlx::Pool<DB>, sql: erasure::sql::Sql) {
    let mut conn = pool.acquire().await.expect("conn");
    DB::execute(&mut conn, &sql).await.expect("statement");
}

/// A table's name as an identifier.
pub fn name(table: &str) -> erasure::Ident {
    erasure::Ident::try_from(table.to_owned()).expect("a table name")
}

/// Every row of `table` by its first column (an integer key), every column.
pub async fn rows_by_key<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    table: &str,
) -> std::collections::BTreeMap<i64, Vec<erasure::Value>> {
    let mut conn = pool.acquire().await.expect("conn");
    let select = erasure::sql::Select::columns(name(table), []);
    DB::fetch_all(&mut conn, &select.to_sql())
        .await
        .expect("select")
        .iter()
        .map(|r| {
            let values = r.values().to_vec();
            (values[0].as_i64().expect("an integer key"), values)
        })
        .collect()
}

/// Where `needles` occur anywhere in the database behind `pool` (the residue scanner).
pub async fn residue_in<DB: Backend>(pool: &sqlx::Pool<DB>, needles: &[Needle]) -> ResidueReport {
    let mut conn = pool.acquire().await.expect("conn");
    scan::<DB>(&mut conn, needles).await.expect("scan")
}

/// The chain `toml` configures (no preset), built: for the tests whose configuration is all
/// they vary.
pub fn configured_chain<DB: erasure::Registered>(toml: &str) -> Chain<DB> {
    erasure::config::Configuration::from_toml(toml)
        .expect("config")
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build")
}

/// Every query sqlx sends (its `sqlx::query` events), whole, caught while a future runs.
///
/// The future runs in a span of its own, and the process's subscriber (see [`guard_traces`])
/// gives a query to the `Sent` whose span it was logged in. sqlx's SQLite worker thread logs in
/// the span of the caller that sent the query, so SQLite's queries are caught too; and a test
/// running beside it in the same process (`cargo test`) logs in spans of its own.
#[derive(Clone, Default)]
pub struct Sent(std::sync::Arc<Mutex<Vec<String>>>);

/// The `Sent` of each span running under [`Sent::during`], by the span's id.
static SENT: Mutex<Vec<(tracing::span::Id, Sent)>> = Mutex::new(Vec::new());

impl Sent {
    /// Runs `run`, catching the queries it sends.
    pub async fn during<T>(&self, run: impl Future<Output = T>) -> T {
        use tracing::Instrument as _;
        guard_traces();
        let span = tracing::info_span!(target: "erasure_tests", "sent");
        let id = span
            .id()
            .expect("the process's subscriber enables every span");
        SENT.lock().expect("lock").push((id.clone(), self.clone()));
        let out = run.instrument(span).await;
        SENT.lock().expect("lock").retain(|(i, _)| *i != id);
        out
    }

    /// The queries caught so far, which are forgotten.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("lock"))
    }
}

/// Hands each `sqlx::query` event to the [`Sent`] of a span it was logged in.
struct SentQueries;

impl<S> tracing_subscriber::Layer<S> for SentQueries
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        /// sqlx logs a short query whole as its `summary` (its first words), and a longer
        /// one's text as `db.statement`.
        #[derive(Default)]
        struct Query {
            summary: String,
            statement: String,
        }
        impl tracing::field::Visit for Query {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                match field.name() {
                    "summary" => self.summary = value.to_owned(),
                    "db.statement" => self.statement = value.trim().to_owned(),
                    _ => {}
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        let ids: Vec<tracing::span::Id> = scope.map(|span| span.id()).collect();
        let Ok(sent) = SENT.lock() else {
            return;
        };
        let Some((_, to)) = sent.iter().find(|(id, _)| ids.contains(id)) else {
            return;
        };
        let mut query = Query::default();
        event.record(&mut query);
        let text = if query.statement.is_empty() {
            query.summary
        } else {
            query.statement
        };
        to.0.lock().expect("lock").push(text);
    }
}
