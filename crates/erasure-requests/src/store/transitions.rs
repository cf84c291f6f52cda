//! The life-cycle steps: submit, confirm, resolve, reject, cancel, retry, expire. Each runs in
//! a transaction of its own and tells the notifier after the commit.

use chrono::{DateTime, Utc};
use erasure_core::sql::{Cmp, Condition, Insert, Update};
use erasure_core::transaction::{Isolation, Tx};
use erasure_core::{Backend, Subject, Value};
use sqlx::Pool;

use super::queries::{load, load_for_update, open_request, stored_token};
use super::{Requests, Submission, add, check, invalid};
use crate::columns::{self as col, table};
use crate::error::RequestError;
use crate::request::Request;
use crate::state::{RequestKind, State};
use crate::token::Token;

impl<DB: Backend> Requests<DB> {
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
        check_submission(subject.as_ref(), contact_email)?;
        let now = self.now();
        let hash = self.subject_hash(subject.as_ref(), contact_email);
        let new = NewRequest {
            kind,
            subject: subject.as_ref(),
            contact_email,
            subject_hash: &hash,
        };
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
        let result: Result<_, RequestError> = async {
            if let Some(open) = open_request::<DB>(&mut tx, &hash, kind).await? {
                return Ok((open, None));
            }
            let token = Token::generate().map_err(|_| RequestError::NoRandomness)?;
            let id = uuid::Uuid::new_v4().to_string();
            let insert = self.new_row(&id, &new, &token, now)?;
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

    /// The row of a new pending request `id`.
    fn new_row(
        &self,
        id: &str,
        new: &NewRequest<'_>,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Insert, RequestError> {
        let subject_json = match new.subject {
            Some(s) => Value::Text(
                serde_json::to_string(s).map_err(|e| RequestError::Corrupt(e.to_string()))?,
            ),
            None => Value::Null,
        };
        let mut insert = Insert::new(
            table(),
            [
                col::id(),
                col::kind(),
                col::state(),
                col::subject(),
                col::contact_email(),
                col::subject_hash(),
                col::token_hash(),
                col::token_expires_at(),
                col::received_at(),
                col::due_at(),
                col::updated_at(),
                col::attempts(),
            ],
        );
        insert.row([
            id.to_owned().into(),
            new.kind.as_str().into(),
            State::Pending.as_str().into(),
            subject_json,
            new.contact_email.map(str::to_owned).into(),
            new.subject_hash.to_owned().into(),
            token.hash().into(),
            add(now, self.config.token_ttl).into(),
            now.into(),
            add(now, self.config.due_in).into(),
            now.into(),
            0.into(),
        ]);
        Ok(insert)
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
            // A key the table's key type cannot hold matches no row: nothing to switch off.
            (Subject::Customer { customer }, Some(d), _) => match d.key(customer) {
                Some(key) => (d, Condition::eq(d.id.clone(), key)),
                None => return Ok(()),
            },
            (Subject::Users { customer, users }, _, Some(d)) => {
                let mut c = Condition::is_in(
                    d.id.clone(),
                    users.iter().filter_map(|u| d.key(u)).collect(),
                );
                if let Some(col) = &d.customer {
                    match d.key(customer) {
                        Some(key) => c = c.and(Condition::eq(col.clone(), key)),
                        None => return Ok(()),
                    }
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
                (State::Confirmed, vec![(col::not_before(), not_before)])
            } else {
                (State::AwaitingOperator, Vec::new())
            };
            sets.push((col::confirmed_at(), Value::Timestamp(now)));
            sets.push((col::token_hash(), Value::Null));
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
                (col::subject(), Value::Text(json)),
                (
                    col::subject_hash(),
                    Value::Text(self.pseudonymizer.subject(&subject)),
                ),
                (col::not_before(), Value::Timestamp(now)),
            ];
            if let Some(note) = note {
                sets.push((col::note(), Value::from(note)));
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
                .map(|n| vec![(col::note(), Value::from(n))])
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

    /// An operator records that customer service carried out the request outside the chain
    /// (a copy sent by hand, data removed from a system the chain does not reach), with a note
    /// saying how (shown to operators; do not put personal data in it). Allowed while it waits
    /// for an operator, is confirmed, or failed; the request then forgets its subject and
    /// contact, as after the worker, and the notifier still gets the contact.
    ///
    /// # Errors
    ///
    /// [`RequestError::InvalidTransition`] from any other state.
    pub async fn complete_by_hand(
        &self,
        pool: &Pool<DB>,
        id: &str,
        note: &str,
    ) -> Result<Request, RequestError> {
        let now = self.now();
        let mut conn = pool.acquire().await?;
        let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write).await?;
        let result: Result<_, RequestError> = async {
            let request = load_for_update::<DB>(&mut tx, id).await?;
            if request.state == State::Processing {
                // The worker holds it: its own outcome completes it.
                return Err(invalid(&request, State::Completed));
            }
            let done = self
                .move_to(
                    &mut tx,
                    &request,
                    State::Completed,
                    now,
                    vec![
                        (col::note(), Value::from(note)),
                        (col::outcome(), Value::from("completed by hand")),
                        (col::subject(), Value::Null),
                        (col::contact_email(), Value::Null),
                    ],
                )
                .await?;
            Ok((request, done))
        }
        .await;
        let (before, done) = tx
            .settle(result)
            .await
            .map_err(|f| f.discard_if_in_doubt(&mut conn))?;
        let mut told = done.clone();
        told.contact_email = before.contact_email.clone();
        self.notify(&told, Some(before.state), None).await;
        Ok(done)
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
                Condition::eq(col::state(), State::Pending.as_str()).and(Condition::compare(
                    col::token_expires_at(),
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
}

/// What a new request is about.
struct NewRequest<'a> {
    kind: RequestKind,
    subject: Option<&'a Subject>,
    contact_email: Option<&'a str>,
    subject_hash: &'a str,
}

/// A request needs a valid subject, a valid contact email, or both.
fn check_submission(
    subject: Option<&Subject>,
    contact_email: Option<&str>,
) -> Result<(), RequestError> {
    if let Some(s) = subject {
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
    Ok(())
}
