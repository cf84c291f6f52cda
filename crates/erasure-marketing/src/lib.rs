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

use erasure_core::footprint::Footprint;
use erasure_core::mapping::nulls;
use erasure_core::sql::{Condition, Delete, Select};
use erasure_core::{
    Anonymize, Backend, ChildTable, DeletionHandler, ErasureContext, ExportContext, Exported,
    HandlerError, Ident, Outcome, SubjectColumns, async_trait, ident,
};
use serde::{Deserialize, Serialize};

/// The cashback handler's position in the standard chain.
pub const CASHBACK_POSITION: u32 = 25;
/// The alerts handler's position in the standard chain.
pub const ALERTS_POSITION: u32 = 80;

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
#[derive(Debug, Clone, Default)]
pub struct Cashbacks {
    mapping: CashbackMapping,
}

impl Cashbacks {
    /// A handler over `mapping`.
    pub fn new(mapping: CashbackMapping) -> Self {
        Self { mapping }
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

    fn footprint(&self) -> Footprint {
        let m = &self.mapping;
        Footprint::new()
            .read(m.table.clone(), [m.id.clone()])
            .delete(
                m.codes.table.clone(),
                [m.codes.parent.clone(), m.code_redeemed_at.clone()],
            )
            .anonymize(m.codes.table.clone(), m.code_anonymize.keys().cloned())
            .delete(
                m.table.clone(),
                m.subject.columns().cloned().chain([m.status.clone()]),
            )
            .anonymize(m.table.clone(), m.anonymize.keys().cloned())
            .unlink(m.table.clone(), m.subject.columns().cloned())
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let m = &self.mapping;
        let Some(filter) = cx.subject_condition(&m.subject) else {
            return Ok(Outcome::new().note("no cashbacks for this kind of subject"));
        };
        let of_subject = || {
            Condition::in_select(
                m.codes.parent.clone(),
                Select::column(m.table.clone(), m.id.clone()).filter(filter.clone()),
            )
        };
        // Codes first: they refer to the cashbacks.
        let codes_deleted = cx
            .execute(Delete::new(
                m.codes.table.clone(),
                of_subject().and(Condition::is_null(m.code_redeemed_at.clone())),
            ))
            .await?;
        let codes_kept = if m.code_anonymize.is_empty() {
            0
        } else {
            let update = cx.anonymize(&m.codes.table, of_subject(), &m.code_anonymize, &[]);
            cx.execute(update).await?
        };
        let deleted = cx
            .execute(Delete::new(
                m.table.clone(),
                filter
                    .clone()
                    .and(Condition::ne(m.status.clone(), m.redeemed_status.as_str())),
            ))
            .await?;
        // What is left of the subject's cashbacks was redeemed: keep it, anonymized and unlinked.
        let unlink = cx.subject().link_columns(&m.subject);
        let update = cx.anonymize(&m.table, filter, &m.anonymize, &unlink);
        let retained = cx.execute(update).await?;
        Ok(Outcome::new()
            .deleted(m.codes.table.clone(), codes_deleted)
            .anonymized(m.codes.table.clone(), codes_kept)
            .deleted(m.table.clone(), deleted)
            .anonymized(m.table.clone(), retained)
            .retained(m.table.clone(), retained, m.retention_reason.clone()))
    }

    async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
        let m = &self.mapping;
        let Some(filter) = cx.subject_condition(&m.subject) else {
            cx.note("no cashbacks for this kind of subject");
            return Ok(Exported::Written);
        };
        // Every cashback of the subject and every code of those: `erase` deletes or anonymizes
        // each of them.
        cx.rows_with_children(&m.table, &m.id, filter, &[&m.codes])
            .await?;
        Ok(Exported::Written)
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
#[derive(Debug, Clone, Default)]
pub struct CustomerAlerts {
    mapping: AlertMapping,
}

impl CustomerAlerts {
    /// A handler over `mapping`.
    pub fn new(mapping: AlertMapping) -> Self {
        Self { mapping }
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

    fn footprint(&self) -> Footprint {
        let m = &self.mapping;
        Footprint::new().delete(m.table.clone(), m.subject.columns().cloned())
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let m = &self.mapping;
        let Some(filter) = cx.subject_condition(&m.subject) else {
            return Ok(Outcome::new().note("no alerts for this kind of subject"));
        };
        let deleted = cx.execute(Delete::new(m.table.clone(), filter)).await?;
        Ok(Outcome::new().deleted(m.table.clone(), deleted))
    }

    async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
        let m = &self.mapping;
        let Some(filter) = cx.subject_condition(&m.subject) else {
            cx.note("no alerts for this kind of subject");
            return Ok(Exported::Written);
        };
        // The mapping names no primary key: rows come ordered by the subject columns.
        cx.rows(
            Select::columns(m.table.clone(), [])
                .filter(filter)
                .order_by(m.subject.columns().cloned()),
        )
        .await?;
        Ok(Exported::Written)
    }
}
