//! Local models: the pool hands out a lease on a warm llama-server child,
//! and the request goes to its loopback URL through the shared local client.

use reqwest::header::HeaderMap;

use crate::config::{EndpointKind, LocalConfig};
use crate::pool::Lease;
use crate::upstream::{AttemptTimeouts, Target};

/// The upstream target for a leased child. Always streamed: streaming gives
/// time-to-first-token and lets a hung child be detected by token gaps.
pub fn local_target(lease: &Lease, config: &LocalConfig) -> Target {
    Target {
        endpoint: format!("local:{}", lease.model()),
        base_url: lease.base_url().to_string(),
        api_key: None,
        kind: EndpointKind::OpenAi,
        stream: true,
        timeouts: AttemptTimeouts {
            first_token: config.first_token_timeout,
            token_gap: config.token_gap_timeout,
        },
        headers: HeaderMap::new(),
    }
}
