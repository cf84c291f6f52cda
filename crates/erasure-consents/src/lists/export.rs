//! Exporting a list: the subjects whose current state of a purpose and channel is given (an
//! opt-in list) or withdrawn (an opt-out list), page by page.

use erasure_core::sql::Sql;
use erasure_core::{Backend, Value, ident};
use serde::Serialize;
use sqlx::Pool;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use super::csv::write_record;
use super::{FIELDS, ListFormat};
use crate::columns as col;
use crate::error::{ConsentError, Operation};
use crate::model::{Channel, check_purpose};
use crate::queries::{current_sql, outer};
use crate::store::Consents;

const OP: Operation = Operation::Export;

/// Which list: the subjects whose current state of `purpose` on `channel` is `given` (an opt-in
/// list) or not (an opt-out list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSelection {
    /// The purpose key.
    pub purpose: String,
    /// The channel; `None` for the consent of no particular channel.
    pub channel: Option<Channel>,
    /// `true`: the opt-in list; `false`: the opt-out list.
    pub given: bool,
}

impl ListSelection {
    /// The opt-in list of `purpose` on `channel`.
    pub fn opt_in(purpose: impl Into<String>, channel: Option<Channel>) -> Self {
        Self {
            purpose: purpose.into(),
            channel,
            given: true,
        }
    }

    /// The opt-out list of `purpose` on `channel`.
    pub fn opt_out(purpose: impl Into<String>, channel: Option<Channel>) -> Self {
        Self {
            purpose: purpose.into(),
            channel,
            given: false,
        }
    }
}

/// How [`Consents::export_list`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    page: u32,
    with_wording: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            page: 1000,
            with_wording: false,
        }
    }
}

impl ExportOptions {
    /// Pages of 1,000 subjects, the wording named by version and language only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subjects read per statement (at least 1): memory is bounded by it.
    #[must_use]
    pub fn page(mut self, subjects: u32) -> Self {
        self.page = subjects.max(1);
        self
    }

    /// Also write each line's wording `name` and `text`, so that the list imports into a
    /// database that does not have the wordings yet (the lines grow by the text's length).
    #[must_use]
    pub fn with_wording(mut self, with_wording: bool) -> Self {
        self.with_wording = with_wording;
        self
    }
}

impl<DB: Backend> Consents<DB> {
    /// Writes the list `selection` names to `writer` as `format` (see the [field
    /// table](crate#lists-in-and-out); CSV with its header), one line per subject, in a stable
    /// order, reading [`ExportOptions::page`] subjects per statement: memory stays bounded
    /// whatever the length of the list. Subjects erased with their withdrawals kept as proof
    /// are not in any list. Returns the number of subjects written.
    ///
    /// What it writes imports again unchanged ([`import_list`](Self::import_list) finds every
    /// line already recorded).
    ///
    /// # Errors
    ///
    /// An invalid purpose, a database failure, a stored row that cannot be read, or a write
    /// that fails ([`ConsentError::Io`]). What was written before stays written.
    pub async fn export_list<W>(
        &self,
        pool: &Pool<DB>,
        selection: &ListSelection,
        format: ListFormat,
        writer: &mut W,
        options: ExportOptions,
    ) -> Result<u64, ConsentError>
    where
        W: AsyncWrite + Unpin + Send,
    {
        check_purpose(&selection.purpose, OP)?;
        let io = |source| ConsentError::Io { op: OP, source };
        let fields: &[&str] = if options.with_wording {
            &FIELDS
        } else {
            &FIELDS[..11]
        };
        let mut out = String::new();
        if format == ListFormat::Csv {
            write_record(&mut out, fields.iter().copied());
        }
        let mut written = 0u64;
        let mut after: Option<String> = None;
        loop {
            let sql = page_sql(selection, after.as_deref(), options.page);
            let rows = {
                let mut conn = pool.acquire().await.map_err(ConsentError::db(OP))?;
                DB::fetch_all(&mut conn, &sql)
                    .await
                    .map_err(ConsentError::db(OP))?
            };
            for row in &rows {
                let line = Line::read(row, selection, options.with_wording).ok_or(
                    ConsentError::Corrupt {
                        op: OP,
                        problem: "a consent change or its wording cannot be read",
                    },
                )?;
                line.write(format, fields, &mut out)?;
                written += 1;
            }
            writer.write_all(out.as_bytes()).await.map_err(io)?;
            out.clear();
            if rows.len() < options.page as usize {
                break;
            }
            after = rows
                .last()
                .and_then(|r| r.get_index(0))
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        writer.flush().await.map_err(io)?;
        tracing::info!(
            purpose = %selection.purpose,
            channel = selection.channel.map(|c| c.as_str()),
            given = selection.given,
            subjects = written,
            format = %format,
            "consent list exported"
        );
        Ok(written)
    }
}

fn page_sql(selection: &ListSelection, after: Option<&str>, limit: u32) -> Sql {
    let (c, w) = (outer(), ident!("w"));
    // Read in this order by `Line::read`.
    let read = [
        (&c, col::subject_ref()),
        (&c, col::subject_kind()),
        (&c, col::key_type()),
        (&c, col::customer_key()),
        (&c, col::user_key()),
        (&c, col::email()),
        (&c, col::channel()),
        (&c, col::at()),
        (&c, col::source()),
        (&w, col::version()),
        (&w, col::language()),
        (&w, col::name()),
        (&w, col::text()),
    ];
    current_sql(
        &read,
        true,
        &selection.purpose,
        selection.channel,
        selection.given,
        after,
        limit,
    )
}

/// A key as JSON writes it: a number when it was given as one.
#[derive(Serialize)]
#[serde(untagged)]
enum JsonKey<'a> {
    Int(i64),
    Text(&'a str),
}

/// One line of the list, borrowed from its row.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<JsonKey<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<JsonKey<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_type: Option<&'a str>,
    purpose: &'a str,
    channel: Option<&'a str>,
    given: bool,
    at: String,
    version: &'a str,
    language: &'a str,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

impl<'a> Line<'a> {
    fn read(
        row: &'a erasure_core::Row,
        selection: &'a ListSelection,
        with_wording: bool,
    ) -> Option<Line<'a>> {
        let text = |i: usize| row.get_index(i).and_then(Value::as_str);
        let kind = text(1)?;
        let key_type = text(2);
        let key = |i: usize| -> Option<JsonKey<'a>> {
            let value = text(i)?;
            Some(match key_type {
                Some("int") => JsonKey::Int(value.parse().ok()?),
                _ => JsonKey::Text(value),
            })
        };
        let (customer, user, email) = match kind {
            "customer" => (Some(key(3)?), None, None),
            "user" => (Some(key(3)?), Some(key(4)?), None),
            "email" => (None, None, Some(text(5)?)),
            _ => return None,
        };
        let at = row.get_index(7).and_then(Value::as_timestamp)?;
        Some(Line {
            customer,
            user,
            email,
            // Written only where it changes how a key reads back: a text key of digits.
            key_type: match (key_type, text(3)) {
                (Some("text"), Some(k)) if k.parse::<i64>().is_ok() => Some("text"),
                _ => None,
            },
            purpose: &selection.purpose,
            channel: selection.channel.map(Channel::as_str),
            given: selection.given,
            at: at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            source: text(8)?,
            version: text(9)?,
            language: text(10)?,
            name: if with_wording { Some(text(11)?) } else { None },
            text: if with_wording { Some(text(12)?) } else { None },
        })
    }

    fn write(
        &self,
        format: ListFormat,
        fields: &[&str],
        out: &mut String,
    ) -> Result<(), ConsentError> {
        match format {
            ListFormat::JsonLines => {
                let json = serde_json::to_string(self).map_err(|_| ConsentError::Corrupt {
                    op: OP,
                    problem: "a line cannot be written as JSON",
                })?;
                out.push_str(&json);
                out.push('\n');
            }
            ListFormat::Csv => {
                let key = |k: &Option<JsonKey<'_>>| match k {
                    Some(JsonKey::Int(i)) => i.to_string(),
                    Some(JsonKey::Text(t)) => (*t).to_owned(),
                    None => String::new(),
                };
                let given = if self.given { "true" } else { "false" };
                let values: [String; 13] = [
                    key(&self.customer),
                    key(&self.user),
                    self.email.unwrap_or_default().to_owned(),
                    self.key_type.unwrap_or_default().to_owned(),
                    self.purpose.to_owned(),
                    self.channel.unwrap_or_default().to_owned(),
                    given.to_owned(),
                    self.at.clone(),
                    self.version.to_owned(),
                    self.language.to_owned(),
                    self.source.to_owned(),
                    self.name.unwrap_or_default().to_owned(),
                    self.text.unwrap_or_default().to_owned(),
                ];
                write_record(out, values[..fields.len()].iter().map(String::as_str));
            }
        }
        Ok(())
    }
}
