//! Position 70: gift-card unlinking.
//!
//! A gift card's balance belongs to whoever holds the card, not to the subject: the card and its
//! balance stay, and only the subject's reference (customer, user, holder name and email) is
//! removed.
//!
//! Export: the section holds the gift cards that refer to the subject (ordered by the subject
//! columns), the rows the erasure unlinks. Guests hold no gift cards: a note says so.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use erasure_core::mapping::nulls;
use erasure_core::policy::{Policy, Reach, Step};
use erasure_core::{
    Anonymize, Backend, DeletionHandler, Ident, SubjectColumns, async_trait, ident,
};
use serde::{Deserialize, Serialize};

/// The handler's position in the standard chain.
pub const POSITION: u32 = erasure_core::position::GIFT_CARD;

/// Where gift cards live.
///
/// ```toml
/// [giftcard]
/// table = "gift_cards"
/// anonymize = { holder_name = "null", holder_email = "null" }
/// [giftcard.subject]
/// customer = "customer_id"
/// user = "user_id"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GiftCardMapping {
    /// The gift-card table.
    pub table: Ident,
    /// The columns that point at the subject.
    pub subject: SubjectColumns,
    /// Personal columns.
    pub anonymize: Anonymize,
    /// `delete = true`: the subject's gift cards are deleted instead of kept unlinked, for a
    /// link column declared `NOT NULL` with no value to write into it (`subject.unlink`). The
    /// balances go with the cards: the shop decides.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub delete: bool,
}

impl Default for GiftCardMapping {
    fn default() -> Self {
        Self {
            table: ident!("gift_cards"),
            subject: SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id")),
            anonymize: nulls([ident!("holder_name"), ident!("holder_email")]),
            delete: false,
        }
    }
}

/// Gift-card unlinking. See the crate docs.
#[derive(Debug, Clone)]
pub struct GiftCardUnlinking {
    mapping: GiftCardMapping,
    policy: Policy,
}

impl Default for GiftCardUnlinking {
    fn default() -> Self {
        Self::new(GiftCardMapping::default())
    }
}

impl GiftCardUnlinking {
    /// A handler over `mapping`.
    pub fn new(mapping: GiftCardMapping) -> Self {
        let reach = Reach::subject(mapping.subject.clone());
        let step = if mapping.delete {
            Step::delete(mapping.table.clone(), reach)
        } else {
            Step::anonymize(mapping.table.clone(), reach, mapping.anonymize.clone()).unlink()
        };
        let policy = Policy::new("no gift cards for this kind of subject").step(step);
        Self { mapping, policy }
    }

    /// The mapping.
    pub fn mapping(&self) -> &GiftCardMapping {
        &self.mapping
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for GiftCardUnlinking {
    fn name(&self) -> &str {
        "gift-card-unlinking"
    }

    fn description(&self) -> &str {
        if self.mapping.delete {
            "deletes the subject's gift cards (the mapping says `delete = true`)"
        } else {
            "removes the subject's reference from gift cards; the cards and balances stay"
        }
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the default: the policy as it is.
        true
    }
}
