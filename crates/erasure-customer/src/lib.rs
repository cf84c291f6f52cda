//! Position 100: the customer itself.
//!
//! Runs last, after every handler that deletes or unlinks rows referring to the customer or its
//! users. For a whole customer it deletes the customer's addresses, users and the customer row;
//! for selected users of a customer, those users and their own addresses (the customer, its other
//! users and its shared addresses stay). A guest has no account: nothing to do.
//!
//! If some table still refers to the customer (one no handler covers), the database's foreign
//! key makes this delete fail and the whole erasure rolls back.
//!
//! When a [recorder](erasure_core::recorder) of the chain keeps identifiers (a suppression
//! list), the handler first reads the email addresses of the users it deletes, with one query,
//! and hands them over (kind `"email"`) before they are gone. It never logs them.
//!
//! Export: the section holds the rows the erasure deletes: the customer row (for a whole
//! customer), the subject's users (by id) and their addresses (ordered by customer and user).
//! A guest has no account: a note says so.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use erasure_core::footprint::Footprint;
use erasure_core::sql::{Condition, Delete, Select};
use erasure_core::{
    Backend, DeletionHandler, ErasureContext, ExportContext, Exported, HandlerError, Ident,
    Outcome, Subject, SubjectColumns, Value, async_trait, ident,
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
/// users = { table = "users", id = "id", customer = "customer_id", email = "email" }
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
    /// Its email column, read before the users are deleted for recorders that keep
    /// identifiers (absent or `""` for none; the default mapping names `email`).
    #[serde(default, with = "erasure_core::mapping::optional_ident")]
    pub email: Option<Ident>,
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
                email: Some(ident!("email")),
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
        if let Some(email) = &m.users.email {
            fp = fp.read(m.users.table.clone(), [email.clone()]);
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
        let user_filter = cx.subject_condition(&self.user_columns());
        // The emails go with the users: read them first, for recorders that keep identifiers.
        if cx.wants_identifiers()
            && let (Some(email), Some(filter)) = (&m.users.email, &user_filter)
        {
            let rows = cx
                .fetch_all(
                    Select::column(m.users.table.clone(), email.clone()).filter(filter.clone()),
                )
                .await?;
            for row in rows {
                if let Some(Value::Text(value)) = row.get_index(0) {
                    cx.identifier("email", value.clone());
                }
            }
        }
        let mut outcome = Outcome::new();
        for a in &m.addresses {
            let Some(filter) = cx.subject_condition(&address_columns(a)) else {
                continue;
            };
            let n = cx.execute(Delete::new(a.table.clone(), filter)).await?;
            outcome = outcome.deleted(a.table.clone(), n);
        }
        if let Some(filter) = user_filter {
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

    async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
        let m = &self.mapping;
        if matches!(cx.subject(), Subject::Guest { .. }) {
            cx.note("a guest has no account");
            return Ok(Exported::Written);
        }
        // The rows `erase` deletes, the account first: the customer row (for a whole customer
        // only), the users, their addresses.
        if let Subject::Customer { customer } = cx.subject() {
            let filter = Condition::eq(m.id.clone(), customer.to_value());
            cx.rows(Select::columns(m.table.clone(), []).filter(filter))
                .await?;
        }
        if let Some(filter) = cx.subject_condition(&self.user_columns()) {
            cx.rows(
                Select::columns(m.users.table.clone(), [])
                    .filter(filter)
                    .order_by([m.users.id.clone()]),
            )
            .await?;
        }
        for a in &m.addresses {
            let cols = address_columns(a);
            let Some(filter) = cx.subject_condition(&cols) else {
                continue;
            };
            // The mapping names no primary key: rows come ordered by the subject columns.
            cx.rows(
                Select::columns(a.table.clone(), [])
                    .filter(filter)
                    .order_by(cols.columns().cloned()),
            )
            .await?;
        }
        Ok(Exported::Written)
    }
}

impl CustomerDeletion {
    /// The user table's subject columns: a user belongs to a customer and is itself a user.
    fn user_columns(&self) -> SubjectColumns {
        let users = &self.mapping.users;
        SubjectColumns::customer_user(users.customer.clone(), users.id.clone())
    }
}

/// An address table's subject columns.
fn address_columns(a: &AddressTable) -> SubjectColumns {
    SubjectColumns {
        customer: Some(a.customer.clone()),
        user: a.user.clone(),
        email: None,
    }
}
