//! Helpers shared by the behaviour modules: request shorthands, waiting for
//! the router to go idle, and running a test in a process of its own.

use std::time::{Duration, Instant};

use ai_router::telemetry::{Telemetry, TelemetryOptions, init};
use ai_router_client::GenerateRequestBuilder;
use ai_router_client::proto::GenerateRequest;
use ai_router_testkit::otlp::OtlpReceiver;
use ai_router_testkit::router::TestRouter;

/// The first chunk with output or the end, skipping the "loading" chunk a
/// stream on a cold local model starts with: once it arrives, the call
/// holds the model.
pub async fn first_output(
    stream: &mut (
             impl futures::Stream<
        Item = Result<ai_router_client::proto::GenerateChunk, ai_router_client::ClientError>,
    > + Unpin
         ),
) -> ai_router_client::proto::GenerateChunk {
    use futures::StreamExt;
    loop {
        let chunk = stream
            .next()
            .await
            .expect("the stream ended without a chunk")
            .expect("the stream failed");
        if chunk.loading.is_none() {
            return chunk;
        }
    }
}

/// A prompt request with a small max_tokens, built with the published
/// client's builder.
pub fn prompt(model: &str, text: &str, max_tokens: u32) -> GenerateRequest {
    GenerateRequestBuilder::new(model)
        .prompt(text)
        .max_tokens(max_tokens)
        .build()
}

/// Waits (bounded, 5 s) until the router reports nothing in flight and
/// nothing queued; returns the last (in_flight, queued) seen.
pub async fn wait_router_idle(router: &TestRouter) -> (u64, u64) {
    let client = router.client().await.expect("client");
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let s = client.stats().await.expect("stats");
        if (s.in_flight == 0 && s.queued == 0) || Instant::now() > until {
            return (s.in_flight, s.queued);
        }
        // Observing an asynchronous counter drop, bounded above.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Installs the process-wide subscriber exporting the router's spans to
/// `receiver` (logs at `warn`). Only in a test run by [`in_own_process`].
pub fn export_traces_to(receiver: &OtlpReceiver) -> Telemetry {
    let telemetry = init(&TelemetryOptions {
        log_filter: "warn".into(),
        log_json: false,
        otlp_endpoint: Some(receiver.endpoint()),
    })
    .expect("telemetry");
    assert!(telemetry.exporting());
    telemetry
}

/// Set in the environment of a test re-run by [`in_own_process`], to the
/// name of that test.
const OWN_PROCESS_ENV: &str = "AI_ROUTER_IT_OWN_PROCESS";

/// Runs the calling test in a fresh process of this same test binary, for
/// the few tests that install process-wide state (the global tracing
/// subscriber and tracer provider, which a process keeps once set) and so
/// cannot share a process with the tests running beside them.
///
/// `module` is the caller's `module_path!()` and `test` its function name.
/// In the child process this returns `true` and the test body runs there;
/// in the parent it runs the child (`<this binary> <name> --exact`), waits
/// for it, fails unless exactly that one test ran and passed, and returns
/// `false`. The child is killed if the parent test is dropped first.
pub async fn in_own_process(module: &str, test: &str) -> bool {
    // libtest names tests by their path inside the crate: drop `it::`.
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    let name = format!("{module}::{test}");
    if std::env::var(OWN_PROCESS_ENV).is_ok_and(|v| v == name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = tokio::process::Command::new(exe)
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(OWN_PROCESS_ENV, &name)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await
        .expect("running the test in its own process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(out.status.success(), "{name} failed in its own process");
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name} did not run in its own process: {stdout}"
    );
    false
}

/// A router with its OpenAI-compatible HTTP door on, over one emulator
/// endpoint named `lab` that makes one attempt per call (so an upstream
/// fault reaches the caller as it is). `configure` adjusts the config first.
pub async fn http_router_over_emulator(
    configure: impl FnOnce(&mut ai_router::config::Config),
) -> (ai_router_testkit::emulator::Emulator, TestRouter) {
    use ai_router::config::{EndpointConfig, EndpointKind};
    let emulator = ai_router_testkit::emulator::Emulator::start()
        .await
        .expect("emulator");
    let mut config = ai_router_testkit::router::remote_config().expect("config");
    config.http_listen = Some("127.0.0.1:0".parse().expect("address"));
    let mut lab = EndpointConfig::new("lab", EndpointKind::OpenAi, &emulator.openai_base());
    lab.max_attempts = 1;
    config.endpoints.push(lab);
    configure(&mut config);
    let router = TestRouter::start(config).await.expect("router");
    (emulator, router)
}

/// An upstream API key whose every appearance in logs, traces or errors
/// is a leak.
pub const CANARY_KEY: &str = "sk-canary-7f3a9b2c1d";
/// The environment variable an endpoint reads it from.
pub const KEY_ENV: &str = "AI_ROUTER_TEST_CANARY_KEY";

/// Puts the canary key in the environment, where the endpoint config reads
/// it (`api_key_env`): written once per process, never changed or removed.
pub fn set_canary_key() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: other tests run on other threads of this process, but
        // std serialises its own environment reads with this write, and
        // the test process reads the environment only through std (no
        // libc getenv: addresses are IP literals, children are spawned by
        // std's Command).
        unsafe { std::env::set_var(KEY_ENV, CANARY_KEY) };
    });
}
