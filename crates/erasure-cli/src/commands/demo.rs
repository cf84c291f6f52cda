//! `erasure demo`: a demo shop on SQLite, one customer erased, nothing of theirs left.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use erasure::consents::{ConsentSubject, Consents};
use erasure::{Chain, Erasure, Subject};
use erasure_testkit::residue::{ResidueReport, scan};
use erasure_testkit::{Needle, Seed, SeedConfig, SeededCustomer, TestBackend};
use sqlx::SqlitePool;

use crate::cli::DemoArgs;
use crate::db::{Used, finish};
use crate::error::CliError;

fn other(e: impl std::fmt::Display) -> CliError {
    CliError::Other(e.to_string())
}

fn where_found(report: &ResidueReport) -> String {
    let mut tables: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for hit in &report.hits {
        let columns = tables.entry(hit.table.as_str()).or_default();
        if !columns.contains(&hit.column.as_str()) {
            columns.push(hit.column.as_str());
        }
    }
    tables
        .iter()
        .map(|(t, cols)| format!("  {t}: {}", cols.join(", ")))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) async fn run(args: DemoArgs) -> Result<(), CliError> {
    let temp = tempfile::tempdir()?;
    let path: PathBuf = match &args.keep {
        Some(p) => {
            if p.exists() {
                std::fs::remove_file(p)?;
            }
            p.clone()
        }
        None => temp.path().join("demo-shop.db"),
    };
    let url = format!("sqlite://{}", path.display());
    let pool = erasure::sqlite::open(&url, 4).await.map_err(other)?;
    let outcome = demo_on(&pool, &args, &path).await;
    finish(pool, Used::Write, outcome).await
}

async fn demo_on(pool: &SqlitePool, args: &DemoArgs, path: &Path) -> Result<(), CliError> {
    let seed = seed_shop(pool, args, path).await?;
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .register(
            erasure::consents::POSITION,
            erasure::consents::ConsentsHandler::default(),
        )
        .build()
        .map_err(other)?;
    println!("The chain, in the order it runs:\n{}", chain.describe());
    erase_one(pool, &chain, &seed).await?;
    erase_subscriber(pool, &chain, &seed).await?;
    refuse_sole_admin(pool, &chain, &seed).await;
    println!(
        "\nNext: `erasure serve --db <the shop>` lets people ask for erasure or a copy of their \
         data over HTTP, with confirmation links (docs/serving.md)."
    );
    Ok(())
}

/// Creates the reference schema and fills it with at least 20 customers.
async fn seed_shop(pool: &SqlitePool, args: &DemoArgs, path: &Path) -> Result<Seed, CliError> {
    sqlx::Sqlite::migrate(pool).await.map_err(other)?;
    erasure::consents::Consents::<sqlx::Sqlite>::new()
        .install(pool)
        .await
        .map_err(other)?;
    let seed = Seed::new(SeedConfig::new(args.customers.max(20)));
    let summary = seed.insert(pool).await.map_err(other)?;
    let consents = super::consent_seed::record(pool, &seed).await?;
    println!(
        "A demo shop on SQLite: {} customers, {} rows in {} tables, {} consent changes of \
         customers and {} newsletter subscribers ({}).\n",
        seed.config().customers,
        summary.total(),
        summary.rows.len(),
        consents.imported,
        super::consent_seed::subscribers(&seed),
        if args.keep.is_some() {
            path.display().to_string()
        } else {
            "a temporary file".into()
        }
    );
    Ok(seed)
}

/// Where `needles` appear in the shop.
async fn residue(pool: &SqlitePool, needles: &[Needle]) -> Result<ResidueReport, CliError> {
    let mut conn = pool.acquire().await.map_err(other)?;
    scan::<sqlx::Sqlite>(&mut conn, needles)
        .await
        .map_err(other)
}

/// Shows where a customer's personal values are, a dry run, the erasure, and that none of the
/// values remains.
async fn erase_one(
    pool: &SqlitePool,
    chain: &Chain<sqlx::Sqlite>,
    seed: &Seed,
) -> Result<(), CliError> {
    let consents = Consents::<sqlx::Sqlite>::new();
    let customer = customer_with_consents(pool, &consents, seed).await?;
    let as_consent_subject = ConsentSubject::customer(customer.id);
    let needles: Vec<Needle> = customer.needles();
    let before = residue(pool, &needles).await?;
    println!(
        "Customer {} asks to be forgotten. Their {} personal values (names, email, phone, addresses,\nIP address, bank details) are in these tables and columns:\n{}\n",
        customer.id,
        needles.len(),
        where_found(&before)
    );
    print_consents(pool, &consents, &as_consent_subject).await?;

    let erasure = Erasure::new(customer.subject()).with_operator("demo");
    let preview = chain.dry_run(pool, &erasure).await.map_err(other)?;
    println!(
        "Dry run: {} (rolled back, nothing changed).\n",
        preview.totals()
    );

    let report = chain.erase(pool, &erasure).await.map_err(other)?;
    println!("Erasure (committed in one transaction):\n{report}\n");

    nothing_left(pool, &consents, customer.id, &needles, &as_consent_subject).await?;
    println!(
        "Their {} orders stay as anonymized tax records, marked for the purge job.\n",
        report
            .handler(30)
            .map_or(0, |h| h.outcome.totals().deferred)
    );
    Ok(())
}

/// The first private customer with at least 3 orders and 2 cashbacks who has consents recorded.
async fn customer_with_consents(
    pool: &SqlitePool,
    consents: &Consents<sqlx::Sqlite>,
    seed: &Seed,
) -> Result<SeededCustomer, CliError> {
    for c in seed
        .customers()
        .filter(|c| !c.is_b2b() && c.orders >= 3 && c.cashbacks >= 2)
    {
        let subject = ConsentSubject::customer(c.id);
        if !consents
            .current(pool, &subject)
            .await
            .map_err(other)?
            .is_empty()
        {
            return Ok(c);
        }
    }
    Err(other("the demo shop has no suitable customer"))
}

/// The subject's current consents, one a line.
async fn print_consents(
    pool: &SqlitePool,
    consents: &Consents<sqlx::Sqlite>,
    subject: &ConsentSubject,
) -> Result<(), CliError> {
    let current = consents.current(pool, subject).await.map_err(other)?;
    println!("Their consents, as the shop recorded them:");
    for c in &current {
        println!(
            "  {} on {}: {} at {} ({}, wording {} {})",
            c.purpose,
            c.channel.map_or("no channel", |ch| ch.as_str()),
            if c.given { "given" } else { "withdrawn" },
            c.at.to_rfc3339(),
            c.source,
            c.wording.version,
            c.wording.language
        );
    }
    println!();
    Ok(())
}

/// After the erasure: none of the customer's values is anywhere, and none of their consent
/// changes; an error if one is.
async fn nothing_left(
    pool: &SqlitePool,
    consents: &Consents<sqlx::Sqlite>,
    customer_id: i64,
    needles: &[Needle],
    subject: &ConsentSubject,
) -> Result<(), CliError> {
    let after = residue(pool, needles).await?;
    if after.is_clean() {
        println!(
            "Residue check: none of customer {customer_id}'s {} personal values remains anywhere ({} tables scanned).",
            needles.len(),
            after.tables_scanned
        );
    } else {
        println!("Residue check FAILED:\n{after}");
        return Err(other("personal values survived the erasure"));
    }
    let history = consents.history(pool, subject).await.map_err(other)?;
    if history.is_empty() {
        println!(
            "Consents: none of theirs remains; the wordings they were shown stay (the shop's text)."
        );
        Ok(())
    } else {
        Err(other("consent changes survived the erasure"))
    }
}

/// A newsletter subscriber without an account is erased by email: their consents go, and the
/// address is nowhere any more.
async fn erase_subscriber(
    pool: &SqlitePool,
    chain: &Chain<sqlx::Sqlite>,
    seed: &Seed,
) -> Result<(), CliError> {
    let email = super::consent_seed::subscriber_email(seed, 0);
    let needles = [Needle::new("subscriber email", &email)];
    let before = residue(pool, &needles).await?;
    let subject = Subject::guest(email.as_str()).map_err(other)?;
    let report = chain
        .erase(pool, &Erasure::new(subject).with_operator("demo"))
        .await
        .map_err(other)?;
    let after = residue(pool, &needles).await?;
    if !after.is_clean() {
        println!("Residue check FAILED:\n{after}");
        return Err(other("a subscriber's address survived the erasure"));
    }
    println!(
        "A newsletter subscriber without an account asks to be forgotten: their address was in\n{}\nand after the erasure ({}) it is nowhere ({} tables scanned).\n",
        where_found(&before),
        report.totals(),
        after.tables_scanned
    );
    Ok(())
}

/// The guard: the only admin of a B2B customer cannot be erased alone.
async fn refuse_sole_admin(pool: &SqlitePool, chain: &Chain<sqlx::Sqlite>, seed: &Seed) {
    if let Some(b2b) = seed
        .customers()
        .find(|c| c.is_b2b() && c.users[0].admin && !c.users[1].admin)
    {
        let err = chain
            .erase(pool, &Erasure::new(Subject::user(b2b.id, b2b.users[0].id)))
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "unexpectedly allowed".into());
        println!(
            "Erasing only the sole admin of B2B customer {} is refused, and nothing changes:\n  {err}",
            b2b.id
        );
    }
}
