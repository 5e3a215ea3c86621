//! The pool's state in `/metrics`, read at scrape time from the same
//! accessors `Stats` uses (processes running, slots held and waited for,
//! children's memory).

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;

use super::Pool;
use crate::metrics::collect::gauge;

/// Collector over a pool.
pub struct PoolGauges(pub Pool);

impl fmt::Debug for PoolGauges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PoolGauges")
    }
}

impl Collector for PoolGauges {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), fmt::Error> {
        let s = self.0.summary();
        gauge(
            &mut e,
            "pool_loaded_models",
            "Model processes warm.",
            None,
            s.loaded,
        )?;
        gauge(
            &mut e,
            "pool_slots_held",
            "Slots held by model processes starting, warm or still exiting.",
            None,
            s.slots_held,
        )?;
        gauge(
            &mut e,
            "pool_slot_waiters",
            "Model loads queued for a free slot.",
            None,
            s.slot_waiters,
        )?;
        let children: u64 = self.0.statuses().iter().map(|m| m.rss_bytes).sum();
        gauge(
            &mut e,
            "pool_children_resident_memory",
            "Resident memory of the llama-server children.",
            Some(&Unit::Bytes),
            children,
        )
    }
}
