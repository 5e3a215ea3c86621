//! API keys as the router holds them: the SHA-256 digest of a
//! high-entropy random token, never the token itself. A presented key is
//! hashed and looked up by digest; the final equality is `subtle`'s
//! constant-time compare. Looking up by digest leaks nothing useful through
//! timing: the caller chooses the key, not its digest.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How a hash is written in config: this prefix, then 64 hex digits.
pub const HASH_PREFIX: &str = "sha256:";

/// The SHA-256 digest of a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl std::fmt::Debug for KeyHash {
    // The digest stays out of logs and debug output too.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHash(<redacted>)")
    }
}

/// Why a configured hash cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a key hash must be `sha256:` followed by 64 hex digits (from `ai-router-cli keys new`)")]
pub struct BadHash;

impl KeyHash {
    /// The digest of a presented key.
    pub fn of(key: &[u8]) -> KeyHash {
        KeyHash(Sha256::digest(key).into())
    }

    /// Parses `sha256:<64 hex digits>`.
    pub fn parse(text: &str) -> Result<KeyHash, BadHash> {
        let hex = text.trim().strip_prefix(HASH_PREFIX).ok_or(BadHash)?;
        if hex.len() != 64 {
            return Err(BadHash);
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Ok(KeyHash(out))
    }

    /// The bytes, used as the lookup key.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

fn nibble(c: u8) -> Result<u8, BadHash> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(BadHash),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_sha256_hex_prints() {
        let digest = Sha256::digest(b"air-secret");
        let text = format!("{HASH_PREFIX}{digest:x}");
        let parsed = KeyHash::parse(&text).unwrap();
        assert!(parsed.matches(&KeyHash::of(b"air-secret")));
        assert!(!parsed.matches(&KeyHash::of(b"air-secreT")));
    }

    #[test]
    fn rejects_malformed_hashes() {
        for bad in [
            "",
            "sha256:",
            "md5:00",
            "sha256:zz",
            &format!("sha256:{}", "g".repeat(64)),
        ] {
            assert_eq!(KeyHash::parse(bad), Err(BadHash), "{bad:?}");
        }
    }

    #[test]
    fn debug_output_hides_the_digest() {
        assert_eq!(format!("{:?}", KeyHash::of(b"x")), "KeyHash(<redacted>)");
    }
}
