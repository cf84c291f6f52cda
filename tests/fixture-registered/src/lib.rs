//! A crate that registers a handler statically with `register_handler!`, as an integrator's
//! crate would: loyalty points at position 60, between promotion codes (50) and gift cards (70).
//!
//! The registration only exists if this crate is linked into the binary, so users of it
//! reference [`LoyaltyPoints`] (or [`DDL`]) somewhere.
#![warn(missing_docs)]

use erasure_core::footprint::Footprint;
use erasure_core::sql::Delete;
use erasure_core::{
    Backend, DeletionHandler, ErasureContext, HandlerError, Outcome, SubjectColumns, async_trait,
    ident, register_handler,
};

/// The position the handler registers at.
pub const POSITION: u32 = 60;

/// The table the handler erases (SQLite, PostgreSQL and MySQL alike).
pub const DDL: &str = "CREATE TABLE loyalty_points (\
    id BIGINT PRIMARY KEY, \
    customer_id BIGINT NOT NULL REFERENCES customers (id), \
    user_id BIGINT REFERENCES users (id), \
    member_name VARCHAR(200), \
    points BIGINT NOT NULL)";

/// Deletes the subject's loyalty points.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoyaltyPoints;

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for LoyaltyPoints {
    fn name(&self) -> &str {
        "loyalty-points"
    }

    fn description(&self) -> &str {
        "deletes the subject's loyalty point balances"
    }

    fn footprint(&self) -> Footprint {
        Footprint::new().delete(
            ident!("loyalty_points"),
            [ident!("customer_id"), ident!("user_id")],
        )
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let cols = SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id"));
        let Some(filter) = cx.subject_condition(&cols) else {
            return Ok(Outcome::new());
        };
        let n = cx
            .execute(Delete::new(ident!("loyalty_points"), filter))
            .await?;
        Ok(Outcome::new().deleted(ident!("loyalty_points"), n))
    }
}

#[cfg(feature = "sqlite")]
register_handler!(POSITION, LoyaltyPoints, [sqlx::Sqlite]);
#[cfg(feature = "postgres")]
register_handler!(POSITION, LoyaltyPoints, [sqlx::Postgres]);
#[cfg(feature = "mysql")]
register_handler!(POSITION, LoyaltyPoints, [sqlx::MySql]);
