//! Per-route admission figures in `/metrics`, read at scrape time from the
//! route limiters that `Stats` reads: running, waiting, limit, completed, and
//! the batch tuning hint.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};

use super::RouteLimiter;
use crate::metrics::collect::{counters, gauges};

/// Where the collector finds the routes' limiters at scrape time (the
/// current route table's, which a config reload replaces).
pub type LimiterSource = Box<dyn Fn() -> Vec<Arc<RouteLimiter>> + Send + Sync>;

/// Collector over every route's limiter.
pub struct RouteGauges(pub LimiterSource);

impl fmt::Debug for RouteGauges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RouteGauges")
    }
}

/// Labels of the per-route series: a local model id or an endpoint name.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

impl Collector for RouteGauges {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), fmt::Error> {
        let limiters = (self.0)();
        let routes = || {
            limiters.iter().map(|l| {
                (
                    RouteLabels {
                        route: l.name().to_string(),
                    },
                    l,
                )
            })
        };
        gauges(
            &mut e,
            "route_requests_running",
            "Requests holding a route permit.",
            None,
            routes().map(|(r, l)| (r, l.in_flight() as u64)),
        )?;
        gauges(
            &mut e,
            "route_requests_waiting",
            "Requests waiting for a route permit.",
            None,
            routes().map(|(r, l)| (r, l.queued() as u64)),
        )?;
        gauges(
            &mut e,
            "route_concurrency_limit",
            "Concurrent requests a route admits.",
            None,
            routes().map(|(r, l)| (r, l.capacity() as u64)),
        )?;
        counters(
            &mut e,
            "route_requests_completed",
            "Requests completed after admission, any outcome.",
            routes().map(|(r, l)| (r, l.completed())),
        )?;
        gauges(
            &mut e,
            "route_best_concurrency",
            "Mean concurrency of the best-throughput one-second window (batch tuning hint).",
            None,
            routes().map(|(r, l)| (r, l.best_window().0)),
        )
    }
}
