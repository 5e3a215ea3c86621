//! State shared by all handlers of one emulator instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::behaviour::Behaviour;
use super::config::EmulatorConfig;
use super::stats::Shared;

#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub config: Arc<EmulatorConfig>,
    pub shared: Arc<Shared>,
    /// `None` when slots are unlimited.
    pub slots: Option<Arc<Semaphore>>,
    /// [`EmulatorConfig::behaviour`], parsed once at start.
    pub behaviour: Arc<Behaviour>,
    /// Requests seen per behaviour key, for `flaky=` and `rate_limit=`.
    attempts: Arc<Mutex<HashMap<String, u64>>>,
}

impl AppState {
    /// The state for `config`, or why its `behaviour` does not parse.
    pub(crate) fn new(config: EmulatorConfig, shared: Arc<Shared>) -> Result<Self, String> {
        let slots = config.slots.map(|n| Arc::new(Semaphore::new(n)));
        let behaviour = Behaviour::from_header(&config.behaviour)
            .map_err(|e| format!("EmulatorConfig::behaviour: {e}"))?;
        Ok(Self {
            config: Arc::new(config),
            shared,
            slots,
            behaviour: Arc::new(behaviour),
            attempts: Arc::default(),
        })
    }

    /// Returns how many earlier requests had this key (0 for the first),
    /// and counts this one.
    pub(crate) fn next_attempt(&self, key: &str) -> u64 {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.to_owned()).or_insert(0);
        let previous = *n;
        *n += 1;
        previous
    }
}
