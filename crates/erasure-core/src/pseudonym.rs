//! Keyed pseudonyms.
//!
//! A report, a trace or a receipt must be able to say *which* subject without saying *who*. A
//! keyed pseudonym (HMAC-SHA-256 with a secret key) does that: whoever holds the key and the
//! subject's id can recompute it; nobody else can reverse it or even test a guess. This is
//! pseudonymization in the GDPR's sense, not anonymization: with the key, it links back.

use std::fmt;

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// The secret key of a [`Pseudonymizer`]. `Debug` never prints it.
#[derive(Clone)]
pub struct PseudonymKey(Box<[u8]>);

/// Why a key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Fewer than 16 bytes.
    #[error("a pseudonym key needs at least 16 bytes, got {0}")]
    TooShort(usize),
    /// Not hexadecimal.
    #[error("a pseudonym key in hex must contain only hex digits")]
    NotHex,
    /// The operating system's random source failed.
    #[error("no randomness available for a pseudonym key")]
    NoRandomness,
}

impl PseudonymKey {
    /// A key of at least 16 bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::TooShort`].
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, KeyError> {
        let bytes = bytes.into();
        if bytes.len() < 16 {
            return Err(KeyError::TooShort(bytes.len()));
        }
        Ok(Self(bytes.into_boxed_slice()))
    }

    /// A key from hex (as kept in configuration or an environment variable).
    ///
    /// # Errors
    ///
    /// [`KeyError::NotHex`] or [`KeyError::TooShort`].
    pub fn from_hex(hex: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(hex.trim()).map_err(|_| KeyError::NotHex)?;
        Self::from_bytes(bytes)
    }

    /// A fresh random 32-byte key. Pseudonyms made with it can only be compared within the
    /// process that holds it.
    ///
    /// # Errors
    ///
    /// [`KeyError::NoRandomness`] if the operating system offers no randomness.
    pub fn random() -> Result<Self, KeyError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| KeyError::NoRandomness)?;
        Self::from_bytes(bytes.to_vec())
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(<secret>)")
    }
}

/// Computes keyed pseudonyms.
///
/// ```
/// use erasure_core::{PseudonymKey, Pseudonymizer};
///
/// let p = Pseudonymizer::new(PseudonymKey::from_hex("000102030405060708090a0b0c0d0e0f")?);
/// let a = p.pseudonym("subject", b"customer/i:42");
/// assert_eq!(a, p.pseudonym("subject", b"customer/i:42"));
/// assert_ne!(a, p.pseudonym("email", b"customer/i:42"));
/// assert_eq!(a.len(), 32);
/// # Ok::<(), erasure_core::pseudonym::KeyError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Pseudonymizer {
    key: PseudonymKey,
    configured: bool,
}

impl Pseudonymizer {
    /// A pseudonymizer with `key`.
    pub fn new(key: PseudonymKey) -> Self {
        Self {
            key,
            configured: true,
        }
    }

    /// A pseudonymizer with a key drawn at random for this process.
    pub(crate) fn random_for_process(key: PseudonymKey) -> Self {
        Self {
            key,
            configured: false,
        }
    }

    /// Whether the key was given (`true`) or drawn at random for this process (`false`, the
    /// chain's default): only a given key makes pseudonyms comparable across processes.
    pub fn is_configured(&self) -> bool {
        self.configured
    }

    /// The pseudonym of a subject, as reports and traces show it.
    pub fn subject(&self, subject: &crate::Subject) -> String {
        self.pseudonym("subject", subject.canonical().as_bytes())
    }

    /// The pseudonym of `data` in `domain`, as 32 lowercase hex digits (128 bits of the
    /// HMAC-SHA-256). The domain separates uses: the same input gives unrelated pseudonyms in
    /// different domains.
    pub fn pseudonym(&self, domain: &str, data: &[u8]) -> String {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for HMAC.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key.0) else {
            unreachable!("HMAC takes keys of every length")
        };
        mac.update(&(domain.len() as u64).to_be_bytes());
        mac.update(domain.as_bytes());
        mac.update(data);
        let digest = mac.finalize().into_bytes();
        hex::encode(&digest[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pseudonyms are stored (receipts, requests, suppression hashes): a change of the HMAC or
    /// SHA-256 implementation, or of how the input is framed, must not change them. The
    /// expected value is HMAC-SHA-256 computed independently (Python's `hmac`), truncated to
    /// 16 bytes.
    #[test]
    fn pseudonyms_are_pinned_to_known_hmac_sha256_outputs() {
        let key = PseudonymKey::from_hex("000102030405060708090a0b0c0d0e0f").unwrap();
        let p = Pseudonymizer::new(key);
        let expected = "3654b000294a77682cf08041c17101bf";
        assert_eq!(p.pseudonym("subject", b"customer/i:42"), expected);
        assert_eq!(p.subject(&crate::Subject::customer(42)), expected);
    }

    #[test]
    fn random_keys_differ() {
        let a = Pseudonymizer::new(PseudonymKey::random().unwrap());
        let b = Pseudonymizer::new(PseudonymKey::random().unwrap());
        assert_ne!(a.pseudonym("subject", b"x"), b.pseudonym("subject", b"x"));
    }
}
