//! Who may call what: bearer tokens (kept only as SHA-256, compared in constant time) and the
//! signed links the server hands out (status and download links, keyed by the chain's key).

use std::fmt;
use std::str::FromStr;

use axum::http::HeaderMap;
use erasure_core::{PseudonymKey, Pseudonymizer};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The SHA-256 of a bearer token, written `sha256:<64 hex digits>`. Tokens are long random
/// strings, so an unkeyed hash is enough: nothing can be guessed from it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `token` hashes to this, compared in constant time.
    pub fn matches(&self, token: &str) -> bool {
        bool::from(Self::of(token).0.ct_eq(&self.0))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

/// The text is not `sha256:` and 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a token hash is written `sha256:` and 64 hex digits (`erasure serve --hash-token` prints it)"
)]
pub struct BadTokenHash;

impl FromStr for TokenHash {
    type Err = BadTokenHash;

    fn from_str(s: &str) -> Result<Self, BadTokenHash> {
        let hex_digits = s.trim().strip_prefix("sha256:").ok_or(BadTokenHash)?;
        let bytes = hex::decode(hex_digits).map_err(|_| BadTokenHash)?;
        bytes.try_into().map(Self).map_err(|_| BadTokenHash)
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The bearer token of a request's `Authorization` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Whether `token` is one of `hashes`. Every hash is compared, whatever matches, so the time
/// taken says nothing about which.
pub(crate) fn any_matches<'a>(
    hashes: impl IntoIterator<Item = &'a TokenHash>,
    token: &str,
) -> Option<usize> {
    let candidate = TokenHash::of(token);
    let mut found = None;
    for (i, hash) in hashes.into_iter().enumerate() {
        if bool::from(candidate.0.ct_eq(&hash.0)) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// What a signed link allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// Reading a request's state.
    Status,
    /// Downloading an export's document.
    Download,
}

impl Link {
    fn domain(self) -> &'static str {
        match self {
            Link::Status => "server:status",
            Link::Download => "server:download",
        }
    }
}

/// Signs and checks the tokens of status and download links: HMAC-SHA-256 of the request id
/// under the chain's key, in a domain per use. Nothing is stored; a link stays valid as long as
/// the key (the request's own state and the download limits decide the rest).
#[derive(Debug, Clone)]
pub(crate) struct LinkSigner {
    pseudonymizer: Pseudonymizer,
}

impl LinkSigner {
    pub(crate) fn new(key: PseudonymKey) -> Self {
        Self {
            pseudonymizer: Pseudonymizer::new(key),
        }
    }

    pub(crate) fn sign(&self, link: Link, id: &str) -> String {
        self.pseudonymizer.pseudonym(link.domain(), id.as_bytes())
    }

    /// Whether `token` is the signature of `id` for `link`, compared in constant time.
    pub(crate) fn verify(&self, link: Link, id: &str, token: &str) -> bool {
        let expected = self.sign(link, id);
        expected.len() == token.len() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_read_back_and_match_only_their_token() {
        let hash = TokenHash::of("s3cret-token");
        let text = hash.to_string();
        assert!(text.starts_with("sha256:"));
        assert_eq!(text.parse::<TokenHash>(), Ok(hash));
        assert!(hash.matches("s3cret-token"));
        assert!(!hash.matches("s3cret-token "));
        assert_eq!("sha256:abc".parse::<TokenHash>(), Err(BadTokenHash));
        assert_eq!("9f86d0".parse::<TokenHash>(), Err(BadTokenHash));
        assert!(!format!("{hash:?}").contains(&text[7..]));
        // The well-known SHA-256 of "test".
        assert_eq!(
            TokenHash::of("test").to_string(),
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }

    #[test]
    fn links_are_bound_to_their_id_and_use() {
        let key = PseudonymKey::from_hex("00112233445566778899aabbccddeeff").expect("key");
        let signer = LinkSigner::new(key);
        let token = signer.sign(Link::Status, "req-1");
        assert!(signer.verify(Link::Status, "req-1", &token));
        assert!(!signer.verify(Link::Status, "req-2", &token));
        assert!(!signer.verify(Link::Download, "req-1", &token));
        assert!(!signer.verify(Link::Status, "req-1", &token[..31]));
    }

    #[test]
    fn bearer_tokens_are_found_among_many() {
        let hashes = [TokenHash::of("a"), TokenHash::of("b")];
        assert_eq!(any_matches(&hashes, "b"), Some(1));
        assert_eq!(any_matches(&hashes, "c"), None);
    }
}
