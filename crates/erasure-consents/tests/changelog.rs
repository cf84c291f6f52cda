//! The change log of customer data and the timeline, on every database: what is recorded
//! (names, never values), what is refused, the order of the timeline, and its erasure and
//! export with the subject.

mod support;

use chrono::{DateTime, TimeZone as _, Utc};
use erasure_consents::{
    Actor, CHANGE_LOG_REASON, Channel, ConsentChange, ConsentError, ConsentSubject, Consents,
    ConsentsConfig, ConsentsHandler, DATA_CHANGES, DataChange, POSITION, Source, TimelineEntry,
    Wording,
};
use erasure_core::sql::Select;
use erasure_core::{Backend, Chain, Erasure, Ident, Key, PseudonymKey, Subject, Value};
use erasure_testkit::{Needle, TestBackend, TestDb};
use support::{backend_tests, count};

backend_tests!(
    the_change_log_keeps_field_names_and_refuses_values,
    the_timeline_interleaves_consents_and_data_changes_by_time,
    erasure_deletes_the_change_log_of_the_customer_and_its_users,
    proof_mode_keeps_the_change_log_under_a_pseudonym,
    the_export_holds_the_change_log,
);

async fn store<DB: TestBackend>(db: &TestDb<DB>) -> Consents<DB> {
    let consents = Consents::<DB>::new();
    consents.install(&db.pool).await.expect("install");
    consents
}

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, day, hour, 0, 0).unwrap()
}

fn customer(key: &str) -> ConsentSubject {
    ConsentSubject::customer(Key::text(key).expect("key"))
}

fn user(customer: &str, user: &str) -> ConsentSubject {
    ConsentSubject::user(
        Key::text(customer).expect("key"),
        Key::text(user).expect("key"),
    )
}

fn changed(fields: &[&str], actor: Actor, at: DateTime<Utc>) -> DataChange {
    DataChange::new(fields.iter().copied(), actor, Source::Account, at)
}

/// Every row of the change log as (seq, subject kind, customer key, user key, subject ref).
async fn log_rows<DB: Backend>(
    db: &TestDb<DB>,
) -> Vec<(i64, String, Option<String>, Option<String>, Option<String>)> {
    let columns = [
        "seq",
        "subject_kind",
        "customer_key",
        "user_key",
        "subject_ref",
    ]
    .map(|c| Ident::new(c).expect("ident"));
    let select = Select::columns(Ident::new(DATA_CHANGES).expect("ident"), columns);
    let mut conn = db.pool.acquire().await.expect("conn");
    let rows = DB::fetch_all(&mut conn, &select.to_sql())
        .await
        .expect("rows");
    let mut out: Vec<_> = rows
        .iter()
        .map(|r| {
            let text = |i: usize| r.get_index(i).and_then(Value::as_str).map(str::to_owned);
            (
                r.get_index(0).and_then(Value::as_i64).expect("seq"),
                text(1).expect("kind"),
                text(2),
                text(3),
                text(4),
            )
        })
        .collect();
    out.sort();
    out
}

async fn the_change_log_keeps_field_names_and_refuses_values<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    let ada = customer("cust-ada");
    consents
        .record_data_change(
            &db.pool,
            &ada,
            &changed(&["phone", "email", "phone"], Actor::Subject, t(2, 9)),
        )
        .await
        .expect("record");
    consents
        .record_data_change(
            &db.pool,
            &ada,
            &changed(
                &["billing_address.city"],
                Actor::Operator("agent-17".into()),
                t(1, 9),
            ),
        )
        .await
        .expect("record");
    let log = consents.data_changes(&db.pool, &ada).await.expect("log");
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].fields, ["billing_address.city"], "oldest first");
    assert_eq!(log[0].actor, Actor::Operator("agent-17".into()));
    assert_eq!(log[1].fields, ["phone", "email"], "named once, in order");
    assert_eq!(log[1].actor, Actor::Subject);
    assert_eq!(log[1].source, Source::Account);

    // A value passed where a name belongs is refused, and not repeated.
    let err = consents
        .record_data_change(
            &db.pool,
            &ada,
            &changed(&["ada@example.test"], Actor::Subject, t(3, 9)),
        )
        .await
        .expect_err("a value is not a field name");
    assert!(
        matches!(
            err,
            ConsentError::Invalid {
                field: "fields",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("ada@"), "{err}");
    for bad in [
        changed(&[], Actor::Subject, t(3, 9)),
        changed(&["Email"], Actor::Subject, t(3, 9)),
        changed(&["email"], Actor::System(" padded ".into()), t(3, 9)),
    ] {
        assert!(
            consents
                .record_data_change(&db.pool, &ada, &bad)
                .await
                .is_err(),
            "{bad:?}"
        );
    }
    let subscriber = ConsentSubject::email("reader@example.test").expect("email");
    let err = consents
        .record_data_change(
            &db.pool,
            &subscriber,
            &changed(&["email"], Actor::Subject, t(3, 9)),
        )
        .await
        .expect_err("subscribers have no data to log");
    assert!(!err.to_string().contains("reader@"), "{err}");
    assert_eq!(
        count(&db, DATA_CHANGES).await,
        2,
        "nothing of the refused changes"
    );
}

async fn the_timeline_interleaves_consents_and_data_changes_by_time<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let consents = store(&db).await;
    let ada = customer("cust-timeline");
    let wording = Wording::new("Newsletter", "Offers by email.", "v1", "en");
    for (given, at) in [(true, t(1, 10)), (false, t(3, 10))] {
        let change = ConsentChange::new(
            "newsletter",
            Some(Channel::Email),
            given,
            wording.clone(),
            Source::Account,
            at,
        );
        consents
            .record(&db.pool, &ada, &change)
            .await
            .expect("record");
    }
    for at in [t(2, 10), t(3, 10), t(4, 10)] {
        consents
            .record_data_change(&db.pool, &ada, &changed(&["email"], Actor::Subject, at))
            .await
            .expect("record");
    }
    // Another subject's events are not in Ada's timeline.
    consents
        .record_data_change(
            &db.pool,
            &user("cust-timeline", "user-1"),
            &changed(&["phone"], Actor::Subject, t(2, 11)),
        )
        .await
        .expect("record");
    let timeline = consents.timeline(&db.pool, &ada).await.expect("timeline");
    let kinds: Vec<(&str, DateTime<Utc>)> = timeline
        .iter()
        .map(|e| match e {
            TimelineEntry::Consent(_) => ("consent", e.at()),
            TimelineEntry::Data(_) => ("data", e.at()),
            _ => ("other", e.at()),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("consent", t(1, 10)),
            ("data", t(2, 10)),
            ("consent", t(3, 10)),
            ("data", t(3, 10)),
            ("data", t(4, 10)),
        ]
    );
    let json = serde_json::to_value(&timeline).expect("JSON");
    assert_eq!(json[0]["event"], "consent");
    assert_eq!(json[1]["event"], "data");
    assert_eq!(json[1]["actor"]["kind"], "subject");
}

/// Ada (a customer with a user) and Bob each have a change log; Ada is erased.
async fn two_logs<DB: TestBackend>(consents: &Consents<DB>, db: &TestDb<DB>) {
    for subject in [
        customer("cust-ada-log"),
        user("cust-ada-log", "user-ada-log"),
        customer("cust-bob-log"),
    ] {
        for at in [t(1, 8), t(2, 8)] {
            consents
                .record_data_change(&db.pool, &subject, &changed(&["email"], Actor::Subject, at))
                .await
                .expect("record");
        }
    }
}

fn chain<DB: Backend>(config: ConsentsConfig) -> Chain<DB> {
    Chain::<DB>::builder()
        .register(POSITION, ConsentsHandler::new(config))
        .pseudonym_key(PseudonymKey::from_hex("00112233445566778899aabbccddeeff").expect("key"))
        .build()
        .expect("chain")
}

async fn erasure_deletes_the_change_log_of_the_customer_and_its_users<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let consents = store(&db).await;
    two_logs(&consents, &db).await;
    let before = log_rows(&db).await;
    let report = chain::<DB>(ConsentsConfig::default())
        .erase(
            &db.pool,
            &Erasure::new(Subject::customer(Key::text("cust-ada-log").expect("key"))),
        )
        .await
        .expect("erase");
    let after = log_rows(&db).await;
    let bobs: Vec<_> = before
        .iter()
        .filter(|r| r.2.as_deref() == Some("cust-bob-log"))
        .cloned()
        .collect();
    assert_eq!(after, bobs, "only Bob's rows stay, unchanged");
    assert_eq!(report.totals().deleted, 4);
    let mut conn = db.pool.acquire().await.expect("conn");
    let residue = erasure_testkit::residue::scan::<DB>(
        &mut conn,
        &[
            Needle::new("customer key", "cust-ada-log"),
            Needle::new("user key", "user-ada-log"),
        ],
    )
    .await
    .expect("scan");
    assert!(residue.is_clean(), "{residue}");
}

async fn proof_mode_keeps_the_change_log_under_a_pseudonym<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    two_logs(&consents, &db).await;
    let before = log_rows(&db).await;
    let config = ConsentsConfig {
        keep_change_log_as_proof: true,
        ..ConsentsConfig::default()
    };
    let chain = chain::<DB>(config);
    let erased = Subject::customer(Key::text("cust-ada-log").expect("key"));
    let report = chain
        .erase(&db.pool, &Erasure::new(erased.clone()))
        .await
        .expect("erase");
    let after = log_rows(&db).await;
    assert_eq!(after.len(), before.len(), "every row stays");
    let kept: Vec<_> = after.iter().filter(|r| r.1 == "erased").collect();
    assert_eq!(kept.len(), 4);
    for row in &kept {
        assert_eq!((&row.2, &row.3), (&None, &None), "no key stays");
        let original = before.iter().find(|b| b.0 == row.0).expect("same row");
        assert_ne!(
            row.4, original.4,
            "the reference is replaced by a pseudonym"
        );
        assert_eq!(
            row.4,
            Some(chain.pseudonym(&erased)),
            "the receipt's pseudonym"
        );
    }
    let totals = report.totals();
    assert_eq!((totals.anonymized, totals.retained), (4, 4));
    assert!(report.to_string().contains(CHANGE_LOG_REASON), "{report}");
    let mut conn = db.pool.acquire().await.expect("conn");
    let residue = erasure_testkit::residue::scan::<DB>(
        &mut conn,
        &[
            Needle::new("customer key", "cust-ada-log"),
            Needle::new("user key", "user-ada-log"),
        ],
    )
    .await
    .expect("scan");
    assert!(residue.is_clean(), "{residue}");
    drop(conn);
    // Ada's log is no longer hers to read.
    let ada = customer("cust-ada-log");
    assert!(
        consents
            .data_changes(&db.pool, &ada)
            .await
            .expect("log")
            .is_empty()
    );
}

async fn the_export_holds_the_change_log<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    two_logs(&consents, &db).await;
    let mut out = Vec::new();
    chain::<DB>(ConsentsConfig::default())
        .export(
            &db.pool,
            &Subject::customer(Key::text("cust-ada-log").expect("key")),
            &mut out,
        )
        .await
        .expect("export");
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    let tables = doc["sections"][0]["tables"].as_array().expect("tables");
    let log = tables
        .iter()
        .find(|t| t["table"] == DATA_CHANGES)
        .expect("the change log is exported");
    assert_eq!(log["count"], 4, "the customer's and its user's");
    assert!(!out.windows(12).any(|w| w == b"cust-bob-log"));
}
