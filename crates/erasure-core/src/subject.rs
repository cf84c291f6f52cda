//! The subject of an erasure: whose data goes.
//!
//! A subject's identifiers are personal data in their own right. Nothing in this module may print
//! them: `Debug` is redacted, and reports and traces carry a keyed pseudonym instead
//! (see [`crate::Pseudonymizer`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ident::Ident;
use crate::sql::{Condition, Expr, Sql};
use crate::value::Value;

/// The longest text key or email we accept, in bytes. Longer input is rejected before any
/// statement runs rather than sent to the database to fail (or to be truncated) there.
pub const MAX_KEY_LEN: usize = 320;

/// The most users one subject may name. Each becomes a bound parameter of an `IN (…)` list.
pub const MAX_USERS: usize = 1_000;

/// The primary-key value of a customer or user row: an integer or a text key (UUIDs, external
/// ids). Bind the kind your schema uses; PostgreSQL does not compare `BIGINT` with `TEXT`.
///
/// `Debug` prints `Key(<redacted>)`: a customer id identifies a person.
///
/// ```
/// use erasure_core::Key;
///
/// let k = Key::from(42);
/// assert_eq!(format!("{k:?}"), "Key(<redacted>)");
/// let t = Key::text("b6f0c6a4-uuid")?;
/// assert!(Key::text("").is_err());
/// # Ok::<(), erasure_core::SubjectError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Key {
    /// An integer key.
    Int(i64),
    /// A text key.
    Text(String),
}

impl Key {
    /// A validated text key: not blank, at most [`MAX_KEY_LEN`] bytes, no control character (NUL
    /// included), no leading or trailing whitespace.
    ///
    /// # Errors
    ///
    /// [`SubjectError::InvalidKey`] when the text breaks one of these rules.
    pub fn text(key: impl Into<String>) -> Result<Self, SubjectError> {
        let key = key.into();
        check_text(&key).map_err(SubjectError::InvalidKey)?;
        Ok(Key::Text(key))
    }

    fn validate(&self) -> Result<(), SubjectError> {
        match self {
            Key::Int(_) => Ok(()),
            Key::Text(t) => check_text(t).map_err(SubjectError::InvalidKey),
        }
    }

    /// The key as a bound value.
    pub fn to_value(&self) -> Value {
        match self {
            Key::Int(i) => Value::Int(*i),
            Key::Text(t) => Value::Text(t.clone()),
        }
    }

    fn canonical(&self, out: &mut String) {
        match self {
            Key::Int(i) => {
                out.push_str("i:");
                out.push_str(&i.to_string());
            }
            Key::Text(t) => {
                out.push_str("t:");
                out.push_str(&t.len().to_string());
                out.push(':');
                out.push_str(t);
            }
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl From<i64> for Key {
    fn from(v: i64) -> Self {
        Key::Int(v)
    }
}

impl From<i32> for Key {
    fn from(v: i32) -> Self {
        Key::Int(v.into())
    }
}

/// Why a subject cannot be erased as given. Raised before any statement runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectError {
    /// A text key is empty, too long, contains a NUL byte or another control character, or has
    /// leading or trailing whitespace.
    #[error("invalid subject key: {0}")]
    InvalidKey(&'static str),
    /// A guest email is empty, too long, contains a NUL byte or another control character, has
    /// leading or trailing whitespace, or no `@`.
    #[error("invalid guest email: {0}")]
    InvalidEmail(&'static str),
    /// A users subject names no user.
    #[error("a users subject must name at least one user")]
    NoUsers,
    /// A users subject names more than [`MAX_USERS`] users.
    #[error("a users subject names {0} users; the limit is {MAX_USERS}")]
    TooManyUsers(usize),
}

/// The reasons are static strings so that the rejected value never reaches a message.
fn check_text(text: &str) -> Result<(), &'static str> {
    if text.trim().is_empty() {
        Err("empty")
    } else if text.len() > MAX_KEY_LEN {
        Err("longer than 320 bytes")
    } else if text.contains('\0') {
        Err("contains a NUL byte")
    } else if text.chars().any(char::is_control) {
        Err("contains a control character")
    } else if text.trim() != text {
        // MySQL's PAD SPACE collations ignore trailing spaces where PostgreSQL and SQLite do
        // not: the same subject would match different rows on different databases.
        Err("has leading or trailing whitespace")
    } else {
        Ok(())
    }
}

/// Whose data an erasure removes.
///
/// * [`Subject::Customer`]: a whole customer account, with all its users.
/// * [`Subject::Users`]: selected users of a (B2B) customer; the customer and its other users
///   stay.
/// * [`Subject::Guest`]: a person who ordered without an account, known only by email. Only rows
///   that belong to no customer are matched, so a registered customer who uses the same address
///   is a different subject.
///
/// `Debug` is redacted; reports identify the subject by a keyed pseudonym.
///
/// # Examples
///
/// ```
/// use erasure_core::Subject;
///
/// let whole = Subject::customer(42);
/// let one_user = Subject::user(42, 7);
/// let some = Subject::users(42, [7, 8])?;
/// let guest = Subject::guest("guest@example.test")?;
/// assert_eq!(format!("{guest:?}"), "Subject::Guest(<redacted>)");
/// # Ok::<(), erasure_core::SubjectError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// A whole customer account.
    Customer {
        /// The customer's key.
        customer: Key,
    },
    /// Selected users of a customer.
    Users {
        /// The customer the users belong to; rows are matched on both, so a user id of another
        /// customer matches nothing.
        customer: Key,
        /// The users to erase (at least one).
        users: Vec<Key>,
    },
    /// A guest known only by email.
    Guest {
        /// The email address, compared as the database compares text (see the docs on mapping
        /// your schema for case sensitivity).
        email: String,
    },
}

/// The kind of a [`Subject`], which is safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// [`Subject::Customer`].
    Customer,
    /// [`Subject::Users`].
    Users,
    /// [`Subject::Guest`].
    Guest,
}

impl fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubjectKind::Customer => "customer",
            SubjectKind::Users => "users",
            SubjectKind::Guest => "guest",
        })
    }
}

impl Subject {
    /// A whole customer.
    pub fn customer(customer: impl Into<Key>) -> Self {
        Subject::Customer {
            customer: customer.into(),
        }
    }

    /// One user of a customer.
    pub fn user(customer: impl Into<Key>, user: impl Into<Key>) -> Self {
        Subject::Users {
            customer: customer.into(),
            users: vec![user.into()],
        }
    }

    /// Selected users of a customer. Duplicates are removed.
    ///
    /// # Errors
    ///
    /// [`SubjectError::NoUsers`] for an empty list, [`SubjectError::TooManyUsers`] above
    /// [`MAX_USERS`].
    pub fn users<K: Into<Key>>(
        customer: impl Into<Key>,
        users: impl IntoIterator<Item = K>,
    ) -> Result<Self, SubjectError> {
        let mut list: Vec<Key> = Vec::new();
        for user in users {
            let user = user.into();
            if !list.contains(&user) {
                list.push(user);
            }
        }
        let subject = Subject::Users {
            customer: customer.into(),
            users: list,
        };
        subject.validate()?;
        Ok(subject)
    }

    /// A guest known only by email.
    ///
    /// # Errors
    ///
    /// [`SubjectError::InvalidEmail`] when the address is empty, longer than [`MAX_KEY_LEN`]
    /// bytes, contains a control character (NUL included), has leading or trailing whitespace or
    /// has no `@`.
    pub fn guest(email: impl Into<String>) -> Result<Self, SubjectError> {
        let subject = Subject::Guest {
            email: email.into(),
        };
        subject.validate()?;
        Ok(subject)
    }

    /// The kind of subject, safe to log.
    pub fn kind(&self) -> SubjectKind {
        match self {
            Subject::Customer { .. } => SubjectKind::Customer,
            Subject::Users { .. } => SubjectKind::Users,
            Subject::Guest { .. } => SubjectKind::Guest,
        }
    }

    /// The customer key, unless this is a guest.
    pub fn customer_key(&self) -> Option<&Key> {
        match self {
            Subject::Customer { customer } | Subject::Users { customer, .. } => Some(customer),
            Subject::Guest { .. } => None,
        }
    }

    /// Checks the rules the constructors enforce; the chain calls this before it begins a
    /// transaction, so a subject built by hand or deserialized is held to them too.
    ///
    /// # Errors
    ///
    /// The [`SubjectError`] for the first rule broken.
    pub fn validate(&self) -> Result<(), SubjectError> {
        match self {
            Subject::Customer { customer } => customer.validate(),
            Subject::Users { customer, users } => {
                customer.validate()?;
                if users.is_empty() {
                    return Err(SubjectError::NoUsers);
                }
                if users.len() > MAX_USERS {
                    return Err(SubjectError::TooManyUsers(users.len()));
                }
                users.iter().try_for_each(Key::validate)
            }
            Subject::Guest { email } => {
                check_text(email).map_err(SubjectError::InvalidEmail)?;
                if !email.contains('@') {
                    return Err(SubjectError::InvalidEmail("no `@`"));
                }
                Ok(())
            }
        }
    }

    /// The condition selecting this subject's rows in a table whose subject columns are `cols`,
    /// or `None` when the table holds no data of this kind of subject.
    ///
    /// * customer: `customer = ?`
    /// * users: `user IN (?, …) AND customer = ?` (the customer test is skipped when the table
    ///   has no customer column)
    /// * guest: `email = ? AND customer IS NULL` (likewise)
    ///
    /// ```
    /// use erasure_core::{ident, Subject, SubjectColumns};
    ///
    /// let cols = SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id"));
    /// assert!(Subject::customer(1).condition(&cols).is_some());
    /// // a guest has no rows in a table without an email column
    /// assert!(Subject::guest("g@example.test")?.condition(&cols).is_none());
    /// # Ok::<(), erasure_core::SubjectError>(())
    /// ```
    pub fn condition(&self, cols: &SubjectColumns) -> Option<Condition> {
        if cols.matching == Some(Matching::Contains) {
            return self.contained_in(cols);
        }
        match self {
            Subject::Customer { customer } => {
                let column = cols.customer.as_ref()?;
                Some(cols.key_condition(column, std::slice::from_ref(customer)))
            }
            Subject::Users { customer, users } => {
                let user_col = cols.user.as_ref()?;
                let in_users = cols.key_condition(user_col, users);
                Some(match &cols.customer {
                    Some(c) => in_users.and(cols.key_condition(c, std::slice::from_ref(customer))),
                    None => in_users,
                })
            }
            Subject::Guest { email } => {
                let email_col = cols.email.as_ref()?;
                let by_email = Condition::eq(email_col.clone(), Value::Text(email.clone()));
                Some(match &cols.customer {
                    // Rows of no account: the customer column is NULL, or holds the shop's
                    // guest marker.
                    Some(c) => by_email.and(match &cols.guest_marker {
                        Some(marker) => Condition::is_null(c.clone())
                            .or(Condition::eq(c.clone(), Value::from(marker.clone()))),
                        None => Condition::is_null(c.clone()),
                    }),
                    None => by_email,
                })
            }
        }
    }

    /// [`condition`](Self::condition) for subject columns with `match = "contains"`: the
    /// column's text contains the identifier (see [`Matching::Contains`]).
    fn contained_in(&self, cols: &SubjectColumns) -> Option<Condition> {
        let found = |column: &Ident, keys: &[Key]| {
            keys.iter()
                .filter_map(|k| cols.key_text(k))
                .map(|text| contains_text(column, &text))
                .reduce(Condition::or)
                // No key has a text form that can be searched for: nothing matches.
                .unwrap_or_else(|| Condition::is_in(column.clone(), Vec::new()))
        };
        match self {
            Subject::Customer { customer } => {
                let column = cols.customer.as_ref()?;
                Some(found(column, std::slice::from_ref(customer)))
            }
            Subject::Users { customer, users } => {
                let in_users = found(cols.user.as_ref()?, users);
                Some(match &cols.customer {
                    Some(c) => in_users.and(found(c, std::slice::from_ref(customer))),
                    None => in_users,
                })
            }
            // A text that mentions the email cannot say whether it was a guest's: every row
            // that mentions it is the guest's.
            Subject::Guest { email } => Some(contains_text(cols.email.as_ref()?, email)),
        }
    }

    /// What unlinking a kept row of a table with subject columns `cols` writes: each of the
    /// [link columns](Self::link_columns) set to the table's `unlink` value, or, without one,
    /// the customer column to the guest marker and the others to `NULL`.
    ///
    /// ```
    /// use erasure_core::{ident, Scalar, Subject, SubjectColumns, Value};
    ///
    /// let cols = SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id"))
    ///     .with_guest_marker(Scalar::Int(0));
    /// let sets = Subject::customer(1).unlink(&cols);
    /// assert_eq!(sets[0], (ident!("customer_id"), Value::Int(0)));
    /// assert_eq!(sets[1], (ident!("user_id"), Value::Null));
    /// ```
    pub fn unlink(&self, cols: &SubjectColumns) -> Vec<(Ident, Value)> {
        self.link_columns(cols)
            .into_iter()
            .map(|column| {
                let value = match (&cols.unlink, &cols.guest_marker) {
                    (Some(v), _) => Value::from(v.clone()),
                    (None, Some(marker)) if cols.customer.as_ref() == Some(column) => {
                        Value::from(marker.clone())
                    }
                    (None, _) => Value::Null,
                };
                (column.clone(), value)
            })
            .collect()
    }

    /// The columns of a table with subject columns `cols` that link its rows to this subject,
    /// to be set to `NULL` when rows are kept but must no longer point at the subject: the
    /// customer and user columns for a whole customer, the user column for selected users
    /// (the customer stays), none for a guest (their rows have no customer; their email column is
    /// anonymized instead).
    ///
    /// ```
    /// use erasure_core::{ident, Subject, SubjectColumns};
    ///
    /// let cols = SubjectColumns::customer_user(ident!("customer_id"), ident!("user_id"));
    /// assert_eq!(Subject::customer(1).link_columns(&cols).len(), 2);
    /// assert_eq!(Subject::user(1, 2).link_columns(&cols), vec![&ident!("user_id")]);
    /// ```
    pub fn link_columns<'c>(&self, cols: &'c SubjectColumns) -> Vec<&'c Ident> {
        if cols.matching == Some(Matching::Contains) {
            // Text that mentions the subject is no link to clear: it is anonymized or deleted.
            return Vec::new();
        }
        match self {
            Subject::Customer { .. } => {
                [&cols.customer, &cols.user].into_iter().flatten().collect()
            }
            Subject::Users { .. } => cols.user.iter().collect(),
            Subject::Guest { .. } => Vec::new(),
        }
    }

    /// A canonical, unambiguous byte string of the subject, the input of its pseudonym.
    pub(crate) fn canonical(&self) -> String {
        let mut out = String::new();
        match self {
            Subject::Customer { customer } => {
                out.push_str("customer/");
                customer.canonical(&mut out);
            }
            Subject::Users { customer, users } => {
                out.push_str("users/");
                customer.canonical(&mut out);
                let mut sorted: Vec<String> = users
                    .iter()
                    .map(|u| {
                        let mut s = String::new();
                        u.canonical(&mut s);
                        s
                    })
                    .collect();
                sorted.sort();
                for u in sorted {
                    out.push('/');
                    out.push_str(&u);
                }
            }
            Subject::Guest { email } => {
                out.push_str("guest/");
                out.push_str(email);
            }
        }
        out
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Customer { .. } => f.write_str("Subject::Customer(<redacted>)"),
            Subject::Users { users, .. } => {
                write!(f, "Subject::Users(<redacted>, {} users)", users.len())
            }
            Subject::Guest { .. } => f.write_str("Subject::Guest(<redacted>)"),
        }
    }
}

/// The columns of one table that point at a subject, as a handler's mapping declares them.
///
/// A missing column means the table holds no data of that kind of subject: a table without a
/// `user` column is left alone when selected users are erased.
///
/// ```toml
/// # in a handler mapping
/// [wishlists.subject]
/// customer = "customer_id"
/// user = "user_id"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectColumns {
    /// The column holding the customer key.
    #[serde(default)]
    pub customer: Option<Ident>,
    /// The column holding the user key.
    #[serde(default)]
    pub user: Option<Ident>,
    /// The column holding the email of a guest (rows without a customer).
    #[serde(default)]
    pub email: Option<Ident>,
    /// The value the shop stores in the customer column for "no account" when it is not
    /// `NULL` (`0` in many schemas): guests' rows are found by it too, and unlinking writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_marker: Option<Scalar>,
    /// The value unlinking writes into the link columns instead of `NULL`, for link columns
    /// declared `NOT NULL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlink: Option<Scalar>,
    /// How the table stores subject keys, when it differs from how they are given (a session
    /// table keyed by the user id as text, a platform keyed by binary UUIDs): keys are
    /// converted before they are bound (see [`KeyType::value`]), and a key that cannot be
    /// converted matches nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeyType>,
    /// How the columns hold the subject: equal to its key or email (the default), or, with
    /// `match = "contains"`, anywhere inside their text, as a log's JSON payload mentions
    /// people (see [`Matching::Contains`]).
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub matching: Option<Matching>,
}

/// How subject columns hold the subject (see [`SubjectColumns::matching`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matching {
    /// The column's value is the key or the email (the default).
    Equal,
    /// The column's text contains the identifier, as a log's JSON payload does
    /// (`column LIKE ? ESCAPE '!'`, bound to `%` + the identifier + `%`, its `!`, `%` and `_`
    /// escaped, so that they match only themselves): a guest's email; a customer's or user's
    /// key written as text (a text key as it is; with [`KeyType::Binary`] the 32 lowercase hex
    /// digits, as Shopware writes ids into JSON). Both sides are lower-cased, on every
    /// database, so case does not count. Integer keys are never searched for (`42` is inside
    /// `1420`): they match nothing. Unlinking clears nothing (the text is no link); a guest's
    /// email matches every row that mentions it, whoever's the row is.
    ///
    /// No index serves it: every row of the table is read, once per erasure. Use it on logs
    /// that a retention task keeps short.
    Contains,
}

/// `%` + `identifier` + `%`, with `!` (the escape character), `%` and `_` of the identifier
/// escaped: a `LIKE` pattern under `ESCAPE '!'` that finds exactly the identifier inside text.
/// `!` rather than a backslash: MySQL reads a backslash in a string literal as an escape of its
/// own (unless `NO_BACKSLASH_ESCAPES`), so one pattern serves every database.
pub(crate) fn contains_pattern(identifier: &str) -> String {
    let mut pattern = String::with_capacity(identifier.len() + 4);
    pattern.push('%');
    for c in identifier.chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The text forms of a column, lower-cased, as `LIKE` compares them on each database: cast to
/// text on SQLite and PostgreSQL (JSON and other types), byte by byte on MySQL (whose default
/// collations ignore accents): the opening and closing text around the column.
const LOWER_TEXT: [(&str, &str); 3] = [
    ("LOWER(CAST(", " AS TEXT))"),
    ("LOWER(CAST(", " AS TEXT))"),
    (
        "LOWER(CONVERT(CONCAT(",
        ") USING utf8mb4)) COLLATE utf8mb4_bin",
    ),
];

/// `LOWER(column) LIKE LOWER(?) ESCAPE '!'` with the pattern of `identifier` bound (see
/// [`Matching::Contains`]).
fn contains_text(column: &Ident, identifier: &str) -> Condition {
    let pattern = contains_pattern(identifier);
    let [sqlite, postgres, mysql] = LOWER_TEXT.map(|(open, close)| {
        let mut e = Expr::new(open);
        e.target()
            .push(close)
            .push(" LIKE LOWER(")
            .bind(pattern.clone())
            .push(") ESCAPE '!'");
        e
    });
    Condition::test(column.clone(), Expr::per_dialect(sqlite, postgres, mysql))
}

/// The rows whose `column` (of `table`) contains the `value` of a row of `parent` for which
/// `parents` holds: `EXISTS (SELECT 1 FROM parent WHERE parents AND LOWER(table.column) LIKE
/// '%' || escaped LOWER(parent.value) || '%' ESCAPE '!')`, the value as text or, with `hex`,
/// as the lowercase hex digits of its bytes (a binary id as JSON holds it). An empty value
/// matches nothing. The database escapes the value as [`contains_pattern`] does.
pub(crate) fn mentions(
    table: &Ident,
    column: &Ident,
    parent: &Ident,
    value: &Ident,
    parents: &Condition,
    hex: bool,
) -> Condition {
    let text = |dialect: usize| {
        let mut sql = Sql::default();
        match (hex, dialect) {
            (true, 1) => {
                sql.push("encode(")
                    .column(Some(parent), value)
                    .push(", 'hex')");
            }
            (true, _) => {
                sql.push("LOWER(HEX(")
                    .column(Some(parent), value)
                    .push("))");
            }
            (false, _) => {
                let (open, close) = LOWER_TEXT[dialect];
                let mut lowered = Sql::new("REPLACE(REPLACE(REPLACE(");
                // Without the binary collation on MySQL: it is the outer comparison's.
                lowered
                    .push(if dialect == 2 {
                        "LOWER(CONVERT(CONCAT("
                    } else {
                        open
                    })
                    .column(Some(parent), value)
                    .push(if dialect == 2 {
                        ") USING utf8mb4))"
                    } else {
                        close
                    })
                    .push(", '!', '!!'), '%', '!%'), '_', '!_')");
                sql.append(lowered);
            }
        }
        sql
    };
    let form = |dialect: usize| {
        let (open, close) = LOWER_TEXT[dialect];
        let mut sql = Sql::default();
        sql.append(text(dialect)).push(" <> '' AND ");
        sql.push(open).column(Some(table), column).push(close);
        if dialect == 2 {
            sql.push(" LIKE CONCAT('%', ")
                .append(text(dialect))
                .push(", '%')");
        } else {
            sql.push(" LIKE ('%' || ")
                .append(text(dialect))
                .push(" || '%')");
        }
        sql.push(" ESCAPE '!'");
        sql
    };
    let mut exists = Sql::new("EXISTS (SELECT 1 FROM ");
    exists.ident(parent).push(" WHERE ");
    exists.append(parents.to_sql()).push(" AND ");
    exists.per_dialect(form(0), form(1), form(2));
    exists.push(")");
    let mut expr = Expr::default();
    expr.fragment(exists);
    Condition::test(column.clone(), expr)
}

/// A value written in configuration: an integer, text or a boolean (a guest marker, an unlink
/// value, a rule's row filter: `active = true` for a PostgreSQL `BOOLEAN` column, which refuses
/// `1`; SQLite and MySQL store it as `1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
}

impl From<Scalar> for Value {
    fn from(s: Scalar) -> Self {
        match s {
            Scalar::Int(i) => Value::Int(i),
            Scalar::Text(t) => Value::Text(t),
            Scalar::Bool(b) => Value::Bool(b),
        }
    }
}

/// How a table stores subject keys (see [`SubjectColumns::keys`]), written `keys = "integer"`,
/// `"text"` or `"binary"` in a mapping's or a rule's subject columns.
///
/// ```
/// use erasure_core::{Key, KeyType, Value};
///
/// let id = Key::text("0FA91CE3-E96A-4BC2-BE4B-D9CE752C3425")?;
/// let bytes = KeyType::Binary.value(&id).expect("a UUID");
/// assert_eq!(bytes, Value::Bytes(vec![
///     0x0f, 0xa9, 0x1c, 0xe3, 0xe9, 0x6a, 0x4b, 0xc2, 0xbe, 0x4b, 0xd9, 0xce, 0x75, 0x2c, 0x34, 0x25,
/// ]));
/// assert_eq!(KeyType::Binary.value(&Key::from(42)), None);
/// assert_eq!(KeyType::Text.value(&Key::from(42)), Some(Value::Text("42".into())));
/// # Ok::<(), erasure_core::SubjectError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// As integers: text keys are parsed.
    Integer,
    /// As text: integer keys are written in decimal.
    Text,
    /// As 16 raw bytes: UUIDs in `BINARY(16)` (MySQL, MariaDB), `BLOB` (SQLite) or `BYTEA`
    /// (PostgreSQL) columns, as Shopware stores every id. A text key of 32 hex digits, in any
    /// case, plain or in the dashed `8-4-4-4-12` form, is bound as its 16 bytes; an integer key
    /// and any other text match nothing.
    Binary,
}

impl KeyType {
    /// `key` as a value to bind against a column of this type, or `None` when it cannot be
    /// converted (then it matches nothing).
    pub fn value(self, key: &Key) -> Option<Value> {
        match (self, key) {
            (KeyType::Text, Key::Int(i)) => Some(Value::Text(i.to_string())),
            (KeyType::Text, Key::Text(t)) => Some(Value::Text(t.clone())),
            (KeyType::Integer, Key::Int(i)) => Some(Value::Int(*i)),
            (KeyType::Integer, Key::Text(t)) => t.parse().ok().map(Value::Int),
            (KeyType::Binary, Key::Int(_)) => None,
            (KeyType::Binary, Key::Text(t)) => uuid_bytes(t).map(Value::Bytes),
        }
    }
}

/// The 16 bytes of a UUID written as 32 hex digits, plain or dashed `8-4-4-4-12`, in any case.
fn uuid_bytes(text: &str) -> Option<Vec<u8>> {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    let raw = text.as_bytes();
    let digits: Vec<u8> = match raw.len() {
        32 => raw.to_vec(),
        36 if DASHES.iter().all(|&i| raw[i] == b'-') => raw
            .iter()
            .enumerate()
            .filter(|(i, _)| !DASHES.contains(i))
            .map(|(_, b)| *b)
            .collect(),
        _ => return None,
    };
    let nibble = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    digits
        .chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

impl SubjectColumns {
    /// A table keyed by customer only.
    pub fn customer(customer: Ident) -> Self {
        Self {
            customer: Some(customer),
            ..Self::default()
        }
    }

    /// A table keyed by customer and user.
    pub fn customer_user(customer: Ident, user: Ident) -> Self {
        Self {
            customer: Some(customer),
            user: Some(user),
            ..Self::default()
        }
    }

    /// With the value the table stores for "no account" (see
    /// [`guest_marker`](Self::guest_marker)).
    pub fn with_guest_marker(mut self, marker: Scalar) -> Self {
        self.guest_marker = Some(marker);
        self
    }

    /// With the value unlinking writes (see [`unlink`](Self::unlink)).
    pub fn with_unlink(mut self, value: Scalar) -> Self {
        self.unlink = Some(value);
        self
    }

    /// With the table's key type (see [`keys`](Self::keys)).
    pub fn with_keys(mut self, keys: KeyType) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Fills what is not set from `defaults` (a configuration's global guest marker and
    /// unlink value); the column names are left as they are.
    pub fn inherit(&mut self, defaults: &SubjectColumns) {
        if self.guest_marker.is_none() {
            self.guest_marker.clone_from(&defaults.guest_marker);
        }
        if self.unlink.is_none() {
            self.unlink.clone_from(&defaults.unlink);
        }
        if self.keys.is_none() {
            self.keys = defaults.keys;
        }
    }

    /// With `match = "contains"` (see [`Matching::Contains`]).
    pub fn contained(mut self) -> Self {
        self.matching = Some(Matching::Contains);
        self
    }

    /// `key` as the text a column with `match = "contains"` is searched for, or `None` when it
    /// has none that is safe to search for (see [`Matching::Contains`]).
    fn key_text(&self, key: &Key) -> Option<String> {
        match (self.keys, key) {
            (_, Key::Int(_)) | (Some(KeyType::Integer), _) => None,
            (Some(KeyType::Binary), key) => match KeyType::Binary.value(key)? {
                Value::Bytes(bytes) => Some(bytes.iter().map(|b| format!("{b:02x}")).collect()),
                _ => None,
            },
            (_, Key::Text(t)) => Some(t.clone()),
        }
    }

    /// `column = key` or `column IN (keys…)`, with the keys converted to the table's key type;
    /// false when none converts.
    fn key_condition(&self, column: &Ident, keys: &[Key]) -> Condition {
        let values: Vec<Value> = keys
            .iter()
            .filter_map(|k| match self.keys {
                None => Some(k.to_value()),
                Some(keys) => keys.value(k),
            })
            .collect();
        match values.as_slice() {
            [one] => Condition::eq(column.clone(), one.clone()),
            _ => Condition::is_in(column.clone(), values),
        }
    }

    /// Adds the guest email column.
    pub fn with_email(mut self, email: Ident) -> Self {
        self.email = Some(email);
        self
    }

    /// The columns named, in order customer, user, email.
    pub fn columns(&self) -> impl Iterator<Item = &Ident> {
        [&self.customer, &self.user, &self.email]
            .into_iter()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_rejects_bad_input_without_echoing_it() {
        assert_eq!(
            Subject::users(1, Vec::<i64>::new()),
            Err(SubjectError::NoUsers)
        );
        assert!(matches!(
            Subject::users(1, 0..=(MAX_USERS as i64)),
            Err(SubjectError::TooManyUsers(1001))
        ));
        for bad in ["", "   ", "no-at-sign", "a\0@b"] {
            let e = Subject::guest(bad).unwrap_err().to_string();
            if !bad.trim().is_empty() {
                assert!(!e.contains(bad), "{e}");
            }
        }
        let long = format!("{}@x", "a".repeat(400));
        assert!(Subject::guest(long).is_err());
        let secret = "secret-key\0";
        let e = Key::text(secret).unwrap_err();
        assert!(!e.to_string().contains("secret"));
    }

    #[test]
    fn users_are_deduplicated_and_canonical_form_ignores_order() {
        let a = Subject::users(1, [3, 2, 3]).unwrap();
        let b = Subject::users(1, [2, 3]).unwrap();
        assert_eq!(a.canonical(), b.canonical());
        assert_ne!(
            Subject::customer(1).canonical(),
            Subject::customer(Key::text("1").unwrap()).canonical()
        );
    }

    #[test]
    fn binary_keys_take_32_hex_digits_plain_or_dashed_in_any_case() {
        let bytes: Vec<u8> = vec![
            0x0f, 0xa9, 0x1c, 0xe3, 0xe9, 0x6a, 0x4b, 0xc2, 0xbe, 0x4b, 0xd9, 0xce, 0x75, 0x2c,
            0x34, 0x25,
        ];
        for form in [
            "0fa91ce3e96a4bc2be4bd9ce752c3425",
            "0FA91CE3E96A4BC2BE4BD9CE752C3425",
            "0fa91ce3-e96a-4bc2-be4b-d9ce752c3425",
            "0Fa91Ce3-E96a-4bC2-bE4b-D9ce752C3425",
        ] {
            let key = Key::text(form).expect("key");
            assert_eq!(
                KeyType::Binary.value(&key),
                Some(Value::Bytes(bytes.clone())),
                "{form}"
            );
        }
        for bad in [
            "0fa91ce3e96a4bc2be4bd9ce752c342",   // 31 digits
            "0fa91ce3e96a4bc2be4bd9ce752c34255", // 33 digits
            "0fa91ce3e96a4bc2be4bd9ce752c342g",  // not hex
            "0fa91ce3-e96a4bc2-be4b-d9ce752c3425",
            "0fa91ce3e-96a-4bc2-be4b-d9ce752c3425", // a dash out of place
            "0fa91ce3-e96a-4bc2-be4b-d9ce752c342+",
            "0fa91ce3 e96a 4bc2 be4b d9ce752c3425",
            "0fa91ce3-e96a-4bc2-be4b-d9ce752c34\u{e9}", // 36 bytes, not all ASCII
            "42",
        ] {
            let key = Key::text(bad).expect("key");
            assert_eq!(KeyType::Binary.value(&key), None, "{bad}");
        }
        assert_eq!(KeyType::Binary.value(&Key::Int(42)), None);
        // The other types are unchanged.
        assert_eq!(
            KeyType::Integer.value(&Key::text("7").expect("key")),
            Some(Value::Int(7))
        );
        assert_eq!(KeyType::Integer.value(&Key::text("x").expect("key")), None);
        assert_eq!(
            KeyType::Text.value(&Key::Int(7)),
            Some(Value::Text("7".into()))
        );
    }

    #[test]
    fn binary_keys_are_bound_as_bytes_and_unconvertible_keys_match_nothing() {
        use crate::dialect::Dialect;
        let cols =
            SubjectColumns::customer_user(crate::ident!("customer_id"), crate::ident!("user_id"))
                .with_keys(KeyType::Binary);
        let keys: KeyType = toml::from_str::<SubjectColumns>("keys = \"binary\"")
            .expect("toml")
            .keys
            .expect("keys");
        assert_eq!(keys, KeyType::Binary);
        let hex = "00112233445566778899aabbccddeeff";
        let condition = Subject::customer(Key::text(hex).expect("key"))
            .condition(&cols)
            .expect("a customer column");
        let sql = condition.to_sql();
        let (text, values) = sql.render(Dialect::Postgres);
        assert_eq!(text, r#""customer_id" = $1"#);
        assert_eq!(values, [&Value::Bytes((0..16).map(|i| i * 0x11).collect())]);
        let users = Subject::users(
            Key::text(hex).expect("key"),
            [
                Key::text("ffeeddccbbaa99887766554433221100").expect("key"),
                Key::Int(3),
            ],
        )
        .expect("users")
        .condition(&cols)
        .expect("a user column");
        let sql = users.to_sql();
        let (text, values) = sql.render(Dialect::Sqlite);
        assert_eq!(text, r#"("user_id" = ? AND "customer_id" = ?)"#);
        assert!(
            values
                .iter()
                .all(|v| matches!(v, Value::Bytes(b) if b.len() == 16))
        );
        for odd in [Key::Int(1), Key::text("not-a-uuid").expect("key")] {
            let condition = Subject::customer(odd).condition(&cols).expect("condition");
            assert_eq!(condition.to_sql().render(Dialect::MySql).0, "1 = 0");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let s = Subject::guest("someone@example.test").unwrap();
        assert!(!format!("{s:?}").contains("someone"));
        let s = Subject::customer(Key::text("cust-4711").unwrap());
        assert!(!format!("{s:?}").contains("4711"));
    }
}
