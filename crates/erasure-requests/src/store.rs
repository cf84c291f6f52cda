//! The request store: submitting, confirming, resolving, rejecting, cancelling, listing.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use erasure_core::clock::{Clock, SystemClock};
use erasure_core::retention::Period;
use erasure_core::sql::{Cmp, Condition, Insert, Select, Update};
use erasure_core::transaction::{Isolation, Tx};
use erasure_core::{
    Backend, Dialect, Ident, Key, PseudonymKey, Pseudonymizer, Subject, Value, ident,
};
use serde::{Deserialize, Serialize};
use sqlx::Pool;

use crate::error::RequestError;
use crate::notifier::{NoNotifier, Notifier, Transition};
use crate::request::Request;
use crate::state::{RequestKind, State};
use crate::token::Token;

/// The table the store keeps requests in.
pub const TABLE: &str = "erasure_requests";

pub(crate) fn table() -> Ident {
    ident!("erasure_requests")
}

/// A table whose `active` flag an erasure request switches off at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deactivate {
    /// The table.
    pub table: Ident,
    /// Its primary key.
    pub id: Ident,
    /// The flag.
    pub active: Ident,
    /// A column to record when (`""` for none).
    #[serde(default, with = "erasure_core::mapping::optional_ident")]
    pub at: Option<Ident>,
    /// For user tables: the customer column, so that only the named users of that customer are
    /// touched (`""` for none).
    #[serde(default, with = "erasure_core::mapping::optional_ident")]
    pub customer: Option<Ident>,
}

/// How requests behave.
///
/// ```toml
/// [requests]
/// token_ttl = "24h"
/// due_in = "1m"
/// erasure_delay = "7d"
/// keep_closed = "30d"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestConfig {
    /// How long a confirmation token is valid (default 24 h).
    pub token_ttl: Period,
    /// How long after receipt a request is due (default one month, the GDPR's deadline).
    pub due_in: Period,
    /// How long a confirmed erasure waits before it is carried out, during which the requester
    /// can cancel it (default none).
    pub erasure_delay: Option<Period>,
    /// How long closed (and stale pending) requests are kept before the purge job deletes them
    /// (default 30 days).
    pub keep_closed: Period,
    /// The customer table whose flag an erasure request of a registered customer switches off.
    pub deactivate_customer: Option<Deactivate>,
    /// The user table whose flag an erasure request of selected users switches off.
    pub deactivate_users: Option<Deactivate>,
}

impl Default for RequestConfig {
    fn default() -> Self {
        Self {
            token_ttl: Period::hours(24),
            due_in: Period::months(1),
            erasure_delay: None,
            keep_closed: Period::days(30),
            deactivate_customer: Some(Deactivate {
                table: ident!("customers"),
                id: ident!("id"),
                active: ident!("active"),
                at: Some(ident!("deactivated_at")),
                customer: None,
            }),
            deactivate_users: Some(Deactivate {
                table: ident!("users"),
                id: ident!("id"),
                active: ident!("active"),
                at: None,
                customer: Some(ident!("customer_id")),
            }),
        }
    }
}

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
            Dialect::Sqlite => include_str!("../schema/sqlite.sql"),
            Dialect::Postgres => include_str!("../schema/postgres.sql"),
            Dialect::MySql => include_str!("../schema/mysql.sql"),
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

    /// Receives a request. For an erasure of a registered customer (or of selected users), the
    /// account is deactivated at once, in the same transaction, so call this only once you have
    /// authenticated the customer; anyone else is a `subject` of `None` (an operator identifies
    /// them later) or a guest. If the subject already has an open request of this kind, that one
    /// is returned and nothing changes.
    ///
    /// # Errors
    ///
    /// An invalid subject or email, or a database failure.
    pub async fn submit(
        &self,
        pool: &Pool<DB>,
        kind: RequestKind,
        subject: Option<Subject>,
        contact_email: Option<&str>,
    ) -> Result<Submission, RequestError> {
        if let Some(s) = &subject {
            s.validate()?;
        }
        if let Some(email) = contact_email {
            Subject::guest(email)?;
        } else if subject.is_none() {
            return Err(RequestError::Subject(
                erasure_core::SubjectError::InvalidEmail(
                    "a request needs a subject or a contact email",
                ),
            ));
        }
        let now = self.now();
        let hash = self.subject_hash(subject.as_ref(), contact_email);
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
        let result: Result<_, RequestError> = async {
            let open = DB::fetch_all(
                &mut tx,
                &Select::columns(table(), [])
                    .filter(Condition::eq(ident!("subject_hash"), hash.as_str()))
                    .filter(Condition::eq(ident!("kind"), kind.as_str()))
                    .filter(Condition::not_in(
                        ident!("state"),
                        State::ALL
                            .into_iter()
                            .filter(|s| s.is_closed())
                            .map(|s| Value::from(s.as_str()))
                            .collect(),
                    ))
                    .order_by([ident!("received_at")])
                    .limit(1)
                    .for_update()
                    .to_sql(),
            )
            .await?;
            if let Some(row) = open.first() {
                let request = Request::from_row(row).map_err(RequestError::Corrupt)?;
                return Ok((request, None));
            }
            let token = Token::generate().map_err(|_| RequestError::NoRandomness)?;
            let id = uuid::Uuid::new_v4().to_string();
            let subject_json = match &subject {
                Some(s) => Value::Text(
                    serde_json::to_string(s).map_err(|e| RequestError::Corrupt(e.to_string()))?,
                ),
                None => Value::Null,
            };
            let mut insert = Insert::new(
                table(),
                [
                    ident!("id"),
                    ident!("kind"),
                    ident!("state"),
                    ident!("subject"),
                    ident!("contact_email"),
                    ident!("subject_hash"),
                    ident!("token_hash"),
                    ident!("token_expires_at"),
                    ident!("received_at"),
                    ident!("due_at"),
                    ident!("updated_at"),
                    ident!("attempts"),
                ],
            );
            insert.row([
                id.clone().into(),
                kind.as_str().into(),
                State::Pending.as_str().into(),
                subject_json,
                contact_email.map(str::to_owned).into(),
                hash.clone().into(),
                token.hash().into(),
                add(now, self.config.token_ttl).into(),
                now.into(),
                add(now, self.config.due_in).into(),
                now.into(),
                0.into(),
            ]);
            DB::execute(&mut tx, &insert.to_sql()).await?;
            if let (RequestKind::Erasure, Some(s)) = (kind, &subject) {
                self.set_active(&mut tx, s, false, now).await?;
            }
            Ok((load::<DB>(&mut tx, &id).await?, Some(token)))
        }
        .await;
        let (request, token) = tx
            .settle(result)
            .await
            .map_err(|f| f.discard_if_in_doubt(&mut conn))?;
        if token.is_some() {
            self.notify(&request, None, token.as_ref()).await;
        }
        Ok(Submission {
            existing: token.is_none(),
            request,
            token,
        })
    }

    /// Switches the subject's account flag (customer, or selected users) on or off.
    async fn set_active(
        &self,
        tx: &mut DB::Connection,
        subject: &Subject,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<(), RequestError> {
        let (table, filter) = match (
            subject,
            &self.config.deactivate_customer,
            &self.config.deactivate_users,
        ) {
            (Subject::Customer { customer }, Some(d), _) => {
                (d, Condition::eq(d.id.clone(), customer.to_value()))
            }
            (Subject::Users { customer, users }, _, Some(d)) => {
                let mut c =
                    Condition::is_in(d.id.clone(), users.iter().map(Key::to_value).collect());
                if let Some(col) = &d.customer {
                    c = c.and(Condition::eq(col.clone(), customer.to_value()));
                }
                (d, c)
            }
            _ => return Ok(()),
        };
        let mut update = Update::new(table.table.clone(), filter).set(table.active.clone(), active);
        if let Some(at) = &table.at {
            update = update.set(
                at.clone(),
                if active {
                    Value::Null
                } else {
                    Value::Timestamp(now)
                },
            );
        }
        DB::execute(tx, &update.to_sql()).await?;
        Ok(())
    }

    /// Confirms a pending request with its token: it becomes `confirmed` (or
    /// `awaiting_operator` when the subject is unknown). An expired token expires the request.
    ///
    /// # Errors
    ///
    /// [`RequestError::WrongToken`], [`RequestError::TokenExpired`] (the request *is* now
    /// expired), [`RequestError::InvalidTransition`] when the request is not pending.
    pub async fn confirm(
        &self,
        pool: &Pool<DB>,
        id: &str,
        token: &Token,
    ) -> Result<Request, RequestError> {
        let now = self.now();
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
        let result: Result<_, RequestError> = async {
            let request = load_for_update::<DB>(&mut tx, id).await?;
            let stored = stored_token::<DB>(&mut tx, id).await?;
            check(&request, State::Confirmed)?;
            if !stored.as_deref().is_some_and(|h| token.matches(h)) {
                return Err(RequestError::WrongToken(id.to_owned()));
            }
            if request.token_expires_at.is_some_and(|t| t <= now) {
                // Committed: the request is expired whatever the caller does next.
                let expired = self.expire(&mut tx, &request, now).await?;
                return Ok((request.state, expired, true));
            }
            let (to, mut sets) = if request.subject.is_some() {
                let not_before = match (request.kind, self.config.erasure_delay) {
                    (RequestKind::Erasure, Some(delay)) => Value::Timestamp(add(now, delay)),
                    _ => Value::Timestamp(now),
                };
                (State::Confirmed, vec![(ident!("not_before"), not_before)])
            } else {
                (State::AwaitingOperator, Vec::new())
            };
            sets.push((ident!("confirmed_at"), Value::Timestamp(now)));
            sets.push((ident!("token_hash"), Value::Null));
            let confirmed = self.move_to(&mut tx, &request, to, now, sets).await?;
            Ok((request.state, confirmed, false))
        }
        .await;
        let (from, request, expired) = tx
            .settle(result)
            .await
            .map_err(|f| f.discard_if_in_doubt(&mut conn))?;
        self.notify(&request, Some(from), None).await;
        if expired {
            Err(RequestError::TokenExpired(id.to_owned()))
        } else {
            Ok(request)
        }
    }

    /// An operator identifies the subject of a request from someone unknown (state
    /// `awaiting_operator`): the request becomes `confirmed`.
    ///
    /// # Errors
    ///
    /// An invalid subject, or [`RequestError::InvalidTransition`].
    pub async fn resolve(
        &self,
        pool: &Pool<DB>,
        id: &str,
        subject: Subject,
        note: Option<&str>,
    ) -> Result<Request, RequestError> {
        subject.validate()?;
        let now = self.now();
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
        let result: Result<_, RequestError> = async {
            let request = load_for_update::<DB>(&mut tx, id).await?;
            check(&request, State::Confirmed)?;
            if request.state != State::AwaitingOperator {
                return Err(invalid(&request, State::Confirmed));
            }
            let json = serde_json::to_string(&subject)
                .map_err(|e| RequestError::Corrupt(e.to_string()))?;
            let mut sets = vec![
                (ident!("subject"), Value::Text(json)),
                (
                    ident!("subject_hash"),
                    Value::Text(self.pseudonymizer.subject(&subject)),
                ),
                (ident!("not_before"), Value::Timestamp(now)),
            ];
            if let Some(note) = note {
                sets.push((ident!("note"), Value::from(note)));
            }
            let resolved = self
                .move_to(&mut tx, &request, State::Confirmed, now, sets)
                .await?;
            if request.kind == RequestKind::Erasure {
                self.set_active(&mut tx, &subject, false, now).await?;
            }
            Ok((request.state, resolved))
        }
        .await;
        let (from, resolved) = tx
            .settle(result)
            .await
            .map_err(|f| f.discard_if_in_doubt(&mut conn))?;
        self.notify(&resolved, Some(from), None).await;
        Ok(resolved)
    }

    /// An operator rejects a request, with a note saying why (shown to operators; do not put
    /// personal data in it). A deactivated account is reactivated.
    ///
    /// # Errors
    ///
    /// [`RequestError::InvalidTransition`] from a closed or processing request.
    pub async fn reject(
        &self,
        pool: &Pool<DB>,
        id: &str,
        note: &str,
    ) -> Result<Request, RequestError> {
        self.close(pool, id, State::Rejected, Some(note)).await
    }

    /// The requester withdraws a pending request, or a confirmed erasure during its erasure
    /// delay. A deactivated account is reactivated.
    ///
    /// # Errors
    ///
    /// [`RequestError::TooLateToCancel`] once the delay is over; [`RequestError::InvalidTransition`].
    pub async fn cancel(&self, pool: &Pool<DB>, id: &str) -> Result<Request, RequestError> {
        self.close(pool, id, State::Cancelled, None).await
    }

    async fn close(
        &self,
        pool: &Pool<DB>,
        id: &str,
        to: State,
        note: Option<&str>,
    ) -> Result<Request, RequestError> {
        let now = self.now();
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
        let result: Result<_, RequestError> = async {
            let request = load_for_update::<DB>(&mut tx, id).await?;
            check(&request, to)?;
            if to == State::Cancelled
                && request.state == State::Confirmed
                && request.not_before.is_none_or(|t| t <= now)
            {
                return Err(RequestError::TooLateToCancel(id.to_owned()));
            }
            let sets = note
                .map(|n| vec![(ident!("note"), Value::from(n))])
                .unwrap_or_default();
            let closed = self.move_to(&mut tx, &request, to, now, sets).await?;
            if let (RequestKind::Erasure, Some(s)) = (request.kind, &request.subject) {
                self.set_active(&mut tx, s, true, now).await?;
            }
            Ok((request.state, closed))
        }
        .await;
        let (from, closed) = tx
            .settle(result)
            .await
            .map_err(|f| f.discard_if_in_doubt(&mut conn))?;
        self.notify(&closed, Some(from), None).await;
        Ok(closed)
    }

    /// An operator sends a failed request back to the queue.
    ///
    /// # Errors
    ///
    /// [`RequestError::InvalidTransition`] unless the request failed.
    pub async fn retry(&self, pool: &Pool<DB>, id: &str) -> Result<Request, RequestError> {
        let now = self.now();
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
        let result: Result<_, RequestError> = async {
            let request = load_for_update::<DB>(&mut tx, id).await?;
            if request.state != State::Failed {
                return Err(invalid(&request, State::Confirmed));
            }
            self.move_to(&mut tx, &request, State::Confirmed, now, Vec::new())
                .await
        }
        .await;
        let again = tx
            .settle(result)
            .await
            .map_err(|f| f.discard_if_in_doubt(&mut conn))?;
        self.notify(&again, Some(State::Failed), None).await;
        Ok(again)
    }

    /// Expires every pending request whose token has expired (a deactivated account is
    /// reactivated) and returns them.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn expire_tokens(&self, pool: &Pool<DB>) -> Result<Vec<Request>, RequestError> {
        let now = self.now();
        let due: Vec<Request> = self
            .query(
                pool,
                Condition::eq(ident!("state"), State::Pending.as_str()).and(Condition::compare(
                    ident!("token_expires_at"),
                    Cmp::Le,
                    now,
                )),
            )
            .await?;
        let mut expired = Vec::new();
        for r in due {
            let mut conn = pool.acquire().await?;
            let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
            let result: Result<_, RequestError> = async {
                let current = load_for_update::<DB>(&mut tx, &r.id).await?;
                if current.state != State::Pending {
                    return Ok(None);
                }
                self.expire(&mut tx, &current, now).await.map(Some)
            }
            .await;
            if let Some(done) = tx
                .settle(result)
                .await
                .map_err(|f| f.discard_if_in_doubt(&mut conn))?
            {
                self.notify(&done, Some(State::Pending), None).await;
                expired.push(done);
            }
        }
        Ok(expired)
    }

    /// Expires a pending request and gives its account back.
    async fn expire(
        &self,
        tx: &mut DB::Connection,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Request, RequestError> {
        let expired = self
            .move_to(tx, request, State::Expired, now, Vec::new())
            .await?;
        if let (RequestKind::Erasure, Some(s)) = (request.kind, &request.subject) {
            self.set_active(tx, s, true, now).await?;
        }
        Ok(expired)
    }

    /// One request.
    ///
    /// # Errors
    ///
    /// [`RequestError::NotFound`].
    pub async fn get(&self, pool: &Pool<DB>, id: &str) -> Result<Request, RequestError> {
        let mut conn = pool.acquire().await?;
        load::<DB>(&mut conn, id).await
    }

    /// Requests in `state` (all when `None`), oldest first.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn list(
        &self,
        pool: &Pool<DB>,
        state: Option<State>,
    ) -> Result<Vec<Request>, RequestError> {
        let filter = match state {
            Some(s) => Condition::eq(ident!("state"), s.as_str()),
            None => Condition::always(),
        };
        self.query(pool, filter).await
    }

    /// Open requests past their due date, oldest first.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn overdue(&self, pool: &Pool<DB>) -> Result<Vec<Request>, RequestError> {
        let now = self.now();
        let closed: Vec<Value> = State::ALL
            .into_iter()
            .filter(|s| s.is_closed())
            .map(|s| s.as_str().into())
            .collect();
        self.query(
            pool,
            Condition::compare(ident!("due_at"), Cmp::Lt, now)
                .and(Condition::not_in(ident!("state"), closed)),
        )
        .await
    }

    async fn query(
        &self,
        pool: &Pool<DB>,
        filter: Condition,
    ) -> Result<Vec<Request>, RequestError> {
        let mut conn = pool.acquire().await?;
        let rows = DB::fetch_all(
            &mut conn,
            &Select::columns(table(), [])
                .filter(filter)
                .order_by([ident!("received_at"), ident!("id")])
                .to_sql(),
        )
        .await?;
        rows.iter()
            .map(|r| Request::from_row(r).map_err(RequestError::Corrupt))
            .collect()
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
            Condition::eq(ident!("id"), request.id.as_str())
                .and(Condition::eq(ident!("state"), request.state.as_str())),
        )
        .set(ident!("state"), to.as_str())
        .set(ident!("updated_at"), Value::Timestamp(now));
        if to.is_closed() {
            update = update.set(ident!("closed_at"), Value::Timestamp(now));
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

/// The request `id`, as `select` (a select of its row) reads it.
async fn load_row<DB: Backend>(
    conn: &mut DB::Connection,
    id: &str,
    select: Select,
) -> Result<Request, RequestError> {
    let rows = DB::fetch_all(conn, &select.to_sql()).await?;
    let row = rows
        .first()
        .ok_or_else(|| RequestError::NotFound(id.to_owned()))?;
    Request::from_row(row).map_err(RequestError::Corrupt)
}

fn by_id(id: &str) -> Select {
    Select::columns(table(), []).filter(Condition::eq(ident!("id"), id))
}

pub(crate) async fn load<DB: Backend>(
    conn: &mut DB::Connection,
    id: &str,
) -> Result<Request, RequestError> {
    load_row::<DB>(conn, id, by_id(id)).await
}

async fn load_for_update<DB: Backend>(
    conn: &mut DB::Connection,
    id: &str,
) -> Result<Request, RequestError> {
    load_row::<DB>(conn, id, by_id(id).for_update()).await
}

async fn stored_token<DB: Backend>(
    conn: &mut DB::Connection,
    id: &str,
) -> Result<Option<String>, RequestError> {
    let rows = DB::fetch_all(
        conn,
        &Select::column(table(), ident!("token_hash"))
            .filter(Condition::eq(ident!("id"), id))
            .to_sql(),
    )
    .await?;
    Ok(rows
        .first()
        .and_then(|r| r.get_index(0))
        .and_then(Value::as_str)
        .map(str::to_owned))
}
