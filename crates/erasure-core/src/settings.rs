//! Settings handlers consult at run time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Settings a handler may consult through [`ErasureContext::settings`](crate::ErasureContext::settings).
///
/// Features are on unless switched off: a shop without recurring orders sets
/// `recurring_orders = false`, and the recurring-orders handler becomes a no-op with a note.
///
/// ```
/// use erasure_core::Settings;
///
/// let settings: Settings = toml::from_str("[features]\nrecurring_orders = false\n")?;
/// assert!(!settings.is_enabled("recurring_orders"));
/// assert!(settings.is_enabled("anything_else"));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Feature switches by name; a missing feature is enabled.
    #[serde(default)]
    pub features: BTreeMap<String, bool>,
}

impl Settings {
    /// Whether `feature` is enabled (it is unless set to `false`).
    pub fn is_enabled(&self, feature: &str) -> bool {
        self.features.get(feature).copied().unwrap_or(true)
    }

    /// With `feature` switched on or off.
    pub fn with_feature(mut self, feature: impl Into<String>, enabled: bool) -> Self {
        self.features.insert(feature.into(), enabled);
        self
    }
}
