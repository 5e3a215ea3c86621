//! Why access was refused. Messages name the tenant and the limit, never
//! the key, its hash, or (for a model the key may not see) whether the
//! model exists. `crate::api::status` maps them to gRPC codes.

use std::time::Duration;

use crate::domain::Outcome;

/// A refusal by the access layer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AccessError {
    /// No key was presented while keys are configured.
    #[error(
        "an API key is required: send `authorization: Bearer <key>` or `x-api-key: <key>` metadata"
    )]
    MissingKey,
    /// The credential cannot be a key.
    #[error("malformed API key: {0}")]
    Malformed(&'static str),
    /// No configured key has this hash (also: the tenant was removed).
    #[error("unknown API key")]
    UnknownKey,
    /// The key may not use this model; said the same whether or not it exists.
    #[error("key '{tenant}' may not use model '{model}'")]
    ModelDenied {
        /// Tenant name.
        tenant: String,
        /// The id asked for (already validated as a safe id).
        model: String,
    },
    /// An RPC only an admin key may call.
    #[error("{rpc} needs a key with `admin = true`")]
    AdminOnly {
        /// The RPC.
        rpc: &'static str,
    },
    /// A rate limit or concurrency limit was hit.
    #[error("key '{tenant}' is over its {limit}; retry in {} ms", retry_after.as_millis())]
    RateLimited {
        /// Tenant name.
        tenant: String,
        /// Which limit, e.g. "requests_per_minute (60)".
        limit: String,
        /// When the limit refills.
        retry_after: Duration,
    },
    /// A batch larger than the key's `max_batch_items`.
    #[error("key '{tenant}' may send at most {max} items per batch (got {items})")]
    BatchTooLarge {
        /// Tenant name.
        tenant: String,
        /// Items sent.
        items: usize,
        /// The key's limit.
        max: usize,
    },
    /// The day's or month's budget is spent.
    #[error(
        "key '{tenant}' has spent its {period} budget (${spent:.6} of ${budget:.6}); it resets in {} s",
        retry_after.as_secs()
    )]
    BudgetExhausted {
        /// Tenant name.
        tenant: String,
        /// "daily" or "monthly".
        period: &'static str,
        /// USD spent in the period.
        spent: f64,
        /// The period's budget.
        budget: f64,
        /// Until the period resets (UTC).
        retry_after: Duration,
    },
}

impl AccessError {
    /// How the request ended.
    pub fn outcome(&self) -> Outcome {
        match self {
            AccessError::MissingKey | AccessError::Malformed(_) | AccessError::UnknownKey => {
                Outcome::Unauthenticated
            }
            AccessError::ModelDenied { .. } | AccessError::AdminOnly { .. } => {
                Outcome::PermissionDenied
            }
            AccessError::BatchTooLarge { .. } => Outcome::InvalidArgument,
            AccessError::RateLimited { .. } | AccessError::BudgetExhausted { .. } => {
                Outcome::ResourceExhausted
            }
        }
    }

    /// A short label for metrics (`ai_router_access_denied_total{reason}`).
    pub fn label(&self) -> &'static str {
        match self {
            AccessError::MissingKey => "missing_key",
            AccessError::Malformed(_) => "malformed_key",
            AccessError::UnknownKey => "unknown_key",
            AccessError::ModelDenied { .. } => "model_denied",
            AccessError::AdminOnly { .. } => "admin_only",
            AccessError::RateLimited { .. } => "rate_limited",
            AccessError::BatchTooLarge { .. } => "batch_too_large",
            AccessError::BudgetExhausted { .. } => "budget_exhausted",
        }
    }

    /// When to retry, for `grpc-retry-pushback-ms` / `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AccessError::RateLimited { retry_after, .. }
            | AccessError::BudgetExhausted { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}
