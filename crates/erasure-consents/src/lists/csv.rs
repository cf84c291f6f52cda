//! CSV as RFC 4180 writes it: fields separated by commas, records by line breaks, a field that
//! holds a comma, a quote or a line break quoted with `"` and its quotes doubled. Read record by
//! record from an async reader (a quoted field may span lines), written field by field.

use tokio::io::{AsyncBufRead, AsyncBufReadExt as _};

/// Appends one record and its line break (`\n`) to `out`.
pub(crate) fn write_record<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            for c in field.chars() {
                if c == '"' {
                    out.push('"');
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
}

/// Why a record cannot be read. Never quotes the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordError {
    NotUtf8,
    UnterminatedQuote,
    TextAfterQuote,
    QuoteInUnquotedField,
    TooLong,
}

impl RecordError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            RecordError::NotUtf8 => "is not UTF-8",
            RecordError::UnterminatedQuote => "has a quoted field that is never closed",
            RecordError::TextAfterQuote => "has text after the closing quote of a field",
            RecordError::QuoteInUnquotedField => {
                "has a quote inside an unquoted field (quote the field and double its quotes)"
            }
            RecordError::TooLong => "is longer than the longest record read (1 MiB)",
        }
    }
}

/// The longest record read: a line past it is refused (the wording text, the longest field,
/// is at most 64 KiB).
pub(crate) const MAX_RECORD: usize = 1 << 20;

/// Reads physical lines from `reader`, counting them from 1, without keeping more than one
/// record: the buffer is reused.
#[derive(Debug)]
pub(crate) struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    /// The number of physical lines read so far.
    line: u64,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    pub(crate) fn new(reader: R) -> Self {
        Self {
            reader,
            buf: Vec::with_capacity(256),
            line: 0,
        }
    }

    /// The next physical line without its line break, or `None` at the end. A line longer
    /// than [`MAX_RECORD`] is read to its end and refused (`Err(TooLong)`).
    pub(crate) async fn next_line(
        &mut self,
    ) -> std::io::Result<Option<(u64, Result<&str, RecordError>)>> {
        self.buf.clear();
        let n = read_line_bounded(&mut self.reader, &mut self.buf).await?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.len() > MAX_RECORD {
            return Ok(Some((self.line, Err(RecordError::TooLong))));
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        let mut bytes: &[u8] = &self.buf;
        if self.line == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| RecordError::NotUtf8);
        Ok(Some((self.line, text)))
    }
}

/// Reads up to and including the next `\n` into `buf`, keeping at most `MAX_RECORD + 1` bytes
/// (the rest of a longer line is read and dropped). Returns the bytes consumed.
async fn read_line_bounded<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(consumed);
        }
        let (chunk, done) = match memchr(b'\n', available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let room = (MAX_RECORD + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let len = chunk.len();
        reader.consume(len);
        consumed += len;
        if done {
            return Ok(consumed);
        }
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// A CSV record being read: its fields and the physical line it started on.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub(crate) fields: Vec<String>,
    pub(crate) line: u64,
}

/// Reads the next record into `record` (its fields replaced). A quoted field that spans line
/// breaks reads the next lines. Returns `Ok(None)` at the end, `Ok(Some(Err(_)))` for a record
/// that cannot be read (the lines it took are consumed, reading goes on after them).
pub(crate) async fn next_record<R: AsyncBufRead + Unpin>(
    lines: &mut Lines<R>,
    record: &mut Record,
) -> std::io::Result<Option<Result<(), RecordError>>> {
    record.fields.clear();
    let mut field = String::new();
    let mut state = State::FieldStart;
    let mut first = true;
    loop {
        let (number, line) = match lines.next_line().await? {
            None if first => return Ok(None),
            None => return Ok(Some(Err(RecordError::UnterminatedQuote))),
            Some((number, Err(e))) => {
                if first {
                    record.line = number;
                }
                return Ok(Some(Err(e)));
            }
            Some((number, Ok(line))) => (number, line),
        };
        if first {
            record.line = number;
            first = false;
        } else {
            // The line break was inside a quoted field: it is part of the value.
            field.push('\n');
        }
        for c in line.chars() {
            state = match (state, c) {
                (State::FieldStart, '"') => State::Quoted,
                (State::FieldStart | State::Unquoted, ',') => {
                    record.fields.push(std::mem::take(&mut field));
                    State::FieldStart
                }
                (State::Unquoted, '"') => {
                    return Ok(Some(Err(RecordError::QuoteInUnquotedField)));
                }
                (State::FieldStart | State::Unquoted, c) => {
                    field.push(c);
                    State::Unquoted
                }
                (State::Quoted, '"') => State::QuoteInQuoted,
                (State::Quoted, c) => {
                    field.push(c);
                    State::Quoted
                }
                (State::QuoteInQuoted, '"') => {
                    field.push('"');
                    State::Quoted
                }
                (State::QuoteInQuoted, ',') => {
                    record.fields.push(std::mem::take(&mut field));
                    State::FieldStart
                }
                (State::QuoteInQuoted, _) => return Ok(Some(Err(RecordError::TextAfterQuote))),
            };
        }
        if state != State::Quoted {
            record.fields.push(field);
            return Ok(Some(Ok(())));
        }
        if field.len() > MAX_RECORD {
            return Ok(Some(Err(RecordError::TooLong)));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(text: &str) -> Vec<(u64, Result<Vec<String>, RecordError>)> {
        let mut lines = Lines::new(text.as_bytes());
        let mut record = Record::default();
        let mut out = Vec::new();
        while let Some(r) = next_record(&mut lines, &mut record).await.expect("read") {
            out.push((record.line, r.map(|()| record.fields.clone())));
        }
        out
    }

    fn fields(xs: &[&str]) -> Result<Vec<String>, RecordError> {
        Ok(xs.iter().map(|s| (*s).to_owned()).collect())
    }

    #[tokio::test]
    async fn reads_plain_quoted_and_multiline_fields_with_their_line_numbers() {
        let text = "\u{feff}a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\n2,\"two\nlines\",\n,,\n";
        let got = read_all(text).await;
        assert_eq!(
            got,
            vec![
                (1, fields(&["a", "b", "c"])),
                (2, fields(&["1", "x, y", "say \"hi\""])),
                (3, fields(&["2", "two\nlines", ""])),
                (5, fields(&["", "", ""])),
            ]
        );
    }

    #[tokio::test]
    async fn malformed_records_are_reported_and_reading_goes_on() {
        let text = "a\"b,c\n\"x\"y,z\nok,1\n\"never closed\nstill\n";
        let got = read_all(text).await;
        assert_eq!(got[0], (1, Err(RecordError::QuoteInUnquotedField)));
        assert_eq!(got[1], (2, Err(RecordError::TextAfterQuote)));
        assert_eq!(got[2], (3, fields(&["ok", "1"])));
        assert_eq!(got[3], (4, Err(RecordError::UnterminatedQuote)));
        assert_eq!(got.len(), 4);
    }

    #[tokio::test]
    async fn invalid_utf8_and_overlong_lines_are_refused_without_stopping() {
        let mut bytes = b"ok\n\xff\xfe\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', MAX_RECORD + 10));
        bytes.extend_from_slice(b"\nlast\n");
        let mut lines = Lines::new(bytes.as_slice());
        let mut record = Record::default();
        let mut got = Vec::new();
        while let Some(r) = next_record(&mut lines, &mut record).await.expect("read") {
            got.push((record.line, r.map(|()| record.fields.clone())));
        }
        assert_eq!(got[0], (1, fields(&["ok"])));
        assert_eq!(got[1].1, Err(RecordError::NotUtf8));
        assert_eq!(got[2].1, Err(RecordError::TooLong));
        assert_eq!(got[3], (4, fields(&["last"])));
    }

    #[tokio::test]
    async fn what_is_written_reads_back_the_same() {
        let rows: Vec<Vec<&str>> = vec![
            vec!["plain", "", "with,comma"],
            vec!["\"quoted\"", "multi\nline", "cr\r\nlf"],
            vec!["ünïcödé", " spaced ", ","],
        ];
        let mut out = String::new();
        for row in &rows {
            write_record(&mut out, row.iter().copied());
        }
        let got = read_all(&out).await;
        let back: Vec<Vec<String>> = got.into_iter().map(|(_, r)| r.expect("record")).collect();
        // A line break inside a quoted field reads back as `\n`, whichever it was.
        let expected: Vec<Vec<String>> = vec![
            vec!["plain".into(), String::new(), "with,comma".into()],
            vec!["\"quoted\"".into(), "multi\nline".into(), "cr\nlf".into()],
            vec!["ünïcödé".into(), " spaced ".into(), ",".into()],
        ];
        assert_eq!(back, expected);
    }
}
