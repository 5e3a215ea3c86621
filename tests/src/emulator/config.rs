//! Emulator-wide settings (per-request behaviour comes from directives).

use std::time::Duration;

/// Settings for [`super::Emulator::start_with`]. Build with
/// `EmulatorConfig::default().with_...(..)` or a struct literal with
/// `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// Wait before answering (before headers) unless a `delay=` directive
    /// overrides it; models network + prompt-processing latency.
    pub delay: Duration,
    /// Per-token generation time unless a `gap=` directive overrides it.
    pub token_gap: Duration,
    /// At most this many requests generate at once, the rest queue (like
    /// llama-server's parallel slots). `None` = unlimited. Must be >= 1.
    pub slots: Option<usize>,
    /// If set, chat requests must carry `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Tokens produced when neither `tokens=` nor `max_tokens` limits them.
    pub default_tokens: u64,
    /// Ids listed by `GET /v1/models`.
    pub models: Vec<String>,
    /// Directives applied to every chat request (`status=500`,
    /// `delay=2s`), under those of the header and the model name: how one
    /// host of a pool is made faulty while the router sends every host the
    /// same model. Empty = none.
    pub behaviour: String,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            token_gap: Duration::ZERO,
            slots: None,
            api_key: None,
            default_tokens: 8,
            models: vec!["emulator/model".to_owned()],
            behaviour: String::new(),
        }
    }
}

impl EmulatorConfig {
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn with_token_gap(mut self, gap: Duration) -> Self {
        self.token_gap = gap;
        self
    }

    pub fn with_slots(mut self, slots: usize) -> Self {
        self.slots = Some(slots);
        self
    }

    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    pub fn with_default_tokens(mut self, tokens: u64) -> Self {
        self.default_tokens = tokens;
        self
    }

    pub fn with_behaviour(mut self, directives: impl Into<String>) -> Self {
        self.behaviour = directives.into();
        self
    }

    pub fn with_models(mut self, models: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.models = models.into_iter().map(Into::into).collect();
        self
    }
}
