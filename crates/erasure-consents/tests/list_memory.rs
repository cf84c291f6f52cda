//! A million-line list imports in bounded memory, on every database.
//!
//! The list is generated as it is read (nothing holds it), so the process's memory is the
//! import's. Its peak resident set (Linux `VmHWM`, reset through `/proc/self/clear_refs`) is
//! compared with the resident set before the import: an import that kept its lines, or its
//! changes, would grow by hundreds of megabytes. This file holds one test, so that no other test
//! shares its process under `cargo test`.
//!
//! `ERASURE_LIST_LINES` sets the number of lines: 1,000,000 by default in an optimized build,
//! 200,000 in a debug build (the test suite's, where a million lines on three databases would
//! take five minutes; the bound checked is the same). The figures in docs/performance.md come
//! from the optimized run:
//! `cargo test --release -p erasure-consents --all-features --test list_memory -- --nocapture`.

mod support;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use erasure_consents::{ConsentSubject, Consents, ImportOptions, ListFormat};
use erasure_testkit::{TestBackend, TestDb};
use tokio::io::{AsyncRead, BufReader, ReadBuf};

/// The lines' growth allowed over the resident set before the import.
const BOUND_MIB: f64 = 32.0;

/// A CSV or JSON Lines list of `lines` changes, made as it is read: subscribers by email,
/// customers and users, opt-ins and opt-outs, a few wordings, times out of order.
struct GeneratedList {
    format: ListFormat,
    lines: u64,
    next: u64,
    chunk: Vec<u8>,
    pos: usize,
}

impl GeneratedList {
    fn new(format: ListFormat, lines: u64, offset: u64) -> Self {
        let mut chunk = Vec::new();
        if format == ListFormat::Csv {
            chunk.extend_from_slice(
                b"customer,user,email,purpose,channel,given,at,version,language,source,name,text\n",
            );
        }
        Self {
            format,
            lines: offset + lines,
            next: offset,
            chunk,
            pos: 0,
        }
    }

    fn refill(&mut self) {
        use std::fmt::Write as _;
        let mut text = String::with_capacity(64 * 1024);
        while text.len() < 60 * 1024 && self.next < self.lines {
            let i = self.next;
            self.next += 1;
            let given = !i.is_multiple_of(3);
            let (month, day, hour) = (1 + i % 12, 1 + (i * 7) % 28, (i * 13) % 24);
            let at = format!("2025-{month:02}-{day:02}T{hour:02}:00:00Z");
            let version = ["v1", "v2", "v3"][(i % 3) as usize];
            let channel = ["email", "sms", "post"][(i % 3) as usize];
            let wording_name = "Newsletter";
            let wording_text = format!("Offers ({version}). Unsubscribe any time.");
            match (self.format, i % 4) {
                (ListFormat::Csv, 0) => {
                    let _ = writeln!(
                        text,
                        "{i},,,newsletter,{channel},{given},{at},{version},en,import,{wording_name},{wording_text}"
                    );
                }
                (ListFormat::Csv, 1) => {
                    let _ = writeln!(
                        text,
                        "{},{i},,newsletter,{channel},{given},{at},{version},en,,{wording_name},{wording_text}",
                        i / 10
                    );
                }
                (ListFormat::Csv, _) => {
                    let _ = writeln!(
                        text,
                        ",,reader{i}@example.test,newsletter,{channel},{given},{at},{version},en,checkout,,"
                    );
                }
                (_, 0 | 1) => {
                    let _ = writeln!(
                        text,
                        r#"{{"customer":{i},"purpose":"newsletter","channel":"{channel}","given":{given},"at":"{at}","version":"{version}","language":"en","name":"{wording_name}","text":"{wording_text}"}}"#
                    );
                }
                _ => {
                    let _ = writeln!(
                        text,
                        r#"{{"email":"reader{i}@example.test","purpose":"newsletter","channel":"{channel}","given":{given},"at":"{at}","version":"{version}","language":"en"}}"#
                    );
                }
            }
        }
        self.chunk.extend_from_slice(text.as_bytes());
    }
}

impl AsyncRead for GeneratedList {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.pos == this.chunk.len() {
            this.chunk.clear();
            this.pos = 0;
            this.refill();
        }
        let n = buf.remaining().min(this.chunk.len() - this.pos);
        buf.put_slice(&this.chunk[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

async fn measure<DB: TestBackend>(db: TestDb<DB>, format: ListFormat, lines: u64) {
    let consents = Consents::<DB>::new();
    consents.install(&db.pool).await.expect("install");
    let options = ImportOptions::new();
    // Warm up: connections, statement caches, the allocator's arenas.
    let warm = consents
        .import_list(
            &db.pool,
            format,
            BufReader::new(GeneratedList::new(format, 20_000, 10_000_000)),
            &options,
            |_| {},
        )
        .await
        .expect("warm-up import");
    assert_eq!(warm.imported, 20_000, "{warm:?}");
    // Reset the peak to the current resident set (Linux 4.0+).
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let mut batches = 0u64;
    let summary = consents
        .import_list(
            &db.pool,
            format,
            BufReader::new(GeneratedList::new(format, lines, 0)),
            &options,
            |_| batches += 1,
        )
        .await
        .expect("import");
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    let growth_mib = (peak - before).max(0.0) / 1024.0;
    assert_eq!(summary.lines, lines);
    assert_eq!(summary.imported, lines, "{summary:?}");
    assert!(summary.is_clean(), "{summary:?}");
    // Batches of 5,000 lines, the default.
    assert_eq!(batches, lines.div_ceil(5000));
    // A spot check of what was written: a subscriber of the list and its state.
    let reader = ConsentSubject::email("reader2@example.test").expect("email");
    let current = consents.current(&db.pool, &reader).await.expect("current");
    assert_eq!(current.len(), 1);
    assert!(current[0].given);
    println!(
        "{label} {format}: {lines} lines in {seconds:.1} s ({rate:.0} lines/s); resident set \
         {before:.0} MiB before, peak {peak_mib:.0} MiB (+{growth_mib:.1} MiB)",
        label = <DB as TestBackend>::LABEL,
        rate = lines as f64 / seconds,
        before = before / 1024.0,
        peak_mib = peak / 1024.0,
    );
    assert!(
        growth_mib < BOUND_MIB,
        "{label}: the import grew the resident set by {growth_mib:.1} MiB",
        label = <DB as TestBackend>::LABEL
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_line_import_runs_in_bounded_memory() {
    let lines: u64 = std::env::var("ERASURE_LIST_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            200_000
        } else {
            1_000_000
        });
    let db = TestDb::sqlite_file(2).await.expect("SQLite");
    measure(db, ListFormat::Csv, lines).await;
    #[cfg(feature = "postgres")]
    if let Some(db) = support::server::<sqlx::Postgres>().await {
        measure(db, ListFormat::JsonLines, lines).await;
    }
    #[cfg(feature = "mysql")]
    if let Some(db) = support::server::<sqlx::MySql>().await {
        measure(db, ListFormat::Csv, lines).await;
    }
}
