//! The `DeletionHandler` trait: one unit of erasure logic for one area of data.

use std::sync::Arc;

use async_trait::async_trait;

use crate::backend::Backend;
use crate::context::ErasureContext;
use crate::error::HandlerError;
use crate::export::{ExportContext, Exported};
use crate::footprint::Footprint;
use crate::outcome::Outcome;
use crate::policy::Policy;

/// One unit of erasure logic for one area of data: baskets, orders, a loyalty-points table.
///
/// A handler erases the subject's rows in its area, inside the transaction of the chain it is
/// registered in, and returns an [`Outcome`] that says what it did. It is generic over the
/// [`Backend`] or written for one; it is object safe, so chains hold `Box<dyn DeletionHandler<DB>>`,
/// and `Box<H>` and `Arc<H>` are handlers too.
///
/// # Order
///
/// Handlers run one after another, **lowest position first**, whatever order they were
/// registered in. The standard chain runs the B2B guard at 5 before anything is touched and
/// deletes the customer row last, at 100, after every table that refers to it. Give your handler
/// a position after the handlers whose rows it needs to read and before the handlers that delete
/// the rows it refers to (for example 60 for a table keyed by customer, deleted before the
/// customer at 100).
///
/// # Errors
///
/// Return an error to abort the whole erasure: the chain rolls back everything every handler did
/// and returns an [`Error`](crate::Error) naming this handler and its position. A guard refuses
/// with [`HandlerError::refused`]; database errors convert with `?`. Error messages are logged:
/// they must not contain personal data.
///
/// # Panics
///
/// A panic inside `erase` is caught by the chain, which rolls back and returns
/// [`Error::Panicked`](crate::Error::Panicked). The panic message is dropped unread, since it might hold
/// personal data; it is still printed by the panic hook unless you install your own.
///
/// # Examples
///
/// A handler for an integrator's table, generic over the backend:
///
/// ```
/// use erasure_core::{async_trait, ident, Backend, DeletionHandler, ErasureContext,
///                    HandlerError, Outcome, SubjectColumns};
///
/// struct LoyaltyPoints;
///
/// #[async_trait]
/// impl<DB: Backend> DeletionHandler<DB> for LoyaltyPoints {
///     fn name(&self) -> &str {
///         "loyalty-points"
///     }
///
///     fn description(&self) -> &str {
///         "deletes the subject's loyalty point balances"
///     }
///
///     async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
///         let cols = SubjectColumns::customer(ident!("customer_id"));
///         let Some(filter) = cx.subject_filter(&cols, "no loyalty points for this kind of subject")
///         else {
///             return cx.done(); // the note is in the report
///         };
///         cx.delete(&ident!("loyalty_points"), filter).await?; // counted as deleted
///         cx.done()
///     }
/// }
/// ```
///
/// Running it in a chain, on an in-memory SQLite database:
///
/// ```
/// # use erasure_core::{async_trait, ident, Backend, DeletionHandler, ErasureContext,
/// #                    HandlerError, Outcome, SubjectColumns};
/// # struct LoyaltyPoints;
/// # #[async_trait]
/// # impl<DB: Backend> DeletionHandler<DB> for LoyaltyPoints {
/// #     fn name(&self) -> &str { "loyalty-points" }
/// #     fn description(&self) -> &str { "deletes the subject's loyalty point balances" }
/// #     async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
/// #         let cols = SubjectColumns::customer(ident!("customer_id"));
/// #         let Some(filter) = cx.subject_filter(&cols, "no loyalty points") else {
/// #             return cx.done();
/// #         };
/// #         cx.delete(&ident!("loyalty_points"), filter).await?;
/// #         cx.done()
/// #     }
/// # }
/// use erasure_core::{Chain, Erasure, Subject};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = erasure_core::sqlite::open("sqlite::memory:", 1).await?;
/// sqlx::query("CREATE TABLE loyalty_points (customer_id INTEGER, points INTEGER)")
///     .execute(&pool).await?;
/// sqlx::query("INSERT INTO loyalty_points VALUES (42, 100), (42, 5), (7, 1)")
///     .execute(&pool).await?;
///
/// let chain = Chain::<sqlx::Sqlite>::builder().register(60, LoyaltyPoints).build()?;
/// let report = chain.erase(&pool, &Erasure::new(Subject::customer(42))).await?;
/// assert_eq!(report.totals().deleted, 2);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
#[async_trait]
pub trait DeletionHandler<DB: Backend>: Send + Sync {
    /// A short, stable name (`wishlist`, `order-anonymization`), used in reports, traces and
    /// errors.
    fn name(&self) -> &str;

    /// One line for operators: what the handler does.
    fn description(&self) -> &str;

    /// The handler's [`Policy`], when it declares one: then its footprint, its erasure and
    /// its export follow from it by default (see [`crate::policy`]). `None` by default.
    fn policy(&self) -> Option<&Policy> {
        None
    }

    /// The tables and columns the handler touches: by default its policy's footprint (empty
    /// without a policy). Coverage checks use it to find tables no handler covers.
    fn footprint(&self) -> Footprint {
        self.policy().map(Policy::footprint).unwrap_or_default()
    }

    /// Reads, locks and decides before any handler of the chain writes: the chain runs every
    /// handler's `prepare` in position order, then every handler's [`erase`](Self::erase). A
    /// guard refuses here, so that nothing was written when it does; a handler locks here the
    /// rows whose deletion must not race with inserts (the customer row, which a concurrent
    /// order insert would otherwise lock first), and reads what it hands over before a later
    /// handler deletes it.
    ///
    /// The default runs the [`policy`](Self::policy)'s lock and identify steps
    /// ([`ErasureContext::prepare`]); without a policy it does nothing.
    ///
    /// # Errors
    ///
    /// Any error or refusal aborts and rolls back the whole erasure, as for `erase`.
    async fn prepare(&self, cx: &mut ErasureContext<'_, DB>) -> Result<(), HandlerError> {
        match self.policy() {
            Some(policy) => cx.prepare(policy).await,
            None => Ok(()),
        }
    }

    /// Erases the subject's data in this handler's area, inside the chain's transaction.
    ///
    /// The default carries out the handler's [`policy`](Self::policy) with
    /// [`ErasureContext::apply`]; a handler without a policy must implement this.
    ///
    /// # Errors
    ///
    /// Any error aborts and rolls back the whole erasure; see the trait docs.
    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        match self.policy() {
            Some(policy) => cx.apply(policy).await,
            None => Err(HandlerError::Config(
                "the handler declares neither a policy nor an erase step".into(),
            )),
        }
    }

    /// Whether [`erase`](Self::erase) is the default, the [`policy`](Self::policy) carried
    /// out as it is: the chain may then plan the policy's statements itself and send them
    /// together with those of the neighbouring handlers that say so too (on SQLite, one round
    /// trip for all of them; on PostgreSQL, one writable `WITH` statement for each run of
    /// neighbours that do not touch a table an earlier one of them writes), without calling
    /// `erase`. Reports count the rows the same way.
    ///
    /// `false` by default: return `true` only from a handler with a policy that does not
    /// override `erase` (every standard handler and rule does). A handler that overrides
    /// `erase` runs it as written, its statements one at a time, in its place in the chain.
    fn planned(&self) -> bool {
        false
    }

    /// Writes the subject's data in this handler's area into an export (the right of access,
    /// GDPR Articles 15 and 20): with the same mapping, the rows [`erase`](Self::erase) would
    /// delete, anonymize or mark, through [`ExportContext::rows`]. It runs inside a read-only
    /// snapshot transaction and must not write.
    ///
    /// The default exports what the handler's [`policy`](Self::policy) reaches
    /// ([`ExportContext::export_policy`]). Without a policy there is no export step: it returns
    /// [`Exported::NotSupported`], and the document lists the handler under `not_included`, so
    /// that a reader sees what is missing.
    ///
    /// # Errors
    ///
    /// Any error aborts the export; see [`crate::export`].
    async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
        match self.policy() {
            Some(policy) => cx.export_policy(policy).await,
            None => Ok(Exported::NotSupported),
        }
    }
}

#[async_trait]
impl<DB: Backend, H: DeletionHandler<DB> + ?Sized> DeletionHandler<DB> for Box<H> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn policy(&self) -> Option<&Policy> {
        (**self).policy()
    }

    fn description(&self) -> &str {
        (**self).description()
    }

    fn footprint(&self) -> Footprint {
        (**self).footprint()
    }

    fn planned(&self) -> bool {
        (**self).planned()
    }

    async fn prepare(&self, cx: &mut ErasureContext<'_, DB>) -> Result<(), HandlerError> {
        (**self).prepare(cx).await
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        (**self).erase(cx).await
    }

    async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
        (**self).export(cx).await
    }
}

#[async_trait]
impl<DB: Backend, H: DeletionHandler<DB> + ?Sized> DeletionHandler<DB> for Arc<H> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn policy(&self) -> Option<&Policy> {
        (**self).policy()
    }

    fn description(&self) -> &str {
        (**self).description()
    }

    fn footprint(&self) -> Footprint {
        (**self).footprint()
    }

    fn planned(&self) -> bool {
        (**self).planned()
    }

    async fn prepare(&self, cx: &mut ErasureContext<'_, DB>) -> Result<(), HandlerError> {
        (**self).prepare(cx).await
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        (**self).erase(cx).await
    }

    async fn export(&self, cx: &mut ExportContext<'_, DB>) -> Result<Exported, HandlerError> {
        (**self).export(cx).await
    }
}
