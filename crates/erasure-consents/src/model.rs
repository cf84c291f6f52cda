//! What a consent change is: subject, purpose, channel, given or withdrawn, the wording shown,
//! the source and the time; and the rules a change must follow before it is stored.

use std::fmt;

use chrono::{DateTime, SubsecRound as _, Utc};
use erasure_core::{Key, Subject, SubjectError, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{ConsentError, Operation};

/// The longest purpose key, in bytes.
pub const MAX_PURPOSE_LEN: usize = 64;
/// The longest wording version, in bytes.
pub const MAX_VERSION_LEN: usize = 64;
/// The longest wording name, in characters.
pub const MAX_NAME_LEN: usize = 200;
/// The longest wording text, in bytes (MySQL's `TEXT`).
pub const MAX_TEXT_LEN: usize = 65_535;
/// The longest language tag, in bytes.
pub const MAX_LANGUAGE_LEN: usize = 35;

/// Whose consent: a customer, one user of a (B2B) customer, or a newsletter subscriber known
/// only by email. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConsentSubject {
    /// A customer account.
    Customer {
        /// The customer's key.
        customer: Key,
    },
    /// One user of a customer.
    User {
        /// The customer the user belongs to.
        customer: Key,
        /// The user.
        user: Key,
    },
    /// Someone with no account, known by email (a newsletter subscriber).
    Email {
        /// The address, stored and compared as given.
        email: String,
    },
}

impl fmt::Debug for ConsentSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConsentSubject::Customer { .. } => "ConsentSubject::Customer(<redacted>)",
            ConsentSubject::User { .. } => "ConsentSubject::User(<redacted>)",
            ConsentSubject::Email { .. } => "ConsentSubject::Email(<redacted>)",
        })
    }
}

impl ConsentSubject {
    /// A customer.
    pub fn customer(customer: impl Into<Key>) -> Self {
        ConsentSubject::Customer {
            customer: customer.into(),
        }
    }

    /// One user of a customer.
    pub fn user(customer: impl Into<Key>, user: impl Into<Key>) -> Self {
        ConsentSubject::User {
            customer: customer.into(),
            user: user.into(),
        }
    }

    /// A subscriber known only by email.
    ///
    /// # Errors
    ///
    /// The address breaks [`Subject::guest`]'s rules (empty, no `@`, control characters,
    /// surrounding whitespace, longer than 320 bytes).
    pub fn email(email: impl Into<String>) -> Result<Self, SubjectError> {
        let email = email.into();
        Subject::guest(email.as_str())?;
        Ok(ConsentSubject::Email { email })
    }

    /// The erasure subject with the same rows: a customer, the users subject of this one user,
    /// or a guest.
    pub fn to_subject(&self) -> Subject {
        match self {
            ConsentSubject::Customer { customer } => Subject::customer(customer.clone()),
            ConsentSubject::User { customer, user } => {
                Subject::user(customer.clone(), user.clone())
            }
            ConsentSubject::Email { email } => Subject::Guest {
                email: email.clone(),
            },
        }
    }

    /// Checks keys and email as [`Subject::validate`] does.
    ///
    /// # Errors
    ///
    /// The first rule broken.
    pub fn validate(&self) -> Result<(), SubjectError> {
        self.to_subject().validate()
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            ConsentSubject::Customer { .. } => "customer",
            ConsentSubject::User { .. } => "user",
            ConsentSubject::Email { .. } => "email",
        }
    }

    /// `int` or `text`: how the keys were given, so that they are read back as they were.
    /// Both keys of a user are of one type; a mix is rejected.
    pub(crate) fn key_type(&self) -> Result<Option<&'static str>, ConsentError> {
        let of = |k: &Key| match k {
            Key::Int(_) => "int",
            Key::Text(_) => "text",
        };
        match self {
            ConsentSubject::Customer { customer } => Ok(Some(of(customer))),
            ConsentSubject::User { customer, user } if of(customer) == of(user) => {
                Ok(Some(of(customer)))
            }
            ConsentSubject::User { .. } => Err(ConsentError::Invalid {
                op: Operation::Record,
                field: "subject",
                problem: "mixes an integer and a text key; give both keys of one type",
            }),
            ConsentSubject::Email { .. } => Ok(None),
        }
    }

    /// The subject columns' values: customer key, user key, email (keys as text).
    pub(crate) fn columns(&self) -> [Value; 3] {
        let text = |k: &Key| match k {
            Key::Int(i) => Value::Text(i.to_string()),
            Key::Text(t) => Value::Text(t.clone()),
        };
        match self {
            ConsentSubject::Customer { customer } => [text(customer), Value::Null, Value::Null],
            ConsentSubject::User { customer, user } => [text(customer), text(user), Value::Null],
            ConsentSubject::Email { email } => {
                [Value::Null, Value::Null, Value::Text(email.clone())]
            }
        }
    }

    /// A hash of the subject that groups its changes and orders the subjects of a purpose for
    /// keyset paging: 64 lowercase hex digits, the same on every database whatever its
    /// collation. It is derived from the subject's identifiers, so it is personal data too and
    /// goes with them when the subject is erased.
    pub(crate) fn reference(&self) -> String {
        let mut hash = Sha256::new();
        let mut part = |p: &str| {
            hash.update((p.len() as u64).to_be_bytes());
            hash.update(p.as_bytes());
        };
        let key = |k: &Key| match k {
            Key::Int(i) => i.to_string(),
            Key::Text(t) => t.clone(),
        };
        part(self.kind());
        match self {
            ConsentSubject::Customer { customer } => part(&key(customer)),
            ConsentSubject::User { customer, user } => {
                part(&key(customer));
                part(&key(user));
            }
            ConsentSubject::Email { email } => part(email),
        }
        hex::encode(hash.finalize())
    }

    /// The subject of a stored row: kind, key type, customer key, user key, email.
    pub(crate) fn from_columns(
        kind: &str,
        key_type: Option<&str>,
        customer: Option<&str>,
        user: Option<&str>,
        email: Option<&str>,
    ) -> Option<Self> {
        let key = |t: &str| match key_type {
            Some("int") => t.parse().ok().map(Key::Int),
            _ => Some(Key::Text(t.to_owned())),
        };
        match kind {
            "customer" => Some(ConsentSubject::customer(key(customer?)?)),
            "user" => Some(ConsentSubject::user(key(customer?)?, key(user?)?)),
            "email" => Some(ConsentSubject::Email {
                email: email?.to_owned(),
            }),
            _ => None,
        }
    }
}

impl TryFrom<&Subject> for ConsentSubject {
    type Error = SubjectError;

    /// A customer, a users subject of exactly one user, or a guest.
    fn try_from(subject: &Subject) -> Result<Self, SubjectError> {
        subject.validate()?;
        match subject {
            Subject::Customer { customer } => Ok(ConsentSubject::customer(customer.clone())),
            Subject::Users { customer, users } => match users.as_slice() {
                [user] => Ok(ConsentSubject::user(customer.clone(), user.clone())),
                _ => Err(SubjectError::InvalidKey(
                    "a consent belongs to one user; name exactly one",
                )),
            },
            Subject::Guest { email } => Ok(ConsentSubject::Email {
                email: email.clone(),
            }),
        }
    }
}

/// The channel a consent is for (Carts Guru's opt-in per channel). A consent for no particular
/// channel (a Centra consent key) has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email.
    Email,
    /// Text messages.
    Sms,
    /// Messaging apps.
    Messaging,
    /// Push notifications.
    Push,
    /// Telephone calls.
    Phone,
    /// Post.
    Post,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 6] = [
        Channel::Email,
        Channel::Sms,
        Channel::Messaging,
        Channel::Push,
        Channel::Phone,
        Channel::Post,
    ];

    /// The stored name: `email`, `sms`, `messaging`, `push`, `phone`, `post`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Messaging => "messaging",
            Channel::Push => "push",
            Channel::Phone => "phone",
            Channel::Post => "post",
        }
    }

    /// The channel of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a change came from: how the consent was given or withdrawn (part of its proof).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A checkbox in the checkout.
    Checkout,
    /// The customer's account pages.
    Account,
    /// An imported list.
    Import,
    /// An operator, on the person's request.
    Operator,
    /// Another system, through an API.
    Api,
}

impl Source {
    /// Every source.
    pub const ALL: [Source; 5] = [
        Source::Checkout,
        Source::Account,
        Source::Import,
        Source::Operator,
        Source::Api,
    ];

    /// The stored name: `checkout`, `account`, `import`, `operator`, `api`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Checkout => "checkout",
            Source::Account => "account",
            Source::Import => "import",
            Source::Operator => "operator",
            Source::Api => "api",
        }
    }

    /// The source of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the person was shown: a display name, the exact text, its version and its language.
/// Stored once per purpose, version and language, and referenced by every change that showed
/// it. Not personal data: it is the shop's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wording {
    /// The display name ("Newsletter").
    pub name: String,
    /// The exact text shown, or a stable reference to it.
    pub text: String,
    /// The version of the text ("2026-03", "v4").
    pub version: String,
    /// The language, a BCP 47 tag (`en`, `de-CH`, `sr-Latn-RS`); stored in canonical case.
    pub language: String,
}

impl Wording {
    /// A wording.
    pub fn new(
        name: impl Into<String>,
        text: impl Into<String>,
        version: impl Into<String>,
        language: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            version: version.into(),
            language: language.into(),
        }
    }

    /// Checks the rules and returns the wording with its language in canonical case.
    pub(crate) fn validated(&self) -> Result<Wording, ConsentError> {
        let invalid = |field, problem| ConsentError::Invalid {
            op: Operation::Record,
            field,
            problem,
        };
        if self.name.trim().is_empty() {
            return Err(invalid("wording name", "is empty"));
        }
        if self.name.chars().count() > MAX_NAME_LEN {
            return Err(invalid("wording name", "is longer than 200 characters"));
        }
        if self.name.chars().any(char::is_control) {
            return Err(invalid("wording name", "contains a control character"));
        }
        if self.text.trim().is_empty() {
            return Err(invalid("wording text", "is empty"));
        }
        if self.text.len() > MAX_TEXT_LEN {
            return Err(invalid("wording text", "is longer than 65,535 bytes"));
        }
        if self.text.contains('\0') {
            return Err(invalid("wording text", "contains a NUL byte"));
        }
        let language = check_reference(&self.version, &self.language)?;
        Ok(Wording {
            language,
            ..self.clone()
        })
    }

    /// The wording's id: 32 hex digits of SHA-256 over purpose, version and language, so the
    /// same wording has the same id on every database and in every process.
    pub(crate) fn id(&self, purpose: &str) -> String {
        wording_id(purpose, &self.version, &self.language)
    }
}

/// The id of the wording of `purpose`, `version` and `language` (canonical): see [`Wording::id`].
pub(crate) fn wording_id(purpose: &str, version: &str, language: &str) -> String {
    let mut hash = Sha256::new();
    for part in [purpose, version, language] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hex::encode(&hash.finalize()[..16])
}

/// Checks what names a wording (its version and language) and returns the language in
/// canonical case.
pub(crate) fn check_reference(version: &str, language: &str) -> Result<String, ConsentError> {
    let invalid = |field, problem| ConsentError::Invalid {
        op: Operation::Record,
        field,
        problem,
    };
    if version.trim().is_empty() {
        return Err(invalid("wording version", "is empty"));
    }
    if version.len() > MAX_VERSION_LEN {
        return Err(invalid("wording version", "is longer than 64 bytes"));
    }
    if version.chars().any(char::is_control) || version.trim() != version {
        return Err(invalid(
            "wording version",
            "has a control character or surrounding whitespace",
        ));
    }
    canonical_language(language).ok_or_else(|| {
        invalid(
            "wording language",
            "is not a language tag (BCP 47: `en`, `de-CH`, `sr-Latn-RS`)",
        )
    })
}

/// A language tag in canonical case, if it has the shape of one: a primary subtag of 2 or 3
/// letters, then subtags of 1 to 8 letters or digits separated by `-` (or `_`, turned into
/// `-`), at most 35 bytes. The primary language is lower case, a 4-letter script title case,
/// a 2-letter region upper case, the rest lower case.
pub(crate) fn canonical_language(tag: &str) -> Option<String> {
    if tag.is_empty() || tag.len() > MAX_LANGUAGE_LEN {
        return None;
    }
    let mut out = Vec::new();
    for (i, sub) in tag.split(['-', '_']).enumerate() {
        let ok = if i == 0 {
            (2..=3).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphabetic())
        } else {
            (1..=8).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !ok {
            return None;
        }
        let lower = sub.to_ascii_lowercase();
        out.push(match (i, sub.len()) {
            (0, _) => lower,
            (_, 4) if sub.bytes().all(|b| b.is_ascii_alphabetic()) => {
                let mut t = lower;
                t[..1].make_ascii_uppercase();
                t
            }
            (_, 2) if sub.bytes().all(|b| b.is_ascii_alphabetic()) => sub.to_ascii_uppercase(),
            _ => lower,
        });
    }
    Some(out.join("-"))
}

/// Checks a purpose key: 1 to 64 bytes of lower-case ASCII letters, digits, `_`, `-`, `.`, `:`,
/// starting with a letter or digit. Lower case only, so that every database compares it alike.
pub(crate) fn check_purpose(purpose: &str, op: Operation) -> Result<(), ConsentError> {
    let invalid = |problem| ConsentError::Invalid {
        op,
        field: "purpose",
        problem,
    };
    if purpose.is_empty() {
        return Err(invalid("is empty"));
    }
    if purpose.len() > MAX_PURPOSE_LEN {
        return Err(invalid("is longer than 64 bytes"));
    }
    let first_ok = purpose
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = purpose.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.' | b':')
    });
    if !first_ok || !rest_ok {
        return Err(invalid(
            "must be lower-case letters, digits, `_`, `-`, `.` or `:`, starting with a letter or digit",
        ));
    }
    Ok(())
}

/// One change of a subject's consent: what [`Consents::record`](crate::Consents::record)
/// appends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentChange {
    /// The purpose key (`newsletter`, `profiling`): lower-case letters, digits, `_-.:`.
    pub purpose: String,
    /// The channel, or `None` for a consent of no particular channel.
    pub channel: Option<Channel>,
    /// Given (`true`) or withdrawn (`false`).
    pub given: bool,
    /// What the person was shown.
    pub wording: Wording,
    /// Where the change came from.
    pub source: Source,
    /// When it happened (stored to the microsecond). Changes may arrive out of order: the
    /// current state is the latest by this time, not by arrival.
    pub at: DateTime<Utc>,
}

impl ConsentChange {
    /// A change with the current time truncated to microseconds.
    pub fn new(
        purpose: impl Into<String>,
        channel: Option<Channel>,
        given: bool,
        wording: Wording,
        source: Source,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            purpose: purpose.into(),
            channel,
            given,
            wording,
            source,
            at,
        }
    }

    /// The change as it is stored: validated, language canonical, time to the microsecond.
    pub(crate) fn validated(&self) -> Result<ConsentChange, ConsentError> {
        check_purpose(&self.purpose, Operation::Record)?;
        Ok(ConsentChange {
            wording: self.wording.validated()?,
            at: self.at.trunc_subsecs(6),
            ..self.clone()
        })
    }
}

/// One stored change, as the history returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentRecord {
    /// The insertion sequence (ties of `at` are broken by it).
    pub seq: i64,
    /// The purpose key.
    pub purpose: String,
    /// The channel.
    pub channel: Option<Channel>,
    /// Given or withdrawn.
    pub given: bool,
    /// The wording shown.
    pub wording: Wording,
    /// Where the change came from.
    pub source: Source,
    /// When it happened.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_are_checked_and_put_in_canonical_case() {
        assert_eq!(canonical_language("EN").as_deref(), Some("en"));
        assert_eq!(canonical_language("de_ch").as_deref(), Some("de-CH"));
        assert_eq!(
            canonical_language("sr-latn-rs").as_deref(),
            Some("sr-Latn-RS")
        );
        for bad in [
            "",
            "e",
            "english",
            "en-",
            "en--us",
            "e1",
            "en-toolongsubtag",
            "en us",
        ] {
            assert_eq!(canonical_language(bad), None, "{bad}");
        }
    }

    #[test]
    fn purposes_are_lower_case_keys() {
        assert!(check_purpose("newsletter", Operation::Record).is_ok());
        assert!(check_purpose("marketing.email:v2", Operation::Record).is_ok());
        for bad in ["", "Newsletter", "-x", "a b", &"x".repeat(65)] {
            assert!(check_purpose(bad, Operation::Record).is_err(), "{bad}");
        }
    }

    #[test]
    fn references_differ_by_kind_and_debug_is_redacted() {
        let a = ConsentSubject::customer(42);
        let b = ConsentSubject::customer(Key::Text("42".into()));
        let c = ConsentSubject::email("ada@example.test").expect("email");
        assert_eq!(a.reference().len(), 64);
        // The keys are stored as text: an integer key and the same digits as text are one
        // subject, as the erasure's key condition on a text column sees them.
        assert_eq!(a.reference(), b.reference());
        assert_ne!(a.reference(), c.reference());
        assert!(!format!("{c:?}").contains("ada"));
    }
}
