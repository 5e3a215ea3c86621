//! The access layer's cost on the request path and the ledger's write
//! throughput.
//!
//! - `access/open_baseline`: an open service (no keys): what every call
//!   paid before keys existed.
//! - `access/authenticate`: SHA-256 of the presented key, lookup among 100
//!   keys, constant-time compare.
//! - `access/auth_and_limits`: authenticate + model allowlist (globs) +
//!   concurrency, budget and GCRA request/token checks + settling the call
//!   (token charge, budget, usage counters), ledger off.
//! - `access/auth_limits_ledger`: the same with the ledger on (each call
//!   queues a row; the writer thread commits them concurrently). Calls are
//!   timed in chunks with the ledger flushed (untimed) between chunks, so
//!   the writer keeps up as it does at any real request rate.
//! - `ledger/rows`: rows queued and committed to SQLite (WAL), measured as
//!   rows per second including the final flush.
//!
//! Keep runs short on the shared machine:
//! `cargo bench -p ai-router-benches --bench access -- --warm-up-time 1 --measurement-time 3`

// A benchmark harness, like a test, should stop loudly on broken set-up.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use ai_router::access::ledger::Row;
use ai_router::access::{AccessControl, Credentials, Ledger};
use ai_router::config::{AccessConfig, KeyConfig};
use ai_router::domain::Priority;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const KEYS: usize = 100;
const MODEL: &str = "openrouter/anthropic/claude-3.5-haiku";

fn keys() -> (Vec<String>, Vec<KeyConfig>) {
    (0..KEYS)
        .map(|i| {
            let k = ai_router_client::keys::generate();
            let entry = KeyConfig {
                name: format!("tenant-{i}"),
                hash: k.hash,
                models: vec!["openrouter/anthropic/*".into(), "tiny-*".into()],
                // Limits high enough never to refuse during a run, so every
                // iteration does the full check.
                requests_per_minute: Some(u32::MAX),
                tokens_per_minute: Some(u32::MAX),
                budget_usd_per_day: Some(1e12),
                budget_usd_per_month: Some(1e12),
                max_batch_items: None,
                max_concurrency: Some(1024),
                priority: Priority::Interactive,
                admin: false,
            };
            (k.key, entry)
        })
        .unzip()
}

fn one_call(access: &AccessControl, bearer: &[u8]) {
    let credentials = Credentials {
        authorization: Some(bearer),
        api_key: None,
    };
    let principal = access.authenticate(black_box(credentials)).unwrap();
    access.authorize(&principal, [MODEL]).unwrap();
    let metered = access.admit(&principal, MODEL, 40).unwrap();
    metered.finish_ok("openrouter", 40, 16, 0.000072);
}

fn bench_access(c: &mut Criterion) {
    let (secrets, entries) = keys();
    let dir = tempfile::tempdir().unwrap();
    let config = AccessConfig {
        keys: entries,
        ledger_path: dir.path().join("usage.db"),
        ..AccessConfig::default()
    };
    let bearer = format!("Bearer {}", secrets[KEYS / 2]).into_bytes();
    let open = AccessControl::open();
    let off = AccessControl::in_memory(&config).unwrap();
    let on = AccessControl::start(&config).unwrap();

    let mut group = c.benchmark_group("access");
    // Calls are timed in chunks of CHUNK; between chunks (untimed) the
    // ledger is flushed, so the offered load stays within what the writer
    // commits and the figure is the request path's own cost with the
    // writer thread busy beside it, not the writer's throughput.
    const CHUNK: u64 = 1024;
    let timed = |access: &AccessControl, iters: u64| {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(CHUNK);
            let started = Instant::now();
            for _ in 0..n {
                one_call(access, &bearer);
            }
            total += started.elapsed();
            left -= n;
            if let Some(ledger) = access.ledger() {
                ledger.flush();
            }
        }
        total
    };
    group.bench_function("open_baseline", |b| {
        b.iter_custom(|iters| timed(&open, iters));
    });
    group.bench_function("authenticate", |b| {
        b.iter(|| {
            off.authenticate(Credentials {
                authorization: Some(black_box(&bearer)),
                api_key: None,
            })
            .unwrap()
        });
    });
    group.bench_function("auth_and_limits", |b| {
        b.iter_custom(|iters| timed(&off, iters));
    });
    group.bench_function("auth_limits_ledger", |b| {
        b.iter_custom(|iters| timed(&on, iters));
    });
    group.finish();
    on.close();
    let c = on.ledger().unwrap().counters();
    use std::sync::atomic::Ordering::Relaxed;
    println!(
        "ledger during the run: {} rows written, {} failed, {} dropped, {} waited for room",
        c.written.load(Relaxed),
        c.failed.load(Relaxed),
        c.dropped.load(Relaxed),
        c.waited.load(Relaxed)
    );
}

fn bench_ledger(c: &mut Criterion) {
    const ROWS: u64 = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("usage.db")).unwrap();
    let row = Row {
        ts_ms: 1_764_806_400_000,
        key: "tenant-7".into(),
        model: MODEL.into(),
        backend: "openrouter".into(),
        prompt_tokens: 40,
        completion_tokens: 16,
        cost_usd: 0.000072,
        status: "ok".into(),
        duration_ms: 120,
        estimated: false,
    };
    let mut group = c.benchmark_group("ledger");
    group.throughput(Throughput::Elements(ROWS));
    group.sample_size(10);
    group.bench_function("rows", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                for _ in 0..ROWS {
                    ledger.record(row.clone());
                }
                ledger.flush();
                total += started.elapsed();
            }
            total
        });
    });
    group.finish();
    let counters = ledger.counters();
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(
        counters.failed.load(Relaxed) + counters.dropped.load(Relaxed),
        0
    );
}

criterion_group!(benches, bench_access, bench_ledger);
criterion_main!(benches);
