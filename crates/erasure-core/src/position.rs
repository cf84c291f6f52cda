//! The positions of the standard chain, in one place.
//!
//! Handlers run lowest position first. The standard handlers take the positions below; the gaps
//! are for an integrator's own handlers: a table keyed by customer that must be gone before the
//! customer row is deleted goes anywhere before [`CUSTOMER`] (60 for a loyalty-points table is
//! the usual example); a handler that must read rows before a standard handler changes them goes
//! before that handler. The order follows the deletion chain that established commerce suites
//! ship: guard first, then everything that refers to the customer, the customer last.
//!
//! | position | handler | crate |
//! | --- | --- | --- |
//! | 5 | `b2b-admin-guard` | `erasure-b2b` |
//! | 10 | `basket-invalidation` | `erasure-basket` |
//! | 20 | `wishlist-deletion` | `erasure-wishlist` |
//! | 25 | `cashback` | `erasure-marketing` |
//! | 30 | `order-anonymization` | `erasure-order` |
//! | 40 | `recurring-orders` | `erasure-recurring` |
//! | 50 | `promotion-scrubbing` | `erasure-promotion` |
//! | 70 | `gift-card-unlinking` | `erasure-giftcard` |
//! | 80 | `customer-alerts` | `erasure-marketing` |
//! | 85 | `consents` (registered when the shop keeps consents with `erasure-consents`; not in [`STANDARD`]) | `erasure-consents` |
//! | 100 | `customer` | `erasure-customer` |

/// The B2B sole-admin guard: before anything is touched.
pub const B2B_ADMIN_GUARD: u32 = 5;
/// Basket invalidation.
pub const BASKET: u32 = 10;
/// Wishlist deletion.
pub const WISHLIST: u32 = 20;
/// Cashbacks.
pub const CASHBACK: u32 = 25;
/// Order anonymization.
pub const ORDER: u32 = 30;
/// Recurring orders.
pub const RECURRING: u32 = 40;
/// Promotion-code scrubbing.
pub const PROMOTION: u32 = 50;
/// Gift-card unlinking.
pub const GIFT_CARD: u32 = 70;
/// Customer alerts.
pub const ALERTS: u32 = 80;
/// The consent history (`erasure-consents`), when a shop registers it: after everything that
/// may read consents, before the customer. Not one of the [`STANDARD`] ten.
pub const CONSENTS: u32 = 85;
/// The customer itself: last, after everything that refers to it.
pub const CUSTOMER: u32 = 100;

/// Every standard position with its handler's name, in run order.
pub const STANDARD: [(u32, &str); 10] = [
    (B2B_ADMIN_GUARD, "b2b-admin-guard"),
    (BASKET, "basket-invalidation"),
    (WISHLIST, "wishlist-deletion"),
    (CASHBACK, "cashback"),
    (ORDER, "order-anonymization"),
    (RECURRING, "recurring-orders"),
    (PROMOTION, "promotion-scrubbing"),
    (GIFT_CARD, "gift-card-unlinking"),
    (ALERTS, "customer-alerts"),
    (CUSTOMER, "customer"),
];
