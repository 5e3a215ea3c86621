//! Each pool's hosts in `/metrics`, read at scrape time: how many hosts an
//! endpoint has, how many are ejected, and each host's load. Host labels
//! are `address:port`, as many as the pool has members.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};

use super::HostPool;
use crate::metrics::collect::gauges;

/// Collector over every endpoint's pool (fixed at construction).
pub struct HostGauges(pub HostPoolSource);

/// Where the collector finds the endpoints' host pools at scrape time (the
/// current route table's, which a config reload replaces).
pub type HostPoolSource = Box<dyn Fn() -> Vec<Arc<HostPool>> + Send + Sync>;

impl fmt::Debug for HostGauges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostGauges")
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabels {
    endpoint: String,
    host: String,
}

impl Collector for HostGauges {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), fmt::Error> {
        let now = Instant::now();
        let pools = (self.0)();
        let label = |p: &HostPool| EndpointLabels {
            endpoint: p.shared.endpoint.clone(),
        };
        gauges(
            &mut e,
            "endpoint_hosts",
            "Hosts an endpoint has now (listed or discovered).",
            None,
            pools.iter().map(|p| (label(p), p.len() as u64)),
        )?;
        gauges(
            &mut e,
            "endpoint_hosts_ejected",
            "Hosts of an endpoint ejected from picking now.",
            None,
            pools
                .iter()
                .map(|p| (label(p), p.ejected_hosts().len() as u64)),
        )?;
        let mut loads = Vec::new();
        let mut slots = Vec::new();
        let mut ejected = Vec::new();
        for p in &pools {
            for h in p.shared.members().iter() {
                let labels = HostLabels {
                    endpoint: p.shared.endpoint.clone(),
                    host: h.label(),
                };
                ejected.push((labels.clone(), u64::from(h.ejected_until(now).is_some())));
                slots.push((labels.clone(), u64::from(h.slots().unwrap_or(0))));
                loads.push((labels, u64::from(h.load())));
            }
        }
        gauges(
            &mut e,
            "endpoint_host_load",
            "A host's load for picking: requests in flight from this router, plus its own queue (queue_metrics) or the other clients' requests (queue_slots) when read.",
            None,
            loads,
        )?;
        gauges(
            &mut e,
            "endpoint_host_slots",
            "A host's slots as its /slots listed them (read once when it joins, or with queue_slots at that interval); 0 while unknown.",
            None,
            slots,
        )?;
        gauges(
            &mut e,
            "endpoint_host_ejected",
            "1 while a host is ejected from picking, else 0.",
            None,
            ejected,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::config::{EndpointConfig, EndpointKind};
    use crate::lifecycle::Lifecycle;

    #[test]
    fn hosts_ejections_and_loads_are_exported() {
        let mut config = EndpointConfig::new("lab", EndpointKind::OpenAi, "");
        config.urls = vec!["http://a:1/v1".into(), "http://b:2/v1".into()];
        config.ejection_failures = 1;
        config.ejection_time = Duration::from_secs(3600);
        config.learn_slots = false;
        let pool = HostPool::start(&config, None, Counter::default(), &Lifecycle::new()).unwrap();
        let hosts = pool.shared.members();
        assert!(hosts[0].fail(pool.shared.ejection, Instant::now()));
        let mut registry = Registry::default();
        registry.register_collector(Box::new(HostGauges(Box::new(move || vec![pool.clone()]))));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "endpoint_hosts{endpoint=\"lab\"} 2",
            "endpoint_hosts_ejected{endpoint=\"lab\"} 1",
            "endpoint_host_load{endpoint=\"lab\",host=\"a:1\"} 0",
            "endpoint_host_load{endpoint=\"lab\",host=\"b:2\"} 0",
            "endpoint_host_slots{endpoint=\"lab\",host=\"a:1\"} 0",
            "endpoint_host_ejected{endpoint=\"lab\",host=\"a:1\"} 1",
            "endpoint_host_ejected{endpoint=\"lab\",host=\"b:2\"} 0",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
