//! Counters for `GET /metrics`, in Prometheus' text format. Nothing personal: counts only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use erasure_core::Backend;
use erasure_evidence::outbox::EventState;
use erasure_requests::{Request, State};

use crate::jobs::JobStat;
use crate::server::App;

/// Counters kept while the server runs.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) http_2xx: AtomicU64,
    pub(crate) http_4xx: AtomicU64,
    pub(crate) http_5xx: AtomicU64,
    pub(crate) erasures_completed: AtomicU64,
    pub(crate) exports_completed: AtomicU64,
    pub(crate) requests_failed: AtomicU64,
    pub(crate) worker_rounds: AtomicU64,
    pub(crate) worker_errors: AtomicU64,
    pub(crate) worker_seconds_micros: AtomicU64,
    pub(crate) downloads: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) outbox_delivered: AtomicU64,
    pub(crate) outbox_retrying: AtomicU64,
    pub(crate) outbox_dead: AtomicU64,
}

impl Counters {
    pub(crate) fn status(&self, status: u16) {
        let counter = match status {
            200..=399 => &self.http_2xx,
            400..=499 => &self.http_4xx,
            _ => &self.http_5xx,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn line(out: &mut String, name: &str, help: &str, kind: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// A counter with one label, one line a value: `# HELP`, `# TYPE`, then `name{label="value"} n`.
fn labelled(out: &mut String, name: &str, help: &str, label: &str, values: &[(&str, u64)]) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (value, n) in values {
        let _ = write!(out, "\n{name}{{{label}=\"{value}\"}} {n}");
    }
    out.push('\n');
}

/// The metrics text: the counters, and the requests by state and overdue, read now.
pub(crate) async fn render<DB: Backend>(app: &App<DB>) -> Result<String, String> {
    let mut out = String::new();
    render_counters(&mut out, &app.counters);
    let requests = app
        .requests
        .list(&app.pool, None)
        .await
        .map_err(|e| e.to_string())?;
    let now = chrono::Utc::now();
    render_states(&mut out, &requests);
    if app.outbox_metrics
        && let Ok(counts) = erasure_evidence::outbox::counts(&app.pool).await
    {
        render_outbox_backlog(&mut out, &counts);
    }
    let stats = app
        .job_stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if !stats.is_empty() {
        render_jobs(&mut out, &stats);
    }
    let overdue = requests.iter().filter(|r| r.is_overdue(now)).count();
    line(
        &mut out,
        "erasure_requests_overdue",
        "Open requests past their due date.",
        "gauge",
        overdue as u64,
    );
    Ok(out)
}

/// The counters kept while the server runs.
fn render_counters(out: &mut String, c: &Counters) {
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    labelled(
        out,
        "erasure_http_responses_total",
        "HTTP responses by status class.",
        "class",
        &[
            ("2xx", get(&c.http_2xx)),
            ("4xx", get(&c.http_4xx)),
            ("5xx", get(&c.http_5xx)),
        ],
    );
    let requests = [
        (
            "erasure_rate_limited_total",
            "Requests refused by a rate limit.",
            &c.rate_limited,
        ),
        (
            "erasure_erasures_completed_total",
            "Erasure requests carried out by this process.",
            &c.erasures_completed,
        ),
        (
            "erasure_exports_completed_total",
            "Export requests carried out by this process.",
            &c.exports_completed,
        ),
        (
            "erasure_requests_failed_total",
            "Requests that failed in this process.",
            &c.requests_failed,
        ),
        (
            "erasure_export_downloads_total",
            "Export documents downloaded.",
            &c.downloads,
        ),
    ];
    for (name, help, counter) in requests {
        line(out, name, help, "counter", get(counter));
    }
    labelled(
        out,
        "erasure_outbox_attempts_total",
        "Outbox delivery attempts by outcome.",
        "outcome",
        &[
            ("delivered", get(&c.outbox_delivered)),
            ("retrying", get(&c.outbox_retrying)),
            ("dead", get(&c.outbox_dead)),
        ],
    );
    let worker = [
        (
            "erasure_worker_rounds_total",
            "Rounds of the background worker.",
            &c.worker_rounds,
        ),
        (
            "erasure_worker_errors_total",
            "Worker rounds that failed.",
            &c.worker_errors,
        ),
    ];
    for (name, help, counter) in worker {
        line(out, name, help, "counter", get(counter));
    }
    let _ = writeln!(
        out,
        "# HELP erasure_worker_seconds_total Time the worker spent carrying out requests.\n\
         # TYPE erasure_worker_seconds_total counter\n\
         erasure_worker_seconds_total {:.6}",
        get(&c.worker_seconds_micros) as f64 / 1e6
    );
}

/// The requests by state.
fn render_states(out: &mut String, requests: &[Request]) {
    let _ = writeln!(
        out,
        "# HELP erasure_requests Requests by state.\n# TYPE erasure_requests gauge"
    );
    for state in State::ALL {
        let n = requests.iter().filter(|r| r.state == state).count();
        let _ = writeln!(out, "erasure_requests{{state=\"{}\"}} {n}", state.as_str());
    }
}

/// The outbox's events by state.
fn render_outbox_backlog(out: &mut String, counts: &[(EventState, u64)]) {
    let _ = writeln!(
        out,
        "# HELP erasure_outbox_events Outbox events by state (the backlog: pending and dead).\n\
         # TYPE erasure_outbox_events gauge"
    );
    for (state, n) in counts {
        let _ = writeln!(out, "erasure_outbox_events{{state=\"{state}\"}} {n}");
    }
}

/// The runs, failures and last duration of each job run by this process.
fn render_jobs(out: &mut String, stats: &BTreeMap<String, JobStat>) {
    let _ = writeln!(
        out,
        "# HELP erasure_job_runs_total Runs of each job by this process.\n\
         # TYPE erasure_job_runs_total counter"
    );
    for (job, s) in stats {
        let _ = writeln!(out, "erasure_job_runs_total{{job=\"{job}\"}} {}", s.runs);
    }
    let _ = writeln!(
        out,
        "# HELP erasure_job_failures_total Failed runs of each job.\n\
         # TYPE erasure_job_failures_total counter"
    );
    for (job, s) in stats {
        let _ = writeln!(
            out,
            "erasure_job_failures_total{{job=\"{job}\"}} {}",
            s.failures
        );
    }
    let _ = writeln!(
        out,
        "# HELP erasure_job_last_seconds Duration of each job's last successful run.\n\
         # TYPE erasure_job_last_seconds gauge"
    );
    for (job, s) in stats {
        if let Some(last) = &s.last {
            let _ = writeln!(
                out,
                "erasure_job_last_seconds{{job=\"{job}\"}} {:.6}",
                last.elapsed_us as f64 / 1e6
            );
        }
    }
}
