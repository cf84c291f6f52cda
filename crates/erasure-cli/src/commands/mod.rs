//! One module per command.

pub(crate) mod coverage;
pub(crate) mod demo;
pub(crate) mod erase;
pub(crate) mod handlers;
pub(crate) mod schema;

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), crate::error::CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| crate::error::CliError::Other(e.to_string()))?;
    println!("{text}");
    Ok(())
}
