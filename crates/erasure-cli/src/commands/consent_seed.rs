//! Consents for the reference shop: what `erasure seed` and `erasure demo` record beside the
//! generated customers, through the consent store's own list import.
//!
//! Deterministic from the seed's configuration: two customers in three opted in to the
//! newsletter by email at the checkout (one in five of them withdrew later, in the account),
//! every fourth customer also agreed to texts; and one newsletter subscriber with no account
//! per four customers, known by an address no customer's value contains.

use std::fmt::Write as _;

use chrono::{Duration, TimeZone as _, Utc};
use erasure::Backend;
use erasure::consents::{Consents, ImportOptions, ImportSummary, ListFormat};
use erasure_testkit::Seed;
use sqlx::Pool;

/// The newsletter subscriber `index`'s address: `reader<index>.<seed>@newsletter.example`,
/// never part of another generated value.
pub(crate) fn subscriber_email(seed: &Seed, index: u64) -> String {
    format!("reader{index}.{}@newsletter.example", seed.config().seed)
}

/// The number of subscribers for `seed`.
pub(crate) fn subscribers(seed: &Seed) -> u64 {
    seed.config().customers / 4
}

/// The list of every consent change, as CSV.
fn list(seed: &Seed) -> String {
    let start = Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).single();
    let start = start.unwrap_or_else(Utc::now);
    let mut out =
        String::from("customer,email,purpose,channel,given,at,version,language,source,name,text\n");
    let newsletter = "v2,en,checkout,Newsletter,\"Send me offers and news by email, at most weekly. Unsubscribe with one click in any email.\"";
    let texts = "v1,en,checkout,Texts,Send me delivery updates and offers by text message.";
    for (i, c) in seed.customers().enumerate() {
        let i = i as i64;
        let at = |hours: i64| (start + Duration::hours(hours)).to_rfc3339();
        if i % 3 != 2 {
            let _ = writeln!(
                out,
                "{},,newsletter,email,true,{},{newsletter}",
                c.id,
                at(i)
            );
            if i % 5 == 0 {
                let _ = writeln!(
                    out,
                    "{},,newsletter,email,false,{},v2,en,account,,",
                    c.id,
                    at(i + 24 * 30)
                );
            }
        }
        if i % 4 == 0 {
            let _ = writeln!(out, "{},,sms,sms,true,{},{texts}", c.id, at(i));
        }
    }
    for s in 0..subscribers(seed) {
        let _ = writeln!(
            out,
            ",{},newsletter,email,true,{},{newsletter}",
            subscriber_email(seed, s),
            (start + Duration::minutes(s as i64)).to_rfc3339()
        );
    }
    out
}

/// Records the consents of `seed`'s shop (see the module docs).
///
/// # Errors
///
/// The consent tables are missing, or the import fails.
pub(crate) async fn record<DB: Backend>(
    pool: &Pool<DB>,
    seed: &Seed,
) -> Result<ImportSummary, crate::error::CliError> {
    let list = list(seed);
    let summary = Consents::<DB>::new()
        .import_list(
            pool,
            ListFormat::Csv,
            list.as_bytes(),
            &ImportOptions::new(),
            |_| {},
        )
        .await?;
    if !summary.is_clean() {
        return Err(crate::error::CliError::Other(format!(
            "the generated consents were refused: {:?}",
            summary.bad_lines
        )));
    }
    Ok(summary)
}
