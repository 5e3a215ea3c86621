//! Handles shared by every upstream HTTP client (local children and remote
//! endpoints): connections, requests, retries, breaker trips.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// Upstream handles. Clones share the counters.
#[derive(Debug, Clone, Default)]
pub struct UpstreamMetrics {
    /// TCP connections opened.
    pub connections_opened: Counter,
    /// HTTP requests sent (attempts, retries included).
    pub requests_sent: Counter,
    /// Retries made.
    pub retries: Counter,
    /// Retries the retry budget refused (the call failed with its last error).
    pub retries_denied_by_budget: Counter,
    /// Times a circuit breaker opened (a failed half-open probe re-opens it).
    pub breaker_opened: Counter,
    /// Times a pooled endpoint's host was ejected after repeated failures.
    pub host_ejections: Counter,
}

impl UpstreamMetrics {
    /// Creates the handles and registers them.
    pub fn register(r: &mut Registry) -> UpstreamMetrics {
        let m = UpstreamMetrics::default();
        for (name, help, c) in [
            (
                "upstream_connections_opened",
                "Upstream TCP connections opened",
                &m.connections_opened,
            ),
            (
                "upstream_requests",
                "Upstream HTTP requests sent, retries included",
                &m.requests_sent,
            ),
            ("upstream_retries", "Upstream retries made", &m.retries),
            (
                "upstream_retries_denied",
                "Retries the retry budget refused",
                &m.retries_denied_by_budget,
            ),
            (
                "upstream_breaker_opened",
                "Times a circuit breaker opened",
                &m.breaker_opened,
            ),
            (
                "upstream_host_ejections",
                "Times an endpoint's host was ejected from picking after repeated failures",
                &m.host_ejections,
            ),
        ] {
            r.register(name, help, c.clone());
        }
        m
    }
}
