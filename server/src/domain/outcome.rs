//! How a request ended, in the service's terms. Stats and metrics count
//! outcomes; each door maps them to its own codes (gRPC status, HTTP status)
//! in one place.

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Answered.
    Ok,
    /// The caller went away.
    Cancelled,
    /// The request was malformed.
    InvalidArgument,
    /// Its deadline passed.
    DeadlineExceeded,
    /// No such model.
    NotFound,
    /// The upstream refused the caller's rights.
    PermissionDenied,
    /// A limit was hit (queue, rate, credits, room).
    ResourceExhausted,
    /// The model exists but cannot serve in this configuration.
    FailedPrecondition,
    /// The backend failed or the router is stopping.
    Unavailable,
    /// The upstream rejected the key.
    Unauthenticated,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 10] = [
        Outcome::Ok,
        Outcome::Cancelled,
        Outcome::InvalidArgument,
        Outcome::DeadlineExceeded,
        Outcome::NotFound,
        Outcome::PermissionDenied,
        Outcome::ResourceExhausted,
        Outcome::FailedPrecondition,
        Outcome::Unavailable,
        Outcome::Unauthenticated,
    ];

    /// The canonical upper-case name (as gRPC spells its codes), used as a
    /// metric label and in Stats.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::Cancelled => "CANCELLED",
            Outcome::InvalidArgument => "INVALID_ARGUMENT",
            Outcome::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Outcome::NotFound => "NOT_FOUND",
            Outcome::PermissionDenied => "PERMISSION_DENIED",
            Outcome::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Outcome::FailedPrecondition => "FAILED_PRECONDITION",
            Outcome::Unavailable => "UNAVAILABLE",
            Outcome::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}
