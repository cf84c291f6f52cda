//! The work the server does between requests: carrying out confirmed requests, expiring
//! unconfirmed ones, and removing export documents past their time.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use erasure_core::Backend;
use erasure_requests::{Request, RequestKind, State, Worker};
use tokio::sync::watch;

use crate::server::App;

/// Runs rounds every `worker_interval` until `stop` turns `true`. A round in progress finishes
/// the batch it is carrying out (one transaction) before the loop looks at `stop` again.
pub(crate) async fn run<DB: Backend>(app: Arc<App<DB>>, mut stop: watch::Receiver<bool>) {
    let worker = Worker::new(app.requests.clone(), app.chain.clone());
    loop {
        if *stop.borrow() {
            break;
        }
        let started = Instant::now();
        app.counters.worker_rounds.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = round(&app, &worker, &stop).await {
            app.counters.worker_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "a worker round failed; the next one retries");
        }
        app.counters
            .worker_seconds_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        tokio::select! {
            _ = tokio::time::sleep(app.config.worker_interval()) => {}
            _ = stop.changed() => {}
        }
    }
    tracing::info!("background worker stopped");
}

/// One round: expire stale tokens, carry out erasures batch by batch, then exports one by one,
/// then sweep old documents; stops between two units of work when asked.
async fn round<DB: Backend>(
    app: &App<DB>,
    worker: &Worker<DB>,
    stop: &watch::Receiver<bool>,
) -> Result<(), String> {
    app.requests
        .expire_tokens(&app.pool)
        .await
        .map_err(|e| e.to_string())?;
    while !*stop.borrow() {
        let done = worker
            .process_batch(&app.pool, app.config.worker_batch.max(1))
            .await
            .map_err(|e| e.to_string())?;
        if done.is_empty() {
            break;
        }
        count(app, &done);
    }
    if let Some(downloads) = &app.downloads {
        while !*stop.borrow() {
            match worker
                .process_next_export(&app.pool, downloads.target())
                .await
                .map_err(|e| e.to_string())?
            {
                Some(done) => count(app, std::slice::from_ref(&done)),
                None => break,
            }
        }
        let swept = downloads.sweep().await.map_err(|e| e.to_string())?;
        if swept > 0 {
            tracing::info!(
                documents = swept,
                "export documents past their time removed"
            );
        }
    }
    Ok(())
}

fn count<DB: Backend>(app: &App<DB>, done: &[Request]) {
    for request in done {
        let counter = match (request.state, request.kind) {
            (State::Completed, RequestKind::Export) => &app.counters.exports_completed,
            (State::Completed, _) => &app.counters.erasures_completed,
            _ => &app.counters.requests_failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// How often the dispatcher clears the payloads of events dead for too long.
const EXPIRY_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Delivers outbox events until `stop`: a round of the dispatcher, then (once an hour) the
/// expiry of dead events' payloads, then a pause when there was nothing to deliver. A failed round is logged
/// and retried after the pause.
pub(crate) async fn dispatch<DB: Backend>(
    app: Arc<App<DB>>,
    dispatcher: erasure_evidence::Dispatcher<DB>,
    mut stop: watch::Receiver<bool>,
) {
    let interval = std::time::Duration::from_secs(app.config.dispatch_interval_seconds.max(1));
    let keep_dead = chrono::TimeDelta::days(i64::from(app.config.dead_payload_days));
    let mut last_expiry: Option<std::time::Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        let attempted = match dispatcher.dispatch_once(&app.pool).await {
            Ok(round) => {
                let c = &app.counters;
                c.outbox_delivered
                    .fetch_add(round.delivered, Ordering::Relaxed);
                c.outbox_retrying
                    .fetch_add(round.retrying, Ordering::Relaxed);
                c.outbox_dead.fetch_add(round.dead, Ordering::Relaxed);
                round.attempted()
            }
            Err(e) => {
                app.counters.worker_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "an outbox dispatch round failed; the next one retries");
                0
            }
        };
        // Dead events are counted in days: once an hour is soon enough, and keeps an update
        // off every round of the dispatcher.
        if last_expiry.is_none_or(|at| at.elapsed() >= EXPIRY_EVERY) {
            let now = chrono::Utc::now();
            match erasure_evidence::outbox::expire_dead(&app.pool, now - keep_dead).await {
                Ok(_) => last_expiry = Some(std::time::Instant::now()),
                Err(e) => tracing::warn!(error = %e, "dead outbox events could not be expired"),
            }
        }
        if attempted == 0 {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => {}
            }
        }
    }
    tracing::info!("outbox dispatcher stopped");
}
