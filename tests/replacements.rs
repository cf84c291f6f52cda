//! The anonymization strategies on every database: the original value is gone, the result has
//! the documented shape, and the column's constraints still hold; `random` links nothing (two
//! rows, two runs), `keyed_pseudonym` is stable per subject (it is pseudonymization, and says
//! so); `truncate_ip` gives the same network everywhere; a retention job anonymizes each row
//! once, whatever the strategy; and every TOML form reads, the old `"pseudonym"` with a reason.

mod support;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use erasure::clock::FixedClock;
use erasure::job::JobRunner;
use erasure::retention::{RetentionAction, RetentionJob, RetentionRule, RetentionRules};
use erasure::sql::{Condition, Insert, Select, Sql, Update};
use erasure::{
    Backend, Chain, ChainBuilder, DeletionHandler, Dialect, Erasure, ErasureContext, Granularity,
    HandlerError, Ident, Outcome, PseudonymKey, Replacement, Subject, SubjectColumns, Value,
    async_trait, ident,
};
use erasure_testkit::{TestBackend, TestDb};
use support::backend_tests;

async fn exec<DB: Backend>(pool: &sqlx::Pool<DB>, sql: impl Into<Sql>) -> Result<u64, sqlx::Error> {
    let mut conn = pool.acquire().await.expect("conn");
    DB::execute(&mut conn, &sql.into()).await
}

async fn ddl<DB: Backend>(pool: &sqlx::Pool<DB>, text: &'static str) {
    exec(pool, Sql::new(text)).await.expect("DDL");
}

/// Every row of `table` by id, column name to value.
async fn rows<DB: Backend>(pool: &sqlx::Pool<DB>, table: Ident) -> Vec<BTreeMap<String, Value>> {
    let mut conn = pool.acquire().await.expect("conn");
    let select = Select::columns(table, []).order_by([ident!("id")]);
    DB::fetch_all(&mut conn, &select.to_sql())
        .await
        .expect("select")
        .into_iter()
        .map(|row| {
            row.columns()
                .iter()
                .cloned()
                .zip(row.values().iter().cloned())
                .collect()
        })
        .collect()
}

/// A value as text, whatever type the backend read it as.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Text(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Date(d) => d.to_string(),
        Value::Timestamp(t) => t.to_rfc3339(),
        other => format!("{other:?}"),
    }
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A table of personal columns with the constraints real schemas put on them: a `VARCHAR(45)`
/// IP, a `DATE` and a timestamp, a `VARCHAR(254) NOT NULL` email that must hold an `@`, a
/// `NOT NULL UNIQUE` token, a fixed-length code, a phone number with a format `CHECK`.
fn people_ddl(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => {
            "CREATE TABLE people (
                id INTEGER PRIMARY KEY,
                customer_id INTEGER NOT NULL,
                ip VARCHAR(45),
                born DATE,
                seen_at TIMESTAMP,
                email VARCHAR(254) NOT NULL CHECK (email LIKE '%_@_%'),
                token VARCHAR(32) NOT NULL UNIQUE,
                code CHAR(8) NOT NULL CHECK (length(code) = 8),
                phone VARCHAR(20) CHECK (phone GLOB '+[0-9][0-9] [0-9][0-9][0-9] [0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
                nick VARCHAR(40),
                name VARCHAR(100) NOT NULL,
                street VARCHAR(100))"
        }
        Dialect::Postgres => {
            "CREATE TABLE people (
                id BIGINT PRIMARY KEY,
                customer_id BIGINT NOT NULL,
                ip VARCHAR(45),
                born DATE,
                seen_at TIMESTAMPTZ,
                email VARCHAR(254) NOT NULL CHECK (email LIKE '%_@_%'),
                token VARCHAR(32) NOT NULL UNIQUE,
                code CHAR(8) NOT NULL CHECK (char_length(code) = 8),
                phone VARCHAR(20) CHECK (phone ~ '^[+][0-9]{2} [0-9]{3} [0-9]{7}$'),
                nick VARCHAR(40),
                name VARCHAR(100) NOT NULL,
                street VARCHAR(100))"
        }
        Dialect::MySql => {
            "CREATE TABLE people (
                id BIGINT PRIMARY KEY,
                customer_id BIGINT NOT NULL,
                ip VARCHAR(45),
                born DATE,
                seen_at DATETIME,
                email VARCHAR(254) NOT NULL CHECK (email LIKE '%_@_%'),
                token VARCHAR(32) NOT NULL UNIQUE,
                code CHAR(8) NOT NULL CHECK (CHAR_LENGTH(code) = 8),
                phone VARCHAR(20) CHECK (phone REGEXP '^[+][0-9]{2} [0-9]{3} [0-9]{7}$'),
                nick VARCHAR(40),
                name VARCHAR(100) NOT NULL,
                street VARCHAR(100))"
        }
    }
}

/// One person's row: id, customer, and the personal values.
struct Person {
    id: i64,
    customer: i64,
    ip: &'static str,
    born: (i32, u32, u32),
    seen_at: (i32, u32, u32, u32, u32, u32),
    email: &'static str,
    token: &'static str,
    code: &'static str,
    phone: &'static str,
    nick: &'static str,
    name: &'static str,
    street: &'static str,
}

const PEOPLE: [Person; 3] = [
    Person {
        id: 1,
        customer: 1,
        ip: "203.0.113.54",
        born: (1987, 6, 15),
        seen_at: (2024, 3, 15, 10, 20, 30),
        email: "jane.doe@example.com",
        token: "tok-jane-one",
        code: "JD-48213",
        phone: "+49 151 2345678",
        nick: "JaneDoe87",
        name: "Jane Doe",
        street: "Lindenallee 17",
    },
    Person {
        id: 2,
        customer: 1,
        ip: "2001:db8:85a3:0:0:8a2e:370:7334",
        born: (1987, 6, 15),
        seen_at: (2024, 3, 31, 23, 59, 59),
        email: "Jane.Doe+shop@Mail.Example.org",
        token: "tok-jane-two",
        code: "JD-48214",
        phone: "+49 151 9876543",
        nick: "JaneDoe87",
        name: "Jane Doe",
        street: "Lindenallee 17",
    },
    Person {
        id: 3,
        customer: 2,
        ip: "198.51.100.7",
        born: (1990, 11, 30),
        seen_at: (2024, 5, 2, 8, 0, 0),
        email: "max.roe@example.net",
        token: "tok-max",
        code: "MR-55120",
        phone: "+33 612 3456789",
        nick: "MaxR",
        name: "Max Roe",
        street: "Rue Lepic 4",
    },
];

fn columns() -> [Ident; 12] {
    [
        ident!("id"),
        ident!("customer_id"),
        ident!("ip"),
        ident!("born"),
        ident!("seen_at"),
        ident!("email"),
        ident!("token"),
        ident!("code"),
        ident!("phone"),
        ident!("nick"),
        ident!("name"),
        ident!("street"),
    ]
}

fn date(ymd: (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(ymd.0, ymd.1, ymd.2).expect("date")
}

fn time(t: (i32, u32, u32, u32, u32, u32)) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.0, t.1, t.2, t.3, t.4, t.5)
        .single()
        .expect("time")
}

async fn people<DB: Backend>(pool: &sqlx::Pool<DB>, persons: &[Person]) {
    let mut insert = Insert::new(ident!("people"), columns());
    for p in persons {
        insert.row([
            p.id.into(),
            p.customer.into(),
            p.ip.into(),
            date(p.born).into(),
            time(p.seen_at).into(),
            p.email.into(),
            p.token.into(),
            p.code.into(),
            p.phone.into(),
            p.nick.into(),
            p.name.into(),
            p.street.into(),
        ]);
    }
    exec(pool, insert).await.expect("insert");
}

/// Every strategy, one column each.
fn strategies() -> BTreeMap<Ident, Replacement> {
    [
        (ident!("ip"), Replacement::TruncateIp),
        (
            ident!("born"),
            Replacement::GeneralizeDate(Granularity::Year),
        ),
        (
            ident!("seen_at"),
            Replacement::GeneralizeDate(Granularity::Month),
        ),
        (ident!("email"), Replacement::KeepDomain),
        (ident!("token"), Replacement::Random),
        (ident!("code"), Replacement::Length),
        (ident!("phone"), Replacement::Digits),
        (ident!("nick"), Replacement::KeyedPseudonym),
        (ident!("name"), Replacement::Fixed("anonymized".into())),
        (ident!("street"), Replacement::Null),
    ]
    .into_iter()
    .collect()
}

/// Anonymizes the subject's rows of `people` with the given replacements, as a standard
/// handler does: `ErasureContext::anonymize`, one statement.
struct Scrub(BTreeMap<Ident, Replacement>);

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Scrub {
    fn name(&self) -> &str {
        "scrub-people"
    }

    fn description(&self) -> &str {
        "anonymizes the people table (test)"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let cols = SubjectColumns::customer(ident!("customer_id"));
        let Some(filter) = cx.subject_condition(&cols) else {
            return Ok(Outcome::new());
        };
        let update = cx.anonymize(&ident!("people"), filter, &self.0, &[]);
        let n = cx.execute(update).await?;
        Ok(Outcome::new().anonymized(ident!("people"), n))
    }
}

fn scrub_chain<DB: Backend>(key: &[u8]) -> Chain<DB> {
    ChainBuilder::<DB>::new()
        .register(60, Scrub(strategies()))
        .pseudonym_key(PseudonymKey::from_bytes(key.to_vec()).expect("key"))
        .build()
        .expect("chain")
}

const KEY: &[u8] = b"a test key of 32 bytes, not used";

/// The personal values seeded for `p`, as they could survive in any column's text.
fn personal(p: &Person) -> Vec<String> {
    let b = date(p.born);
    let local = p.email.split('@').next().unwrap_or_default();
    vec![
        p.ip.to_owned(),
        b.to_string(),
        b.format("%m-%d").to_string(),
        time(p.seen_at).format("%d %H:%M:%S").to_string(),
        time(p.seen_at).format("%dT%H:%M:%S").to_string(),
        local.to_owned(),
        p.token.to_owned(),
        p.code.to_owned(),
        p.phone.to_owned(),
        p.phone.rsplit(' ').next().unwrap_or_default().to_owned(),
        p.nick.to_owned(),
        p.name.to_owned(),
        p.street.to_owned(),
    ]
}

async fn every_strategy_replaces_the_value_and_keeps_the_constraint<
    DB: TestBackend + DecodeDates,
>(
    db: TestDb<DB>,
) {
    let pool = &db.pool;
    ddl(pool, people_ddl(DB::DIALECT)).await;
    people(pool, &PEOPLE).await;
    let before = rows(pool, ident!("people")).await;

    let chain = scrub_chain::<DB>(KEY);
    let report = chain
        .erase(pool, &Erasure::new(Subject::customer(1)))
        .await
        .expect("erase");
    assert_eq!(report.totals().anonymized, 2, "{report}");
    let after = rows(pool, ident!("people")).await;
    assert_eq!(after.len(), 3);

    // Customer 1's rows: nothing personal survives in any column.
    for (row, p) in after.iter().zip(&PEOPLE).take(2) {
        let all: String = row.values().map(text).collect::<Vec<_>>().join("|");
        for value in personal(p) {
            assert!(!all.contains(&value), "{value:?} survived in {all}");
        }
    }
    let (one, two) = (&after[0], &after[1]);
    // truncate_ip: the /24 and the /48.
    assert_eq!(one["ip"], Value::from("203.0.113.0"));
    assert_eq!(two["ip"], Value::from("2001:db8:85a3::"));
    // generalize_date: the year of a DATE, the month of a timestamp; each keeps its type.
    let (year, month) = match DB::DIALECT {
        Dialect::Sqlite => (
            Value::from("1987-01-01"),
            Value::from("2024-03-01T00:00:00+00:00"),
        ),
        Dialect::Postgres | Dialect::MySql => (
            Value::Date(date((1987, 1, 1))),
            Value::Timestamp(time((2024, 3, 1, 0, 0, 0))),
        ),
    };
    for row in [one, two] {
        assert_eq!(row["born"], year);
        assert_eq!(row["seen_at"], month);
    }
    // keep_domain: the domain as it was, the person gone.
    assert_eq!(one["email"], Value::from("anonymized@example.com"));
    assert_eq!(two["email"], Value::from("anonymized@Mail.Example.org"));
    // random: fresh 32 hex digits per row.
    let tokens: Vec<String> = [one, two].iter().map(|r| text(&r["token"])).collect();
    assert!(tokens.iter().all(|t| is_hex32(t)), "{tokens:?}");
    assert_ne!(
        tokens[0], tokens[1],
        "two rows of one subject must not link"
    );
    // length: as long as before.
    assert_eq!(one["code"], Value::from("xxxxxxxx"));
    // digits: the format kept, every digit 0.
    assert_eq!(one["phone"], Value::from("+00 000 0000000"));
    assert_eq!(two["phone"], Value::from("+00 000 0000000"));
    // fixed and null.
    for row in [one, two] {
        assert_eq!(row["name"], Value::from("anonymized"));
        assert_eq!(row["street"], Value::Null);
    }
    // keyed_pseudonym: 32 hex digits, the same for both rows of the subject.
    let nick = text(&one["nick"]);
    assert!(is_hex32(&nick), "{nick}");
    assert_eq!(
        one["nick"], two["nick"],
        "stable per subject: pseudonymization"
    );
    // Customer 2 is untouched.
    assert_eq!(after[2], before[2]);

    // sqlx still decodes the date columns as their types.
    let decoded = DB::decode_dates(pool).await;
    assert_eq!(
        decoded[0],
        (
            1,
            Some(date((1987, 1, 1))),
            Some(time((2024, 3, 1, 0, 0, 0)))
        )
    );
    assert_eq!(
        decoded[2],
        (
            3,
            Some(date((1990, 11, 30))),
            Some(time((2024, 5, 2, 8, 0, 0)))
        )
    );

    // The constraints are enforced here, so the update above met them: a value that breaks
    // each is refused.
    for (column, bad) in [
        (ident!("email"), "no-at-sign"),
        (ident!("code"), "short"),
        (ident!("phone"), "+00 000 000000x"),
        (ident!("token"), tokens[1].as_str()),
    ] {
        let refused = exec(
            pool,
            Update::new(ident!("people"), Condition::eq(ident!("id"), 1)).set(column.clone(), bad),
        )
        .await;
        assert!(refused.is_err(), "{column} accepted {bad:?}");
    }

    // A second erasure of the same subject: random draws again, the keyed pseudonym is the
    // same, the generalizations are where they were.
    chain
        .erase(pool, &Erasure::new(Subject::customer(1)))
        .await
        .expect("erase again");
    let again = rows(pool, ident!("people")).await;
    let tokens_again: Vec<String> = again[..2].iter().map(|r| text(&r["token"])).collect();
    assert!(tokens_again.iter().all(|t| is_hex32(t)));
    for t in &tokens_again {
        assert!(!tokens.contains(t), "random must differ between runs");
    }
    assert_eq!(again[0]["nick"], one["nick"]);
    for c in [
        "ip", "born", "seen_at", "email", "code", "phone", "name", "street",
    ] {
        assert_eq!(again[0][c], one[c], "{c}");
        assert_eq!(again[1][c], two[c], "{c}");
    }

    // The pseudonym depends on the subject and the key, not on the value it replaces: another
    // subject with the same nickname gets another one, another key another one.
    people(
        pool,
        &[Person {
            id: 4,
            customer: 3,
            ..PEOPLE[0]
        }],
    )
    .await;
    chain
        .erase(pool, &Erasure::new(Subject::customer(3)))
        .await
        .expect("erase 3");
    let other = rows(pool, ident!("people")).await;
    assert_ne!(other[3]["nick"], one["nick"]);
    people(
        pool,
        &[Person {
            id: 5,
            customer: 1,
            token: "tok-five",
            ..PEOPLE[0]
        }],
    )
    .await;
    scrub_chain::<DB>(b"another key, also 32 bytes long!")
        .erase(pool, &Erasure::new(Subject::customer(1)))
        .await
        .expect("erase with another key");
    let rekeyed = rows(pool, ident!("people")).await;
    assert_ne!(rekeyed[0]["nick"], one["nick"]);
    assert_eq!(rekeyed[0]["nick"], rekeyed[4]["nick"]);
}

/// `id, born, seen_at` of every row of `people`, decoded by sqlx itself as `NaiveDate` and
/// `DateTime<Utc>`, the way an application reads them.
trait DecodeDates: Backend {
    fn decode_dates(
        pool: &sqlx::Pool<Self>,
    ) -> impl Future<Output = Vec<(i64, Option<NaiveDate>, Option<DateTime<Utc>>)>> + Send;
}

macro_rules! decode_dates {
    ($($(#[$cfg:meta])? $db:ty),*) => {$(
        $(#[$cfg])?
        impl DecodeDates for $db {
            async fn decode_dates(
                pool: &sqlx::Pool<Self>,
            ) -> Vec<(i64, Option<NaiveDate>, Option<DateTime<Utc>>)> {
                sqlx::query_as("SELECT id, born, seen_at FROM people ORDER BY id")
                    .fetch_all(pool)
                    .await
                    .expect("sqlx decodes the dates")
            }
        }
    )*};
}
decode_dates!(
    sqlx::Sqlite,
    #[cfg(feature = "postgres")]
    sqlx::Postgres,
    #[cfg(feature = "mysql")]
    sqlx::MySql
);

/// Inputs and the network `truncate_ip` keeps, the same on every database.
const ADDRESSES: &[(&str, Option<&str>)] = &[
    ("203.0.113.54", Some("203.0.113.0")),
    ("10.0.0.1", Some("10.0.0.0")),
    ("255.255.255.255", Some("255.255.255.0")),
    ("0.0.0.0", Some("0.0.0.0")),
    ("::1", Some("::")),
    ("::", Some("::")),
    ("2001:db8:85a3:0:0:8a2e:370:7334", Some("2001:db8:85a3::")),
    (
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        Some("2001:db8:85a3::"),
    ),
    ("2001:DB8:85A3::1", Some("2001:db8:85a3::")),
    ("2001:db8::1", Some("2001:db8::")),
    ("2001::", Some("2001::")),
    ("2001:0:1::5", Some("2001:0:1::")),
    ("0:0:1::", Some("0:0:1::")),
    ("fe80::1ff:fe23:4567:890a", Some("fe80::")),
    ("1:2:3:4:5:6:7::", Some("1:2:3::")),
    ("::2:3:4:5:6:7:8", Some("0:2:3::")),
    ("::ffff:203.0.113.54", Some("::ffff:203.0.113.0")),
    ("::FFFF:198.51.100.7", Some("::ffff:198.51.100.0")),
    ("not-an-ip", None),
    ("", None),
    ("203.0.113", None),
    ("203.0.113.54.1", None),
    ("256.0.0.1", None),
    ("203.0.113.256", None),
    ("203.000.113.54", None),
    ("203.0.113.054", None),
    ("1.2.3.4.", None),
    (".1.2.3", None),
    ("1..2.3", None),
    (" 203.0.113.54", None),
    ("203.0.113.54\n", None),
    ("2001:db8::1::2", None),
    ("2001:db8:::1", None),
    (":2001:db8::1", None),
    ("2001:db8::1:", None),
    ("1:2:3:4:5:6:7:8:9", None),
    ("1:2:3:4:5:6:7", None),
    ("1::2:3:4:5:6:7:8", None),
    ("12345::1", None),
    ("2001:db8::g", None),
    ("fe80::1%eth0", None),
    ("::1.2.3.4", None),
    ("::ffff:1.2.3.999", None),
    ("2001:db8::1\n", None),
];

/// An address table, and a parent whose own `ip` column would make an unqualified reference
/// ambiguous in MySQL's join form.
fn ip_ddl(d: Dialect) -> [&'static str; 2] {
    match d {
        Dialect::Sqlite | Dialect::Postgres => [
            "CREATE TABLE sessions (id INTEGER PRIMARY KEY, customer_id INTEGER, ip VARCHAR(45))",
            "CREATE TABLE hits (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL \
             REFERENCES sessions (id), ip VARCHAR(45))",
        ],
        Dialect::MySql => [
            "CREATE TABLE sessions (id BIGINT PRIMARY KEY, customer_id BIGINT, ip VARCHAR(45))",
            "CREATE TABLE hits (id BIGINT PRIMARY KEY, session_id BIGINT NOT NULL, \
             ip VARCHAR(45), FOREIGN KEY (session_id) REFERENCES sessions (id))",
        ],
    }
}

async fn truncate_ip_keeps_the_same_network_on_every_database<DB: TestBackend>(db: TestDb<DB>) {
    let pool = &db.pool;
    for text in ip_ddl(DB::DIALECT) {
        ddl(pool, text).await;
    }
    let mut sessions = Insert::new(
        ident!("sessions"),
        [ident!("id"), ident!("customer_id"), ident!("ip")],
    );
    sessions.row([1.into(), 1.into(), "192.0.2.77".into()]);
    sessions.row([2.into(), 2.into(), "192.0.2.78".into()]);
    exec(pool, sessions).await.expect("sessions");
    let mut hits = Insert::new(
        ident!("hits"),
        [ident!("id"), ident!("session_id"), ident!("ip")],
    );
    let n = i64::try_from(ADDRESSES.len()).expect("count");
    for (i, (input, _)) in (1..).zip(ADDRESSES) {
        hits.row([i.into(), 1.into(), (*input).into()]);
    }
    hits.row([(n + 1).into(), 1.into(), Value::Null]);
    hits.row([(n + 2).into(), 2.into(), "203.0.113.99".into()]);
    exec(pool, hits).await.expect("hits");

    // The hits of customer 1's sessions, selected through the parent: a join on MySQL.
    let of_customer = Select::column(ident!("sessions"), ident!("id"))
        .filter(Condition::eq(ident!("customer_id"), 1));
    let update = Update::new(
        ident!("hits"),
        Condition::in_select(ident!("session_id"), of_customer),
    )
    .assign(
        ident!("ip"),
        Replacement::TruncateIp.assignment_without_subject(),
    );
    if DB::DIALECT == Dialect::MySql {
        let text = update.to_sql().render(Dialect::MySql).0;
        assert!(
            text.contains("`sessions` STRAIGHT_JOIN `hits`") && text.contains("LOWER(`hits`.`ip`)")
        );
    }
    let changed = exec(pool, update).await.expect("truncate");
    assert_eq!(changed, u64::try_from(n + 1).expect("count"));

    let after = rows(pool, ident!("hits")).await;
    let mut wrong = Vec::new();
    for ((input, expected), row) in ADDRESSES.iter().zip(&after) {
        let got = row["ip"].as_str().map(str::to_owned);
        if got.as_deref() != *expected {
            wrong.push(format!("{input:?}: got {got:?}, expected {expected:?}"));
        }
    }
    assert!(wrong.is_empty(), "on {}:\n{}", DB::LABEL, wrong.join("\n"));
    let last = |k: i64| &after[usize::try_from(n + k - 1).expect("index")]["ip"];
    assert_eq!(last(1), &Value::Null, "NULL stays NULL");
    assert_eq!(last(2), &Value::from("203.0.113.99"), "another customer's");
    let parents = rows(pool, ident!("sessions")).await;
    assert_eq!(
        parents[0]["ip"],
        Value::from("192.0.2.77"),
        "the parent's own ip"
    );
}

fn now() -> DateTime<Utc> {
    time((2030, 6, 1, 12, 0, 0))
}

/// `people` with a date the retention rule measures from.
fn retained_ddl(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "ALTER TABLE people ADD COLUMN closed_at TIMESTAMP",
        Dialect::Postgres => "ALTER TABLE people ADD COLUMN closed_at TIMESTAMPTZ",
        Dialect::MySql => "ALTER TABLE people ADD COLUMN closed_at DATETIME",
    }
}

async fn retention_anonymizes_each_row_once_with_every_strategy<DB: TestBackend>(db: TestDb<DB>) {
    let pool = &db.pool;
    ddl(pool, people_ddl(DB::DIALECT)).await;
    ddl(pool, retained_ddl(DB::DIALECT)).await;
    people(pool, &PEOPLE).await;
    // A fourth row already in the shape every strategy leaves: never due.
    let mut done = Insert::new(ident!("people"), columns());
    done.row([
        4.into(),
        4.into(),
        "192.0.2.0".into(),
        date((1970, 1, 1)).into(),
        time((2020, 2, 1, 0, 0, 0)).into(),
        "anonymized@example.org".into(),
        "0123456789abcdef0123456789abcdef".into(),
        "xxxxxxxx".into(),
        "+00 000 0000000".into(),
        Value::Null,
        "anonymized".into(),
        Value::Null,
    ]);
    exec(pool, done).await.expect("done row");
    let old = now() - Duration::days(800);
    exec(
        pool,
        Update::new(ident!("people"), Condition::always()).set(ident!("closed_at"), old),
    )
    .await
    .expect("dates");

    let rule = RetentionRule {
        table: ident!("people"),
        id: ident!("id"),
        date_column: ident!("closed_at"),
        keep: "2y".parse().expect("period"),
        action: RetentionAction::Anonymize(strategies()),
        children: Vec::new(),
    };
    let runner = JobRunner::new().clock(FixedClock(now())).batch_size(2);
    let job = RetentionJob::new(rule);
    let first = runner.run(pool, &job, |_| {}).await.expect("retention");
    assert_eq!(
        first.rows, 3,
        "the three personal rows, not the one already done"
    );
    assert_eq!(first.totals.anonymized, 3);
    let after = rows(pool, ident!("people")).await;
    for (row, p) in after.iter().zip(&PEOPLE) {
        let all: String = row.values().map(text).collect::<Vec<_>>().join("|");
        for value in personal(p) {
            assert!(!all.contains(&value), "{value:?} survived in {all}");
        }
        // No subject in a retention job: a keyed pseudonym is NULL.
        assert_eq!(row["nick"], Value::Null);
        assert!(is_hex32(&text(&row["token"])));
    }
    assert_eq!(after[2]["ip"], Value::from("198.51.100.0"));
    assert_eq!(after[2]["email"], Value::from("anonymized@example.net"));

    // Done rows stay done: a second run finds nothing, and changes nothing.
    let second = runner.run(pool, &job, |_| {}).await.expect("again");
    assert_eq!(second.rows, 0, "a second run must find nothing to do");
    assert_eq!(rows(pool, ident!("people")).await, after);

    // A personal value written again into one column makes that row due again, and only it.
    exec(
        pool,
        Update::new(ident!("people"), Condition::eq(ident!("id"), 2))
            .set(ident!("token"), "tok-jane-new"),
    )
    .await
    .expect("token");
    let third = runner.run(pool, &job, |_| {}).await.expect("third");
    assert_eq!(third.rows, 1);
    let last = rows(pool, ident!("people")).await;
    assert!(is_hex32(&text(&last[1]["token"])));
    assert_eq!(last[0], after[0]);
}

backend_tests!(
    every_strategy_replaces_the_value_and_keeps_the_constraint,
    truncate_ip_keeps_the_same_network_on_every_database,
    retention_anonymizes_each_row_once_with_every_strategy,
);

/// Every TOML form of a replacement, in a retention rule.
#[test]
fn every_form_reads_from_toml_and_the_old_pseudonym_is_refused() {
    #[derive(serde::Deserialize)]
    struct Config {
        retention: RetentionRules,
    }
    let config: Config = toml::from_str(
        r#"
[[retention]]
table = "people"
date_column = "closed_at"
keep = "2y"
[retention.action.anonymize]
a = "null"
b = { fixed = "anonymized" }
c = "random"
d = "truncate_ip"
e = { generalize_date = "year" }
f = { generalize_date = "month" }
g = "keep_domain"
h = "length"
i = "digits"
j = "keyed_pseudonym"
"#,
    )
    .expect("every form");
    let RetentionAction::Anonymize(columns) = &config.retention.0[0].action else {
        panic!("anonymize");
    };
    let read: Vec<Replacement> = columns.values().cloned().collect();
    assert_eq!(
        read,
        [
            Replacement::Null,
            Replacement::Fixed("anonymized".into()),
            Replacement::Random,
            Replacement::TruncateIp,
            Replacement::GeneralizeDate(Granularity::Year),
            Replacement::GeneralizeDate(Granularity::Month),
            Replacement::KeepDomain,
            Replacement::Length,
            Replacement::Digits,
            Replacement::KeyedPseudonym,
        ]
    );
    let pseudonymizing: Vec<&str> = read
        .iter()
        .filter(|r| !r.is_anonymization())
        .map(Replacement::name)
        .collect();
    assert_eq!(pseudonymizing, ["keyed_pseudonym"]);

    let err = toml::from_str::<Config>(
        "[[retention]]\ntable = \"people\"\ndate_column = \"closed_at\"\nkeep = \"2y\"\n\
         action = { anonymize = { nick = \"pseudonym\" } }\n",
    )
    .err()
    .expect("the old name is refused");
    let msg = err.to_string();
    for needed in [
        "line 5",
        "\"pseudonym\" was renamed \"keyed_pseudonym\"",
        "pseudonymization, not anonymization",
        "stays personal data",
        "\"random\" for a value that links to nothing",
    ] {
        assert!(msg.contains(needed), "{needed:?} not in {msg}");
    }
}
