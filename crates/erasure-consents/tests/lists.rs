//! Opt-in and opt-out lists in and out, on every database: export, idempotent import, out of
//! order changes, the suppression list, bad lines, wordings, and batches that stop or fail.

mod support;

use chrono::{DateTime, TimeZone as _, Utc};
use erasure_consents::{
    Channel, ConsentChange, ConsentError, ConsentSubject, Consents, ConsentsConfig,
    ConsentsHandler, ExportOptions, ImportOptions, ImportSummary, ListFormat, ListSelection,
    OnBadLine, POSITION, Source, Wording,
};
use erasure_core::{Backend, Chain, Erasure, Key, PseudonymKey, Subject};
use erasure_evidence::{Suppression, SuppressionList};
use erasure_testkit::{TestBackend, TestDb};
use support::{backend_tests, count};

backend_tests!(
    an_exported_list_imports_again_unchanged_in_both_formats,
    a_list_with_its_wordings_restores_the_current_state_elsewhere,
    an_older_change_never_overrides_a_newer_one_whatever_the_order_of_arrival,
    erased_emails_are_refused_and_counted,
    bad_lines_are_reported_by_number_and_the_rest_imported,
    stop_mode_writes_nothing_of_the_batch_holding_a_bad_line,
    wordings_that_differ_or_are_missing_are_refused,
);

const WORDINGS: &str = "erasure_consent_wordings";
const CHANGES: &str = "erasure_consent_changes";

async fn store<DB: TestBackend>(db: &TestDb<DB>) -> Consents<DB> {
    let consents = Consents::<DB>::new();
    consents.install(&db.pool).await.expect("install");
    consents
}

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

fn wording() -> Wording {
    Wording::new(
        "Newsletter",
        "Send me offers by email, \"weekly\".\nUnsubscribe any time.",
        "v1",
        "en",
    )
}

fn change(given: bool, at: DateTime<Utc>) -> ConsentChange {
    ConsentChange::new(
        "newsletter",
        Some(Channel::Email),
        given,
        wording(),
        Source::Checkout,
        at,
    )
}

async fn import<DB: Backend>(
    consents: &Consents<DB>,
    db: &TestDb<DB>,
    format: ListFormat,
    text: &str,
    options: &ImportOptions,
) -> ImportSummary {
    consents
        .import_list(&db.pool, format, text.as_bytes(), options, |_| {})
        .await
        .expect("import")
}

async fn export<DB: Backend>(
    consents: &Consents<DB>,
    db: &TestDb<DB>,
    selection: &ListSelection,
    format: ListFormat,
    options: ExportOptions,
) -> String {
    let mut out = Vec::new();
    let n = consents
        .export_list(&db.pool, selection, format, &mut out, options)
        .await
        .expect("export");
    let text = String::from_utf8(out).expect("UTF-8");
    if !text.contains("\"\n") {
        // No quoted line break: one line per subject (and the CSV header).
        let header = usize::from(format == ListFormat::Csv);
        assert_eq!(text.lines().count(), n as usize + header, "{text}");
    }
    text
}

/// The subjects of the mixed list: integer keys, a text key of digits, a user, subscribers.
fn subjects() -> Vec<ConsentSubject> {
    vec![
        ConsentSubject::customer(1),
        ConsentSubject::customer(Key::Text("0042".into())),
        ConsentSubject::customer(Key::Text("77".into())),
        ConsentSubject::user(5, 9),
        ConsentSubject::email("ada@example.test").expect("email"),
        ConsentSubject::email("grace, \"admiral\"@example.test").expect("email"),
    ]
}

async fn an_exported_list_imports_again_unchanged_in_both_formats<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    let all = subjects();
    for (i, subject) in all.iter().enumerate() {
        consents
            .record(&db.pool, subject, &change(true, t(1, 10)))
            .await
            .expect("record");
        // Every other subject opts out later: the opt-out list.
        if i % 2 == 1 {
            consents
                .record(&db.pool, subject, &change(false, t(2, 10)))
                .await
                .expect("record");
        }
    }
    let before = count(&db, CHANGES).await;
    for format in [ListFormat::Csv, ListFormat::JsonLines] {
        let opt_in = ListSelection::opt_in("newsletter", Some(Channel::Email));
        let opt_out = ListSelection::opt_out("newsletter", Some(Channel::Email));
        // Pages of two subjects: the keyset paging is crossed three times.
        let options = ExportOptions::new().page(2);
        let ins = export(&consents, &db, &opt_in, format, options).await;
        let outs = export(&consents, &db, &opt_out, format, options).await;
        let lines = |text: &str| text.lines().count() - usize::from(format == ListFormat::Csv);
        assert_eq!(lines(&ins), 3, "{ins}");
        assert_eq!(lines(&outs), 3, "{outs}");
        assert!(ins.contains("ada@example.test"));
        assert!(!outs.contains("ada@example.test"));
        // The text key of digits keeps its type; the integer key does not need to say it.
        if format == ListFormat::JsonLines {
            assert!(ins.contains(r#""customer":1,"#), "{ins}");
            assert!(
                ins.contains(r#""customer":"77","key_type":"text""#),
                "{ins}"
            );
            assert!(outs.contains(r#""customer":"0042","#), "{outs}");
            assert!(outs.contains(r#""customer":5,"user":9,"#), "{outs}");
        } else {
            assert!(ins.starts_with(
                "customer,user,email,key_type,purpose,channel,given,at,version,language,source\n"
            ));
        }
        for text in [&ins, &outs] {
            let summary = import(&consents, &db, format, text, &ImportOptions::new()).await;
            assert_eq!(summary.lines, 3);
            assert_eq!(summary.already_recorded, 3, "{summary:?}");
            assert_eq!(summary.imported, 0);
            assert!(summary.is_clean());
        }
    }
    assert_eq!(count(&db, CHANGES).await, before);
}

async fn a_list_with_its_wordings_restores_the_current_state_elsewhere<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let consents = store(&db).await;
    let all = subjects();
    for subject in &all {
        consents
            .record(&db.pool, subject, &change(true, t(1, 10)))
            .await
            .expect("record");
    }
    let selection = ListSelection::opt_in("newsletter", Some(Channel::Email));
    for format in [ListFormat::Csv, ListFormat::JsonLines] {
        let list = export(
            &consents,
            &db,
            &selection,
            format,
            ExportOptions::new().with_wording(true),
        )
        .await;
        // Another shop: no changes, no wordings.
        let mut conn = db.pool.acquire().await.expect("conn");
        for table in [CHANGES, WORDINGS] {
            let mut delete = erasure_core::sql::Sql::new("DELETE FROM ");
            delete.ident(&erasure_core::Ident::new(table).expect("ident"));
            DB::execute(&mut conn, &delete).await.expect("empty");
        }
        drop(conn);
        let summary = import(&consents, &db, format, &list, &ImportOptions::new()).await;
        assert_eq!(summary.imported, all.len() as u64, "{summary:?}");
        assert!(summary.is_clean(), "{summary:?}");
        for subject in &all {
            let current = consents.current(&db.pool, subject).await.expect("current");
            assert_eq!(current.len(), 1);
            assert!(current[0].given);
            assert_eq!(current[0].at, t(1, 10));
            // The source travels with the line; the wording with its exact text.
            assert_eq!(current[0].source, Source::Checkout);
            assert_eq!(current[0].wording, wording());
        }
        assert_eq!(count(&db, WORDINGS).await, 1);
    }
}

const HEADER: &str = "email,purpose,channel,given,at,version,language,source,name,text\n";

fn line(email: &str, given: bool, at: &str) -> String {
    format!("{email},newsletter,sms,{given},{at},v2,en,,Texts,\"Offers by text message.\"\n")
}

async fn an_older_change_never_overrides_a_newer_one_whatever_the_order_of_arrival<
    DB: TestBackend,
>(
    db: TestDb<DB>,
) {
    let consents = store(&db).await;
    let ada = ConsentSubject::email("ada@example.test").expect("email");
    let grace = ConsentSubject::email("grace@example.test").expect("email");
    // One list with Ada's newer withdrawal before her older opt-in, another with Grace's older
    // opt-in after her newer withdrawal was imported alone.
    let first = format!(
        "{HEADER}{}{}{}",
        line("ada@example.test", false, "2026-03-05T08:00:00Z"),
        line("ada@example.test", true, "2026-03-01T08:00:00+00:00"),
        line("grace@example.test", false, "2026-03-05T10:00:00.5+02:00"),
    );
    let summary = import(
        &consents,
        &db,
        ListFormat::Csv,
        &first,
        &ImportOptions::new(),
    )
    .await;
    assert_eq!(summary.imported, 3);
    let late = format!(
        "{HEADER}{}",
        line("grace@example.test", true, "2026-03-01T08:00:00Z")
    );
    let summary = import(
        &consents,
        &db,
        ListFormat::Csv,
        &late,
        &ImportOptions::new(),
    )
    .await;
    assert_eq!(summary.imported, 1);
    for subject in [&ada, &grace] {
        let history = consents.history(&db.pool, subject).await.expect("history");
        assert_eq!(history.len(), 2);
        assert!(history[0].given && !history[1].given, "oldest first");
        let current = consents.current(&db.pool, subject).await.expect("current");
        assert!(!current[0].given, "the newer withdrawal stays current");
        assert_eq!(current[0].source, Source::Import);
        assert_eq!(current[0].channel, Some(Channel::Sms));
    }
    let grace_now = consents.current(&db.pool, &grace).await.expect("current");
    assert_eq!(
        grace_now[0].at,
        Utc.with_ymd_and_hms(2026, 3, 5, 8, 0, 0).unwrap() + chrono::TimeDelta::milliseconds(500)
    );
    // The same lines again, in JSON Lines: nothing new.
    let json = "{\"email\":\"ada@example.test\",\"purpose\":\"newsletter\",\"channel\":\"sms\",\"given\":false,\"at\":\"2026-03-05T09:00:00+01:00\",\"version\":\"v2\",\"language\":\"EN\"}\n\n";
    let summary = import(
        &consents,
        &db,
        ListFormat::JsonLines,
        json,
        &ImportOptions::new(),
    )
    .await;
    assert_eq!(
        (summary.lines, summary.already_recorded),
        (1, 1),
        "{summary:?}"
    );
    assert_eq!(count(&db, CHANGES).await, 4);
}

async fn erased_emails_are_refused_and_counted<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    erasure_evidence::install(&db.pool).await.expect("evidence");
    let key = PseudonymKey::from_hex("00112233445566778899aabbccddeeff").expect("key");
    let chain = Chain::<DB>::builder()
        .register(POSITION, ConsentsHandler::new(ConsentsConfig::default()))
        .pseudonym_key(key.clone())
        .recorder(Suppression::new())
        .build()
        .expect("chain");
    let ada = ConsentSubject::email("ada@example.test").expect("email");
    consents
        .record(&db.pool, &ada, &change(true, t(1, 10)))
        .await
        .expect("record");
    chain
        .erase(
            &db.pool,
            &Erasure::new(Subject::guest("ada@example.test").expect("guest")),
        )
        .await
        .expect("erase");
    assert_eq!(count(&db, CHANGES).await, 0);
    // An old list still holds Ada (in other case): she must not come back.
    let list = format!(
        "{HEADER}{}{}{}",
        line("Ada@Example.TEST", true, "2026-03-01T08:00:00Z"),
        line("grace@example.test", true, "2026-03-01T08:00:00Z"),
        line("ada@example.test", true, "2026-03-02T08:00:00Z"),
    );
    let options = ImportOptions::new().suppression(SuppressionList::new(key));
    let summary = import(&consents, &db, ListFormat::Csv, &list, &options).await;
    assert_eq!(summary.suppressed, 2, "{summary:?}");
    assert_eq!(summary.imported, 1);
    assert!(
        summary.bad_lines.is_empty(),
        "suppressed lines are counted, not listed"
    );
    assert!(!summary.is_clean());
    assert!(
        consents
            .history(&db.pool, &ada)
            .await
            .expect("history")
            .is_empty()
    );
    let upper = ConsentSubject::email("Ada@Example.TEST").expect("email");
    assert!(
        consents
            .history(&db.pool, &upper)
            .await
            .expect("history")
            .is_empty()
    );
    assert_eq!(count(&db, CHANGES).await, 1);
    // Without the list the same import would bring her back: the option is what refuses.
    let summary = import(
        &consents,
        &db,
        ListFormat::Csv,
        &list,
        &ImportOptions::new(),
    )
    .await;
    assert_eq!(summary.imported, 2);
}

/// A list with bad lines at known line numbers (a record spanning two lines counts as one).
fn list_with_bad_lines() -> String {
    let mut list = String::from(HEADER); // line 1
    list += &line("a1@example.test", true, "2026-03-01T08:00:00Z"); // 2
    list += &line("secret.person@example.test", true, "yesterday"); // 3: bad `at`
    list += "b1@example.test,newsletter,sms,true,2026-03-01T08:00:00Z,v2,en,,Texts,\"Offers by\ntext message.\"\n"; // 4-5: differs (text)
    list += &line("c1@example.test", true, "2026-03-01T08:00:00Z"); // 6
    list += "secret.person@example.test,newsletter\n"; // 7: too few fields
    list += &line("no-at-sign", true, "2026-03-01T08:00:00Z"); // 8: bad email
    list += &line("d1@example.test", true, "2026-03-01T08:00:00Z"); // 9
    list
}

async fn bad_lines_are_reported_by_number_and_the_rest_imported<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    let mut progress = Vec::new();
    let summary = consents
        .import_list(
            &db.pool,
            ListFormat::Csv,
            list_with_bad_lines().as_bytes(),
            &ImportOptions::new().batch_size(2),
            |s| progress.push((s.batches, s.committed_through)),
        )
        .await
        .expect("import");
    let numbers: Vec<u64> = summary.bad_lines.iter().map(|b| b.line).collect();
    assert_eq!(numbers, [3, 4, 7, 8], "{summary:?}");
    assert_eq!(summary.rejected, 4);
    assert_eq!(summary.lines, 7);
    assert_eq!(summary.imported, 3);
    assert_eq!(summary.committed_through, 9);
    assert!(progress.len() >= 2, "{progress:?}");
    assert_eq!(progress.last(), Some(&(summary.batches, 9)));
    let reasons: Vec<&str> = summary
        .bad_lines
        .iter()
        .map(|b| b.reason.as_str())
        .collect();
    assert!(reasons[0].contains("`at`"), "{reasons:?}");
    assert!(
        reasons[1].contains("other than the one stored"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].contains("fields where the header has"),
        "{reasons:?}"
    );
    assert!(reasons[3].contains("`email`"), "{reasons:?}");
    let printed = format!("{summary:?}");
    assert!(!printed.contains("secret") && !printed.contains("no-at-sign"));
    assert_eq!(count(&db, CHANGES).await, 3);
}

async fn stop_mode_writes_nothing_of_the_batch_holding_a_bad_line<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    // Batches of two lines: 2+4 (line 4 differs in the database's light), then stop.
    let mut list = String::from(HEADER);
    list += &line("a1@example.test", true, "2026-03-01T08:00:00Z"); // 2
    list += &line("a2@example.test", true, "2026-03-01T08:00:00Z"); // 3
    list += &line("a3@example.test", true, "2026-03-01T08:00:00Z"); // 4
    list += &line("a4@example.test", true, "2026-03-01T08:00:00Z"); // 5
    list += &line("a5@example.test", true, "2026-03-01T08:00:00Z"); // 6
    list += "a6@example.test,newsletter,sms,true,2026-03-01T08:00:00Z,v3,en,,Texts,\n"; // 7: name without text
    list += &line("a7@example.test", true, "2026-03-01T08:00:00Z"); // 8
    let options = ImportOptions::new()
        .batch_size(2)
        .on_bad_line(OnBadLine::Stop);
    let summary = import(&consents, &db, ListFormat::Csv, &list, &options).await;
    assert_eq!(summary.stopped_at, Some(7), "{summary:?}");
    assert_eq!(summary.committed_through, 5);
    assert_eq!(summary.imported, 4);
    assert_eq!(summary.rejected, 1);
    assert_eq!(
        count(&db, CHANGES).await,
        4,
        "line 6 was in the stopped batch"
    );

    // Fixed, the same file again: the committed lines are recognized.
    let fixed = list.replace(",Texts,\n", ",Texts,Offers by text message.\n");
    let summary = import(&consents, &db, ListFormat::Csv, &fixed, &options).await;
    assert_eq!(
        (summary.already_recorded, summary.imported),
        (4, 3),
        "{summary:?}"
    );
    assert!(summary.is_clean());
    assert_eq!(count(&db, CHANGES).await, 7);

    // A batch refused in the database's light (a conflicting wording) is rolled back whole,
    // the wording it stored too.
    let wordings_before = count(&db, WORDINGS).await;
    let mut conflict = String::from(HEADER);
    conflict += "b1@example.test,newsletter,sms,true,2026-03-01T08:00:00Z,v9,en,,Nine,Nine.\n";
    conflict += "b2@example.test,newsletter,sms,true,2026-03-01T08:00:00Z,v2,en,,Texts,Changed.\n";
    let summary = import(&consents, &db, ListFormat::Csv, &conflict, &options).await;
    assert_eq!(summary.stopped_at, Some(3), "{summary:?}");
    assert_eq!((summary.imported, summary.committed_through), (0, 0));
    assert_eq!(count(&db, WORDINGS).await, wordings_before);
    assert_eq!(count(&db, CHANGES).await, 7);
}

async fn wordings_that_differ_or_are_missing_are_refused<DB: TestBackend>(db: TestDb<DB>) {
    let consents = store(&db).await;
    let ada = ConsentSubject::email("ada@example.test").expect("email");
    consents
        .record(&db.pool, &ada, &change(true, t(1, 10)))
        .await
        .expect("record");
    let list = "email,purpose,channel,given,at,version,language,name,text\n\
        x1@example.test,newsletter,email,true,2026-03-01T08:00:00Z,v1,en,,\n\
        x2@example.test,newsletter,email,true,2026-03-01T08:00:00Z,v7,en,,\n\
        x3@example.test,newsletter,email,true,2026-03-01T08:00:00Z,v1,en,Newsletter,Other text.\n\
        x4@example.test,newsletter,email,true,2026-03-01T08:00:00Z,v8,en,Eight,Eight.\n\
        x5@example.test,newsletter,email,true,2026-03-01T08:00:00Z,v8,en-gb,,\n\
        x6@example.test,newsletter,email,true,2026-03-01T08:00:00Z,v8,EN,,\n";
    let summary = import(&consents, &db, ListFormat::Csv, list, &ImportOptions::new()).await;
    let refused: Vec<u64> = summary.bad_lines.iter().map(|b| b.line).collect();
    // v1 is stored (line 2 refers to it); v7 is not (line 3); line 4 changes v1's text; v8 is
    // given on line 5 and used by line 7 (the language in another case), not by line 6 (en-GB).
    assert_eq!(refused, [3, 4, 6], "{summary:?}");
    assert!(summary.bad_lines[0].reason.contains("not stored"));
    assert_eq!(summary.imported, 3);
    assert_eq!(count(&db, WORDINGS).await, 2);
    let x6 = ConsentSubject::email("x6@example.test").expect("email");
    let current = consents.current(&db.pool, &x6).await.expect("current");
    assert_eq!(
        current[0].wording,
        Wording::new("Eight", "Eight.", "v8", "en")
    );
}

/// A database failure in a batch rolls that batch back and reports what was committed (SQLite:
/// a trigger refuses one line's purpose).
#[tokio::test]
async fn a_failed_batch_is_rolled_back_and_says_what_was_committed() {
    let db = TestDb::sqlite_file(2).await.expect("SQLite");
    let consents = store(&db).await;
    let mut conn = db.pool.acquire().await.expect("conn");
    sqlx::query(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON erasure_consent_changes \
         WHEN NEW.purpose = 'boom' BEGIN SELECT RAISE(ABORT, 'refused by the shop'); END",
    )
    .execute(&mut *conn)
    .await
    .expect("trigger");
    drop(conn);
    let mut list = String::from("email,purpose,given,at,version,language,name,text\n");
    for (i, purpose) in ["news", "news", "news", "boom", "news"].iter().enumerate() {
        list +=
            &format!("p{i}@example.test,{purpose},true,2026-03-01T08:00:00Z,v1,en,Name,Text.\n");
    }
    let err = consents
        .import_list(
            &db.pool,
            ListFormat::Csv,
            list.as_bytes(),
            &ImportOptions::new().batch_size(2),
            |_| {},
        )
        .await
        .expect_err("the trigger fails the second batch");
    match &err {
        ConsentError::Batch {
            first_line,
            last_line,
            committed_through,
            ..
        } => assert_eq!((*first_line, *last_line, *committed_through), (4, 5, 3)),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("lines 4-5 was rolled back"),
        "{err}"
    );
    assert!(!err.to_string().contains("p3@"), "{err}");
    assert_eq!(count(&db, CHANGES).await, 2);
    // The `boom` wording of the failed batch went with it.
    assert_eq!(count(&db, WORDINGS).await, 1);
}

#[tokio::test]
async fn an_unusable_header_imports_nothing() {
    let db = TestDb::sqlite_memory().await.expect("SQLite");
    let consents = store(&db).await;
    for (list, expected) in [
        ("", "the header is missing"),
        (
            "ada@example.test,newsletter,true\n",
            "column 1 is not a list field",
        ),
        (
            "email,purpose,given,at,version\nx@example.test,n,true,2026-03-01T00:00:00Z,v1\n",
            "has no `language` column",
        ),
    ] {
        let err = consents
            .import_list(
                &db.pool,
                ListFormat::Csv,
                list.as_bytes(),
                &ImportOptions::new(),
                |_| {},
            )
            .await
            .expect_err("refused");
        assert!(matches!(err, ConsentError::Header { .. }), "{err:?}");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(!err.to_string().contains("ada"), "{err}");
    }
    assert_eq!(count(&db, CHANGES).await, 0);
}
