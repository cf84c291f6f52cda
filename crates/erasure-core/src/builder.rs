//! Building a chain: register, replace, remove, pull in static registrations.

use std::fmt;
use std::sync::Arc;

use crate::backend::Backend;
use crate::chain::{Chain, Entry};
use crate::clock::{Clock, SystemClock};
use crate::error::{BuildError, ChainProblem};
use crate::handler::DeletionHandler;
use crate::pseudonym::{PseudonymKey, Pseudonymizer};
use crate::recorder::Recorder;
use crate::registry::Registered;
use crate::retry::RetryPolicy;
use crate::settings::Settings;

/// Builds a [`Chain`]: handlers by position, plus the clock, settings and pseudonym key.
///
/// Operations apply in call order. Problems (two handlers at one position, replacing or removing
/// a position that is empty, no handler at all) are collected and reported together by
/// [`build`](Self::build); nothing is checked later, at run time.
///
/// ```
/// use erasure_core::{async_trait, Backend, Chain, DeletionHandler,
///                    ErasureContext, HandlerError, Outcome};
///
/// struct Noop(&'static str);
///
/// #[async_trait]
/// impl<DB: Backend> DeletionHandler<DB> for Noop {
///     fn name(&self) -> &str { self.0 }
///     fn description(&self) -> &str { "does nothing" }
///     async fn erase(&self, _: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
///         Ok(Outcome::new())
///     }
/// }
///
/// let chain = Chain::<sqlx::Sqlite>::builder()
///     .register(20, Noop("b"))
///     .register(10, Noop("a"))
///     .replace(20, Noop("c"))
///     .build()?;
/// assert_eq!(chain.positions(), vec![10, 20]);
///
/// let err = Chain::<sqlx::Sqlite>::builder()
///     .register(10, Noop("a"))
///     .register(10, Noop("b"))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.to_string(), "invalid chain: position 10 is taken by both `a` and `b`");
/// # Ok::<(), erasure_core::BuildError>(())
/// ```
pub struct ChainBuilder<DB: Backend> {
    entries: Vec<Entry<DB>>,
    problems: Vec<ChainProblem>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    key: Option<PseudonymKey>,
    retry: RetryPolicy,
    recorders: Vec<Arc<dyn Recorder<DB>>>,
    join_writes: bool,
}

impl<DB: Backend> Default for ChainBuilder<DB> {
    fn default() -> Self {
        Self::new()
    }
}

impl<DB: Backend> Chain<DB> {
    /// A builder.
    pub fn builder() -> ChainBuilder<DB> {
        ChainBuilder::new()
    }
}

impl<DB: Backend> ChainBuilder<DB> {
    /// An empty builder with the system clock, default settings and a random pseudonym key.
    pub fn new() -> Self {
        Self {
            entries: Vec::new(),
            problems: Vec::new(),
            clock: Arc::new(SystemClock),
            settings: Settings::default(),
            key: None,
            retry: RetryPolicy::default(),
            recorders: Vec::new(),
            join_writes: true,
        }
    }

    /// Registers `handler` at `position`. A position already taken is a build error naming both
    /// handlers.
    pub fn register(self, position: u32, handler: impl DeletionHandler<DB> + 'static) -> Self {
        self.register_arc(position, Arc::new(handler))
    }

    /// Registers a boxed handler at `position`.
    pub fn register_boxed(self, position: u32, handler: Box<dyn DeletionHandler<DB>>) -> Self {
        self.register_arc(position, Arc::from(handler))
    }

    fn register_arc(mut self, position: u32, handler: Arc<dyn DeletionHandler<DB>>) -> Self {
        match self.entries.iter().find(|e| e.position == position) {
            Some(existing) => self.problems.push(ChainProblem::DuplicatePosition {
                position,
                first: existing.handler.name().to_owned(),
                second: handler.name().to_owned(),
            }),
            None => self.entries.push(Entry { position, handler }),
        }
        self
    }

    /// Replaces the handler at `position`. An empty position is a build error.
    pub fn replace(mut self, position: u32, handler: impl DeletionHandler<DB> + 'static) -> Self {
        match self.entries.iter_mut().find(|e| e.position == position) {
            Some(entry) => entry.handler = Arc::new(handler),
            None => self.problems.push(ChainProblem::NothingToReplace {
                position,
                handler: handler.name().to_owned(),
            }),
        }
        self
    }

    /// Removes the handler named `name` (a configuration's `[chain] disable`). A name no
    /// registered handler has is a build error that lists the names there are.
    pub fn without(mut self, name: &str) -> Self {
        let before = self.entries.len();
        self.entries.retain(|e| e.handler.name() != name);
        if self.entries.len() == before {
            let mut known: Vec<String> = self
                .entries
                .iter()
                .map(|e| e.handler.name().to_owned())
                .collect();
            known.sort();
            self.problems.push(ChainProblem::UnknownHandler {
                name: name.to_owned(),
                known,
            });
        }
        self
    }

    /// Removes the handler at `position`. An empty position is a build error.
    pub fn remove(mut self, position: u32) -> Self {
        let before = self.entries.len();
        self.entries.retain(|e| e.position != position);
        if self.entries.len() == before {
            self.problems.push(ChainProblem::NothingToRemove(position));
        }
        self
    }

    /// Registers every handler submitted with [`register_handler!`](crate::register_handler!)
    /// for this backend and linked into the binary. They are taken in position order; a position
    /// that is already taken is a build error, as with [`register`](Self::register).
    pub fn with_registered(mut self) -> Self
    where
        DB: Registered,
    {
        let mut registered = DB::registrations();
        // inventory's order is unspecified; sort so that error messages are deterministic.
        registered.sort_by_key(|r| r.position());
        for registration in registered {
            self = self.register_boxed(registration.position(), registration.handler());
        }
        self
    }

    /// Uses `clock` for "now" (read once per run).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Uses `settings`.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Uses `key` for subject pseudonyms in reports and traces and for pseudonym replacement
    /// values. Without one, a random key is drawn per chain: pseudonyms are then comparable only
    /// within the process.
    pub fn pseudonym_key(mut self, key: PseudonymKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Adds a [`Recorder`]: it writes in each erasure's own transaction, after the handlers and
    /// before the commit (a receipt, outbox events, a suppression list). Recorders run in the
    /// order they were added.
    pub fn recorder(mut self, recorder: impl Recorder<DB> + 'static) -> Self {
        self.recorders.push(Arc::new(recorder));
        self
    }

    /// Retries erasures that lose a lock conflict with `policy` (default: 3 attempts).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            attempts: policy.attempts.max(1),
            ..policy
        };
        self
    }

    /// Whether neighbouring planned writes may be sent as one statement where the database
    /// allows it (default: yes). On PostgreSQL, the writes of neighbouring
    /// [planned](DeletionHandler::planned) handlers that do not read or write a table an earlier
    /// one of them writes are sent as one writable `WITH` query: one round trip instead of one
    /// per statement. They then all see the database as it was before that query, and
    /// foreign-key actions and `AFTER` triggers run once all of them are done, which gives the
    /// same result unless a trigger or an `ON DELETE CASCADE`/`SET NULL` of one of them changes
    /// rows that a later one selects. Turn joining off for a schema where that matters: every
    /// statement is then sent alone. The same switch governs a policy's neighbouring
    /// [lock](crate::policy::Step::lock) steps, which PostgreSQL takes in one `WITH` query
    /// (in order) when it is on. SQLite and MySQL are not affected (SQLite sends the
    /// statements as one query of several statements, run one after another; MySQL one at a
    /// time).
    pub fn join_writes(mut self, join: bool) -> Self {
        self.join_writes = join;
        self
    }

    /// Builds the chain, sorted by position.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] listing every problem met.
    pub fn build(mut self) -> Result<Chain<DB>, BuildError> {
        if self.entries.is_empty() && self.problems.is_empty() {
            self.problems.push(ChainProblem::Empty);
        }
        // Names identify handlers in reports, receipts, errors and configuration: one each.
        let mut by_name: Vec<(&str, u32)> = self
            .entries
            .iter()
            .map(|e| (e.handler.name(), e.position))
            .collect();
        by_name.sort();
        for pair in by_name.windows(2) {
            if pair[0].0 == pair[1].0 {
                self.problems.push(ChainProblem::DuplicateName {
                    name: pair[0].0.to_owned(),
                    first: pair[0].1,
                    second: pair[1].1,
                });
            }
        }
        if !self.problems.is_empty() {
            return Err(BuildError::new(self.problems));
        }
        let pseudonymizer = match self.key {
            Some(key) => Pseudonymizer::new(key),
            None => Pseudonymizer::random_for_process(
                PseudonymKey::random()
                    .map_err(|_| BuildError::new(vec![ChainProblem::NoRandomness]))?,
            ),
        };
        self.entries.sort_by_key(|e| e.position);
        Ok(Chain::new(
            self.entries,
            self.clock,
            self.settings,
            pseudonymizer,
            self.retry,
            self.recorders,
            self.join_writes,
        ))
    }
}

impl<DB: Backend> fmt::Debug for ChainBuilder<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainBuilder")
            .field(
                "handlers",
                &self
                    .entries
                    .iter()
                    .map(|e| (e.position, e.handler.name()))
                    .collect::<Vec<_>>(),
            )
            .field("problems", &self.problems)
            .finish_non_exhaustive()
    }
}
