//! Fuzzes identifier validation: whatever the input, `Ident::new` either rejects it or accepts
//! exactly what the documented rules allow, and an accepted identifier renders as its own
//! characters between quotes, in every dialect.
#![no_main]

use erasure_core::{Dialect, Ident};
use libfuzzer_sys::fuzz_target;

fn allowed(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            let mut chars = p.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
                && p.len() <= 63
        })
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match Ident::new(s) {
        Ok(ident) => {
            assert!(allowed(s), "accepted {s:?}");
            for (dialect, quote) in [
                (Dialect::Sqlite, '"'),
                (Dialect::Postgres, '"'),
                (Dialect::MySql, '`'),
            ] {
                let mut out = String::new();
                dialect.quote_ident(&ident, &mut out);
                let inner: String = out.chars().filter(|c| *c != quote).collect();
                assert_eq!(inner, s);
            }
        }
        Err(e) => {
            assert!(!allowed(s), "rejected {s:?}: {e}");
            assert!(e.to_string().len() < 400);
        }
    }
});
