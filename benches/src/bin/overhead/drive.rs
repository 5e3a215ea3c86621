//! Load shapes, all driven from one task of the harness's current-thread
//! runtime (a `FuturesUnordered` of calls, no task per request): a closed
//! loop bounded in calls and time, an open loop at a fixed rate whose
//! latencies run from each call's *scheduled* start (no coordinated
//! omission), and a burst of concurrent streams.

use std::time::{Duration, Instant};

use ai_router_benches::gateway_stats::{RateStep, StreamOutcome, gaps};
use ai_router_benches::load::{Hist, new_hist, record};
use ai_router_benches::thin_http::Reply;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::caller::Caller;

/// What a run of calls recorded.
pub struct Recorded {
    /// Whole-call latency.
    pub latency: Hist,
    /// Time to first token.
    pub ttft: Hist,
    /// Gaps between successive tokens.
    pub gap: Hist,
    /// Calls that succeeded.
    pub ok: u64,
    /// Calls that failed.
    pub errors: u64,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// Wall time of the run.
    pub wall: Duration,
}

impl Recorded {
    fn new() -> anyhow::Result<Recorded> {
        Ok(Recorded {
            latency: new_hist()?,
            ttft: new_hist()?,
            gap: new_hist()?,
            ok: 0,
            errors: 0,
            first_error: None,
            wall: Duration::ZERO,
        })
    }

    fn note(&mut self, latency: Duration, reply: anyhow::Result<Reply>) -> anyhow::Result<()> {
        match reply {
            Ok(reply) => {
                self.ok += 1;
                record(&mut self.latency, latency)?;
                if let Some(t) = reply.ttft() {
                    record(&mut self.ttft, t)?;
                }
                for g in gaps(&reply.token_times) {
                    record(&mut self.gap, g)?;
                }
            }
            Err(e) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("{e:#}"));
                }
            }
        }
        Ok(())
    }

    /// Adds another run's figures (rounds of one system).
    pub fn merge(&mut self, other: Recorded) -> anyhow::Result<()> {
        self.latency.add(other.latency)?;
        self.ttft.add(other.ttft)?;
        self.gap.add(other.gap)?;
        self.ok += other.ok;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.wall += other.wall;
        Ok(())
    }

    /// An empty record to merge rounds into.
    pub fn empty() -> anyhow::Result<Recorded> {
        Recorded::new()
    }

    /// One empty record per system.
    pub fn per_system(n: usize) -> anyhow::Result<Vec<Recorded>> {
        (0..n).map(|_| Recorded::new()).collect()
    }
}

/// `concurrency` callers, each starting its next call when its last ends,
/// until `calls` calls were started or `max_time` passed.
pub async fn closed(
    caller: &Caller,
    calls: usize,
    concurrency: usize,
    max_time: Duration,
) -> anyhow::Result<Recorded> {
    let mut out = Recorded::new()?;
    let started = Instant::now();
    let deadline = started + max_time;
    let mut running = FuturesUnordered::new();
    let one = |caller: Caller| async move {
        let t = Instant::now();
        let reply = caller.call().await;
        (t.elapsed(), reply)
    };
    let mut sent = 0;
    while sent < calls.min(concurrency.max(1)) {
        running.push(one(caller.clone()));
        sent += 1;
    }
    while let Some((latency, reply)) = running.next().await {
        out.note(latency, reply)?;
        if sent < calls && Instant::now() < deadline {
            running.push(one(caller.clone()));
            sent += 1;
        }
    }
    out.wall = started.elapsed();
    Ok(out)
}

/// Calls at `rate` per second for `duration`; each latency runs from the
/// call's scheduled start. More than `max_in_flight` calls outstanding
/// means the system fell behind: the step stops scheduling and the calls
/// not started count as errors.
pub async fn open(
    caller: &Caller,
    rate: f64,
    duration: Duration,
    max_in_flight: usize,
) -> anyhow::Result<(Recorded, RateStep)> {
    let mut out = Recorded::new()?;
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as usize;
    let started = Instant::now();
    let due = |i: usize| started + Duration::from_secs_f64(i as f64 / rate);
    let mut running = FuturesUnordered::new();
    let one = |caller: Caller, scheduled: Instant| async move {
        let reply = caller.call().await;
        (scheduled.elapsed(), reply)
    };
    let mut sent = 0;
    let mut abandoned = 0;
    while sent < total || !running.is_empty() {
        if sent < total && running.len() >= max_in_flight {
            abandoned = (total - sent) as u64;
            sent = total;
            continue;
        }
        let next = (sent < total).then(|| due(sent));
        tokio::select! {
            biased;
            Some((latency, reply)) = running.next(), if !running.is_empty() => {
                out.note(latency, reply)?;
            }
            _ = tokio::time::sleep_until(next.unwrap_or(started).into()), if next.is_some() => {
                let now = Instant::now();
                while sent < total && due(sent) <= now && running.len() < max_in_flight {
                    running.push(one(caller.clone(), due(sent)));
                    sent += 1;
                }
            }
        }
    }
    out.wall = started.elapsed();
    out.errors += abandoned;
    let step = RateStep {
        offered: rate,
        achieved: out.ok as f64 / out.wall.as_secs_f64().max(duration.as_secs_f64()),
        p99: Duration::from_nanos(out.latency.value_at_quantile(0.99)),
        errors: out.errors,
    };
    Ok((out, step))
}

/// `n` streams started at once; each one's outcome (tokens, longest gap
/// between two tokens) plus the merged figures.
pub async fn burst(caller: &Caller, n: usize) -> anyhow::Result<(Recorded, Vec<StreamOutcome>)> {
    let mut out = Recorded::new()?;
    let started = Instant::now();
    let mut running: FuturesUnordered<_> = (0..n)
        .map(|_| {
            let caller = caller.clone();
            async move {
                let t = Instant::now();
                let reply = caller.call().await;
                (t.elapsed(), reply)
            }
        })
        .collect();
    let mut outcomes = Vec::with_capacity(n);
    while let Some((latency, reply)) = running.next().await {
        let outcome = match &reply {
            Ok(r) => StreamOutcome {
                tokens: r.tokens,
                longest_gap: gaps(&r.token_times).max().unwrap_or_default(),
                failed: false,
            },
            Err(_) => StreamOutcome {
                tokens: 0,
                longest_gap: Duration::ZERO,
                failed: true,
            },
        };
        outcomes.push(outcome);
        out.note(latency, reply)?;
    }
    out.wall = started.elapsed();
    Ok((out, outcomes))
}
