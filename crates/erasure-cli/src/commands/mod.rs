//! One module per command.

#[cfg(feature = "demo")]
pub(crate) mod consent_seed;
pub(crate) mod consents;
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
pub(crate) mod serve;

/// A temporary file next to `path`, readable by the user only (mode 0600 on Unix), and a
/// handle to write it; [`persist`] moves it into place once complete, so that a failed write
/// leaves no partial file. An existing `path` is refused: an export never replaces a file.
pub(crate) fn private_file(
    path: &std::path::Path,
) -> Result<(tempfile::NamedTempFile, tokio::fs::File), crate::error::CliError> {
    if path.exists() {
        return Err(crate::error::CliError::Usage(format!(
            "{} exists; an export does not replace a file",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".erasure-export-")
        .tempfile_in(dir)
        .map_err(|e| write_error(path, e))?;
    let file = tokio::fs::File::from_std(
        temp.as_file()
            .try_clone()
            .map_err(|e| write_error(path, e))?,
    );
    Ok((temp, file))
}

/// Syncs the file [`private_file`] made and moves it to `path` (never over an existing file).
pub(crate) fn persist(
    temp: tempfile::NamedTempFile,
    path: &std::path::Path,
) -> Result<(), crate::error::CliError> {
    temp.as_file()
        .sync_all()
        .map_err(|e| write_error(path, e))?;
    temp.persist_noclobber(path)
        .map_err(|e| write_error(path, e.error))?;
    Ok(())
}

fn write_error(path: &std::path::Path, e: std::io::Error) -> crate::error::CliError {
    crate::error::CliError::Other(format!("cannot write {}: {e}", path.display()))
}

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
