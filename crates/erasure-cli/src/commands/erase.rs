//! `erasure erase`: one subject, or every customer listed in a file.

use std::path::Path;

use erasure::{BatchOptions, Chain, Erasure, Reason, Report, Subject};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cli::EraseArgs;
use crate::config::Config;
use crate::db::{Create, Open, Used, finish, on_backend};
use crate::error::CliError;

pub(crate) async fn run(args: EraseArgs) -> Result<(), CliError> {
    on_backend!(&args.db.db, |DB| run_on::<DB>(&args).await)
}

fn reason(name: &str) -> Reason {
    match name {
        "retention" => Reason::Retention,
        "account-closure" => Reason::AccountClosure,
        _ => Reason::DataSubjectRequest,
    }
}

async fn run_on<DB: Open>(args: &EraseArgs) -> Result<(), CliError> {
    let config = Config::load(Some(&args.config))?;
    let subject = match (&args.customer, &args.guest, &args.customers_file) {
        (Some(_), None, None) | (None, Some(_), None) => Some(super::subject(
            args.customer.as_deref(),
            &args.user,
            args.guest.as_deref(),
        )?),
        (None, None, Some(_)) => None,
        _ => {
            return Err(CliError::Usage(
                "name one subject: --customer ID [--user ID …], --guest EMAIL, or --customers-file FILE".into(),
            ));
        }
    };
    let pool = DB::open(&args.db.db, Create::No).await?;
    let outcome = erase_on(&pool, &config, args, subject).await;
    finish(pool, Used::Write, outcome).await
}

async fn erase_on<DB: Open>(
    pool: &sqlx::Pool<DB>,
    config: &Config,
    args: &EraseArgs,
    subject: Option<Subject>,
) -> Result<(), CliError> {
    let chain = config
        .chain::<DB>()?
        .build()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    {
        let mut conn = pool.acquire().await.map_err(|e| CliError::Unreachable {
            url: erasure::redact::url(&args.db.db),
            cause: e.to_string(),
        })?;
        chain.check_schema(&mut conn).await?;
    }
    match (subject, &args.customers_file) {
        (Some(subject), _) => one(&chain, pool, args, subject).await,
        (None, Some(file)) => many(&chain, pool, args, file).await,
        (None, None) => Err(CliError::Usage("nothing to erase".into())),
    }
}

fn erasure_of(args: &EraseArgs, subject: Subject) -> Erasure {
    let erasure = Erasure::new(subject).with_reason(reason(&args.reason));
    match &args.operator {
        Some(op) => erasure.with_operator(op.clone()),
        None => erasure,
    }
}

async fn run_chain<DB: Open>(
    chain: &Chain<DB>,
    pool: &sqlx::Pool<DB>,
    erasure: &Erasure,
    dry_run: bool,
) -> Result<Report, erasure::Error> {
    if dry_run {
        chain.dry_run(pool, erasure).await
    } else {
        chain.erase(pool, erasure).await
    }
}

async fn one<DB: Open>(
    chain: &Chain<DB>,
    pool: &sqlx::Pool<DB>,
    args: &EraseArgs,
    subject: Subject,
) -> Result<(), CliError> {
    let erasure = erasure_of(args, subject);
    let report = run_chain(chain, pool, &erasure, args.dry_run)
        .await
        .map_err(CliError::from_erasure)?;
    if args.json {
        return super::print_json(&report);
    }
    if args.dry_run {
        println!("DRY RUN: everything below was rolled back; nothing changed.\n");
    }
    println!("{report}");
    if report.is_noop() {
        println!("\nnothing to erase: the subject is unknown or already erased");
    }
    Ok(())
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    subjects: usize,
    erased: usize,
    no_op: usize,
    failed: usize,
    /// Transactions committed (rolled back, in a dry run), each holding up to `--batch`
    /// customers.
    transactions: u64,
    dry_run: bool,
}

#[derive(Debug, Serialize)]
struct Failure {
    /// The line of the file, so the operator can find the subject without the output naming it.
    line: usize,
    error: String,
}

#[derive(Debug, Serialize)]
struct Batch {
    summary: Summary,
    failures: Vec<Failure>,
    reports: Vec<Report>,
}

impl Batch {
    /// Counts a subject's outcome: erased or no-op with its report, or failed with its line.
    fn count(&mut self, line: usize, result: Result<Report, erasure::Error>) {
        match result {
            Ok(report) => {
                if report.is_noop() {
                    self.summary.no_op += 1;
                } else {
                    self.summary.erased += 1;
                }
                self.reports.push(report);
            }
            Err(error) => self.fail(line, error.to_string()),
        }
    }

    fn fail(&mut self, line: usize, error: String) {
        self.summary.failed += 1;
        self.failures.push(Failure { line, error });
    }
}

/// Erases every customer listed in `file`, one id a line (blank lines and `#` comments
/// skipped), in transactions of `--batch` customers.
async fn many<DB: Open>(
    chain: &Chain<DB>,
    pool: &sqlx::Pool<DB>,
    args: &EraseArgs,
    file: &Path,
) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    let lines = listed(&text);
    let progress = progress_bar(lines.len(), args.json);
    let mut batch = Batch {
        summary: Summary {
            subjects: lines.len(),
            dry_run: args.dry_run,
            ..Summary::default()
        },
        failures: Vec::new(),
        reports: Vec::new(),
    };
    // The lines naming a customer, in file order; the others fail at once.
    let mut subjects = Vec::with_capacity(lines.len());
    for (line, raw) in lines {
        match super::key(raw) {
            Ok(key) => subjects.push((line, key)),
            Err(e) => {
                batch.fail(line, format!("not a customer id: {e}"));
                progress.inc(1);
            }
        }
    }
    let mut options = BatchOptions::default().subjects(args.batch as usize);
    if args.dry_run {
        options = options.dry_run();
    }
    let erasures = subjects
        .iter()
        .map(|(_, key)| erasure_of(args, Subject::customer(key.clone())));
    let run = chain
        .erase_many(pool, erasures, options, |done| {
            batch.count(subjects[done.index].0, done.result);
            progress.inc(1);
        })
        .await;
    let run = run.map(|summary| batch.summary.transactions = summary.batches);
    if let Err(e) = run {
        batch.summary.transactions = e.summary.batches;
        progress.finish_and_clear();
        // What committed before the failure is reported; the rest of the file is not erased.
        print_batch(&batch, args)?;
        return Err(CliError::from_erasure(e.error));
    }
    batch.failures.sort_by_key(|f| f.line);
    progress.finish_and_clear();
    print_batch(&batch, args)?;
    if batch.summary.failed > 0 {
        Err(CliError::Partial {
            failed: batch.summary.failed,
            total: batch.summary.subjects,
        })
    } else {
        Ok(())
    }
}

/// The lines of a customers file that name one, numbered from 1 and trimmed.
fn listed(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// A progress bar on a terminal, none otherwise or under `--json`.
fn progress_bar(len: usize, json: bool) -> ProgressBar {
    let progress = if json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len as u64)
    };
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} erased, {elapsed} elapsed, {eta} left")
    {
        progress.set_style(style);
    }
    progress
}

/// The summary of a file of customers, and its failures by line.
fn print_batch(batch: &Batch, args: &EraseArgs) -> Result<(), CliError> {
    let s = &batch.summary;
    if args.json {
        super::print_json(batch)?;
    } else {
        let verb = if args.dry_run {
            "would be erased"
        } else {
            "erased"
        };
        println!(
            "{} subjects: {} {verb}, {} no-op (unknown or already erased), {} failed, in {} {}{}",
            s.subjects,
            s.erased,
            s.no_op,
            s.failed,
            s.transactions,
            if s.transactions == 1 {
                "transaction"
            } else {
                "transactions"
            },
            if args.dry_run {
                " (dry run: nothing changed)"
            } else {
                ""
            }
        );
        for f in &batch.failures {
            println!("  line {}: {}", f.line, f.error);
        }
    }
    Ok(())
}
