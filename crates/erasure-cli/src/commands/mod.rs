//! One module per command.

pub(crate) mod coverage;
#[cfg(feature = "demo")]
pub(crate) mod demo;
pub(crate) mod erase;
pub(crate) mod evidence;
pub(crate) mod handlers;
pub(crate) mod install;
pub(crate) mod jobs;
pub(crate) mod requests;
#[cfg(feature = "demo")]
pub(crate) mod schema;

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), crate::error::CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| crate::error::CliError::Other(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// A customer or user id as typed: an integer key if it is one, a text key otherwise.
pub(crate) fn key(raw: &str) -> Result<erasure::Key, crate::error::CliError> {
    let raw = raw.trim();
    match raw.parse::<i64>() {
        Ok(i) => Ok(erasure::Key::Int(i)),
        Err(_) => erasure::Key::text(raw).map_err(|e| crate::error::CliError::Usage(e.to_string())),
    }
}

/// The subject named by `--customer [--user …]` or `--guest`.
pub(crate) fn subject(
    customer: Option<&str>,
    users: &[String],
    guest: Option<&str>,
) -> Result<erasure::Subject, crate::error::CliError> {
    let invalid =
        |e: erasure::SubjectError| crate::error::CliError::Usage(format!("invalid subject: {e}"));
    match (customer, guest) {
        (Some(c), None) if users.is_empty() => Ok(erasure::Subject::customer(key(c)?)),
        (Some(c), None) => {
            let users = users
                .iter()
                .map(|u| key(u))
                .collect::<Result<Vec<_>, _>>()?;
            erasure::Subject::users(key(c)?, users).map_err(invalid)
        }
        (None, Some(email)) => erasure::Subject::guest(email.trim()).map_err(invalid),
        _ => Err(crate::error::CliError::Usage(
            "name one subject: --customer ID [--user ID …] or --guest EMAIL".into(),
        )),
    }
}

/// Fails with [`CliError::NotInstalled`](crate::error::CliError::NotInstalled) when `table`, one
/// of the library's own tables, is not in the database: saying what to run is better than the
/// database's "no such table".
pub(crate) async fn require_table<DB: erasure::Backend>(
    pool: &sqlx::Pool<DB>,
    table: &'static str,
    install: &'static str,
) -> Result<(), crate::error::CliError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| crate::error::CliError::Other(erasure::DatabaseError::from(e).to_string()))?;
    let columns = DB::columns(&mut conn)
        .await
        .map_err(|e| crate::error::CliError::Other(erasure::DatabaseError::from(e).to_string()))?;
    if columns.iter().any(|c| c.table == table) {
        Ok(())
    } else {
        Err(crate::error::CliError::NotInstalled { table, install })
    }
}
