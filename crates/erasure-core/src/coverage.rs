//! Does the chain fit the live schema, and does it cover everything personal?
//!
//! Two checks against the database's catalog, both built on the handlers' declared
//! [`Footprint`]s:
//!
//! * [`missing`]: every table and column a mapping names must exist, or an erasure would fail
//!   half-way (and roll back). Checked before anything runs.
//! * [`uncovered`]: every column that refers to a customer or user, or looks personal, should be
//!   covered by some handler; otherwise a forgotten table keeps personal data after an erasure.
//!   A regulator finds it later; this check finds it first.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::footprint::Footprint;
use crate::ident::Ident;
use crate::schema::{ColumnInfo, ForeignKeyInfo};

/// A table or column a mapping names that the database does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// The table.
    pub table: String,
    /// The column, or `None` when the whole table is missing.
    pub column: Option<String>,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            None => write!(f, "table `{}`", self.table),
            Some(c) => write!(f, "column `{}.{}`", self.table, c),
        }
    }
}

/// The chain's mappings name tables or columns the database does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the database lacks what the chain's mappings name: {}", list(.missing))]
pub struct SchemaMismatch {
    /// Everything missing, in footprint order.
    pub missing: Vec<Missing>,
}

/// Why [`Chain::check_schema`](crate::Chain::check_schema) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The catalog could not be read.
    #[error("could not read the database's schema: {0}")]
    Database(#[from] crate::error::DatabaseError),
    /// Mapped tables or columns are missing.
    #[error(transparent)]
    Mismatch(#[from] SchemaMismatch),
}

fn list(missing: &[Missing]) -> String {
    missing
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// What in `footprint` the database's `columns` lack. Tables compare without their schema and,
/// like columns, without regard to ASCII case.
///
/// ```
/// use erasure_core::{coverage::missing, footprint::Footprint, ident, schema::ColumnInfo};
///
/// let fp = Footprint::new().delete(ident!("alerts"), [ident!("customer_id")]);
/// let live = vec![ColumnInfo { table: "alerts".into(), column: "cust".into(),
///                              data_type: "INTEGER".into(), not_null: false }];
/// assert_eq!(missing(&fp, &live)[0].to_string(), "column `alerts.customer_id`");
/// ```
pub fn missing(footprint: &Footprint, columns: &[ColumnInfo]) -> Vec<Missing> {
    let mut out: Vec<Missing> = Vec::new();
    for usage in footprint.tables() {
        let table = usage.table.name();
        let live: Vec<&ColumnInfo> = columns.iter().filter(|c| same(&c.table, table)).collect();
        if live.is_empty() {
            let m = Missing {
                table: table.to_owned(),
                column: None,
            };
            if !out.contains(&m) {
                out.push(m);
            }
            continue;
        }
        for column in &usage.columns {
            if !live.iter().any(|c| same(&c.column, column.as_str())) {
                let m = Missing {
                    table: table.to_owned(),
                    column: Some(column.as_str().to_owned()),
                };
                if !out.contains(&m) {
                    out.push(m);
                }
            }
        }
    }
    out
}

/// Why a column should be covered by a handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "concern", rename_all = "snake_case")]
pub enum Concern {
    /// The column refers to a customer or user: by a foreign key to `table`, or by its name
    /// (`customer_id`, `user_id`, …) when the schema declares no key.
    References {
        /// The referenced table, or `None` when only the name suggests it.
        table: Option<String>,
    },
    /// The column's name says it holds personal data (email, name, phone, address, IP, bank
    /// details, birthday, free-text notes).
    Personal,
}

/// A column no handler of the chain covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uncovered {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// Why it matters.
    #[serde(flatten)]
    pub concern: Concern,
}

impl fmt::Display for Uncovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.concern {
            Concern::References { table: Some(t) } => {
                write!(f, "{}.{} refers to {t}", self.table, self.column)
            }
            Concern::References { table: None } => {
                write!(
                    f,
                    "{}.{} looks like a reference to a customer or user",
                    self.table, self.column
                )
            }
            Concern::Personal => write!(f, "{}.{} looks personal", self.table, self.column),
        }
    }
}

/// Whether a column's name says it holds personal data.
///
/// Names that describe a value rather than hold one are not: a kind (`address_type`), a
/// reference to another table (`address_id`), a flag or state (`email_verified`,
/// `is_email_confirmed`, `newsletter_status`), a count, or a timestamp (`email_sent_at`; a
/// date of birth still is).
///
/// ```
/// use erasure_core::coverage::looks_personal;
/// for yes in ["email", "billing_email", "first_name", "phone", "street", "ip_address", "iban",
///             "notes", "date_of_birth", "birth_at"] {
///     assert!(looks_personal(yes), "{yes}");
/// }
/// for no in ["product_name", "status", "total_cents", "sku", "country", "address_type",
///            "address_id", "email_verified", "is_email_confirmed", "email_sent_at",
///            "phone_count", "name_format"] {
///     assert!(!looks_personal(no), "{no}");
/// }
/// ```
pub fn looks_personal(column: &str) -> bool {
    let c = column.to_ascii_lowercase();
    const DESCRIBES: [&str; 21] = [
        "_type",
        "_types",
        "_id",
        "_ids",
        "_count",
        "_status",
        "_state",
        "_flag",
        "_enabled",
        "_verified",
        "_confirmed",
        "_sent",
        "_at",
        "_format",
        "_template",
        "_kind",
        "_mode",
        "_policy",
        "_length",
        "_required",
        "_allowed",
    ];
    if (DESCRIBES.iter().any(|s| c.ends_with(s)) && !c.contains("birth"))
        || c.starts_with("is_")
        || c.starts_with("has_")
    {
        return false;
    }
    const CONTAINS: [&str; 22] = [
        "email",
        "mail",
        "phone",
        "mobile",
        "first_name",
        "last_name",
        "full_name",
        "given_name",
        "family_name",
        "surname",
        "middle_name",
        "birth",
        "street",
        "address",
        "city",
        "postcode",
        "postal",
        "zip",
        "iban",
        "bank_account",
        "recipient",
        "remark",
    ];
    const EXACT: [&str; 9] = [
        "name", "holder", "town", "ip", "dob", "note", "notes", "comment", "comments",
    ];
    const SUFFIX: [&str; 5] = ["_holder", "_ip", "_notes", "_comment", "_town"];
    CONTAINS.iter().any(|p| c.contains(p))
        || EXACT.contains(&c.as_str())
        || SUFFIX.iter().any(|s| c.ends_with(s))
        || (c.ends_with("_name") && !c.starts_with("product") && !c.starts_with("table"))
        || c.starts_with("ip_")
}

/// Whether a column of the live schema looks personal: its name does ([`looks_personal`]), and
/// its type can hold such a value. Text columns can hold anything; a column of another type
/// (an integer, a boolean, a timestamp) counts only for what is stored that way too: phone
/// numbers, IP addresses, postcodes, dates of birth.
///
/// ```
/// use erasure_core::{coverage::looks_personal_column, schema::ColumnInfo};
///
/// let col = |name: &str, ty: &str| ColumnInfo {
///     table: "t".into(), column: name.into(), data_type: ty.into(), not_null: false,
/// };
/// assert!(looks_personal_column(&col("customer_email", "varchar")));
/// assert!(looks_personal_column(&col("phone", "bigint")));
/// assert!(!looks_personal_column(&col("newsletter_email", "boolean")));
/// assert!(!looks_personal_column(&col("address", "integer")));
/// ```
pub fn looks_personal_column(column: &ColumnInfo) -> bool {
    if !looks_personal(&column.column) {
        return false;
    }
    if column.is_text() {
        return true;
    }
    let name = column.column.to_ascii_lowercase();
    let ty = column.data_type.to_ascii_lowercase();
    let boolean = ty.contains("bool") || ty == "tinyint(1)" || ty == "bit";
    !boolean
        && [
            "phone", "mobile", "ip", "postcode", "postal", "zip", "birth", "dob",
        ]
        .iter()
        .any(|p| name.contains(p))
}

/// A column an operator has judged to keep as it is, with the reason: coverage lists it apart
/// from what it finds uncovered.
///
/// ```toml
/// [coverage]
/// ignore = [{ column = "sales_order_grid.billing_name", reason = "rebuilt from sales_order by the shop" }]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ignore {
    /// `table.column`.
    pub column: String,
    /// Why it may stay (fixed text, for the record).
    pub reason: String,
}

impl Ignore {
    /// Whether this names `table.column` (without regard to ASCII case, the table without its
    /// schema).
    pub fn matches(&self, table: &str, column: &str) -> bool {
        match self.column.rsplit_once('.') {
            Some((t, c)) => {
                let t = t.rsplit('.').next().unwrap_or(t);
                same(t, table) && same(c, column)
            }
            None => false,
        }
    }
}

/// A column coverage found and an operator judged: see [`Ignore`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ignored {
    /// What coverage found.
    #[serde(flatten)]
    pub column: Uncovered,
    /// The operator's reason.
    pub reason: String,
}

/// Splits what coverage found into what is still uncovered and what `ignore` accounts for.
pub fn judge(found: Vec<Uncovered>, ignore: &[Ignore]) -> (Vec<Uncovered>, Vec<Ignored>) {
    let mut uncovered = Vec::new();
    let mut ignored = Vec::new();
    for u in found {
        match ignore.iter().find(|i| i.matches(&u.table, &u.column)) {
            Some(i) => ignored.push(Ignored {
                column: u,
                reason: i.reason.clone(),
            }),
            None => uncovered.push(u),
        }
    }
    (uncovered, ignored)
}

/// Whether a column's name suggests a reference to a customer or user.
fn looks_like_subject_key(column: &str) -> bool {
    let c = column.to_ascii_lowercase();
    c == "customer_id" || c == "user_id" || c.ends_with("_customer_id") || c.ends_with("_user_id")
}

/// Every column of the live schema that refers to one of `subject_tables` (by foreign key, or by
/// a `customer_id`-like name) or looks personal, and that no handler in `footprint` covers.
///
/// The subject tables themselves (customers, users) are judged like any other: a chain that
/// deletes them covers all their columns. The library's own tables (`erasure_*`: requests,
/// receipts, outbox, suppression list, deferral ledger) are left out: the library removes what
/// they hold with its own jobs (see `docs/requests.md` and `docs/evidence.md`).
pub fn uncovered(
    footprint: &Footprint,
    columns: &[ColumnInfo],
    foreign_keys: &[ForeignKeyInfo],
    subject_tables: &[&str],
) -> Vec<Uncovered> {
    let mut out = Vec::new();
    for c in columns {
        // sqlx's migration table, and the library's own tables (requests, evidence, the
        // ledger), whose personal data the library itself keeps for as long as their documented
        // purpose needs and removes with its own jobs.
        if c.table.starts_with("_sqlx") || c.table.starts_with("erasure_") {
            continue;
        }
        let fk = foreign_keys
            .iter()
            .find(|f| same(&f.table, &c.table) && same(&f.column, &c.column));
        let concern = match fk {
            Some(f) if subject_tables.iter().any(|t| same(t, &f.references_table)) => {
                Some(Concern::References {
                    table: Some(f.references_table.clone()),
                })
            }
            Some(_) => None,
            None if looks_like_subject_key(&c.column)
                && !subject_tables.iter().any(|t| same(t, &c.table)) =>
            {
                Some(Concern::References { table: None })
            }
            None if looks_personal_column(c) => Some(Concern::Personal),
            None => None,
        };
        let Some(concern) =
            concern.or_else(|| looks_personal_column(c).then_some(Concern::Personal))
        else {
            continue;
        };
        let covered = match (Ident::new(&c.table), Ident::new(&c.column)) {
            (Ok(table), Ok(column)) => footprint.covers(&table, &column),
            _ => false,
        };
        if !covered {
            out.push(Uncovered {
                table: c.table.clone(),
                column: c.column.clone(),
                concern,
            });
        }
    }
    out
}
