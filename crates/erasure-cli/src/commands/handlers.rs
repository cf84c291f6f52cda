//! `erasure handlers`: the chain, as it will run.

use crate::cli::HandlersArgs;
use crate::config::Config;
use crate::error::CliError;

pub(crate) fn run(args: HandlersArgs) -> Result<(), CliError> {
    let config = Config::load(Some(&args.config))?;
    // The descriptions do not depend on the backend.
    let chain = config
        .chain::<sqlx::Sqlite>()?
        .build()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let description = chain.describe();
    if args.json {
        super::print_json(&description)
    } else {
        print!("{description}");
        Ok(())
    }
}
