//! The rows of one person, table by table.
//!
//! Every table draws from the person's one random stream in turn, so the order of the steps in
//! [`Seed::rows`], and of the draws within each step, is part of the seed's output: change it
//! and every generated value after it changes.

use chrono::{DateTime, Duration, Utc};
use erasure_core::Value;

use super::people::{SeededAddress, SeededCustomer, SeededUser};
use super::rng::Rng;
use super::tables::Tables;
use super::{
    ALERTS_PER, BASKETS_PER, CAMPAIGNS, CASHBACKS_PER, GIFT_CARDS_PER, LINES_PER_ORDER, ORDERS_PER,
    RECURRING_PER, Seed, USAGES_PER, WISHLISTS_PER,
};

const ORDER_STATUSES: [&str; 8] = [
    "COMPLETED",
    "COMPLETED",
    "COMPLETED",
    "SHIPPED",
    "CANCELLED",
    "PENDING",
    "MANUAL_INTERVENTION_NEEDED",
    "EXPORTFAILED",
];
const PRODUCTS: [(&str, &str, i64); 6] = [
    ("SKU-1001", "Espresso machine", 34_900),
    ("SKU-1002", "Milk frother", 4_990),
    ("SKU-2001", "Running shoes", 12_900),
    ("SKU-3001", "Desk lamp", 3_999),
    ("SKU-4001", "Wool scarf", 2_950),
    ("SKU-5001", "Coffee beans 1 kg", 1_890),
];

impl Seed {
    /// Generates every row of one customer into the table buffers, parents before children.
    pub(super) fn rows(&self, p: &SeededCustomer, t: &mut Tables) {
        let mut g = Rows {
            p,
            now: self.config.now,
            rng: self.rng(p.index, 1),
            customer_id: if p.guest { Value::Null } else { p.id.into() },
        };
        if !p.guest {
            g.account(t);
            g.baskets(t);
            g.wishlists(t);
        }
        g.orders(t);
        if !p.guest {
            g.recurring_orders(t);
            g.referral_code(t);
        }
        g.promotion_usages(t);
        if !p.guest {
            g.gift_cards(t);
            g.cashbacks(t);
        }
        g.alerts(t);
    }
}

/// The row generator of one person.
struct Rows<'a> {
    p: &'a SeededCustomer,
    now: DateTime<Utc>,
    rng: Rng,
    /// The customer id column's value: `NULL` for a guest.
    customer_id: Value,
}

impl<'a> Rows<'a> {
    /// A time up to `max_days` before now.
    fn ts(&mut self, max_days: u64) -> Value {
        (self.now - Duration::seconds(self.rng.below(max_days * 86_400) as i64)).into()
    }

    /// A product, drawn at random.
    fn product(&mut self) -> (&'static str, &'static str, i64) {
        PRODUCTS[self.rng.below(PRODUCTS.len() as u64) as usize]
    }

    /// The user the `k`th row of a kind goes to: the users in turn.
    fn user_of(&self, k: u32) -> &'a SeededUser {
        &self.p.users[(k as usize) % self.p.users.len()]
    }

    /// The user id column's value for the `k`th row of a kind: `NULL` for a guest.
    fn user_id(&self, k: u32) -> Value {
        if self.p.guest {
            Value::Null
        } else {
            self.user_of(k).id.into()
        }
    }

    /// The customer, its users (with their B2B roles) and its addresses.
    fn account(&mut self, t: &mut Tables) {
        let p = self.p;
        let id = p.id;
        t.customers.row([
            id.into(),
            format!("C{id:08}").into(),
            (if p.is_b2b() { "B2B" } else { "PRIVATE" }).into(),
            p.company.clone().into(),
            p.company.as_ref().map(|_| format!("DE{:09}", id)).into(),
            true.into(),
            self.ts(3_000),
        ]);
        for u in &p.users {
            t.users.row([
                u.id.into(),
                id.into(),
                u.email.clone().into(),
                u.first_name.clone().into(),
                u.last_name.clone().into(),
                u.phone.clone().into(),
                chrono::NaiveDate::from_ymd_opt(
                    1950 + self.rng.below(50) as i32,
                    1 + self.rng.below(12) as u32,
                    1 + self.rng.below(28) as u32,
                )
                .into(),
                true.into(),
                self.ts(3_000),
                self.ts(90),
            ]);
            if p.is_b2b() {
                t.b2b_roles.row([
                    (u.id * 2).into(),
                    id.into(),
                    u.id.into(),
                    (if u.admin { "ACCOUNT_ADMIN" } else { "BUYER" }).into(),
                ]);
            }
        }
        for a in &p.addresses {
            let u = p
                .users
                .iter()
                .find(|u| Some(u.id) == a.user_id)
                .unwrap_or(&p.users[0]);
            t.addresses.row([
                a.id.into(),
                id.into(),
                a.user_id.into(),
                u.first_name.clone().into(),
                u.last_name.clone().into(),
                p.company.clone().into(),
                a.street.clone().into(),
                a.city.clone().into(),
                a.postcode.clone().into(),
                "GB".into(),
                u.phone.clone().into(),
            ]);
        }
    }

    /// Baskets (the first open, the others ordered) and their items.
    fn baskets(&mut self, t: &mut Tables) {
        let shape = self.p.shape;
        for b in 0..shape.baskets.draw(&mut self.rng).min(BASKETS_PER as u32) {
            let basket_id = self.p.id * BASKETS_PER + i64::from(b);
            let status = if b == 0 { "OPEN" } else { "ORDERED" };
            t.baskets.row([
                basket_id.into(),
                self.customer_id.clone(),
                self.user_id(b),
                status.into(),
                self.ts(400),
                self.ts(30),
                Value::Null,
            ]);
            for k in 0..shape.basket_items.draw(&mut self.rng).min(16) {
                let (sku, _, price) = self.product();
                t.basket_items.row([
                    (basket_id * 16 + i64::from(k)).into(),
                    basket_id.into(),
                    sku.into(),
                    (1 + self.rng.below(3) as i64).into(),
                    price.into(),
                ]);
            }
        }
    }

    /// Wishlists (every other one public) and their items.
    fn wishlists(&mut self, t: &mut Tables) {
        let shape = self.p.shape;
        for w in 0..shape
            .wishlists
            .draw(&mut self.rng)
            .min(WISHLISTS_PER as u32)
        {
            let wishlist_id = self.p.id * WISHLISTS_PER + i64::from(w);
            let u = self.user_of(w);
            t.wishlists.row([
                wishlist_id.into(),
                self.customer_id.clone(),
                u.id.into(),
                (if w == 0 {
                    "Wishlist".to_owned()
                } else {
                    format!("{}'s list {w}", u.first_name)
                })
                .into(),
                (w % 2 == 1).into(),
                self.ts(700),
            ]);
            for k in 0..shape.wishlist_items.draw(&mut self.rng).min(16) {
                let (sku, _, _) = self.product();
                t.wishlist_items.row([
                    (wishlist_id * 16 + i64::from(k)).into(),
                    wishlist_id.into(),
                    sku.into(),
                    (if k == 0 {
                        Value::from(format!("for {}", u.first_name))
                    } else {
                        Value::Null
                    }),
                    self.ts(700),
                ]);
            }
        }
    }

    /// Every order, with its lines and its two addresses.
    fn orders(&mut self, t: &mut Tables) {
        for o in 0..self.p.orders {
            self.order(t, o);
        }
    }

    /// The `o`th order, placed by the users in turn.
    fn order(&mut self, t: &mut Tables, o: u32) {
        let order_id = self.p.id * ORDERS_PER + i64::from(o);
        let u = self.user_of(o);
        let (total, lines) = self.order_lines(order_id);
        let status = ORDER_STATUSES[self.rng.below(ORDER_STATUSES.len() as u64) as usize];
        t.orders.row([
            order_id.into(),
            format!("O{order_id:014}").into(),
            self.customer_id.clone(),
            self.user_id(o),
            u.email.clone().into(),
            u.phone.clone().into(),
            u.ip.clone().into(),
            (if o.is_multiple_of(3) {
                Value::from(format!("Please ring at {}", u.last_name))
            } else {
                Value::Null
            }),
            status.into(),
            "EUR".into(),
            total.into(),
            self.ts(8 * 365),
            false.into(),
            Value::Null,
        ]);
        for row in lines {
            t.order_lines.row(row);
        }
        self.order_addresses(t, o, order_id, u);
    }

    /// The lines of order `order_id` (written after the order), and the order's total.
    fn order_lines(&mut self, order_id: i64) -> (i64, Vec<[Value; 6]>) {
        let lines = self
            .p
            .shape
            .order_lines
            .draw(&mut self.rng)
            .clamp(1, LINES_PER_ORDER as u32);
        let mut total = 0i64;
        let mut rows = Vec::new();
        for l in 0..lines {
            let (sku, name, price) = self.product();
            let qty = 1 + self.rng.below(3) as i64;
            total += qty * price;
            rows.push([
                (order_id * LINES_PER_ORDER + i64::from(l)).into(),
                order_id.into(),
                sku.into(),
                name.into(),
                qty.into(),
                price.into(),
            ]);
        }
        (total, rows)
    }

    /// The billing and shipping address of the `o`th order, placed by `u`.
    fn order_addresses(&self, t: &mut Tables, o: u32, order_id: i64, u: &SeededUser) {
        let p = self.p;
        // An order goes to the ordering user's own addresses (a guest's: theirs).
        let own: Vec<&SeededAddress> = p
            .addresses
            .iter()
            .filter(|a| p.guest || a.user_id == Some(u.id))
            .collect();
        for (k, kind) in ["BILLING", "SHIPPING"].into_iter().enumerate() {
            let a = own.get((o as usize + k) % own.len().max(1));
            t.order_addresses.row([
                (order_id * 2 + k as i64).into(),
                order_id.into(),
                kind.into(),
                u.first_name.clone().into(),
                u.last_name.clone().into(),
                p.company.clone().into(),
                a.map(|a| a.street.clone()).into(),
                a.map(|a| a.city.clone()).into(),
                a.map(|a| a.postcode.clone()).into(),
                "GB".into(),
                u.phone.clone().into(),
                u.email.clone().into(),
            ]);
        }
    }

    /// Recurring orders (active and paused in turn), with two lines each.
    fn recurring_orders(&mut self, t: &mut Tables) {
        let p = self.p;
        for r in 0..p
            .shape
            .recurring_orders
            .draw(&mut self.rng)
            .min(RECURRING_PER as u32)
        {
            let rid = p.id * RECURRING_PER + i64::from(r);
            t.recurring_orders.row([
                rid.into(),
                self.customer_id.clone(),
                self.user_id(r),
                p.addresses.first().map(|a| a.id).into(),
                (if r % 2 == 0 { "ACTIVE" } else { "PAUSED" }).into(),
                (14 * (1 + self.rng.below(4)) as i64).into(),
                self.ts(30),
                self.ts(700),
            ]);
            for l in 0..2i64 {
                let (sku, _, _) = self.product();
                t.recurring_order_lines.row([
                    (rid * 8 + l).into(),
                    rid.into(),
                    sku.into(),
                    (1 + l).into(),
                ]);
            }
        }
    }

    /// A personal referral code, issued in the first user's name.
    fn referral_code(&mut self, t: &mut Tables) {
        let p = self.p;
        let id = p.id;
        let u = &p.users[0];
        if p.shape.referral_codes.draw(&mut self.rng) > 0 {
            t.promotion_codes.row([
                (CAMPAIGNS + id).into(),
                format!("REF-{id:08}").into(),
                id.into(),
                u.id.into(),
                u.full_name().into(),
                u.email.clone().into(),
                10.into(),
                self.ts(100),
                self.ts(700),
            ]);
        }
    }

    /// Usages of the campaign codes, on the person's orders in turn.
    fn promotion_usages(&mut self, t: &mut Tables) {
        let p = self.p;
        let id = p.id;
        let order_count = p.orders;
        for k in 0..p
            .shape
            .promotion_usages
            .draw(&mut self.rng)
            .min(USAGES_PER as u32)
        {
            let u = self.user_of(k);
            let order = (order_count > 0).then(|| id * ORDERS_PER + i64::from(k % order_count));
            t.promotion_code_usages.row([
                (id * USAGES_PER + i64::from(k)).into(),
                (1 + self.rng.below(CAMPAIGNS as u64) as i64).into(),
                order.into(),
                self.customer_id.clone(),
                self.user_id(k),
                u.full_name().into(),
                u.email.clone().into(),
                self.ts(700),
            ]);
        }
    }

    /// Gift cards held by the users in turn.
    fn gift_cards(&mut self, t: &mut Tables) {
        let p = self.p;
        for g in 0..p
            .shape
            .gift_cards
            .draw(&mut self.rng)
            .min(GIFT_CARDS_PER as u32)
        {
            let u = self.user_of(g);
            let gid = p.id * GIFT_CARDS_PER + i64::from(g);
            t.gift_cards.row([
                gid.into(),
                format!("GC-{gid:012}").into(),
                self.customer_id.clone(),
                u.id.into(),
                u.full_name().into(),
                u.email.clone().into(),
                (self.rng.below(10_000) as i64).into(),
                "EUR".into(),
                self.ts(700),
            ]);
        }
    }

    /// Cashbacks (every other one redeemed), each with its code.
    fn cashbacks(&mut self, t: &mut Tables) {
        let p = self.p;
        for c in 0..p.cashbacks {
            let u = self.user_of(c);
            let cid = p.id * CASHBACKS_PER + i64::from(c);
            let redeemed = c % 2 == 1;
            let redeemed_at = if redeemed { self.ts(300) } else { Value::Null };
            t.cashbacks.row([
                cid.into(),
                self.customer_id.clone(),
                u.id.into(),
                (500 + self.rng.below(5_000) as i64).into(),
                "EUR".into(),
                (if redeemed { "REDEEMED" } else { "OPEN" }).into(),
                u.full_name().into(),
                u.iban.clone().into(),
                self.ts(400),
                redeemed_at.clone(),
            ]);
            t.cashback_codes.row([
                (cid * 4).into(),
                cid.into(),
                format!("CB-{cid:012}").into(),
                u.email.clone().into(),
                redeemed_at,
            ]);
        }
    }

    /// Back-in-stock and price alerts in turn.
    fn alerts(&mut self, t: &mut Tables) {
        let p = self.p;
        for a in 0..p.shape.alerts.draw(&mut self.rng).min(ALERTS_PER as u32) {
            let u = self.user_of(a);
            let (sku, _, price) = self.product();
            let price_alert = a % 2 == 1;
            t.alerts.row([
                (p.id * ALERTS_PER + i64::from(a)).into(),
                self.customer_id.clone(),
                self.user_id(a),
                u.email.clone().into(),
                (if price_alert {
                    "PRICE"
                } else {
                    "BACK_IN_STOCK"
                })
                .into(),
                sku.into(),
                (if price_alert {
                    Value::from(price * 8 / 10)
                } else {
                    Value::Null
                }),
                self.ts(200),
            ]);
        }
    }
}
