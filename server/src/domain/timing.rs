//! Where one request's time went: the breakdown the mission asks for
//! (queue, model acquire, time to first token, generation), recorded in
//! stats, on spans and in every response.

use std::time::Duration;

/// Where one request's time went.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestTiming {
    /// Waiting for admission permits.
    pub queue_wait: Duration,
    /// Getting a ready upstream (a model start included).
    pub model_acquire: Duration,
    /// Whether a process start was waited for.
    pub cold_start: bool,
    /// Arrival to first token.
    pub time_to_first_token: Option<Duration>,
    /// Arrival to completion.
    pub total: Duration,
    /// Upstream attempts.
    pub attempts: u32,
}
