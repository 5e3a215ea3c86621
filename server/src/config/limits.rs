//! The `[limits]` and `[executor]` tables: what one request may ask for and
//! how many requests are admitted at once. Their `Default`s are the only
//! place these defaults are written.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Limits on what one request may ask for (`[limits]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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

/// Admission control (`[executor]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorConfig {
    /// Requests in flight across all routes.
    pub max_in_flight: usize,
    /// Requests waiting for a permit, per route; beyond it: RESOURCE_EXHAUSTED.
    pub max_queue: usize,
    /// Longest a request may wait in the queue (its deadline may cut it shorter).
    #[serde(with = "humantime_serde")]
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
