//! The batch tuning hint (the seed's "batch optimizer"): for each route,
//! the concurrency that gave the best throughput so far. Completions are
//! grouped into one-second windows; a window's throughput is completions
//! per second and its mean concurrency follows from Little's law (the sum of
//! the completed requests' service times divided by the window length).
//! Past the upstream's real parallelism throughput stays flat while the
//! measured concurrency keeps rising, so among the windows within 5% of the
//! peak throughput the one with the *lowest* concurrency wins: that is the
//! point where adding requests stops adding throughput. Reported in `Stats`;
//! a caller sizing `max_concurrency` for a batch can read it instead of
//! guessing.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Window length.
const WINDOW: Duration = Duration::from_secs(1);
/// Windows within this fraction of the peak throughput count as "as good".
const TOLERANCE: f64 = 0.05;

struct Window {
    start: Option<Instant>,
    completions: u64,
    busy: Duration,
}

/// The chosen window and the peak throughput seen.
#[derive(Clone, Copy, Default)]
struct Best {
    concurrency: f64,
    rps: f64,
    peak_rps: f64,
}

/// Tracks windows and the best one.
pub struct ThroughputTuner {
    window: Mutex<Window>,
    best: Mutex<Best>,
}

impl ThroughputTuner {
    /// No windows yet.
    pub fn new() -> ThroughputTuner {
        ThroughputTuner {
            window: Mutex::new(Window {
                start: None,
                completions: 0,
                busy: Duration::ZERO,
            }),
            best: Mutex::new(Best::default()),
        }
    }

    /// Records one completed request that held a permit for `service`.
    pub fn record(&self, service: Duration, now: Instant) {
        let Ok(mut w) = self.window.lock() else {
            return;
        };
        let start = *w.start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= WINDOW {
            let secs = elapsed.as_secs_f64();
            let rps = w.completions as f64 / secs;
            let concurrency = w.busy.as_secs_f64() / secs;
            if let Ok(mut best) = self.best.lock()
                && w.completions > 0
            {
                consider(&mut best, concurrency, rps);
            }
            *w = Window {
                start: Some(now),
                completions: 0,
                busy: Duration::ZERO,
            };
        }
        w.completions += 1;
        w.busy += service;
    }

    /// (mean concurrency, requests/s) of the best window so far.
    pub fn best(&self) -> (f64, f64) {
        self.best
            .lock()
            .map(|b| (b.concurrency, b.rps))
            .unwrap_or((0.0, 0.0))
    }
}

/// Keeps the lowest-concurrency window among those within the tolerance of
/// the peak throughput.
fn consider(best: &mut Best, concurrency: f64, rps: f64) {
    best.peak_rps = best.peak_rps.max(rps);
    let good_enough = rps >= best.peak_rps * (1.0 - TOLERANCE);
    let current_still_good = best.rps >= best.peak_rps * (1.0 - TOLERANCE);
    if good_enough && (!current_still_good || concurrency < best.concurrency || best.rps == 0.0) {
        *best = Best {
            concurrency,
            rps,
            peak_rps: best.peak_rps,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_concurrency_at_peak_throughput_wins() {
        let mut best = Best::default();
        consider(&mut best, 16.0, 150.0);
        consider(&mut best, 4.0, 148.0);
        consider(&mut best, 8.0, 151.0);
        consider(&mut best, 1.0, 40.0);
        assert_eq!((best.concurrency, best.rps), (4.0, 148.0));
        consider(&mut best, 12.0, 300.0);
        assert_eq!(
            (best.concurrency, best.rps),
            (12.0, 300.0),
            "a clearly better peak replaces it"
        );
    }

    #[test]
    fn littles_law_recovers_the_concurrency() {
        let t = ThroughputTuner::new();
        let start = Instant::now();
        // 4 requests in flight at all times, each taking 100 ms: 40 per second.
        for i in 0..=80u64 {
            t.record(
                Duration::from_millis(100),
                start + Duration::from_millis(i * 25),
            );
        }
        let (concurrency, rps) = t.best();
        assert!((rps - 40.0).abs() < 2.0, "{rps}");
        assert!((concurrency - 4.0).abs() < 0.3, "{concurrency}");
    }
}
