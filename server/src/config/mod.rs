//! Configuration, declared once. [`Config`] is one serde tree whose
//! `Default` impls are the only place defaults are written and whose shape
//! *is* the TOML schema (`deny_unknown_fields` everywhere, so a typo fails at
//! start). Loading layers, lowest first: those defaults, the TOML file, then
//! the flags and their environment variables ([`Cli`]), which are
//! serialised over the same keys instead of being merged field by field.
//! [`Config::validate`] is the only way to a [`ValidatedConfig`], and
//! serving takes only that, so an unchecked config cannot be served.
//! Secrets are never settings: endpoints name the variable holding a key.

mod access;
mod access_rules;
mod cli;
mod endpoint;
mod error;
mod help;
mod layers;
mod limits;
mod local;
mod units;
mod validate;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use access::{AccessConfig, KeyConfig, KeysFile, TlsConfig};
pub use cli::{
    AccessFlags, Cli, ExecutorFlags, LimitFlags, LocalFlags, OpenRouterFlags, Overrides, TlsFlags,
};
pub use endpoint::{
    EndpointConfig, EndpointKind, OPENROUTER_BASE_URL, OPENROUTER_KEY_ENV, OpenRouterConfig,
    PickChoices, PickPolicy, chat_url,
};
pub use error::ConfigError;
pub use layers::{from_toml, load};
pub use limits::{ExecutorConfig, RequestLimits};
pub use local::{LlamaSettings, LocalConfig, LocalModelConfig};
pub use validate::ValidatedConfig;

/// The whole configuration; each nested struct is one TOML table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// gRPC listen address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// How long in-flight calls may run after a shutdown signal.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Address for Prometheus metrics over HTTP (`GET /metrics`); None: off.
    pub metrics_listen: Option<SocketAddr>,
    /// Address of the OpenAI-compatible HTTP door (`/v1/chat/completions`,
    /// ...); None: off.
    pub http_listen: Option<SocketAddr>,
    /// Per-request limits enforced by validation.
    pub limits: RequestLimits,
    /// Admission control.
    pub executor: ExecutorConfig,
    /// The local llama-server pool.
    pub local: LocalConfig,
    /// OpenRouter; validation adds it to `endpoints` when it is enabled.
    pub openrouter: OpenRouterConfig,
    /// Remote OpenAI-compatible endpoints (`[[endpoints]]`).
    pub endpoints: Vec<EndpointConfig>,
    /// API keys, the usage ledger and the open-port guard.
    pub access: AccessConfig,
    /// TLS / mTLS on the gRPC port.
    pub tls: TlsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            shutdown_grace: Duration::from_secs(10),
            metrics_listen: None,
            http_listen: None,
            limits: RequestLimits::default(),
            executor: ExecutorConfig::default(),
            local: LocalConfig::default(),
            openrouter: OpenRouterConfig::default(),
            endpoints: Vec::new(),
            access: AccessConfig::default(),
            tls: TlsConfig::default(),
        }
    }
}
