//! What an anonymized column is set to.
//!
//! Every strategy but [`Replacement::KeyedPseudonym`] is *anonymization*: what it writes is a
//! constant, fresh randomness, or a coarser form of the row's own value (a network, a year, an
//! email domain, a length). None of it is keyed or derived from who the person is, so, beyond
//! the part a generalization keeps in plain sight, two values written for the same person cannot
//! be linked to each other or to the person (GDPR Recital 26). `KeyedPseudonym` is
//! *pseudonymization* (Article 4(5)): the same subject always gets the same value, and whoever
//! holds the key can recompute it, so the rows stay personal data.
//!
//! The values that depend on the row are computed by the database in the same single `UPDATE`
//! as everything else (one statement per table per subject); no row is read and written back.
//! The SQL of each strategy, per database, is on [`Replacement`]'s variants.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::dialect::Dialect;
use crate::ident::Ident;
use crate::sql::{Assignment, Condition, Expr};
use crate::value::Value;

/// Concatenates `&'static str` fragments and expressions into one [`Expr`].
macro_rules! x {
    ($($item:expr),* $(,)?) => {{
        let mut e = Expr::default();
        $( e.append(Expr::from($item)); )*
        e
    }};
}

/// What an anonymized column becomes.
///
/// | strategy | TOML | result | kind |
/// | --- | --- | --- | --- |
/// | [`Null`](Self::Null) | `"null"` | `NULL` | anonymization |
/// | [`Fixed`](Self::Fixed) | `{ fixed = "anonymized" }` | the same constant for everyone | anonymization |
/// | [`Random`](Self::Random) | `"random"` | 32 lowercase hex digits, fresh per row | anonymization |
/// | [`TruncateIp`](Self::TruncateIp) | `"truncate_ip"` | the network: `/24` of IPv4, `/48` of IPv6 | anonymization (generalization) |
/// | [`GeneralizeDate`](Self::GeneralizeDate) | `{ generalize_date = "year" }` or `"month"` | the first day of the year or month | anonymization (generalization) |
/// | [`KeepDomain`](Self::KeepDomain) | `"keep_domain"` | `anonymized@` and the email's domain | anonymization (generalization) |
/// | [`Length`](Self::Length) | `"length"` | `x` repeated to the value's length | anonymization |
/// | [`Digits`](Self::Digits) | `"digits"` | every digit `0`, everything else kept | anonymization of numbers only |
/// | [`KeyedPseudonym`](Self::KeyedPseudonym) | `"keyed_pseudonym"` | HMAC of the subject, stable per subject | **pseudonymization** |
/// | [`SubjectPseudonym`](Self::SubjectPseudonym) | `"subject_pseudonym"` | the subject's pseudonym of the receipts | **pseudonymization** |
///
/// `NULL` stays `NULL` under every strategy but `Fixed`. The generalizations keep something
/// of the value on purpose (a network, a year, a domain): that is anonymous only as long as
/// the kept part does not single anyone out on its own (a personal email domain, an address
/// block of one household); choose them per column with that in mind.
///
/// The old name `"pseudonym"` is rejected when a mapping is read, with a message saying why
/// it was renamed.
///
/// ```
/// use erasure_core::{Granularity, Replacement};
/// use std::collections::BTreeMap;
///
/// let cols: BTreeMap<String, Replacement> = toml::from_str(
///     "email = \"keep_domain\"\nip = \"truncate_ip\"\nborn = { generalize_date = \"year\" }\n\
///      last_name = { fixed = \"anonymized\" }\nphone = \"digits\"",
/// )?;
/// assert_eq!(cols["last_name"], Replacement::Fixed("anonymized".into()));
/// assert_eq!(cols["born"], Replacement::GeneralizeDate(Granularity::Year));
/// assert!(cols.values().all(Replacement::is_anonymization));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Replacement {
    /// `NULL`.
    #[default]
    Null,
    /// A fixed value, bound as a parameter like every value, the same for every row and every
    /// subject (for `NOT NULL` columns). A configuration may not carry a NUL byte in it
    /// (PostgreSQL cannot store one in text).
    Fixed(String),
    /// 32 lowercase hex digits drawn from the database's random source, fresh for every row and
    /// every run, so that nothing links two rows or two erasures: for `NOT NULL` and `UNIQUE`
    /// text columns. SQLite `lower(hex(randomblob(16)))`; PostgreSQL (13+)
    /// `md5(gen_random_uuid()::text)` (122 random bits from the server's strong random source);
    /// MySQL (5.6.17+) and MariaDB (10.10+) `LOWER(HEX(RANDOM_BYTES(16)))`. Not `UUID()`,
    /// which on MySQL is time- and host-based, so values written together would sort together.
    Random,
    /// The network of an IP address in text (a `VARCHAR(45)` column): IPv4 `a.b.c.d` becomes
    /// `a.b.c.0` (the `/24`), IPv6 keeps its first 48 bits, written compressed
    /// (`2001:db8:85a3:0:0:8a2e:370:7334` and `2001:DB8:85A3::1` become `2001:db8:85a3::`,
    /// `::1` becomes `::`), and an IPv4-mapped `::ffff:a.b.c.d` becomes `::ffff:a.b.c.0`.
    /// Anything else (not an address, a zone index, surrounding spaces, octets with leading
    /// zeros) becomes `NULL`. The same on every database: the parsing is written in plain
    /// string functions, not the databases' own address types, which disagree at the edges.
    TruncateIp,
    /// The first day of the year or month of a date or timestamp (a birth date in a retained
    /// record): a `DATE` stays a date, a timestamp becomes that day at `00:00:00`, computed in
    /// UTC (the session time zone sqlx sets). PostgreSQL `date_trunc`; MySQL
    /// `CAST(DATE_FORMAT(col, '%Y-01-01') AS DATE)`. SQLite keeps the text form sqlx writes and
    /// reads: `YYYY-MM-DD`, or `YYYY-MM-DD HH:MM:SS…` / `YYYY-MM-DDTHH:MM:SS…` with an optional
    /// `Z` or offset (converted to UTC, written `+00:00`); other values become `NULL`.
    GeneralizeDate(Granularity),
    /// `anonymized@` and the domain after the email's last `@`; a value without `@` becomes
    /// `NULL`. Keeps statistics by provider; the domain alone must not identify anyone.
    KeepDomain,
    /// `x` repeated to the original length in characters, for columns whose constraints want
    /// a length (`CHAR(8)`, `CHECK (length(code) = 8)`).
    Length,
    /// Every ASCII digit becomes `0`; everything else (`+`, spaces, dashes, letters) is kept,
    /// so a format `CHECK` on a phone number or a code still holds: `+49 151 2345678` becomes
    /// `+00 000 0000000`. Anonymization only where the digits are all that is personal: never
    /// for names, addresses or free text, whose letters it keeps.
    Digits,
    /// A keyed pseudonym of the subject for this table and column: 32 hex digits of
    /// HMAC-SHA-256 under the chain's pseudonym key, the same for every row of one subject, so
    /// that (for example) all orders of an erased customer still group together.
    ///
    /// This is **pseudonymization** (GDPR Art. 4(5)), not anonymization: whoever holds the key
    /// and the subject's id can recompute the value, and values of one subject link to each
    /// other, so the data stays personal data. Use it only where that link is wanted and
    /// documented, and protect the key. Without a subject (the retention job) it is `NULL`.
    KeyedPseudonym,
    /// The subject's own pseudonym, as the erasure's receipt and traces carry it
    /// ([`Chain::pseudonym`](crate::Chain::pseudonym)): the same value in every table and
    /// column. For rows kept as proof that must be matched to the erasure's receipt (consent
    /// withdrawals). Pseudonymization, like [`KeyedPseudonym`](Self::KeyedPseudonym), and it
    /// links the kept rows to every other record of the same pseudonym: use it only there.
    /// Without a subject it is `NULL`.
    SubjectPseudonym,
}

/// How much of a date [`Replacement::GeneralizeDate`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// The year: `1987-06-15` becomes `1987-01-01`.
    Year,
    /// The year and month: `1987-06-15` becomes `1987-06-01`.
    Month,
}

impl Replacement {
    /// What `SET column = …` writes in `table` for a subject whose keyed pseudonym in a domain
    /// `keyed` computes ([`ErasureContext::pseudonym`](crate::ErasureContext::pseudonym)): a
    /// bound value (`Null`, `Fixed`, `KeyedPseudonym`) or an expression over the row's own
    /// value, computed by the database (the other strategies).
    pub fn assignment(
        &self,
        keyed: impl FnOnce(&str) -> String,
        table: &Ident,
        column: &Ident,
    ) -> Assignment {
        match self {
            Replacement::KeyedPseudonym => Assignment::Value(Value::Text(keyed(&format!(
                "{}.{}",
                table.as_str(),
                column.as_str()
            )))),
            // The domain of `Pseudonymizer::subject`: the receipts' value.
            Replacement::SubjectPseudonym => Assignment::Value(Value::Text(keyed("subject"))),
            other => other.assignment_without_subject(),
        }
    }

    /// The assignment where there is no subject (the retention job): a keyed pseudonym has
    /// nothing to be keyed on and is `NULL`; every other strategy is as in
    /// [`assignment`](Self::assignment).
    pub fn assignment_without_subject(&self) -> Assignment {
        match self {
            Replacement::Null | Replacement::KeyedPseudonym | Replacement::SubjectPseudonym => {
                Assignment::Value(Value::Null)
            }
            Replacement::Fixed(v) => Assignment::Value(Value::Text(v.clone())),
            Replacement::Random => Assignment::Expr(per_dialect(random)),
            Replacement::TruncateIp => Assignment::Expr(per_dialect(truncate_ip)),
            Replacement::GeneralizeDate(g) => {
                Assignment::Expr(per_dialect(|d| generalize_date(d, *g)))
            }
            Replacement::KeepDomain => Assignment::Expr(per_dialect(keep_domain)),
            Replacement::Length => Assignment::Expr(per_dialect(length_mask)),
            Replacement::Digits => Assignment::Expr(digits()),
        }
    }

    /// The rows whose `column` still holds something this replacement (without a subject, as
    /// the retention job applies it) would change: the retention job's "not yet anonymized".
    ///
    /// `NULL` is never pending. Otherwise a value is pending unless it is what the strategy
    /// leaves: for `null` and `keyed_pseudonym`, nothing but `NULL`; for `fixed`, the fixed
    /// value; for `random`, 32 lowercase hex digits (a value of exactly that shape is taken
    /// for one already written); for the others, a value the strategy maps to itself (they
    /// are idempotent: a network stays its network, a first of January stays itself), compared
    /// byte for byte. So a second run over the same rows finds nothing to do, and a row is
    /// counted once.
    pub fn pending(&self, column: &Ident) -> Condition {
        let set = Condition::is_not_null(column.clone());
        let unchanged = match self {
            Replacement::Null | Replacement::KeyedPseudonym | Replacement::SubjectPseudonym => {
                return set;
            }
            Replacement::Fixed(v) => return set.and(Condition::ne(column.clone(), v.as_str())),
            Replacement::Random => per_dialect(random_shape),
            Replacement::TruncateIp => per_dialect(|d| unchanged(d, truncate_ip(d), true)),
            Replacement::GeneralizeDate(g) => {
                per_dialect(|d| unchanged(d, generalize_date(d, *g), false))
            }
            Replacement::KeepDomain => per_dialect(|d| unchanged(d, keep_domain(d), true)),
            Replacement::Length => per_dialect(|d| unchanged(d, length_mask(d), true)),
            Replacement::Digits => per_dialect(|d| unchanged(d, digits(), true)),
        };
        set.and(Condition::test(column.clone(), x!["NOT (", unchanged, ")"]))
    }

    /// Whether this is anonymization (`true`) or pseudonymization (`false`:
    /// [`KeyedPseudonym`](Self::KeyedPseudonym), whose values stay personal data).
    pub fn is_anonymization(&self) -> bool {
        !matches!(
            self,
            Replacement::KeyedPseudonym | Replacement::SubjectPseudonym
        )
    }

    /// The strategy's name as written in TOML: `null`, `fixed`, `random`, `truncate_ip`,
    /// `generalize_date`, `keep_domain`, `length`, `digits`, `keyed_pseudonym`,
    /// `subject_pseudonym`.
    pub fn name(&self) -> &'static str {
        match self {
            Replacement::Null => "null",
            Replacement::Fixed(_) => "fixed",
            Replacement::Random => "random",
            Replacement::TruncateIp => "truncate_ip",
            Replacement::GeneralizeDate(_) => "generalize_date",
            Replacement::KeepDomain => "keep_domain",
            Replacement::Length => "length",
            Replacement::Digits => "digits",
            Replacement::KeyedPseudonym => "keyed_pseudonym",
            Replacement::SubjectPseudonym => "subject_pseudonym",
        }
    }
}

// Reading a replacement. Written by hand rather than derived, so that the old name
// `"pseudonym"` fails with a message of its own and the valid names are listed otherwise.

const NAMES: &[&str] = &[
    "null",
    "fixed",
    "random",
    "truncate_ip",
    "generalize_date",
    "keep_domain",
    "length",
    "digits",
    "keyed_pseudonym",
    "subject_pseudonym",
];

/// The error for the old name.
const RENAMED: &str = "replacement \"pseudonym\" was renamed \"keyed_pseudonym\": it is \
     pseudonymization, not anonymization (the same subject always gets the same value, and \
     whoever holds the key can recompute it, so the data stays personal data); write \
     \"keyed_pseudonym\" if that link is wanted, or \"random\" for a value that links to nothing";

impl<'de> Deserialize<'de> for Replacement {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ReplacementVisitor)
    }
}

struct ReplacementVisitor;

impl ReplacementVisitor {
    fn unit<E: de::Error>(name: &str) -> Result<Replacement, E> {
        Ok(match name {
            "null" => Replacement::Null,
            "random" => Replacement::Random,
            "truncate_ip" => Replacement::TruncateIp,
            "keep_domain" => Replacement::KeepDomain,
            "length" => Replacement::Length,
            "digits" => Replacement::Digits,
            "keyed_pseudonym" => Replacement::KeyedPseudonym,
            "subject_pseudonym" => Replacement::SubjectPseudonym,
            "pseudonym" => return Err(E::custom(RENAMED)),
            "fixed" => {
                return Err(E::custom(
                    "replacement \"fixed\" needs its value: { fixed = \"…\" }",
                ));
            }
            "generalize_date" => {
                return Err(E::custom(
                    "replacement \"generalize_date\" needs its granularity: \
                     { generalize_date = \"year\" } or \"month\"",
                ));
            }
            other => return Err(E::unknown_variant(other, NAMES)),
        })
    }
}

impl<'de> Visitor<'de> for ReplacementVisitor {
    type Value = Replacement;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a replacement: \"null\", \"random\", \"truncate_ip\", \"keep_domain\", \"length\", \
             \"digits\", \"keyed_pseudonym\", { fixed = \"…\" } or { generalize_date = \"year\" }",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Replacement, E> {
        Self::unit(v)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Replacement, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::invalid_length(0, &self));
        };
        let replacement = match key.as_str() {
            "fixed" => Replacement::Fixed(fixed_text(map.next_value::<String>()?)?),
            "generalize_date" => Replacement::GeneralizeDate(map.next_value()?),
            "pseudonym" => return Err(de::Error::custom(RENAMED)),
            other if NAMES.contains(&other) => {
                map.next_value::<IgnoredAny>()?;
                return Err(de::Error::custom(format_args!(
                    "replacement \"{other}\" takes no value: write column = \"{other}\""
                )));
            }
            other => return Err(de::Error::unknown_variant(other, NAMES)),
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(
                "a replacement is one strategy: a table with exactly one key",
            ));
        }
        Ok(replacement)
    }
}

/// A fixed replacement, refusing what no database stores the same way.
fn fixed_text<E: de::Error>(text: String) -> Result<String, E> {
    if text.contains('\0') {
        return Err(E::custom("a fixed replacement must not contain a NUL byte"));
    }
    Ok(text)
}

// The expressions. Each is written once per dialect from `&'static str` fragments and the
// target column.

fn per_dialect(f: impl Fn(Dialect) -> Expr) -> Expr {
    Expr::per_dialect(f(Dialect::Sqlite), f(Dialect::Postgres), f(Dialect::MySql))
}

fn col() -> Expr {
    Expr::column()
}

/// `a || b || …`, or `CONCAT(a, b, …)` on MySQL (where `||` is `OR` unless `PIPES_AS_CONCAT`
/// is set).
fn concat(d: Dialect, items: impl IntoIterator<Item = Expr>) -> Expr {
    let (open, sep) = match d {
        Dialect::MySql => ("CONCAT(", ", "),
        Dialect::Sqlite | Dialect::Postgres => ("(", " || "),
    };
    let mut e = Expr::new(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            e.push(sep);
        }
        e.append(item);
    }
    e.push(")");
    e
}

/// The length in characters.
fn chars(d: Dialect, x: Expr) -> Expr {
    let f = match d {
        Dialect::Sqlite => "length(",
        Dialect::Postgres => "char_length(",
        Dialect::MySql => "CHAR_LENGTH(",
    };
    x![f, x, ")"]
}

/// The position of `needle` in `x`, 0 when absent.
fn position(d: Dialect, x: Expr, needle: &'static str) -> Expr {
    let f = match d {
        Dialect::Sqlite => "instr(",
        Dialect::Postgres => "strpos(",
        Dialect::MySql => "INSTR(",
    };
    x![f, x, ", ", needle, ")"]
}

/// How often the one-character or two-character `what` occurs in `x`, times its length.
fn occurrences(d: Dialect, x: Expr, what: &'static str) -> Expr {
    x![
        "(",
        chars(d, x.clone()),
        " - ",
        chars(d, x!["replace(", x, ", ", what, ", '')"]),
        ")"
    ]
}

/// Whether `x` contains a character matching the bracket expression `class` (written the same
/// in GLOB and in regular expressions: `[^0-9.]`).
fn contains_class(d: Dialect, x: Expr, glob: &'static str, regex: &'static str) -> Expr {
    match d {
        Dialect::Sqlite => x!["(", x, " GLOB ", glob, ")"],
        Dialect::Postgres => x!["(", x, " ~ ", regex, ")"],
        Dialect::MySql => x!["(", x, " REGEXP ", regex, ")"],
    }
}

/// `random`: see [`Replacement::Random`].
fn random(d: Dialect) -> Expr {
    let fresh = match d {
        Dialect::Sqlite => "lower(hex(randomblob(16)))",
        Dialect::Postgres => "md5(gen_random_uuid()::text)",
        Dialect::MySql => "LOWER(HEX(RANDOM_BYTES(16)))",
    };
    x!["CASE WHEN ", col(), " IS NOT NULL THEN ", fresh, " END"]
}

/// Whether the column holds 32 lowercase hex digits (never `NULL` for a value that is set).
fn random_shape(d: Dialect) -> Expr {
    match d {
        Dialect::Sqlite => x![
            "(length(",
            col(),
            ") = 32 AND ",
            col(),
            " NOT GLOB '*[^0-9a-f]*')"
        ],
        Dialect::Postgres => x!["(", col(), " ~ '^[0-9a-f]{32}$')"],
        // No REGEXP on binary strings (MySQL 8.0.22+ refuses them), and the column's collation
        // may ignore case: compare the bytes with their own hex round trip instead.
        Dialect::MySql => x![
            "(CHAR_LENGTH(",
            col(),
            ") = 32 AND CAST(LOWER(HEX(UNHEX(",
            col(),
            "))) AS BINARY) <=> CAST(",
            col(),
            " AS BINARY))"
        ],
    }
}

/// Whether the column's value equals `f` of it, `NULL`s equal, byte for byte for text
/// (`text`), as the type compares for dates.
fn unchanged(d: Dialect, f: Expr, text: bool) -> Expr {
    match d {
        Dialect::Sqlite => x![col(), " IS (", f, ") COLLATE BINARY"],
        Dialect::Postgres => x![col(), " IS NOT DISTINCT FROM (", f, ")"],
        Dialect::MySql if text => x!["CAST(", col(), " AS BINARY) <=> CAST((", f, ") AS BINARY)"],
        Dialect::MySql => x![col(), " <=> (", f, ")"],
    }
}

/// `truncate_ip`: see [`Replacement::TruncateIp`].
fn truncate_ip(d: Dialect) -> Expr {
    let s = || x!["LOWER(", col(), ")"];
    // The IPv4 address after `::ffff:`.
    let mapped = || match d {
        Dialect::MySql => x!["SUBSTR(", s(), ", 8)"],
        Dialect::Sqlite | Dialect::Postgres => x!["substr(", s(), ", 8)"],
    };
    x![
        "CASE WHEN ",
        ipv4(d, s()),
        " THEN ",
        ipv4_network(d, s()),
        " WHEN ",
        s(),
        " LIKE '::ffff:%' AND ",
        ipv4(d, mapped()),
        " THEN ",
        concat(d, [Expr::new("'::ffff:'"), ipv4_network(d, mapped())]),
        " WHEN ",
        ipv6(d, s()),
        " THEN ",
        ipv6_network(d, s()),
        " END"
    ]
}

/// Whether `x` is dotted-decimal IPv4: four octets 0–255 without leading zeros (as
/// `inet_pton` reads them).
fn ipv4(d: Dialect, x: Expr) -> Expr {
    // Alternatives longest first, as in every regular-expression engine involved.
    const OCTETS: &str = "'^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\
                          ([.](25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$'";
    match d {
        // No regular expressions in SQLite: the same language in GLOB tests on `.x.`.
        Dialect::Sqlite => {
            let dotted = || x!["('.' || ", x.clone(), " || '.')"];
            let mut e = x![
                "(",
                x.clone(),
                " NOT GLOB '*[^0-9.]*' AND ",
                occurrences(d, x.clone(), "'.'"),
                " = 3"
            ];
            for not in [
                // An empty octet.
                " NOT GLOB '*..*'",
                // More than three digits.
                " NOT GLOB '*[0-9][0-9][0-9][0-9]*'",
                // A leading zero.
                " NOT GLOB '*.0[0-9]*'",
                // Above 255.
                " NOT GLOB '*.[3-9][0-9][0-9].*'",
                " NOT GLOB '*.2[6-9][0-9].*'",
                " NOT GLOB '*.25[6-9].*'",
            ] {
                e.append(x![" AND ", dotted(), not]);
            }
            e.push(")");
            e
        }
        // The character test also refuses a final newline, which `$` lets through in PCRE
        // (MariaDB) and ICU (MySQL).
        Dialect::Postgres => x!["(", x.clone(), " ~ ", OCTETS, " AND ", x, " !~ '[^0-9.]')"],
        Dialect::MySql => x![
            "(",
            x.clone(),
            " REGEXP ",
            OCTETS,
            " AND NOT (",
            x,
            " REGEXP '[^0-9.]'))"
        ],
    }
}

/// `a.b.c.d` to `a.b.c.0`.
fn ipv4_network(d: Dialect, x: Expr) -> Expr {
    match d {
        Dialect::Sqlite | Dialect::Postgres => x!["(rtrim(", x, ", '0123456789') || '0')"],
        Dialect::MySql => x!["CONCAT(SUBSTRING_INDEX(", x, ", '.', 3), '.0')"],
    }
}

/// Whether `x` is an IPv6 address in hex groups (RFC 4291 without an embedded IPv4 part):
/// eight groups of 1–4 hex digits, or at most seven and one `::`.
fn ipv6(d: Dialect, x: Expr) -> Expr {
    let colons = || occurrences(d, x.clone(), "':'");
    let doubles = || occurrences(d, x.clone(), "'::'");
    let like = |pattern: &'static str| x![x.clone(), pattern];
    x![
        "(NOT ",
        contains_class(d, x.clone(), "'*[^0-9a-f:]*'", "'[^0-9a-f:]'"),
        " AND NOT ",
        contains_class(
            d,
            x.clone(),
            "'*[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]*'",
            "'[0-9a-f]{5}'"
        ),
        " AND ",
        like(" NOT LIKE '%:::%'"),
        " AND ((",
        doubles(),
        " = 0 AND ",
        colons(),
        " = 7 AND ",
        like(" NOT LIKE ':%'"),
        " AND ",
        like(" NOT LIKE '%:'"),
        ") OR (",
        doubles(),
        " = 2 AND (",
        like(" NOT LIKE ':%'"),
        " OR ",
        like(" LIKE '::%'"),
        ") AND (",
        like(" NOT LIKE '%:'"),
        " OR ",
        like(" LIKE '%::'"),
        ") AND ",
        colons(),
        " <= CASE WHEN ",
        like(" LIKE '::%'"),
        " OR ",
        like(" LIKE '%::'"),
        " THEN 8 ELSE 7 END)))"
    ]
}

/// The first 48 bits of a valid IPv6 address `x`, compressed: the first three groups without
/// leading zeros, trailing zero groups dropped, then `::`.
fn ipv6_network(d: Dialect, x: Expr) -> Expr {
    let expanded = ipv6_expanded(d, x);
    let group = |i: usize| ipv6_group(d, &expanded, i);
    let sep = || Expr::new("':'");
    x![
        "CASE WHEN ",
        group(2),
        " <> '0' THEN ",
        concat(
            d,
            [
                group(0),
                sep(),
                group(1),
                sep(),
                group(2),
                Expr::new("'::'")
            ]
        ),
        " WHEN ",
        group(1),
        " <> '0' THEN ",
        concat(d, [group(0), sep(), group(1), Expr::new("'::'")]),
        " WHEN ",
        group(0),
        " <> '0' THEN ",
        concat(d, [group(0), Expr::new("'::'")]),
        " ELSE '::' END"
    ]
}

/// A valid IPv6 address `x` written out with its eight groups (`::` expanded).
fn ipv6_expanded(d: Dialect, x: Expr) -> Expr {
    // A zero group before a leading `::` and after a trailing one: then every group stands
    // between two colons (or an end), there are as many groups as colons when a `::` is left
    // (seven colons and eight groups when not), and the `::` stands for `8 - colons` zero
    // groups. Written out, the address has its eight groups, of which the first three count.
    let padded = concat(
        d,
        [
            x!["CASE WHEN ", x.clone(), " LIKE '::%' THEN '0' ELSE '' END"],
            x.clone(),
            x!["CASE WHEN ", x, " LIKE '%::' THEN '0' ELSE '' END"],
        ],
    );
    let zeros = match d {
        Dialect::MySql => "SUBSTR('0:0:0:0:0:0:', 1, 2 * (8 - ",
        Dialect::Sqlite | Dialect::Postgres => "substr('0:0:0:0:0:0:', 1, 2 * (8 - ",
    };
    x![
        "replace(",
        padded.clone(),
        ", '::', ",
        concat(
            d,
            [
                Expr::new("':'"),
                x![zeros, occurrences(d, padded, "':'"), "))"]
            ]
        ),
        ")"
    ]
}

/// Group `i` (0, 1 or 2) of an [expanded](ipv6_expanded) IPv6 address, without leading zeros
/// (`0` for a zero group).
fn ipv6_group(d: Dialect, expanded: &Expr, i: usize) -> Expr {
    let g = match d {
        // No split function in SQLite; the groups hold only hex digits, so they can be made a
        // JSON array.
        Dialect::Sqlite => x![
            "json_extract('[\"' || replace(",
            expanded.clone(),
            ", ':', '\",\"') || '\"]', ",
            ["'$[0]'", "'$[1]'", "'$[2]'"][i],
            ")"
        ],
        Dialect::Postgres => x![
            "split_part(",
            expanded.clone(),
            ", ':', ",
            ["1", "2", "3"][i],
            ")"
        ],
        Dialect::MySql => x![
            "SUBSTRING_INDEX(SUBSTRING_INDEX(",
            expanded.clone(),
            ", ':', ",
            ["1", "2", "3"][i],
            "), ':', -1)"
        ],
    };
    let trimmed = match d {
        Dialect::MySql => x!["TRIM(LEADING '0' FROM ", g, ")"],
        Dialect::Sqlite | Dialect::Postgres => x!["ltrim(", g, ", '0')"],
    };
    x!["COALESCE(NULLIF(", trimmed, ", ''), '0')"]
}

/// `generalize_date`: see [`Replacement::GeneralizeDate`].
fn generalize_date(d: Dialect, g: Granularity) -> Expr {
    match d {
        Dialect::Sqlite => {
            let day = || {
                let format = match g {
                    Granularity::Year => "strftime('%Y-01-01', ",
                    Granularity::Month => "strftime('%Y-%m-01', ",
                };
                x![format, col(), ")"]
            };
            x![
                "CASE WHEN ",
                col(),
                " GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' THEN ",
                day(),
                " WHEN ",
                col(),
                " GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T]*' THEN ",
                day(),
                " || substr(",
                col(),
                ", 11, 1) || '00:00:00' || CASE WHEN ",
                col(),
                " GLOB '*[Zz]' THEN 'Z' WHEN ",
                col(),
                " GLOB '*[+-][0-9][0-9]:[0-9][0-9]' THEN '+00:00' ELSE '' END END"
            ]
        }
        Dialect::Postgres => {
            let f = match g {
                Granularity::Year => "date_trunc('year', ",
                Granularity::Month => "date_trunc('month', ",
            };
            x![f, col(), ")"]
        }
        Dialect::MySql => {
            let format = match g {
                Granularity::Year => ", '%Y-01-01') AS DATE)",
                Granularity::Month => ", '%Y-%m-01') AS DATE)",
            };
            x!["CAST(DATE_FORMAT(", col(), format]
        }
    }
}

/// `keep_domain`: see [`Replacement::KeepDomain`].
fn keep_domain(d: Dialect) -> Expr {
    let domain = match d {
        // What follows the last `@`: `rtrim` with every character but `@` stops there.
        Dialect::Sqlite | Dialect::Postgres => x![
            "substr(",
            col(),
            ", ",
            chars(d, x!["rtrim(", col(), ", replace(", col(), ", '@', ''))"]),
            " + 1)"
        ],
        Dialect::MySql => x!["SUBSTRING_INDEX(", col(), ", '@', -1)"],
    };
    x![
        "CASE WHEN ",
        position(d, col(), "'@'"),
        " > 0 THEN ",
        concat(d, [Expr::new("'anonymized@'"), domain]),
        " END"
    ]
}

/// `length`: see [`Replacement::Length`].
fn length_mask(d: Dialect) -> Expr {
    match d {
        // No repeat() in SQLite: n zero bytes in hex are n times `00`.
        Dialect::Sqlite => x![
            "CASE WHEN ",
            col(),
            " IS NOT NULL THEN replace(hex(zeroblob(length(",
            col(),
            "))), '00', 'x') END"
        ],
        Dialect::Postgres => x!["repeat('x', char_length(", col(), "))"],
        Dialect::MySql => x!["REPEAT('x', CHAR_LENGTH(", col(), "))"],
    }
}

/// `digits`: see [`Replacement::Digits`]. The same text on every database.
fn digits() -> Expr {
    let mut e = col();
    for digit in [
        "'1'", "'2'", "'3'", "'4'", "'5'", "'6'", "'7'", "'8'", "'9'",
    ] {
        e = x!["replace(", e, ", ", digit, ", '0')"];
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident;
    use std::collections::BTreeMap;

    fn parse(toml: &str) -> Result<BTreeMap<String, Replacement>, toml::de::Error> {
        toml::from_str(toml)
    }

    #[test]
    fn fixed_values_with_nul_bytes_are_rejected_and_payloads_are_kept_verbatim() {
        let err = parse("email = { fixed = \"x\\u0000y\" }").expect_err("NUL");
        assert!(err.to_string().contains("NUL"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
        let ok = parse("email = { fixed = \"'; DROP TABLE orders; --\" }").expect("payload");
        assert_eq!(
            ok["email"],
            Replacement::Fixed("'; DROP TABLE orders; --".into())
        );
    }

    #[test]
    fn every_form_reads_and_writes_back() {
        let all = [
            ("\"null\"", Replacement::Null),
            (
                "{ fixed = \"anonymized\" }",
                Replacement::Fixed("anonymized".into()),
            ),
            ("\"random\"", Replacement::Random),
            ("\"truncate_ip\"", Replacement::TruncateIp),
            (
                "{ generalize_date = \"year\" }",
                Replacement::GeneralizeDate(Granularity::Year),
            ),
            (
                "{ generalize_date = \"month\" }",
                Replacement::GeneralizeDate(Granularity::Month),
            ),
            ("\"keep_domain\"", Replacement::KeepDomain),
            ("\"length\"", Replacement::Length),
            ("\"digits\"", Replacement::Digits),
            ("\"keyed_pseudonym\"", Replacement::KeyedPseudonym),
            ("\"subject_pseudonym\"", Replacement::SubjectPseudonym),
        ];
        for (text, expected) in all {
            let read = parse(&format!("c = {text}")).expect(text);
            assert_eq!(read["c"], expected, "{text}");
            assert_eq!(
                expected.is_anonymization(),
                !matches!(
                    expected,
                    Replacement::KeyedPseudonym | Replacement::SubjectPseudonym
                )
            );
            // Written back, it reads the same (TOML and JSON).
            let written = toml::to_string(&read).expect("toml");
            assert_eq!(parse(&written).expect(&written), read, "{written}");
            let json = serde_json::to_string(&expected).expect("json");
            assert_eq!(
                serde_json::from_str::<Replacement>(&json).expect(&json),
                expected
            );
            assert!(json.contains(expected.name()), "{json}");
        }
    }

    #[test]
    fn the_old_pseudonym_is_refused_with_the_reason_and_the_alternatives() {
        for text in ["c = \"pseudonym\"", "c = { pseudonym = \"x\" }"] {
            let err = parse(&format!("a = \"null\"\n{text}")).expect_err(text);
            let msg = err.to_string();
            for needed in [
                "renamed \"keyed_pseudonym\"",
                "pseudonymization, not anonymization",
                "personal data",
                "\"random\"",
                "line 2",
            ] {
                assert!(msg.contains(needed), "{needed}: {msg}");
            }
        }
    }

    #[test]
    fn malformed_forms_say_what_is_expected() {
        for (text, needed) in [
            ("\"nul\"", "unknown variant `nul`, expected one of `null`"),
            ("\"fixed\"", "needs its value"),
            ("\"generalize_date\"", "needs its granularity"),
            ("{ generalize_date = \"day\" }", "unknown variant `day`"),
            ("{ random = true }", "takes no value"),
            ("{ fixed = \"a\", length = \"b\" }", "exactly one key"),
            ("{}", "a replacement"),
            ("1", "a replacement"),
        ] {
            let err = parse(&format!("c = {text}")).expect_err(text);
            assert!(err.to_string().contains(needed), "{text}: {err}");
        }
    }

    fn render(update: &crate::sql::Update, d: Dialect) -> String {
        update.to_sql().render(d).0
    }

    #[test]
    fn the_expressions_per_dialect() {
        let t = ident!("t");
        let c = ident!("c");
        let update = |r: Replacement| {
            crate::sql::Update::new(t.clone(), Condition::eq(ident!("id"), 1))
                .assign(c.clone(), r.assignment_without_subject())
        };
        let cases = [
            (
                Replacement::Random,
                [
                    r#"UPDATE "t" SET "c" = CASE WHEN "c" IS NOT NULL THEN lower(hex(randomblob(16))) END WHERE "id" = ?"#,
                    r#"UPDATE "t" SET "c" = CASE WHEN "c" IS NOT NULL THEN md5(gen_random_uuid()::text) END WHERE "id" = $1"#,
                    "UPDATE `t` SET `c` = CASE WHEN `c` IS NOT NULL THEN LOWER(HEX(RANDOM_BYTES(16))) END WHERE `id` = ?",
                ],
            ),
            (
                Replacement::GeneralizeDate(Granularity::Month),
                [
                    r#"UPDATE "t" SET "c" = CASE WHEN "c" GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' THEN strftime('%Y-%m-01', "c") WHEN "c" GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T]*' THEN strftime('%Y-%m-01', "c") || substr("c", 11, 1) || '00:00:00' || CASE WHEN "c" GLOB '*[Zz]' THEN 'Z' WHEN "c" GLOB '*[+-][0-9][0-9]:[0-9][0-9]' THEN '+00:00' ELSE '' END END WHERE "id" = ?"#,
                    r#"UPDATE "t" SET "c" = date_trunc('month', "c") WHERE "id" = $1"#,
                    "UPDATE `t` SET `c` = CAST(DATE_FORMAT(`c`, '%Y-%m-01') AS DATE) WHERE `id` = ?",
                ],
            ),
            (
                Replacement::KeepDomain,
                [
                    r#"UPDATE "t" SET "c" = CASE WHEN instr("c", '@') > 0 THEN ('anonymized@' || substr("c", length(rtrim("c", replace("c", '@', ''))) + 1)) END WHERE "id" = ?"#,
                    r#"UPDATE "t" SET "c" = CASE WHEN strpos("c", '@') > 0 THEN ('anonymized@' || substr("c", char_length(rtrim("c", replace("c", '@', ''))) + 1)) END WHERE "id" = $1"#,
                    "UPDATE `t` SET `c` = CASE WHEN INSTR(`c`, '@') > 0 THEN CONCAT('anonymized@', SUBSTRING_INDEX(`c`, '@', -1)) END WHERE `id` = ?",
                ],
            ),
            (
                Replacement::Length,
                [
                    r#"UPDATE "t" SET "c" = CASE WHEN "c" IS NOT NULL THEN replace(hex(zeroblob(length("c"))), '00', 'x') END WHERE "id" = ?"#,
                    r#"UPDATE "t" SET "c" = repeat('x', char_length("c")) WHERE "id" = $1"#,
                    "UPDATE `t` SET `c` = REPEAT('x', CHAR_LENGTH(`c`)) WHERE `id` = ?",
                ],
            ),
        ];
        for (r, expected) in cases {
            let u = update(r.clone());
            for (d, text) in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(render(&u, d), text, "{r:?} on {d}");
            }
        }
        let digits = render(&update(Replacement::Digits), Dialect::Postgres);
        assert!(
            digits.starts_with(
                r#"UPDATE "t" SET "c" = replace(replace(replace(replace(replace(replace(replace(replace(replace("c", '1', '0'), '2', '0')"#
            ),
            "{digits}"
        );
        // The IP expression names only its own column, binds nothing, and on each database
        // uses that database's functions.
        let ip = update(Replacement::TruncateIp);
        for (d, own, foreign) in [
            (Dialect::Sqlite, "json_extract(", "split_part("),
            (Dialect::Postgres, "split_part(", "SUBSTRING_INDEX("),
            (Dialect::MySql, "SUBSTRING_INDEX(", "json_extract("),
        ] {
            let sql = ip.to_sql();
            let (text, values) = sql.render(d);
            assert!(text.contains(own) && !text.contains(foreign), "{d}: {text}");
            assert_eq!(values.len(), 1, "only the id is bound");
            assert!(!text.contains("||") || d != Dialect::MySql, "{text}");
        }
    }

    #[test]
    fn values_stay_bound_and_the_pseudonym_is_null_without_a_subject() {
        let payload = "'); DROP TABLE t; --";
        let u = crate::sql::Update::new(ident!("t"), Condition::eq(ident!("id"), 1))
            .assign(
                ident!("a"),
                Replacement::Fixed(payload.into()).assignment_without_subject(),
            )
            .assign(
                ident!("b"),
                Replacement::KeyedPseudonym.assignment_without_subject(),
            );
        let sql = u.to_sql();
        let (text, values) = sql.render(Dialect::Postgres);
        assert_eq!(
            text,
            r#"UPDATE "t" SET "a" = $1, "b" = NULL WHERE "id" = $2"#
        );
        assert_eq!(values.len(), 2);
    }

    #[test]
    fn pending_rows_are_those_the_strategy_would_still_change() {
        let c = ident!("c");
        let r = |p: Replacement, d: Dialect| p.pending(&c).to_sql().render(d).0;
        assert_eq!(r(Replacement::Null, Dialect::Sqlite), r#""c" IS NOT NULL"#);
        assert_eq!(
            r(Replacement::KeyedPseudonym, Dialect::Postgres),
            r#""c" IS NOT NULL"#
        );
        assert_eq!(
            r(Replacement::Fixed("x".into()), Dialect::Postgres),
            r#"("c" IS NOT NULL AND "c" <> $1)"#
        );
        assert_eq!(
            r(Replacement::Random, Dialect::Postgres),
            r#"("c" IS NOT NULL AND (NOT (("c" ~ '^[0-9a-f]{32}$'))))"#
        );
        assert_eq!(
            r(Replacement::Length, Dialect::Postgres),
            r#"("c" IS NOT NULL AND (NOT ("c" IS NOT DISTINCT FROM (repeat('x', char_length("c"))))))"#
        );
        assert_eq!(
            r(Replacement::Length, Dialect::MySql),
            "(`c` IS NOT NULL AND (NOT (CAST(`c` AS BINARY) <=> CAST((REPEAT('x', CHAR_LENGTH(`c`))) AS BINARY))))"
        );
        assert_eq!(
            r(
                Replacement::GeneralizeDate(Granularity::Year),
                Dialect::MySql
            ),
            "(`c` IS NOT NULL AND (NOT (`c` <=> (CAST(DATE_FORMAT(`c`, '%Y-01-01') AS DATE)))))"
        );
        assert_eq!(
            r(Replacement::Length, Dialect::Sqlite),
            r#"("c" IS NOT NULL AND (NOT ("c" IS (CASE WHEN "c" IS NOT NULL THEN replace(hex(zeroblob(length("c"))), '00', 'x') END) COLLATE BINARY)))"#
        );
    }
}
