//! Load runners. Closed loop: `concurrency` workers each send the next
//! request as soon as their previous one finished. Open loop: requests are
//! started on a fixed schedule (a target rate) whatever the latency.
//! Latencies go into an hdrhistogram in nanoseconds.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::task::JoinSet;

/// Latency histogram in nanoseconds (1 ns .. 10 min, 3 significant digits).
pub type Hist = Histogram<u64>;

/// An empty latency histogram.
pub fn new_hist() -> anyhow::Result<Hist> {
    Ok(Histogram::new_with_bounds(1, 600_000_000_000, 3)?)
}

/// Records one duration.
pub fn record(h: &mut Hist, d: Duration) -> anyhow::Result<()> {
    h.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1))?;
    Ok(())
}

/// A histogram of the given durations.
pub fn hist_of(samples: &[Duration]) -> anyhow::Result<Hist> {
    let mut h = new_hist()?;
    for d in samples {
        record(&mut h, *d)?;
    }
    Ok(h)
}

/// Runs requests `0..n` with `concurrency` workers; `f(i)` performs request `i`.
pub async fn closed_loop<F, Fut>(n: usize, concurrency: usize, f: F) -> anyhow::Result<Hist>
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let f = f.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut h = new_hist()?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(h);
                }
                let started = Instant::now();
                f(i).await?;
                record(&mut h, started.elapsed())?;
            }
        });
    }
    let mut total = new_hist()?;
    while let Some(h) = workers.join_next().await {
        total.add(h??)?;
    }
    Ok(total)
}

/// Starts requests `0..n` at `rate` per second (open loop); each latency is
/// measured from the request's actual start. Returns the histogram and the
/// achieved request rate.
pub async fn open_loop<F, Fut>(n: usize, rate: f64, f: F) -> anyhow::Result<(Hist, f64)>
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let mut running = JoinSet::new();
    let started = Instant::now();
    let mut sent = 0;
    let mut total = new_hist()?;
    while sent < n {
        let due = ((started.elapsed().as_secs_f64() * rate) as usize + 1).min(n);
        while sent < due {
            let f = f.clone();
            let i = sent;
            running.spawn(async move {
                let t = Instant::now();
                f(i).await?;
                Ok::<_, anyhow::Error>(t.elapsed())
            });
            sent += 1;
        }
        // Collect what finished meanwhile, so the set stays small.
        while let Some(done) = running.try_join_next() {
            record(&mut total, done??)?;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed();
    while let Some(done) = running.join_next().await {
        record(&mut total, done??)?;
    }
    Ok((total, n as f64 / elapsed.as_secs_f64()))
}

/// The median of a list of durations (zero when empty).
pub fn median(samples: &[Duration]) -> Duration {
    let mut v = samples.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}
