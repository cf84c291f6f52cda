//! Reading requests: one, a list by state, the overdue ones; and the row loads the
//! transitions use.

use erasure_core::sql::{Cmp, Condition, Select};
use erasure_core::{Backend, Value};
use sqlx::Pool;

use super::Requests;
use crate::columns::{self as col, table};
use crate::error::RequestError;
use crate::request::Request;
use crate::state::{RequestKind, State};

impl<DB: Backend> Requests<DB> {
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
            Some(s) => Condition::eq(col::state(), s.as_str()),
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
            Condition::compare(col::due_at(), Cmp::Lt, now)
                .and(Condition::not_in(col::state(), closed)),
        )
        .await
    }

    pub(super) async fn query(
        &self,
        pool: &Pool<DB>,
        filter: Condition,
    ) -> Result<Vec<Request>, RequestError> {
        let mut conn = pool.acquire().await?;
        let rows = DB::fetch_all(
            &mut conn,
            &Select::columns(table(), [])
                .filter(filter)
                .order_by([col::received_at(), col::id()])
                .to_sql(),
        )
        .await?;
        rows.iter()
            .map(|r| Request::from_row(r).map_err(RequestError::Corrupt))
            .collect()
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
    Select::columns(table(), []).filter(Condition::eq(col::id(), id))
}

pub(super) async fn load<DB: Backend>(
    conn: &mut DB::Connection,
    id: &str,
) -> Result<Request, RequestError> {
    load_row::<DB>(conn, id, by_id(id)).await
}

pub(super) async fn load_for_update<DB: Backend>(
    conn: &mut DB::Connection,
    id: &str,
) -> Result<Request, RequestError> {
    load_row::<DB>(conn, id, by_id(id).for_update()).await
}

pub(super) async fn stored_token<DB: Backend>(
    conn: &mut DB::Connection,
    id: &str,
) -> Result<Option<String>, RequestError> {
    let rows = DB::fetch_all(
        conn,
        &Select::column(table(), col::token_hash())
            .filter(Condition::eq(col::id(), id))
            .to_sql(),
    )
    .await?;
    Ok(rows
        .first()
        .and_then(|r| r.get_index(0))
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// The subject's open request of `kind` (by its pseudonym), locked for the transaction.
pub(super) async fn open_request<DB: Backend>(
    conn: &mut DB::Connection,
    subject_hash: &str,
    kind: RequestKind,
) -> Result<Option<Request>, RequestError> {
    let open = DB::fetch_all(
        conn,
        &Select::columns(table(), [])
            .filter(Condition::eq(col::subject_hash(), subject_hash))
            .filter(Condition::eq(col::kind(), kind.as_str()))
            .filter(Condition::not_in(
                col::state(),
                State::ALL
                    .into_iter()
                    .filter(|s| s.is_closed())
                    .map(|s| Value::from(s.as_str()))
                    .collect(),
            ))
            .order_by([col::received_at()])
            .limit(1)
            .for_update()
            .to_sql(),
    )
    .await?;
    open.first()
        .map(|row| Request::from_row(row).map_err(RequestError::Corrupt))
        .transpose()
}
