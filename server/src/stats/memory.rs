//! The memory monitor: samples the router's RSS (sysinfo) once a second,
//! and after warm-up (the first 1,000 requests) fits RSS against the request
//! count. A slope that stays above the threshold (5 MB per 10,000 requests,
//! the budget) raises the leak warning in `Stats` and in the log.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use tokio_util::sync::CancellationToken;

use super::Recorder;

/// Requests after which the process counts as warm.
const WARMUP_REQUESTS: u64 = 1_000;
/// Samples kept for the fit (one per second: ten minutes).
const MAX_SAMPLES: usize = 600;
/// Fewest samples, and fewest requests spanned, before judging a slope.
const MIN_SAMPLES: usize = 30;
const MIN_REQUEST_SPAN: u64 = 5_000;
/// Leak threshold: bytes per 1,000 requests (5 MB per 10,000).
const LEAK_BYTES_PER_1000: f64 = 500_000.0;

/// The router's RSS in bytes (0 if it cannot be read).
pub fn process_rss_bytes() -> u64 {
    let pid = Pid::from_u32(std::process::id());
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing().with_memory(),
    );
    system.process(pid).map(|p| p.memory()).unwrap_or(0)
}

/// What the monitor concluded.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryReport {
    /// RSS at the end of warm-up (0 before).
    pub warmup_rss: u64,
    /// Slope, bytes per 1,000 requests (0 until enough samples).
    pub growth_per_1000: f64,
    /// Whether the slope exceeds the threshold.
    pub leak_suspected: bool,
}

/// Samples and the fit.
#[derive(Default)]
pub struct MemoryMonitor {
    /// Latest RSS sample (refreshed every second), so `Stats` never builds
    /// a sysinfo `System` on its own path.
    latest_rss: AtomicU64,
    warmup_rss: AtomicU64,
    samples: Mutex<VecDeque<(u64, u64)>>,
    slope_bits: AtomicU64,
    leak: AtomicBool,
}

impl MemoryMonitor {
    /// The latest conclusions.
    pub fn report(&self) -> MemoryReport {
        MemoryReport {
            warmup_rss: self.warmup_rss.load(Ordering::Relaxed),
            growth_per_1000: f64::from_bits(self.slope_bits.load(Ordering::Relaxed)),
            leak_suspected: self.leak.load(Ordering::Relaxed),
        }
    }

    /// The router's RSS as of the last sample (read now if never sampled).
    pub fn latest_rss(&self) -> u64 {
        match self.latest_rss.load(Ordering::Relaxed) {
            0 => {
                let rss = process_rss_bytes();
                self.latest_rss.store(rss, Ordering::Relaxed);
                rss
            }
            rss => rss,
        }
    }

    /// Adds one (requests, rss) sample taken after warm-up and refits.
    fn add_sample(&self, requests: u64, rss: u64) {
        let Ok(mut samples) = self.samples.lock() else {
            return;
        };
        if samples.len() == MAX_SAMPLES {
            samples.pop_front();
        }
        samples.push_back((requests, rss));
        let span = samples.back().map_or(0, |b| b.0) - samples.front().map_or(0, |f| f.0);
        if samples.len() < MIN_SAMPLES || span < MIN_REQUEST_SPAN {
            return;
        }
        let slope = least_squares_slope(samples.iter().copied()) * 1000.0;
        self.slope_bits.store(slope.to_bits(), Ordering::Relaxed);
        let leak = slope > LEAK_BYTES_PER_1000;
        if leak && !self.leak.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                bytes_per_1000_requests = slope,
                "memory keeps growing with requests: possible leak"
            );
        } else if !leak {
            self.leak.store(false, Ordering::Relaxed);
        }
    }

    /// Samples once a second until `stop`.
    pub async fn run(&self, recorder: &Recorder, stop: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.cancelled() => return,
            }
            let rss = process_rss_bytes();
            self.latest_rss.store(rss, Ordering::Relaxed);
            let requests = recorder.total();
            if requests < WARMUP_REQUESTS {
                continue;
            }
            if self.warmup_rss.load(Ordering::Relaxed) == 0 {
                self.warmup_rss.store(rss, Ordering::Relaxed);
            }
            self.add_sample(requests, rss);
        }
    }
}

/// Slope of y against x by ordinary least squares.
fn least_squares_slope(points: impl Iterator<Item = (u64, u64)> + Clone) -> f64 {
    let n = points.clone().count() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (sx, sy) = points
        .clone()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x as f64, b + y as f64));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.fold((0.0, 0.0), |(num, den), (x, y)| {
        let dx = x as f64 - mx;
        (num + dx * (y as f64 - my), den + dx * dx)
    });
    if den == 0.0 { 0.0 } else { num / den }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_slope_is_flagged_and_a_flat_one_is_not() {
        let flat = MemoryMonitor::default();
        let leaky = MemoryMonitor::default();
        for i in 0..40u64 {
            flat.add_sample(1000 + i * 500, 50_000_000 + (i % 3) * 4096);
            leaky.add_sample(1000 + i * 500, 50_000_000 + i * 500 * 1000);
        }
        assert!(!flat.report().leak_suspected);
        assert!(flat.report().growth_per_1000.abs() < 50_000.0);
        assert!(leaky.report().leak_suspected);
        assert!((leaky.report().growth_per_1000 - 1_000_000.0).abs() < 1.0);
    }
}
