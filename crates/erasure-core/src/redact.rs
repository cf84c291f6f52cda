//! Masking personal values in messages that come from elsewhere: database errors, integrators'
//! handler errors, downstream systems' delivery errors.
//!
//! The library's own messages carry no personal data by construction. Messages written by
//! others may: a database echoes the value that broke a constraint, an integrator's error says
//! which email address a CRM did not know, a webhook receiver answers with the request it
//! refused. Before such a message is logged, stored (a request's failure reason, an outbox
//! event's last error) or shown, [`mask`] replaces what looks like a value with `…`:
//!
//! * the content of quoted text: `'…'`, `"…"` and `` `…` `` (databases quote values so; this also
//!   masks quoted identifiers, which databases report separately, see
//!   [`DatabaseError`](crate::DatabaseError));
//! * words holding an `@` (email addresses, `user@host` logins);
//! * IP addresses, v4 and v6;
//! * numbers of five digits or more, with the separators phone numbers and card numbers are
//!   written with (`+49 151 2345678`, `4111-1111-1111-1111`, `(030) 1234567`);
//! * IBANs and other words of eight characters or more mixing letters and digits (account
//!   numbers, tokens, postcodes written with letters).
//!
//! Masking is a safety net, not a licence: a name in plain words (`Ada Lovelace`) cannot be told
//! from other words. Messages of handlers and sinks must still not carry personal data.
//!
//! ```
//! use erasure_core::redact::mask;
//!
//! assert_eq!(
//!     mask("CRM has no contact ada@example.test (phone +49 151 2345678), name 'Ada'"),
//!     "CRM has no contact … (phone …), name '…'"
//! );
//! assert_eq!(mask("service answered 503 after 3 attempts"), "service answered 503 after 3 attempts");
//! ```
//!
//! [`url`] hides the password of a database URL before the URL appears in a message.

/// `text` with everything that looks like a personal value replaced by `…` (see the module
/// docs).
pub fn mask(text: &str) -> String {
    let unquoted = mask_quoted(text);
    let mut out = String::with_capacity(unquoted.len());
    let mut rest = unquoted.as_str();
    while !rest.is_empty() {
        // Words are separated by whitespace and by the punctuation messages put around values.
        let start = rest.find(|c: char| !is_separator(c)).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if rest.is_empty() {
            break;
        }
        let end = rest.find(is_separator).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        if looks_personal(word) {
            out.push('…');
        } else {
            out.push_str(word);
        }
    }
    mask_numbers(&out)
}

/// A database URL with its password, if any, replaced by `***`, for messages: the host, port,
/// user and database name stay, so that the message still says which server.
///
/// ```
/// use erasure_core::redact::url;
///
/// assert_eq!(url("postgres://shop:s3cret@db:5432/shop"), "postgres://shop:***@db:5432/shop");
/// assert_eq!(url("sqlite://shop.db"), "sqlite://shop.db");
/// ```
pub fn url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | '='
        )
}

/// Replaces the content of quoted text with `…`. An unclosed quote masks to the end.
fn mask_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<char> = None;
    for c in text.chars() {
        match open {
            None if matches!(c, '\'' | '"' | '`') => {
                out.push(c);
                open = Some(c);
            }
            None => out.push(c),
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
        }
    }
    if open.is_some() {
        out.push('…');
    }
    out
}

fn looks_personal(word: &str) -> bool {
    let word = word.trim_matches(|c: char| matches!(c, '.' | ':' | '!' | '?'));
    if word.is_empty() || word == "…" {
        return false;
    }
    if word.contains('@') {
        return true;
    }
    if is_ipv4(word) || is_ipv6(word) {
        return true;
    }
    let letters = word.chars().filter(char::is_ascii_alphabetic).count();
    let digits = word.chars().filter(char::is_ascii_digit).count();
    // IBANs, account numbers, tokens: long words mixing letters and digits.
    word.len() >= 8
        && letters > 0
        && digits >= 2
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_ipv4(word: &str) -> bool {
    let word = word.split('/').next().unwrap_or(word);
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit()))
}

fn is_ipv6(word: &str) -> bool {
    let word = word.split('/').next().unwrap_or(word);
    word.matches(':').count() >= 2
        && word
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        && word.chars().any(|c| c.is_ascii_hexdigit())
}

/// Replaces runs of five digits or more (with `+`, spaces, `-`, `.`, `/` and parentheses
/// between them, as phone and card numbers are written) with `…`.
fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit() || (chars[i] == '+' && next_is_digit(&chars, i));
        if !starts {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // Extend over digits and separators; the run ends at its last digit.
        let mut j = i;
        let mut last_digit = i;
        let mut digits = 0;
        while j < chars.len() {
            let c = chars[j];
            if c.is_ascii_digit() {
                digits += 1;
                last_digit = j;
            } else if !(matches!(c, ' ' | '-' | '.' | '/' | '(' | ')') || (c == '+' && j == i)) {
                break;
            }
            j += 1;
        }
        if digits >= 5 {
            out.push('…');
            i = last_digit + 1;
        } else {
            out.extend(&chars[i..=last_digit.max(i)]);
            i = last_digit.max(i) + 1;
        }
    }
    out
}

fn next_is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i + 1).is_some_and(char::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(url("mysql://root@h/test"), "mysql://root@h/test");
        assert_eq!(url("sqlite::memory:"), "sqlite::memory:");
    }

    #[test]
    fn masks_values_and_keeps_the_message() {
        for (input, expected) in [
            (
                "Duplicate entry 'ada@example.test' for key 'users.email'",
                "Duplicate entry '…' for key '…'",
            ),
            (
                "invalid input syntax for type bigint: \"ada\"",
                "invalid input syntax for type bigint: \"…\"",
            ),
            ("no contact ada@example.test.", "no contact …"),
            ("call +49 151 2345678 now", "call … now"),
            ("card 4111-1111-1111-1111 refused", "card … refused"),
            ("(030) 1234567", "(…"),
            ("from 203.0.113.54 and 2001:db8::1", "from … and …"),
            ("iban DE89370400440532013000 unknown", "iban … unknown"),
            (
                "HTTP 503 after 3 tries, 1205 ms",
                "HTTP 503 after 3 tries, 1205 ms",
            ),
            ("dangling 'secret", "dangling '…"),
            ("deadlock (code 1213)", "deadlock (code 1213)"),
            ("table orders, column email", "table orders, column email"),
            ("", ""),
        ] {
            assert_eq!(mask(input), expected, "{input}");
        }
    }

    #[test]
    fn never_panics_on_odd_text() {
        for input in [
            "+",
            "++1",
            "'",
            "\"\"",
            "…",
            "1 2 3 4 5",
            "@",
            "::",
            "ü€ 12345 ß",
        ] {
            let _ = mask(input);
        }
        assert_eq!(mask("ü€ 12345 ß"), "ü€ … ß");
    }
}
