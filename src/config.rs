//! A shop's configuration file, for the library as for the CLI: the chain (handlers left out,
//! rules added), the mappings, retention, jobs, requests, evidence and coverage, optionally on
//! top of a [preset](crate::preset) for a real platform.
//!
//! ```toml
//! preset = "woocommerce"          # optional: a platform's complete configuration, extended below
//!
//! [chain]
//! disable = ["b2b-admin-guard"]  # handlers left out; `enable` takes back a preset's `disable`
//!
//! [mappings]
//! guest_marker = 0
//! [mappings.order]
//! table = "sales_orders"
//!
//! [[rules]]
//! name = "newsletter"
//! position = 85
//! table = "newsletter_subscriber"
//! subject = { customer = "customer_id", email = "subscriber_email" }
//! action = "delete"
//!
//! [coverage]
//! ignore = [{ column = "sales_order_grid.billing_name", reason = "rebuilt from sales_order" }]
//! ```
//!
//! Unknown keys are errors, every table and column name is validated as it is read, and errors
//! name the line (a rule that does not make sense: the rule, the key and the rule's line).
//!
//! # Presets and what a file adds to them
//!
//! With `preset = "…"` the preset is read first and the file extends it: tables merge key by
//! key (the file's value wins), a rule of the file replaces the preset's rule of the same name
//! or is added, `[chain] disable` and `[coverage] ignore` add to the preset's, `[chain] enable`
//! takes names out of the preset's `disable`, and any other list replaces the preset's.

use std::fmt;

use serde::Deserialize;

use crate::coverage::Ignore;
use crate::jobs::JobsConfig;
use crate::retention::RetentionRules;
use crate::rule::{Rule, RuleSpec};
use crate::{
    Backend, ChainBuilder, ChainConfig, PseudonymKey, Registered, Settings, StandardMappings,
};

/// Why a configuration cannot be used: the message names the key and, where there is one in a
/// file, the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// `[evidence]`: what committed erasures leave behind.
///
/// ```toml
/// [evidence]
/// receipts = true          # a receipt per committed erasure (needs the pseudonym key)
/// suppression = true       # keyed hashes of erased emails (needs the pseudonym key)
/// events = ["newsletter"]  # an outbox event per destination per committed erasure
///
/// [evidence.sinks.newsletter]              # with the `server` feature: `erasure serve` delivers
/// webhook = "https://news.example/hooks"   # (see `erasure::server::sinks`)
/// secret_env = "ERASURE_WEBHOOK_SECRET"
/// ```
#[cfg(feature = "evidence")]
#[cfg_attr(docsrs, doc(cfg(feature = "evidence")))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// A receipt per committed erasure.
    pub receipts: bool,
    /// Keyed hashes of erased emails.
    pub suppression: bool,
    /// Outbox destinations.
    pub events: Vec<String>,
    /// Where `erasure serve`'s dispatcher delivers each destination's events.
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    pub sinks: std::collections::BTreeMap<String, crate::server::SinkConfig>,
}

/// `[coverage]`: what coverage checks may leave out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoverageConfig {
    /// Columns an operator has judged, with the reason; listed apart by `coverage`.
    pub ignore: Vec<Ignore>,
}

/// The file as written. Rules keep their place, for their line in errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    preset: Option<String>,
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    chain: ChainSection,
    #[serde(default)]
    mappings: StandardMappings,
    #[serde(default)]
    rules: Vec<toml::Spanned<RuleSpec>>,
    #[serde(default)]
    retention: Option<RetentionRules>,
    #[serde(default)]
    jobs: JobsConfig,
    #[cfg(feature = "requests")]
    #[serde(default)]
    requests: crate::requests::RequestConfig,
    #[cfg(feature = "evidence")]
    #[serde(default)]
    evidence: EvidenceConfig,
    #[serde(default)]
    coverage: CoverageConfig,
    #[cfg(feature = "consents")]
    #[serde(default)]
    consents: Option<crate::consents::ConsentsConfig>,
    #[cfg(feature = "server")]
    #[serde(default)]
    server: crate::server::ServerConfig,
}

/// `[chain]` as written: `enable` only makes sense against a preset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ChainSection {
    disable: Vec<String>,
    enable: Vec<String>,
}

/// A configuration, read and checked: see the module docs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Configuration {
    /// The preset it extends, if any.
    pub preset: Option<String>,
    /// Settings handlers consult.
    pub settings: Settings,
    /// Handlers left out.
    pub chain: ChainConfig,
    /// The standard handlers' mappings.
    pub mappings: StandardMappings,
    /// Declarative handlers.
    pub rules: Vec<Rule>,
    /// Retention rules (without any, the orders the order mapping names are kept six years).
    pub retention: RetentionRules,
    /// The purge jobs.
    pub jobs: JobsConfig,
    /// Personal-data requests.
    #[cfg(feature = "requests")]
    #[cfg_attr(docsrs, doc(cfg(feature = "requests")))]
    pub requests: crate::requests::RequestConfig,
    /// Evidence of committed erasures.
    #[cfg(feature = "evidence")]
    #[cfg_attr(docsrs, doc(cfg(feature = "evidence")))]
    pub evidence: EvidenceConfig,
    /// Coverage checks.
    pub coverage: CoverageConfig,
    /// `[consents]`: the shop records consents with `erasure::consents`, and the chain erases
    /// them (the `consents` handler at position 85); `None` without the section.
    #[cfg(feature = "consents")]
    #[cfg_attr(docsrs, doc(cfg(feature = "consents")))]
    pub consents: Option<crate::consents::ConsentsConfig>,
    /// `[server]`: how `erasure serve` runs (see `erasure::server::ServerConfig`).
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    pub server: crate::server::ServerConfig,
}

impl Configuration {
    /// Reads a configuration file's text; a `preset = "…"` in it is applied (see the module
    /// docs).
    ///
    /// ```
    /// let config = erasure::config::Configuration::from_toml(r#"
    ///     [chain]
    ///     disable = ["cashback"]
    ///     [[rules]]
    ///     name = "newsletter"
    ///     position = 85
    ///     table = "newsletter_subscriber"
    ///     subject = { customer = "customer_id", email = "subscriber_email" }
    ///     action = "delete"
    /// "#)?;
    /// let chain = config.chain::<sqlx::Sqlite>(None)?.build()?;
    /// assert!(chain.positions().contains(&85) && !chain.positions().contains(&25));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The text does not parse, a key is unknown or invalid, a rule does not make sense, the
    /// preset is unknown.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_toml_with_preset(text, None)
    }

    /// [`from_toml`](Self::from_toml), with `preset` (the CLI's `--preset`) taking the place of
    /// the file's own `preset = "…"` when given.
    ///
    /// # Errors
    ///
    /// As for [`from_toml`](Self::from_toml).
    pub fn from_toml_with_preset(text: &str, preset: Option<&str>) -> Result<Self, ConfigError> {
        let (file, written, preset) = read_with_preset(text, preset)?;
        #[cfg(feature = "requests")]
        let requests = requests_of(file.requests, &file.mappings, &written);
        #[cfg(not(feature = "requests"))]
        let _ = written;
        let mut chain = ChainConfig {
            disable: file.chain.disable.clone(),
        };
        chain
            .disable
            .retain(|name| !file.chain.enable.contains(name));
        chain.disable.dedup();
        let rules = file
            .rules
            .into_iter()
            .map(|spec| {
                Rule::try_from(spec.into_inner()).map_err(|e| ConfigError::new(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The default retention is the order table's: without the order handler, there is none.
        let retention = file.retention.unwrap_or_else(|| {
            if chain
                .disable
                .iter()
                .any(|name| name == "order-anonymization")
            {
                RetentionRules(Vec::new())
            } else {
                crate::jobs::default_retention(&file.mappings)
            }
        });
        Ok(Self {
            preset,
            settings: file.settings,
            chain,
            mappings: file.mappings,
            rules,
            retention,
            jobs: file.jobs,
            #[cfg(feature = "requests")]
            requests,
            #[cfg(feature = "evidence")]
            evidence: file.evidence,
            coverage: file.coverage,
            #[cfg(feature = "consents")]
            consents: file.consents,
            #[cfg(feature = "server")]
            server: file.server,
        })
    }

    /// The chain this configuration describes: the standard chain for its mappings, without
    /// the disabled handlers, with its rules, its settings, statically registered handlers,
    /// `key` for pseudonyms, and the evidence recorders it asks for.
    ///
    /// # Errors
    ///
    /// Receipts or suppression are asked for without a `key` (their hashes could never be
    /// matched again), or an outbox destination is invalid.
    pub fn chain<DB: Backend + Registered>(
        &self,
        key: Option<PseudonymKey>,
    ) -> Result<ChainBuilder<DB>, ConfigError> {
        let mut builder = crate::configured_chain::<DB>(&self.mappings, &self.chain, &self.rules)
            .settings(self.settings.clone())
            .with_registered();
        #[cfg(feature = "consents")]
        if let Some(consents) = &self.consents {
            builder = builder.register(
                crate::consents::POSITION,
                crate::consents::ConsentsHandler::new(consents.clone()),
            );
        }
        #[cfg(feature = "evidence")]
        {
            let evidence = &self.evidence;
            if (evidence.receipts || evidence.suppression) && key.is_none() {
                return Err(ConfigError::new(
                    "[evidence] receipts and suppression need the pseudonym key: set it (hex, at \
                     least 16 bytes), or their hashes could never be matched again",
                ));
            }
            if evidence.receipts {
                builder = builder.recorder(crate::evidence::Receipts::new());
            }
            if evidence.suppression {
                builder = builder.recorder(crate::evidence::Suppression::new());
            }
            if !evidence.events.is_empty() {
                let mut outbox = crate::evidence::Outbox::new();
                for destination in &evidence.events {
                    outbox = outbox
                        .destination(destination.clone())
                        .map_err(|e| ConfigError::new(format!("[evidence] events: {e}")))?;
                }
                builder = builder.recorder(outbox);
            }
        }
        if let Some(key) = key {
            builder = builder.pseudonym_key(key);
        }
        Ok(builder)
    }

    /// The jobs this configuration runs, in order: the [standard jobs](crate::jobs::standard_jobs)
    /// of `chain`, then the purge job of each rule in `chain` that defers
    /// ([`Rule::purge`](crate::rule::Rule::purge), named `rule-purge:` and the rule's name).
    pub fn jobs<DB: Backend>(&self, chain: &crate::Chain<DB>) -> Vec<Box<dyn crate::job::Job<DB>>> {
        let mut jobs =
            crate::jobs::standard_jobs(&self.mappings, &self.retention, &self.jobs, chain);
        for rule in &self.rules {
            let in_chain = chain.handlers().any(|(_, h)| h.name() == rule.name());
            if let Some(purge) = rule.purge().filter(|_| in_chain) {
                jobs.push(Box::new(purge));
            }
        }
        jobs
    }

    /// The tables that hold customers and users, for coverage.
    pub fn subject_tables(&self) -> Vec<String> {
        let c = &self.mappings.customer;
        vec![c.table.name().to_owned(), c.users.table.name().to_owned()]
    }
}

/// The file `text` read alone (its own errors with its own lines, its rules checked with
/// theirs), then merged over `preset` (or the file's own `preset = "…"`): the merged file, the
/// merged table (to tell what was written from what defaulted) and the preset's name.
fn read_with_preset(
    text: &str,
    preset: Option<&str>,
) -> Result<(File, toml::Table, Option<String>), ConfigError> {
    let own: File = toml::from_str(text).map_err(|e| ConfigError::new(e.to_string()))?;
    for spec in &own.rules {
        let line = text[..spec.span().start].lines().count() + 1;
        Rule::try_from(spec.get_ref().clone())
            .map_err(|e| ConfigError::new(format!("{e} (the rule at line {line})")))?;
    }
    let preset = preset.map(str::to_owned).or(own.preset.clone());
    let Some(name) = &preset else {
        let written =
            toml::from_str::<toml::Table>(text).map_err(|e| ConfigError::new(e.to_string()))?;
        return Ok((own, written, None));
    };
    let base = crate::preset::text(name).ok_or_else(|| {
        ConfigError::new(format!(
            "no preset named `{name}`; the presets are: {}",
            crate::preset::NAMES.join(", ")
        ))
    })?;
    let mut merged: toml::Table = toml::from_str(base)
        .map_err(|e| ConfigError::new(format!("preset `{name}` does not read: {e}")))?;
    let over: toml::Table = toml::from_str(text).map_err(|e| ConfigError::new(e.to_string()))?;
    merge(&mut merged, over);
    merged.remove("preset");
    // Read back from text: the rules' spans (`toml::Spanned`) only deserialize from a document,
    // not from a `toml::Table`.
    let merged_text = toml::to_string(&merged)
        .map_err(|e| ConfigError::new(format!("preset `{name}` with this file: {e}")))?;
    let file = toml::from_str::<File>(&merged_text)
        .map_err(|e| ConfigError::new(format!("preset `{name}` with this file: {e}")))?;
    Ok((file, merged, preset))
}

/// The requests' settings: the accounts an erasure request switches off follow the customer
/// mapping, unless the file (or its preset) wrote them.
#[cfg(feature = "requests")]
fn requests_of(
    mut requests: crate::requests::RequestConfig,
    mappings: &StandardMappings,
    written: &toml::Table,
) -> crate::requests::RequestConfig {
    let written = |key: &str| {
        written
            .get("requests")
            .and_then(toml::Value::as_table)
            .is_some_and(|t| t.contains_key(key))
    };
    let (customer, users) = deactivate(mappings);
    if !written("deactivate_customer") {
        requests.deactivate_customer = Some(customer);
    }
    if !written("deactivate_users") {
        requests.deactivate_users = Some(users);
    }
    requests
}

/// The account flags an erasure request switches off, derived from the customer mapping (its
/// table, key, users' customer column and key type), with the flag `active`; the time is
/// recorded in `deactivated_at` only on the reference schema's `customers` table, the one
/// schema known to have that column.
#[cfg(feature = "requests")]
fn deactivate(
    mappings: &StandardMappings,
) -> (crate::requests::Deactivate, crate::requests::Deactivate) {
    let c = &mappings.customer;
    let keys = c.keys.or(mappings.keys);
    let reference = crate::requests::RequestConfig::default();
    let reference_at = |d: Option<crate::requests::Deactivate>, table: &crate::Ident| {
        d.filter(|d| d.table == *table).and_then(|d| d.at)
    };
    let customer = crate::requests::Deactivate {
        table: c.table.clone(),
        id: c.id.clone(),
        active: crate::ident!("active"),
        at: reference_at(reference.deactivate_customer, &c.table),
        customer: None,
        keys,
    };
    let users = crate::requests::Deactivate {
        table: c.users.table.clone(),
        id: c.users.id.clone(),
        active: crate::ident!("active"),
        at: reference_at(reference.deactivate_users, &c.users.table),
        customer: Some(c.users.customer.clone()),
        keys,
    };
    (customer, users)
}

/// Merges `over` into `base` (see the module docs).
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                if key == "chain" || key == "coverage" {
                    merge_lists(b, o);
                } else {
                    merge(b, o);
                }
            }
            (Some(toml::Value::Array(b)), toml::Value::Array(o)) if key == "rules" => {
                for rule in o {
                    let name = rule.get("name").cloned();
                    match b.iter_mut().find(|r| r.get("name") == name.as_ref()) {
                        Some(slot) => *slot = rule,
                        None => b.push(rule),
                    }
                }
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// In `[chain]` and `[coverage]`, lists add to the preset's.
fn merge_lists(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Array(b)), toml::Value::Array(o)) => b.extend(o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_extends_a_table_key_by_key_and_rules_by_name() {
        let mut base: toml::Table = toml::from_str(
            "[chain]\ndisable = [\"a\"]\n[mappings.order]\ntable = \"o\"\nid = \"oid\"\n\
             [[rules]]\nname = \"r1\"\nposition = 1\n[[rules]]\nname = \"r2\"\nposition = 2\n",
        )
        .expect("base");
        let over: toml::Table = toml::from_str(
            "[chain]\ndisable = [\"b\"]\n[mappings.order]\ntable = \"sales\"\n\
             [[rules]]\nname = \"r2\"\nposition = 20\n[[rules]]\nname = \"r3\"\nposition = 3\n",
        )
        .expect("over");
        merge(&mut base, over);
        assert_eq!(base["chain"]["disable"].as_array().map(Vec::len), Some(2));
        assert_eq!(base["mappings"]["order"]["table"].as_str(), Some("sales"));
        assert_eq!(base["mappings"]["order"]["id"].as_str(), Some("oid"));
        let rules = base["rules"].as_array().expect("rules");
        let positions: Vec<i64> = rules
            .iter()
            .filter_map(|r| r["position"].as_integer())
            .collect();
        assert_eq!(positions, [1, 20, 3]);
    }

    #[test]
    fn errors_name_the_line_and_the_rule() {
        let e = Configuration::from_toml(
            "[chain]\ndisable = []\n\n[[rules]]\nname = \"meta\"\nposition = 28\ntable = \"m\"\n\
             subject = { customer = \"c\" }\naction = \"defer\"\n",
        )
        .expect_err("invalid");
        assert_eq!(
            e.to_string(),
            "rule `meta`: `mark` is missing: a deferred row needs a mark the purge job finds it \
             by, or a `key` to record it in the deferral ledger (the rule at line 4)"
        );
        let e = Configuration::from_toml("[mappings.order]\ntable = \"o;x\"\n").expect_err("x");
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = Configuration::from_toml("preset = \"oscommerce\"\n").expect_err("unknown");
        assert!(
            e.to_string().contains("no preset named `oscommerce`"),
            "{e}"
        );
    }
}
