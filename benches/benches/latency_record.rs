//! What recording one finished request's latencies costs: the five
//! per-phase histograms `stats::Recorder::record` fills. The baseline is the
//! store the histograms had before exemplars (one `hdrhistogram` under a
//! mutex per latency); `untraced` is the path with no collector (the
//! exemplar half only counts, `sampled_trace_id` is one atomic load),
//! `traced` the path naming a trace id in every bucket.

// A benchmark harness, like a test, should stop loudly on broken set-up.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Mutex;
use std::time::Duration;

use ai_router::metrics::LatencyHistogram;
use criterion::{Criterion, criterion_group, criterion_main};
use hdrhistogram::Histogram;
use opentelemetry::trace::TraceId;

/// A request's five phase latencies (µs-scale spread over several buckets).
const PHASES: [Duration; 5] = [
    Duration::from_micros(41_000),
    Duration::from_micros(120),
    Duration::from_micros(350),
    Duration::from_micros(9_000),
    Duration::from_micros(32_000),
];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("latency_record");
    let hdr: Vec<Mutex<Histogram<u64>>> = (0..5)
        .map(|_| Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap()))
        .collect();
    group.bench_function("baseline_hdr_only_x5", |b| {
        b.iter(|| {
            for (h, d) in hdr.iter().zip(PHASES) {
                let us = black_box(d).as_micros() as u64;
                let _ = h.lock().unwrap().record(us);
            }
        })
    });
    let histograms: Vec<LatencyHistogram> = (0..5).map(|_| LatencyHistogram::new()).collect();
    group.bench_function("untraced_x5", |b| {
        b.iter(|| {
            let trace = ai_router::telemetry::sampled_trace_id();
            for (h, d) in histograms.iter().zip(PHASES) {
                h.record_traced(black_box(d), trace);
            }
        })
    });
    let trace = Some(TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap());
    group.bench_function("traced_x5", |b| {
        b.iter(|| {
            for (h, d) in histograms.iter().zip(PHASES) {
                h.record_traced(black_box(d), black_box(trace));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
