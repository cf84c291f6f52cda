//! `erasure consents …` end to end on a SQLite file: record, show, list, stats, export, import
//! (idempotent, bad lines, stop, suppression of erased emails), and the exit codes.

mod support;

use std::path::Path;

use support::{erasure, erasure_with_input, erasure_without_key, expect_code, stderr, stdout};

fn init(dir: &Path) -> String {
    let url = format!("sqlite://{}", dir.join("shop.db").display());
    expect_code(&erasure(&["init", "--db", &url]), 0);
    url
}

fn record(url: &str, subject: &[&str], given: bool, at: &str) {
    let mut args = vec!["consents", "record", "--db", url];
    args.extend_from_slice(subject);
    args.extend_from_slice(&[
        "--purpose",
        "newsletter",
        "--channel",
        "email",
        if given { "--given" } else { "--withdrawn" },
        "--version",
        "v1",
        "--language",
        "en",
        "--name",
        "Newsletter",
        "--text",
        "Send me offers by email. Unsubscribe any time.",
        "--source",
        "checkout",
        "--at",
        at,
    ]);
    expect_code(&erasure(&args), 0);
}

#[test]
fn record_show_list_stats_export_and_import_again() {
    let dir = tempfile::tempdir().expect("dir");
    let url = init(dir.path());
    record(
        &url,
        &["--email", "ada@example.test"],
        true,
        "2026-03-01T10:00:00Z",
    );
    record(&url, &["--customer", "42"], true, "2026-03-01T10:00:00Z");
    record(&url, &["--customer", "42"], false, "2026-03-05T10:00:00Z");
    record(
        &url,
        &["--customer", "7", "--user", "3"],
        true,
        "2026-03-02T10:00:00Z",
    );

    let out = erasure(&["consents", "show", "--db", &url, "--customer", "42"]);
    expect_code(&out, 0);
    assert!(stdout(&out).contains("withdrawn"), "{}", stdout(&out));
    let out = erasure(&[
        "consents",
        "show",
        "--db",
        &url,
        "--customer",
        "42",
        "--history",
        "--json",
    ]);
    expect_code(&out, 0);
    let history: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(history.as_array().map(Vec::len), Some(2));
    assert_eq!(history[0]["given"], true);
    assert_eq!(history[1]["wording"]["version"], "v1");
    let out = erasure(&[
        "consents",
        "show",
        "--db",
        &url,
        "--customer",
        "42",
        "--timeline",
        "--json",
    ]);
    expect_code(&out, 0);
    let timeline: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(timeline[0]["event"], "consent");
    assert_eq!(timeline[1]["given"], false);

    let out = erasure(&[
        "consents",
        "list",
        "--db",
        &url,
        "--purpose",
        "newsletter",
        "--channel",
        "email",
    ]);
    expect_code(&out, 0);
    let listed = stdout(&out);
    assert!(listed.contains("email ada@example.test"), "{listed}");
    assert!(listed.contains("user 3 of customer 7"), "{listed}");
    assert!(!listed.contains("customer 42"), "42 withdrew: {listed}");
    assert!(stderr(&out).contains("2 subjects"));
    let out = erasure(&[
        "consents",
        "list",
        "--db",
        &url,
        "--purpose",
        "newsletter",
        "--channel",
        "email",
        "--json",
        "--limit",
        "1",
    ]);
    assert_eq!(stdout(&out).lines().count(), 1);

    let out = erasure(&["consents", "stats", "--db", &url, "--json"]);
    expect_code(&out, 0);
    let stats: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(stats[0]["granted"], 2);
    assert_eq!(stats[0]["withdrawn"], 1);

    // Export to a private file; it imports again unchanged.
    let file = dir.path().join("opt-in.csv");
    let path = file.to_str().expect("path");
    let out = erasure(&[
        "consents",
        "export",
        "--db",
        &url,
        "--purpose",
        "newsletter",
        "--channel",
        "email",
        "--out",
        path,
    ]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("2 subjects in the opt-in list of newsletter on email"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let csv = std::fs::read_to_string(&file).expect("read");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let again = erasure(&[
        "consents",
        "export",
        "--db",
        &url,
        "--purpose",
        "newsletter",
        "--channel",
        "email",
        "--out",
        path,
    ]);
    expect_code(&again, 2);
    assert!(stderr(&again).contains("does not replace a file"));

    let out = erasure(&["consents", "import", "--db", &url, path]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("2 lines: 0 imported, 2 already recorded"),
        "{}",
        stdout(&out)
    );

    // The opt-out list, as JSON Lines on standard output, into standard input.
    let out = erasure(&[
        "consents",
        "export",
        "--db",
        &url,
        "--purpose",
        "newsletter",
        "--channel",
        "email",
        "--opt-out",
        "--format",
        "jsonl",
    ]);
    expect_code(&out, 0);
    let jsonl = stdout(&out);
    assert!(jsonl.contains(r#""customer":42"#), "{jsonl}");
    let out = erasure_with_input(
        &[
            "consents", "import", "--db", &url, "--format", "jsonl", "--json", "-",
        ],
        &jsonl,
    );
    expect_code(&out, 0);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(summary["already_recorded"], 1);
}

#[test]
fn bad_lines_exit_10_with_their_numbers_and_no_personal_value() {
    let dir = tempfile::tempdir().expect("dir");
    let url = init(dir.path());
    let list = dir.path().join("list.csv");
    std::fs::write(
        &list,
        "email,purpose,channel,given,at,version,language,name,text\n\
         one@example.test,newsletter,sms,true,2026-03-01T08:00:00Z,v1,en,Texts,Offers by text.\n\
         secret.person@example.test,newsletter,sms,maybe,2026-03-01T08:00:00Z,v1,en,,\n\
         two@example.test,newsletter,sms,true,2026-03-01T08:00:00Z,v1,en,,\n",
    )
    .expect("write");
    let path = list.to_str().expect("path");
    let out = erasure(&["consents", "import", "--db", &url, path]);
    expect_code(&out, 10);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("line 3: `given` is not `true` or `false`"),
        "{text}"
    );
    assert!(text.contains("1 of 3 lines were refused"), "{text}");
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains("2 imported"), "{text}");

    // Stop at it: the fixed file then imports the rest, the first line already recorded.
    let out = erasure(&[
        "consents",
        "import",
        "--db",
        &url,
        "--stop-on-bad-line",
        "--batch",
        "1",
        path,
    ]);
    expect_code(&out, 10);
    assert!(
        stdout(&out).contains("stopped at line 3"),
        "{}",
        stdout(&out)
    );

    // A file of unknown extension needs --format; a bad header is bad usage.
    let weird = dir.path().join("list.txt");
    std::fs::write(&weird, "secret.person@example.test\n").expect("write");
    let out = erasure(&[
        "consents",
        "import",
        "--db",
        &url,
        weird.to_str().expect("path"),
    ]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("--format"));
    let out = erasure(&[
        "consents",
        "import",
        "--db",
        &url,
        "--format",
        "csv",
        weird.to_str().expect("path"),
    ]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("column 1 is not a list field"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("secret"));
}

#[test]
fn an_erased_email_does_not_come_back_through_an_import() {
    let dir = tempfile::tempdir().expect("dir");
    let url = init(dir.path());
    let config = dir.path().join("erasure.toml");
    std::fs::write(&config, "[evidence]\nsuppression = true\n\n[consents]\n").expect("config");
    record(
        &url,
        &["--email", "ada@example.test"],
        true,
        "2026-03-01T10:00:00Z",
    );
    let out = erasure(&[
        "erase",
        "--db",
        &url,
        "--config",
        config.to_str().expect("path"),
        "--guest",
        "ada@example.test",
    ]);
    expect_code(&out, 0);
    let out = erasure(&[
        "consents",
        "show",
        "--db",
        &url,
        "--email",
        "ada@example.test",
    ]);
    assert!(
        stdout(&out).contains("no consents recorded"),
        "{}",
        stdout(&out)
    );

    let old_list = "email,purpose,channel,given,at,version,language\n\
                    ADA@example.test,newsletter,email,true,2026-03-01T10:00:00Z,v1,en\n\
                    bob@example.test,newsletter,email,true,2026-03-01T10:00:00Z,v1,en\n";
    let out = erasure_with_input(
        &["consents", "import", "--db", &url, "--format", "csv", "-"],
        old_list,
    );
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("1 imported, 0 already recorded, 1 refused as erased"),
        "{}",
        stdout(&out)
    );
    let out = erasure(&[
        "consents",
        "show",
        "--db",
        &url,
        "--email",
        "ADA@example.test",
    ]);
    assert!(stdout(&out).contains("no consents recorded"));

    // Without the key the list cannot be checked: refused, unless said so.
    let out = erasure_without_key(&[
        "consents",
        "import",
        "--db",
        &url,
        "--format",
        "csv",
        "/dev/null",
    ]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("ERASURE_PSEUDONYM_KEY"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_granular_export_holds_the_consents_asked_for() {
    let dir = tempfile::tempdir().expect("dir");
    let url = init(dir.path());
    let config = dir.path().join("erasure.toml");
    std::fs::write(&config, "[consents]\n").expect("config");
    let config = config.to_str().expect("path");
    record(&url, &["--customer", "42"], true, "2026-03-01T10:00:00Z");
    record(&url, &["--customer", "42"], false, "2026-03-05T10:00:00Z");
    let out = erasure(&[
        "export",
        "--db",
        &url,
        "--config",
        config,
        "--customer",
        "42",
        "--only",
        "consents,order-anonymization",
    ]);
    expect_code(&out, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let sections: Vec<&str> = doc["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .map(|s| s["handler"].as_str().expect("handler"))
        .collect();
    assert_eq!(sections, ["order-anonymization", "consents"]);
    let consents = &doc["sections"][1]["tables"][0];
    assert_eq!(consents["table"], "erasure_consent_changes");
    assert_eq!(consents["count"], 2);
    assert!(
        stderr(&out).contains("left out (not asked for): "),
        "{}",
        stderr(&out)
    );

    let out = erasure(&[
        "export",
        "--db",
        &url,
        "--config",
        config,
        "--customer",
        "42",
        "--only",
        "orders",
    ]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("no handler of the chain is named `orders`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("dir");
    let url = init(dir.path());
    let out = erasure(&["consents", "show", "--db", &url, "--email", "not-an-email"]);
    expect_code(&out, 2);
    assert!(!stderr(&out).contains("not-an-email"), "{}", stderr(&out));
    let out = erasure(&[
        "consents",
        "list",
        "--db",
        &url,
        "--purpose",
        "newsletter",
        "--channel",
        "fax",
    ]);
    expect_code(&out, 2);
    let out = erasure(&[
        "consents",
        "record",
        "--db",
        &url,
        "--customer",
        "1",
        "--purpose",
        "Newsletter",
        "--given",
        "--version",
        "v1",
        "--language",
        "en",
        "--name",
        "N",
        "--text",
        "T",
    ]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("purpose"), "{}", stderr(&out));
}
