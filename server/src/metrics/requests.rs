//! Request-level handles: finished requests by (model, outcome), completion
//! tokens, the latency of each phase, and cost and completions per remote
//! endpoint. The stats recorder records into them; `Stats` and `/metrics`
//! read them.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};

use super::LatencyHistogram;
use crate::domain::Outcome;

/// Most distinct (model, outcome) series; later pairs are counted under
/// [`OTHER_MODEL`] (at most one more series per outcome) so a caller sending
/// random (valid) ids cannot grow memory or the scrape.
pub const MAX_REQUEST_SERIES: usize = 1024;
/// The model label of requests beyond [`MAX_REQUEST_SERIES`].
pub const OTHER_MODEL: &str = "<other>";

/// Labels of `ai_router_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// A validated model id or a placeholder (`<invalid>`, `<unknown>`, `<other>`).
    pub model: String,
    /// [`Outcome::name`].
    pub outcome: &'static str,
}

/// Labels of the per-endpoint families.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// Configured endpoint name.
    pub endpoint: String,
}

/// Counters by model, one slot per outcome (indexed by `Outcome as usize`).
type Slots = [Option<Counter>; Outcome::ALL.len()];

#[derive(Default)]
struct Index {
    by_model: HashMap<String, Slots>,
    series: usize,
}

/// `ai_router_requests_total`: the registered family, and an index of its
/// handles by model so the warm path finds a counter with a shared read lock
/// and no allocation, and `Stats` can list the series.
#[derive(Clone, Default)]
pub struct RequestCounts {
    family: Family<RequestLabels, Counter>,
    index: Arc<RwLock<Index>>,
}

impl RequestCounts {
    /// Counts one finished request.
    pub fn inc(&self, model: &str, outcome: Outcome) {
        let slot = outcome as usize;
        if let Ok(index) = self.index.read()
            && let Some(Some(counter)) = index.by_model.get(model).map(|s| &s[slot])
        {
            counter.inc();
            return;
        }
        self.create(model, outcome).inc();
    }

    /// The counter of a new series (or of `<other>` beyond the cap).
    fn create(&self, model: &str, outcome: Outcome) -> Counter {
        let Ok(mut index) = self.index.write() else {
            // A poisoned index still counts, through the family alone.
            return self.family.get_or_create_owned(&RequestLabels {
                model: OTHER_MODEL.to_string(),
                outcome: outcome.name(),
            });
        };
        let model = if index.series < MAX_REQUEST_SERIES {
            model
        } else {
            OTHER_MODEL
        };
        let slot = outcome as usize;
        if let Some(Some(counter)) = index.by_model.get(model).map(|s| &s[slot]) {
            return counter.clone();
        }
        let counter = self.family.get_or_create_owned(&RequestLabels {
            model: model.to_string(),
            outcome: outcome.name(),
        });
        index.series += 1;
        index.by_model.entry(model.to_string()).or_default()[slot] = Some(counter.clone());
        counter
    }

    /// Every series: (model, outcome name, count), sorted.
    pub fn snapshot(&self) -> Vec<(String, &'static str, u64)> {
        let Ok(index) = self.index.read() else {
            return Vec::new();
        };
        let mut out: Vec<_> = index
            .by_model
            .iter()
            .flat_map(|(model, slots)| {
                Outcome::ALL
                    .iter()
                    .zip(slots)
                    .filter_map(move |(o, c)| Some((model.clone(), o.name(), c.as_ref()?.get())))
            })
            .collect();
        out.sort();
        out
    }
}

/// Cost and completions of one remote endpoint.
#[derive(Clone, Default)]
pub struct EndpointCounters {
    /// Completions served.
    pub completions: Counter,
    /// Cost reported (`usage.cost`), USD.
    pub cost_usd: Counter<f64, AtomicU64>,
}

/// Handles of the request path.
#[derive(Clone, Default)]
pub struct RequestMetrics {
    /// Finished requests by model and outcome.
    pub requests: RequestCounts,
    /// Tokens generated.
    pub completion_tokens: Counter,
    /// End-to-end latency of successful requests.
    pub duration: LatencyHistogram,
    /// Time waiting for admission.
    pub queue_wait: LatencyHistogram,
    /// Time to get a ready backend (a warm child or a cold start).
    pub model_acquire: LatencyHistogram,
    /// Arrival to first token.
    pub time_to_first_token: LatencyHistogram,
    /// First token to completion.
    pub generation: LatencyHistogram,
    endpoint_completions: Family<EndpointLabels, Counter>,
    endpoint_cost: Family<EndpointLabels, Counter<f64, AtomicU64>>,
}

impl RequestMetrics {
    /// Creates the handles and registers them.
    pub fn register(r: &mut Registry) -> RequestMetrics {
        let m = RequestMetrics::default();
        r.register(
            "requests",
            "Finished requests by model and outcome",
            m.requests.family.clone(),
        );
        r.register(
            "completion_tokens",
            "Tokens generated",
            m.completion_tokens.clone(),
        );
        for (name, help, h) in [
            (
                "request_duration",
                "End-to-end latency of successful requests",
                &m.duration,
            ),
            (
                "queue_wait",
                "Time waiting for admission (route and global permits)",
                &m.queue_wait,
            ),
            (
                "model_acquire",
                "Time to get a ready backend (warm child or cold start)",
                &m.model_acquire,
            ),
            (
                "time_to_first_token",
                "Arrival to first generated token",
                &m.time_to_first_token,
            ),
            ("generation", "First token to completion", &m.generation),
        ] {
            r.register_with_unit(name, help, Unit::Seconds, h.clone());
        }
        r.register(
            "endpoint_completions",
            "Completions served by a remote endpoint",
            m.endpoint_completions.clone(),
        );
        r.register(
            "endpoint_cost_usd",
            "Cost reported by a remote endpoint (usage.cost), USD",
            m.endpoint_cost.clone(),
        );
        m
    }

    /// The counters of one endpoint (created at construction, then held).
    pub fn endpoint(&self, name: &str) -> EndpointCounters {
        let labels = EndpointLabels {
            endpoint: name.to_string(),
        };
        EndpointCounters {
            completions: self.endpoint_completions.get_or_create_owned(&labels),
            cost_usd: self.endpoint_cost.get_or_create_owned(&labels),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_discriminants_index_the_slots() {
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*o as usize, i);
        }
    }

    #[test]
    fn counts_by_model_and_outcome_and_folds_beyond_the_cap() {
        let c = RequestCounts::default();
        c.inc("a", Outcome::Ok);
        c.inc("a", Outcome::Ok);
        c.inc("a", Outcome::NotFound);
        for i in 0..MAX_REQUEST_SERIES + 5 {
            c.inc(&format!("m{i}"), Outcome::Ok);
        }
        c.inc("a", Outcome::Cancelled);
        let s = c.snapshot();
        let count = |m: &str, o: &str| {
            s.iter()
                .find(|(mm, oo, _)| mm == m && *oo == o)
                .map_or(0, |e| e.2)
        };
        assert_eq!(count("a", "OK"), 2);
        assert_eq!(count("a", "NOT_FOUND"), 1);
        assert_eq!(count("a", "CANCELLED"), 0, "beyond the cap");
        assert_eq!(count(OTHER_MODEL, "CANCELLED"), 1);
        assert_eq!(count(OTHER_MODEL, "OK"), 7);
        assert_eq!(s.len(), MAX_REQUEST_SERIES + 2);
    }
}
