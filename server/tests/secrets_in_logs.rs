//! The API key never reaches the logs, at any level, whatever the upstream
//! does: a canary key is configured, the router runs with `--log trace`,
//! and every byte it prints is searched for the key.

// Helpers outside #[test] fns panic on broken set-up, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use ai_router_proto::v1::router_client::RouterClient;
use ai_router_proto::v1::{GenerateRequest, GenerationParams, generate_request::Input};
use ai_router_testkit::emulator::{Emulator, EmulatorConfig};
use ai_router_testkit::procs::signal;

const CANARY: &str = "sk-or-v1-canary-3c9d1e7f5a";

fn request(model: &str) -> GenerateRequest {
    GenerateRequest {
        model: model.into(),
        input: Some(Input::Prompt("hello".into())),
        params: Some(GenerationParams {
            max_tokens: Some(3),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_canary_key_never_appears_in_any_output() {
    let emulator = Emulator::start_with(EmulatorConfig::default().with_api_key(CANARY))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("router.toml");
    std::fs::write(
        &config,
        format!(
            "[openrouter]\nenabled = true\napi_key_env = \"CANARY_KEY\"\nbase_url = \"{}\"\nfirst_token_timeout = \"300ms\"\n",
            emulator.openrouter_base()
        ),
    )
    .unwrap();
    let mut router = Command::new(env!("CARGO_BIN_EXE_ai-router"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log",
            "trace",
            "--models-dir",
            "/nonexistent",
        ])
        .arg("--config")
        .arg(&config)
        .env("CANARY_KEY", CANARY)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(router.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let addr = first
        .split("listening on ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    let rest = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all);
        all
    });

    let mut client = RouterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    client
        .generate(request("openrouter/vendor/ok"))
        .await
        .unwrap();
    for model in [
        "openrouter/vendor/m@status=401",
        "openrouter/vendor/m@status=402",
        "openrouter/vendor/m@status=500",
        "openrouter/vendor/m@flaky=1",
        "openrouter/vendor/m@midstream_error=1",
        "openrouter/vendor/m@silent",
        "openrouter/vendor/m@reset",
    ] {
        if let Err(status) = client.generate(request(model)).await {
            assert!(
                !status.message().contains(CANARY),
                "{model}: {}",
                status.message()
            );
        }
    }
    let stats = format!(
        "{:?}",
        client
            .stats(ai_router_proto::v1::StatsRequest {})
            .await
            .unwrap()
            .into_inner()
    );
    assert!(!stats.contains(CANARY));
    assert_eq!(
        emulator.stats().header("authorization"),
        Some(format!("Bearer {CANARY}").as_str())
    );

    signal(router.id(), libc::SIGTERM).unwrap();
    let mut stdout = String::new();
    router
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(router.wait().unwrap().success());
    let logs = first + &rest.join().unwrap() + &stdout;
    assert!(
        logs.len() > 1000,
        "trace-level logs were produced ({} bytes)",
        logs.len()
    );
    assert!(!logs.contains(CANARY), "the key leaked into the logs");
}
