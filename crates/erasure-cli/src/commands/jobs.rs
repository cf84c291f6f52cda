//! `erasure jobs list|run`.

use erasure::job::{Job, JobRunner, JobSummary};
use erasure::requests::{RequestPurge, Requests};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cli::{JobsCommand, JobsRunArgs};
use crate::config::Config;
use crate::db::{Create, Open, Used, finish, on_backend};
use crate::error::CliError;

pub(crate) async fn run(command: JobsCommand) -> Result<(), CliError> {
    match command {
        JobsCommand::List(args) => {
            let config = Config::load(Some(&args.config))?;
            let chain = config
                .chain::<sqlx::Sqlite>()?
                .build()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let jobs = jobs::<sqlx::Sqlite>(&config, &chain);
            if args.json {
                #[derive(Serialize)]
                struct Listed<'a> {
                    name: &'a str,
                    description: &'a str,
                }
                let listed: Vec<Listed<'_>> = jobs
                    .iter()
                    .map(|j| Listed {
                        name: j.name(),
                        description: j.description(),
                    })
                    .collect();
                super::print_json(&listed)
            } else {
                for j in &jobs {
                    println!("{:<22} {}", j.name(), j.description());
                }
                Ok(())
            }
        }
        JobsCommand::Run(args) => on_backend!(&args.db.db, |DB| run_on::<DB>(&args).await),
    }
}

/// Every job `jobs run` runs, in order: the standard jobs, then request housekeeping.
pub(crate) fn jobs<DB: erasure::Backend>(
    config: &Config,
    chain: &erasure::Chain<DB>,
) -> Vec<Box<dyn Job<DB>>> {
    let mut jobs = config.jobs(chain);
    jobs.push(Box::new(RequestPurge::new(config.requests.keep_closed)));
    jobs
}

async fn run_on<DB: Open>(args: &JobsRunArgs) -> Result<(), CliError> {
    let config = Config::load(Some(&args.config))?;
    let pool = DB::open(&args.db.db, Create::No).await?;
    let outcome = run_jobs(&pool, &config, args).await;
    finish(pool, Used::Write, outcome).await
}

async fn run_jobs<DB: Open>(
    pool: &sqlx::Pool<DB>,
    config: &Config,
    args: &JobsRunArgs,
) -> Result<(), CliError> {
    let chain = config
        .chain::<DB>()?
        .build()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let all = jobs::<DB>(config, &chain);
    let selected: Vec<&Box<dyn Job<DB>>> = all
        .iter()
        .filter(|j| args.only.as_deref().is_none_or(|n| n == j.name()))
        .collect();
    if selected.is_empty() {
        let names: Vec<&str> = all.iter().map(|j| j.name()).collect();
        return Err(CliError::Usage(format!(
            "no job named {:?}; the jobs are: {}",
            args.only.as_deref().unwrap_or(""),
            names.join(", ")
        )));
    }
    let has_requests = {
        let mut conn = pool
            .acquire()
            .await
            .map_err(|e| CliError::Other(e.to_string()))?;
        let columns = DB::columns(&mut conn)
            .await
            .map_err(|e| CliError::Other(e.to_string()))?;
        columns.iter().any(|c| c.table == erasure::requests::TABLE)
    };
    if has_requests && args.only.as_deref().is_none_or(|n| n == "request-purge") {
        // Pending requests whose token ran out expire first; the purge then counts them.
        let store = Requests::<DB>::new(crate::config::key()?.unwrap_or(random_key()?))
            .config(config.requests.clone());
        let expired = store.expire_tokens(pool).await?;
        if !args.json && !expired.is_empty() {
            println!("request-expiry: {} pending requests expired", expired.len());
        }
    }
    let runner = JobRunner::new().batch_size(args.batch.unwrap_or(config.jobs.batch));
    let mut summaries: Vec<JobSummary> = Vec::new();
    for job in selected {
        if job.name() == "request-purge" && !has_requests {
            continue;
        }
        let bar = if args.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(0)
        };
        if let Ok(style) =
            ProgressStyle::with_template("{prefix:<18} {bar:40} {pos}/{len} rows, {elapsed}")
        {
            bar.set_style(style);
        }
        bar.set_prefix(job.name().to_owned());
        let summary = runner
            .run(pool, job.as_ref(), |p| {
                bar.set_length(p.done + p.left);
                bar.set_position(p.done);
            })
            .await
            .map_err(|e| CliError::Other(e.to_string()))?;
        bar.finish_and_clear();
        if !args.json {
            println!("{summary}");
        }
        summaries.push(summary);
    }
    if args.json {
        super::print_json(&summaries)?;
    }
    failures(&summaries)
}

/// Exit 11 ([`CliError::JobsFailed`]) when a job left rows it could not process: a scheduler
/// must see the run as failed even though every batch it reports committed.
fn failures(summaries: &[JobSummary]) -> Result<(), CliError> {
    let failed: u64 = summaries.iter().map(|s| s.failed).sum();
    if failed == 0 {
        return Ok(());
    }
    let jobs: Vec<String> = summaries
        .iter()
        .filter(|s| s.failed > 0)
        .map(|s| format!("{}: {}", s.job, s.failed))
        .collect();
    Err(CliError::JobsFailed {
        failed,
        jobs: jobs.join(", "),
    })
}

fn random_key() -> Result<erasure::PseudonymKey, CliError> {
    erasure::PseudonymKey::random().map_err(|e| CliError::Other(e.to_string()))
}
