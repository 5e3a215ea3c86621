//! `[access]` (API keys, the usage ledger, the open-port guard) and `[tls]`
//! (server certificate and optional client CA). Keys are stored only as
//! SHA-256 hashes; `ai-router-cli keys new` prints a key once with the line
//! to put here. They may also live in a separate keys file
//! (`access.keys_file`, TOML with `[[keys]]` entries) merged at validation.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::domain::Priority;

/// `[access]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// Serve a non-loopback address with no keys and no client certificates.
    pub allow_unauthenticated: bool,
    /// A TOML file with more `[[keys]]` entries (kept apart from the
    /// config so it can have its own owner and mode).
    pub keys_file: Option<PathBuf>,
    /// The SQLite usage ledger; used when keys are configured.
    pub ledger_path: PathBuf,
    /// The API keys (`[[access.keys]]`); none: the service is open.
    pub keys: Vec<KeyConfig>,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            allow_unauthenticated: false,
            keys_file: None,
            ledger_path: PathBuf::from("./data/usage.db"),
            keys: Vec::new(),
        }
    }
}

/// One API key: who it is, what it may use, how much and how fast.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The tenant name shown in Stats, metrics and the ledger.
    pub name: String,
    /// `sha256:<64 hex digits>` of the key (from `ai-router-cli keys new`).
    pub hash: String,
    /// Model ids or globs the key may use (`openrouter/anthropic/*`, `tiny-*`).
    #[serde(default = "every_model")]
    pub models: Vec<String>,
    /// Requests admitted per minute (GCRA, burst = the whole minute).
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Tokens per minute: prompt tokens estimated up front, completion
    /// tokens charged when the usage is known.
    #[serde(default)]
    pub tokens_per_minute: Option<u32>,
    /// USD the key may spend per UTC day (from the ledger).
    #[serde(default)]
    pub budget_usd_per_day: Option<f64>,
    /// USD the key may spend per UTC calendar month.
    #[serde(default)]
    pub budget_usd_per_month: Option<f64>,
    /// Largest BatchGenerate this key may send.
    #[serde(default)]
    pub max_batch_items: Option<usize>,
    /// Calls (or batch items) this key may have in flight at once.
    #[serde(default)]
    pub max_concurrency: Option<usize>,
    /// `interactive` (default) or `batch`.
    #[serde(default)]
    pub priority: Priority,
    /// May read Stats and the usage report.
    #[serde(default)]
    pub admin: bool,
}

impl std::fmt::Debug for KeyConfig {
    // A config printed for debugging must not carry the hash either.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyConfig")
            .field("name", &self.name)
            .field("hash", &"<redacted>")
            .field("models", &self.models)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("tokens_per_minute", &self.tokens_per_minute)
            .field("budget_usd_per_day", &self.budget_usd_per_day)
            .field("budget_usd_per_month", &self.budget_usd_per_month)
            .field("max_batch_items", &self.max_batch_items)
            .field("max_concurrency", &self.max_concurrency)
            .field("priority", &self.priority)
            .field("admin", &self.admin)
            .finish()
    }
}

fn every_model() -> Vec<String> {
    vec!["*".to_string()]
}

/// A keys file: `[[keys]]` entries only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysFile {
    /// The keys.
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
}

/// `[tls]`: PEM files for the gRPC port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Server certificate chain (PEM); with `key`, the port speaks TLS.
    pub cert: Option<PathBuf>,
    /// Server private key (PEM).
    pub key: Option<PathBuf>,
    /// CA bundle (PEM): when set, every client must present a certificate it signed.
    pub client_ca: Option<PathBuf>,
}

impl TlsConfig {
    /// Whether the port speaks TLS.
    pub fn enabled(&self) -> bool {
        self.cert.is_some()
    }
}
