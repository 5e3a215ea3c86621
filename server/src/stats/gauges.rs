//! The memory and GPU figures in `/metrics`, read at scrape time from the
//! monitors that `Stats` reads (they sample in the background, so a scrape
//! never waits for sysinfo or nvidia-smi).

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::registry::Unit;

use super::MemoryMonitor;
use super::gpu::GpuMonitor;
use crate::metrics::collect::{gauge, gauges};

/// Collector over the memory and GPU monitors.
pub struct ProcessGauges {
    /// The router's memory monitor.
    pub memory: Arc<MemoryMonitor>,
    /// The GPU monitor.
    pub gpus: Arc<GpuMonitor>,
}

impl fmt::Debug for ProcessGauges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProcessGauges")
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GpuLabels {
    gpu: u32,
}

impl Collector for ProcessGauges {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), fmt::Error> {
        let report = self.memory.report();
        gauge(
            &mut e,
            "process_resident_memory",
            "Router resident memory (sampled every second).",
            Some(&Unit::Bytes),
            self.memory.latest_rss(),
        )?;
        gauge(
            &mut e,
            "memory_growth_per_1000_requests",
            "Slope of resident memory against requests since warm-up.",
            Some(&Unit::Bytes),
            report.growth_per_1000,
        )?;
        gauge(
            &mut e,
            "memory_leak_suspected",
            "1 while resident memory keeps growing with requests.",
            None,
            i64::from(report.leak_suspected),
        )?;
        let gpus = self.gpus.latest();
        if gpus.is_empty() {
            return Ok(());
        }
        let labels = |g: &super::gpu::GpuSample| GpuLabels { gpu: g.index };
        gauges(
            &mut e,
            "gpu_utilization_percent",
            "GPU utilisation, percent (nvidia-smi, every 5 s).",
            None,
            gpus.iter().map(|g| (labels(g), g.utilization_percent)),
        )?;
        gauges(
            &mut e,
            "gpu_memory_used",
            "GPU memory used.",
            Some(&Unit::Bytes),
            gpus.iter().map(|g| (labels(g), g.memory_used_bytes)),
        )?;
        gauges(
            &mut e,
            "gpu_memory_total",
            "GPU memory in total.",
            Some(&Unit::Bytes),
            gpus.iter().map(|g| (labels(g), g.memory_total_bytes)),
        )
    }
}
