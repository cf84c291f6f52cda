//! Position 20: wishlist deletion.
//!
//! Wishlists (and their items) are personal and serve no legal purpose once the subject is gone,
//! so they are deleted now: the items of the subject's wishlists first, then the wishlists.
//!
//! Export: the section holds the subject's wishlists (by id) and their items (by wishlist), the
//! rows the erasure deletes. Guests have no wishlists: the section says so in a note.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use erasure_core::footprint::Footprint;
use erasure_core::sql::{Condition, Delete, Select};
use erasure_core::{
    Backend, ChildTable, DeletionHandler, ErasureContext, ExportContext, Exported, HandlerError,
    Ident, Outcome, SubjectColumns, async_trait, ident,
};
use serde::{Deserialize, Serialize};

/// The handler's position in the standard chain.
pub const POSITION: u32 = 20;

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
#[derive(Debug, Clone, Default)]
pub struct WishlistDeletion {
    mapping: WishlistMapping,
}

impl WishlistDeletion {
    /// A handler over `mapping`.
    pub fn new(mapping: WishlistMapping) -> Self {
        Self { mapping }
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

    fn footprint(&self) -> Footprint {
        let m = &self.mapping;
        Footprint::new()
            .read(m.table.clone(), [m.id.clone()])
            .delete(m.items.table.clone(), [m.items.parent.clone()])
            .delete(m.table.clone(), m.subject.columns().cloned())
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let m = &self.mapping;
        let Some(filter) = cx.subject_condition(&m.subject) else {
            return Ok(Outcome::new().note("no wishlists for this kind of subject"));
        };
        let lists = Select::column(m.table.clone(), m.id.clone()).filter(filter.clone());
        let items = cx
            .execute(Delete::new(
                m.items.table.clone(),
                Condition::in_select(m.items.parent.clone(), lists),
            ))
            .await?;
        let lists = cx.execute(Delete::new(m.table.clone(), filter)).await?;
        Ok(Outcome::new()
            .deleted(m.items.table.clone(), items)
            .deleted(m.table.clone(), lists))
    }

    async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
        let m = &self.mapping;
        let Some(filter) = cx.subject_condition(&m.subject) else {
            cx.note("no wishlists for this kind of subject");
            return Ok(Exported::Written);
        };
        cx.rows_with_children(&m.table, &m.id, filter, &[&m.items])
            .await?;
        Ok(Exported::Written)
    }
}
