//! Position 20: wishlist deletion.
//!
//! Wishlists (and their items) are personal and serve no legal purpose once the subject is gone,
//! so they are deleted now: the items of the subject's wishlists first, then the wishlists.
//!
//! Export: the section holds the subject's wishlists (by id) and their items (by wishlist), the
//! rows the erasure deletes. Guests have no wishlists: the section says so in a note.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use erasure_core::policy::{Policy, Reach, Step};
use erasure_core::{
    Backend, ChildTable, DeletionHandler, Ident, SubjectColumns, async_trait, ident,
};
use serde::{Deserialize, Serialize};

/// The handler's position in the standard chain.
pub const POSITION: u32 = erasure_core::position::WISHLIST;

/// Where wishlists live.
///
/// ```toml
/// [wishlist]
/// table = "wishlists"
/// items = { table = "wishlist_items", parent = "wishlist_id" }
/// [wishlist.subject]
/// customer = "customer_id"
/// user = "user_id"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WishlistMapping {
    /// The wishlist table.
    pub table: Ident,
    /// Its primary key.
    pub id: Ident,
    /// The columns that point at the subject.
    pub subject: SubjectColumns,
    /// The wishlist items.
    pub items: ChildTable,
}

impl Default for WishlistMapping {
    fn default() -> Self {
        Self {
            table: ident!("wishlists"),
            id: ident!("id"),
            subject: SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id")),
            items: ChildTable::new(ident!("wishlist_items"), ident!("wishlist_id")),
        }
    }
}

/// Wishlist deletion. See the crate docs.
#[derive(Debug, Clone)]
pub struct WishlistDeletion {
    mapping: WishlistMapping,
    policy: Policy,
}

impl Default for WishlistDeletion {
    fn default() -> Self {
        Self::new(WishlistMapping::default())
    }
}

impl WishlistDeletion {
    /// A handler over `mapping`.
    pub fn new(mapping: WishlistMapping) -> Self {
        let m = &mapping;
        let lists = Reach::subject(m.subject.clone());
        let policy = Policy::new("no wishlists for this kind of subject")
            // Items first: they refer to the wishlists.
            .step(Step::delete(
                m.items.table.clone(),
                Reach::child(&m.items, &m.table, &m.id, lists.clone()),
            ))
            .step(Step::delete(m.table.clone(), lists).key(m.id.clone()));
        Self { mapping, policy }
    }

    /// The mapping.
    pub fn mapping(&self) -> &WishlistMapping {
        &self.mapping
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for WishlistDeletion {
    fn name(&self) -> &str {
        "wishlist-deletion"
    }

    fn description(&self) -> &str {
        "deletes the subject's wishlists and their items"
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the default: the policy as it is.
        true
    }
}
