//! Presets: complete configurations for real platforms' documented schemas, compiled into the
//! library. A configuration file names one with `preset = "…"` (the CLI also takes
//! `--preset`) and extends or overrides it (see [`crate::config`]).
//!
//! Each preset's page in `docs/presets/` says what it erases, anonymizes and keeps, and which
//! test proves it on a fixture schema written from the platform's documentation.

/// The presets, by name, with their TOML (`src/presets/<name>.toml`, shipped in the crate).
const PRESETS: &[(&str, &str)] = &[
    ("magento2", include_str!("presets/magento2.toml")),
    ("shopware6", include_str!("presets/shopware6.toml")),
    ("woocommerce", include_str!("presets/woocommerce.toml")),
];

/// The names of the presets.
pub const NAMES: &[&str] = &["magento2", "shopware6", "woocommerce"];

/// The TOML of the preset named `name`, if there is one.
pub fn text(name: &str) -> Option<&'static str> {
    PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_presets_agree() {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, NAMES);
    }

    fn builds<DB: crate::Backend + crate::Registered>(
        name: &str,
        config: &crate::config::Configuration,
    ) {
        let builder = config
            .chain::<DB>(None)
            .unwrap_or_else(|e| panic!("preset {name}: {e}"));
        if let Err(e) = builder.build() {
            panic!("preset {name} does not build a chain: {e}");
        }
    }

    #[test]
    fn every_preset_reads_and_builds_a_chain_on_every_backend() {
        for name in NAMES {
            let config = crate::config::Configuration::from_toml(&format!("preset = \"{name}\""))
                .unwrap_or_else(|e| panic!("preset {name}: {e}"));
            builds::<sqlx::Sqlite>(name, &config);
            #[cfg(feature = "postgres")]
            builds::<sqlx::Postgres>(name, &config);
            #[cfg(feature = "mysql")]
            builds::<sqlx::MySql>(name, &config);
        }
    }
}
