//! The request store: [`Requests`], its configuration and installation, and the transition
//! every life-cycle step goes through. The steps themselves are in `transitions`, the reads in
//! `queries`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use erasure_core::clock::{Clock, SystemClock};
use erasure_core::retention::Period;
use erasure_core::sql::{Condition, Update};
use erasure_core::{Backend, Dialect, Ident, PseudonymKey, Pseudonymizer, Subject, Value};
use sqlx::Pool;

use crate::columns::{self as col, table};
use crate::config::RequestConfig;
use crate::error::RequestError;
use crate::notifier::{NoNotifier, Notifier, Transition};
use crate::request::Request;
use crate::state::State;
use crate::token::Token;

mod queries;
mod transitions;

use queries::load;

/// What [`Requests::submit`] returns.
#[derive(Debug)]
pub struct Submission {
    /// The request (the new one, or the one already open for this subject).
    pub request: Request,
    /// The confirmation token, for a new request; `None` when an open one was returned.
    pub token: Option<Token>,
    /// Whether an open request for the same subject and kind was returned instead of a new one.
    pub existing: bool,
}

/// The store of personal-data requests, in the library's own table `erasure_requests`.
///
/// Every operation runs in a transaction of its own and checks the transition against
/// [`State::allows`] and against the state in the database (so two operators cannot both move a
/// request); after commit, the [`Notifier`] hears about it.
///
/// ```no_run
/// use erasure_requests::{RequestKind, Requests};
/// use erasure_core::{PseudonymKey, Subject};
///
/// # async fn f(pool: sqlx::SqlitePool) -> Result<(), Box<dyn std::error::Error>> {
/// let requests = Requests::<sqlx::Sqlite>::new(PseudonymKey::from_hex("00112233445566778899aabbccddeeff")?);
/// requests.install(&pool).await?;
/// // A logged-in customer asks to be erased: their account is deactivated at once.
/// let sub = requests.submit(&pool, RequestKind::Erasure, Some(Subject::customer(42)), Some("ada@example.test")).await?;
/// // Email them sub.token; when they click the link:
/// requests.confirm(&pool, &sub.request.id, sub.token.as_ref().expect("a new request")).await?;
/// # Ok(()) }
/// ```
pub struct Requests<DB: Backend> {
    config: RequestConfig,
    clock: Arc<dyn Clock>,
    notifier: Arc<dyn Notifier>,
    pseudonymizer: Pseudonymizer,
    _db: PhantomData<fn() -> DB>,
}

impl<DB: Backend> Clone for Requests<DB> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            clock: Arc::clone(&self.clock),
            notifier: Arc::clone(&self.notifier),
            pseudonymizer: self.pseudonymizer.clone(),
            _db: PhantomData,
        }
    }
}

impl<DB: Backend> fmt::Debug for Requests<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requests")
            .field("config", &self.config)
            .field("notifier", &self.notifier)
            .finish_non_exhaustive()
    }
}

impl<DB: Backend> Requests<DB> {
    /// A store with the default [`RequestConfig`], the system clock and no notifier. `key`
    /// pseudonymizes subjects for finding a subject's open request; keep it stable (the same key
    /// as the chain's, typically).
    pub fn new(key: PseudonymKey) -> Self {
        Self {
            config: RequestConfig::default(),
            clock: Arc::new(SystemClock),
            notifier: Arc::new(NoNotifier),
            pseudonymizer: Pseudonymizer::new(key),
            _db: PhantomData,
        }
    }

    /// With `config`.
    pub fn config(mut self, config: RequestConfig) -> Self {
        self.config = config;
        self
    }

    /// With `clock`.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// With `notifier`, called after every transition.
    pub fn notifier(mut self, notifier: impl Notifier + 'static) -> Self {
        self.notifier = Arc::new(notifier);
        self
    }

    /// The configuration.
    pub fn settings(&self) -> &RequestConfig {
        &self.config
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Creates the `erasure_requests` table and its indexes if they do not exist (the DDL for
    /// each database is in `crates/erasure-requests/schema/`, for your own migration tool).
    ///
    /// # Errors
    ///
    /// A statement fails.
    pub async fn install(&self, pool: &Pool<DB>) -> Result<(), RequestError> {
        let script: &'static str = match DB::DIALECT {
            Dialect::Sqlite => include_str!("../../schema/sqlite.sql"),
            Dialect::Postgres => include_str!("../../schema/postgres.sql"),
            Dialect::MySql => include_str!("../../schema/mysql.sql"),
        };
        let mut conn = pool.acquire().await?;
        erasure_core::schema::run_script::<DB>(&mut conn, script).await?;
        Ok(())
    }

    fn subject_hash(&self, subject: Option<&Subject>, contact: Option<&str>) -> String {
        match subject {
            Some(s) => self.pseudonymizer.subject(s),
            None => self.pseudonymizer.pseudonym(
                "request-contact",
                contact.unwrap_or_default().trim().to_lowercase().as_bytes(),
            ),
        }
    }

    /// Moves `request` to `to` inside `tx`, if it is still in the state it was read in, with the
    /// extra assignments; returns the request as stored afterwards.
    pub(crate) async fn move_to(
        &self,
        tx: &mut DB::Connection,
        request: &Request,
        to: State,
        now: DateTime<Utc>,
        extra: Vec<(Ident, Value)>,
    ) -> Result<Request, RequestError> {
        check(request, to)?;
        let mut update = Update::new(
            table(),
            Condition::eq(col::id(), request.id.as_str())
                .and(Condition::eq(col::state(), request.state.as_str())),
        )
        .set(col::state(), to.as_str())
        .set(col::updated_at(), Value::Timestamp(now));
        if to.is_closed() {
            update = update.set(col::closed_at(), Value::Timestamp(now));
        }
        for (column, value) in extra {
            update = update.set(column, value);
        }
        let changed = DB::execute(tx, &update.to_sql()).await?;
        if changed != 1 {
            // Someone else moved it since we read it.
            let now_stored = load::<DB>(tx, &request.id).await?;
            return Err(invalid(&now_stored, to));
        }
        tracing::info!(request = %request.id, from = %request.state, to = %to, "request transition");
        load::<DB>(tx, &request.id).await
    }

    /// Tells the notifier, after commit; a failing notifier is logged, not propagated.
    pub(crate) async fn notify(
        &self,
        request: &Request,
        from: Option<State>,
        token: Option<&Token>,
    ) {
        let transition = Transition {
            request,
            from,
            to: request.state,
            token,
        };
        if let Err(e) = self.notifier.notify(&transition).await {
            tracing::warn!(request = %request.id, to = %request.state, error = %e, "notifier failed");
        }
    }
}

fn add(now: DateTime<Utc>, period: Period) -> DateTime<Utc> {
    period.after(now)
}

fn invalid(request: &Request, to: State) -> RequestError {
    RequestError::InvalidTransition {
        id: request.id.clone(),
        from: request.state,
        to,
    }
}

fn check(request: &Request, to: State) -> Result<(), RequestError> {
    if request.state.allows(to) {
        Ok(())
    } else {
        Err(invalid(request, to))
    }
}
