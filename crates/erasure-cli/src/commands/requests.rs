//! `erasure requests …`: the life cycle of personal-data requests.

use erasure::requests::{Request, RequestKind, Requests, State, Token, Worker};
use serde::Serialize;

use crate::cli::{RequestsCommand, RequestsListArgs, RequestsProcessArgs, RequestsSubmitArgs};
use crate::config::{Config, KEY_ENV, key};
use crate::db::{Create, Open, Used, finish, on_backend};
use crate::error::CliError;

pub(crate) async fn run(command: RequestsCommand) -> Result<(), CliError> {
    let url = match &command {
        RequestsCommand::Install(a) => a.db.clone(),
        RequestsCommand::List(a) => a.db.db.clone(),
        RequestsCommand::Show(a) | RequestsCommand::Cancel(a) | RequestsCommand::Retry(a) => {
            a.db.db.clone()
        }
        RequestsCommand::Submit(a) => a.db.db.clone(),
        RequestsCommand::Confirm(a) => a.db.db.clone(),
        RequestsCommand::Resolve(a) => a.db.db.clone(),
        RequestsCommand::Reject(a) => a.db.db.clone(),
        RequestsCommand::Process(a) => a.db.db.clone(),
    };
    on_backend!(&url, |DB| run_on::<DB>(&url, command).await)
}

fn config_args(command: &RequestsCommand) -> Option<&crate::cli::ConfigArgs> {
    match command {
        RequestsCommand::Install(_) => None,
        RequestsCommand::List(a) => Some(&a.config),
        RequestsCommand::Show(a) | RequestsCommand::Cancel(a) | RequestsCommand::Retry(a) => {
            Some(&a.config)
        }
        RequestsCommand::Submit(a) => Some(&a.config),
        RequestsCommand::Confirm(a) => Some(&a.config),
        RequestsCommand::Resolve(a) => Some(&a.config),
        RequestsCommand::Reject(a) => Some(&a.config),
        RequestsCommand::Process(a) => Some(&a.config),
    }
}

/// The store; `keyed` commands need the pseudonym key (they record who the subject is).
fn store<DB: Open>(config: &Config, keyed: bool) -> Result<Requests<DB>, CliError> {
    let key = match key()? {
        Some(k) => k,
        None if keyed => {
            return Err(CliError::Usage(format!(
                "set {KEY_ENV} (hex, at least 16 bytes): requests are matched to subjects by a keyed pseudonym"
            )));
        }
        None => erasure::PseudonymKey::random().map_err(|e| CliError::Other(e.to_string()))?,
    };
    Ok(Requests::new(key).config(config.requests.clone()))
}

fn show(request: &Request, json: bool) -> Result<(), CliError> {
    if json {
        super::print_json(request)
    } else {
        println!("{request}");
        if let Some(outcome) = &request.outcome {
            println!("  outcome: {outcome}");
        }
        Ok(())
    }
}

async fn run_on<DB: Open>(url: &str, command: RequestsCommand) -> Result<(), CliError> {
    let config = Config::load(config_args(&command))?;
    let used = match &command {
        RequestsCommand::List(_) | RequestsCommand::Show(_) => Used::Read,
        _ => Used::Write,
    };
    let pool = DB::open(url, Create::No).await?;
    let outcome = requests_with(&pool, &config, command).await;
    finish(pool, used, outcome).await
}

async fn requests_with<DB: Open>(
    pool: &sqlx::Pool<DB>,
    config: &Config,
    command: RequestsCommand,
) -> Result<(), CliError> {
    if !matches!(command, RequestsCommand::Install(_)) {
        super::require_table(pool, erasure::requests::TABLE, "erasure install").await?;
    }
    match command {
        RequestsCommand::Install(_) => {
            store::<DB>(config, false)?.install(pool).await?;
            println!("table {} ready", erasure::requests::TABLE);
            Ok(())
        }
        RequestsCommand::List(args) => list(pool, config, &args).await,
        RequestsCommand::Show(args) => show(
            &store::<DB>(config, false)?.get(pool, &args.id).await?,
            args.json,
        ),
        RequestsCommand::Submit(args) => submit(pool, config, &args).await,
        RequestsCommand::Confirm(args) => {
            let r = store::<DB>(config, false)?
                .confirm(pool, &args.id, &Token::from_string(args.token.trim()))
                .await?;
            show(&r, false)
        }
        RequestsCommand::Resolve(args) => {
            let subject = super::subject(args.customer.as_deref(), &[], args.guest.as_deref())?;
            let r = store::<DB>(config, true)?
                .resolve(pool, &args.id, subject, args.note.as_deref())
                .await?;
            show(&r, false)
        }
        RequestsCommand::Reject(args) => show(
            &store::<DB>(config, false)?
                .reject(pool, &args.id, &args.note)
                .await?,
            false,
        ),
        RequestsCommand::Cancel(args) => show(
            &store::<DB>(config, false)?.cancel(pool, &args.id).await?,
            args.json,
        ),
        RequestsCommand::Retry(args) => show(
            &store::<DB>(config, false)?.retry(pool, &args.id).await?,
            args.json,
        ),
        RequestsCommand::Process(args) => process(pool, config, &args).await,
    }
}

/// `erasure requests list`: by state, or the overdue ones.
async fn list<DB: Open>(
    pool: &sqlx::Pool<DB>,
    config: &Config,
    args: &RequestsListArgs,
) -> Result<(), CliError> {
    let s = store::<DB>(config, false)?;
    let list = if args.overdue {
        s.overdue(pool).await?
    } else {
        let state = match &args.state {
            Some(name) => Some(name.parse::<State>().map_err(CliError::Usage)?),
            None => None,
        };
        s.list(pool, state).await?
    };
    if args.json {
        return super::print_json(&list);
    }
    for r in &list {
        println!("{r}");
    }
    if list.is_empty() {
        println!("no requests");
    }
    Ok(())
}

/// `erasure requests submit`: records a request received by other means and prints its token.
async fn submit<DB: Open>(
    pool: &sqlx::Pool<DB>,
    config: &Config,
    args: &RequestsSubmitArgs,
) -> Result<(), CliError> {
    let kind: RequestKind = args.kind.parse().map_err(CliError::Usage)?;
    let (subject, contact) = match (&args.customer, &args.guest, &args.unknown) {
        (None, None, Some(email)) => (None, Some(email.clone())),
        (None, Some(email), None) => (
            Some(super::subject(None, &[], Some(email))?),
            Some(args.contact.clone().unwrap_or_else(|| email.clone())),
        ),
        (Some(c), None, None) => (
            Some(super::subject(Some(c), &args.user, None)?),
            args.contact.clone(),
        ),
        _ => {
            return Err(CliError::Usage(
                "name the requester: --customer ID, --guest EMAIL or --unknown EMAIL".into(),
            ));
        }
    };
    let sub = store::<DB>(config, true)?
        .submit(pool, kind, subject, contact.as_deref())
        .await?;
    #[derive(Serialize)]
    struct Submitted<'a> {
        request: &'a Request,
        token: Option<&'a str>,
        existing: bool,
    }
    if args.json {
        return super::print_json(&Submitted {
            request: &sub.request,
            token: sub.token.as_ref().map(Token::expose),
            existing: sub.existing,
        });
    }
    if sub.existing {
        println!("an open request for this subject exists already:");
    }
    show(&sub.request, false)?;
    if let Some(token) = &sub.token {
        println!(
            "confirmation token (send it to the requester; it is stored only as a hash): {}",
            token.expose()
        );
    }
    Ok(())
}

/// `erasure requests process`: carries out confirmed erasure requests, then export requests
/// when `--exports-to` names a directory.
async fn process<DB: Open>(
    pool: &sqlx::Pool<DB>,
    config: &Config,
    args: &RequestsProcessArgs,
) -> Result<(), CliError> {
    let chain = config
        .chain::<DB>()?
        .build()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    {
        let mut conn = pool
            .acquire()
            .await
            .map_err(|e| CliError::Other(e.to_string()))?;
        chain.check_schema(&mut conn).await?;
    }
    let worker = Worker::new(store::<DB>(config, false)?, chain);
    let mut done = worker.drain(pool, args.max, args.batch as usize).await?;
    if let Some(dir) = &args.exports_to {
        if !dir.is_dir() {
            return Err(CliError::Usage(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let target = erasure::requests::DirectoryTarget::new(dir);
        while args.max.is_none_or(|m| done.len() < m) {
            match worker.process_next_export(pool, &target).await? {
                Some(r) => done.push(r),
                None => break,
            }
        }
    }
    if args.json {
        return super::print_json(&done);
    }
    let failed = done.iter().filter(|r| r.state == State::Failed).count();
    for r in &done {
        show(r, false)?;
    }
    println!(
        "{} requests processed, {} completed, {failed} failed",
        done.len(),
        done.len() - failed
    );
    if failed > 0 {
        Err(CliError::Partial {
            failed,
            total: done.len(),
        })
    } else {
        Ok(())
    }
}
