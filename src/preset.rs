//! Presets: complete configurations for real platforms' documented schemas, compiled into the
//! library. A configuration file names one with `preset = "…"` (the CLI also takes
//! `--preset`) and extends or overrides it (see [`crate::config`]).
//!
//! Each preset's page in `docs/presets/` says what it erases, anonymizes and keeps, and which
//! test proves it on a fixture schema written from the platform's documentation.

/// The presets, by name, with their TOML.
const PRESETS: &[(&str, &str)] = &[];

/// The names of the presets.
pub const NAMES: &[&str] = &[];

/// The TOML of the preset named `name`, if there is one.
pub fn text(name: &str) -> Option<&'static str> {
    PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}
