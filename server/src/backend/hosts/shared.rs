//! What a pool's picker, its attempts and its discovery task share: the
//! current members (swapped whole, so a pick never sees a half-updated
//! list), the picking and ejection settings, and the signals between them
//! (wake discovery after a connect error, first round done).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::Notify;

use super::ejection::EjectionPolicy;
use super::host::{Host, key_of};
use crate::config::{EndpointConfig, PickChoices, PickPolicy};
use crate::upstream::UpstreamError;

/// A pool's shared state.
#[derive(Debug)]
pub struct Shared {
    /// The endpoint's name, for messages.
    pub endpoint: String,
    members: RwLock<Arc<[Arc<Host>]>>,
    /// How hosts are picked.
    pub policy: PickPolicy,
    /// How many hosts a load-based pick compares.
    pub choices: PickChoices,
    /// Load gap past which affinity yields.
    pub max_imbalance: u32,
    /// Prefix index size per host.
    pub index_blocks: usize,
    /// Time constant of each host's latency estimate.
    pub latency_decay: Duration,
    /// When hosts are ejected.
    pub ejection: EjectionPolicy,
    /// Round-robin turn.
    pub turn: AtomicUsize,
    /// Held by a pick from reading the hosts' loads until the chosen host
    /// counts it, so two concurrent picks never both take the same last
    /// free slot. Comparing every host, both would choose the same
    /// cheapest one: in the `hosts` bench at N = 8 (583 req/s, two worker
    /// threads) 10-16% of requests then waited for a slot. A pick holds it
    /// for a few microseconds: only the loads are read under it, the rest
    /// of each candidate (prefix match, heads, latency) before.
    pub picking: Mutex<()>,
    wake: Notify,
    discovered: AtomicBool,
    first_round: Notify,
    ejections: Counter,
}

impl Shared {
    /// The state of `config`'s pool, counting ejections on `ejections`.
    pub fn new(config: &EndpointConfig, ejections: Counter) -> Shared {
        Shared {
            endpoint: config.name.clone(),
            members: RwLock::new(Arc::from(Vec::new())),
            policy: config.pick,
            choices: config.pick_choices,
            max_imbalance: config.affinity_max_imbalance,
            index_blocks: config.prefix_blocks_per_host,
            latency_decay: config.latency_decay,
            ejection: EjectionPolicy {
                failures: config.ejection_failures,
                base: config.ejection_time,
            },
            turn: AtomicUsize::new(0),
            picking: Mutex::new(()),
            wake: Notify::new(),
            discovered: AtomicBool::new(false),
            first_round: Notify::new(),
            ejections,
        }
    }

    /// The current members (a cheap snapshot).
    pub fn members(&self) -> Arc<[Arc<Host>]> {
        self.members.read().clone()
    }

    /// Makes `base_urls` the members. Hosts already known keep their state
    /// (load, health, index); hosts that left live on in their in-flight
    /// attempts. A URL that is not usable is skipped with a warning.
    pub fn replace(&self, base_urls: &[String]) {
        let old = self.members();
        let mut next: Vec<Arc<Host>> = Vec::with_capacity(base_urls.len());
        for url in base_urls {
            let url = url.trim_end_matches('/');
            let key = key_of(url);
            if next.iter().any(|h| h.key == key) {
                continue;
            }
            match old.iter().find(|h| h.key == key) {
                Some(known) => next.push(known.clone()),
                None => match Host::new(url, self.index_blocks, self.latency_decay) {
                    Ok(host) => next.push(Arc::new(host)),
                    Err(why) => {
                        tracing::warn!(endpoint = %self.endpoint, %why, "skipping a host that cannot be used");
                    }
                },
            }
        }
        next.sort_by(|a, b| a.base_url.cmp(&b.base_url));
        let joined = next
            .iter()
            .filter(|h| !old.iter().any(|o| o.key == h.key))
            .count();
        let left = old
            .iter()
            .filter(|o| !next.iter().any(|h| h.key == o.key))
            .count();
        if joined + left > 0 {
            tracing::info!(endpoint = %self.endpoint, hosts = next.len(), joined, left, "endpoint hosts changed");
        }
        *self.members.write() = Arc::from(next);
        self.mark_discovered();
    }

    /// Records that discovery finished a round (hosts found or not).
    pub fn mark_discovered(&self) {
        if !self.discovered.swap(true, Ordering::AcqRel) {
            self.first_round.notify_waiters();
        }
    }

    /// Waits until discovery's first round is done, at most `patience`.
    pub async fn discovered(&self, patience: Duration) {
        let notified = self.first_round.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.discovered.load(Ordering::Acquire) {
            return;
        }
        let _ = tokio::time::timeout(patience, notified).await;
    }

    /// Asks discovery to look again now (after a connect error).
    pub fn wake_discovery(&self) {
        self.wake.notify_one();
    }

    /// Resolves when discovery is asked to look again.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Whether `error` counts against the host it came from. In a pool,
    /// every upstream failure does (a host failing where its peers serve
    /// is an outlier); a lone host counts only transport failures, since a
    /// multi-model gateway's 5xx or timeout for one model is that model's
    /// (its per-model breaker's), not the host's.
    pub fn counts_against_host(&self, error: &UpstreamError) -> bool {
        if self.members.read().len() > 1 {
            error.is_endpoint_failure()
        } else {
            error.is_transport()
        }
    }

    /// Notes an ejection.
    pub fn ejected(&self, host: &Host) {
        self.ejections.inc();
        tracing::warn!(endpoint = %self.endpoint, server.address = %host.address, server.port = host.port, "host ejected after repeated failures");
    }
}
