//! Upstream failures, classified by what the router may do next (retry,
//! fall back, give up) rather than by where they came from.

use std::time::Duration;

/// Why an upstream call failed. Messages carry the upstream's own words where
/// it gave any, with secrets scrubbed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// No connection could be made (refused, DNS, TLS, connect timeout).
    #[error("cannot reach {endpoint}: {detail}")]
    Connect {
        /// Endpoint display name.
        endpoint: String,
        /// What failed.
        detail: String,
    },
    /// The upstream answered with an HTTP error status.
    #[error("{endpoint} answered HTTP {status}: {message}")]
    Http {
        /// Endpoint display name.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The upstream's message.
        message: String,
        /// `Retry-After`, when sent.
        retry_after: Option<Duration>,
    },
    /// Nothing arrived within the first-token timeout.
    #[error("{endpoint} sent no token within {after:?}")]
    FirstTokenTimeout {
        /// Endpoint display name.
        endpoint: String,
        /// The timeout.
        after: Duration,
    },
    /// The stream went silent for longer than the token-gap timeout.
    #[error("{endpoint} stopped sending tokens for {after:?}")]
    TokenGapTimeout {
        /// Endpoint display name.
        endpoint: String,
        /// The timeout.
        after: Duration,
    },
    /// An error event arrived after HTTP 200 (the text so far is discarded).
    #[error("{endpoint} failed mid-generation: {message}")]
    InStream {
        /// Endpoint display name.
        endpoint: String,
        /// The upstream's message.
        message: String,
    },
    /// The connection broke while reading the answer.
    #[error("connection to {endpoint} broke mid-answer: {detail}")]
    Disconnected {
        /// Endpoint display name.
        endpoint: String,
        /// What failed.
        detail: String,
    },
    /// The answer could not be understood.
    #[error("{endpoint} sent an answer the router cannot parse: {detail}")]
    Protocol {
        /// Endpoint display name.
        endpoint: String,
        /// What was wrong.
        detail: String,
    },
    /// The endpoint's circuit breaker is open after repeated failures.
    #[error("{endpoint} is failing; its circuit breaker is open for another {retry_in:?}")]
    BreakerOpen {
        /// Endpoint display name.
        endpoint: String,
        /// Time until a probe is allowed.
        retry_in: Duration,
    },
}

impl UpstreamError {
    /// Short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            UpstreamError::Connect { .. } => "upstream_connect",
            UpstreamError::Http { .. } => "upstream_http",
            UpstreamError::FirstTokenTimeout { .. } => "upstream_first_token_timeout",
            UpstreamError::TokenGapTimeout { .. } => "upstream_token_gap_timeout",
            UpstreamError::InStream { .. } => "upstream_in_stream",
            UpstreamError::Disconnected { .. } => "upstream_disconnected",
            UpstreamError::Protocol { .. } => "upstream_protocol",
            UpstreamError::BreakerOpen { .. } => "upstream_breaker_open",
        }
    }

    /// Whether another attempt at the same endpoint may succeed, provided no
    /// output reached the client yet.
    pub fn is_retryable(&self) -> bool {
        match self {
            // A stream gone silent is retryable too: the caller has
            // nothing yet (`emitted` is checked first), and another host
            // may answer where this one hung.
            UpstreamError::Connect { .. }
            | UpstreamError::FirstTokenTimeout { .. }
            | UpstreamError::TokenGapTimeout { .. }
            | UpstreamError::Disconnected { .. } => true,
            // 500 too, as the OpenAI SDKs do: most are transient.
            UpstreamError::Http { status, .. } => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }

    /// Whether a different model may succeed where this one failed: not for
    /// the caller's own mistakes (400) or credentials (401/403).
    pub fn allows_fallback(&self) -> bool {
        match self {
            UpstreamError::Http { status, .. } => !matches!(status, 400 | 401 | 403),
            _ => true,
        }
    }

    /// Whether this failure counts against the upstream's health: every
    /// failure but a 4xx (the caller's doing, or a rate limit) and a
    /// refusal the router made itself.
    pub fn is_endpoint_failure(&self) -> bool {
        match self {
            UpstreamError::Http { status, .. } => *status >= 500,
            UpstreamError::BreakerOpen { .. } => false,
            _ => true,
        }
    }

    /// Whether the host could not be talked to at all (refused, reset,
    /// broken mid-answer): says nothing about the model it was asked for.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            UpstreamError::Connect { .. } | UpstreamError::Disconnected { .. }
        )
    }

    /// Whether this failure counts against the (endpoint, model) breaker:
    /// an endpoint failure that is not a transport one (those are the
    /// host's, see [`UpstreamError::is_transport`]).
    pub fn is_model_failure(&self) -> bool {
        self.is_endpoint_failure() && !self.is_transport()
    }
}
