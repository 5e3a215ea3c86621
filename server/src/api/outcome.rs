//! Records every request's outcome exactly once, including requests whose
//! future is dropped because the caller cancelled (recorded as CANCELLED).

use crate::domain::{Completion, Embeddings, Outcome};
use crate::engine::Engine;
use crate::error::RouterError;

/// Stats label for requests whose model id was not valid.
pub const INVALID_MODEL: &str = "<invalid>";
/// Stats label for valid ids that no route serves.
pub const UNKNOWN_MODEL: &str = "<unknown>";

/// Stats label for requests the access layer refused before running them.
pub const DENIED_MODEL: &str = "<denied>";

/// Records a request rejected before it ran: by validation (its model id
/// is not trusted) or by the access layer.
pub fn record_invalid(engine: &Engine, error: &RouterError) {
    let label = match error {
        RouterError::Access(_) => DENIED_MODEL,
        _ => INVALID_MODEL,
    };
    engine.stats().record(label, error.outcome(), None, 0, None);
}

/// Drop guard recording one request's outcome.
pub struct OutcomeRecorder<'a> {
    engine: &'a Engine,
    model: &'a str,
    recorded: bool,
}

impl<'a> OutcomeRecorder<'a> {
    /// Starts tracking a request for `model` (a validated id or a placeholder).
    pub fn new(engine: &'a Engine, model: &'a str) -> OutcomeRecorder<'a> {
        OutcomeRecorder {
            engine,
            model,
            recorded: false,
        }
    }

    /// Records the result. Called inside the request's span: a sampled
    /// trace's id becomes the latency histograms' exemplar.
    pub fn finish(self, result: &Result<Completion, RouterError>) {
        match result {
            Ok(c) => self.ok(&c.timing, c.completion_tokens),
            Err(e) => self.failed(e),
        }
    }

    /// Records an embedding call's result (inside its span, as `finish`).
    pub fn finish_embed(self, result: &Result<Embeddings, RouterError>) {
        match result {
            Ok(e) => self.ok(&e.timing, 0),
            Err(e) => self.failed(e),
        }
    }

    fn ok(mut self, timing: &crate::domain::RequestTiming, tokens: u32) {
        self.recorded = true;
        let trace = crate::telemetry::sampled_trace_id();
        self.engine
            .stats()
            .record(self.model, Outcome::Ok, Some(timing), tokens, trace);
    }

    fn failed(mut self, e: &RouterError) {
        self.recorded = true;
        let model = if matches!(e, RouterError::ModelNotFound { .. }) {
            UNKNOWN_MODEL
        } else {
            self.model
        };
        self.engine
            .stats()
            .record(model, e.outcome(), None, 0, None);
    }
}

impl Drop for OutcomeRecorder<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.engine
                .stats()
                .record(self.model, Outcome::Cancelled, None, 0, None);
        }
    }
}
