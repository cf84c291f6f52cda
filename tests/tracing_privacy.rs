//! Nothing personal in traces, errors or reports: captured at TRACE level, including sqlx's own
//! statement logging, none of the subject's values appears.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use erasure::{Erasure, Subject};
use erasure_testkit::TestDb;
use support::Shop;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_errors_and_reports_carry_no_personal_values() {
    let capture = Capture::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .init();

    let shop = Shop::seeded(TestDb::sqlite_file(2).await.expect("db"), 100).await;
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .build()
        .expect("chain");
    let mut surfaced = String::new();
    let mut needles = Vec::new();

    // A committed erasure, a dry run, a users subject and a guest.
    let private = shop.customer_where(|c| !c.is_b2b() && c.orders > 1 && c.cashbacks > 1);
    let b2b = shop.customer_where(|c| c.is_b2b() && !c.users[1].admin);
    let guest = shop.seed.guest(2);
    needles.extend(private.needles());
    needles.extend(b2b.needles());
    needles.extend(guest.needles());
    for (subject, dry) in [
        (private.subject(), true),
        (private.subject(), false),
        (Subject::user(b2b.id, b2b.users[1].id), false),
        (guest.subject(), false),
    ] {
        let erasure = Erasure::new(subject);
        let report = if dry {
            chain.dry_run(&shop.db.pool, &erasure).await
        } else {
            chain.erase(&shop.db.pool, &erasure).await
        }
        .expect("erasure");
        surfaced.push_str(&format!(
            "{report}\n{report:?}\n{}\n",
            serde_json::to_string(&report).expect("json")
        ));
        surfaced.push_str(&format!("{erasure:?}\n"));
    }

    // A guard refusal and a failing handler.
    let b2b_sole = shop.customer_where(|c| c.is_b2b() && !c.users[1].admin && c.index > b2b.index);
    needles.extend(b2b_sole.needles());
    let err = chain
        .erase(
            &shop.db.pool,
            &Erasure::new(Subject::user(b2b_sole.id, b2b_sole.users[0].id)),
        )
        .await
        .expect_err("sole admin");
    surfaced.push_str(&format!("{err}\n{err:?}\n"));
    let failing = erasure::standard_chain::<sqlx::Sqlite>()
        .register(
            99,
            erasure_testkit::fault::FaultHandler::always(
                "boom",
                erasure_testkit::fault::Fault::Panic,
            ),
        )
        .build()
        .expect("chain");
    let err = failing
        .erase(&shop.db.pool, &Erasure::new(b2b_sole.subject()))
        .await
        .expect_err("panic");
    surfaced.push_str(&format!("{err}\n{err:?}\n"));

    let traces = String::from_utf8(capture.0.lock().expect("capture").clone()).expect("utf-8");
    assert!(
        traces.contains("erasure committed"),
        "the capture works: {traces}"
    );
    assert!(traces.contains("handler refused the erasure"));
    assert!(
        traces.contains("sqlx::query"),
        "sqlx's statements are captured too"
    );
    for needle in &needles {
        assert!(
            !traces.contains(&needle.value),
            "{} in traces",
            needle.label
        );
        assert!(
            !surfaced.contains(&needle.value),
            "{} in errors or reports",
            needle.label
        );
    }
    // Raw ids do not appear as span fields either: the subject is a pseudonym.
    assert!(!traces.contains(&format!("customer={}", private.id)));
    assert!(traces.contains(&chain.pseudonym(&private.subject())));
}
