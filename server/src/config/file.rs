//! The TOML file's shape. Every table rejects unknown keys so a typo fails
//! at start instead of being silently ignored.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub metrics_listen: Option<String>,
    #[serde(default, with = "humantime_serde")]
    pub shutdown_grace: Option<Duration>,
    #[serde(default)]
    pub limits: FileLimits,
    #[serde(default)]
    pub executor: FileExecutor,
    #[serde(default)]
    pub local: FileLocal,
    #[serde(default)]
    pub openrouter: FileEndpoint,
    #[serde(default)]
    pub endpoints: Vec<FileEndpoint>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_tokens: Option<u32>,
    pub default_max_tokens: Option<u32>,
    pub max_batch_items: Option<usize>,
    pub max_message_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileExecutor {
    pub max_in_flight: Option<usize>,
    pub max_queue: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    pub max_queue_wait: Option<Duration>,
    pub batch_concurrency: Option<usize>,
    pub max_batch_concurrency: Option<usize>,
}

// serde's `flatten` does not work with `deny_unknown_fields`, so the
// llama-server settings are spelled out in both tables below.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLocalModel {
    pub id: String,
    pub path: PathBuf,
    pub slots: Option<u32>,
    pub ctx_size: Option<u32>,
    pub threads: Option<u32>,
    pub gpu_layers: Option<u32>,
    pub extra_args: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLocal {
    pub models_dirs: Option<Vec<PathBuf>>,
    #[serde(default)]
    pub models: Vec<FileLocalModel>,
    pub llama_server: Option<PathBuf>,
    pub slots: Option<u32>,
    pub ctx_size: Option<u32>,
    pub threads: Option<u32>,
    pub gpu_layers: Option<u32>,
    pub extra_args: Option<Vec<String>>,
    pub max_loaded_models: Option<usize>,
    pub memory_budget_mb: Option<u64>,
    #[serde(default, with = "humantime_serde")]
    pub idle_ttl: Option<Duration>,
    pub preload: Option<Vec<String>>,
    #[serde(default, with = "humantime_serde")]
    pub startup_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub slot_wait_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub health_interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub stop_grace: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub token_gap_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub first_token_timeout: Option<Duration>,
    pub breaker_threshold: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    pub breaker_cooldown: Option<Duration>,
}

/// One remote endpoint; the `[openrouter]` table uses the same shape
/// (without `name`, which is always "openrouter").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEndpoint {
    pub name: Option<String>,
    /// `[openrouter]` only. None: enabled exactly when the key variable is set.
    pub enabled: Option<bool>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    pub referer: Option<String>,
    pub title: Option<String>,
    pub max_concurrency: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub first_token_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub token_gap_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub pool_idle_timeout: Option<Duration>,
    pub max_attempts: Option<u32>,
    pub stream: Option<bool>,
}
