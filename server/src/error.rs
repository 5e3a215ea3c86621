//! The service error: every layer's failure ends up here, and `api::status`
//! turns it into a `tonic::Status` in exactly one place.

use std::time::Duration;

use crate::access::AccessError;
use crate::domain::{Outcome, ValidationError};
use crate::pool::PoolError;
use crate::upstream::UpstreamError;

/// Why a request failed. Messages are written for the person calling the
/// service; they never contain secrets or prompt text.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The request itself is malformed.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No route for this model id.
    #[error("unknown model '{model}'; known models: {known}")]
    ModelNotFound {
        /// The id that was asked for (already validated as a safe id).
        model: String,
        /// Comma-separated ids the router can serve.
        known: String,
    },
    /// The route exists but is not usable in this configuration.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Admission refused: queue full, batch too large, nothing evictable.
    #[error("{message}")]
    ResourceExhausted {
        /// What is exhausted and what the caller can do.
        message: String,
        /// A hint for when to retry, sent as trailing metadata.
        retry_after: Option<Duration>,
    },
    /// The request's deadline passed.
    #[error("deadline exceeded while {0}")]
    DeadlineExceeded(&'static str),
    /// The caller went away.
    #[error("request cancelled by the client")]
    Cancelled,
    /// The router is shutting down and takes no new work.
    #[error("the router is shutting down")]
    ShuttingDown,
    /// A local model process failed.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The upstream HTTP endpoint failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The caller's key refused it (authentication, allowlist, limits, budget).
    #[error(transparent)]
    Access(#[from] AccessError),
}

impl RouterError {
    /// A short, stable label for metrics and span attributes (TGI's
    /// `error_type()`), independent of the message text.
    pub fn label(&self) -> &'static str {
        match self {
            RouterError::Invalid(_) => "invalid_argument",
            RouterError::ModelNotFound { .. } => "model_not_found",
            RouterError::FailedPrecondition(_) => "failed_precondition",
            RouterError::ResourceExhausted { .. } => "resource_exhausted",
            RouterError::DeadlineExceeded(_) => "deadline_exceeded",
            RouterError::Cancelled => "cancelled",
            RouterError::ShuttingDown => "shutting_down",
            RouterError::Pool(e) => e.label(),
            RouterError::Upstream(e) => e.label(),
            RouterError::Access(e) => e.label(),
        }
    }

    /// How the request ended, for stats; each door maps it to its own code.
    pub fn outcome(&self) -> Outcome {
        match self {
            RouterError::Invalid(_) => Outcome::InvalidArgument,
            RouterError::ModelNotFound { .. } => Outcome::NotFound,
            RouterError::FailedPrecondition(_) => Outcome::FailedPrecondition,
            RouterError::ResourceExhausted { .. } => Outcome::ResourceExhausted,
            RouterError::DeadlineExceeded(_) => Outcome::DeadlineExceeded,
            RouterError::Cancelled => Outcome::Cancelled,
            RouterError::ShuttingDown => Outcome::Unavailable,
            RouterError::Pool(e) => match e {
                PoolError::NoCapacity { .. } => Outcome::ResourceExhausted,
                PoolError::UnknownModel { .. } | PoolError::Removed { .. } => Outcome::NotFound,
                _ => Outcome::Unavailable,
            },
            RouterError::Upstream(e) => match e {
                UpstreamError::Http { status, .. } => match status {
                    400 | 422 => Outcome::InvalidArgument,
                    401 => Outcome::Unauthenticated,
                    402 | 429 => Outcome::ResourceExhausted,
                    403 => Outcome::PermissionDenied,
                    404 => Outcome::NotFound,
                    _ => Outcome::Unavailable,
                },
                _ => Outcome::Unavailable,
            },
            RouterError::Access(e) => e.outcome(),
        }
    }

    /// When the caller may try again, if the failure says: the queue's
    /// hint, an upstream's `Retry-After`, an open breaker's remaining time.
    /// Each door sends it its own way (gRPC pushback metadata, HTTP
    /// `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RouterError::ResourceExhausted { retry_after, .. } => *retry_after,
            RouterError::Upstream(UpstreamError::Http { retry_after, .. }) => *retry_after,
            RouterError::Upstream(UpstreamError::BreakerOpen { retry_in, .. }) => Some(*retry_in),
            RouterError::Access(e) => e.retry_after(),
            _ => None,
        }
    }

    /// True when trying the next fallback model could help: the failure is
    /// about this model or its upstream, not about the request or the caller.
    pub fn allows_fallback(&self) -> bool {
        match self {
            RouterError::Pool(_) | RouterError::FailedPrecondition(_) => true,
            RouterError::Upstream(e) => e.allows_fallback(),
            RouterError::ResourceExhausted { .. } => true,
            _ => false,
        }
    }
}
