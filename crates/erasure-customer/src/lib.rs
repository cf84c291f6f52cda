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

use erasure_core::policy::{Policy, Reach, Step};
use erasure_core::{Backend, DeletionHandler, Ident, KeyType, SubjectColumns, async_trait, ident};
use serde::{Deserialize, Serialize};

/// The handler's position in the standard chain.
pub const POSITION: u32 = erasure_core::position::CUSTOMER;

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
    /// How these tables store the subject's keys when it differs from how they are given
    /// (`keys = "binary"`: Shopware's `BINARY(16)` ids, given as hex); see
    /// [`KeyType`]. Unset, the configuration's global `keys` applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeyType>,
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
            keys: None,
        }
    }
}

/// Customer deletion. See the crate docs.
#[derive(Debug, Clone)]
pub struct CustomerDeletion {
    mapping: CustomerMapping,
    policy: Policy,
}

impl Default for CustomerDeletion {
    fn default() -> Self {
        Self::new(CustomerMapping::default())
    }
}

impl CustomerDeletion {
    /// A handler over `mapping`.
    pub fn new(mapping: CustomerMapping) -> Self {
        let m = &mapping;
        let keyed = |columns: SubjectColumns| match m.keys {
            Some(keys) => columns.with_keys(keys),
            None => columns,
        };
        let users = Reach::subject(keyed(SubjectColumns::customer_user(
            m.users.customer.clone(),
            m.users.id.clone(),
        )));
        let customer = Reach::subject(keyed(SubjectColumns::customer(m.id.clone())));
        // Before any handler writes: the rows an order insert would lock for its foreign keys,
        // customer first as the insert does, so that the insert waits for the erasure instead
        // of deadlocking with its deletes (and then meets the foreign key of a customer that
        // is gone).
        // A platform with one row per person (Magento's `customer_entity`, Shopware's
        // `customer`) maps the users onto the customer table: its rows are then locked,
        // exported and deleted once, as users.
        let one_table = m.users.table == m.table;
        let mut policy = Policy::new("a guest has no account")
            .step(Step::lock(m.table.clone(), customer.clone()).key(m.id.clone()));
        if !one_table {
            policy.push(Step::lock(m.users.table.clone(), users.clone()).key(m.users.id.clone()));
        }
        // The emails go with the users: read first, for recorders that keep identifiers.
        if let Some(email) = &m.users.email {
            policy.push(Step::identify(
                m.users.table.clone(),
                users.clone(),
                email.clone(),
                "email",
            ));
        }
        for a in &m.addresses {
            policy.push(Step::delete(
                a.table.clone(),
                Reach::subject(keyed(SubjectColumns {
                    customer: Some(a.customer.clone()),
                    user: a.user.clone(),
                    ..SubjectColumns::default()
                })),
            ));
        }
        policy.push(Step::delete(m.users.table.clone(), users).key(m.users.id.clone()));
        if !one_table {
            // A table without a user column is left alone when selected users are erased:
            // the customer row goes only with a whole customer.
            policy.push(Step::delete(m.table.clone(), customer).key(m.id.clone()));
        }
        Self { mapping, policy }
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

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the default: the policy as it is.
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use erasure_core::{Dialect, Key, Subject, Value};

    #[test]
    fn binary_keys_bind_every_table_s_subject_as_bytes() {
        let mapping = CustomerMapping {
            table: ident!("customer"),
            users: UserTable {
                table: ident!("customer"),
                id: ident!("id"),
                customer: ident!("id"),
                email: Some(ident!("email")),
            },
            addresses: vec![AddressTable {
                table: ident!("customer_address"),
                customer: ident!("customer_id"),
                user: None,
            }],
            keys: Some(KeyType::Binary),
            ..CustomerMapping::default()
        };
        let handler = CustomerDeletion::new(mapping);
        let subject =
            Subject::customer(Key::text("a1010000000000000000000000000001").expect("key"));
        let mut bytes = vec![0u8; 16];
        bytes[0] = 0xa1;
        bytes[1] = 0x01;
        bytes[15] = 0x01;
        let steps = handler.policy.steps();
        assert!(steps.len() >= 4, "{steps:?}");
        for step in steps {
            let condition = step.condition(&subject).expect("a customer is reached");
            let statement = condition.to_sql();
            let (_, values) = statement.render(Dialect::MySql);
            assert!(!values.is_empty());
            assert!(
                values.iter().all(|v| **v == Value::Bytes(bytes.clone())),
                "{values:?}"
            );
        }
        // An integer key cannot be a binary id: it matches nothing.
        let none = handler.policy.steps()[0]
            .condition(&Subject::customer(1))
            .expect("condition");
        assert_eq!(none.to_sql().render(Dialect::MySql).0, "1 = 0");
    }
}
