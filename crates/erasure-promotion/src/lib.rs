//! Position 50: promotion-code scrubbing.
//!
//! Promotion codes issued to the subject (referral codes in their name) and the usages of codes
//! by the subject keep their business facts (which code, which order, when) but lose the name and
//! email and their link to the subject. A guest's usages are found by email.
//!
//! Export: the section holds, table by table in mapping order, the subject's rows the erasure
//! scrubs (referral codes issued to them, their code usages), ordered by the subject columns.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use erasure_core::mapping::nulls;
use erasure_core::policy::{Policy, Reach, Step};
use erasure_core::{
    Anonymize, Backend, DeletionHandler, Ident, SubjectColumns, async_trait, ident,
};
use serde::{Deserialize, Serialize};

/// The handler's position in the standard chain.
pub const POSITION: u32 = erasure_core::position::PROMOTION;

/// One table the handler scrubs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrubbedTable {
    /// The table.
    pub table: Ident,
    /// The columns that point at the subject.
    pub subject: SubjectColumns,
    /// The personal columns.
    pub anonymize: Anonymize,
    /// `delete = true`: the subject's rows are deleted instead of kept scrubbed and unlinked,
    /// for a link column declared `NOT NULL` with no value to write into it
    /// (`subject.unlink`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete: bool,
}

/// Where promotion codes and their usages live.
///
/// ```toml
/// [[promotion.tables]]
/// table = "promotion_code_usages"
/// subject = { customer = "customer_id", user = "user_id", email = "email" }
/// anonymize = { name = "null", email = "null" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromotionMapping {
    /// The tables, scrubbed in this order.
    pub tables: Vec<ScrubbedTable>,
}

impl Default for PromotionMapping {
    fn default() -> Self {
        Self {
            tables: vec![
                ScrubbedTable {
                    table: ident!("promotion_codes"),
                    subject: SubjectColumns::customer_user(
                        ident!("customer_id"),
                        ident!("user_id"),
                    )
                    .with_email(ident!("email")),
                    anonymize: nulls([ident!("name"), ident!("email")]),
                    delete: false,
                },
                ScrubbedTable {
                    table: ident!("promotion_code_usages"),
                    subject: SubjectColumns::customer_user(
                        ident!("customer_id"),
                        ident!("user_id"),
                    )
                    .with_email(ident!("email")),
                    anonymize: nulls([ident!("name"), ident!("email")]),
                    delete: false,
                },
            ],
        }
    }
}

/// Promotion-code scrubbing. See the crate docs.
#[derive(Debug, Clone)]
pub struct PromotionScrubbing {
    mapping: PromotionMapping,
    policy: Policy,
}

impl Default for PromotionScrubbing {
    fn default() -> Self {
        Self::new(PromotionMapping::default())
    }
}

impl PromotionScrubbing {
    /// A handler over `mapping`.
    pub fn new(mapping: PromotionMapping) -> Self {
        let mut policy = Policy::new("no promotion codes for this kind of subject");
        for t in &mapping.tables {
            let reach = Reach::subject(t.subject.clone());
            policy.push(if t.delete {
                Step::delete(t.table.clone(), reach)
            } else {
                Step::anonymize(t.table.clone(), reach, t.anonymize.clone()).unlink()
            });
        }
        Self { mapping, policy }
    }

    /// The mapping.
    pub fn mapping(&self) -> &PromotionMapping {
        &self.mapping
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for PromotionScrubbing {
    fn name(&self) -> &str {
        "promotion-scrubbing"
    }

    fn description(&self) -> &str {
        "removes name, email and subject link from promotion codes and their usages"
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the default: the policy as it is.
        true
    }
}
