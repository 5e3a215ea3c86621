//! A whole `Generate` round trip (client → router → emulator → back) on a
//! router with no keys against one with keys, limits, a budget and the
//! SQLite ledger on: what access control adds to a real call.
//!
//! `cargo bench -p ai-router-benches --bench access_e2e -- --warm-up-time 1 --measurement-time 3`

// A benchmark harness, like a test, should stop loudly on broken set-up.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use ai_router::config::{Config, EndpointConfig, EndpointKind, KeyConfig};
use ai_router::domain::Priority;
use ai_router_client::{Client, GenerateRequestBuilder};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::{TestRouter, remote_config};
use criterion::{Criterion, criterion_group, criterion_main};

fn config(emulator: &Emulator) -> Config {
    let mut c = remote_config().unwrap();
    c.endpoints.push(EndpointConfig::new(
        "up",
        EndpointKind::OpenAi,
        &emulator.openai_base(),
    ));
    c
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let key = ai_router_client::keys::generate();
    let (emulator, open, keyed, open_client, keyed_client) = rt.block_on(async {
        let emulator = Emulator::start().await.unwrap();
        let open = TestRouter::start(config(&emulator)).await.unwrap();
        let mut keyed_config = config(&emulator);
        keyed_config.access.ledger_path = data.path().join("usage.db");
        keyed_config.access.keys.push(KeyConfig {
            name: "bench".into(),
            hash: key.hash.clone(),
            models: vec!["up/*".into()],
            requests_per_minute: Some(u32::MAX),
            tokens_per_minute: Some(u32::MAX),
            budget_usd_per_day: Some(1e12),
            budget_usd_per_month: None,
            max_batch_items: None,
            max_concurrency: Some(1024),
            priority: Priority::Interactive,
            admin: true,
        });
        let keyed = TestRouter::start(keyed_config).await.unwrap();
        let open_client = Client::connect(open.url()).await.unwrap();
        let keyed_client = Client::connect(keyed.url())
            .await
            .unwrap()
            .with_api_key(&key.key)
            .unwrap();
        (emulator, open, keyed, open_client, keyed_client)
    });
    let request = GenerateRequestBuilder::new("up/m")
        .prompt("hello")
        .max_tokens(4)
        .build();

    let mut group = c.benchmark_group("generate_round_trip");
    group.bench_function("open", |b| {
        b.to_async(&rt)
            .iter(|| async { open_client.generate(request.clone()).await.unwrap() });
    });
    group.bench_function("keys_limits_ledger", |b| {
        b.to_async(&rt)
            .iter(|| async { keyed_client.generate(request.clone()).await.unwrap() });
    });
    // Run last too, so drift of the shared machine during the run shows.
    group.bench_function("open_again", |b| {
        b.to_async(&rt)
            .iter(|| async { open_client.generate(request.clone()).await.unwrap() });
    });
    group.finish();

    rt.block_on(async {
        let stats = keyed_client.stats().await.unwrap();
        let ledger = stats.ledger.unwrap();
        println!(
            "ledger: {} rows written, {} failed, {} dropped, {} waited",
            ledger.rows_written, ledger.rows_failed, ledger.rows_dropped, ledger.rows_waited
        );
        open.stop().await.unwrap();
        keyed.stop().await.unwrap();
        emulator.shutdown().await;
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
