//! `erasure export`, `erasure receipts …` and `erasure outbox …`.

use std::path::Path;

use erasure::evidence::outbox::{self, EventState, OutboxEntry, Retry};
use erasure::evidence::receipts::{self, Receipt};
use erasure::export::{ExportError, ExportSummary, Sections};
use erasure::{Chain, Pseudonymizer};
use serde::Serialize;
use uuid::Uuid;

use crate::cli::{ExportArgs, OutboxCommand, ReceiptsCommand, SubjectArgs};
use crate::config::{Config, KEY_ENV, key};
use crate::db::{Create, Open, Used, finish, on_backend};
use crate::error::CliError;

fn subject_of(args: &SubjectArgs) -> Result<erasure::Subject, CliError> {
    super::subject(args.customer.as_deref(), &args.user, args.guest.as_deref())
}

fn export_error(e: ExportError) -> CliError {
    match e {
        ExportError::Subject(s) => CliError::Usage(format!("invalid subject: {s}")),
        e @ ExportError::UnknownSection { .. } => CliError::Usage(e.to_string()),
        e => CliError::Export(e),
    }
}

pub(crate) async fn export(args: ExportArgs) -> Result<(), CliError> {
    on_backend!(&args.db.db, |DB| export_on::<DB>(&args).await)
}

async fn export_on<DB: Open>(args: &ExportArgs) -> Result<(), CliError> {
    let config = Config::load(Some(&args.config))?;
    let subject = subject_of(&args.subject)?;
    let pool = DB::open(&args.db.db, Create::No).await?;
    // The export reads in a transaction it rolls back: it writes nothing.
    let outcome = export_with(&pool, &config, &subject, args).await;
    finish(pool, Used::Read, outcome).await
}

async fn export_with<DB: Open>(
    pool: &sqlx::Pool<DB>,
    config: &Config,
    subject: &erasure::Subject,
    args: &ExportArgs,
) -> Result<(), CliError> {
    let chain = config
        .chain::<DB>()?
        .build()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let sections = if args.only.is_empty() {
        Sections::all()
    } else {
        Sections::only(args.only.iter().map(|s| s.trim()))
    };
    let summary = match &args.out {
        Some(path) => export_to_file(&chain, pool, subject, &sections, path).await?,
        None => chain
            .export_only(pool, subject, &sections, tokio::io::stdout())
            .await
            .map_err(export_error)?,
    };
    eprintln!("{}", describe(&summary));
    Ok(())
}

/// Writes the document next to `path` in a file only the user can read, and moves it into
/// place once complete: a failed export leaves no partial file, and an existing file is kept.
async fn export_to_file<DB: Open>(
    chain: &Chain<DB>,
    pool: &sqlx::Pool<DB>,
    subject: &erasure::Subject,
    sections: &Sections,
    path: &Path,
) -> Result<ExportSummary, CliError> {
    let (temp, file) = super::private_file(path)?;
    let summary = chain
        .export_only(pool, subject, sections, file)
        .await
        .map_err(export_error)?;
    super::persist(temp, path)?;
    Ok(summary)
}

fn describe(summary: &ExportSummary) -> String {
    let mut text = summary.to_string();
    if !summary.complete {
        text.push_str(": see `unreadable` in the document");
    }
    for (position, handler) in &summary.not_included {
        text.push_str(&format!(
            "\nnot included: {handler} (position {position}) has no export step"
        ));
    }
    if !summary.left_out.is_empty() {
        let names: Vec<&str> = summary.left_out.iter().map(|(_, h)| h.as_str()).collect();
        text.push_str(&format!("\nleft out (not asked for): {}", names.join(", ")));
    }
    text
}

pub(crate) async fn receipts(command: ReceiptsCommand) -> Result<(), CliError> {
    let url = match &command {
        ReceiptsCommand::List(a) => a.db.db.clone(),
        ReceiptsCommand::Show(a) => a.db.db.clone(),
    };
    on_backend!(&url, |DB| receipts_on::<DB>(&url, command).await)
}

fn run_id(raw: &str) -> Result<Uuid, CliError> {
    Uuid::parse_str(raw.trim()).map_err(|_| CliError::Usage("a run id is a UUID".into()))
}

#[derive(Serialize)]
struct ReceiptLine<'a> {
    run_id: Uuid,
    recorded_at: String,
    subject_kind: String,
    reason: String,
    operator: Option<&'a str>,
    deleted: u64,
    anonymized: u64,
    deferred: u64,
    retained: u64,
}

impl<'a> ReceiptLine<'a> {
    fn of(r: &'a Receipt) -> Self {
        let totals = r.report.totals();
        Self {
            run_id: r.run_id,
            recorded_at: r.recorded_at.to_rfc3339(),
            subject_kind: r.subject_kind.to_string(),
            reason: r.report.reason.to_string(),
            operator: r.operator.as_deref(),
            deleted: totals.deleted,
            anonymized: totals.anonymized,
            deferred: totals.deferred,
            retained: totals.retained,
        }
    }
}

async fn receipts_on<DB: Open>(url: &str, command: ReceiptsCommand) -> Result<(), CliError> {
    let pool = DB::open(url, Create::No).await?;
    let outcome = receipts_with(&pool, command).await;
    finish(pool, Used::Read, outcome).await
}

async fn receipts_with<DB: Open>(
    pool: &sqlx::Pool<DB>,
    command: ReceiptsCommand,
) -> Result<(), CliError> {
    match command {
        ReceiptsCommand::List(args) => {
            let mut filter = receipts::Filter::new().limit(args.limit);
            let s = &args.subject;
            if s.customer.is_some() || s.guest.is_some() {
                let Some(key) = key()? else {
                    return Err(CliError::Usage(format!(
                        "set {KEY_ENV} to the chain's key: receipts name subjects only by a keyed pseudonym"
                    )));
                };
                filter = filter.subject(Pseudonymizer::new(key).subject(&subject_of(s)?));
            }
            let list = receipts::list(pool, &filter).await?;
            let lines: Vec<ReceiptLine<'_>> = list.iter().map(ReceiptLine::of).collect();
            if args.json {
                return super::print_json(&lines);
            }
            if lines.is_empty() {
                println!("no receipts");
            }
            for l in &lines {
                println!(
                    "{}  {}  {:<8}  {:<20}  deleted {} anonymized {} deferred {} retained {}  {}",
                    l.run_id,
                    l.recorded_at,
                    l.subject_kind,
                    l.reason,
                    l.deleted,
                    l.anonymized,
                    l.deferred,
                    l.retained,
                    l.operator.unwrap_or("-"),
                );
            }
            Ok(())
        }
        ReceiptsCommand::Show(args) => {
            let id = run_id(&args.run_id)?;
            let Some(receipt) = receipts::get(pool, id).await? else {
                return Err(CliError::Usage(format!("no receipt for run {id}")));
            };
            if args.json {
                return super::print_json(&receipt);
            }
            println!(
                "receipt of run {} recorded {} by {}",
                receipt.run_id,
                receipt.recorded_at.to_rfc3339(),
                receipt.operator.as_deref().unwrap_or("(no operator)")
            );
            println!("{}", receipt.report);
            Ok(())
        }
    }
}

pub(crate) async fn outbox(command: OutboxCommand) -> Result<(), CliError> {
    let url = match &command {
        OutboxCommand::List(a) => a.db.db.clone(),
        OutboxCommand::Retry(a) => a.db.db.clone(),
    };
    on_backend!(&url, |DB| outbox_on::<DB>(&url, command).await)
}

fn state(name: &str) -> Result<EventState, CliError> {
    match name {
        "pending" => Ok(EventState::Pending),
        "delivered" => Ok(EventState::Delivered),
        "dead" => Ok(EventState::Dead),
        "expired" => Ok(EventState::Expired),
        _ => Err(CliError::Usage(
            "a state is pending, delivered, dead or expired".into(),
        )),
    }
}

fn print_entry(e: &OutboxEntry) {
    println!(
        "{}  run {}  {:<9}  {:<24}  attempts {}  next {}{}{}",
        e.id,
        e.run_id,
        e.state,
        e.destination,
        e.attempts,
        e.next_attempt_at.to_rfc3339(),
        e.delivered_at
            .map(|t| format!("  delivered {}", t.to_rfc3339()))
            .unwrap_or_default(),
        e.last_error
            .as_deref()
            .map(|m| format!("  last error: {m}"))
            .unwrap_or_default(),
    );
}

async fn outbox_on<DB: Open>(url: &str, command: OutboxCommand) -> Result<(), CliError> {
    let used = match &command {
        OutboxCommand::List(_) => Used::Read,
        OutboxCommand::Retry(_) => Used::Write,
    };
    let pool = DB::open(url, Create::No).await?;
    let outcome = outbox_with(&pool, command).await;
    finish(pool, used, outcome).await
}

async fn outbox_with<DB: Open>(
    pool: &sqlx::Pool<DB>,
    command: OutboxCommand,
) -> Result<(), CliError> {
    match command {
        OutboxCommand::List(args) => {
            let mut filter = outbox::Filter::new().limit(args.limit);
            if let Some(s) = &args.state {
                filter = filter.state(state(s)?);
            }
            if let Some(run) = &args.run {
                filter = filter.run(run_id(run)?);
            }
            let entries = outbox::list(pool, &filter).await?;
            if args.json {
                return super::print_json(&entries);
            }
            if entries.is_empty() {
                println!("no events");
            }
            entries.iter().for_each(print_entry);
            Ok(())
        }
        OutboxCommand::Retry(args) => {
            let which = match &args.id {
                Some(id) => Retry::Event(run_id(id)?),
                None => Retry::AllDead,
            };
            let n = outbox::retry(pool, &which, chrono::Utc::now()).await?;
            if n == 0 && matches!(which, Retry::Event(_)) {
                return Err(CliError::Usage("no dead event with that id".into()));
            }
            println!("{n} event(s) back in the queue");
            Ok(())
        }
    }
}
