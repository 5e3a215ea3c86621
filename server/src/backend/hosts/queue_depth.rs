//! The hosts' own queues: llama-server started with `--metrics` exports
//! `llamacpp:requests_deferred`, the requests waiting for a free slot (sent
//! by every client, other router replicas included). When an endpoint sets
//! `queue_metrics`, one task per pool reads every host's `/metrics` at that
//! interval and the figure is added to the host's load for picking. A host
//! that does not answer (or exports no such line) counts a queue of 0.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::shared::Shared;

/// The metric read.
const DEFERRED: &str = "llamacpp:requests_deferred";

/// The deferred-request count in a Prometheus text exposition, if present.
pub fn deferred(exposition: &str) -> Option<u32> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let rest = l.strip_prefix(DEFERRED)?;
            // `name value` or `name{labels} value`.
            let value = rest.rsplit(char::is_whitespace).next()?;
            let v: f64 = value.parse().ok()?;
            (v.is_finite() && v >= 0.0).then_some(v.min(f64::from(u32::MAX)) as u32)
        })
}

/// Reads every host's queue every `interval` until `stop`.
pub async fn run(
    shared: Arc<Shared>,
    http: reqwest::Client,
    interval: Duration,
    stop: CancellationToken,
) {
    loop {
        for host in shared.members().iter() {
            let depth = match host.chat_url.join("/metrics") {
                Ok(url) => read(&http, url, interval).await.unwrap_or(0),
                Err(_) => 0,
            };
            host.set_queue_depth(depth);
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

async fn read(http: &reqwest::Client, url: reqwest::Url, patience: Duration) -> Option<u32> {
    let response = http.get(url).timeout(patience).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    deferred(&response.text().await.ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deferred_count_is_read_from_llama_servers_exposition() {
        let text = "# HELP llamacpp:requests_deferred Number of requests deferred.\n\
                    # TYPE llamacpp:requests_deferred gauge\n\
                    llamacpp:requests_processing 4\n\
                    llamacpp:requests_deferred 3\n";
        assert_eq!(deferred(text), Some(3));
        assert_eq!(
            deferred("llamacpp:requests_deferred{slot=\"x\"} 2.0\n"),
            Some(2)
        );
        assert_eq!(deferred("llamacpp:requests_processing 4\n"), None);
        assert_eq!(deferred("llamacpp:requests_deferred NaN\n"), None);
    }
}
