//! Counters shared between the accept loop, the handlers and the test.
//!
//! Everything is an atomic or a short-lived `std::sync::Mutex` (never held
//! across an `.await`), so reading a snapshot never waits on a request. Every
//! change calls [`Shared::changed`] so tests can *wait on a condition*
//! ([`super::Emulator::wait_until`]) instead of sleeping.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::HeaderMap;
use tokio::sync::Notify;

use super::conn::KillSwitch;

/// Snapshot of what the emulator has seen, returned by [`super::Emulator::stats`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmulatorStats {
    /// Chat-completion requests received (any outcome, including 400/401).
    pub requests: u64,
    /// TCP connections accepted since start; keep-alive reuse does not add to it.
    pub connections_opened: u64,
    /// TCP connections currently open (a pool-size gauge).
    pub connections_open: u64,
    /// Chat-completion requests currently being handled, including a
    /// streaming body that is still being sent.
    pub in_flight: u64,
    /// Requests that went away before the emulator finished answering
    /// (client timeout/disconnect, or emulator shutdown).
    pub cancelled: u64,
    /// High-water mark of `in_flight`.
    pub max_in_flight: u64,
    /// Requests currently waiting for a generation slot (see `EmulatorConfig::slots`).
    pub queued: u64,
    /// Requests that had to wait for a generation slot, since start (a
    /// counter; `queued` is the gauge of those waiting now).
    pub waited: u64,
    /// `GET /slots` answered (a router's queue reads).
    pub slot_reads: u64,
    /// Headers of the most recent chat-completion request, names lower-cased,
    /// in arrival order (values that are not UTF-8 are converted lossily).
    pub last_headers: Vec<(String, String)>,
    /// Body of the most recent chat-completion request, if it was valid JSON.
    pub last_body: Option<serde_json::Value>,
}

impl EmulatorStats {
    /// First value of header `name` (case-insensitive) in the last request.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.last_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Live state behind [`EmulatorStats`], plus the connection registry.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    requests: AtomicU64,
    connections_opened: AtomicU64,
    connections_open: AtomicU64,
    in_flight: AtomicU64,
    cancelled: AtomicU64,
    max_in_flight: AtomicU64,
    queued: AtomicU64,
    waited: AtomicU64,
    slot_reads: AtomicU64,
    last: Mutex<LastRequest>,
    /// Live connections, so shutdown can abort them (axum spawns one task per
    /// connection that outlives the server task).
    connections: Mutex<HashMap<u64, Arc<KillSwitch>>>,
    next_connection_id: AtomicU64,
    /// Woken on every counter change.
    pub(crate) changed: Notify,
}

#[derive(Debug, Default)]
struct LastRequest {
    headers: Vec<(String, String)>,
    body: Option<serde_json::Value>,
}

/// A poisoned lock only means another thread panicked mid-update of plain
/// data; the data is still usable, and a test kit must keep serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn snapshot(&self) -> EmulatorStats {
        let last = lock(&self.last);
        EmulatorStats {
            requests: self.requests.load(Ordering::SeqCst),
            connections_opened: self.connections_opened.load(Ordering::SeqCst),
            connections_open: self.connections_open.load(Ordering::SeqCst),
            in_flight: self.in_flight.load(Ordering::SeqCst),
            cancelled: self.cancelled.load(Ordering::SeqCst),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            queued: self.queued.load(Ordering::SeqCst),
            waited: self.waited.load(Ordering::SeqCst),
            slot_reads: self.slot_reads.load(Ordering::SeqCst),
            last_headers: last.headers.clone(),
            last_body: last.body.clone(),
        }
    }

    /// Counts a `GET /slots` answered.
    pub(crate) fn slots_read(&self) {
        self.slot_reads.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    pub(crate) fn record_request(&self, headers: &HeaderMap, body: Option<serde_json::Value>) {
        {
            let mut last = lock(&self.last);
            last.headers = headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            last.body = body;
        }
        self.changed.notify_waiters();
    }

    /// Registers a freshly accepted connection and returns its id.
    pub(crate) fn connection_opened(&self, switch: Arc<KillSwitch>) -> u64 {
        let id = self.next_connection_id.fetch_add(1, Ordering::SeqCst);
        lock(&self.connections).insert(id, switch);
        self.connections_opened.fetch_add(1, Ordering::SeqCst);
        self.connections_open.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        id
    }

    pub(crate) fn connection_closed(&self, id: u64) {
        lock(&self.connections).remove(&id);
        self.connections_open.fetch_sub(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Aborts every open connection (used by shutdown).
    pub(crate) fn kill_all_connections(&self) {
        let switches: Vec<_> = lock(&self.connections).values().cloned().collect();
        for s in switches {
            s.kill();
        }
    }
}

/// Tracks one chat-completion request from arrival until its response is
/// fully produced or dropped. Dropping it unfinished is what "cancelled"
/// means, which is why it travels inside the streaming body.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    shared: Arc<Shared>,
    finished: bool,
}

impl RequestGuard {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.requests.fetch_add(1, Ordering::SeqCst);
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        shared.changed.notify_waiters();
        Self {
            shared,
            finished: false,
        }
    }

    /// The emulator produced everything it meant to for this request.
    pub(crate) fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.cancelled.fetch_add(1, Ordering::SeqCst);
        }
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.shared.changed.notify_waiters();
    }
}

/// Counts a request as `queued` while it waits for a generation slot.
#[derive(Debug)]
pub(crate) struct QueuedGuard(Arc<Shared>);

impl QueuedGuard {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.queued.fetch_add(1, Ordering::SeqCst);
        shared.waited.fetch_add(1, Ordering::SeqCst);
        shared.changed.notify_waiters();
        Self(shared)
    }
}

impl Drop for QueuedGuard {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}
