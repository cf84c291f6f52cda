//! The JSON document, written piece by piece as rows arrive.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;

use async_trait::async_trait;
use chrono::SecondsFormat;
use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt as _, BufWriter};
use uuid::Uuid;

use super::Exported;
use super::context::TableSink;
use crate::backend::Row;
use crate::ident::Ident;
use crate::subject::Subject;
use crate::value::Value;

/// The JSON document, written piece by piece.
pub(crate) struct Document<W: AsyncWrite + Unpin + Send> {
    out: BufWriter<W>,
    buf: Vec<u8>,
    bytes: u64,
    first_section: bool,
    first_table: bool,
    first_row: bool,
    read_as_text: Vec<(String, String)>,
    unreadable: Vec<(String, String, String)>,
}

impl<W: AsyncWrite + Unpin + Send> Document<W> {
    pub(crate) fn new(out: W) -> Self {
        Self {
            out: BufWriter::with_capacity(64 * 1024, out),
            buf: Vec::with_capacity(4096),
            bytes: 0,
            first_section: true,
            first_table: true,
            first_row: true,
            read_as_text: Vec::new(),
            unreadable: Vec::new(),
        }
    }

    async fn raw(&mut self, text: &[u8]) -> io::Result<()> {
        self.bytes += text.len() as u64;
        self.out.write_all(text).await
    }

    async fn json(&mut self, value: &impl Serialize) -> io::Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, value).map_err(io::Error::other)?;
        self.bytes += self.buf.len() as u64;
        self.out.write_all(&self.buf).await
    }

    pub(crate) async fn start(&mut self, header: &Header<'_>) -> io::Result<()> {
        // The header's fields, then the open `sections` array.
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, header).map_err(io::Error::other)?;
        // `{…}` without its closing brace, then the sections.
        self.buf.pop();
        self.buf.extend_from_slice(b",\"sections\":[");
        self.bytes += self.buf.len() as u64;
        self.out.write_all(&self.buf).await
    }

    pub(crate) async fn section_start(
        &mut self,
        position: u32,
        handler: &str,
        description: &str,
    ) -> io::Result<()> {
        if !self.first_section {
            self.raw(b",").await?;
        }
        self.first_section = false;
        self.first_table = true;
        self.raw(b"\n{\"position\":").await?;
        self.json(&position).await?;
        self.raw(b",\"handler\":").await?;
        self.json(&handler).await?;
        self.raw(b",\"description\":").await?;
        self.json(&description).await?;
        self.raw(b",\"tables\":[").await
    }

    pub(crate) async fn section_end(
        &mut self,
        exported: Exported,
        notes: &[Cow<'static, str>],
    ) -> io::Result<()> {
        self.raw(b"],\"exported\":").await?;
        self.json(&(exported == Exported::Written)).await?;
        self.raw(b",\"notes\":").await?;
        self.json(&notes).await?;
        self.raw(b"}").await
    }

    pub(crate) async fn finish(&mut self, trailer: &Trailer<'_>) -> io::Result<u64> {
        self.raw(b"\n],").await?;
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, trailer).map_err(io::Error::other)?;
        // The trailer's fields without its opening brace close the document.
        let body = self.buf.split_off(1);
        self.bytes += body.len() as u64 + 1;
        self.out.write_all(&body).await?;
        self.out.write_all(b"\n").await?;
        self.out.flush().await?;
        Ok(self.bytes)
    }

    pub(crate) fn read_as_text(&self) -> &[(String, String)] {
        &self.read_as_text
    }

    pub(crate) fn unreadable(&self) -> &[(String, String, String)] {
        &self.unreadable
    }

    fn note_read_as_text(&mut self, table: &str, columns: &[(Ident, bool)]) {
        for (c, as_text) in columns {
            if *as_text
                && !self
                    .read_as_text
                    .iter()
                    .any(|(t, col)| t == table && col == c.as_str())
            {
                self.read_as_text
                    .push((table.to_owned(), c.as_str().to_owned()));
            }
        }
    }
}

#[async_trait]
impl<W: AsyncWrite + Unpin + Send> TableSink for Document<W> {
    async fn table_start(&mut self, table: &str, columns: &[(Ident, bool)]) -> io::Result<()> {
        self.note_read_as_text(table, columns);
        if !self.first_table {
            self.raw(b",").await?;
        }
        self.first_table = false;
        self.first_row = true;
        self.raw(b"\n {\"table\":").await?;
        self.json(&table).await?;
        self.raw(b",\"rows\":[").await
    }

    async fn row(&mut self, table: &str, row: &Row) -> io::Result<()> {
        let mut object = serde_json::Map::with_capacity(row.columns().len());
        for (column, value) in row.columns().iter().zip(row.values()) {
            let json = match value {
                Value::Unsupported(ty) => {
                    if !self
                        .unreadable
                        .iter()
                        .any(|(t, c, _)| t == table && c == column)
                    {
                        self.unreadable
                            .push((table.to_owned(), column.clone(), ty.clone()));
                    }
                    serde_json::Value::Null
                }
                other => to_json(other),
            };
            object.insert(column.clone(), json);
        }
        let separator: &[u8] = if self.first_row { b"\n  " } else { b",\n  " };
        self.first_row = false;
        self.raw(separator).await?;
        self.json(&object).await
    }

    async fn table_end(&mut self, rows: u64) -> io::Result<()> {
        self.raw(b"],\"count\":").await?;
        self.json(&rows).await?;
        self.raw(b"}").await
    }
}

/// A value as JSON (see the module docs).
pub fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null | Value::Unsupported(_) => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
        Value::Text(s) => J::String(s.clone()),
        Value::Timestamp(t) => J::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        Value::Date(d) => J::String(d.format("%Y-%m-%d").to_string()),
        Value::Bytes(b) => J::String(hex::encode(b)),
    }
}

/// The fields that open the document.
#[derive(Serialize)]
pub(crate) struct Header<'a> {
    pub(crate) format: &'static str,
    pub(crate) schema_version: u32,
    pub(crate) generated_at: String,
    pub(crate) generator: String,
    pub(crate) export_id: Uuid,
    pub(crate) subject: &'a Subject,
    /// The sections asked for, when not all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) only: Option<Vec<&'a str>>,
}

/// A handler the document includes, with its tables' row counts.
#[derive(Serialize)]
pub(crate) struct Included {
    pub(crate) position: u32,
    pub(crate) handler: String,
    pub(crate) tables: BTreeMap<String, u64>,
}

/// A handler the document does not include.
#[derive(Serialize)]
pub(crate) struct NotIncluded {
    pub(crate) position: u32,
    pub(crate) handler: String,
    pub(crate) reason: &'static str,
}

/// A column read as text, or a value that could not be read.
#[derive(Serialize)]
pub(crate) struct ColumnNote<'a> {
    pub(crate) table: &'a str,
    pub(crate) column: &'a str,
    #[serde(skip_serializing_if = "Option::is_none", rename = "type")]
    pub(crate) ty: Option<&'a str>,
}

/// The fields that close the document.
#[derive(Serialize)]
pub(crate) struct Trailer<'a> {
    pub(crate) included: &'a [Included],
    pub(crate) not_included: &'a [NotIncluded],
    pub(crate) read_as_text: Vec<ColumnNote<'a>>,
    pub(crate) unreadable: Vec<ColumnNote<'a>>,
    pub(crate) rows: u64,
    pub(crate) complete: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn values_become_json_as_documented() {
        use chrono::TimeZone as _;
        let t = Utc
            .with_ymd_and_hms(2027, 1, 10, 9, 0, 0)
            .single()
            .expect("time");
        assert_eq!(to_json(&Value::Timestamp(t)), "2027-01-10T09:00:00Z");
        assert_eq!(to_json(&Value::Date(t.date_naive())), "2027-01-10");
        assert_eq!(to_json(&Value::Bytes(vec![0, 255])), "00ff");
        assert_eq!(to_json(&Value::Float(f64::NAN)), serde_json::Value::Null);
        assert_eq!(to_json(&Value::Int(-3)), -3);
    }
}
