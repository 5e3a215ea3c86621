//! The request path without upstream I/O: validation of a GenerateRequest
//! and routing of its model id (local catalogue hit, remote prefix, unknown
//! id), measured against a baseline that only clones the request, so the
//! cost the router adds per request is visible as a ratio.

// A benchmark harness, like a test, should stop loudly on broken set-up.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use ai_router::api::validate;
use ai_router::config::{Config, EndpointConfig, EndpointKind};
use ai_router_proto::v1::{GenerateRequest, GenerationParams, generate_request::Input};
use ai_router_testkit::models::ModelDir;
use criterion::{Criterion, criterion_group, criterion_main};

fn request(model: &str) -> GenerateRequest {
    GenerateRequest {
        model: model.into(),
        input: Some(Input::Prompt(
            "Summarise the following paragraph in one sentence.".into(),
        )),
        params: Some(GenerationParams {
            max_tokens: Some(128),
            temperature: Some(0.7),
            top_p: Some(0.9),
            stop: vec!["\n\n".into()],
            seed: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let ids: Vec<String> = (0..16).map(|i| format!("model-{i}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let models = ModelDir::with_models(&id_refs).expect("models");
    let mut config = Config::default();
    config.local.models_dirs = vec![models.path().to_path_buf()];
    config.endpoints.push(EndpointConfig::new(
        "lab",
        EndpointKind::OpenAi,
        "http://127.0.0.1:9/v1",
    ));
    let engine = runtime
        .block_on(async {
            ai_router::build_engine(config.validate().expect("valid config"), Instant::now())
        })
        .expect("engine");
    let limits = engine.config().limits.clone();
    let local = request("model-7");
    let remote = request("lab/llama-3-8b");
    let id = |s: &str| ai_router::domain::ModelId::parse(s).expect("a valid id");
    let (local_id, remote_id, unknown_id) = (id("model-7"), id("lab/llama-3-8b"), id("nope"));

    let mut group = c.benchmark_group("request_path");
    group.bench_function("baseline_clone_request", |b| {
        b.iter(|| black_box(local.clone()))
    });
    group.bench_function("validate", |b| {
        b.iter(|| validate(black_box(local.clone()), &limits).expect("valid"))
    });
    group.bench_function("route_local", |b| {
        b.iter(|| engine.routes().resolve(black_box(&local_id)).is_ok())
    });
    group.bench_function("route_remote", |b| {
        b.iter(|| engine.routes().resolve(black_box(&remote_id)).is_ok())
    });
    group.bench_function("route_unknown", |b| {
        b.iter(|| engine.routes().resolve(black_box(&unknown_id)).is_err())
    });
    group.bench_function("validate_and_route_remote", |b| {
        b.iter(|| {
            let job = validate(black_box(remote.clone()), &limits).expect("valid");
            engine.routes().resolve(&job.model).is_ok()
        })
    });
    group.finish();
    runtime.block_on(engine.pool().shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
