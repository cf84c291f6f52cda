//! Position 5: the B2B sole-admin guard.
//!
//! A B2B customer's account is administered by its account admins. Erasing the only admin of an
//! account that stays (one user of the customer, not the whole customer) would leave the company
//! with nobody able to manage it, so the guard refuses: the chain aborts, nothing changes, and the
//! error names this handler and position 5. An operator appoints another admin first.
//!
//! Otherwise the guard removes the subject's role assignments: all of a customer's when the whole
//! customer goes, the selected users' when users go. It reads the admin assignments with
//! `FOR UPDATE` (PostgreSQL, MySQL), so two erasures of the last two admins of one customer
//! cannot both see the other as remaining.
//!
//! Export: the section holds the subject's role assignments (by user and role), the rows the
//! guard removes: all of a customer's, or the selected users'. It decides nothing while
//! exporting, and takes no locks. Guests hold no roles: the section says so in a note.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use erasure_core::footprint::Footprint;
use erasure_core::policy::{Policy, Reach, Step};
use erasure_core::sql::{Condition, Select};
use erasure_core::{
    Backend, DeletionHandler, ErasureContext, HandlerError, Ident, Key, Subject, SubjectColumns,
    Value, async_trait, ident,
};
use serde::{Deserialize, Serialize};

/// The guard's position in the standard chain.
pub const POSITION: u32 = erasure_core::position::B2B_ADMIN_GUARD;

/// The reason given when the guard refuses.
pub const SOLE_ADMIN: &str =
    "the subject is the only account admin of a B2B customer; appoint another admin first";

/// Where role assignments live.
///
/// ```toml
/// [b2b]
/// table = "b2b_roles"
/// customer = "customer_id"
/// user = "user_id"
/// role = "role"
/// admin_role = "ACCOUNT_ADMIN"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct B2bMapping {
    /// The role-assignment table.
    pub table: Ident,
    /// Its customer column.
    pub customer: Ident,
    /// Its user column.
    pub user: Ident,
    /// Its role column.
    pub role: Ident,
    /// The value of the role column that makes a user an account admin.
    pub admin_role: String,
}

impl Default for B2bMapping {
    fn default() -> Self {
        Self {
            table: ident!("b2b_roles"),
            customer: ident!("customer_id"),
            user: ident!("user_id"),
            role: ident!("role"),
            admin_role: "ACCOUNT_ADMIN".to_owned(),
        }
    }
}

/// The B2B sole-admin guard. See the crate docs.
///
/// ```
/// use erasure_b2b::{B2bAdminGuard, POSITION};
/// use erasure_core::{Backend, ChainBuilder};
///
/// fn with_guard<DB: Backend>(builder: ChainBuilder<DB>) -> ChainBuilder<DB> {
///     builder.register(POSITION, B2bAdminGuard::default())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct B2bAdminGuard {
    mapping: B2bMapping,
    policy: Policy,
}

impl Default for B2bAdminGuard {
    fn default() -> Self {
        Self::new(B2bMapping::default())
    }
}

impl B2bAdminGuard {
    /// A guard over `mapping`.
    pub fn new(mapping: B2bMapping) -> Self {
        // `customer = ?` for a customer, `user IN (…) AND customer = ?` for selected users.
        let roles = Reach::subject(SubjectColumns::customer_user(
            mapping.customer.clone(),
            mapping.user.clone(),
        ));
        let policy = Policy::new("guests hold no B2B roles")
            .step(Step::delete(mapping.table.clone(), roles));
        Self { mapping, policy }
    }

    /// The mapping.
    pub fn mapping(&self) -> &B2bMapping {
        &self.mapping
    }

    /// Refuses when the erased users include every account admin of their customer.
    async fn guard<DB: Backend>(
        &self,
        cx: &mut ErasureContext<'_, DB>,
        customer: &Key,
        users: &[Key],
    ) -> Result<(), HandlerError> {
        let m = &self.mapping;
        let admins = cx
            .fetch_all(
                Select::column(m.table.clone(), m.user.clone())
                    .filter(Condition::eq(m.customer.clone(), customer.to_value()))
                    .filter(Condition::eq(m.role.clone(), m.admin_role.as_str()))
                    .for_update(),
            )
            .await?;
        let erased: Vec<Value> = users.iter().map(Key::to_value).collect();
        let is_erased = |row: &erasure_core::Row| {
            row.get_index(0)
                .is_some_and(|v| erased.iter().any(|e| same_key(e, v)))
        };
        let erased_admins = admins.iter().filter(|r| is_erased(r)).count();
        if erased_admins > 0 && erased_admins == admins.len() {
            return Err(HandlerError::refused(SOLE_ADMIN));
        }
        Ok(())
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for B2bAdminGuard {
    fn name(&self) -> &str {
        "b2b-admin-guard"
    }

    fn description(&self) -> &str {
        "refuses to erase the only account admin of a B2B customer; removes the subject's roles"
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn planned(&self) -> bool {
        // `erase` is the default: the policy as it is.
        true
    }

    fn footprint(&self) -> Footprint {
        let m = &self.mapping;
        self.policy
            .footprint()
            .read(m.table.clone(), [m.role.clone()])
    }

    /// The guard decides before any handler of the chain writes.
    async fn prepare(&self, cx: &mut ErasureContext<'_, DB>) -> Result<(), HandlerError> {
        if let Subject::Users { customer, users } = cx.subject() {
            self.guard(cx, customer, users).await?;
        }
        Ok(())
    }
}

/// Compares a subject key with a value read back: integer keys may come back as integers of
/// any width, text keys as text.
fn same_key(key: &Value, read: &Value) -> bool {
    match (key, read) {
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::Text(a), Value::Text(b)) => a == b,
        (Value::Int(a), Value::Text(b)) | (Value::Text(b), Value::Int(a)) => b.parse() == Ok(*a),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_defaults_and_overrides_deserialize() {
        let m: B2bMapping = toml::from_str("table = \"company_roles\"").unwrap();
        assert_eq!(m.table.as_str(), "company_roles");
        assert_eq!(m.admin_role, "ACCOUNT_ADMIN");
        assert!(toml::from_str::<B2bMapping>("tabel = \"x\"").is_err());
        assert!(toml::from_str::<B2bMapping>("table = \"x;y\"").is_err());
    }

    #[test]
    fn keys_compare_across_representations() {
        assert!(same_key(&Value::Int(7), &Value::Int(7)));
        assert!(same_key(&Value::Int(7), &Value::Text("7".into())));
        assert!(!same_key(&Value::Int(7), &Value::Int(8)));
    }
}
