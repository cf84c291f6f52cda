//! Opt-in and opt-out lists in and out: CSV and JSON Lines, one consent change per line.
//!
//! The format is in `FORMAT.md` (the crate's docs include it).

mod csv;
mod export;
mod import;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SubsecRound as _, Utc};
use erasure_core::Key;
use serde_json::{Map, Value as Json};

use crate::error::ConsentError;
use crate::model::{
    Channel, ConsentSubject, Source, Wording, check_purpose, check_reference, wording_id,
};

pub use export::{ExportOptions, ListSelection};
pub use import::{BadLine, ImportOptions, ImportSummary, OnBadLine};

/// The format of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListFormat {
    /// Comma-separated values with a header line (RFC 4180), UTF-8.
    Csv,
    /// One JSON object per line (JSON Lines), UTF-8.
    JsonLines,
}

impl ListFormat {
    /// `csv` or `jsonl`.
    pub fn as_str(self) -> &'static str {
        match self {
            ListFormat::Csv => "csv",
            ListFormat::JsonLines => "jsonl",
        }
    }
}

impl fmt::Display for ListFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not `csv`, `jsonl` or `ndjson`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown list format: expected `csv` or `jsonl`")]
pub struct UnknownFormat;

impl FromStr for ListFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(ListFormat::Csv),
            "jsonl" | "ndjson" | "json-lines" => Ok(ListFormat::JsonLines),
            _ => Err(UnknownFormat),
        }
    }
}

/// The fields of a line, in the order an export writes them.
pub(crate) const FIELDS: [&str; 13] = [
    "customer", "user", "email", "key_type", "purpose", "channel", "given", "at", "version",
    "language", "source", "name", "text",
];

/// The index of each field in [`FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Customer,
    User,
    Email,
    KeyType,
    Purpose,
    Channel,
    Given,
    At,
    Version,
    Language,
    Source,
    Name,
    Text,
}

impl Field {
    const ALL: [Field; 13] = [
        Field::Customer,
        Field::User,
        Field::Email,
        Field::KeyType,
        Field::Purpose,
        Field::Channel,
        Field::Given,
        Field::At,
        Field::Version,
        Field::Language,
        Field::Source,
        Field::Name,
        Field::Text,
    ];

    pub(crate) fn name(self) -> &'static str {
        FIELDS[self as usize]
    }

    fn parse(name: &str) -> Option<Field> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// One line of a list: a consent change of a subject, its wording named by version and
/// language (and given in full when the line carries `name` and `text`).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) subject: ConsentSubject,
    pub(crate) purpose: String,
    pub(crate) channel: Option<Channel>,
    pub(crate) given: bool,
    pub(crate) at: DateTime<Utc>,
    pub(crate) source: Source,
    pub(crate) version: String,
    /// Canonical case.
    pub(crate) language: String,
    /// The wording's name and text, when the line gives them.
    pub(crate) wording: Option<(String, String)>,
    /// The subject's reference and the wording's id: hashes, computed once per line.
    pub(crate) reference: String,
    pub(crate) wording_id: String,
}

/// Why a line is refused: a sentence naming the field, never its value.
pub(crate) type Reason = String;

/// A line's raw fields, by [`Field`], as text (`None`: absent or empty).
#[derive(Debug, Default)]
pub(crate) struct RawLine {
    values: [Option<String>; 13],
    /// Key fields given as JSON numbers: read as integer keys.
    numeric: [bool; 2],
}

impl RawLine {
    fn get(&self, field: Field) -> Option<&str> {
        self.values[field as usize].as_deref()
    }

    fn take(&mut self, field: Field) -> Option<String> {
        self.values[field as usize].take()
    }

    /// The fields of a CSV record, placed by the header's `columns`.
    pub(crate) fn from_csv(
        columns: &[Option<Field>],
        fields: &mut [String],
    ) -> Result<RawLine, Reason> {
        if fields.len() != columns.len() {
            return Err(format!(
                "has {} fields where the header has {}",
                fields.len(),
                columns.len()
            ));
        }
        let mut raw = RawLine::default();
        for (column, value) in columns.iter().zip(fields.iter_mut()) {
            if let Some(field) = column
                && !value.is_empty()
            {
                raw.values[*field as usize] = Some(std::mem::take(value));
            }
        }
        Ok(raw)
    }

    /// The fields of a JSON object.
    pub(crate) fn from_json(line: &str) -> Result<RawLine, Reason> {
        let object: Map<String, Json> = serde_json::from_str(line).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                format!("is not valid JSON (column {})", e.column())
            } else {
                "is not a JSON object".to_owned()
            }
        })?;
        let mut raw = RawLine::default();
        for (key, value) in object {
            let Some(field) = Field::parse(&key) else {
                // Keys are the file's; a key may be anything, even personal: not repeated.
                return Err("has a key that is not a list field".to_owned());
            };
            let text = match value {
                Json::Null => None,
                Json::String(s) if s.is_empty() => None,
                Json::String(s) => Some(s),
                Json::Bool(b) if field == Field::Given => Some(b.to_string()),
                Json::Number(n) if matches!(field, Field::Customer | Field::User) => {
                    let Some(i) = n.as_i64() else {
                        return Err(format!("`{}` is not an integer", field.name()));
                    };
                    raw.numeric[field as usize] = true;
                    Some(i.to_string())
                }
                _ => return Err(format!("`{}` has the wrong JSON type", field.name())),
            };
            raw.values[field as usize] = text;
        }
        Ok(raw)
    }

    /// The entry, checked as [`Consents::record`](crate::Consents::record) checks a change.
    pub(crate) fn into_entry(mut self) -> Result<Entry, Reason> {
        let subject = self.subject()?;
        let purpose = self.take(Field::Purpose).ok_or("`purpose` is missing")?;
        check_purpose(&purpose, crate::Operation::Import).map_err(reason)?;
        let channel = match self.get(Field::Channel) {
            None => None,
            Some(name) => Some(
                Channel::parse(name)
                    .ok_or("`channel` is not one of email, sms, messaging, push, phone, post")?,
            ),
        };
        let given = match self.get(Field::Given) {
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(_) => return Err("`given` is not `true` or `false`".to_owned()),
            None => return Err("`given` is missing".to_owned()),
        };
        let at = self
            .get(Field::At)
            .ok_or("`at` is missing")
            .and_then(|at| {
                DateTime::parse_from_rfc3339(at)
                    .map_err(|_| "`at` is not an RFC 3339 time (2026-03-01T12:00:00Z)")
            })?
            .with_timezone(&Utc)
            .trunc_subsecs(6);
        let source = match self.get(Field::Source) {
            None => Source::Import,
            Some(name) => Source::parse(name)
                .ok_or("`source` is not one of checkout, account, import, operator, api")?,
        };
        let version = self.take(Field::Version).ok_or("`version` is missing")?;
        let language = self.take(Field::Language).ok_or("`language` is missing")?;
        let (version, language, wording) = match (self.take(Field::Name), self.take(Field::Text)) {
            (Some(name), Some(text)) => {
                let w = Wording {
                    name,
                    text,
                    version,
                    language,
                }
                .validated()
                .map_err(reason)?;
                (w.version, w.language, Some((w.name, w.text)))
            }
            (None, None) => {
                let language = check_reference(&version, &language).map_err(reason)?;
                (version, language, None)
            }
            _ => return Err("gives one of `name` and `text`: give both or neither".to_owned()),
        };
        let reference = subject.reference();
        let wording_id = wording_id(&purpose, &version, &language);
        Ok(Entry {
            subject,
            purpose,
            channel,
            given,
            at,
            source,
            version,
            language,
            wording,
            reference,
            wording_id,
        })
    }

    fn subject(&mut self) -> Result<ConsentSubject, Reason> {
        let key_type = self.take(Field::KeyType);
        let numeric = self.numeric;
        let key = |value: String, field: Field| -> Result<Key, Reason> {
            match key_type.as_deref() {
                Some("int") => value
                    .parse::<i64>()
                    .map(Key::Int)
                    .map_err(|_| format!("`{}` is not an integer key", field.name())),
                Some("text") => Ok(Key::Text(value)),
                Some(_) => Err("`key_type` is not `int` or `text`".to_owned()),
                None if numeric[field as usize] => value
                    .parse::<i64>()
                    .map(Key::Int)
                    .map_err(|_| format!("`{}` is not an integer key", field.name())),
                None => Ok(match value.parse::<i64>() {
                    Ok(i) if i.to_string() == value => Key::Int(i),
                    _ => Key::Text(value),
                }),
            }
        };
        let subject = match (
            self.take(Field::Customer),
            self.take(Field::User),
            self.take(Field::Email),
        ) {
            (Some(customer), None, None) => {
                ConsentSubject::customer(key(customer, Field::Customer)?)
            }
            (Some(customer), Some(user), None) => {
                ConsentSubject::user(key(customer, Field::Customer)?, key(user, Field::User)?)
            }
            (None, None, Some(email)) => ConsentSubject::email(email)
                .map_err(|_| "`email` is not an email address".to_owned())?,
            (None, Some(_), None) => return Err("`user` is given without `customer`".to_owned()),
            (None, None, None) => {
                return Err("names no subject: give `customer` (and `user`) or `email`".to_owned());
            }
            _ => {
                return Err(
                    "names two subjects: give `customer` (and `user`) or `email`".to_owned(),
                );
            }
        };
        subject
            .validate()
            .map_err(|_| "the subject's key is not valid".to_owned())?;
        subject.key_type().map_err(reason)?;
        Ok(subject)
    }
}

/// A [`ConsentError::Invalid`]'s field and rule, as a line's reason.
fn reason(e: ConsentError) -> Reason {
    match e {
        ConsentError::Invalid { field, problem, .. } => format!("`{field}` {problem}"),
        other => other.to_string(),
    }
}

/// The columns of a CSV header, each a field or `None` for a column to ignore (a column the
/// file has for its own use, named `_…`).
///
/// # Errors
///
/// A column is named twice, is unknown, or the header lacks a required field.
pub(crate) fn header_columns(fields: &[String]) -> Result<Vec<Option<Field>>, String> {
    let mut columns = Vec::with_capacity(fields.len());
    for (i, name) in fields.iter().enumerate() {
        let name = name.trim();
        if name.starts_with('_') {
            columns.push(None);
            continue;
        }
        let Some(field) = Field::parse(name) else {
            // The first line may be data by mistake: never echo it.
            return Err(format!(
                "column {} is not a list field (expected the names {})",
                i + 1,
                FIELDS.join(", ")
            ));
        };
        if columns.contains(&Some(field)) {
            return Err(format!("names `{}` twice", field.name()));
        }
        columns.push(Some(field));
    }
    for required in [
        Field::Purpose,
        Field::Given,
        Field::At,
        Field::Version,
        Field::Language,
    ] {
        if !columns.contains(&Some(required)) {
            return Err(format!("has no `{}` column", required.name()));
        }
    }
    if !columns.contains(&Some(Field::Customer)) && !columns.contains(&Some(Field::Email)) {
        return Err("has neither a `customer` nor an `email` column".to_owned());
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_line(header: &[&str], values: &[&str]) -> Result<Entry, Reason> {
        let header: Vec<String> = header.iter().map(|s| (*s).to_owned()).collect();
        let columns = header_columns(&header).expect("header");
        let mut fields: Vec<String> = values.iter().map(|s| (*s).to_owned()).collect();
        RawLine::from_csv(&columns, &mut fields)?.into_entry()
    }

    const HEADER: [&str; 8] = [
        "email", "purpose", "channel", "given", "at", "version", "language", "_note",
    ];

    #[test]
    fn a_csv_line_becomes_an_entry() {
        let e = csv_line(
            &HEADER,
            &[
                "ada@example.test",
                "newsletter",
                "email",
                "true",
                "2026-03-01T12:00:00.1234567+01:00",
                "v3",
                "EN",
                "x",
            ],
        )
        .expect("entry");
        assert!(matches!(e.subject, ConsentSubject::Email { .. }));
        assert_eq!(e.channel, Some(Channel::Email));
        assert!(e.given);
        assert_eq!(e.at.to_rfc3339(), "2026-03-01T11:00:00.123456+00:00");
        assert_eq!(e.language, "en");
        assert_eq!(e.source, Source::Import);
        assert!(e.wording.is_none());
    }

    #[test]
    fn reasons_name_the_field_and_never_the_value() {
        let secret = "ada.lovelace@example.test";
        let cases: [(&[&str], &str); 6] = [
            (
                &[
                    secret,
                    "Newsletter",
                    "",
                    "true",
                    "2026-03-01T12:00:00Z",
                    "v3",
                    "en",
                    "",
                ],
                "`purpose`",
            ),
            (
                &[
                    secret,
                    "newsletter",
                    "fax",
                    "true",
                    "2026-03-01T12:00:00Z",
                    "v3",
                    "en",
                    "",
                ],
                "`channel`",
            ),
            (
                &[
                    secret,
                    "newsletter",
                    "",
                    "yes",
                    "2026-03-01T12:00:00Z",
                    "v3",
                    "en",
                    "",
                ],
                "`given`",
            ),
            (
                &[
                    secret,
                    "newsletter",
                    "",
                    "true",
                    "yesterday",
                    "v3",
                    "en",
                    "",
                ],
                "`at`",
            ),
            (
                &[
                    "not-an-email",
                    "newsletter",
                    "",
                    "true",
                    "2026-03-01T12:00:00Z",
                    "v3",
                    "en",
                    "",
                ],
                "`email`",
            ),
            (
                &[
                    secret,
                    "newsletter",
                    "",
                    "true",
                    "2026-03-01T12:00:00Z",
                    "v3",
                    "english",
                    "",
                ],
                "language",
            ),
        ];
        for (values, field) in cases {
            let reason = csv_line(&HEADER, values).expect_err("refused");
            assert!(reason.contains(field), "{reason}");
            assert!(!reason.contains("ada"), "{reason}");
            assert!(!reason.contains("not-an-email"), "{reason}");
        }
        let short = csv_line(&HEADER, &[secret, "newsletter"]).expect_err("refused");
        assert_eq!(short, "has 2 fields where the header has 8");
    }

    #[test]
    fn keys_are_integers_when_written_as_integers_unless_key_type_says() {
        let header = [
            "customer", "user", "key_type", "purpose", "given", "at", "version", "language",
        ];
        let e = csv_line(
            &header,
            &["42", "7", "", "p", "1", "2026-03-01T12:00:00Z", "v", "en"],
        )
        .expect("entry");
        assert_eq!(e.subject, ConsentSubject::user(42, 7));
        let e = csv_line(
            &header,
            &["042", "", "", "p", "0", "2026-03-01T12:00:00Z", "v", "en"],
        )
        .expect("entry");
        assert_eq!(e.subject, ConsentSubject::customer(Key::Text("042".into())));
        let e = csv_line(
            &header,
            &[
                "42",
                "",
                "text",
                "p",
                "0",
                "2026-03-01T12:00:00Z",
                "v",
                "en",
            ],
        )
        .expect("entry");
        assert_eq!(e.subject, ConsentSubject::customer(Key::Text("42".into())));
        let reason = csv_line(
            &header,
            &[
                "abc",
                "",
                "int",
                "p",
                "0",
                "2026-03-01T12:00:00Z",
                "v",
                "en",
            ],
        )
        .expect_err("refused");
        assert_eq!(reason, "`customer` is not an integer key");
        let reason = csv_line(
            &header,
            &["", "7", "", "p", "0", "2026-03-01T12:00:00Z", "v", "en"],
        )
        .expect_err("refused");
        assert_eq!(reason, "`user` is given without `customer`");
    }

    #[test]
    fn a_json_line_becomes_an_entry_and_its_errors_hide_values() {
        let e = RawLine::from_json(
            r#"{"customer": 42, "purpose": "newsletter", "channel": null, "given": false, "at": "2026-03-01T12:00:00Z", "version": "v3", "language": "en", "name": "News", "text": "Offers by email."}"#,
        )
        .and_then(RawLine::into_entry)
        .expect("entry");
        assert_eq!(e.subject, ConsentSubject::customer(42));
        assert!(!e.given);
        assert_eq!(e.wording, Some(("News".into(), "Offers by email.".into())));
        let reason = RawLine::from_json(r#"{"email": "ada@example.test", "purpose": 3}"#)
            .expect_err("refused");
        assert_eq!(reason, "`purpose` has the wrong JSON type");
        let reason = RawLine::from_json(r#"{"ada@example.test": 1}"#).expect_err("refused");
        assert!(!reason.contains("ada"), "{reason}");
        let reason = RawLine::from_json(r#"{"email": "ada@example.test""#).expect_err("refused");
        assert!(reason.starts_with("is not valid JSON"), "{reason}");
        assert!(!reason.contains("ada"), "{reason}");
    }

    #[test]
    fn headers_are_checked_without_echoing_a_data_line() {
        let bad: Vec<String> = ["ada@example.test", "newsletter"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let problem = header_columns(&bad).expect_err("refused");
        assert!(
            problem.starts_with("column 1 is not a list field"),
            "{problem}"
        );
        assert!(!problem.contains("ada"));
        let twice: Vec<String> = ["email", "email"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            header_columns(&twice).expect_err("refused"),
            "names `email` twice"
        );
    }

    #[test]
    fn format_names() {
        assert_eq!("CSV".parse::<ListFormat>(), Ok(ListFormat::Csv));
        assert_eq!("ndjson".parse::<ListFormat>(), Ok(ListFormat::JsonLines));
        assert!("xml".parse::<ListFormat>().is_err());
    }
}
