//! The command line: commands, options, help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit codes, also listed in `--help`.
pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  success (an unknown or already erased subject is a success: a no-op report)
  1  unexpected failure
  2  bad usage, malformed configuration or invalid subject
  3  database unreachable
  4  the database lacks a table or column the mappings name
  5  a guard refused the erasure (nothing changed)
  6  the erasure failed and was rolled back (nothing changed)
  7  some subjects of a --customers-file failed (the others were erased)
  8  coverage: columns with personal data that no handler covers
  9  the export failed (no file was written)
 10  consents import: some lines were refused or the import stopped at a bad line (the
     summary says which; the other lines were imported)
 11  jobs run: some rows could not be processed and are left for the next run (the
     summaries say how many; every batch they report was committed)";

/// erasure: the GDPR right to erasure for commerce platforms.
///
/// Erases a customer's data across every table of a shop, inside one transaction: deleted where
/// allowed, anonymized where the law says keep, marked for purge jobs where deferred. Works on
/// SQLite files and on PostgreSQL and MySQL/MariaDB by URL.
#[derive(Debug, Parser)]
#[command(name = "erasure", version, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// Log what happens to stderr (-v info, -vv debug, -vvv trace). Logs carry no personal
    /// data.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a demo shop on SQLite, show the chain, dry-run and erase one customer, and check
    /// that nothing of theirs remains.
    #[cfg(feature = "demo")]
    Demo(DemoArgs),
    /// Create the reference commerce schema.
    #[cfg(feature = "demo")]
    Init(DbArgs),
    /// Fill the reference schema with generated customers.
    #[cfg(feature = "demo")]
    Seed(SeedArgs),
    /// Create the library's own tables in a shop's database (requests, evidence, the deferral
    /// ledger); the shop's tables are not touched.
    Install(DbArgs),
    /// Show the chain: position, name and description of every handler.
    Handlers(HandlersArgs),
    /// List columns that refer to a customer or user, or look personal, and that no handler
    /// covers.
    Coverage(CoverageArgs),
    /// Erase one subject, or every customer listed in a file.
    Erase(EraseArgs),
    /// Purge jobs: deferred deletes, retention rules, inactive accounts, request housekeeping.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Personal-data requests: list, show, submit, confirm, resolve, reject, cancel, retry,
    /// process.
    #[command(subcommand)]
    Requests(RequestsCommand),
    /// Export everything the chain holds of one subject as one JSON document (GDPR Articles 15
    /// and 20).
    Export(ExportArgs),
    /// Receipts of committed erasures (with `[evidence] receipts = true`).
    #[command(subcommand)]
    Receipts(ReceiptsCommand),
    /// The outbox of erasure events for downstream systems (with `[evidence] events`).
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Consents and opt-ins: record, show, list, export and import lists, stats.
    #[command(subcommand)]
    Consents(ConsentsCommand),
    /// Serve the privacy center over HTTP (requests with confirmation links, export downloads,
    /// the operator API) and carry out confirmed requests, until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Print the SHA-256 of a bearer token for `[server]` (`service_tokens`,
    /// `operator_tokens`), read from standard input so that it stays out of the shell's history.
    TokenHash,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// The address to listen on (default: `[server] listen`, or 127.0.0.1:8080).
    #[arg(long)]
    pub(crate) listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConsentsCommand {
    /// Record one consent change (given or withdrawn) with the wording shown.
    Record(ConsentsRecordArgs),
    /// Show a subject's current consents (with --history: every change, oldest first).
    Show(ConsentsShowArgs),
    /// List the subjects whose current state of a purpose on a channel is given.
    List(ConsentsListArgs),
    /// Write the opt-in (or --opt-out) list of a purpose on a channel, as CSV or JSON Lines.
    Export(ConsentsExportArgs),
    /// Import an opt-in or opt-out list (CSV or JSON Lines), idempotently, in batches.
    Import(ConsentsImportArgs),
    /// Per purpose, channel and wording version: how many subjects grant, how many withdrew.
    Stats(ConsentsStatsArgs),
}

/// Whose consent.
#[derive(Debug, Args)]
pub(crate) struct ConsentSubjectArgs {
    /// A customer (with --user: the customer the user belongs to).
    #[arg(long, conflicts_with = "email", required_unless_present = "email")]
    pub(crate) customer: Option<String>,
    /// One user of the customer.
    #[arg(long, requires = "customer")]
    pub(crate) user: Option<String>,
    /// A subscriber with no account, known by this email.
    #[arg(long)]
    pub(crate) email: Option<String>,
}

/// Which purpose and channel.
#[derive(Debug, Args)]
pub(crate) struct PurposeArgs {
    /// The purpose key (`newsletter`).
    #[arg(long)]
    pub(crate) purpose: String,
    /// The channel: email, sms, messaging, push, phone, post (default: none, a consent of no
    /// particular channel).
    #[arg(long)]
    pub(crate) channel: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ConsentsRecordArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) subject: ConsentSubjectArgs,
    #[command(flatten)]
    pub(crate) purpose: PurposeArgs,
    /// The consent was given.
    #[arg(
        long,
        conflicts_with = "withdrawn",
        required_unless_present = "withdrawn"
    )]
    pub(crate) given: bool,
    /// The consent was withdrawn.
    #[arg(long)]
    pub(crate) withdrawn: bool,
    /// The wording's version.
    #[arg(long)]
    pub(crate) version: String,
    /// The wording's language tag (`en`, `de-CH`).
    #[arg(long)]
    pub(crate) language: String,
    /// The wording's display name.
    #[arg(long)]
    pub(crate) name: String,
    /// The exact text shown.
    #[arg(
        long,
        conflicts_with = "text_file",
        required_unless_present = "text_file"
    )]
    pub(crate) text: Option<String>,
    /// Read the exact text shown from this file (UTF-8).
    #[arg(long)]
    pub(crate) text_file: Option<PathBuf>,
    /// Where the change came from: checkout, account, import, operator (default), api.
    #[arg(long, default_value = "operator")]
    pub(crate) source: String,
    /// When it happened, RFC 3339 (default: now).
    #[arg(long)]
    pub(crate) at: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ConsentsShowArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) subject: ConsentSubjectArgs,
    /// Every change with its wording, oldest first, instead of the current state.
    #[arg(long)]
    pub(crate) history: bool,
    /// The timeline: consent changes and changes to the subject's data (field names, who,
    /// where), oldest first.
    #[arg(long, conflicts_with = "history")]
    pub(crate) timeline: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ConsentsListArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) purpose: PurposeArgs,
    /// At most this many subjects (default: all, read page by page).
    #[arg(long)]
    pub(crate) limit: Option<u64>,
    /// Machine-readable output (one JSON object per line).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ConsentsExportArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) purpose: PurposeArgs,
    /// The opt-out list (current state withdrawn) instead of the opt-in list.
    #[arg(long)]
    pub(crate) opt_out: bool,
    /// `csv` or `jsonl`.
    #[arg(long, default_value = "csv")]
    pub(crate) format: String,
    /// Also write each line's wording name and text, for a database that lacks the wordings.
    #[arg(long)]
    pub(crate) with_wording: bool,
    /// Write to this file (created with mode 0600; an existing file is not replaced). Default:
    /// standard output.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ConsentsImportArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// The list: a file, or `-` for standard input.
    pub(crate) file: PathBuf,
    /// `csv` or `jsonl` (default: from the file's extension, `.csv`, `.jsonl` or `.ndjson`).
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Lines per batch, each batch one transaction.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) batch: u32,
    /// Stop at the first bad line, writing nothing of its batch (default: skip and report it).
    #[arg(long)]
    pub(crate) stop_on_bad_line: bool,
    /// Import without checking the suppression list of erased emails (only when the database
    /// has one and ERASURE_PSEUDONYM_KEY is not set: erased people would come back).
    #[arg(long)]
    pub(crate) without_suppression: bool,
    /// Machine-readable summary.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ConsentsStatsArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The subject of a command that reads one.
#[derive(Debug, Args)]
pub(crate) struct SubjectArgs {
    /// A customer (with --user: the customer the users belong to).
    #[arg(long, conflicts_with = "guest")]
    pub(crate) customer: Option<String>,
    /// Only this user of the customer (repeatable).
    #[arg(long, requires = "customer")]
    pub(crate) user: Vec<String>,
    /// A guest known only by this email.
    #[arg(long)]
    pub(crate) guest: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    #[command(flatten)]
    pub(crate) subject: SubjectArgs,
    /// Write the document to this file (created with mode 0600; an existing file is not
    /// replaced). Default: standard output.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Only these sections, by handler name, comma-separated (`consents,order-anonymization`;
    /// `erasure handlers` lists them). Default: every section.
    #[arg(long, value_delimiter = ',')]
    pub(crate) only: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReceiptsCommand {
    /// List receipts, newest first.
    List(ReceiptsListArgs),
    /// Show one receipt: the chain as it ran, every handler's outcome.
    Show(ReceiptShowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ReceiptsListArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// Only the receipts of this subject (needs ERASURE_PSEUDONYM_KEY, the chain's key).
    #[command(flatten)]
    pub(crate) subject: SubjectArgs,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: u64,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReceiptShowArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// The erasure's run id.
    pub(crate) run_id: String,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum OutboxCommand {
    /// List events (without their payloads), oldest first.
    List(OutboxListArgs),
    /// Send a dead event (or every dead event) back to the queue.
    Retry(OutboxRetryArgs),
}

#[derive(Debug, Args)]
pub(crate) struct OutboxListArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// Only events in this state.
    #[arg(long, value_parser = ["pending", "delivered", "dead"])]
    pub(crate) state: Option<String>,
    /// Only the events of this erasure run.
    #[arg(long)]
    pub(crate) run: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: u64,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct OutboxRetryArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// The dead event's id.
    #[arg(conflicts_with = "all_dead", required_unless_present = "all_dead")]
    pub(crate) id: Option<String>,
    /// Every dead event.
    #[arg(long)]
    pub(crate) all_dead: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobsCommand {
    /// List the jobs that `jobs run` runs, in order.
    List(HandlersArgs),
    /// Run the jobs (or one), batch by batch, until nothing is left.
    Run(JobsRunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct JobsRunArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Run only the job with this name (see `jobs list`).
    #[arg(long)]
    pub(crate) only: Option<String>,
    /// Rows per batch (default from the configuration, 500).
    #[arg(long)]
    pub(crate) batch: Option<u32>,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RequestsCommand {
    /// Create the requests table.
    Install(DbArgs),
    /// List requests, oldest first.
    List(RequestsListArgs),
    /// Show one request.
    Show(RequestIdArgs),
    /// Record a request received by other means (phone, letter); prints its confirmation token.
    Submit(RequestsSubmitArgs),
    /// Confirm a pending request with its token.
    Confirm(RequestsConfirmArgs),
    /// Identify the subject of a request from someone unknown.
    Resolve(RequestsResolveArgs),
    /// Reject a request, saying why.
    Reject(RequestsRejectArgs),
    /// Cancel a pending request, or a confirmed erasure during its delay.
    Cancel(RequestIdArgs),
    /// Send a failed request back to the queue.
    Retry(RequestIdArgs),
    /// Carry out confirmed erasure requests (and export requests, with --exports-to).
    Process(RequestsProcessArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RequestIdArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// The request's id.
    pub(crate) id: String,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RequestsListArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Only requests in this state.
    #[arg(long)]
    pub(crate) state: Option<String>,
    /// Only open requests past their due date.
    #[arg(long, conflicts_with = "state")]
    pub(crate) overdue: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RequestsSubmitArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// `erasure` (default) or `export`.
    #[arg(long, default_value = "erasure", value_parser = ["erasure", "export"])]
    pub(crate) kind: String,
    /// A registered customer (authenticated by you): the account is deactivated at once.
    #[arg(long, conflicts_with_all = ["guest", "unknown"])]
    pub(crate) customer: Option<String>,
    /// Only these users of the customer.
    #[arg(long, requires = "customer")]
    pub(crate) user: Vec<String>,
    /// A guest known by this email.
    #[arg(long, conflicts_with = "unknown")]
    pub(crate) guest: Option<String>,
    /// Someone not yet identified, reachable at this email: an operator resolves them later.
    #[arg(long)]
    pub(crate) unknown: Option<String>,
    /// The requester's email, for the confirmation (defaults to the guest's).
    #[arg(long)]
    pub(crate) contact: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RequestsConfirmArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// The request's id.
    pub(crate) id: String,
    /// The confirmation token.
    #[arg(long)]
    pub(crate) token: String,
}

#[derive(Debug, Args)]
pub(crate) struct RequestsResolveArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// The request's id.
    pub(crate) id: String,
    /// The customer it turned out to be.
    #[arg(long, conflicts_with = "guest")]
    pub(crate) customer: Option<String>,
    /// Or the guest email it turned out to be.
    #[arg(long)]
    pub(crate) guest: Option<String>,
    /// A note for the record (no personal data).
    #[arg(long)]
    pub(crate) note: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RequestsRejectArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// The request's id.
    pub(crate) id: String,
    /// Why (shown to operators; no personal data).
    #[arg(long)]
    pub(crate) note: String,
}

#[derive(Debug, Args)]
pub(crate) struct RequestsProcessArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Stop after this many requests (default: until none is waiting).
    #[arg(long)]
    pub(crate) max: Option<usize>,
    /// Erasure requests per transaction, at most: each erasure in a savepoint of its own, one
    /// commit for the batch; a request whose erasure fails is recorded as failed alone. A batch
    /// claims no further request once it would hold the database for more than 35 ms, judged
    /// by its slowest request so far; the others wait for the next batch.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub(crate) batch: u32,
    /// Also carry out confirmed export requests, writing each document to
    /// `DIR/<request id>.json` (mode 0600). Without it, export requests wait.
    #[arg(long, value_name = "DIR")]
    pub(crate) exports_to: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Where the database is.
#[derive(Debug, Args)]
pub(crate) struct DbArgs {
    /// Database URL: `sqlite://shop.db` (or a plain file path), `postgres://…`, `mysql://…`.
    #[arg(long, env = "ERASURE_DATABASE_URL")]
    pub(crate) db: String,
}

/// The chain's configuration.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// A TOML file: `[chain]`, `[mappings]` (table and column names), `[[rules]]`,
    /// `[settings]`, `[jobs]`, `[[retention]]`, `[requests]`, `[evidence]`, `[coverage]`.
    #[arg(long, env = "ERASURE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// A platform's preset (`woocommerce`, `magento2`, `shopware6`), extended by `--config`.
    #[arg(long, env = "ERASURE_PRESET")]
    pub(crate) preset: Option<String>,
}

#[cfg(feature = "demo")]
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Customers in the demo shop.
    #[arg(long, default_value_t = 200)]
    pub(crate) customers: u64,
    /// Keep the demo database at this path (default: a temporary file, removed afterwards).
    #[arg(long)]
    pub(crate) keep: Option<PathBuf>,
}

#[cfg(feature = "demo")]
#[derive(Debug, Args)]
pub(crate) struct SeedArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// Customers to generate.
    #[arg(long)]
    pub(crate) customers: u64,
    /// Guests (orders without an account) to generate (default: one per 20 customers).
    #[arg(long)]
    pub(crate) guests: Option<u64>,
    /// The random seed; the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// The data each customer gets: `varied` (0 to a few rows of each kind), `typical` (the
    /// benchmarks' subject: 20 orders of 3 lines, 5 baskets, 3 wishlists, 10 alerts, …) or
    /// `bare` (one address and one order).
    #[arg(long, value_enum, default_value_t = SeedShape::Varied)]
    pub(crate) shape: SeedShape,
}

/// `erasure seed --shape`: the test kit's customer shapes.
#[cfg(feature = "demo")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SeedShape {
    /// `Shape::varied()`.
    Varied,
    /// `Shape::typical()`.
    Typical,
    /// `Shape::bare()`.
    Bare,
}

#[derive(Debug, Args)]
pub(crate) struct HandlersArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CoverageArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct EraseArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// The customer to erase (with --user: the customer the users belong to).
    #[arg(long, conflicts_with_all = ["guest", "customers_file"])]
    pub(crate) customer: Option<String>,
    /// Erase only this user of the customer (repeatable); the customer stays.
    #[arg(long, requires = "customer")]
    pub(crate) user: Vec<String>,
    /// Erase a guest (orders without an account) known only by this email.
    #[arg(long, conflicts_with = "customers_file")]
    pub(crate) guest: Option<String>,
    /// Erase every customer listed in this file, one id per line (`#` comments and blank lines
    /// are skipped), each in a savepoint of its own, many per commit (--batch).
    #[arg(long)]
    pub(crate) customers_file: Option<PathBuf>,
    /// With --customers-file: at most this many customers per commit (a batch also commits
    /// before it would hold the database for more than 35 ms, judged by its slowest customer
    /// so far). A customer that fails rolls back alone; after a crash, run the same file
    /// again (customers already erased are no-ops). 1: one commit per customer.
    #[arg(long, default_value_t = 100, requires = "customers_file", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) batch: u32,
    /// Run everything and roll back: show what would happen.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// The acting operator's id, recorded in the report.
    #[arg(long)]
    pub(crate) operator: Option<String>,
    /// Why: `data-subject-request` (default), `retention` or `account-closure`.
    #[arg(long, default_value = "data-subject-request", value_parser = ["data-subject-request", "retention", "account-closure"])]
    pub(crate) reason: String,
    /// Machine-readable output.
    #[arg(long)]
    pub(crate) json: bool,
}
