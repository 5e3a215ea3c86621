//! Keys on a config reload. The new set is prepared (parsed, budgets of new
//! keys seeded from the ledger) before anything is swapped, so a bad entry
//! refuses the whole reload; unchanged keys keep their principals. Turning
//! keys on or off is refused: the ledger and the open-port guard are set up
//! at start, and a reload that silently left the service open (or shut
//! every caller out) would be worse than a clear refusal.

use std::sync::Arc;

use super::{AccessControl, AccessStartError, Key, Tenants, key_from_config, seed_budgets};
use crate::config::AccessConfig;

/// A key set ready to be swapped in.
pub struct PreparedKeys {
    tenants: Tenants,
    changed: bool,
}

impl AccessControl {
    /// Builds the key set `config` asks for, reusing the principals of
    /// unchanged keys.
    pub fn prepare_keys(&self, config: &AccessConfig) -> Result<PreparedKeys, AccessStartError> {
        let was_open = self.is_open();
        if was_open != config.keys.is_empty() {
            return Err(AccessStartError::KeysToggled(if was_open {
                "turning API keys on needs a restart (the usage ledger opens at start)"
            } else {
                "removing every API key would open the service; that needs a restart"
            }));
        }
        let running = self.shared.tenants.load();
        let mut fresh = Vec::new();
        let mut keys: Vec<Key> = Vec::with_capacity(config.keys.len());
        for entry in &config.keys {
            match running.unchanged(entry) {
                Some(principal) => {
                    let (hash, _, _) = key_from_config(entry)?;
                    keys.push((hash, principal, entry.clone()));
                }
                None => {
                    let key = key_from_config(entry)?;
                    fresh.push(key.1.clone());
                    keys.push(key);
                }
            }
        }
        if let Some(ledger) = &self.shared.ledger {
            seed_budgets(ledger, fresh.iter())?;
        }
        let changed = !fresh.is_empty() || keys.len() != running.principals.len();
        Ok(PreparedKeys {
            tenants: Tenants::new(keys),
            changed,
        })
    }

    /// Serves `keys` from now on; returns whether anything changed. Calls
    /// admitted under the old set finish under it.
    pub fn apply_keys(&self, keys: PreparedKeys) -> bool {
        if keys.changed {
            self.shared.tenants.store(Arc::new(keys.tenants));
        }
        keys.changed
    }
}
