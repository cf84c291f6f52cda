//! `erasure consents …`: record, show, list, export, import, stats.

use std::path::Path;

use chrono::{DateTime, Utc};
use erasure::consents::{
    Actor, Channel, ConsentChange, ConsentRecord, ConsentSubject, Consents, ExportOptions,
    ImportOptions, ImportSummary, ListFormat, ListSelection, OnBadLine, Source, TimelineEntry,
    Wording,
};
use erasure::evidence::SuppressionList;
use futures_util::TryStreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::Pool;
use tokio::io::{AsyncWriteExt as _, BufReader};

use crate::cli::{
    ConsentSubjectArgs, ConsentsCommand, ConsentsExportArgs, ConsentsImportArgs, ConsentsListArgs,
    ConsentsRecordArgs, ConsentsShowArgs, PurposeArgs,
};
use crate::config::key;
use crate::db::{Create, Open, Used, finish, on_backend};
use crate::error::CliError;

pub(crate) async fn run(command: ConsentsCommand) -> Result<(), CliError> {
    let url = match &command {
        ConsentsCommand::Record(a) => a.db.db.clone(),
        ConsentsCommand::Show(a) => a.db.db.clone(),
        ConsentsCommand::List(a) => a.db.db.clone(),
        ConsentsCommand::Export(a) => a.db.db.clone(),
        ConsentsCommand::Import(a) => a.db.db.clone(),
        ConsentsCommand::Stats(a) => a.db.db.clone(),
    };
    on_backend!(&url, |DB| run_on::<DB>(&url, command).await)
}

async fn run_on<DB: Open>(url: &str, command: ConsentsCommand) -> Result<(), CliError> {
    let used = match &command {
        ConsentsCommand::Record(_) | ConsentsCommand::Import(_) => Used::Write,
        _ => Used::Read,
    };
    let pool = DB::open(url, Create::No).await?;
    let outcome = consents_with(&pool, command).await;
    finish(pool, used, outcome).await
}

async fn consents_with<DB: Open>(
    pool: &Pool<DB>,
    command: ConsentsCommand,
) -> Result<(), CliError> {
    super::require_table(pool, erasure::consents::CHANGES, "erasure install").await?;
    let consents = Consents::<DB>::new();
    match command {
        ConsentsCommand::Record(args) => record(pool, &consents, &args).await,
        ConsentsCommand::Show(args) => show(pool, &consents, &args).await,
        ConsentsCommand::List(args) => list(pool, &consents, &args).await,
        ConsentsCommand::Export(args) => export(pool, &consents, &args).await,
        ConsentsCommand::Import(args) => import(pool, &consents, &args).await,
        ConsentsCommand::Stats(args) => {
            let counts = consents.counts(pool).await?;
            if args.json {
                return super::print_json(&counts);
            }
            if counts.is_empty() {
                println!("no consents recorded");
            }
            println!(
                "{:<24} {:<10} {:<12} {:>10} {:>10}",
                "purpose", "channel", "version", "granted", "withdrawn"
            );
            for c in &counts {
                println!(
                    "{:<24} {:<10} {:<12} {:>10} {:>10}",
                    c.purpose,
                    c.channel.map_or("-", Channel::as_str),
                    c.version,
                    c.granted,
                    c.withdrawn
                );
            }
            Ok(())
        }
    }
}

fn subject(args: &ConsentSubjectArgs) -> Result<ConsentSubject, CliError> {
    let invalid = |e: erasure::SubjectError| CliError::Usage(format!("invalid subject: {e}"));
    match (&args.customer, &args.user, &args.email) {
        (Some(c), None, None) => Ok(ConsentSubject::customer(super::key(c)?)),
        (Some(c), Some(u), None) => Ok(ConsentSubject::user(super::key(c)?, super::key(u)?)),
        (None, None, Some(email)) => ConsentSubject::email(email.trim()).map_err(invalid),
        _ => Err(CliError::Usage(
            "name one subject: --customer ID [--user ID] or --email EMAIL".into(),
        )),
    }
}

fn channel(purpose: &PurposeArgs) -> Result<Option<Channel>, CliError> {
    purpose
        .channel
        .as_deref()
        .map(|name| {
            Channel::parse(name).ok_or_else(|| {
                CliError::Usage(
                    "--channel is one of email, sms, messaging, push, phone, post".into(),
                )
            })
        })
        .transpose()
}

fn format(name: &str) -> Result<ListFormat, CliError> {
    name.parse()
        .map_err(|e: erasure::consents::UnknownFormat| CliError::Usage(e.to_string()))
}

async fn record<DB: Open>(
    pool: &Pool<DB>,
    consents: &Consents<DB>,
    args: &ConsentsRecordArgs,
) -> Result<(), CliError> {
    let subject = subject(&args.subject)?;
    let text = match (&args.text, &args.text_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?,
        (None, None) => return Err(CliError::Usage("give --text or --text-file".into())),
    };
    let source = Source::parse(&args.source).ok_or_else(|| {
        CliError::Usage("--source is one of checkout, account, import, operator, api".into())
    })?;
    let at = match &args.at {
        None => Utc::now(),
        Some(at) => DateTime::parse_from_rfc3339(at)
            .map_err(|_| CliError::Usage("--at is an RFC 3339 time (2026-03-01T12:00:00Z)".into()))?
            .with_timezone(&Utc),
    };
    let change = ConsentChange::new(
        args.purpose.purpose.clone(),
        channel(&args.purpose)?,
        args.given,
        Wording::new(
            args.name.clone(),
            text,
            args.version.clone(),
            args.language.clone(),
        ),
        source,
        at,
    );
    consents.record(pool, &subject, &change).await?;
    if args.json {
        return super::print_json(&serde_json::json!({
            "recorded": true,
            "purpose": change.purpose,
            "channel": change.channel,
            "given": change.given,
            "at": change.at,
        }));
    }
    println!(
        "recorded: {} {}{} at {}",
        change.purpose,
        if change.given { "given" } else { "withdrawn" },
        change
            .channel
            .map(|c| format!(" on {c}"))
            .unwrap_or_default(),
        change.at.to_rfc3339()
    );
    Ok(())
}

async fn show<DB: Open>(
    pool: &Pool<DB>,
    consents: &Consents<DB>,
    args: &ConsentsShowArgs,
) -> Result<(), CliError> {
    let subject = subject(&args.subject)?;
    if args.timeline {
        let timeline = consents.timeline(pool, &subject).await?;
        if args.json {
            return super::print_json(&timeline);
        }
        if timeline.is_empty() {
            println!("nothing recorded for this subject");
        }
        for entry in &timeline {
            match entry {
                TimelineEntry::Consent(r) => println!("{}  {}", r.at.to_rfc3339(), consent_line(r)),
                TimelineEntry::Data(d) => println!(
                    "{}  data changed: {} (by {}, {})",
                    d.at.to_rfc3339(),
                    d.fields.join(", "),
                    actor(&d.actor),
                    d.source
                ),
                _ => {}
            }
        }
        return Ok(());
    }
    let records = if args.history {
        consents.history(pool, &subject).await?
    } else {
        consents.current(pool, &subject).await?
    };
    if args.json {
        return super::print_json(&records);
    }
    if records.is_empty() {
        println!("no consents recorded for this subject");
    }
    for r in &records {
        println!("{}  {}", consent_line(r), r.at.to_rfc3339());
    }
    Ok(())
}

fn consent_line(r: &ConsentRecord) -> String {
    format!(
        "{:<24} {:<10} {:<9} {} ({} {}), {}",
        r.purpose,
        r.channel.map_or("-", Channel::as_str),
        if r.given { "given" } else { "withdrawn" },
        r.wording.name,
        r.wording.version,
        r.wording.language,
        r.source
    )
}

fn actor(actor: &Actor) -> String {
    match actor {
        Actor::Subject => "the person".to_owned(),
        Actor::Operator(id) => format!("operator {id}"),
        Actor::System(name) => format!("system {name}"),
        Actor::Integration(name) => format!("integration {name}"),
        _ => "someone".to_owned(),
    }
}

async fn list<DB: Open>(
    pool: &Pool<DB>,
    consents: &Consents<DB>,
    args: &ConsentsListArgs,
) -> Result<(), CliError> {
    let channel = channel(&args.purpose)?;
    let stream = consents.granted(pool, &args.purpose.purpose, channel, 1000);
    futures_util::pin_mut!(stream);
    let mut n = 0u64;
    while let Some(subject) = stream.try_next().await? {
        if args.limit.is_some_and(|limit| n >= limit) {
            break;
        }
        n += 1;
        if args.json {
            let line =
                serde_json::to_string(&subject).map_err(|e| CliError::Other(e.to_string()))?;
            println!("{line}");
        } else {
            println!("{}", describe(&subject));
        }
    }
    if !args.json {
        eprintln!("{n} subjects");
    }
    Ok(())
}

/// A subject as the text output shows it.
fn describe(subject: &ConsentSubject) -> String {
    let key = |k: &erasure::Key| match k {
        erasure::Key::Int(i) => i.to_string(),
        erasure::Key::Text(t) => t.clone(),
    };
    match subject {
        ConsentSubject::Customer { customer } => format!("customer {}", key(customer)),
        ConsentSubject::User { customer, user } => {
            format!("user {} of customer {}", key(user), key(customer))
        }
        ConsentSubject::Email { email } => format!("email {email}"),
    }
}

async fn export<DB: Open>(
    pool: &Pool<DB>,
    consents: &Consents<DB>,
    args: &ConsentsExportArgs,
) -> Result<(), CliError> {
    let selection = ListSelection {
        purpose: args.purpose.purpose.clone(),
        channel: channel(&args.purpose)?,
        given: !args.opt_out,
    };
    let format = format(&args.format)?;
    let options = ExportOptions::new().with_wording(args.with_wording);
    let written = match &args.out {
        Some(path) => {
            let (temp, file) = super::private_file(path)?;
            let mut file = tokio::io::BufWriter::new(file);
            let n = consents
                .export_list(pool, &selection, format, &mut file, options)
                .await?;
            file.shutdown().await?;
            super::persist(temp, path)?;
            n
        }
        None => {
            let mut out = tokio::io::BufWriter::new(tokio::io::stdout());
            consents
                .export_list(pool, &selection, format, &mut out, options)
                .await?
        }
    };
    eprintln!(
        "{written} subjects in the {} list of {}{}",
        if selection.given { "opt-in" } else { "opt-out" },
        selection.purpose,
        selection
            .channel
            .map(|c| format!(" on {c}"))
            .unwrap_or_default()
    );
    Ok(())
}

/// The format of `path` by its extension.
fn format_of(path: &Path) -> Option<ListFormat> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "csv" => Some(ListFormat::Csv),
        "jsonl" | "ndjson" => Some(ListFormat::JsonLines),
        _ => None,
    }
}

async fn import<DB: Open>(
    pool: &Pool<DB>,
    consents: &Consents<DB>,
    args: &ConsentsImportArgs,
) -> Result<(), CliError> {
    let format = import_format(args)?;
    let options = import_options(pool, args).await?;
    let bar = spinner(args.json);
    let progress = |s: &ImportSummary| {
        bar.set_message(format!(
            "{} lines read, {} imported, through line {}",
            s.lines, s.imported, s.committed_through
        ));
        bar.tick();
    };
    let summary = if args.file.as_os_str() == "-" {
        let reader = BufReader::new(tokio::io::stdin());
        consents
            .import_list(pool, format, reader, &options, progress)
            .await?
    } else {
        let file = tokio::fs::File::open(&args.file)
            .await
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.file.display())))?;
        let reader = BufReader::with_capacity(64 * 1024, file);
        consents
            .import_list(pool, format, reader, &options, progress)
            .await?
    };
    bar.finish_and_clear();
    if args.json {
        super::print_json(&summary)?;
    } else {
        print_import(&summary);
    }
    if summary.rejected > 0 || summary.stopped_at.is_some() {
        return Err(CliError::LinesRefused {
            refused: summary.rejected,
            lines: summary.lines,
            stopped: summary
                .stopped_at
                .map(|l| format!(" (stopped at line {l})"))
                .unwrap_or_default(),
        });
    }
    Ok(())
}

/// The format of the list to import: `--format`, or else the file's extension.
fn import_format(args: &ConsentsImportArgs) -> Result<ListFormat, CliError> {
    match (&args.format, format_of(&args.file)) {
        (Some(name), _) => format(name),
        (None, Some(format)) => Ok(format),
        (None, None) => Err(CliError::Usage(
            "say --format csv or --format jsonl (the file's extension does not)".into(),
        )),
    }
}

/// The import's options from the arguments, with the database's suppression list.
async fn import_options<DB: Open>(
    pool: &Pool<DB>,
    args: &ConsentsImportArgs,
) -> Result<ImportOptions, CliError> {
    let mut options = ImportOptions::new().batch_size(args.batch as usize);
    if args.stop_on_bad_line {
        options = options.on_bad_line(OnBadLine::Stop);
    }
    Ok(match suppression(pool, args.without_suppression).await? {
        Some(list) => options.suppression(list),
        None => options,
    })
}

/// A spinner on a terminal, none otherwise or under `--json`.
fn spinner(json: bool) -> ProgressBar {
    let bar = if json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}, {elapsed}") {
        bar.set_style(style);
    }
    bar
}

/// What an import did, as text: the counts, the bad lines reported, where it stopped.
fn print_import(summary: &ImportSummary) {
    println!(
        "{} lines: {} imported, {} already recorded, {} refused as erased, {} bad",
        summary.lines,
        summary.imported,
        summary.already_recorded,
        summary.suppressed,
        summary.rejected
    );
    for bad in &summary.bad_lines {
        println!("  line {}: {}", bad.line, bad.reason);
    }
    if summary.rejected > summary.bad_lines.len() as u64 {
        println!(
            "  … and {} more bad lines",
            summary.rejected - summary.bad_lines.len() as u64
        );
    }
    if let Some(line) = summary.stopped_at {
        println!(
            "stopped at line {line}: nothing of its batch was written; lines through {} are \
             committed (importing the file again skips them)",
            summary.committed_through
        );
    }
}

/// The suppression list to check imports against: with the pseudonym key, the list; without
/// it, none when the database has no list, and a refusal when it has one (unless
/// `--without-suppression`), since erased people would come back.
async fn suppression<DB: Open>(
    pool: &Pool<DB>,
    without: bool,
) -> Result<Option<SuppressionList>, CliError> {
    let has_list = super::require_table(
        pool,
        erasure::evidence::suppression::TABLE,
        "erasure install",
    )
    .await
    .is_ok();
    match key()? {
        Some(key) if has_list && !without => Ok(Some(SuppressionList::new(key))),
        Some(_) | None if !has_list || without => Ok(None),
        _ => Err(CliError::Usage(format!(
            "this database keeps a suppression list of erased emails: set {} so that the \
             import can refuse them, or pass --without-suppression",
            crate::config::KEY_ENV
        ))),
    }
}
