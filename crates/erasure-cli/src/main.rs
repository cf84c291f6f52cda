//! `erasure`, the operator CLI. See `erasure --help`.

mod cli;
mod commands;
mod config;
mod db;
mod error;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

async fn run(command: Command) -> Result<(), CliError> {
    match command {
        #[cfg(feature = "demo")]
        Command::Demo(args) => commands::demo::run(args).await,
        #[cfg(feature = "demo")]
        Command::Init(args) => commands::schema::init(args).await,
        #[cfg(feature = "demo")]
        Command::Seed(args) => commands::schema::seed(args).await,
        Command::Install(args) => commands::install::run(args).await,
        Command::Handlers(args) => commands::handlers::run(args),
        Command::Coverage(args) => commands::coverage::run(args).await,
        Command::Erase(args) => commands::erase::run(args).await,
        Command::Jobs(command) => commands::jobs::run(command).await,
        Command::Requests(command) => commands::requests::run(command).await,
        Command::Export(args) => commands::evidence::export(args).await,
        Command::Receipts(command) => commands::evidence::receipts(command).await,
        Command::Outbox(command) => commands::evidence::outbox(command).await,
        Command::Consents(command) => commands::consents::run(command).await,
        Command::Serve(args) => commands::serve::run(args).await,
        Command::TokenHash => commands::serve::token_hash(),
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => return,
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}
