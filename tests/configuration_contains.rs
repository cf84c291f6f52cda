//! Rules that find the subject *inside* a text column (`match = "contains"`), on every backend:
//! an application log and a webhook log whose JSON mentions several people. A guest's email and
//! a customer's key are searched for as given; a customer's account email is read from the
//! account row (`parent = { …, match = "contains" }`) before the account goes. Only the
//! subject's rows are deleted or anonymized, other people's rows stay as they were, `%`, `_`
//! and `!` in an identifier match only themselves, case does not count, a `JSONB` column on
//! PostgreSQL is searched as its text, and nothing of the subject's remains (residue scanner).
//!
//! Every table here is created by the test (the reference schema's tables stay empty, its
//! handlers are switched off), so the residue scan covers exactly what the rules cover.

mod support;

use std::collections::BTreeMap;

use erasure::config::Configuration;
use erasure::sql::{Insert, Sql};
use erasure::{Action, Backend, Dialect, Key, Subject, Value, ident};
use erasure_testkit::{Needle, TestBackend, TestDb};
use support::{assert_clean, backend_tests, configured_chain, exec, residue_in, rows_by_key};

/// The rows of `table` whose key is in `keys`.
fn only(rows: &BTreeMap<i64, Vec<Value>>, keys: &[i64]) -> BTreeMap<i64, Vec<Value>> {
    rows.iter()
        .filter(|(k, _)| keys.contains(k))
        .map(|(k, v)| (*k, v.clone()))
        .collect()
}

/// The customer to erase: an underscore in her email, which a `LIKE` would take for any one
/// character.
const ADA_KEY: &str = "5b3e1c2a-0d4f-4e6b-9a7c-1f2e3d4c5b6a";
const ADA_EMAIL: &str = "ada_lovelace@example.test";
const ADA_NAME: &str = "Ada Erasedname";
/// The customer who stays: her email is Ada's with a `.` where Ada's has the `_`.
const KIM_KEY: &str = "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const KIM_EMAIL: &str = "ada.lovelace@example.test";
const KIM_NAME: &str = "Kim Keptname";
/// The guest to erase: a `%` and a `!` in the email (legal in a local part), which would match
/// any text unescaped, or break the escape.
const GUS_EMAIL: &str = "gus%guest!@example.test";
const GUS_NAME: &str = "Gus Guestname";
/// Someone else, whose email `gus%guest!` would match if the `%` were a wildcard.
const LOU_EMAIL: &str = "gus.the.guest!@example.test";
const LOU_NAME: &str = "Lou Leftalone";

const CONFIG: &str = r#"
[chain]
disable = ["b2b-admin-guard", "basket-invalidation", "wishlist-deletion", "cashback",
           "order-anonymization", "recurring-orders", "promotion-scrubbing",
           "gift-card-unlinking", "customer-alerts", "customer"]

# A guest's email, searched for in the log's text.
[[rules]]
name = "log-guest"
position = 50
table = "app_log"
subject = { email = "payload", match = "contains" }
action = "delete"
key = "id"

# A customer's key, as the log writes it.
[[rules]]
name = "log-customer-key"
position = 51
table = "app_log"
subject = { customer = "payload", keys = "text", match = "contains" }
action = "delete"
key = "id"

# A customer's account email, read from the account row before it goes (position 100).
[[rules]]
name = "log-customer-email"
position = 52
table = "app_log"
parent = { table = "app_user", id = "email", column = "payload", match = "contains" }
subject = { customer = "id" }
action = "delete"
key = "id"

# The webhook log stays, without the body that names the subject.
[[rules]]
name = "hooks-customer"
position = 53
table = "hook_log"
parent = { table = "app_user", id = "email", column = "body", match = "contains" }
subject = { customer = "id" }
action = "anonymize"
anonymize = { body = { fixed = "{}" } }
key = "id"

[[rules]]
name = "hooks-guest"
position = 54
table = "hook_log"
subject = { email = "body", match = "contains" }
action = "anonymize"
anonymize = { body = { fixed = "{}" } }
key = "id"

[[rules]]
name = "accounts"
position = 100
table = "app_user"
subject = { customer = "id" }
action = "delete"
key = "id"
"#;

async fn create<DB: Backend>(pool: &sqlx::Pool<DB>) {
    let text = match DB::DIALECT {
        Dialect::MySql => [
            "CREATE TABLE app_user (id VARCHAR(64) PRIMARY KEY, email VARCHAR(255) NOT NULL, \
             name VARCHAR(255) NOT NULL)",
            "CREATE TABLE app_log (id BIGINT PRIMARY KEY, channel VARCHAR(32) NOT NULL, \
             payload JSON)",
            "CREATE TABLE hook_log (id BIGINT PRIMARY KEY, event VARCHAR(64) NOT NULL, \
             body LONGTEXT)",
        ],
        Dialect::Postgres => [
            "CREATE TABLE app_user (id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL)",
            // TEXT, not JSONB: the residue scanner reads text (the rule casts either to text).
            "CREATE TABLE app_log (id BIGINT PRIMARY KEY, channel TEXT NOT NULL, payload TEXT)",
            "CREATE TABLE hook_log (id BIGINT PRIMARY KEY, event TEXT NOT NULL, body TEXT)",
        ],
        Dialect::Sqlite => [
            "CREATE TABLE app_user (id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL)",
            "CREATE TABLE app_log (id BIGINT PRIMARY KEY, channel TEXT NOT NULL, payload TEXT)",
            "CREATE TABLE hook_log (id BIGINT PRIMARY KEY, event TEXT NOT NULL, body TEXT)",
        ],
    };
    for sql in text {
        exec(pool, Sql::new(sql)).await;
    }
    let mut users = Insert::new(
        ident!("app_user"),
        [ident!("id"), ident!("email"), ident!("name")],
    );
    users.row([ADA_KEY.into(), ADA_EMAIL.into(), ADA_NAME.into()]);
    users.row([KIM_KEY.into(), KIM_EMAIL.into(), KIM_NAME.into()]);
    exec(pool, users.to_sql()).await;
    let mut log = Insert::new(
        ident!("app_log"),
        [ident!("id"), ident!("channel"), ident!("payload")],
    );
    for (id, payload) in LOG {
        log.row([id.into(), "mail".into(), payload.to_string().into()]);
    }
    exec(pool, log.to_sql()).await;
    let mut hooks = Insert::new(
        ident!("hook_log"),
        [ident!("id"), ident!("event"), ident!("body")],
    );
    for (id, body) in HOOKS {
        hooks.row([id.into(), "order.placed".into(), body.to_string().into()]);
    }
    exec(pool, hooks.to_sql()).await;
}

/// The application log: Ada by email (1, and 3 in capitals), by key (2); Kim (4, 7); Gus (5);
/// Lou (6), whom an unescaped `%` would take for Gus.
const LOG: [(i64, &str); 7] = [
    (
        1,
        r#"{"to": {"ada_lovelace@example.test": "Ada Erasedname"}, "order": "A-1"}"#,
    ),
    (
        2,
        r#"{"customerId": "5b3e1c2a-0d4f-4e6b-9a7c-1f2e3d4c5b6a", "note": "Ada Erasedname"}"#,
    ),
    (3, r#"{"to": "ADA_LOVELACE@EXAMPLE.TEST"}"#),
    (
        4,
        r#"{"to": {"ada.lovelace@example.test": "Kim Keptname"}, "order": "K-1"}"#,
    ),
    (
        5,
        r#"{"to": {"gus%guest!@example.test": "Gus Guestname"}, "order": "G-1"}"#,
    ),
    (
        6,
        r#"{"to": {"gus.the.guest!@example.test": "Lou Leftalone"}, "order": "L-1"}"#,
    ),
    (
        7,
        r#"{"customerId": "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "note": "Kim Keptname"}"#,
    ),
];

/// The webhook log: Ada (1), Kim (2), Gus (3), Lou (4).
const HOOKS: [(i64, &str); 4] = [
    (
        1,
        r#"{"customer": {"email": "ada_lovelace@example.test", "name": "Ada Erasedname"}}"#,
    ),
    (
        2,
        r#"{"customer": {"email": "ada.lovelace@example.test", "name": "Kim Keptname"}}"#,
    ),
    (
        3,
        r#"{"customer": {"email": "gus%guest!@example.test", "name": "Gus Guestname"}}"#,
    ),
    (
        4,
        r#"{"customer": {"email": "gus.the.guest!@example.test", "name": "Lou Leftalone"}}"#,
    ),
];

fn needles(values: &[&str]) -> Vec<Needle> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Needle::new(format!("value {i}"), *v))
        .collect()
}

/// The customer Ada and the guest Gus are erased; the rows that mention Kim or Lou stay as
/// they were, though an unescaped `_` or `%` would have taken them.
async fn rules_find_the_subject_inside_text<DB: TestBackend>(db: TestDb<DB>) {
    let pool = &db.pool;
    create(pool).await;
    let config = Configuration::from_toml(CONFIG).expect("config");
    let chain = config
        .chain::<DB>(None)
        .expect("chain")
        .build()
        .expect("build");
    let before = (
        rows_by_key(pool, "app_log").await,
        rows_by_key(pool, "hook_log").await,
    );
    let kept_log = [4, 6, 7];
    let kept_hooks = [2, 4];

    // A dry run finds the rows and changes nothing.
    let ada = Subject::customer(Key::text(ADA_KEY).expect("key"));
    let dry = chain
        .dry_run(pool, &erasure::Erasure::new(ada.clone()))
        .await
        .expect("dry run");
    assert_eq!(dry.totals().deleted, 4, "{dry}");
    assert_eq!(rows_by_key(pool, "app_log").await, before.0);

    // The customer: her log rows by key and by account email (in any case), her webhook body.
    let report = chain
        .erase(pool, &erasure::Erasure::new(ada))
        .await
        .expect("erasure");
    let handler = |name: &str| {
        &report
            .handlers
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("{name} ran"))
            .outcome
    };
    assert_eq!(
        handler("log-customer-key").rows("app_log", &Action::Deleted),
        1
    );
    assert_eq!(
        handler("log-customer-email").rows("app_log", &Action::Deleted),
        2,
        "the email in any case"
    );
    assert_eq!(
        handler("hooks-customer").rows("hook_log", &Action::Anonymized),
        1
    );
    let log = rows_by_key(pool, "app_log").await;
    assert_eq!(log.keys().copied().collect::<Vec<_>>(), [4, 5, 6, 7]);
    assert_eq!(only(&log, &kept_log), only(&before.0, &kept_log));
    let hooks = rows_by_key(pool, "hook_log").await;
    assert_eq!(
        hooks[&1],
        [
            Value::Int(1),
            Value::Text("order.placed".into()),
            Value::Text("{}".into())
        ]
    );
    assert_eq!(only(&hooks, &kept_hooks), only(&before.1, &kept_hooks));
    assert_clean(
        &residue_in(
            pool,
            &needles(&[ADA_EMAIL, ADA_NAME, ADA_KEY, "ADA_LOVELACE@EXAMPLE.TEST"]),
        )
        .await,
    );

    // The guest: `%` and `!` in the email match only themselves (Lou's rows stay).
    let report = chain
        .erase(
            pool,
            &erasure::Erasure::new(Subject::guest(GUS_EMAIL).expect("guest")),
        )
        .await
        .expect("guest erasure");
    assert_eq!(report.totals().deleted, 1, "{report}");
    assert_eq!(report.totals().anonymized, 1, "{report}");
    let log = rows_by_key(pool, "app_log").await;
    assert_eq!(log.keys().copied().collect::<Vec<_>>(), kept_log);
    assert_eq!(log, only(&before.0, &kept_log));
    let hooks = rows_by_key(pool, "hook_log").await;
    assert_eq!(hooks[&3][2], Value::Text("{}".into()));
    assert_eq!(only(&hooks, &kept_hooks), only(&before.1, &kept_hooks));
    assert_clean(&residue_in(pool, &needles(&[GUS_EMAIL, GUS_NAME])).await);

    // Kim and Lou: every value still where it was.
    let others = residue_in(
        pool,
        &needles(&[KIM_EMAIL, KIM_NAME, KIM_KEY, LOU_EMAIL, LOU_NAME]),
    )
    .await;
    let found: Vec<(String, String)> = others
        .hits
        .iter()
        .map(|h| (h.table.clone(), h.column.clone()))
        .collect();
    for place in [
        ("app_log", "payload"),
        ("hook_log", "body"),
        ("app_user", "email"),
    ] {
        assert!(
            found.contains(&(place.0.to_owned(), place.1.to_owned())),
            "{place:?} in {found:?}"
        );
    }
}

/// An identifier's `_` alone would match a `.`: a customer whose only rows mention someone
/// whose email differs from hers by that one character loses none of them.
async fn an_underscore_matches_only_itself<DB: TestBackend>(db: TestDb<DB>) {
    let pool = &db.pool;
    create(pool).await;
    // Ada's own rows go first, by hand: what is left mentions Kim only.
    exec(pool, Sql::new("DELETE FROM app_log WHERE id IN (1, 2, 3)")).await;
    exec(pool, Sql::new("DELETE FROM hook_log WHERE id = 1")).await;
    let before = (
        rows_by_key(pool, "app_log").await,
        rows_by_key(pool, "hook_log").await,
    );
    let chain = configured_chain::<DB>(CONFIG);
    let report = chain
        .erase(
            pool,
            &erasure::Erasure::new(Subject::customer(Key::text(ADA_KEY).expect("key"))),
        )
        .await
        .expect("erasure");
    assert_eq!(report.totals().anonymized, 0, "{report}");
    assert_eq!(rows_by_key(pool, "app_log").await, before.0);
    assert_eq!(rows_by_key(pool, "hook_log").await, before.1);
    // A guest whose email is Kim's with a `_` for the `.`: Kim's rows stay.
    let report = chain
        .erase(
            pool,
            &erasure::Erasure::new(Subject::guest(ADA_EMAIL).expect("guest")),
        )
        .await
        .expect("guest erasure");
    assert_eq!(report.totals().deleted, 0, "{report}");
    assert_eq!(rows_by_key(pool, "app_log").await, before.0);
}

/// A `JSONB` column on PostgreSQL (elsewhere the test's own column types) is searched as its
/// text: the customer's rows by key and by account email go, the others stay.
async fn a_json_column_is_searched_as_text<DB: TestBackend>(db: TestDb<DB>) {
    let pool = &db.pool;
    create(pool).await;
    if DB::DIALECT == Dialect::Postgres {
        exec(
            pool,
            Sql::new("ALTER TABLE app_log ALTER COLUMN payload TYPE JSONB USING payload::jsonb"),
        )
        .await;
    }
    let chain = configured_chain::<DB>(CONFIG);
    let report = chain
        .erase(
            pool,
            &erasure::Erasure::new(Subject::customer(Key::text(ADA_KEY).expect("key"))),
        )
        .await
        .expect("erasure");
    // Three log rows and the account.
    assert_eq!(report.totals().deleted, 4, "{report}");
    let left: Vec<i64> = rows_by_key(pool, "app_log").await.into_keys().collect();
    assert_eq!(left, [4, 5, 6, 7]);
}

/// `erase_many`: the customer and the guest in one batch, each finds their own rows inside text.
async fn erase_many_finds_each_subject_inside_text<DB: TestBackend>(db: TestDb<DB>) {
    let pool = &db.pool;
    create(pool).await;
    let before = (
        rows_by_key(pool, "app_log").await,
        rows_by_key(pool, "hook_log").await,
    );
    let chain = configured_chain::<DB>(CONFIG);
    let erasures = [
        erasure::Erasure::new(Subject::customer(Key::text(ADA_KEY).expect("key"))),
        erasure::Erasure::new(Subject::guest(GUS_EMAIL).expect("guest")),
    ];
    let mut done = Vec::new();
    let summary = chain
        .erase_many(pool, erasures, erasure::BatchOptions::default(), |d| {
            done.push(d)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((summary.subjects, summary.erased), (2, 2), "{summary:?}");
    assert!(done.iter().all(|d| d.batch == 1), "one batch");
    let log = rows_by_key(pool, "app_log").await;
    assert_eq!(log, only(&before.0, &[4, 6, 7]));
    let hooks = rows_by_key(pool, "hook_log").await;
    for id in [1, 3] {
        assert_eq!(hooks[&id][2], Value::Text("{}".into()), "hook {id}");
    }
    assert_eq!(only(&hooks, &[2, 4]), only(&before.1, &[2, 4]));
    assert_clean(
        &residue_in(
            pool,
            &needles(&[ADA_EMAIL, ADA_NAME, ADA_KEY, GUS_EMAIL, GUS_NAME]),
        )
        .await,
    );
}

backend_tests!(
    erase_many_finds_each_subject_inside_text,
    rules_find_the_subject_inside_text,
    an_underscore_matches_only_itself,
    a_json_column_is_searched_as_text,
);
