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
use crate::rule::Rule;
use crate::wishlist::{WishlistDeletion, WishlistMapping};
use crate::{Backend, ChainBuilder, DeletionHandler, KeyType, Scalar, SubjectColumns};

/// `[chain]` of a configuration: which standard handlers are left out.
///
/// ```toml
/// [chain]
/// disable = ["b2b-admin-guard", "cashback", "recurring-orders"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainConfig {
    /// Names of handlers that are not in the chain: not run, not in the schema check, not in
    /// coverage or the export. An unknown name is a build error listing the names there are.
    pub disable: Vec<String>,
}

/// The chain a configuration describes: the standard chain for `mappings`, without the
/// handlers `chain` disables, with every rule of `rules` at its position (each rule's subject
/// columns inheriting the mappings' global defaults).
///
/// ```
/// use erasure::{ChainConfig, StandardMappings, rule::Rule};
///
/// let chain_config: ChainConfig = toml::from_str("disable = [\"b2b-admin-guard\", \"cashback\"]")?;
/// let rule: Rule = toml::from_str(r#"
///     name = "newsletter"
///     position = 85
///     table = "newsletter_subscriber"
///     subject = { customer = "customer_id", email = "subscriber_email" }
///     action = "delete"
/// "#)?;
/// let chain = erasure::configured_chain::<sqlx::Sqlite>(
///     &StandardMappings::default(), &chain_config, &[rule],
/// ).build()?;
/// assert_eq!(chain.positions(), vec![10, 20, 30, 40, 50, 70, 80, 85, 100]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn configured_chain<DB: Backend>(
    mappings: &StandardMappings,
    chain: &ChainConfig,
    rules: &[Rule],
) -> ChainBuilder<DB> {
    let mut builder = standard_chain_with::<DB>(mappings);
    for name in &chain.disable {
        builder = builder.without(name);
    }
    let defaults = mappings.defaults();
    for rule in rules {
        let mut rule = rule.clone();
        rule.inherit(&defaults);
        builder = builder.register(rule.position(), rule.handler());
    }
    builder
}

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
    /// The value the shop stores in customer columns for "no account" when it is not `NULL`
    /// (`guest_marker = 0`): the default of every mapping's `subject.guest_marker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_marker: Option<Scalar>,
    /// What unlinking writes instead of `NULL` into link columns declared `NOT NULL`
    /// (`unlink = 0`): the default of every mapping's `subject.unlink`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlink: Option<Scalar>,
    /// How the shop stores subject keys when it differs from how they are given
    /// (`keys = "binary"` for a shop keyed by `BINARY(16)` UUIDs): the default of every
    /// mapping's `subject.keys` and of the customer mapping's `keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeyType>,
}

impl StandardMappings {
    /// The global defaults every mapping's (and every rule's) subject columns inherit.
    pub fn defaults(&self) -> SubjectColumns {
        SubjectColumns {
            guest_marker: self.guest_marker.clone(),
            unlink: self.unlink.clone(),
            keys: self.keys,
            ..SubjectColumns::default()
        }
    }

    /// These mappings with the global defaults filled into every mapping's subject columns
    /// that does not set its own.
    ///
    /// ```
    /// use erasure::{KeyType, Scalar, StandardMappings};
    ///
    /// let m: StandardMappings = toml::from_str(r#"
    ///     guest_marker = 0
    ///     keys = "binary"
    ///     [giftcard.subject]
    ///     customer = "holder_id"
    ///     guest_marker = -1
    /// "#)?;
    /// let resolved = m.resolved();
    /// assert_eq!(resolved.order.subject.guest_marker, Some(Scalar::Int(0)));
    /// assert_eq!(resolved.giftcard.subject.guest_marker, Some(Scalar::Int(-1)));
    /// assert_eq!(resolved.order.subject.keys, Some(KeyType::Binary));
    /// assert_eq!(resolved.customer.keys, Some(KeyType::Binary));
    /// # Ok::<(), toml::de::Error>(())
    /// ```
    pub fn resolved(&self) -> StandardMappings {
        let defaults = self.defaults();
        let mut m = self.clone();
        for cols in [
            &mut m.basket.subject,
            &mut m.wishlist.subject,
            &mut m.cashback.subject,
            &mut m.order.subject,
            &mut m.recurring.subject,
            &mut m.giftcard.subject,
            &mut m.alerts.subject,
        ] {
            cols.inherit(&defaults);
        }
        for table in &mut m.promotion.tables {
            table.subject.inherit(&defaults);
        }
        m.customer.keys = m.customer.keys.or(self.keys);
        m
    }
}

/// The ten standard handlers with their positions, for `mappings` (with its global defaults
/// [resolved](StandardMappings::resolved)), in position order.
pub fn standard_handlers<DB: Backend>(
    mappings: &StandardMappings,
) -> Vec<(u32, Box<dyn DeletionHandler<DB>>)> {
    let m = mappings.resolved();
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
