//! The deterministic seed-data generator for the reference schema.
//!
//! [`Seed::customer`] is a pure function of the configuration and the customer's index: tests
//! can ask for any customer's expected data (ids, names, emails, …) without reading the database,
//! and [`Seed::insert`] writes exactly that data. Row ids are derived from the customer's index
//! (a block of ids per customer), so no counter has to be shared between the two.
//!
//! Every personal value is unique per person and never contained in another person's value (see
//! the `names` module), so a residue scan for one customer's values cannot hit another's.

// The parts: `config` says what to generate, `people` derives each customer and guest from
// their index, `rows` turns a person into rows table by table, `tables` buffers and writes them,
// and `insert` drives the writing in transactions. `rng` is the random stream they all draw from.

mod config;
mod insert;
mod people;
mod rng;
mod rows;
mod tables;
#[cfg(test)]
mod tests;

pub use config::{Count, SeedConfig, Shape};
pub use people::{SeededAddress, SeededCustomer, SeededUser};

use rng::Rng;

// Id blocks per customer (and per guest, who is indexed after all customers).
const USERS_PER: i64 = 8;
const ADDRESSES_PER: i64 = 16;
const BASKETS_PER: i64 = 64;
const WISHLISTS_PER: i64 = 16;
const ORDERS_PER: i64 = 1 << 14;
const LINES_PER_ORDER: i64 = 8;
const RECURRING_PER: i64 = 16;
const USAGES_PER: i64 = 64;
const GIFT_CARDS_PER: i64 = 16;
const CASHBACKS_PER: i64 = 16;
const ALERTS_PER: i64 = 64;
const WORDS_PER: u64 = 32;
/// Shared campaign codes (ids 1..=CAMPAIGNS); personal codes have ids above.
const CAMPAIGNS: i64 = 20;

/// Who a seeded row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// The customer with this id.
    Customer(i64),
    /// The guest with this 0-based index.
    Guest(u64),
    /// Nobody: shared rows such as campaign promotion codes.
    Shared,
}

/// Rows written, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedSummary {
    /// `(table, rows)` in insertion order.
    pub rows: Vec<(&'static str, u64)>,
}

impl SeedSummary {
    /// Rows written to `table`.
    pub fn rows(&self, table: &str) -> u64 {
        self.rows
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }

    /// Rows written in all.
    pub fn total(&self) -> u64 {
        self.rows.iter().map(|(_, n)| n).sum()
    }
}

/// The generator. See the module docs.
#[derive(Debug, Clone)]
pub struct Seed {
    config: SeedConfig,
}

impl Seed {
    /// A generator for `config`.
    pub fn new(config: SeedConfig) -> Self {
        Self { config }
    }

    /// The configuration.
    pub fn config(&self) -> &SeedConfig {
        &self.config
    }

    /// The customer at 0-based `index` (id `index + 1`), as [`insert`](Self::insert) writes it.
    pub fn customer(&self, index: u64) -> SeededCustomer {
        self.person(index, false)
    }

    /// The guest at 0-based `index`.
    pub fn guest(&self, index: u64) -> SeededCustomer {
        self.person(self.config.customers + index, true)
    }

    /// Who the row `id` of `table` belongs to, from the id blocks the generator assigns; `None`
    /// for a table the generator does not fill.
    pub fn owner(&self, table: &str, id: i64) -> Option<Owner> {
        let person = match table {
            "customers" => id,
            "users" => id / USERS_PER,
            "b2b_roles" => id / 2 / USERS_PER,
            "addresses" => id / ADDRESSES_PER,
            "baskets" => id / BASKETS_PER,
            "basket_items" => id / 16 / BASKETS_PER,
            "wishlists" => id / WISHLISTS_PER,
            "wishlist_items" => id / 16 / WISHLISTS_PER,
            "orders" => id / ORDERS_PER,
            "order_lines" => id / LINES_PER_ORDER / ORDERS_PER,
            "order_addresses" => id / 2 / ORDERS_PER,
            "recurring_orders" => id / RECURRING_PER,
            "recurring_order_lines" => id / 8 / RECURRING_PER,
            "promotion_codes" if id <= CAMPAIGNS => return Some(Owner::Shared),
            "promotion_codes" => id - CAMPAIGNS,
            "promotion_code_usages" => id / USAGES_PER,
            "gift_cards" => id / GIFT_CARDS_PER,
            "cashbacks" => id / CASHBACKS_PER,
            "cashback_codes" => id / 4 / CASHBACKS_PER,
            "alerts" => id / ALERTS_PER,
            _ => return None,
        };
        let customers = self.config.customers as i64;
        Some(if person <= customers {
            Owner::Customer(person)
        } else {
            Owner::Guest((person - customers - 1) as u64)
        })
    }

    /// Every customer, in id order.
    pub fn customers(&self) -> impl Iterator<Item = SeededCustomer> + '_ {
        (0..self.config.customers).map(|i| self.customer(i))
    }

    /// Every guest.
    pub fn guests(&self) -> impl Iterator<Item = SeededCustomer> + '_ {
        (0..self.config.guests).map(|i| self.guest(i))
    }

    /// The random stream `stream` of the person at `index`: 0 for the person, 1 for their rows,
    /// 2 for their order and cashback counts.
    fn rng(&self, index: u64, stream: u64) -> Rng {
        Rng::new(
            self.config.seed,
            index.wrapping_mul(16).wrapping_add(stream),
        )
    }
}
