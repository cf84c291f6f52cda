//! Where a SQLite erasure's time goes between the caller's thread and sqlx's SQLite worker: the
//! CPU time (user and system) and the context switches of every thread of this process, per
//! subject, while the standard chain erases typical subjects of a 20,000-customer shop.
//!
//! ```sh
//! cargo run --release --all-features --example sqlite_handoffs             # erase_many, 100 per commit
//! cargo run --release --all-features --example sqlite_handoffs -- --single # erase_on, one commit each
//! cargo run --release --all-features --example sqlite_handoffs -- --subjects 1000
//! ```
//!
//! sqlx runs each SQLite connection on a worker thread of its own: a query is a message to it,
//! and every statement's result is a message back, which wakes the caller's task. The floor of
//! the bench report (scenario 8) runs the same statements on the calling thread. What this
//! prints shows the difference: the worker's CPU time per subject against the caller's, and how
//! many times each thread was switched out per subject. Linux only (it reads
//! `/proc/self/task`).

#[path = "../benches/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use erasure::{BatchOptions, Erasure};
use erasure_testkit::Shape;
use support::SqliteShop;

/// One thread's counters: its name, CPU time in clock ticks (user, system), and context
/// switches (voluntary, involuntary).
#[derive(Debug, Clone, Default)]
struct Counters {
    name: String,
    user: u64,
    system: u64,
    voluntary: u64,
    involuntary: u64,
}

/// Every thread of this process, by thread id.
fn threads() -> BTreeMap<String, Counters> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let (Ok(stat), Ok(status)) = (
            std::fs::read_to_string(path.join("stat")),
            std::fs::read_to_string(path.join("status")),
        ) else {
            continue;
        };
        // `pid (name) state ppid …`: the name may hold spaces; fields resume after the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let field = |status: &str, key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        out.insert(
            task.file_name().to_string_lossy().into_owned(),
            Counters {
                name: stat[open + 1..close].to_owned(),
                // utime and stime: fields 14 and 15 of `stat`, 12 and 13 after the name.
                user: fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0),
                system: fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0),
                voluntary: field(&status, "voluntary_ctxt_switches:"),
                involuntary: field(&status, "nonvoluntary_ctxt_switches:"),
            },
        );
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let single = args.iter().any(|a| a == "--single");
    let subjects: usize = args
        .iter()
        .position(|a| a == "--subjects")
        .and_then(|i| args.get(i + 1))
        .map_or(3_000, |n| n.parse().expect("--subjects N"));
    println!("seeding a shop of 20,000 customers, {subjects} of them typical…");
    let shop = SqliteShop::new(
        20_000,
        Shape::bare(),
        subjects as u64,
        Shape::typical(),
        false,
    )
    .await;
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .build()
        .expect("chain");
    let erasures: Vec<Erasure> = shop
        .subjects()
        .into_iter()
        .map(|(_, s)| Erasure::new(s))
        .collect();
    // Clock ticks per second, as `stat` counts them (`getconf CLK_TCK`; 100 on Linux).
    let tick_ms = 10.0;
    let before = threads();
    let started = Instant::now();
    if single {
        let mut conn = shop.pool.acquire().await.expect("connection");
        for erasure in &erasures {
            chain.erase_on(&mut conn, erasure).await.expect("erase");
        }
    } else {
        let options = BatchOptions::default()
            .subjects(100)
            .time(Duration::from_secs(3600));
        chain
            .erase_many(&shop.pool, erasures.iter().cloned(), options, |done| {
                done.result.expect("erase");
            })
            .await
            .expect("erase_many");
    }
    let elapsed = started.elapsed();
    let after = threads();
    let n = subjects as f64;
    println!(
        "{} subjects {}: {:.3} ms per subject\n",
        subjects,
        if single {
            "one commit each (erase_on)"
        } else {
            "100 per commit (erase_many)"
        },
        elapsed.as_secs_f64() * 1e3 / n
    );
    println!(
        "{:<18} {:>14} {:>14} {:>22}",
        "thread", "user ms/subj", "system ms/subj", "switches out /subj"
    );
    for (tid, now) in &after {
        let was = before.get(tid).cloned().unwrap_or_default();
        let (user, system) = (now.user - was.user, now.system - was.system);
        let switches = (now.voluntary + now.involuntary) - (was.voluntary + was.involuntary);
        if user + system == 0 && switches < subjects as u64 / 10 {
            continue;
        }
        println!(
            "{:<18} {:>14.3} {:>14.3} {:>22.1}",
            now.name,
            user as f64 * tick_ms / n,
            system as f64 * tick_ms / n,
            switches as f64 / n
        );
    }
}
