//! A pool of upstream hosts behind one remote endpoint: several
//! llama-server, vLLM or Ollama hosts serving the same models. Each attempt
//! of a call asks the pool for a host ([`HostSource`]); the pool filters
//! (not ejected, within the "at most half out" cap; not already tried by
//! this call while another host can take it), then picks by load and prompt
//! prefix. One file per job:
//! - [`discovery`]: listed, DNS or file membership, re-read in the background;
//! - [`shared`]: the current members, swapped whole, and the signals;
//! - [`host`]: one host's URL, load, latency, health and prefix index;
//! - [`picker`]: the choice (power of two choices, prefix affinity,
//!   rendezvous hashing, round robin);
//! - [`latency`]: each host's peak-EWMA latency, the picker's cost;
//! - [`prefix`]: prompt block hashes and the per-host index;
//! - [`ejection`]: outlier ejection per host;
//! - [`queue_depth`]: the hosts' own queues, read from their `/metrics`
//!   or `/slots`, and their slot counts;
//! - [`probe`]: the active probe, a one-token generation;
//! - [`gauges`]: hosts, ejections, loads and slots in `/metrics`.
//!
//! A `base_url` endpoint is a pool of one: the same code path, with
//! ejection acting as that host's breaker.

mod discovery;
mod ejection;
mod gauges;
mod host;
mod latency;
mod picker;
mod prefix;
mod probe;
mod queue_depth;
mod shared;

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

use crate::config::{EndpointConfig, PickPolicy};
use crate::lifecycle::Lifecycle;
use crate::upstream::{ApiKey, ChatCall, HostAttempt, HostKey, HostSource, UpstreamError};
pub use gauges::HostGauges;
use tokio_util::sync::DropGuard;

use discovery::Source;
use host::Host;
use picker::Candidate;
use shared::Shared;

/// One endpoint's hosts.
#[derive(Debug)]
pub struct HostPool {
    shared: Arc<Shared>,
    source: Source,
    /// Stops this pool's discovery, probe and queue-depth tasks when the
    /// pool goes (a reload dropped or rebuilt its endpoint and the last call
    /// through it ended), or with the root token at shutdown.
    _tasks_stop: DropGuard,
}

impl HostPool {
    /// The pool for an endpoint: its listed hosts now, or a discovery task
    /// on `life`'s tracker that finds them (stopping on its root token, or
    /// when the pool is dropped).
    /// `api_key` authorises its probes.
    pub fn start(
        config: &EndpointConfig,
        api_key: Option<ApiKey>,
        ejections: Counter,
        life: &Lifecycle,
    ) -> Result<Arc<HostPool>, String> {
        let source = Source::parse(config.discovery.as_deref(), config.listed_hosts())?;
        let stop = life.root().child_token();
        let shared = Arc::new(Shared::new(config, ejections));
        let reads = queue_depth::Reads {
            metrics: config.queue_metrics.is_some(),
            slots: config.queue_slots.is_some(),
        };
        // A key that is not a valid header value fails every call through
        // the endpoint with that message; reads go without.
        let auth = api_key.as_ref().and_then(|k| k.bearer().ok());
        let reader = || -> Result<queue_depth::Reader, String> {
            Ok(queue_depth::Reader {
                http: reqwest::Client::builder()
                    .connect_timeout(config.connect_timeout)
                    .build()
                    .map_err(|e| format!("cannot build the queue metrics client: {e}"))?,
                auth: auth.clone(),
            })
        };
        if let Some(interval) = config
            .queue_metrics
            .into_iter()
            .chain(config.queue_slots)
            .min()
        {
            life.spawn(queue_depth::run(
                shared.clone(),
                reader()?,
                reads,
                interval,
                stop.clone(),
            ));
        }
        if let Some(model) = &config.probe_model {
            let http = reqwest::Client::builder()
                .connect_timeout(config.connect_timeout)
                .build()
                .map_err(|e| format!("cannot build the probe client: {e}"))?;
            let prober = probe::Prober {
                http,
                model: model.clone(),
                api_key,
                timeout: config.first_token_timeout.min(config.probe_interval),
            };
            life.spawn(probe::run(
                shared.clone(),
                prober,
                config.probe_interval,
                stop.clone(),
            ));
        }
        if let Source::Listed(urls) = &source {
            for url in urls {
                crate::config::chat_url(url)?;
            }
            shared.replace(urls);
        } else {
            life.spawn(discovery::run(
                shared.clone(),
                source.clone(),
                config.discovery_interval,
                stop.clone(),
            ));
        }
        // After the listed hosts are in, so its first round finds them.
        if config.learn_slots && config.queue_slots.is_none() && source.may_have_several() {
            life.spawn(queue_depth::learn_slots(
                shared.clone(),
                reader()?,
                stop.clone(),
            ));
        }
        Ok(Arc::new(HostPool {
            shared,
            source,
            _tasks_stop: stop.drop_guard(),
        }))
    }

    /// Waits (at most `patience`) for discovery's first round, so a
    /// request right after start-up finds the hosts.
    pub async fn discovered(&self, patience: Duration) {
        if self.source.is_dynamic() {
            self.shared.discovered(patience).await;
        }
    }

    /// How many hosts it has now.
    pub fn len(&self) -> usize {
        self.shared.members().len()
    }

    /// Whether it has no host now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each host's `address:port` and load for picking now (the load
    /// gauge's figures).
    pub fn host_loads(&self) -> Vec<(String, u32)> {
        self.shared
            .members()
            .iter()
            .map(|h| (h.label(), h.load()))
            .collect()
    }

    /// Each host's `address:port` and slot count, if known (the slots
    /// gauge's figures).
    pub fn host_slots(&self) -> Vec<(String, Option<u32>)> {
        self.shared
            .members()
            .iter()
            .map(|h| (h.label(), h.slots()))
            .collect()
    }

    /// The `address:port` of each host ejected now.
    pub fn ejected_hosts(&self) -> Vec<String> {
        let now = Instant::now();
        self.shared
            .members()
            .iter()
            .filter(|h| h.ejected_until(now).is_some())
            .map(|h| h.label())
            .collect()
    }

    /// The hosts that could take an attempt now, with the "at most half
    /// out" cap applied; `tried` hosts only when nothing else is left.
    fn candidates(&self, hosts: &[Arc<Host>], tried: &[HostKey], now: Instant) -> Vec<usize> {
        let ejected: Vec<Option<Instant>> = hosts.iter().map(|h| h.ejected_until(now)).collect();
        let out = ejection::capped(&ejected);
        let usable = |i: &usize| !out[*i];
        let fresh: Vec<usize> = (0..hosts.len())
            .filter(usable)
            .filter(|i| !tried.contains(&hosts[*i].key))
            .collect();
        if fresh.is_empty() {
            (0..hosts.len()).filter(usable).collect()
        } else {
            fresh
        }
    }

    fn no_host(&self, hosts: &[Arc<Host>], now: Instant) -> UpstreamError {
        let endpoint = self.shared.endpoint.clone();
        match hosts.first().and_then(|h| h.ejected_until(now)) {
            // A lone host is ejected: fail at once, as a breaker does.
            Some(until) => UpstreamError::BreakerOpen {
                endpoint,
                retry_in: until.saturating_duration_since(now),
            },
            None => UpstreamError::Connect {
                endpoint,
                detail: match &self.source {
                    Source::Listed(_) => "it has no hosts".to_string(),
                    _ => "host discovery has found no hosts (yet)".to_string(),
                },
            },
        }
    }
}

impl HostSource for HostPool {
    fn pick(
        &self,
        call: &ChatCall,
        tried: &[HostKey],
    ) -> Result<Box<dyn HostAttempt>, UpstreamError> {
        let hosts = self.shared.members();
        let now = Instant::now();
        // A pool of one (every `base_url` endpoint): no choice to make.
        if let [only] = &hosts[..] {
            if only.ejected_until(now).is_some() {
                return Err(self.no_host(&hosts, now));
            }
            record_pick(only, picker::Reason::Only, 1, 0);
            return Ok(only.begin(self.shared.clone(), Vec::new(), 0, 0));
        }
        let usable = self.candidates(&hosts, tried, now);
        if usable.is_empty() {
            return Err(self.no_host(&hosts, now));
        }
        // The prompt is hashed only where affinity can matter; the index
        // then learns from every answer, retries included.
        let blocks = if self.shared.policy == PickPolicy::Prefix {
            prefix::prompt_blocks(&call.model, &call.messages)
        } else {
            Vec::new()
        };
        let mut candidates: Vec<Candidate> = usable
            .iter()
            .map(|&i| {
                let (heads, home) = blocks.first().map_or((0, false), |f| hosts[i].heads(*f));
                Candidate {
                    load: 0,
                    matched: hosts[i].matched(&blocks),
                    rendezvous: blocks.first().map(|f| hosts[i].rendezvous(*f)),
                    latency: hosts[i].latency(now),
                    heads,
                    home,
                    slots: hosts[i].slots(),
                }
            })
            .collect();
        // From reading the loads to counting this pick in one of them; the
        // rest was gathered before, so the lock covers a few loads.
        let _picking = self.shared.picking.lock();
        for (c, &i) in candidates.iter_mut().zip(&usable) {
            c.load = hosts[i].load();
        }
        let turn = self
            .shared
            .turn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pick = picker::pick(
            self.shared.policy,
            &candidates,
            self.shared.max_imbalance,
            self.shared.choices,
            turn,
            &mut rand::rng(),
        );
        let host = &hosts[usable[pick.index]];
        let matched = candidates[pick.index].matched;
        if let Some(first) = blocks.first() {
            host.note_head(*first);
        }
        record_pick(host, pick.reason, candidates.len(), matched);
        let prompt_bytes = if blocks.is_empty() {
            0
        } else {
            call.messages
                .iter()
                .map(|m| m.role.as_str().len() + m.content.len() + 2)
                .sum()
        };
        Ok(host.begin(self.shared.clone(), blocks, matched, prompt_bytes))
    }

    fn has_untried(&self, tried: &[HostKey]) -> bool {
        let now = Instant::now();
        self.shared
            .members()
            .iter()
            .any(|h| !tried.contains(&h.key) && h.ejected_until(now).is_none())
    }
}

/// Records a pick on the current span (the `upstream_call` span declares
/// the fields; elsewhere this does nothing).
fn record_pick(host: &Host, reason: picker::Reason, candidates: usize, matched: usize) {
    let span = tracing::Span::current();
    span.record("server.address", host.address.as_str());
    span.record("server.port", i64::from(host.port));
    span.record("pick.reason", reason.label());
    span.record("pick.candidates", candidates as i64);
    span.record("pick.matched_blocks", matched as i64);
}

#[cfg(test)]
mod tests;
