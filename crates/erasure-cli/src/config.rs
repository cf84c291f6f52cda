//! The configuration the CLI runs with: the library's ([`erasure::config`]), from `--config`
//! (or `ERASURE_CONFIG`) and `--preset` (or `ERASURE_PRESET`), and the pseudonym key from
//! `ERASURE_PSEUDONYM_KEY`.

use erasure::config::Configuration;
use erasure::{Backend, ChainBuilder, PseudonymKey};

use crate::cli::ConfigArgs;
use crate::error::CliError;

/// The environment variable holding the pseudonym key (hex, at least 16 bytes).
pub(crate) const KEY_ENV: &str = "ERASURE_PSEUDONYM_KEY";

/// The configuration the command runs with: the library's [`Configuration`], read from the
/// file and preset the arguments name.
#[derive(Debug, Default)]
pub(crate) struct Config(Configuration);

impl std::ops::Deref for Config {
    type Target = Configuration;

    fn deref(&self) -> &Configuration {
        &self.0
    }
}

impl Config {
    /// Reads the file and preset `args` name, or the defaults when there is neither.
    pub(crate) fn load(args: Option<&ConfigArgs>) -> Result<Self, CliError> {
        let path = args.and_then(|a| a.config.as_deref());
        let preset = args.and_then(|a| a.preset.as_deref());
        let (shown, text) = match path {
            Some(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| CliError::Config {
                    path: shown.clone(),
                    message: e.to_string(),
                })?;
                (shown, text)
            }
            None if preset.is_some() => ("--preset".to_owned(), String::new()),
            None => return Ok(Self::default()),
        };
        Configuration::from_toml_with_preset(&text, preset)
            .map(Self)
            .map_err(|e| CliError::Config {
                path: shown,
                message: e.to_string(),
            })
    }

    /// The chain the configuration describes, with the pseudonym key from the environment if
    /// set.
    pub(crate) fn chain<DB: Backend + erasure::Registered>(
        &self,
    ) -> Result<ChainBuilder<DB>, CliError> {
        let key = key()?;
        let evidence = &self.0.evidence;
        if (evidence.receipts || evidence.suppression) && key.is_none() {
            return Err(CliError::Config {
                path: KEY_ENV.to_owned(),
                message: "[evidence] receipts and suppression need the pseudonym key: set it \
                          (hex, at least 16 bytes), or their hashes could never be matched again"
                    .to_owned(),
            });
        }
        self.0.chain::<DB>(key).map_err(|e| CliError::Config {
            path: "the configuration".to_owned(),
            message: e.to_string(),
        })
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
