//! The configured keys: digest → principal, plus the key entry each
//! principal was made from, so a reload can tell which keys are unchanged
//! and keep their principals (with their rate-limit state, budgets spent
//! and usage figures).

use std::collections::HashMap;
use std::sync::Arc;

use super::{KeyHash, Principal};
use crate::config::KeyConfig;

/// One generation of keys.
pub(crate) struct Tenants {
    /// By the key's SHA-256 digest.
    pub keys: HashMap<[u8; 32], (KeyHash, Arc<Principal>)>,
    /// In configuration order.
    pub principals: Vec<Arc<Principal>>,
    /// The entry each principal came from, by tenant name.
    pub entries: HashMap<String, KeyConfig>,
}

impl Tenants {
    /// The set of `keys`, (digest, principal) with the entry each came from.
    pub fn new(keys: Vec<(KeyHash, Arc<Principal>, KeyConfig)>) -> Tenants {
        let principals = keys.iter().map(|(_, p, _)| p.clone()).collect();
        let mut entries = HashMap::with_capacity(keys.len());
        let mut by_digest = HashMap::with_capacity(keys.len());
        for (hash, principal, entry) in keys {
            entries.insert(principal.name.clone(), entry);
            by_digest.insert(*hash.bytes(), (hash, principal));
        }
        Tenants {
            keys: by_digest,
            principals,
            entries,
        }
    }

    /// The principal for `entry` if this set has the very same entry.
    pub fn unchanged(&self, entry: &KeyConfig) -> Option<Arc<Principal>> {
        if self.entries.get(&entry.name) != Some(entry) {
            return None;
        }
        self.principals
            .iter()
            .find(|p| p.name == entry.name)
            .cloned()
    }
}
