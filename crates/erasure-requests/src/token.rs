//! Confirmation tokens: random, handed to the requester once, stored only as a hash.

use std::fmt;

use sha2::{Digest, Sha256};

/// A confirmation token. It exists in clear only in the value returned when a request is
/// submitted (and handed to the [`Notifier`](crate::Notifier) to send); the database keeps its
/// SHA-256. `Debug` and `Display` never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A fresh random token: 32 bytes from the operating system, as 64 hex digits.
    pub(crate) fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(hex::encode(bytes)))
    }

    /// A token as the requester sent it back.
    pub fn from_string(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself, to put into the confirmation link.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash stored in the database. The token is 256 random bits, so an unkeyed hash is
    /// enough: nothing can be guessed from it.
    pub(crate) fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// Whether this token hashes to `stored`, compared in constant time.
    pub(crate) fn matches(&self, stored: &str) -> bool {
        let ours = self.hash();
        ours.len() == stored.len()
            && ours
                .bytes()
                .zip(stored.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hashed_and_never_printed() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert!(a.matches(&a.hash()));
        assert!(!b.matches(&a.hash()));
        assert!(!format!("{a:?}").contains(a.expose()));
        assert_ne!(a.hash(), a.expose());
    }

    /// Token hashes are stored: a change of the SHA-256 implementation must not change them.
    /// The expected value is SHA-256 computed independently (Python's `hashlib`).
    #[test]
    fn token_hashes_are_pinned_to_known_sha256_outputs() {
        let token = Token::from_string("00".repeat(32));
        assert_eq!(
            token.hash(),
            "60e05bd1b195af2f94112fa7197a5c88289058840ce7c6df9693756bc6250f55"
        );
    }
}
