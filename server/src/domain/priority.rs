//! Priority classes: which waiting call a route admits first.

use serde::{Deserialize, Serialize};

/// A caller's priority class. Interactive calls are admitted ahead of batch
/// work waiting for the same route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// A person or a latency-sensitive service is waiting.
    #[default]
    Interactive,
    /// Bulk work that may wait behind interactive calls.
    Batch,
}

impl Priority {
    /// The lowercase name used in config and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Interactive => "interactive",
            Priority::Batch => "batch",
        }
    }
}
