//! Pool lifecycle events, broadcast to whoever listens (logs, tests waiting
//! for an eviction instead of sleeping). Sending never blocks; a listener
//! that falls behind misses old events.

use tokio::sync::broadcast;

/// Capacity of the event channel.
const CAPACITY: usize = 256;

/// Something that happened to a model's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolEvent {
    /// A process is starting.
    Loading {
        /// Model id.
        model: String,
    },
    /// An operator pinned or unpinned the model.
    Pinned {
        /// Model id.
        model: String,
        /// The new setting.
        pinned: bool,
    },
    /// A process became ready.
    Ready {
        /// Model id.
        model: String,
        pid: u32,
    },
    /// A process was stopped to make room or because it was idle.
    Evicted {
        /// Model id.
        model: String,
        pid: u32,
        /// "room" (the count cap), "memory", "idle_ttl" or "unload".
        reason: &'static str,
    },
    /// A process died or was killed as hung.
    Died {
        /// Model id.
        model: String,
        pid: u32,
    },
    /// A config reload catalogued the model (new, or with a changed file
    /// or settings).
    Added {
        /// Model id.
        model: String,
    },
    /// A config reload dropped the model; its process drains and stops.
    Removed {
        /// Model id.
        model: String,
    },
    StartFailed {
        /// Model id.
        model: String,
        /// Why.
        error: String,
    },
}

/// The sending side, owned by the pool.
pub struct Events(broadcast::Sender<PoolEvent>);

impl Default for Events {
    fn default() -> Self {
        Events(broadcast::channel(CAPACITY).0)
    }
}

impl Events {
    /// Publishes an event (dropped when nobody listens).
    pub fn send(&self, event: PoolEvent) {
        let _ = self.0.send(event);
    }

    /// A new listener.
    pub fn subscribe(&self) -> broadcast::Receiver<PoolEvent> {
        self.0.subscribe()
    }
}
