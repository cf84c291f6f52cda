//! The suppression list: keyed hashes of the emails of erased people, so that a later import or
//! sync from another system can refuse to re-create them.
//!
//! An email is normalized (surrounding whitespace removed, lowercased) and hashed with
//! HMAC-SHA-256 under the chain's pseudonym key, in a domain of its own. Without the key a hash
//! cannot be linked to an address, and the list cannot be used to test guesses; with it, the
//! list answers only "was this address erased?". It is pseudonymous data (GDPR Recital 26),
//! kept for the purpose of honouring the erasure: document it in your record of processing,
//! and keep the key as secret as the data it protects. Lift an entry ([`SuppressionList::lift`])
//! when the person comes back and signs up again of their own accord.

use std::collections::BTreeSet;

use erasure_core::footprint::Footprint;
use erasure_core::recorder::{Committing, Recorder};
use erasure_core::sql::{Condition, Delete, Insert, Select};
use erasure_core::transaction::{Isolation, Tx};
use erasure_core::{
    Backend, HandlerError, Ident, PseudonymKey, Pseudonymizer, Subject, Value, async_trait, ident,
};
use sqlx::Pool;

use crate::{EvidenceError, needs_configured_key};

/// The table the suppression list is kept in.
pub const TABLE: &str = "erasure_suppressions";

/// The pseudonym domain of email hashes.
const EMAIL_DOMAIN: &str = "suppression:email";

fn table() -> Ident {
    ident!("erasure_suppressions")
}

/// An email as it is hashed: without surrounding whitespace, lowercased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The recorder that adds the erased subject's emails to the suppression list: a guest's email,
/// and the account emails the customer handler hands over. It needs a configured pseudonym key,
/// like [`Receipts`](crate::Receipts).
#[derive(Debug, Clone, Default)]
pub struct Suppression {
    _private: (),
}

impl Suppression {
    /// The recorder.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl<DB: Backend> Recorder<DB> for Suppression {
    fn name(&self) -> &str {
        "suppression"
    }

    fn footprint(&self) -> Footprint {
        Footprint::new().write(
            table(),
            [
                ident!("hash"),
                ident!("kind"),
                ident!("created_at"),
                ident!("run_id"),
            ],
        )
    }

    fn wants_identifiers(&self) -> bool {
        true
    }

    async fn record(
        &self,
        conn: &mut DB::Connection,
        run: &Committing<'_>,
    ) -> Result<(), HandlerError> {
        if !run.key_is_configured() {
            return Err(needs_configured_key("suppression"));
        }
        let mut emails = BTreeSet::new();
        if let Subject::Guest { email } = run.subject {
            emails.insert(normalize_email(email));
        }
        for identifier in run.identifiers.iter().filter(|i| i.kind == "email") {
            let email = normalize_email(&identifier.value);
            if !email.is_empty() {
                emails.insert(email);
            }
        }
        if emails.is_empty() {
            return Ok(());
        }
        let mut insert = Insert::new(
            table(),
            [
                ident!("hash"),
                ident!("kind"),
                ident!("created_at"),
                ident!("run_id"),
            ],
        )
        .skip_duplicates();
        for email in &emails {
            insert.row([
                run.pseudonym(EMAIL_DOMAIN, email.as_bytes()).into(),
                "email".into(),
                run.report.started_at.into(),
                run.report.run_id.to_string().into(),
            ]);
        }
        // A subject has a handful of emails: one statement.
        DB::execute(conn, &insert.to_sql()).await?;
        Ok(())
    }
}

/// Checks addresses against the suppression list. It needs the key the chain had.
#[derive(Debug, Clone)]
pub struct SuppressionList {
    pseudonymizer: Pseudonymizer,
}

impl SuppressionList {
    /// A checker with `key`, the chain's pseudonym key.
    pub fn new(key: PseudonymKey) -> Self {
        Self {
            pseudonymizer: Pseudonymizer::new(key),
        }
    }

    fn hash(&self, email: &str) -> String {
        self.pseudonymizer
            .pseudonym(EMAIL_DOMAIN, normalize_email(email).as_bytes())
    }

    /// Whether `email` belongs to an erased person.
    ///
    /// # Errors
    ///
    /// A statement fails.
    pub async fn is_suppressed<DB: Backend>(
        &self,
        pool: &Pool<DB>,
        email: &str,
    ) -> Result<bool, EvidenceError> {
        Ok(self.suppressed(pool, [email]).await?.contains(&0))
    }

    /// Which of `emails` (by index) belong to erased people, with one query per 1,000
    /// addresses: for checking an import batch.
    ///
    /// # Errors
    ///
    /// A statement fails.
    pub async fn suppressed<'e, DB: Backend>(
        &self,
        pool: &Pool<DB>,
        emails: impl IntoIterator<Item = &'e str>,
    ) -> Result<BTreeSet<usize>, EvidenceError> {
        let mut conn = pool.acquire().await?;
        self.suppressed_on::<DB>(&mut conn, emails).await
    }

    /// [`suppressed`](Self::suppressed) on a connection: inside a transaction of yours, the
    /// check sees the list as the transaction does (an import batch checks and writes in one).
    ///
    /// # Errors
    ///
    /// A statement fails.
    pub async fn suppressed_on<'e, DB: Backend>(
        &self,
        conn: &mut DB::Connection,
        emails: impl IntoIterator<Item = &'e str>,
    ) -> Result<BTreeSet<usize>, EvidenceError> {
        let hashes: Vec<String> = emails.into_iter().map(|e| self.hash(e)).collect();
        let mut found = BTreeSet::new();
        for (chunk_index, chunk) in hashes.chunks(1000).enumerate() {
            let rows = DB::fetch_all(
                &mut *conn,
                &Select::column(table(), ident!("hash"))
                    .filter(Condition::is_in(
                        ident!("hash"),
                        chunk.iter().map(|h| Value::from(h.as_str())).collect(),
                    ))
                    .to_sql(),
            )
            .await?;
            let known: BTreeSet<&str> = rows
                .iter()
                .filter_map(|r| r.get("hash").and_then(Value::as_str))
                .collect();
            for (i, hash) in chunk.iter().enumerate() {
                if known.contains(hash.as_str()) {
                    found.insert(chunk_index * 1000 + i);
                }
            }
        }
        Ok(found)
    }

    /// Removes `email` from the list (the person signed up again of their own accord). Returns
    /// whether it was listed.
    ///
    /// # Errors
    ///
    /// A statement fails.
    pub async fn lift<DB: Backend>(
        &self,
        pool: &Pool<DB>,
        email: &str,
    ) -> Result<bool, EvidenceError> {
        // One statement, in a transaction of its own through `erasure_core::transaction`, like
        // every writer: it ends with an explicit commit or rollback, and a connection whose
        // commit went unanswered is closed rather than pooled.
        let delete = Delete::new(table(), Condition::eq(ident!("hash"), self.hash(email))).to_sql();
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
        let deleted = DB::execute(&mut tx, &delete)
            .await
            .map_err(EvidenceError::from);
        let n = tx
            .settle(deleted)
            .await
            .map_err(|f| f.discard_if_in_doubt(&mut conn))?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_before_hashing() {
        let key = PseudonymKey::from_hex("00112233445566778899aabbccddeeff").expect("key");
        let list = SuppressionList::new(key);
        assert_eq!(
            list.hash(" Ada@Example.TEST\n"),
            list.hash("ada@example.test")
        );
        assert_ne!(list.hash("ada@example.test"), list.hash("ada@example.tes"));
        // Not the unkeyed pseudonym of another domain.
        assert_ne!(
            list.hash("ada@example.test"),
            list.pseudonymizer.pseudonym("subject", b"ada@example.test")
        );
    }

    /// Suppression hashes are stored and compared with later imports: they must not change.
    /// The expected value is HMAC-SHA-256 computed independently (Python's `hmac`).
    #[test]
    fn email_hashes_are_pinned_to_known_hmac_sha256_outputs() {
        let key = PseudonymKey::from_hex("00112233445566778899aabbccddeeff").expect("key");
        let list = SuppressionList::new(key);
        assert_eq!(
            list.hash(" Ada@Example.TEST\n"),
            "6006129c1b6eb40e33847593eb526991"
        );
    }
}
