//! The standard chain of a commerce platform.

use serde::{Deserialize, Serialize};

use crate::b2b::{B2bAdminGuard, B2bMapping};
use crate::basket::{BasketInvalidation, BasketMapping};
use crate::customer::{CustomerDeletion, CustomerMapping};
use crate::giftcard::{GiftCardMapping, GiftCardUnlinking};
use crate::marketing::{AlertMapping, CashbackMapping, Cashbacks, CustomerAlerts};
use crate::order::{OrderAnonymization, OrderMapping};
use crate::promotion::{PromotionMapping, PromotionScrubbing};
use crate::recurring::{RecurringMapping, RecurringOrders};
use crate::wishlist::{WishlistDeletion, WishlistMapping};
use crate::{Backend, ChainBuilder, DeletionHandler};

/// The mappings of all standard handlers, defaults fitting the reference schema. Read from the
/// `[mappings]` part of a configuration file; every table and column name is validated as it is
/// read, and unknown keys are rejected.
///
/// ```
/// let mappings: erasure::StandardMappings = toml::from_str(r#"
///     [order]
///     table = "sales_orders"
///     [wishlist]
///     table = "favourites"
///     items = { table = "favourite_items", parent = "favourite_id" }
/// "#)?;
/// assert_eq!(mappings.order.table.as_str(), "sales_orders");
/// assert_eq!(mappings.basket.table.as_str(), "baskets"); // untouched: the default
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StandardMappings {
    /// Position 5.
    pub b2b: B2bMapping,
    /// Position 10.
    pub basket: BasketMapping,
    /// Position 20.
    pub wishlist: WishlistMapping,
    /// Position 25.
    pub cashback: CashbackMapping,
    /// Position 30.
    pub order: OrderMapping,
    /// Position 40.
    pub recurring: RecurringMapping,
    /// Position 50.
    pub promotion: PromotionMapping,
    /// Position 70.
    pub giftcard: GiftCardMapping,
    /// Position 80.
    pub alerts: AlertMapping,
    /// Position 100.
    pub customer: CustomerMapping,
}

/// The ten standard handlers with their positions, for `mappings`, in position order.
pub fn standard_handlers<DB: Backend>(
    mappings: &StandardMappings,
) -> Vec<(u32, Box<dyn DeletionHandler<DB>>)> {
    let m = mappings.clone();
    vec![
        (crate::b2b::POSITION, Box::new(B2bAdminGuard::new(m.b2b))),
        (
            crate::basket::POSITION,
            Box::new(BasketInvalidation::new(m.basket)),
        ),
        (
            crate::wishlist::POSITION,
            Box::new(WishlistDeletion::new(m.wishlist)),
        ),
        (
            crate::marketing::CASHBACK_POSITION,
            Box::new(Cashbacks::new(m.cashback)),
        ),
        (
            crate::order::POSITION,
            Box::new(OrderAnonymization::new(m.order)),
        ),
        (
            crate::recurring::POSITION,
            Box::new(RecurringOrders::new(m.recurring)),
        ),
        (
            crate::promotion::POSITION,
            Box::new(PromotionScrubbing::new(m.promotion)),
        ),
        (
            crate::giftcard::POSITION,
            Box::new(GiftCardUnlinking::new(m.giftcard)),
        ),
        (
            crate::marketing::ALERTS_POSITION,
            Box::new(CustomerAlerts::new(m.alerts)),
        ),
        (
            crate::customer::POSITION,
            Box::new(CustomerDeletion::new(m.customer)),
        ),
    ]
}

/// A builder holding the standard chain for the reference schema: B2B guard (5), baskets (10),
/// wishlists (20), cashbacks (25), orders (30), recurring orders (40), promotion codes (50),
/// gift cards (70), alerts (80), customer (100). Add your own handlers in the gaps, replace or
/// remove standard ones, set the clock, settings and pseudonym key, then `build()`.
pub fn standard_chain<DB: Backend>() -> ChainBuilder<DB> {
    standard_chain_with(&StandardMappings::default())
}

/// [`standard_chain`] with the given mappings.
pub fn standard_chain_with<DB: Backend>(mappings: &StandardMappings) -> ChainBuilder<DB> {
    standard_handlers(mappings)
        .into_iter()
        .fold(ChainBuilder::new(), |b, (position, handler)| {
            b.register_boxed(position, handler)
        })
}
