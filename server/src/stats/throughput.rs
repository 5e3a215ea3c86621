//! Requests and tokens finished per second over the last one and five
//! minutes: a ring of one-second buckets (300 of them), each stamped with
//! the second it counts, so stale buckets are recognised without a timer.

use std::sync::Mutex;
use std::time::Instant;

/// Seconds kept.
const SECONDS: usize = 300;

#[derive(Clone, Copy, Default)]
struct Bucket {
    second: u64,
    requests: u64,
    tokens: u64,
}

/// Sliding-window throughput counter.
pub struct Throughput {
    epoch: Instant,
    buckets: Mutex<Vec<Bucket>>,
}

impl Throughput {
    /// An empty counter whose seconds count from `epoch`.
    pub fn new(epoch: Instant) -> Throughput {
        Throughput {
            epoch,
            buckets: Mutex::new(vec![Bucket::default(); SECONDS]),
        }
    }

    /// Counts one finished request with its generated tokens.
    pub fn record(&self, tokens: u32) {
        let second = self.epoch.elapsed().as_secs();
        if let Ok(mut buckets) = self.buckets.lock() {
            let b = &mut buckets[(second % SECONDS as u64) as usize];
            if b.second != second {
                *b = Bucket {
                    second,
                    ..Bucket::default()
                };
            }
            b.requests += 1;
            b.tokens += u64::from(tokens);
        }
    }

    /// (requests per second, tokens per second) over the last `window`
    /// seconds (capped at 300 and at the uptime), counting whole seconds.
    pub fn rates(&self, window: u64) -> (f64, f64) {
        let now = self.epoch.elapsed();
        let current = now.as_secs();
        let window = window.clamp(1, SECONDS as u64);
        let Ok(buckets) = self.buckets.lock() else {
            return (0.0, 0.0);
        };
        let oldest = current.saturating_sub(window - 1);
        let (requests, tokens) = buckets
            .iter()
            .filter(|b| {
                b.second >= oldest && b.second <= current && (b.requests > 0 || b.tokens > 0)
            })
            .fold((0u64, 0u64), |(r, t), b| (r + b.requests, t + b.tokens));
        // The current second is partial: divide by the time actually covered.
        let covered = (now.as_secs_f64()).min(window as f64).max(1e-3);
        (requests as f64 / covered, tokens as f64 / covered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_recent_requests() {
        let t = Throughput::new(Instant::now());
        for _ in 0..10 {
            t.record(5);
        }
        let (rps, tps) = t.rates(60);
        assert!(rps > 0.0 && tps > 0.0);
        assert!((tps / rps - 5.0).abs() < 1e-9);
    }
}
