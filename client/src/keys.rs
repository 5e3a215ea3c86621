//! API keys for the router: a fresh high-entropy key and the hash the
//! router's config holds (`sha256:<hex>`). The key is shown once and never
//! stored by the router; losing it means making a new one.

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

/// Every key starts with this, so a leaked key is easy to recognise (and
/// to scan for in repositories).
pub const KEY_PREFIX: &str = "air_";

/// Random characters after the prefix: 43 alphanumerics carry ~256 bits.
const KEY_CHARS: usize = 43;

/// A new key and its config hash.
pub struct NewKey {
    /// The secret, to hand to the caller once.
    pub key: String,
    /// `sha256:<64 hex digits>`, for `hash = "..."` in the router's config.
    pub hash: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("key", &"<redacted>")
            .field("hash", &self.hash)
            .finish()
    }
}

/// Generates a key from the operating system's CSPRNG.
pub fn generate() -> NewKey {
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(KEY_CHARS)
        .map(char::from)
        .collect();
    let key = format!("{KEY_PREFIX}{random}");
    let hash = hash(&key);
    NewKey { key, hash }
}

/// The config hash of `key`.
pub fn hash(key: &str) -> String {
    format!("sha256:{:x}", Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh_and_hashes_well_formed() {
        let a = generate();
        let b = generate();
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(KEY_PREFIX) && a.key.len() == KEY_PREFIX.len() + KEY_CHARS);
        assert_eq!(a.hash.len(), "sha256:".len() + 64);
        assert_eq!(a.hash, hash(&a.key));
        assert!(!format!("{a:?}").contains(&a.key));
    }
}
