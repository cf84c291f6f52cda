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
use erasure::{Backend, ChainBuilder, PseudonymKey, Settings, StandardMappings};
use serde::Deserialize;

use crate::error::CliError;

/// The environment variable holding the pseudonym key (hex, at least 16 bytes).
pub(crate) const KEY_ENV: &str = "ERASURE_PSEUDONYM_KEY";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    #[serde(default)]
    pub(crate) settings: Settings,
    #[serde(default)]
    pub(crate) mappings: StandardMappings,
    /// `[[retention]]` rules; when any is given, they replace the default (orders 6 years).
    #[serde(default)]
    pub(crate) retention: RetentionRules,
    #[serde(default)]
    pub(crate) jobs: JobsConfig,
    #[serde(default)]
    pub(crate) requests: RequestConfig,
    #[serde(default)]
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
        toml::from_str(&text).map_err(|e| CliError::Config {
            path: shown,
            message: e.to_string(),
        })
    }

    /// The standard chain for these mappings and settings, with the pseudonym key from the
    /// environment if set.
    pub(crate) fn chain<DB: Backend + erasure::Registered>(
        &self,
    ) -> Result<ChainBuilder<DB>, CliError> {
        let mut builder = erasure::standard_chain_with::<DB>(&self.mappings)
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
