//! The jobs the server runs: on a schedule (`jobs_every_hours`) and when an operator asks, one at
//! a time, each run's figures kept for the operator and the metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use erasure_core::Backend;
use erasure_core::job::JobSummary;
use serde::Serialize;
use tokio::sync::watch;

use crate::server::App;

/// What the server knows of a job's runs.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct JobStat {
    pub(crate) runs: u64,
    pub(crate) failures: u64,
    pub(crate) last_at: Option<DateTime<Utc>>,
    pub(crate) last: Option<JobSummary>,
    pub(crate) last_error: Option<String>,
}

/// The figures of every job, by name.
pub(crate) type JobStats = std::sync::Mutex<BTreeMap<String, JobStat>>;

/// Runs the job named `name` now, after any job running (one at a time); records the outcome.
/// `None` when there is no such job.
pub(crate) async fn run_named<DB: Backend>(
    app: &App<DB>,
    name: &str,
) -> Option<Result<JobSummary, String>> {
    let job = app.jobs.iter().find(|j| j.name() == name)?;
    let _one_at_a_time = app.job_lock.lock().await;
    let started = Utc::now();
    let result = app
        .job_runner
        .run(&app.pool, job.as_ref(), |_| {})
        .await
        .map_err(|e| e.to_string());
    // A poisoned lock only means a panic while updating counters: the map is still usable.
    let mut stats = app
        .job_stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let stat = stats.entry(name.to_owned()).or_default();
    stat.runs += 1;
    stat.last_at = Some(started);
    match &result {
        Ok(summary) => {
            stat.last = Some(summary.clone());
            stat.last_error = None;
            tracing::info!(job = name, rows = summary.rows, "job run");
        }
        Err(e) => {
            stat.failures += 1;
            stat.last_error = Some(e.clone());
            tracing::warn!(job = name, error = %e, "job failed");
        }
    }
    Some(result)
}

/// Runs every job in order, one worker interval after the start, then every
/// `jobs_every_hours`, until `stop`. A job that fails is logged; the others still run.
pub(crate) async fn schedule<DB: Backend>(app: Arc<App<DB>>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(u64::from(app.config.jobs_every_hours) * 3600);
    let mut wait = app.config.worker_interval();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
        for name in app
            .jobs
            .iter()
            .map(|j| j.name().to_owned())
            .collect::<Vec<_>>()
        {
            if *stop.borrow() {
                break;
            }
            let _ = run_named(&app, &name).await;
        }
        wait = every;
    }
    tracing::info!("job schedule stopped");
}
