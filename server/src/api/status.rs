//! The one place where errors become gRPC statuses.

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::error::RouterError;
use crate::pool::PoolError;
use crate::upstream::UpstreamError;

/// Trailing metadata key carrying a retry hint in milliseconds (gRPC's
/// retry-pushback convention).
pub const PUSHBACK_KEY: &str = "grpc-retry-pushback-ms";

impl From<RouterError> for Status {
    fn from(error: RouterError) -> Status {
        let code = code_of(&error);
        let mut status = Status::new(code, error.to_string());
        let retry_after = match &error {
            RouterError::ResourceExhausted { retry_after, .. } => *retry_after,
            RouterError::Upstream(UpstreamError::Http { retry_after, .. }) => *retry_after,
            RouterError::Upstream(UpstreamError::BreakerOpen { retry_in, .. }) => Some(*retry_in),
            _ => None,
        };
        if let Some(after) = retry_after
            && let Ok(v) = MetadataValue::try_from(after.as_millis().to_string())
        {
            status.metadata_mut().insert(PUSHBACK_KEY, v);
        }
        status
    }
}

/// The gRPC code for an error.
pub fn code_of(error: &RouterError) -> Code {
    match error {
        RouterError::InvalidArgument(_) => Code::InvalidArgument,
        RouterError::ModelNotFound { .. } => Code::NotFound,
        RouterError::FailedPrecondition(_) => Code::FailedPrecondition,
        RouterError::ResourceExhausted { .. } => Code::ResourceExhausted,
        RouterError::DeadlineExceeded(_) => Code::DeadlineExceeded,
        RouterError::Cancelled => Code::Cancelled,
        RouterError::ShuttingDown => Code::Unavailable,
        RouterError::Pool(e) => match e {
            PoolError::NoCapacity { .. } => Code::ResourceExhausted,
            _ => Code::Unavailable,
        },
        RouterError::Upstream(e) => match e {
            UpstreamError::Http { status, .. } => match status {
                400 | 422 => Code::InvalidArgument,
                401 => Code::Unauthenticated,
                402 | 429 => Code::ResourceExhausted,
                403 => Code::PermissionDenied,
                404 => Code::NotFound,
                _ => Code::Unavailable,
            },
            _ => Code::Unavailable,
        },
    }
}
