//! Static registration of handlers with `inventory`.
//!
//! A crate registers a handler at a position with [`register_handler!`](crate::register_handler!);
//! [`ChainBuilder::with_registered`](crate::ChainBuilder::with_registered) collects every
//! registration linked into the binary. `inventory` yields registrations in no particular order,
//! so the builder sorts them by position and rejects duplicates itself.
//!
//! A registration exists only if the crate that submits it is linked: a handler crate that no
//! code references may be dropped by the linker with its registrations. Reference each handler
//! crate you rely on (the `erasure` facade does this for the standard handlers it enables), or use
//! the builder's explicit [`register`](crate::ChainBuilder::register), which always works.

use std::fmt;

use crate::backend::Backend;
use crate::handler::DeletionHandler;

/// A handler registered statically for backend `DB` at a position.
///
/// Created by [`register_handler!`](crate::register_handler!); not usually named directly.
pub struct Registration<DB: Backend> {
    position: u32,
    factory: fn() -> Box<dyn DeletionHandler<DB>>,
}

impl<DB: Backend> Registration<DB> {
    /// A registration of the handler built by `factory` at `position`.
    pub const fn new(position: u32, factory: fn() -> Box<dyn DeletionHandler<DB>>) -> Self {
        Self { position, factory }
    }

    /// The position the handler is registered at.
    pub fn position(&self) -> u32 {
        self.position
    }

    /// Builds the handler.
    pub fn handler(&self) -> Box<dyn DeletionHandler<DB>> {
        (self.factory)()
    }
}

impl<DB: Backend> fmt::Debug for Registration<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A backend whose handlers can be registered statically: every [`Backend`] of this crate.
/// The registry lives beside the builder, not in the backend layer, which knows nothing of
/// handlers.
pub trait Registered: Backend + sealed::Sealed {
    /// The handlers registered for this backend with
    /// [`register_handler!`](crate::register_handler!) and linked into the binary, in no
    /// particular order.
    fn registrations() -> Vec<&'static Registration<Self>>;
}

macro_rules! registered {
    ($feature:literal, $db:ty) => {
        #[cfg(feature = $feature)]
        inventory::collect!(Registration<$db>);

        #[cfg(feature = $feature)]
        impl sealed::Sealed for $db {}

        #[cfg(feature = $feature)]
        impl Registered for $db {
            fn registrations() -> Vec<&'static Registration<Self>> {
                inventory::iter::<Registration<$db>>.into_iter().collect()
            }
        }
    };
}

registered!("sqlite", sqlx::Sqlite);
registered!("postgres", sqlx::Postgres);
registered!("mysql", sqlx::MySql);

/// Registers a handler at a position for one or more backends, for
/// [`ChainBuilder::with_registered`](crate::ChainBuilder::with_registered).
///
/// Place it at module level (it runs nothing; the registration exists from program start). The
/// expression builds the handler and is evaluated each time a chain is built; it must not capture
/// anything.
///
/// # Examples
///
/// ```
/// use erasure_core::{async_trait, register_handler, DeletionHandler, ErasureContext,
///                    HandlerError, Outcome, Backend};
///
/// #[derive(Default)]
/// struct LoyaltyPoints;
///
/// #[async_trait]
/// impl<DB: Backend> DeletionHandler<DB> for LoyaltyPoints {
///     fn name(&self) -> &str { "loyalty-points" }
///     fn description(&self) -> &str { "deletes the subject's loyalty points" }
///     async fn erase(&self, _cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
///         Ok(Outcome::new())
///     }
/// }
///
/// register_handler!(60, LoyaltyPoints::default(), [sqlx::Sqlite]);
/// ```
#[macro_export]
macro_rules! register_handler {
    ($position:expr, $handler:expr, [$($db:ty),+ $(,)?]) => {
        $(
            $crate::inventory::submit! {
                $crate::Registration::<$db>::new($position, || ::std::boxed::Box::new($handler))
            }
        )+
    };
}
