//! The configuration file: mappings and settings.
//!
//! ```toml
//! [settings.features]
//! recurring_orders = false
//!
//! [mappings.order]
//! table = "sales_orders"
//! ```
//!
//! Unknown keys are errors, and every table and column name is validated as it is read; the
//! error names the line and the key.

use std::path::Path;

use erasure::jobs::JobsConfig;
use erasure::requests::RequestConfig;
use erasure::retention::RetentionRules;
use erasure::rule::{Rule, RuleSpec};
use erasure::{Backend, ChainBuilder, ChainConfig, PseudonymKey, Settings, StandardMappings};
use serde::Deserialize;

use crate::error::CliError;

/// The environment variable holding the pseudonym key (hex, at least 16 bytes).
pub(crate) const KEY_ENV: &str = "ERASURE_PSEUDONYM_KEY";

/// The configuration file as written: rules keep their place in the file, so that a rule that
/// does not check is reported with its line.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    chain: ChainConfig,
    #[serde(default)]
    mappings: StandardMappings,
    #[serde(default)]
    rules: Vec<toml::Spanned<RuleSpec>>,
    #[serde(default)]
    retention: Option<RetentionRules>,
    #[serde(default)]
    jobs: JobsConfig,
    #[serde(default)]
    requests: RequestConfig,
    #[serde(default)]
    evidence: EvidenceConfig,
}

#[derive(Debug, Default)]
pub(crate) struct Config {
    pub(crate) settings: Settings,
    /// `[chain] disable = [...]`: standard handlers left out.
    pub(crate) chain: ChainConfig,
    pub(crate) mappings: StandardMappings,
    /// `[[rules]]`: declarative handlers for the tables nothing standard covers.
    pub(crate) rules: Vec<Rule>,
    /// `[[retention]]` rules; when any is given, they replace the default (orders 6 years).
    pub(crate) retention: RetentionRules,
    pub(crate) jobs: JobsConfig,
    pub(crate) requests: RequestConfig,
    pub(crate) evidence: EvidenceConfig,
}

/// `[evidence]`: what committed erasures leave behind.
///
/// ```toml
/// [evidence]
/// receipts = true          # a receipt per committed erasure (needs ERASURE_PSEUDONYM_KEY)
/// suppression = true       # keyed hashes of erased emails (needs ERASURE_PSEUDONYM_KEY)
/// events = ["newsletter"]  # an outbox event per destination per committed erasure
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct EvidenceConfig {
    pub(crate) receipts: bool,
    pub(crate) suppression: bool,
    pub(crate) events: Vec<String>,
}

impl Config {
    /// Reads `path`, or the defaults when there is none.
    pub(crate) fn load(path: Option<&Path>) -> Result<Self, CliError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CliError::Config {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let file: File = toml::from_str(&text).map_err(|e| CliError::Config {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let mut rules = Vec::with_capacity(file.rules.len());
        for spec in file.rules {
            let line = text[..spec.span().start].lines().count() + 1;
            let rule = Rule::try_from(spec.into_inner()).map_err(|e| CliError::Config {
                path: shown.clone(),
                message: format!("{e} (the rule at line {line})"),
            })?;
            rules.push(rule);
        }
        // Without `[[retention]]`, the orders the order mapping names are kept six years.
        let retention = file
            .retention
            .unwrap_or_else(|| erasure::jobs::default_retention(&file.mappings));
        Ok(Self {
            settings: file.settings,
            chain: file.chain,
            mappings: file.mappings,
            rules,
            retention,
            jobs: file.jobs,
            requests: file.requests,
            evidence: file.evidence,
        })
    }

    /// The standard chain for these mappings and settings, with the pseudonym key from the
    /// environment if set.
    pub(crate) fn chain<DB: Backend + erasure::Registered>(
        &self,
    ) -> Result<ChainBuilder<DB>, CliError> {
        let mut builder = erasure::configured_chain::<DB>(&self.mappings, &self.chain, &self.rules)
            .settings(self.settings.clone())
            .with_registered();
        let key = key()?;
        let evidence = &self.evidence;
        if (evidence.receipts || evidence.suppression) && key.is_none() {
            return Err(CliError::Config {
                path: KEY_ENV.to_owned(),
                message: "[evidence] receipts and suppression need the pseudonym key: set it \
                          (hex, at least 16 bytes), or their hashes could never be matched again"
                    .to_owned(),
            });
        }
        if let Some(key) = key {
            builder = builder.pseudonym_key(key);
        }
        if evidence.receipts {
            builder = builder.recorder(erasure::evidence::Receipts::new());
        }
        if evidence.suppression {
            builder = builder.recorder(erasure::evidence::Suppression::new());
        }
        if !evidence.events.is_empty() {
            let mut outbox = erasure::evidence::Outbox::new();
            for destination in &evidence.events {
                outbox = outbox
                    .destination(destination.clone())
                    .map_err(|e| CliError::Config {
                        path: "[evidence] events".to_owned(),
                        message: e.to_string(),
                    })?;
            }
            builder = builder.recorder(outbox);
        }
        Ok(builder)
    }

    /// The tables that hold customers and users, for coverage.
    pub(crate) fn subject_tables(&self) -> Vec<String> {
        let c = &self.mappings.customer;
        vec![c.table.name().to_owned(), c.users.table.name().to_owned()]
    }
}

/// The pseudonym key from the environment, if set.
pub(crate) fn key() -> Result<Option<PseudonymKey>, CliError> {
    match std::env::var(KEY_ENV) {
        Ok(hex) => PseudonymKey::from_hex(&hex)
            .map(Some)
            .map_err(|e| CliError::Config {
                path: KEY_ENV.to_owned(),
                message: e.to_string(),
            }),
        Err(_) => Ok(None),
    }
}
