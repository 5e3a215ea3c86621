//! The one place where errors become gRPC statuses.

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::domain::Outcome;
use crate::error::RouterError;
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
            RouterError::Access(e) => e.retry_after(),
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
    code_for(error.outcome())
}

/// The gRPC code for an outcome.
pub fn code_for(outcome: Outcome) -> Code {
    match outcome {
        Outcome::Ok => Code::Ok,
        Outcome::Cancelled => Code::Cancelled,
        Outcome::InvalidArgument => Code::InvalidArgument,
        Outcome::DeadlineExceeded => Code::DeadlineExceeded,
        Outcome::NotFound => Code::NotFound,
        Outcome::PermissionDenied => Code::PermissionDenied,
        Outcome::ResourceExhausted => Code::ResourceExhausted,
        Outcome::FailedPrecondition => Code::FailedPrecondition,
        Outcome::Unavailable => Code::Unavailable,
        Outcome::Unauthenticated => Code::Unauthenticated,
    }
}
