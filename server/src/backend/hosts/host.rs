//! One upstream host of a pool: its URLs (parsed once when it joins), its
//! load (requests in flight from this router), its latency, its health and
//! its prefix index. A host that leaves the pool lives on in the attempts still using
//! it, which finish normally.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use http::Uri;
use lru::LruCache;
use parking_lot::Mutex;
use reqwest::Url;
use xxhash_rust::xxh3::xxh3_64;

use super::ejection::{EjectionPolicy, Health};
use super::latency::PeakEwma;
use super::picker;
use super::prefix::{BLOCK_BYTES, PrefixIndex, nonzero};
use super::shared::Shared;
use crate::upstream::{AttemptResult, HostAttempt, HostKey, UpstreamError, uri_of};

/// One host.
#[derive(Debug)]
pub struct Host {
    /// Stable key: a hash of its base URL.
    pub key: HostKey,
    /// Its base URL, as configured or discovered.
    pub base_url: String,
    /// Its chat completions URL (for probes and scrapes).
    pub chat_url: Url,
    /// The same, for the request path's client.
    pub chat_uri: Uri,
    /// Host name or address, for `server.address`.
    pub address: String,
    /// Port, for `server.port`.
    pub port: u16,
    in_flight: AtomicU32,
    /// The host's own figures, when read: requests deferred (`/metrics`),
    /// or with `/slots` read the other clients' busy slots and deferred
    /// requests.
    queue_depth: AtomicU32,
    /// Its slots (llama-server's `--parallel`) from `/slots`; 0 unknown.
    slots: AtomicU32,
    /// It answered the one `/slots` read of a pool that does not read
    /// `/slots` at an interval, with its slots or with none to list: not
    /// asked again.
    slots_asked: AtomicBool,
    health: Mutex<Health>,
    index: Mutex<PrefixIndex>,
    /// First blocks of the prompts it was picked for: the conversations
    /// (customers) it is home to, for rendezvous with bounded loads.
    heads: Mutex<LruCache<u64, ()>>,
    latency: Mutex<PeakEwma>,
    /// The latency estimate's time constant.
    latency_decay: Duration,
}

impl Host {
    /// A host at `base_url` (up to the version segment), or why the URL is
    /// not usable.
    pub fn new(
        base_url: &str,
        index_blocks: usize,
        latency_decay: Duration,
    ) -> Result<Host, String> {
        let chat_url = crate::config::chat_url(base_url)?;
        let chat_uri = uri_of(&chat_url)?;
        let address = chat_url.host_str().unwrap_or_default().to_string();
        let port = chat_url.port_or_known_default().unwrap_or_default();
        Ok(Host {
            key: key_of(base_url),
            base_url: base_url.to_string(),
            chat_url,
            chat_uri,
            address,
            port,
            in_flight: AtomicU32::new(0),
            queue_depth: AtomicU32::new(0),
            slots: AtomicU32::new(0),
            slots_asked: AtomicBool::new(false),
            health: Mutex::new(Health::default()),
            index: Mutex::new(PrefixIndex::new(index_blocks)),
            heads: Mutex::new(LruCache::new(nonzero(HEADS))),
            latency: Mutex::new(PeakEwma::default()),
            latency_decay,
        })
    }

    /// `address:port`, its label in metrics.
    pub fn label(&self) -> String {
        format!("{}:{}", self.address, self.port)
    }

    /// Its load for picking: requests in flight to it from this router,
    /// plus its own queue or other clients' requests when those are read
    /// (`queue_metrics`, `queue_slots`).
    pub fn load(&self) -> u32 {
        self.in_flight()
            .saturating_add(self.queue_depth.load(Ordering::Relaxed))
    }

    /// Requests in flight to it from this router.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Its slots, once `/slots` has been read.
    pub fn slots(&self) -> Option<u32> {
        match self.slots.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    /// The expected wait, in latencies, of a request sent to it now: 1
    /// with a free slot or unknown slots.
    fn queue_factor(&self) -> f64 {
        self.slots()
            .map_or(1.0, |slots| picker::wait_factor(self.load(), slots))
    }

    /// Records how many slots it has (0: unknown).
    pub fn set_slots(&self, slots: u32) {
        self.slots.store(slots, Ordering::Relaxed);
    }

    /// Whether it has answered the one `/slots` read (see `slots_asked`).
    pub fn slots_asked(&self) -> bool {
        self.slots_asked.load(Ordering::Relaxed)
    }

    /// Notes that it answered the one `/slots` read.
    pub fn set_slots_asked(&self) {
        self.slots_asked.store(true, Ordering::Relaxed);
    }

    /// Its peak-EWMA latency in seconds at `now`, None before its first answer.
    pub fn latency(&self, now: Instant) -> Option<f64> {
        self.latency.lock().seconds(now, self.latency_decay)
    }

    /// Takes in an attempt's latency.
    fn observe_latency(&self, latency: Duration, now: Instant) {
        self.latency
            .lock()
            .observe(latency, now, self.latency_decay);
    }

    /// Records the host's own queue length (or the other clients' load).
    pub fn set_queue_depth(&self, depth: u32) {
        self.queue_depth.store(depth, Ordering::Relaxed);
    }

    /// When its ejection ends, if it is ejected.
    pub fn ejected_until(&self, now: Instant) -> Option<Instant> {
        self.health.lock().ejected_until(now)
    }

    /// Leading blocks of a prompt its index holds.
    pub fn matched(&self, blocks: &[u64]) -> usize {
        if blocks.is_empty() {
            return 0;
        }
        self.index.lock().matched(blocks)
    }

    /// How many distinct prompt heads (first blocks) it was picked for, of
    /// the last [`HEADS`], and whether `first` is one of them (it is home
    /// to that conversation). One look at the set for both.
    pub fn heads(&self, first: u64) -> (usize, bool) {
        let heads = self.heads.lock();
        (heads.len(), heads.contains(&first))
    }

    /// Notes that it was picked for a prompt whose first block is `first`.
    pub fn note_head(&self, first: u64) {
        self.heads.lock().put(first, ());
    }

    /// Its rendezvous weight for a prompt whose first block is `first`.
    pub fn rendezvous(&self, first: u64) -> u64 {
        // Mix the two keys, then hash: the same on every router replica.
        xxh3_64(&(first ^ self.key.rotate_left(32)).to_le_bytes())
    }

    /// Starts an attempt on it: counted in its load until finished or dropped.
    pub fn begin(
        self: &Arc<Host>,
        shared: Arc<Shared>,
        blocks: Vec<u64>,
        matched: usize,
        prompt_bytes: usize,
    ) -> Box<dyn HostAttempt> {
        // With its slots known, a request sent to a full host waits in
        // its queue, and that wait is the slot term of the picker's cost:
        // the latency taken in is scaled back to a free slot's, or one
        // queued answer would make the host look slow and the cost would
        // then prefer a full host to it while it has free slots.
        let queue_factor = self.queue_factor();
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Box::new(Attempt {
            host: self.clone(),
            started: Instant::now(),
            queue_factor,
            shared,
            blocks,
            matched,
            prompt_bytes,
        })
    }

    /// A probe answered: as a call that answered.
    pub fn probe_answered(&self) {
        self.health.lock().on_success(Instant::now());
    }

    /// A probe failed: as a failed call; true when it ejected the host.
    pub fn probe_failed(&self, policy: EjectionPolicy) -> bool {
        self.health.lock().on_failure(policy, Instant::now())
    }

    #[cfg(test)]
    pub(super) fn fail(&self, policy: EjectionPolicy, now: Instant) -> bool {
        self.health.lock().on_failure(policy, now)
    }
}

/// Prompt heads remembered per host: enough to balance the conversations
/// of a busy pool; past it every host counts the same, and rendezvous is
/// unbounded again.
const HEADS: usize = 1024;

/// A host's key for a base URL.
pub fn key_of(base_url: &str) -> HostKey {
    xxh3_64(base_url.as_bytes())
}

/// One attempt on a host.
struct Attempt {
    host: Arc<Host>,
    /// When it was picked (its latency runs from here).
    started: Instant,
    /// The expected wait at the pick in latencies (1 with a free slot or
    /// unknown slots): its latency is divided by it.
    queue_factor: f64,
    shared: Arc<Shared>,
    /// The prompt's block hashes (empty unless prefix picking is on).
    blocks: Vec<u64>,
    /// How many of them the host's index held when it was picked.
    matched: usize,
    /// The prompt's length in bytes (to turn reused tokens into blocks).
    prompt_bytes: usize,
}

impl HostAttempt for Attempt {
    fn key(&self) -> HostKey {
        self.host.key
    }

    fn chat_url(&self) -> &Uri {
        &self.host.chat_uri
    }

    fn finish(self: Box<Self>, result: AttemptResult<'_>) -> bool {
        let now = Instant::now();
        match result {
            AttemptResult::Answered {
                prompt_tokens,
                cached_tokens,
                first_token_at,
            } => {
                let answered = first_token_at.unwrap_or(now);
                self.host.observe_latency(
                    answered
                        .saturating_duration_since(self.started)
                        .div_f64(self.queue_factor),
                    now,
                );
                self.host.health.lock().on_success(now);
                if !self.blocks.is_empty() {
                    let mut index = self.host.index.lock();
                    if let Some(cached) = cached_tokens.filter(|_| prompt_tokens > 0) {
                        let reused = self.prompt_bytes as u64 * u64::from(cached)
                            / u64::from(prompt_tokens)
                            / BLOCK_BYTES as u64;
                        index.observe(self.matched, reused as usize);
                    }
                    index.insert(&self.blocks);
                }
                false
            }
            AttemptResult::Failed(error) => {
                // No answer within the first-token timeout: the host is at
                // least that slow. (Other failures say nothing of its speed;
                // a refused connection is fast, and must not look cheap.)
                if matches!(error, UpstreamError::FirstTokenTimeout { .. }) {
                    self.host.observe_latency(
                        now.saturating_duration_since(self.started)
                            .div_f64(self.queue_factor),
                        now,
                    );
                }
                if error.is_transport() {
                    // Membership may be stale (a pod went away): look again.
                    self.shared.wake_discovery();
                }
                let blamed = self.shared.counts_against_host(error);
                if blamed {
                    let policy: EjectionPolicy = self.shared.ejection;
                    if self.host.health.lock().on_failure(policy, now) {
                        self.shared.ejected(&self.host);
                    }
                }
                blamed
            }
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.host.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_beyond_the_slots_expects_a_longer_wait() {
        let host = Host::new("http://h:1/v1", 16, Duration::from_secs(10)).unwrap();
        // Unknown slots: latencies are taken in as they come.
        host.in_flight.store(5, Ordering::Relaxed);
        assert_eq!(host.queue_factor(), 1.0);
        host.set_slots(2);
        host.in_flight.store(1, Ordering::Relaxed);
        assert_eq!(host.queue_factor(), 1.0, "a slot is free");
        host.in_flight.store(2, Ordering::Relaxed);
        assert_eq!(
            host.queue_factor(),
            1.5,
            "half a latency for a slot to free"
        );
        host.in_flight.store(3, Ordering::Relaxed);
        assert_eq!(host.queue_factor(), 2.0);
        // Other clients' requests count the same as ours.
        host.in_flight.store(0, Ordering::Relaxed);
        host.set_queue_depth(3);
        assert_eq!(host.queue_factor(), 2.0);
    }
}
