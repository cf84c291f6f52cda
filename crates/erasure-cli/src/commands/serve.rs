//! `erasure serve` and `erasure token-hash`.

use std::io::Read as _;

use erasure::server::{CommandMailer, OperatorToken, Server, ServerConfig, TokenHash};

use crate::cli::ServeArgs;
use crate::config::{Config, KEY_ENV, key};
use crate::db::{Create, Open, Used, finish, on_backend};
use crate::error::CliError;

/// A service token given in clear through the environment (hashed at start).
const SERVICE_TOKEN_ENV: &str = "ERASURE_SERVICE_TOKEN";
/// An operator token given in clear through the environment (operator `env`).
const OPERATOR_TOKEN_ENV: &str = "ERASURE_OPERATOR_TOKEN";

pub(crate) async fn run(args: ServeArgs) -> Result<(), CliError> {
    on_backend!(&args.db.db, |DB| serve_on::<DB>(&args).await)
}

/// The server's settings: `[server]`, the tokens from the environment, `--listen`.
fn server_config(config: &Config, args: &ServeArgs) -> ServerConfig {
    let mut server = config.server.clone();
    if let Some(listen) = args.listen {
        // Links follow the address unless a public base URL was configured.
        if server.base_url == ServerConfig::default().base_url {
            server.base_url = format!("http://{listen}");
        }
        server.listen = listen;
    }
    if let Ok(token) = std::env::var(SERVICE_TOKEN_ENV)
        && !token.trim().is_empty()
    {
        server.service_tokens.push(TokenHash::of(token.trim()));
    }
    if let Ok(token) = std::env::var(OPERATOR_TOKEN_ENV)
        && !token.trim().is_empty()
    {
        server.operator_tokens.push(OperatorToken {
            name: "env".to_owned(),
            hash: TokenHash::of(token.trim()),
        });
    }
    server
}

async fn serve_on<DB: Open>(args: &ServeArgs) -> Result<(), CliError> {
    let config = Config::load(Some(&args.config))?;
    let key = key()?.ok_or_else(|| {
        CliError::Usage(format!(
            "set {KEY_ENV} (hex, at least 16 bytes): requests are matched to subjects and links \
             signed with the chain's key"
        ))
    })?;
    let server_config = server_config(&config, args);
    if let Some(dir) = &server_config.export_dir
        && !dir.is_dir()
    {
        return Err(CliError::Config {
            path: "[server] export_dir".to_owned(),
            message: format!("{} is not a directory", dir.display()),
        });
    }
    let pool = DB::open(&args.db.db, Create::No).await?;
    let outcome = serve_with(&pool, &config, server_config, key).await;
    finish(pool, Used::Write, outcome).await
}

async fn serve_with<DB: Open>(
    pool: &sqlx::Pool<DB>,
    config: &Config,
    server_config: ServerConfig,
    key: erasure::PseudonymKey,
) -> Result<(), CliError> {
    super::require_table(pool, erasure::requests::TABLE, "erasure install").await?;
    let chain = config
        .chain::<DB>()?
        .build()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let listen = server_config.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::Other(format!("cannot listen on {listen}: {e}")))?;
    let mailer = match server_config.mail_command.split_first() {
        Some((program, rest)) => Some(CommandMailer::new(program, rest.to_vec())),
        None => {
            eprintln!(
                "warning: [server] mail_command is not set: confirmation links and download \
                 links are sent nowhere"
            );
            None
        }
    };
    if server_config.export_dir.is_none() {
        eprintln!("warning: [server] export_dir is not set: export requests wait");
    }
    let base = server_config.base_url.clone();
    let jobs = super::jobs::jobs::<DB>(config, &chain);
    let runner = erasure::job::JobRunner::new().batch_size(config.jobs.batch);
    let mut server = Server::new(pool.clone(), chain, key, server_config)
        .requests_config(config.requests.clone())
        .subject_tables(config.subject_tables())
        .jobs(jobs, runner);
    if let Some(mailer) = mailer {
        server = server.mailer(mailer);
    }
    for (destination, sink) in &config.evidence.sinks {
        if !config.evidence.events.contains(destination) {
            eprintln!(
                "warning: [evidence.sinks.{destination}] has no events: add it to [evidence] events"
            );
        }
        let sink = sink
            .build(destination)
            .await
            .map_err(|e| CliError::Config {
                path: "the configuration".to_owned(),
                message: e.to_string(),
            })?;
        server = server.sink(destination.clone(), sink);
    }
    eprintln!("erasure serve: listening on {listen}, links start with {base}");
    server
        .serve(listener, shutdown_signal())
        .await
        .map_err(|e| CliError::Other(e.to_string()))?;
    eprintln!("erasure serve: stopped");
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix (what systemd and container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// `erasure token-hash`: the token on standard input, its hash on standard output.
pub(crate) fn token_hash() -> Result<(), CliError> {
    let mut token = String::new();
    std::io::stdin().read_to_string(&mut token)?;
    let token = token.trim();
    if token.len() < 32 {
        return Err(CliError::Usage(
            "a token of at least 32 characters is expected on standard input (for example \
             `openssl rand -hex 32`)"
                .into(),
        ));
    }
    println!("{}", TokenHash::of(token));
    Ok(())
}
