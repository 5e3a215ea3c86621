//! The one error type every client call returns.

use ai_router_proto::status::code_name;

/// Why a client call failed.
///
/// The variants separate "could not reach the router" from "the router said
/// no", because callers usually react differently (retry elsewhere versus fix
/// the request). The CLI prints both and exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The channel to the router could not be established.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address that was dialled, after normalisation.
        addr: String,
        /// The transport's own error; its source chain has the OS detail.
        #[source]
        source: tonic::transport::Error,
    },
    /// The router (or the HTTP/2 layer) answered with a non-OK gRPC status.
    #[error("{}", status_line(.0))]
    Status(#[from] tonic::Status),
    /// The address could not be turned into a URI the channel accepts.
    #[error("invalid address {addr:?}: {reason}")]
    InvalidAddress {
        /// The address as the caller gave it.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS settings cannot be used (a PEM file missing or incomplete).
    #[error("TLS: {0}")]
    Tls(String),
    /// The API key cannot be sent as gRPC metadata.
    #[error("the API key must be printable ASCII without spaces")]
    InvalidApiKey,
}

impl ClientError {
    /// The gRPC status code, when the failure was a status; `None` for
    /// connection and address errors, which never reached the router.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Self::Status(status) => Some(status.code()),
            Self::Connect { .. }
            | Self::InvalidAddress { .. }
            | Self::Tls(_)
            | Self::InvalidApiKey => None,
        }
    }

    /// The status message, when the failure was a status.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Status(status) => Some(status.message()),
            Self::Connect { .. }
            | Self::InvalidAddress { .. }
            | Self::Tls(_)
            | Self::InvalidApiKey => None,
        }
    }

    /// The full status, for callers that need its metadata or details.
    pub fn status(&self) -> Option<&tonic::Status> {
        match self {
            Self::Status(status) => Some(status),
            Self::Connect { .. }
            | Self::InvalidAddress { .. }
            | Self::Tls(_)
            | Self::InvalidApiKey => None,
        }
    }
}

impl ClientError {
    /// Wraps a status from a call, normalising tonic's client-side deadline.
    ///
    /// When the deadline set with `Client::with_timeout` passes before the
    /// router answers, tonic reports `CANCELLED: Timeout expired`; gRPC's
    /// own convention (and what the router sends when it enforces the same
    /// deadline) is `DEADLINE_EXCEEDED`, so callers can match on one code.
    pub(crate) fn from_call(status: tonic::Status) -> Self {
        if status.code() == tonic::Code::Cancelled && caused_by_timeout(&status) {
            return Self::Status(tonic::Status::deadline_exceeded(
                "the call's deadline passed before the router answered",
            ));
        }
        Self::Status(status)
    }
}

/// Whether tonic's `TimeoutExpired` marker is anywhere in the source chain.
fn caused_by_timeout(status: &tonic::Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        if err.is::<tonic::TimeoutExpired>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// `CODE: message` (or just `CODE` when the message is empty), using the
/// canonical upper-case code names so output matches other gRPC tooling.
fn status_line(status: &tonic::Status) -> String {
    let code = code_name(status.code());
    if status.message().is_empty() {
        code.to_owned()
    } else {
        format!("{code}: {}", status.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_display_uses_canonical_code_name() {
        let err = ClientError::from(tonic::Status::not_found("no model \"x\""));
        assert_eq!(err.to_string(), "NOT_FOUND: no model \"x\"");
        assert_eq!(err.code(), Some(tonic::Code::NotFound));
        assert_eq!(err.message(), Some("no model \"x\""));
    }

    #[test]
    fn status_display_without_message() {
        let err = ClientError::from(tonic::Status::new(tonic::Code::Unavailable, ""));
        assert_eq!(err.to_string(), "UNAVAILABLE");
    }

    #[test]
    fn client_side_timeout_becomes_deadline_exceeded() {
        let status = tonic::Status::from_error(Box::new(tonic::TimeoutExpired(())));
        assert_eq!(status.code(), tonic::Code::Cancelled);
        let err = ClientError::from_call(status);
        assert_eq!(err.code(), Some(tonic::Code::DeadlineExceeded));
    }

    #[test]
    fn plain_cancellation_is_kept() {
        let err = ClientError::from_call(tonic::Status::cancelled("Timeout expired"));
        assert_eq!(err.code(), Some(tonic::Code::Cancelled));
    }

    #[test]
    fn invalid_address_has_no_code() {
        let err = ClientError::InvalidAddress {
            addr: "x".into(),
            reason: "bad".into(),
        };
        assert_eq!(err.code(), None);
        assert_eq!(err.to_string(), "invalid address \"x\": bad");
    }
}
