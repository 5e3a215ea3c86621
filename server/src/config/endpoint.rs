//! Remote OpenAI-compatible endpoints: the `[[endpoints]]` entries and the
//! `[openrouter]` table, which takes the same keys (without `name`) plus
//! `enabled`. `EndpointConfig::default` holds every endpoint default once.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default OpenRouter API base.
pub const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// Default variable holding the OpenRouter key.
pub const OPENROUTER_KEY_ENV: &str = "OPENROUTER_API_KEY";
/// The route prefix (and endpoint name) of OpenRouter.
pub const OPENROUTER_NAME: &str = "openrouter";

/// Which provider dialect an endpoint speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EndpointKind {
    /// Plain OpenAI-compatible (vLLM, Ollama, a remote llama-server...).
    #[default]
    OpenAi,
    /// OpenRouter: attribution headers, `usage.cost`, `X-Generation-Id`.
    OpenRouter,
}

/// A remote OpenAI-compatible endpoint. Its models are addressed as
/// `<name>/<upstream model>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointConfig {
    /// Route prefix and display name.
    pub name: String,
    /// Dialect: not a file key; `[openrouter]` is the OpenRouter one.
    #[serde(skip)]
    pub kind: EndpointKind,
    /// Base URL up to and including the version segment, e.g. `http://host/v1`.
    pub base_url: String,
    /// Environment variable holding the API key (the key itself is never in config).
    pub api_key_env: Option<String>,
    /// Upstream model names served; empty means any name under the prefix.
    pub models: Vec<String>,
    /// Requests in flight to this endpoint at once.
    pub max_concurrency: u32,
    /// TCP+TLS connect timeout per attempt.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Longest wait for response headers and first token per attempt.
    #[serde(with = "humantime_serde")]
    pub first_token_timeout: Duration,
    /// Longest silence between tokens per attempt.
    #[serde(with = "humantime_serde")]
    pub token_gap_timeout: Duration,
    /// Idle pooled connections are closed after this; keep it below the server's keep-alive.
    #[serde(with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// Most upstream attempts per request (1 = no retry).
    pub max_attempts: u32,
    /// Ask for SSE streaming (gives time-to-first-token and token-gap
    /// detection); false sends plain JSON requests for servers without SSE.
    pub stream: bool,
    /// `HTTP-Referer` attribution header (OpenRouter).
    pub referer: Option<String>,
    /// `X-Title` attribution header (OpenRouter).
    pub title: Option<String>,
}

impl Default for EndpointConfig {
    /// The defaults of every endpoint; `name` and `base_url` are empty, which
    /// validation rejects for an `[[endpoints]]` entry.
    fn default() -> Self {
        EndpointConfig {
            name: String::new(),
            kind: EndpointKind::OpenAi,
            base_url: String::new(),
            api_key_env: None,
            models: Vec::new(),
            max_concurrency: 64,
            connect_timeout: Duration::from_secs(5),
            first_token_timeout: Duration::from_secs(60),
            token_gap_timeout: Duration::from_secs(30),
            pool_idle_timeout: Duration::from_secs(50),
            max_attempts: 3,
            stream: true,
            referer: None,
            title: None,
        }
    }
}

impl EndpointConfig {
    /// The chat completions URL under `base_url` (which ends at the version
    /// segment, e.g. `http://10.0.0.5:8000/v1`), or why it is not valid.
    pub fn chat_url(&self) -> Result<reqwest::Url, String> {
        let joined = format!("{}/chat/completions", self.base_url.trim_end_matches('/'));
        reqwest::Url::parse(&joined).map_err(|e| format!("{joined:?} is not a valid URL: {e}"))
    }

    /// An endpoint with the defaults for its kind.
    pub fn new(name: &str, kind: EndpointKind, base_url: &str) -> Self {
        EndpointConfig {
            name: name.to_string(),
            kind,
            base_url: base_url.trim_end_matches('/').to_string(),
            ..EndpointConfig::default()
        }
    }
}

/// The `[openrouter]` table. Validation turns it into an endpoint named
/// `openrouter` when it is enabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenRouterConfig {
    /// On or off; None: on exactly when the key variable is set. When off,
    /// routing still knows the prefix and answers FAILED_PRECONDITION
    /// naming the variable to set.
    pub enabled: Option<bool>,
    /// The endpoint's settings; its name is always `openrouter`, and its
    /// `kind` is set to OpenRouter when validation adds it to `endpoints`.
    #[serde(flatten)]
    pub endpoint: EndpointConfig,
}

impl Default for OpenRouterConfig {
    fn default() -> Self {
        OpenRouterConfig {
            enabled: None,
            // `kind` stays the serde default here, as it does when read
            // from a file; validation sets it on the endpoint it adds.
            endpoint: EndpointConfig {
                name: OPENROUTER_NAME.to_string(),
                base_url: OPENROUTER_BASE_URL.to_string(),
                api_key_env: Some(OPENROUTER_KEY_ENV.to_string()),
                ..EndpointConfig::default()
            },
        }
    }
}

impl OpenRouterConfig {
    /// The variable that holds the key (`api_key_env`, or the default).
    pub fn key_env(&self) -> &str {
        self.endpoint
            .api_key_env
            .as_deref()
            .unwrap_or(OPENROUTER_KEY_ENV)
    }

    /// Whether it is enabled: explicitly, or because its key variable is set
    /// and not empty.
    pub fn is_enabled(&self) -> bool {
        self.enabled
            .unwrap_or_else(|| std::env::var_os(self.key_env()).is_some_and(|v| !v.is_empty()))
    }
}
