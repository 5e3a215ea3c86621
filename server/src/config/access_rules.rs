//! Validation of `[access]` and `[tls]`: the keys file is merged, every key
//! entry checked (name, hash, globs, limits), and the open-port guard
//! applied: a non-loopback listen address needs keys, client certificates,
//! or an explicit `--allow-unauthenticated`.

use std::collections::HashSet;

use super::{Config, ConfigError, KeysFile};
use crate::access::{KeyHash, ModelPolicy};

impl Config {
    /// Appends the keys file's `[[keys]]` to `access.keys`.
    pub(super) fn resolve_keys_file(&mut self) -> Result<(), ConfigError> {
        let Some(path) = self.access.keys_file.clone() else {
            return Ok(());
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let file: KeysFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        self.access.keys.extend(file.keys);
        Ok(())
    }

    pub(super) fn check_access(&self) -> Result<(), ConfigError> {
        let mut names = HashSet::new();
        let mut hashes = HashSet::new();
        for k in &self.access.keys {
            let valid_name = !k.name.is_empty()
                && k.name.len() <= 64
                && k.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid_name {
                return bad(format!(
                    "access key name {:?}: use 1-64 letters, digits, '-', '_' or '.'",
                    k.name
                ));
            }
            if !names.insert(k.name.as_str()) {
                return bad(format!("access key name '{}' is used twice", k.name));
            }
            let hash = KeyHash::parse(&k.hash)
                .map_err(|e| ConfigError::Invalid(format!("access key '{}': {e}", k.name)))?;
            if !hashes.insert(*hash.bytes()) {
                return bad(format!(
                    "access key '{}' has the hash of another key",
                    k.name
                ));
            }
            if k.models.is_empty() {
                return bad(format!(
                    "access key '{}': `models` is empty (use [\"*\"] for every model)",
                    k.name
                ));
            }
            ModelPolicy::new(&k.models).map_err(|e| {
                ConfigError::Invalid(format!("access key '{}': bad model glob: {e}", k.name))
            })?;
            for (what, budget) in [
                ("budget_usd_per_day", k.budget_usd_per_day),
                ("budget_usd_per_month", k.budget_usd_per_month),
            ] {
                if budget.is_some_and(|b| !b.is_finite() || b < 0.0) {
                    return bad(format!(
                        "access key '{}': {what} must be a number >= 0",
                        k.name
                    ));
                }
            }
            if k.max_batch_items == Some(0) || k.max_concurrency == Some(0) {
                return bad(format!(
                    "access key '{}': max_batch_items and max_concurrency must be at least 1",
                    k.name
                ));
            }
        }
        self.check_tls()?;
        let open = self.access.keys.is_empty() && self.tls.client_ca.is_none();
        if open && !self.listen.ip().is_loopback() && !self.access.allow_unauthenticated {
            return bad(format!(
                "refusing to serve {} without authentication: configure API keys \
                 ([[access.keys]]; `ai-router-cli keys new` makes one), require client \
                 certificates with --tls-client-ca, or pass --allow-unauthenticated",
                self.listen
            ));
        }
        Ok(())
    }

    fn check_tls(&self) -> Result<(), ConfigError> {
        let t = &self.tls;
        if t.cert.is_some() != t.key.is_some() {
            return bad("TLS needs both tls.cert (--tls-cert) and tls.key (--tls-key)");
        }
        if t.client_ca.is_some() && t.cert.is_none() {
            return bad("tls.client_ca (--tls-client-ca) needs --tls-cert and --tls-key");
        }
        Ok(())
    }
}

fn bad(message: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid(message.into()))
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, from_toml};

    const HASH: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn invalid(toml: &str) -> String {
        match from_toml(toml) {
            Err(ConfigError::Invalid(m)) => m,
            other => panic!("expected an invalid config, got {other:?}"),
        }
    }

    #[test]
    fn a_public_address_without_keys_or_client_certificates_is_refused() {
        let m = invalid("listen = \"0.0.0.0:50051\"");
        assert!(m.contains("--allow-unauthenticated"), "{m}");
        assert!(m.contains("ai-router-cli keys new"), "{m}");
        assert!(
            from_toml("listen = \"0.0.0.0:50051\"\n[access]\nallow_unauthenticated = true").is_ok()
        );
        assert!(
            from_toml("listen = \"127.0.0.1:0\"").is_ok(),
            "loopback stays open"
        );
        let keyed =
            format!("listen = \"0.0.0.0:50051\"\n[[access.keys]]\nname = \"a\"\nhash = \"{HASH}\"");
        assert!(from_toml(&keyed).is_ok());
        let mtls = "listen = \"[::]:50051\"\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\nclient_ca = \"ca.pem\"";
        assert!(from_toml(mtls).is_ok());
    }

    #[test]
    fn key_entries_are_checked() {
        let entry =
            |extra: &str| format!("[[access.keys]]\nname = \"a\"\nhash = \"{HASH}\"\n{extra}");
        assert!(invalid(&entry("models = [\"[\"]")).contains("bad model glob"));
        assert!(invalid(&entry("models = []")).contains("`models` is empty"));
        assert!(invalid(&entry("budget_usd_per_day = -1.0")).contains("budget_usd_per_day"));
        assert!(invalid(&entry("max_concurrency = 0")).contains("at least 1"));
        assert!(invalid("[[access.keys]]\nname = \"a\"\nhash = \"md5:00\"").contains("sha256:"));
        let twice = format!(
            "{}\n{}",
            entry(""),
            entry("").replace("name = \"a\"", "name = \"b\"")
        );
        assert!(invalid(&twice).contains("hash of another key"));
        assert!(invalid(&entry("").replace("\"a\"", "\"a b\"")).contains("letters, digits"));
        let unknown = from_toml(&entry("rpm = 5"));
        assert!(
            matches!(unknown, Err(ConfigError::Parse { .. })),
            "{unknown:?}"
        );
        let ok = from_toml(&entry(
            "models = [\"tiny-*\"]\npriority = \"batch\"\nadmin = true",
        ))
        .unwrap();
        assert_eq!(ok.access.keys[0].priority, crate::domain::Priority::Batch);
    }

    #[test]
    fn debug_output_hides_key_hashes() {
        let c = from_toml(&format!("[[access.keys]]\nname = \"a\"\nhash = \"{HASH}\"")).unwrap();
        let dump = format!("{c:?}");
        assert!(dump.contains("name: \"a\""), "{dump}");
        assert!(!dump.contains(HASH.trim_start_matches("sha256:")), "{dump}");
    }

    #[test]
    fn tls_needs_a_certificate_and_a_key() {
        assert!(invalid("[tls]\ncert = \"c.pem\"").contains("--tls-key"));
        assert!(invalid("[tls]\nclient_ca = \"ca.pem\"").contains("--tls-cert"));
    }

    #[test]
    fn a_keys_file_adds_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.toml");
        std::fs::write(
            &file,
            format!("[[keys]]\nname = \"from-file\"\nhash = \"{HASH}\"\n"),
        )
        .unwrap();
        let c = from_toml(&format!(
            "[access]\nkeys_file = {:?}",
            file.display().to_string()
        ))
        .unwrap();
        assert_eq!(c.access.keys[0].name, "from-file");
        std::fs::write(&file, "[[keys]]\nname = \"x\"\n").unwrap();
        let e = from_toml(&format!(
            "[access]\nkeys_file = {:?}",
            file.display().to_string()
        ));
        assert!(matches!(e, Err(ConfigError::Parse { .. })), "{e:?}");
    }
}
