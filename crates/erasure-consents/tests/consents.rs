//! The consent store and the `consents` handler on every database: SQLite in memory and in a
//! file, PostgreSQL and MySQL/MariaDB (with the crate's `postgres` and `mysql` features; a
//! server that cannot be reached skips its tests unless `ERASURE_REQUIRE_BACKENDS=1`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone as _, Utc};
use erasure_consents::{
    CHANGES, Channel, ConsentChange, ConsentCount, ConsentError, ConsentSubject, Consents,
    ConsentsConfig, ConsentsHandler, POSITION, Source, WORDINGS, Wording,
};
use erasure_core::sql::{Select, Sql};
use erasure_core::{Backend, Chain, Erasure, Ident, Key, Subject, Value};
use erasure_testkit::{Needle, TestBackend, TestDb};
use futures_util::TryStreamExt as _;

mod support;

use support::{backend_tests, count};

backend_tests!(
    history_and_current_state_follow_at_then_insertion_order,
    invalid_changes_are_refused_clearly_without_personal_values,
    granted_streams_the_expected_subjects_across_pages,
    counts_follow_the_current_state_per_version,
    the_handler_erases_every_change_of_the_subject_and_nothing_else,
    proof_mode_keeps_only_pseudonymized_withdrawals,
    the_export_holds_the_history_with_its_wording,
    concurrent_first_records_of_one_wording_all_succeed,
);

/// The store, installed twice (installing is idempotent).
async fn store<DB: TestBackend>(db: &TestDb<DB>) -> Consents<DB> {
    let consents = Consents::<DB>::new();
    consents.install(&db.pool).await.expect("install");
    consents.install(&db.pool).await.expect("install again");
    consents
}

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

fn wording(version: &str) -> Wording {
    Wording::new(
        "Newsletter",
        format!("Send me offers by email ({version}). Unsubscribe any time."),
        version,
        "en",
    )
}

fn change(
    purpose: &str,
    channel: Option<Channel>,
    given: bool,
    at: DateTime<Utc>,
) -> ConsentChange {
    ConsentChange::new(purpose, channel, given, wording("v1"), Source::Checkout, at)
}

/// Every stored change as (seq, subject kind, customer key, user key, email, given).
type StoredRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
);

async fn stored<DB: Backend>(db: &TestDb<DB>) -> BTreeMap<i64, StoredRow> {
    let columns = [
        "seq",
        "subject_kind",
        "customer_key",
        "user_key",
        "email",
        "given",
    ]
    .map(|c| Ident::new(c).expect("ident"));
    let select = Select::columns(Ident::new(CHANGES).expect("ident"), columns);
    let mut conn = db.pool.acquire().await.expect("conn");
    let rows = DB::fetch_all(&mut conn, &select.to_sql())
        .await
        .expect("rows");
    rows.iter()
        .map(|r| {
            let text = |i: usize| r.get_index(i).and_then(Value::as_str).map(str::to_owned);
            let seq = r.get_index(0).and_then(Value::as_i64).expect("seq");
            let given = match r.get_index(5) {
                Some(Value::Bool(b)) => *b,
                Some(Value::Int(i)) => *i != 0,
                other => panic!("given: {other:?}"),
            };
            (
                seq,
                (
                    seq,
                    text(1).expect("kind"),
                    text(2),
                    text(3),
                    text(4),
                    given,
                ),
            )
        })
        .collect()
}

fn chain<DB: Backend>(config: ConsentsConfig) -> Chain<DB> {
    Chain::<DB>::builder()
        .register(POSITION, ConsentsHandler::new(config))
        .build()
        .expect("chain")
}

async fn history_and_current_state_follow_at_then_insertion_order<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    let pool = &db.pool;
    let ada = ConsentSubject::customer(Key::text("cust-ada").expect("key"));
    let email = Some(Channel::Email);

    // Given on day 5, then an older withdrawal (day 2) arrives late: still given.
    consents
        .record(pool, &ada, &change("newsletter", email, true, t(5, 10)))
        .await
        .expect("record");
    consents
        .record(pool, &ada, &change("newsletter", email, false, t(2, 10)))
        .await
        .expect("record");
    let current = consents.current(pool, &ada).await.expect("current");
    assert_eq!(current.len(), 1);
    assert!(
        current[0].given,
        "the latest by `at` wins, not the latest recorded"
    );
    let history = consents.history(pool, &ada).await.expect("history");
    let order: Vec<(bool, DateTime<Utc>)> = history.iter().map(|r| (r.given, r.at)).collect();
    assert_eq!(
        order,
        [(false, t(2, 10)), (true, t(5, 10))],
        "history is in `at` order"
    );
    assert_eq!(history[0].wording, wording("v1"));

    // Ties of `at` go to the change recorded last.
    let sms = Some(Channel::Sms);
    consents
        .record(pool, &ada, &change("newsletter", sms, true, t(6, 9)))
        .await
        .expect("record");
    consents
        .record(pool, &ada, &change("newsletter", sms, false, t(6, 9)))
        .await
        .expect("record");
    let sms_state = |c: &[erasure_consents::ConsentRecord]| {
        c.iter().find(|r| r.channel == sms).map(|r| r.given)
    };
    assert_eq!(
        sms_state(&consents.current(pool, &ada).await.expect("current")),
        Some(false)
    );
    consents
        .record(pool, &ada, &change("newsletter", sms, true, t(6, 9)))
        .await
        .expect("record");
    assert_eq!(
        sms_state(&consents.current(pool, &ada).await.expect("current")),
        Some(true)
    );

    // A consent of no channel, and another purpose, are states of their own.
    consents
        .record(pool, &ada, &change("profiling", None, false, t(1, 0)))
        .await
        .expect("record");
    let current = consents.current(pool, &ada).await.expect("current");
    let states: Vec<(&str, Option<Channel>, bool)> = current
        .iter()
        .map(|r| (r.purpose.as_str(), r.channel, r.given))
        .collect();
    assert_eq!(
        states,
        [
            ("newsletter", email, true),
            ("newsletter", sms, true),
            ("profiling", None, false)
        ]
    );
    assert_eq!(
        consents.history(pool, &ada).await.expect("history").len(),
        6
    );

    // A user of the customer and a subscriber by email are other subjects.
    let user = ConsentSubject::user(
        Key::text("cust-ada").expect("key"),
        Key::text("u-1").expect("key"),
    );
    let reader = ConsentSubject::email("reader@example.test").expect("email");
    consents
        .record(pool, &user, &change("newsletter", email, false, t(7, 0)))
        .await
        .expect("record");
    consents
        .record(pool, &reader, &change("newsletter", email, true, t(7, 0)))
        .await
        .expect("record");
    assert_eq!(
        consents.history(pool, &user).await.expect("history").len(),
        1
    );
    assert_eq!(
        consents
            .history(pool, &reader)
            .await
            .expect("history")
            .len(),
        1
    );
    assert_eq!(
        consents.history(pool, &ada).await.expect("history").len(),
        6
    );

    // One wording row per (purpose, version, language); the language in canonical case.
    let mut upper = change("newsletter", email, true, t(8, 0));
    upper.wording.language = "EN".into();
    consents
        .record(pool, &reader, &upper)
        .await
        .expect("record");
    assert_eq!(
        count(&db, WORDINGS).await,
        2,
        "newsletter/v1/en and profiling/v1/en"
    );
    let last = consents.history(pool, &reader).await.expect("history");
    assert_eq!(last[1].wording.language, "en");
    assert_eq!(count(&db, CHANGES).await, 9);
}

async fn invalid_changes_are_refused_clearly_without_personal_values<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let consents = store(&db).await;
    let pool = &db.pool;
    let secret = "very.secret.person@example.test";
    let subject = ConsentSubject::email(secret).expect("email");
    let good = change("newsletter", Some(Channel::Email), true, t(1, 0));
    consents
        .record(pool, &subject, &good)
        .await
        .expect("a valid change");

    let mut cases: Vec<(ConsentChange, &str)> = Vec::new();
    let mut c = good.clone();
    c.wording.text = "   ".into();
    cases.push((c, "the wording text is empty"));
    let mut c = good.clone();
    c.wording.version = String::new();
    cases.push((c, "the wording version is empty"));
    let mut c = good.clone();
    c.wording.language = "English!".into();
    cases.push((c, "the wording language is not a language tag"));
    let mut c = good.clone();
    c.wording.name = String::new();
    cases.push((c, "the wording name is empty"));
    let mut c = good.clone();
    c.purpose = "News Letter".into();
    cases.push((c, "the purpose must be lower-case"));
    for (bad, expected) in cases {
        let e = consents
            .record(pool, &subject, &bad)
            .await
            .expect_err("refused");
        let message = e.to_string();
        assert!(matches!(e, ConsentError::Invalid { .. }), "{message}");
        assert!(
            message.starts_with("recording a consent change: "),
            "{message}"
        );
        assert!(
            message.contains(expected),
            "{message} should say {expected}"
        );
        assert!(!message.contains("secret"), "{message}");
    }

    // A bad subject is named as such, without its value.
    let bad_subject = ConsentSubject::Email {
        email: "very.secret.person".into(),
    };
    let e = consents
        .record(pool, &bad_subject, &good)
        .await
        .expect_err("refused");
    assert!(matches!(e, ConsentError::Subject { .. }), "{e}");
    assert!(!e.to_string().contains("secret"), "{e}");

    // The same version with another text is refused: what was shown never changes.
    let mut changed = good.clone();
    changed.wording.text = "Another text under the same version.".into();
    let e = consents
        .record(pool, &subject, &changed)
        .await
        .expect_err("conflict");
    assert!(matches!(e, ConsentError::WordingConflict { .. }), "{e}");
    assert!(e.to_string().contains("needs a new version"), "{e}");
    assert!(!e.to_string().contains("secret"), "{e}");

    // Nothing of the refused changes was written.
    assert_eq!(count(&db, CHANGES).await, 1);
    assert_eq!(count(&db, WORDINGS).await, 1);
    assert_eq!(
        consents
            .history(pool, &subject)
            .await
            .expect("history")
            .len(),
        1
    );

    // The queries validate the purpose too.
    let e = consents
        .granted_page(pool, "Bad Purpose", None, None, 10)
        .await
        .expect_err("refused");
    assert!(
        e.to_string()
            .starts_with("listing the subjects who granted a purpose: the purpose"),
        "{e}"
    );
}

/// The subject of index `i`: customers with integer keys, users with text keys, subscribers.
fn nth_subject(i: i64) -> ConsentSubject {
    match i % 3 {
        0 => ConsentSubject::customer(i),
        1 => ConsentSubject::user(
            Key::text(format!("c{}", i / 3)).expect("key"),
            Key::text(format!("u{i}")).expect("key"),
        ),
        _ => ConsentSubject::email(format!("sub{i}@example.test")).expect("email"),
    }
}

async fn granted_streams_the_expected_subjects_across_pages<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    let pool = &db.pool;
    let email = Some(Channel::Email);
    let mut expected_email = BTreeSet::new();
    let mut expected_none = BTreeSet::new();
    for i in 0..57 {
        let s = nth_subject(i);
        // Opt in, then (for some) a withdrawal that is newer, or older and recorded later.
        consents
            .record(pool, &s, &change("newsletter", email, true, t(10, 0)))
            .await
            .expect("record");
        let (given_last, at) = match i % 4 {
            0 => (false, t(11, 0)), // newer withdrawal: out
            1 => (false, t(9, 0)),  // older withdrawal recorded late: still in
            2 => (false, t(10, 0)), // same time, recorded later: out
            _ => (true, t(12, 0)),  // given again: in
        };
        consents
            .record(pool, &s, &change("newsletter", email, given_last, at))
            .await
            .expect("record");
        if i % 4 == 1 || i % 4 == 3 {
            expected_email.insert(format!(
                "{s:?}#{}",
                serde_json::to_string(&s).expect("json")
            ));
        }
        if i % 5 == 0 {
            consents
                .record(pool, &s, &change("terms", None, true, t(1, 0)))
                .await
                .expect("record");
            expected_none.insert(serde_json::to_string(&s).expect("json"));
        }
    }
    let key = |s: &ConsentSubject| format!("{s:?}#{}", serde_json::to_string(s).expect("json"));

    // The stream, 7 at a time.
    let streamed: Vec<ConsentSubject> = consents
        .granted(pool, "newsletter", email, 7)
        .try_collect()
        .await
        .expect("stream");
    let got: BTreeSet<String> = streamed.iter().map(key).collect();
    assert_eq!(got.len(), streamed.len(), "no subject twice");
    assert_eq!(got, expected_email);

    // The pages, with their cursor: several of them, each full but the last.
    let mut pages = 0;
    let mut cursor = None;
    let mut paged = Vec::new();
    loop {
        let page = consents
            .granted_page(pool, "newsletter", email, cursor.as_ref(), 5)
            .await
            .expect("page");
        pages += 1;
        assert!(page.subjects.len() <= 5);
        paged.extend(page.subjects);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(pages >= expected_email.len() / 5, "{pages} pages");
    assert_eq!(
        paged.iter().map(key).collect::<BTreeSet<_>>(),
        expected_email
    );
    // Integer keys come back as integers, text keys as text.
    assert!(paged.iter().any(|s| matches!(
        s,
        ConsentSubject::Customer {
            customer: Key::Int(_)
        }
    )));
    assert!(paged.iter().any(|s| matches!(
        s,
        ConsentSubject::User {
            user: Key::Text(_),
            ..
        }
    )));

    // A consent of no channel.
    let none: BTreeSet<String> = consents
        .granted(pool, "terms", None, 4)
        .map_ok(|s| serde_json::to_string(&s).expect("json"))
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(none, expected_none);
    // Nobody granted `terms` by email, or a purpose never recorded.
    let empty: Vec<ConsentSubject> = consents
        .granted(pool, "terms", email, 4)
        .try_collect()
        .await
        .expect("stream");
    assert!(empty.is_empty());
}

async fn counts_follow_the_current_state_per_version<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    let pool = &db.pool;
    let email = Some(Channel::Email);
    let with = |version: &str, given: bool, at| ConsentChange {
        wording: wording(version),
        ..change("newsletter", email, given, at)
    };
    // Subjects 0, 1 grant under v1; 2, 3, 4 moved to v2; 5 withdrew under v2; 4 also opted in
    // by SMS under v1.
    for i in 0..6 {
        let s = nth_subject(i);
        consents
            .record(pool, &s, &with("v1", true, t(1, 0)))
            .await
            .expect("record");
        if (2..=4).contains(&i) {
            consents
                .record(pool, &s, &with("v2", true, t(2, 0)))
                .await
                .expect("record");
        }
        if i == 5 {
            consents
                .record(pool, &s, &with("v2", false, t(3, 0)))
                .await
                .expect("record");
        }
    }
    let sms = ConsentChange {
        channel: Some(Channel::Sms),
        ..with("v1", true, t(1, 0))
    };
    consents
        .record(pool, &nth_subject(4), &sms)
        .await
        .expect("record");
    let counts = consents.counts(pool).await.expect("counts");
    let row = |channel, version: &str, granted, withdrawn| ConsentCount {
        purpose: "newsletter".into(),
        channel,
        version: version.into(),
        granted,
        withdrawn,
    };
    assert_eq!(
        counts,
        [
            row(email, "v1", 2, 0),
            row(email, "v2", 3, 1),
            row(Some(Channel::Sms), "v1", 1, 0),
        ]
    );
}

async fn the_handler_erases_every_change_of_the_subject_and_nothing_else<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let consents = store(&db).await;
    let pool = &db.pool;
    let email = Some(Channel::Email);
    let customer = Key::text("cust-4711-erased").expect("key");
    let subjects = [
        ConsentSubject::customer(customer.clone()),
        ConsentSubject::user(customer.clone(), Key::text("user-4711-a").expect("key")),
        ConsentSubject::customer(Key::text("cust-4711").expect("key")), // a prefix: stays
        ConsentSubject::customer(7),
        ConsentSubject::user(Key::Int(7), Key::Int(8)),
        ConsentSubject::user(Key::Int(7), Key::Int(9)),
        ConsentSubject::email("gone.subscriber@example.test").expect("email"),
        ConsentSubject::email("kept.subscriber@example.test").expect("email"),
    ];
    for (i, s) in subjects.iter().enumerate() {
        for (k, given) in [true, false, true].into_iter().enumerate() {
            let at = t(
                1 + u32::try_from(k).expect("k"),
                u32::try_from(i).expect("i"),
            );
            consents
                .record(pool, s, &change("newsletter", email, given, at))
                .await
                .expect("record");
        }
    }
    let wordings = count(&db, WORDINGS).await;
    let chain = chain::<DB>(ConsentsConfig::default());

    let mut expected = stored(&db).await;
    for (erasure, gone) in [
        // The customer with its user.
        (
            Subject::customer(customer.clone()),
            [Some("cust-4711-erased"), None],
        ),
        // One user of customer 7; the customer and its other user stay.
        (Subject::user(7, 8), [Some("7"), Some("8")]),
        // A subscriber known by email.
        (
            Subject::guest("gone.subscriber@example.test").expect("guest"),
            [None, None],
        ),
    ] {
        let before = stored(&db).await;
        let report = chain
            .erase(pool, &Erasure::new(erasure.clone()))
            .await
            .expect("erase");
        let after = stored(&db).await;
        let removed: Vec<&StoredRow> = before
            .values()
            .filter(|row| !after.contains_key(&row.0))
            .collect();
        let belongs = |row: &StoredRow| match (&erasure, gone) {
            (Subject::Customer { .. }, [Some(c), _]) => row.2.as_deref() == Some(c),
            (Subject::Users { .. }, [Some(c), Some(u)]) => {
                row.2.as_deref() == Some(c) && row.3.as_deref() == Some(u)
            }
            (Subject::Guest { email }, _) => row.4.as_deref() == Some(email.as_str()),
            _ => unreachable!(),
        };
        assert!(!removed.is_empty());
        assert!(
            removed.iter().all(|r| belongs(r)),
            "only the subject's rows go"
        );
        assert!(
            after.values().all(|r| !belongs(r)),
            "every row of the subject goes"
        );
        // The others are untouched, row for row.
        for row in after.values() {
            assert_eq!(before.get(&row.0), Some(row));
        }
        assert_eq!(report.totals().deleted, removed.len() as u64);
        for r in &removed {
            expected.remove(&r.0);
        }
    }
    assert_eq!(stored(&db).await, expected);
    assert_eq!(
        expected.len(),
        4 * 3,
        "four subjects stay, three changes each"
    );
    assert_eq!(
        count(&db, WORDINGS).await,
        wordings,
        "wordings are not personal data"
    );

    // The residue scanner finds nothing of the erased subjects in any table.
    let mut conn = pool.acquire().await.expect("conn");
    let residue = erasure_testkit::residue::scan::<DB>(
        &mut conn,
        &[
            Needle::new("customer key", "cust-4711-erased"),
            Needle::new("user key", "user-4711-a"),
            Needle::new("email", "gone.subscriber@example.test"),
        ],
    )
    .await
    .expect("scan");
    assert!(residue.is_clean(), "{residue}");
    drop(conn);
    assert_eq!(
        consents
            .history(pool, &subjects[2])
            .await
            .expect("history")
            .len(),
        3
    );
}

async fn proof_mode_keeps_only_pseudonymized_withdrawals<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    let pool = &db.pool;
    let ada = ConsentSubject::customer(Key::text("cust-ada-proof").expect("key"));
    let ada_user = ConsentSubject::user(
        Key::text("cust-ada-proof").expect("key"),
        Key::text("user-ada-proof").expect("key"),
    );
    let other = ConsentSubject::customer(Key::text("cust-other").expect("key"));
    let email = Some(Channel::Email);
    for s in [&ada, &ada_user, &other] {
        consents
            .record(pool, s, &change("newsletter", email, true, t(1, 0)))
            .await
            .expect("record");
        consents
            .record(pool, s, &change("newsletter", email, false, t(2, 0)))
            .await
            .expect("record");
        consents
            .record(pool, s, &change("profiling", None, false, t(3, 0)))
            .await
            .expect("record");
        consents
            .record(
                pool,
                s,
                &change("newsletter", Some(Channel::Sms), true, t(4, 0)),
            )
            .await
            .expect("record");
    }
    let before = stored(&db).await;
    let config = ConsentsConfig {
        keep_withdrawals_as_proof: true,
        ..ConsentsConfig::default()
    };
    let chain = chain::<DB>(config);
    let erased = Subject::customer(Key::text("cust-ada-proof").expect("key"));
    let report = chain
        .erase(pool, &Erasure::new(erased.clone()))
        .await
        .expect("erase");
    let after = stored(&db).await;

    // Ada's and her user's withdrawals stay (2 each), as `erased`, with no key or email; the
    // rest of theirs is gone; the other customer is untouched.
    let kept: Vec<&StoredRow> = after.values().filter(|r| r.1 == "erased").collect();
    assert_eq!(kept.len(), 4);
    for r in &kept {
        assert_eq!(
            (&r.2, &r.3, &r.4),
            (&None, &None, &None),
            "no key or email is kept"
        );
        assert!(!r.5, "only withdrawals are kept");
        assert!(
            before.contains_key(&r.0),
            "kept rows are the original changes"
        );
    }
    assert!(
        after
            .values()
            .all(|r| r.2.as_deref() != Some("cust-ada-proof"))
    );
    let others: Vec<&StoredRow> = after.values().filter(|r| r.1 != "erased").collect();
    assert_eq!(others.len(), 4);
    for r in others {
        assert_eq!(before.get(&r.0), Some(r));
        assert_eq!(r.2.as_deref(), Some("cust-other"));
    }
    let totals = report.totals();
    assert_eq!(
        (totals.deleted, totals.anonymized, totals.retained),
        (4, 4, 4)
    );

    // The subject reference became a keyed pseudonym, and the proof keeps its wording and time.
    let mut conn = pool.acquire().await.expect("conn");
    let mut sql = Sql::new("SELECT ");
    sql.ident(&Ident::new("subject_ref").expect("ident"))
        .push(", ")
        .ident(&Ident::new("wording_id").expect("ident"))
        .push(", ")
        .ident(&Ident::new("at").expect("ident"))
        .push(" FROM ")
        .ident(&Ident::new(CHANGES).expect("ident"))
        .push(" WHERE ")
        .ident(&Ident::new("subject_kind").expect("ident"))
        .push(" = ")
        .bind("erased");
    let rows = DB::fetch_all(&mut conn, &sql).await.expect("rows");
    drop(conn);
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let reference = row
            .get_index(0)
            .and_then(Value::as_str)
            .expect("a pseudonym");
        assert_eq!(
            reference,
            chain.pseudonym(&erased),
            "the pseudonym the receipt records, not the subject's hash"
        );
        assert!(row.get_index(1).and_then(Value::as_str).is_some());
        assert!(row.get_index(2).is_some_and(|v| !v.is_null()));
    }

    // Ada is gone from every query; the kept proof counts for nobody.
    assert!(
        consents
            .history(pool, &ada)
            .await
            .expect("history")
            .is_empty()
    );
    assert!(
        consents
            .history(pool, &ada_user)
            .await
            .expect("history")
            .is_empty()
    );
    let granted: Vec<ConsentSubject> = consents
        .granted(pool, "newsletter", Some(Channel::Sms), 10)
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(granted, std::slice::from_ref(&other));
    let counts = consents.counts(pool).await.expect("counts");
    let total: u64 = counts.iter().map(|c| c.granted + c.withdrawn).sum();
    assert_eq!(total, 3, "the other customer's three current states");
}

async fn the_export_holds_the_history_with_its_wording<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    let pool = &db.pool;
    let ada = ConsentSubject::customer(42);
    let reader = ConsentSubject::email("reader@example.test").expect("email");
    let email = Some(Channel::Email);
    consents
        .record(pool, &ada, &change("newsletter", email, true, t(1, 0)))
        .await
        .expect("record");
    let v2 = ConsentChange {
        wording: wording("v2"),
        ..change("newsletter", email, false, t(2, 0))
    };
    consents.record(pool, &ada, &v2).await.expect("record");
    consents
        .record(pool, &ada, &change("profiling", None, true, t(3, 0)))
        .await
        .expect("record");
    consents
        .record(pool, &reader, &change("newsletter", email, true, t(1, 0)))
        .await
        .expect("record");
    let history = consents.history(pool, &ada).await.expect("history");

    let chain = chain::<DB>(ConsentsConfig::default());
    for (subject, changes, wordings) in [
        (Subject::customer(42), 3, 3),
        (Subject::guest("reader@example.test").expect("guest"), 1, 1),
    ] {
        let mut out = Vec::new();
        let summary = chain
            .export(pool, &subject, &mut out)
            .await
            .expect("export");
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(doc["complete"], true);
        let section = doc["sections"]
            .as_array()
            .expect("sections")
            .iter()
            .find(|s| s["handler"] == "consents")
            .expect("the consents section");
        assert_eq!(section["position"], POSITION);
        let tables = section["tables"].as_array().expect("tables");
        let table = |name: &str| {
            tables
                .iter()
                .find(|t| t["table"] == name)
                .unwrap_or_else(|| panic!("{name} in {section}"))["rows"]
                .as_array()
                .expect("rows")
                .clone()
        };
        let change_rows = table(CHANGES);
        let wording_rows = table(WORDINGS);
        assert_eq!(change_rows.len(), changes);
        assert_eq!(wording_rows.len(), wordings);
        assert_eq!(summary.rows, (changes + wordings) as u64);
        // Every change's wording is in the document.
        for row in &change_rows {
            assert!(
                wording_rows.iter().any(|w| w["id"] == row["wording_id"]),
                "{row}"
            );
        }
        if subject == Subject::customer(42) {
            for record in &history {
                assert!(
                    wording_rows
                        .iter()
                        .any(|w| w["text"] == record.wording.text.as_str()
                            && w["version"] == record.wording.version.as_str()),
                    "the wording of every change, with its text"
                );
            }
            assert!(change_rows.iter().all(|r| r["customer_key"] == "42"));
        } else {
            assert_eq!(change_rows[0]["email"], "reader@example.test");
        }
    }
}

async fn concurrent_first_records_of_one_wording_all_succeed<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let pool = db.pool.clone();
            tokio::spawn(async move {
                let subject = ConsentSubject::customer(i);
                let c = change("newsletter", Some(Channel::Email), true, t(1, 0));
                Consents::<DB>::new().record(&pool, &subject, &c).await
            })
        })
        .collect();
    for task in tasks {
        task.await
            .expect("task")
            .expect("every first record succeeds");
    }
    assert_eq!(count(&db, WORDINGS).await, 1, "the wording is stored once");
    assert_eq!(count(&db, CHANGES).await, 8);
    let granted: Vec<ConsentSubject> = consents
        .granted(&db.pool, "newsletter", Some(Channel::Email), 3)
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(granted.len(), 8);
}
