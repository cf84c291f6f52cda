//! A handler that fails on demand, to prove that failures roll everything back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use erasure_core::sql::{Condition, Delete};
use erasure_core::{Backend, DeletionHandler, ErasureContext, HandlerError, Ident, Outcome};

/// How a [`FaultHandler`] fails when armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Returns an error.
    Error,
    /// Refuses, as a guard does.
    Refuse,
    /// Panics.
    Panic,
}

/// A switch shared between a test and a [`FaultHandler`].
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch(Arc<AtomicBool>);

impl FaultSwitch {
    /// Arms the handler: its next run fails.
    pub fn arm(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Disarms it.
    pub fn disarm(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// Whether it is armed.
    pub fn is_armed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A handler that does nothing (or first deletes every row of a table, to prove its own writes
/// roll back too) and then fails the way its [`Fault`] says, while its switch is armed.
///
/// ```
/// use erasure_testkit::fault::{Fault, FaultHandler};
///
/// let (handler, switch) = FaultHandler::new("fault", Fault::Error);
/// switch.arm();
/// ```
#[derive(Debug, Clone)]
pub struct FaultHandler {
    name: String,
    fault: Fault,
    switch: FaultSwitch,
    wipe: Option<Ident>,
}

impl FaultHandler {
    /// A handler failing with `fault` while the returned switch is armed.
    pub fn new(name: impl Into<String>, fault: Fault) -> (Self, FaultSwitch) {
        let switch = FaultSwitch::default();
        (
            Self {
                name: name.into(),
                fault,
                switch: switch.clone(),
                wipe: None,
            },
            switch,
        )
    }

    /// A handler that is always armed.
    pub fn always(name: impl Into<String>, fault: Fault) -> Self {
        let (h, s) = Self::new(name, fault);
        s.arm();
        h
    }

    /// Before failing, deletes every row of `table`.
    pub fn wiping(mut self, table: Ident) -> Self {
        self.wipe = Some(table);
        self
    }
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for FaultHandler {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        "fails on demand (test kit)"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let mut outcome = Outcome::new();
        if let Some(table) = &self.wipe {
            let n = cx
                .execute(Delete::new(table.clone(), Condition::And(Vec::new())))
                .await?;
            outcome = outcome.deleted(table.clone(), n);
        }
        if !self.switch.is_armed() {
            return Ok(outcome);
        }
        match self.fault {
            Fault::Error => Err(HandlerError::other("injected fault")),
            Fault::Refuse => Err(HandlerError::refused("injected refusal")),
            Fault::Panic => panic!("injected panic"),
        }
    }
}

/// Wraps a handler: runs it, then fails the way `fault` says while the switch is armed. The
/// inner handler's writes have happened when the failure comes, so a test proves that they
/// are rolled back too.
///
/// ```
/// use erasure_testkit::fault::{Fault, Faulty};
/// # use erasure_core::{async_trait, Backend, DeletionHandler, ErasureContext, HandlerError, Outcome};
/// # struct Real;
/// # #[async_trait] impl<DB: Backend> DeletionHandler<DB> for Real {
/// #   fn name(&self) -> &str { "real" } fn description(&self) -> &str { "" }
/// #   async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> { Ok(Outcome::new()) } }
/// let (handler, switch) = Faulty::new(Real, Fault::Error);
/// switch.arm();
/// ```
#[derive(Debug, Clone)]
pub struct Faulty<H> {
    inner: H,
    fault: Fault,
    switch: FaultSwitch,
}

impl<H> Faulty<H> {
    /// Wraps `inner`.
    pub fn new(inner: H, fault: Fault) -> (Self, FaultSwitch) {
        let switch = FaultSwitch::default();
        (
            Self {
                inner,
                fault,
                switch: switch.clone(),
            },
            switch,
        )
    }
}

#[async_trait]
impl<DB: Backend, H: DeletionHandler<DB>> DeletionHandler<DB> for Faulty<H> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn description(&self) -> &str {
        self.inner.description()
    }

    fn footprint(&self) -> erasure_core::Footprint {
        self.inner.footprint()
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        let outcome = self.inner.erase(cx).await?;
        if !self.switch.is_armed() {
            return Ok(outcome);
        }
        match self.fault {
            Fault::Error => Err(HandlerError::other("injected fault")),
            Fault::Refuse => Err(HandlerError::refused("injected refusal")),
            Fault::Panic => panic!("injected panic"),
        }
    }
}
