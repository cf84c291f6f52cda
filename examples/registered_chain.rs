//! A chain built entirely from static registrations.
//!
//! Every handler, the standard ones with this shop's mappings and a handler of its own, is
//! registered at its position with `register_handler!` where it is defined; the chain is then
//! `Chain::builder().with_registered()`. `inventory` collects registrations in no particular
//! order; the builder sorts them by position and rejects two at one position.
//!
//! In a real application the registrations live in the crates that define the handlers. A
//! registration only exists if its crate is linked: reference each such crate where the chain is
//! built (here everything is in one file, so it is).
//!
//! Run: `cargo run --example registered_chain`

use erasure::b2b::B2bAdminGuard;
use erasure::basket::BasketInvalidation;
use erasure::customer::CustomerDeletion;
use erasure::giftcard::GiftCardUnlinking;
use erasure::marketing::{Cashbacks, CustomerAlerts};
use erasure::order::{OrderAnonymization, OrderMapping};
use erasure::promotion::PromotionScrubbing;
use erasure::recurring::RecurringOrders;
use erasure::wishlist::WishlistDeletion;
use erasure::{
    Backend, Chain, DeletionHandler, Erasure, ErasureContext, HandlerError, Outcome, Replacement,
    async_trait, ident, register_handler,
};
use erasure_testkit::{Seed, SeedConfig, TestBackend};
use sqlx::Sqlite;

/// This shop keeps order emails as keyed pseudonyms (so an erased customer's orders still group
/// together for accounting) instead of the default NULL.
fn orders() -> OrderAnonymization {
    let mut mapping = OrderMapping::default();
    mapping
        .anonymize
        .insert(ident!("email"), Replacement::KeyedPseudonym);
    OrderAnonymization::new(mapping)
}

/// A handler of the shop's own: an audit line that an erasure happened (no personal data).
struct AuditNote;

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for AuditNote {
    fn name(&self) -> &str {
        "audit-note"
    }

    fn description(&self) -> &str {
        "notes the erasure for the shop's own audit trail"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        Ok(Outcome::new().note(format!("run {} at {}", cx.run_id(), cx.now().to_rfc3339())))
    }
}

register_handler!(erasure::b2b::POSITION, B2bAdminGuard::default(), [Sqlite]);
register_handler!(
    erasure::basket::POSITION,
    BasketInvalidation::default(),
    [Sqlite]
);
register_handler!(
    erasure::wishlist::POSITION,
    WishlistDeletion::default(),
    [Sqlite]
);
register_handler!(
    erasure::marketing::CASHBACK_POSITION,
    Cashbacks::default(),
    [Sqlite]
);
register_handler!(erasure::order::POSITION, orders(), [Sqlite]);
register_handler!(
    erasure::recurring::POSITION,
    RecurringOrders::default(),
    [Sqlite]
);
register_handler!(
    erasure::promotion::POSITION,
    PromotionScrubbing::default(),
    [Sqlite]
);
register_handler!(
    erasure::giftcard::POSITION,
    GiftCardUnlinking::default(),
    [Sqlite]
);
register_handler!(
    erasure::marketing::ALERTS_POSITION,
    CustomerAlerts::default(),
    [Sqlite]
);
register_handler!(
    erasure::customer::POSITION,
    CustomerDeletion::default(),
    [Sqlite]
);
register_handler!(1_000, AuditNote, [Sqlite]);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = erasure::sqlite::open("sqlite::memory:", 1).await?;
    Sqlite::migrate(&pool).await?;
    let seed = Seed::new(SeedConfig::new(20));
    seed.insert(&pool).await?;

    let chain = Chain::<Sqlite>::builder().with_registered().build()?;
    println!("{}", chain.describe());
    let customer = seed.customer(4);
    let report = chain
        .erase(&pool, &Erasure::new(customer.subject()))
        .await?;
    println!("{report}");
    let emails: Vec<Option<String>> =
        sqlx::query_scalar("SELECT email FROM orders WHERE to_be_deleted = 1 LIMIT 3")
            .fetch_all(&pool)
            .await?;
    println!("\norder emails after the erasure (pseudonyms): {emails:?}");
    Ok(())
}
