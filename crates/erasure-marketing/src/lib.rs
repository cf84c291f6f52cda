//! Position 25: cashbacks. Position 80: customer alerts.
//!
//! Cashbacks that were not redeemed, and their codes, are deleted. Redeemed cashbacks are
//! accounting records: they are retained, with the account holder and bank details nulled and the
//! link to the subject removed; codes that were redeemed stay without their email.
//!
//! Alerts (back in stock, price drops) are deleted; a guest's alerts are found by email.
//!
//! Export: the cashback section holds all of the subject's cashbacks (by id), those the erasure
//! deletes and the redeemed ones it keeps anonymized, and all their codes (by cashback). Guests
//! have no cashbacks: the section says so in a note. The alerts section holds the subject's
//! alerts (by subject columns); a guest's are found by email.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use erasure_core::mapping::nulls;
use erasure_core::policy::{Policy, Reach, Step};
use erasure_core::sql::Condition;
use erasure_core::{
    Anonymize, Backend, ChildTable, DeletionHandler, Ident, SubjectColumns, async_trait, ident,
};
use serde::{Deserialize, Serialize};

/// The cashback handler's position in the standard chain.
pub const CASHBACK_POSITION: u32 = erasure_core::position::CASHBACK;
/// The alerts handler's position in the standard chain.
pub const ALERTS_POSITION: u32 = erasure_core::position::ALERTS;

/// Where cashbacks live.
///
/// ```toml
/// [cashback]
/// table = "cashbacks"
/// status = "status"
/// redeemed_status = "REDEEMED"
/// anonymize = { account_holder = "null", iban = "null" }
/// codes = { table = "cashback_codes", parent = "cashback_id" }
/// code_redeemed_at = "redeemed_at"
/// code_anonymize = { email = "null" }
/// retention_reason = "redeemed cashbacks are accounting records"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CashbackMapping {
    /// The cashback table.
    pub table: Ident,
    /// Its primary key.
    pub id: Ident,
    /// The columns that point at the subject.
    pub subject: SubjectColumns,
    /// The status column.
    pub status: Ident,
    /// The status of a redeemed cashback, which is retained.
    pub redeemed_status: String,
    /// Personal columns of retained cashbacks.
    pub anonymize: Anonymize,
    /// The codes of cashbacks.
    pub codes: ChildTable,
    /// The codes' redemption timestamp: `NULL` means not redeemed.
    pub code_redeemed_at: Ident,
    /// Personal columns of retained (redeemed) codes.
    pub code_anonymize: Anonymize,
    /// Why redeemed cashbacks are kept (shown in reports).
    pub retention_reason: String,
}

impl Default for CashbackMapping {
    fn default() -> Self {
        Self {
            table: ident!("cashbacks"),
            id: ident!("id"),
            subject: SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id")),
            status: ident!("status"),
            redeemed_status: "REDEEMED".to_owned(),
            anonymize: nulls([ident!("account_holder"), ident!("iban")]),
            codes: ChildTable::new(ident!("cashback_codes"), ident!("cashback_id")),
            code_redeemed_at: ident!("redeemed_at"),
            code_anonymize: nulls([ident!("email")]),
            retention_reason: "redeemed cashbacks are accounting records".to_owned(),
        }
    }
}

/// The cashback handler. See the crate docs.
#[derive(Debug, Clone)]
pub struct Cashbacks {
    mapping: CashbackMapping,
    policy: Policy,
}

impl Default for Cashbacks {
    fn default() -> Self {
        Self::new(CashbackMapping::default())
    }
}

impl Cashbacks {
    /// A handler over `mapping`.
    pub fn new(mapping: CashbackMapping) -> Self {
        let m = &mapping;
        let cashbacks = Reach::subject(m.subject.clone());
        let codes = Reach::child(&m.codes, &m.table, &m.id, cashbacks.clone());
        let mut policy = Policy::new("no cashbacks for this kind of subject")
            // Codes first: they refer to the cashbacks.
            .step(
                Step::delete(m.codes.table.clone(), codes.clone())
                    .only(Condition::is_null(m.code_redeemed_at.clone())),
            );
        if !m.code_anonymize.is_empty() {
            policy.push(Step::anonymize(
                m.codes.table.clone(),
                codes,
                m.code_anonymize.clone(),
            ));
        }
        policy
            .push(
                Step::delete(m.table.clone(), cashbacks.clone())
                    .key(m.id.clone())
                    .only(Condition::ne(m.status.clone(), m.redeemed_status.as_str())),
            )
            // What is left of the subject's cashbacks was redeemed: kept, anonymized, unlinked.
            .push(
                Step::anonymize(m.table.clone(), cashbacks, m.anonymize.clone())
                    .key(m.id.clone())
                    .unlink()
                    .retained(m.retention_reason.clone()),
            );
        Self { mapping, policy }
    }

    /// The mapping.
    pub fn mapping(&self) -> &CashbackMapping {
        &self.mapping
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Cashbacks {
    fn name(&self) -> &str {
        "cashback"
    }

    fn description(&self) -> &str {
        "deletes unredeemed cashbacks and codes; keeps redeemed ones anonymized"
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the default: the policy as it is.
        true
    }
}

/// Where alerts live.
///
/// ```toml
/// [alerts]
/// table = "alerts"
/// [alerts.subject]
/// customer = "customer_id"
/// user = "user_id"
/// email = "email"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertMapping {
    /// The alert table.
    pub table: Ident,
    /// The columns that point at the subject (the email column finds a guest's alerts).
    pub subject: SubjectColumns,
}

impl Default for AlertMapping {
    fn default() -> Self {
        Self {
            table: ident!("alerts"),
            subject: SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id"))
                .with_email(ident!("email")),
        }
    }
}

/// The alerts handler. See the crate docs.
#[derive(Debug, Clone)]
pub struct CustomerAlerts {
    mapping: AlertMapping,
    policy: Policy,
}

impl Default for CustomerAlerts {
    fn default() -> Self {
        Self::new(AlertMapping::default())
    }
}

impl CustomerAlerts {
    /// A handler over `mapping`.
    pub fn new(mapping: AlertMapping) -> Self {
        let policy = Policy::new("no alerts for this kind of subject").step(Step::delete(
            mapping.table.clone(),
            Reach::subject(mapping.subject.clone()),
        ));
        Self { mapping, policy }
    }

    /// The mapping.
    pub fn mapping(&self) -> &AlertMapping {
        &self.mapping
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for CustomerAlerts {
    fn name(&self) -> &str {
        "customer-alerts"
    }

    fn description(&self) -> &str {
        "deletes the subject's back-in-stock and price alerts"
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the default: the policy as it is.
        true
    }
}
