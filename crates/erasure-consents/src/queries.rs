//! Reading consents: a subject's history and current state, the subjects who granted a purpose
//! on a channel (keyset-paged), and counts.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use erasure_core::sql::{Condition, Select, Sql};
use erasure_core::{Backend, Ident, Row, Value, ident};
use futures_util::stream::{self, Stream, TryStreamExt as _};
use serde::Serialize;
use sqlx::Pool;

use crate::columns::{self as col, changes, wordings};
use crate::error::{ConsentError, Operation};
use crate::model::{Channel, ConsentRecord, ConsentSubject, Source, Wording, check_purpose};
use crate::store::Consents;

/// The `subject_kind` of a withdrawal kept as proof after its subject was erased.
pub(crate) const ERASED: &str = "erased";

/// Where the next page of [`Consents::granted_page`] starts: after the last subject of the
/// previous page. Opaque; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct GrantedCursor(String);

impl fmt::Debug for GrantedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GrantedCursor(..)")
    }
}

/// One page of subjects who granted a purpose on a channel.
#[derive(Debug, Clone)]
pub struct GrantedPage {
    /// The subjects, in a stable order (by an internal hash, not by key).
    pub subjects: Vec<ConsentSubject>,
    /// Where the next page starts; `None` after the last page.
    pub next: Option<GrantedCursor>,
}

/// The number of subjects whose current state of a purpose and channel, under one version of
/// the wording, is given or withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentCount {
    /// The purpose key.
    pub purpose: String,
    /// The channel.
    pub channel: Option<Channel>,
    /// The version of the wording of the current state.
    pub version: String,
    /// Subjects whose current state is given.
    pub granted: u64,
    /// Subjects whose current state is withdrawn.
    pub withdrawn: u64,
}

impl<DB: Backend> Consents<DB> {
    /// Every change of `subject` (this subject exactly: a customer's history does not include
    /// its users'), oldest first by `at`, ties in insertion order, each with its wording.
    ///
    /// # Errors
    ///
    /// An invalid subject, a database failure, or a stored row that cannot be read.
    pub async fn history(
        &self,
        pool: &Pool<DB>,
        subject: &ConsentSubject,
    ) -> Result<Vec<ConsentRecord>, ConsentError> {
        const OP: Operation = Operation::Read;
        subject
            .validate()
            .map_err(|source| ConsentError::Subject { op: OP, source })?;
        let mut conn = pool.acquire().await.map_err(ConsentError::db(OP))?;
        let rows = DB::fetch_all(
            &mut conn,
            &Select::columns(
                changes(),
                [
                    col::seq(),
                    col::purpose(),
                    col::channel(),
                    col::given(),
                    col::wording_id(),
                    col::source(),
                    col::at(),
                ],
            )
            .filter(Condition::eq(col::subject_ref(), subject.reference()))
            .filter(Condition::eq(col::subject_kind(), subject.kind()))
            .order_by([col::at(), col::seq()])
            .to_sql(),
        )
        .await
        .map_err(ConsentError::db(OP))?;
        let mut ids: Vec<Value> = Vec::new();
        for row in &rows {
            if let Some(Value::Text(id)) = row.get_index(4)
                && !ids.iter().any(|v| v.as_str() == Some(id))
            {
                ids.push(Value::Text(id.clone()));
            }
        }
        let texts = if ids.is_empty() {
            HashMap::new()
        } else {
            let rows = DB::fetch_all(
                &mut conn,
                &Select::columns(
                    wordings(),
                    [
                        col::id(),
                        col::name(),
                        col::text(),
                        col::version(),
                        col::language(),
                    ],
                )
                .filter(Condition::is_in(col::id(), ids))
                .to_sql(),
            )
            .await
            .map_err(ConsentError::db(OP))?;
            rows.iter()
                .map(read_wording)
                .collect::<Result<HashMap<_, _>, _>>()?
        };
        rows.iter().map(|row| read_change(row, &texts)).collect()
    }

    /// The current state of each of `subject`'s (purpose, channel): its latest change by `at`,
    /// ties broken by insertion order; ordered by purpose, then channel (none first).
    ///
    /// # Errors
    ///
    /// As for [`history`](Self::history).
    pub async fn current(
        &self,
        pool: &Pool<DB>,
        subject: &ConsentSubject,
    ) -> Result<Vec<ConsentRecord>, ConsentError> {
        let mut latest: BTreeMap<(String, Option<Channel>), ConsentRecord> = BTreeMap::new();
        // The history is in (at, seq) order: the last change of each pair wins.
        for record in self.history(pool, subject).await? {
            latest.insert((record.purpose.clone(), record.channel), record);
        }
        Ok(latest.into_values().collect())
    }

    /// One page of at most `limit` subjects whose current state of `purpose` on `channel`
    /// (`None`: the consent of no particular channel) is given, starting `after` the previous
    /// page's cursor. Each page is one statement; memory is bounded by `limit`.
    ///
    /// # Errors
    ///
    /// An invalid purpose, a database failure, or a stored row that cannot be read.
    pub async fn granted_page(
        &self,
        pool: &Pool<DB>,
        purpose: &str,
        channel: Option<Channel>,
        after: Option<&GrantedCursor>,
        limit: u32,
    ) -> Result<GrantedPage, ConsentError> {
        const OP: Operation = Operation::Granted;
        check_purpose(purpose, OP)?;
        let limit = limit.max(1);
        let sql = granted_sql(purpose, channel, after, limit);
        let mut conn = pool.acquire().await.map_err(ConsentError::db(OP))?;
        let rows = DB::fetch_all(&mut conn, &sql)
            .await
            .map_err(ConsentError::db(OP))?;
        let corrupt = ConsentError::Corrupt {
            op: OP,
            problem: "a consent change without a readable subject",
        };
        let mut subjects = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in &rows {
            let text = |i: usize| row.get_index(i).and_then(Value::as_str);
            let subject = text(1)
                .and_then(|kind| {
                    ConsentSubject::from_columns(kind, text(2), text(3), text(4), text(5))
                })
                .ok_or(ConsentError::Corrupt {
                    op: OP,
                    problem: "a consent change without a readable subject",
                })?;
            subjects.push(subject);
            last = text(0).map(str::to_owned);
        }
        let next = if rows.len() as u64 == u64::from(limit) {
            Some(GrantedCursor(last.ok_or(corrupt)?))
        } else {
            None
        };
        Ok(GrantedPage { subjects, next })
    }

    /// Every subject whose current state of `purpose` on `channel` is given, as a stream read
    /// page by page ([`granted_page`](Self::granted_page), `page` subjects at a time), for
    /// sending a campaign: memory stays bounded by the page, whatever the number of subjects.
    pub fn granted<'a>(
        &'a self,
        pool: &'a Pool<DB>,
        purpose: &'a str,
        channel: Option<Channel>,
        page: u32,
    ) -> impl Stream<Item = Result<ConsentSubject, ConsentError>> + Send + 'a {
        // `None`: done; `Some(cursor)`: the next page starts after `cursor` (`None` at first).
        let start: Option<Option<GrantedCursor>> = Some(None);
        stream::try_unfold(start, move |state| async move {
            let Some(after) = state else {
                return Ok(None);
            };
            let page = self
                .granted_page(pool, purpose, channel, after.as_ref(), page)
                .await?;
            let next = page.next.map(Some);
            Ok::<_, ConsentError>(Some((
                stream::iter(page.subjects.into_iter().map(Ok::<_, ConsentError>)),
                next,
            )))
        })
        .try_flatten()
    }

    /// How many subjects' current state of each purpose and channel is given and withdrawn,
    /// per version of the wording shown. One aggregate statement.
    ///
    /// # Errors
    ///
    /// A database failure, or a stored row that cannot be read.
    pub async fn counts(&self, pool: &Pool<DB>) -> Result<Vec<ConsentCount>, ConsentError> {
        const OP: Operation = Operation::Count;
        let mut conn = pool.acquire().await.map_err(ConsentError::db(OP))?;
        let rows = DB::fetch_all(&mut conn, &counts_sql())
            .await
            .map_err(ConsentError::db(OP))?;
        let corrupt = || ConsentError::Corrupt {
            op: OP,
            problem: "a count row cannot be read",
        };
        let mut counts: BTreeMap<(String, Option<Channel>, String), (u64, u64)> = BTreeMap::new();
        for row in &rows {
            let purpose = row
                .get_index(0)
                .and_then(Value::as_str)
                .ok_or_else(corrupt)?;
            let channel = read_channel(row.get_index(1)).ok_or_else(corrupt)?;
            let version = row
                .get_index(2)
                .and_then(Value::as_str)
                .ok_or_else(corrupt)?;
            let given = row.get_index(3).and_then(as_bool).ok_or_else(corrupt)?;
            let n = row
                .get_index(4)
                .and_then(Value::as_i64)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(corrupt)?;
            let entry = counts
                .entry((purpose.to_owned(), channel, version.to_owned()))
                .or_default();
            if given {
                entry.0 += n;
            } else {
                entry.1 += n;
            }
        }
        Ok(counts
            .into_iter()
            .map(
                |((purpose, channel, version), (granted, withdrawn))| ConsentCount {
                    purpose,
                    channel,
                    version,
                    granted,
                    withdrawn,
                },
            )
            .collect())
    }
}

/// The aliases of the outer and inner reads of the changes table.
pub(crate) fn outer() -> Ident {
    ident!("c")
}

fn inner() -> Ident {
    ident!("d")
}

/// ` NOT EXISTS (a later change of c's subject, purpose and channel)`: `c` is current.
/// `channel` is `Some` when the outer query fixes the channel (then `d` is matched on it
/// directly), `None` to match `d.channel` with `c.channel`, `NULL` equal to `NULL`.
pub(crate) fn no_later_change(fixed_channel: Option<Option<Channel>>) -> Sql {
    let (c, d) = (outer(), inner());
    let mut sql = Sql::new(" NOT EXISTS (SELECT 1 FROM ");
    sql.ident(&changes())
        .push(" ")
        .ident(&d)
        .push(" WHERE ")
        .column(Some(&d), &col::subject_ref())
        .push(" = ")
        .column(Some(&c), &col::subject_ref())
        .push(" AND ")
        .column(Some(&d), &col::purpose())
        .push(" = ")
        .column(Some(&c), &col::purpose())
        .push(" AND ");
    match fixed_channel {
        Some(channel) => {
            channel_match(&mut sql, &d, channel);
        }
        None => {
            let same = |op: &'static str| {
                let mut s = Sql::default();
                s.column(Some(&d), &col::channel())
                    .push(op)
                    .column(Some(&c), &col::channel());
                s
            };
            sql.per_dialect(same(" IS "), same(" IS NOT DISTINCT FROM "), same(" <=> "));
        }
    }
    sql.push(" AND (")
        .column(Some(&d), &col::at())
        .push(" > ")
        .column(Some(&c), &col::at())
        .push(" OR (")
        .column(Some(&d), &col::at())
        .push(" = ")
        .column(Some(&c), &col::at())
        .push(" AND ")
        .column(Some(&d), &col::seq())
        .push(" > ")
        .column(Some(&c), &col::seq())
        .push(")))");
    sql
}

/// `t.channel = ?`, or `t.channel IS NULL`.
pub(crate) fn channel_match(sql: &mut Sql, table: &Ident, channel: Option<Channel>) {
    sql.column(Some(table), &col::channel());
    match channel {
        Some(ch) => sql.push(" = ").bind(ch.as_str()),
        None => sql.push(" IS NULL"),
    };
}

fn granted_sql(
    purpose: &str,
    channel: Option<Channel>,
    after: Option<&GrantedCursor>,
    limit: u32,
) -> Sql {
    let c = outer();
    let columns = [
        col::subject_ref(),
        col::subject_kind(),
        col::key_type(),
        col::customer_key(),
        col::user_key(),
        col::email(),
    ];
    let read: Vec<(&Ident, Ident)> = columns.into_iter().map(|column| (&c, column)).collect();
    let after = after.map(|GrantedCursor(a)| a.as_str());
    current_sql(&read, false, purpose, channel, true, after, limit)
}

/// The current changes (the latest of each subject) of `purpose` on `channel` whose `given` is
/// `given`, keyset-paged by subject reference after `after`: the columns `read` (qualified by
/// the alias of the changes, `c`, or of the wordings, `w`, joined when `with_wordings`), at most
/// `limit` rows, one statement. The subjects of a purpose listed for a campaign, and the lines
/// of an opt-in or opt-out list, are both read through it.
pub(crate) fn current_sql(
    read: &[(&Ident, Ident)],
    with_wordings: bool,
    purpose: &str,
    channel: Option<Channel>,
    given: bool,
    after: Option<&str>,
    limit: u32,
) -> Sql {
    let (c, w) = (outer(), ident!("w"));
    let mut sql = Sql::new("SELECT ");
    for (i, (table, column)) in read.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.column(Some(table), column);
    }
    sql.push(" FROM ").ident(&changes()).push(" ").ident(&c);
    if with_wordings {
        join_wordings(&mut sql, &c, &w);
    }
    sql.push(" WHERE ")
        .column(Some(&c), &col::purpose())
        .push(" = ")
        .bind(purpose)
        .push(" AND ");
    channel_match(&mut sql, &c, channel);
    sql.push(" AND ")
        .column(Some(&c), &col::subject_kind())
        .push(" <> ")
        .bind(ERASED)
        .push(" AND ")
        .column(Some(&c), &col::given())
        .push(" = ")
        .bind(given);
    if let Some(after) = after {
        sql.push(" AND ")
            .column(Some(&c), &col::subject_ref())
            .push(" > ")
            .bind(after);
    }
    sql.push(" AND").append(no_later_change(Some(channel)));
    sql.push(" ORDER BY ").column(Some(&c), &col::subject_ref());
    sql.append(limit_sql(limit));
    sql
}

/// ` JOIN wordings w ON w.id = c.wording_id`: each change with the wording it showed.
fn join_wordings(sql: &mut Sql, c: &Ident, w: &Ident) {
    sql.push(" JOIN ")
        .ident(&wordings())
        .push(" ")
        .ident(w)
        .push(" ON ")
        .column(Some(w), &col::id())
        .push(" = ")
        .column(Some(c), &col::wording_id());
}

/// ` LIMIT n`.
pub(crate) fn limit_sql(limit: u32) -> Sql {
    // Written as digits, not bound (MySQL refuses a placeholder there), each digit a static
    // fragment: no runtime text reaches the statement.
    let mut sql = Sql::new(" LIMIT ");
    let digits: Vec<&'static str> = limit
        .to_string()
        .bytes()
        .map(|b| DIGITS[usize::from(b - b'0')])
        .collect();
    for d in digits {
        sql.push(d);
    }
    sql
}

const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

fn counts_sql() -> Sql {
    let (c, w) = (outer(), ident!("w"));
    let group = |sql: &mut Sql| {
        sql.column(Some(&c), &col::purpose())
            .push(", ")
            .column(Some(&c), &col::channel())
            .push(", ")
            .column(Some(&w), &col::version())
            .push(", ")
            .column(Some(&c), &col::given());
    };
    let mut sql = Sql::new("SELECT ");
    group(&mut sql);
    sql.push(", COUNT(*) FROM ")
        .ident(&changes())
        .push(" ")
        .ident(&c);
    join_wordings(&mut sql, &c, &w);
    sql.push(" WHERE ")
        .column(Some(&c), &col::subject_kind())
        .push(" <> ")
        .bind(ERASED)
        .push(" AND")
        .append(no_later_change(None));
    sql.push(" GROUP BY ");
    group(&mut sql);
    sql
}

/// A boolean as the databases return it: `BOOLEAN`, or `0`/`1` (SQLite, MySQL `TINYINT`).
pub(crate) fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Int(i) => Some(*i != 0),
        _ => None,
    }
}

/// A stored channel: `Some(None)` for `NULL`, `None` for an unknown name.
fn read_channel(value: Option<&Value>) -> Option<Option<Channel>> {
    match value {
        None | Some(Value::Null) => Some(None),
        Some(Value::Text(name)) => Channel::parse(name).map(Some),
        Some(_) => None,
    }
}

fn read_timestamp(value: Option<&Value>) -> Option<DateTime<Utc>> {
    value.and_then(Value::as_timestamp)
}

fn read_wording(row: &Row) -> Result<(String, Wording), ConsentError> {
    let text = |i: usize| row.get_index(i).and_then(Value::as_str).map(str::to_owned);
    match (text(0), text(1), text(2), text(3), text(4)) {
        (Some(id), Some(name), Some(body), Some(version), Some(language)) => Ok((
            id,
            Wording {
                name,
                text: body,
                version,
                language,
            },
        )),
        _ => Err(ConsentError::Corrupt {
            op: Operation::Read,
            problem: "a wording row cannot be read",
        }),
    }
}

fn read_change(
    row: &Row,
    wordings: &HashMap<String, Wording>,
) -> Result<ConsentRecord, ConsentError> {
    let corrupt = |problem| ConsentError::Corrupt {
        op: Operation::Read,
        problem,
    };
    let text = |i: usize| row.get_index(i).and_then(Value::as_str);
    let seq = row
        .get_index(0)
        .and_then(Value::as_i64)
        .ok_or_else(|| corrupt("a change without its sequence"))?;
    let purpose = text(1).ok_or_else(|| corrupt("a change without its purpose"))?;
    let channel = read_channel(row.get_index(2)).ok_or_else(|| corrupt("an unknown channel"))?;
    let given = row
        .get_index(3)
        .and_then(as_bool)
        .ok_or_else(|| corrupt("a change without given or withdrawn"))?;
    let wording = text(4)
        .and_then(|id| wordings.get(id))
        .cloned()
        .ok_or_else(|| corrupt("a change whose wording is missing"))?;
    let source = text(5)
        .and_then(Source::parse)
        .ok_or_else(|| corrupt("an unknown source"))?;
    let at =
        read_timestamp(row.get_index(6)).ok_or_else(|| corrupt("a change without its time"))?;
    Ok(ConsentRecord {
        seq,
        purpose: purpose.to_owned(),
        channel,
        given,
        wording,
        source,
        at,
    })
}
