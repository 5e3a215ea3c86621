//! Client-side balancing over every address a DNS name resolves to, such as
//! a Kubernetes headless Service (one A record per ready router pod).
//!
//! `dns:///name:port` is resolved at connect time and again every
//! [`BalanceOptions::refresh`]; each change (a pod added, a draining pod
//! gone from DNS) is fed to tonic's balanced channel
//! ([`Channel::balance_channel`], tower's power-of-two-choices balancer).
//! tonic's per-endpoint load is a constant, so between two ready endpoints
//! the pick is random; endpoints still connecting or broken are skipped. A
//! failed or empty re-resolution keeps the last known set: DNS trouble must
//! not take every router away.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

use crate::client::DEFAULT_CONNECT_TIMEOUT;
use crate::error::ClientError;

/// A name resolver: `(host, port)` to the addresses to balance over.
pub type Resolver = Arc<
    dyn Fn(String, u16) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>
        + Send
        + Sync,
>;

/// How a balanced client follows its name.
#[derive(Clone)]
pub struct BalanceOptions {
    /// How often the name is resolved again. Kubernetes DNS caches for
    /// about 5 s; resolving more often buys nothing.
    pub refresh: Duration,
    /// The resolver; the system's (`getaddrinfo`) unless replaced, e.g. by a
    /// test.
    pub resolver: Resolver,
}

impl Default for BalanceOptions {
    fn default() -> Self {
        BalanceOptions {
            refresh: Duration::from_secs(5),
            resolver: Arc::new(|host, port| {
                Box::pin(async move {
                    Ok(tokio::net::lookup_host((host.as_str(), port))
                        .await?
                        .collect())
                })
            }),
        }
    }
}

impl std::fmt::Debug for BalanceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BalanceOptions")
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

/// Splits `dns:///host:port` (gRPC's name syntax, no authority) into host
/// and port.
pub fn parse_dns_target(target: &str) -> Result<(String, u16), ClientError> {
    let invalid = |reason: &str| ClientError::InvalidAddress {
        addr: target.to_string(),
        reason: reason.to_string(),
    };
    let rest = target.strip_prefix("dns:///").ok_or_else(|| {
        invalid("expected dns:///host:port (a DNS server authority is not supported)")
    })?;
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| invalid("the port is missing (dns:///host:port)"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(invalid("the host is empty"));
    }
    let port = port
        .parse()
        .map_err(|_| invalid("the port is not a number"))?;
    Ok((host.to_string(), port))
}

/// Resolves `target`, builds the balanced channel over what it found, and
/// starts the task that follows the name. Fails if the first resolution
/// fails or finds nothing, so a typo is reported at connect time.
pub(crate) async fn balanced_channel(
    target: &str,
    options: BalanceOptions,
) -> Result<Channel, ClientError> {
    let (host, port) = parse_dns_target(target)?;
    let first =
        (options.resolver)(host.clone(), port)
            .await
            .map_err(|e| ClientError::InvalidAddress {
                addr: target.to_string(),
                reason: format!("cannot resolve {host}: {e}"),
            })?;
    if first.is_empty() {
        return Err(ClientError::InvalidAddress {
            addr: target.to_string(),
            reason: format!("{host} resolves to no address"),
        });
    }
    let (channel, changes) = Channel::balance_channel(64);
    let mut current = HashSet::new();
    apply(&changes, &mut current, first.into_iter().collect()).await;
    // The follower ends when every clone of the channel is gone (its change
    // receiver closes); it holds nothing else, so it needs no owner to stop
    // it, and the client crate has no task tracker to hand it to.
    #[allow(clippy::disallowed_methods)]
    tokio::spawn(follow(host, port, options, changes, current));
    Ok(channel)
}

/// Re-resolves every `refresh` and applies the difference.
async fn follow(
    host: String,
    port: u16,
    options: BalanceOptions,
    changes: Sender<Change<SocketAddr, Endpoint>>,
    mut current: HashSet<SocketAddr>,
) {
    loop {
        tokio::select! {
            _ = changes.closed() => return,
            _ = tokio::time::sleep(options.refresh) => {}
        }
        match (options.resolver)(host.clone(), port).await {
            Ok(found) if !found.is_empty() => {
                if !apply(&changes, &mut current, found.into_iter().collect()).await {
                    return;
                }
            }
            // Keep the last known routers rather than none.
            Ok(_) | Err(_) => {}
        }
    }
}

/// Inserts what is new, removes what is gone; false once the channel is gone.
async fn apply(
    changes: &Sender<Change<SocketAddr, Endpoint>>,
    current: &mut HashSet<SocketAddr>,
    found: HashSet<SocketAddr>,
) -> bool {
    for gone in current.difference(&found) {
        if changes.send(Change::Remove(*gone)).await.is_err() {
            return false;
        }
    }
    for new in found.difference(current) {
        let Ok(endpoint) = Endpoint::from_shared(format!("http://{new}")) else {
            continue; // a SocketAddr always formats into a valid URI
        };
        let endpoint = endpoint
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        if changes.send(Change::Insert(*new, endpoint)).await.is_err() {
            return false;
        }
    }
    *current = found;
    true
}

#[cfg(test)]
mod tests {
    use super::parse_dns_target;

    #[test]
    fn parses_grpc_dns_targets() {
        assert_eq!(
            parse_dns_target("dns:///ai-router-headless.ai.svc.cluster.local:50051").unwrap(),
            ("ai-router-headless.ai.svc.cluster.local".to_string(), 50051)
        );
        assert_eq!(
            parse_dns_target("dns:///[::1]:7").unwrap(),
            ("::1".to_string(), 7)
        );
        for bad in [
            "dns://8.8.8.8/x:1",
            "dns:///x",
            "dns:///:1",
            "dns:///x:port",
            "x:1",
        ] {
            assert!(parse_dns_target(bad).is_err(), "{bad} accepted");
        }
    }
}
