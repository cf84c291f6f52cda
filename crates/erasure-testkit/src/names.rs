//! Deterministic, unique, realistic-looking personal values.
//!
//! Residue checks search the whole database for a customer's values after erasing them, so the
//! values must be unique per customer *and* no value may occur inside another customer's value.
//! Every word is therefore exactly four two-letter syllables long (`Kalomire`), drawn through a
//! bijection from a single index space, and every other value has a fixed-width format. Two
//! fixed-length words from one bijection are never equal, and with separators around every word
//! one cannot appear inside another.

const CONSONANTS: &[u8; 16] = b"bcdfghklmnprstvz";
const VOWELS: &[u8; 5] = b"aeiou";
const SYLLABLES: u64 = 80;
/// Distinct words available: 80^4.
pub(crate) const WORD_SPACE: u64 = SYLLABLES * SYLLABLES * SYLLABLES * SYLLABLES;

/// An affine bijection on `0..modulus` (the multiplier is coprime with every modulus used
/// here), so that neighbouring indexes give unrelated-looking values.
fn scramble(n: u64, modulus: u64) -> u64 {
    ((u128::from(n % modulus) * 7_919 + 104_729) % u128::from(modulus)) as u64
}

/// The capitalized word number `n` (`n < WORD_SPACE`).
pub(crate) fn word(n: u64) -> String {
    let mut v = scramble(n, WORD_SPACE);
    let mut out = String::with_capacity(8);
    for i in 0..4 {
        let s = (v % SYLLABLES) as usize;
        v /= SYLLABLES;
        let c = CONSONANTS[s / 5] as char;
        out.push(if i == 0 { c.to_ascii_uppercase() } else { c });
        out.push(VOWELS[s % 5] as char);
    }
    out
}

/// A mobile number, fixed width: `+49 15 123456789`.
pub(crate) fn phone(n: u64) -> String {
    format!("+49 15 {:09}", scramble(n, 1_000_000_000))
}

/// A UK-style postcode, fixed width: `KX4 7PQ`.
pub(crate) fn postcode(n: u64) -> String {
    const SPACE: u64 = 26 * 26 * 10 * 10 * 26 * 26;
    let mut v = scramble(n, SPACE);
    let mut digit = |base: u64| {
        let d = v % base;
        v /= base;
        d as u8
    };
    let (a, b, c, d, e, f) = (
        digit(26),
        digit(26),
        digit(10),
        digit(10),
        digit(26),
        digit(26),
    );
    format!(
        "{}{}{} {}{}{}",
        (b'A' + a) as char,
        (b'A' + b) as char,
        c,
        d,
        (b'A' + e) as char,
        (b'A' + f) as char
    )
}

/// An IPv6 address from the documentation prefix, fixed width.
pub(crate) fn ip(n: u64) -> String {
    let v = scramble(n, 1 << 32);
    format!("2001:db8:{:04x}:{:04x}::1", v >> 16, v & 0xffff)
}

/// A German-looking IBAN, fixed width.
pub(crate) fn iban(n: u64) -> String {
    format!(
        "DE{:02}{:018}",
        n % 97,
        scramble(n, 1_000_000_000_000_000_000)
    )
}

const DOMAINS: [&str; 4] = ["example.com", "example.org", "example.net", "mail.example"];

/// `first.last@domain`, lowercase.
pub(crate) fn email(first: &str, last: &str, n: u64) -> String {
    format!(
        "{}.{}@{}",
        first.to_ascii_lowercase(),
        last.to_ascii_lowercase(),
        DOMAINS[(n % 4) as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn words_are_unique_and_fixed_length() {
        let words: Vec<String> = (0..200_000).map(word).collect();
        let set: HashSet<&String> = words.iter().collect();
        assert_eq!(set.len(), words.len());
        assert!(words.iter().all(|w| w.len() == 8));
        // the bijection also holds at the end of the space
        assert_ne!(word(WORD_SPACE - 1), word(WORD_SPACE - 2));
    }

    #[test]
    fn formats_are_fixed_width_and_unique() {
        let phones: HashSet<String> = (0..100_000).map(phone).collect();
        assert_eq!(phones.len(), 100_000);
        let codes: HashSet<String> = (0..100_000).map(postcode).collect();
        assert_eq!(codes.len(), 100_000);
        assert!(codes.iter().all(|c| c.len() == 7));
        let ips: HashSet<String> = (0..100_000).map(ip).collect();
        assert_eq!(ips.len(), 100_000);
        let ibans: HashSet<String> = (0..100_000).map(iban).collect();
        assert!(ibans.iter().all(|i| i.len() == 22));
        assert_eq!(ibans.len(), 100_000);
    }
}
