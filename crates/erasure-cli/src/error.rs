//! Failures of the CLI and their exit codes (see `cli::EXIT_CODES`).

use std::process::ExitCode;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// Bad usage or an invalid subject.
    #[error("{0}")]
    Usage(String),
    /// The configuration file cannot be read or does not parse.
    #[error("configuration {path}: {message}")]
    Config { path: String, message: String },
    /// The database cannot be reached or opened.
    #[error("cannot open the database at {url}: {cause}")]
    Unreachable { url: String, cause: String },
    /// Mapped tables or columns are missing.
    #[error("{0}")]
    Schema(#[from] erasure::coverage::SchemaMismatch),
    /// One of the library's own tables is not installed.
    #[error(
        "the table {table} is not installed in this database: run `{install}` (or `erasure init` on a new database)"
    )]
    NotInstalled {
        table: &'static str,
        install: &'static str,
    },
    /// A guard refused; nothing changed.
    #[error("{0}")]
    Refused(erasure::Error),
    /// The erasure failed and was rolled back.
    #[error("{0}")]
    Erasure(erasure::Error),
    /// Some subjects of a batch failed.
    #[error("{failed} of {total} subjects failed; the others were erased")]
    Partial { failed: usize, total: usize },
    /// Coverage found columns no handler covers.
    #[error("{0} columns with personal data are covered by no handler")]
    Uncovered(usize),
    /// The export failed; no file was written.
    #[error("{0}")]
    Export(erasure::export::ExportError),
    /// A consents import refused lines or stopped at a bad line.
    #[error("{refused} of {lines} lines were refused{stopped}; the others were imported")]
    LinesRefused {
        refused: u64,
        lines: u64,
        stopped: String,
    },
    /// `jobs run`: some jobs left rows (subjects) they could not process for the next run;
    /// every committed batch stays committed.
    #[error(
        "{failed} rows could not be processed ({jobs}) and are left for the next run; everything else the jobs report was committed"
    )]
    JobsFailed {
        /// Rows failed, over all jobs.
        failed: u64,
        /// The jobs with failed rows, and how many each: `inactive-accounts: 1`.
        jobs: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Other(_) => 1,
            CliError::Usage(_) | CliError::Config { .. } => 2,
            CliError::Unreachable { .. } => 3,
            CliError::Schema(_) | CliError::NotInstalled { .. } => 4,
            CliError::Refused(_) => 5,
            CliError::Erasure(_) => 6,
            CliError::Partial { .. } => 7,
            CliError::Uncovered(_) => 8,
            CliError::Export(_) => 9,
            CliError::LinesRefused { .. } => 10,
            CliError::JobsFailed { .. } => 11,
        })
    }

    /// Sorts an erasure error: refusals, invalid subjects and failures exit differently.
    pub(crate) fn from_erasure(e: erasure::Error) -> Self {
        match e {
            erasure::Error::Subject(s) => CliError::Usage(format!("invalid subject: {s}")),
            e if e.is_refusal() => CliError::Refused(e),
            e => CliError::Erasure(e),
        }
    }
}

impl From<erasure::evidence::EvidenceError> for CliError {
    fn from(e: erasure::evidence::EvidenceError) -> Self {
        CliError::Other(e.to_string())
    }
}

impl From<erasure::DatabaseError> for CliError {
    fn from(e: erasure::DatabaseError) -> Self {
        CliError::Other(e.to_string())
    }
}

impl From<erasure::coverage::SchemaError> for CliError {
    fn from(e: erasure::coverage::SchemaError) -> Self {
        match e {
            erasure::coverage::SchemaError::Mismatch(m) => CliError::Schema(m),
            other => CliError::Other(other.to_string()),
        }
    }
}

impl From<erasure::requests::RequestError> for CliError {
    fn from(e: erasure::requests::RequestError) -> Self {
        match e {
            erasure::requests::RequestError::Database(db) => CliError::Other(db.to_string()),
            erasure::requests::RequestError::Erasure(e) => CliError::from_erasure(e),
            other => CliError::Usage(other.to_string()),
        }
    }
}

impl From<erasure::consents::ConsentError> for CliError {
    fn from(e: erasure::consents::ConsentError) -> Self {
        use erasure::consents::ConsentError as E;
        match e {
            E::Invalid { .. }
            | E::Subject { .. }
            | E::WordingConflict { .. }
            | E::Header { .. } => CliError::Usage(e.to_string()),
            other => CliError::Other(other.to_string()),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Other(e.to_string())
    }
}
