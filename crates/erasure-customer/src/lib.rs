//! Position 100: the customer itself.
//!
//! Runs last, after every handler that deletes or unlinks rows referring to the customer or its
//! users. For a whole customer it deletes the customer's addresses, users and the customer row;
//! for selected users of a customer, those users and their own addresses (the customer, its other
//! users and its shared addresses stay). A guest has no account: nothing to do.
//!
//! If some table still refers to the customer (one no handler covers), the database's foreign
//! key makes this delete fail and the whole erasure rolls back.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use erasure_core::footprint::Footprint;
use erasure_core::sql::{Condition, Delete};
use erasure_core::{
    Backend, DeletionHandler, ErasureContext, HandlerError, Ident, Outcome, Subject,
    SubjectColumns, async_trait, ident,
};
use serde::{Deserialize, Serialize};

/// The handler's position in the standard chain.
pub const POSITION: u32 = 100;

/// Where customers, users and addresses live.
///
/// ```toml
/// [customer]
/// table = "customers"
/// id = "id"
/// users = { table = "users", id = "id", customer = "customer_id" }
/// addresses = { table = "addresses", customer = "customer_id", user = "user_id" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CustomerMapping {
    /// The customer table.
    pub table: Ident,
    /// Its primary key.
    pub id: Ident,
    /// The user table.
    pub users: UserTable,
    /// The address tables (deleted before users).
    pub addresses: Vec<AddressTable>,
}

/// The user table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserTable {
    /// The table.
    pub table: Ident,
    /// Its primary key.
    pub id: Ident,
    /// Its customer column.
    pub customer: Ident,
}

/// An address table, keyed by customer and (optionally) user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressTable {
    /// The table.
    pub table: Ident,
    /// Its customer column.
    pub customer: Ident,
    /// Its user column, if addresses belong to users (absent or `""` for none).
    #[serde(default, with = "erasure_core::mapping::optional_ident")]
    pub user: Option<Ident>,
}

impl Default for CustomerMapping {
    fn default() -> Self {
        Self {
            table: ident!("customers"),
            id: ident!("id"),
            users: UserTable {
                table: ident!("users"),
                id: ident!("id"),
                customer: ident!("customer_id"),
            },
            addresses: vec![AddressTable {
                table: ident!("addresses"),
                customer: ident!("customer_id"),
                user: Some(ident!("user_id")),
            }],
        }
    }
}

/// Customer deletion. See the crate docs.
#[derive(Debug, Clone, Default)]
pub struct CustomerDeletion {
    mapping: CustomerMapping,
}

impl CustomerDeletion {
    /// A handler over `mapping`.
    pub fn new(mapping: CustomerMapping) -> Self {
        Self { mapping }
    }

    /// The mapping.
    pub fn mapping(&self) -> &CustomerMapping {
        &self.mapping
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for CustomerDeletion {
    fn name(&self) -> &str {
        "customer"
    }

    fn description(&self) -> &str {
        "deletes the subject's addresses and users and, for a whole customer, the customer"
    }

    fn footprint(&self) -> Footprint {
        let m = &self.mapping;
        let mut fp = Footprint::new();
        for a in &m.addresses {
            fp = fp.delete(
                a.table.clone(),
                [a.customer.clone()].into_iter().chain(a.user.clone()),
            );
        }
        fp.delete(
            m.users.table.clone(),
            [m.users.id.clone(), m.users.customer.clone()],
        )
        .delete(m.table.clone(), [m.id.clone()])
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let m = &self.mapping;
        if matches!(cx.subject(), Subject::Guest { .. }) {
            return Ok(Outcome::new().note("a guest has no account"));
        }
        let mut outcome = Outcome::new();
        for a in &m.addresses {
            let cols = SubjectColumns {
                customer: Some(a.customer.clone()),
                user: a.user.clone(),
                email: None,
            };
            let Some(filter) = cx.subject_condition(&cols) else {
                continue;
            };
            let n = cx.execute(Delete::new(a.table.clone(), filter)).await?;
            outcome = outcome.deleted(a.table.clone(), n);
        }
        let user_cols = SubjectColumns::customer_user(m.users.customer.clone(), m.users.id.clone());
        if let Some(filter) = cx.subject_condition(&user_cols) {
            let n = cx
                .execute(Delete::new(m.users.table.clone(), filter))
                .await?;
            outcome = outcome.deleted(m.users.table.clone(), n);
        }
        if let Subject::Customer { customer } = cx.subject() {
            let filter = Condition::eq(m.id.clone(), customer.to_value());
            let n = cx.execute(Delete::new(m.table.clone(), filter)).await?;
            outcome = outcome.deleted(m.table.clone(), n);
        }
        Ok(outcome)
    }
}
