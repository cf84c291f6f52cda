//! What to generate: [`SeedConfig`], and the [`Shape`] of a customer's data in [`Count`]s.

use chrono::{DateTime, TimeZone, Utc};

use super::rng::Rng;

/// How many rows of one kind a customer gets: drawn uniformly from `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// The fewest.
    pub min: u32,
    /// The most.
    pub max: u32,
}

impl Count {
    /// Exactly `n`.
    pub const fn exactly(n: u32) -> Self {
        Self { min: n, max: n }
    }

    /// Between `min` and `max`, inclusive.
    pub const fn between(min: u32, max: u32) -> Self {
        Self { min, max }
    }

    pub(super) fn draw(self, rng: &mut Rng) -> u32 {
        if self.max <= self.min {
            self.min
        } else {
            self.min + (rng.next() % u64::from(self.max - self.min + 1)) as u32
        }
    }
}

/// The data one customer has: counts per kind of row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Addresses per customer (the first one belongs to the first user).
    pub addresses: Count,
    /// Baskets, and items per basket.
    pub baskets: Count,
    /// Items per basket.
    pub basket_items: Count,
    /// Wishlists.
    pub wishlists: Count,
    /// Items per wishlist.
    pub wishlist_items: Count,
    /// Orders.
    pub orders: Count,
    /// Lines per order.
    pub order_lines: Count,
    /// Recurring orders (each with two lines).
    pub recurring_orders: Count,
    /// Personal referral codes issued in the customer's name (0 or 1).
    pub referral_codes: Count,
    /// Promotion-code usages.
    pub promotion_usages: Count,
    /// Gift cards.
    pub gift_cards: Count,
    /// Cashbacks (each with one code).
    pub cashbacks: Count,
    /// Alerts.
    pub alerts: Count,
}

impl Shape {
    /// The typical subject of the benchmarks: 2 addresses, 5 baskets × 3 items, 3 wishlists ×
    /// 5 items, 20 orders × 3 lines (2 addresses each), 2 recurring orders, 5 promotion-code
    /// usages, 2 gift cards, 3 cashbacks, 10 alerts.
    pub const fn typical() -> Self {
        Self {
            addresses: Count::exactly(2),
            baskets: Count::exactly(5),
            basket_items: Count::exactly(3),
            wishlists: Count::exactly(3),
            wishlist_items: Count::exactly(5),
            orders: Count::exactly(20),
            order_lines: Count::exactly(3),
            recurring_orders: Count::exactly(2),
            referral_codes: Count::exactly(1),
            promotion_usages: Count::exactly(5),
            gift_cards: Count::exactly(2),
            cashbacks: Count::exactly(3),
            alerts: Count::exactly(10),
        }
    }

    /// Varied and small, for tests: every kind from zero to a few, so some customers have no
    /// rows of some kinds.
    pub const fn varied() -> Self {
        Self {
            addresses: Count::between(1, 3),
            baskets: Count::between(0, 3),
            basket_items: Count::between(0, 3),
            wishlists: Count::between(0, 2),
            wishlist_items: Count::between(0, 3),
            orders: Count::between(0, 6),
            order_lines: Count::between(1, 3),
            recurring_orders: Count::between(0, 2),
            referral_codes: Count::between(0, 1),
            promotion_usages: Count::between(0, 3),
            gift_cards: Count::between(0, 2),
            cashbacks: Count::between(0, 3),
            alerts: Count::between(0, 3),
        }
    }

    /// Only the customer and its users: for filling a large shop quickly around a few measured
    /// subjects.
    pub const fn bare() -> Self {
        Self {
            addresses: Count::exactly(1),
            baskets: Count::exactly(0),
            basket_items: Count::exactly(0),
            wishlists: Count::exactly(0),
            wishlist_items: Count::exactly(0),
            orders: Count::exactly(1),
            order_lines: Count::exactly(1),
            recurring_orders: Count::exactly(0),
            referral_codes: Count::exactly(0),
            promotion_usages: Count::exactly(0),
            gift_cards: Count::exactly(0),
            cashbacks: Count::exactly(0),
            alerts: Count::exactly(0),
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedConfig {
    /// Number of customers; their ids are `1..=customers`.
    pub customers: u64,
    /// Number of guests (orders, alerts and promotion-code usages without an account).
    pub guests: u64,
    /// Every `b2b_every`th customer is a B2B customer with three users (0: none). Every
    /// other B2B customer has a second account admin.
    pub b2b_every: u64,
    /// Rows per customer.
    pub shape: Shape,
    /// Customers (by index, 0-based) with a different shape, e.g. one with 10,000 orders.
    pub overrides: Vec<(u64, Shape)>,
    /// The random seed.
    pub seed: u64,
    /// "Now" for generated timestamps: orders are spread over the eight years before it.
    pub now: DateTime<Utc>,
}

impl SeedConfig {
    /// `customers` customers with the varied shape, a guest per 20 customers, every 10th
    /// customer B2B, seed 42, now = 2026-06-01.
    pub fn new(customers: u64) -> Self {
        Self {
            customers,
            guests: customers.div_ceil(20),
            b2b_every: 10,
            shape: Shape::varied(),
            overrides: Vec::new(),
            seed: 42,
            now: Utc
                .with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
                .single()
                .unwrap_or_default(),
        }
    }

    /// With `shape` for every customer.
    pub fn shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }

    /// With `guests` guests.
    pub fn guests(mut self, guests: u64) -> Self {
        self.guests = guests;
        self
    }

    /// With a different shape for the customer at `index`.
    pub fn with_override(mut self, index: u64, shape: Shape) -> Self {
        self.overrides.push((index, shape));
        self
    }

    pub(super) fn shape_of(&self, index: u64) -> Shape {
        self.overrides
            .iter()
            .rev()
            .find(|(i, _)| *i == index)
            .map_or(self.shape, |(_, s)| *s)
    }
}
