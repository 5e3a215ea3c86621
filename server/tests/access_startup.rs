//! The `ai-router` binary's access-control start-up rules and secrecy: a
//! public address with no keys and no client CA refuses to start naming
//! `--allow-unauthenticated`; a corrupt ledger or a missing TLS file stops
//! it with the path and the reason; and with `--log trace`, neither an API key nor its hash
//! appears in anything it prints.

// Helpers outside #[test] fns panic on broken set-up, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use ai_router_proto::v1::router_client::RouterClient;
use ai_router_proto::v1::{
    GenerateRequest, GenerationParams, StatsRequest, generate_request::Input,
};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::procs::signal;
use tonic::metadata::MetadataValue;

fn router() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ai-router"));
    c.args(["--models-dir", "/nonexistent"])
        .env_remove("OPENROUTER_API_KEY")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

#[test]
fn a_public_address_without_authentication_refuses_to_start() {
    let out = router().args(["--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-unauthenticated"), "{stderr}");
    assert!(stderr.contains("0.0.0.0:0"), "{stderr}");
}

#[test]
fn a_corrupt_ledger_stops_the_start_with_the_path_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("usage.db");
    std::fs::write(&ledger, vec![0x42; 4096]).unwrap();
    let config = dir.path().join("router.toml");
    let key = ai_router_client::keys::generate();
    std::fs::write(
        &config,
        format!(
            "[access]\nledger_path = {:?}\n[[access.keys]]\nname = \"a\"\nhash = \"{}\"\n",
            ledger.display().to_string(),
            key.hash
        ),
    )
    .unwrap();
    let out = router()
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open the usage ledger"), "{stderr}");
    assert!(stderr.contains("usage.db"), "{stderr}");
    assert!(stderr.contains("not a database"), "{stderr}");
}

#[test]
fn a_missing_tls_certificate_stops_the_start_naming_the_file() {
    let out = router()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent/server.pem",
            "--tls-key",
            "/nonexistent/server-key.pem",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read the TLS certificate /nonexistent/server.pem"),
        "{stderr}"
    );
}

fn request() -> GenerateRequest {
    GenerateRequest {
        model: "openrouter/vendor/ok".into(),
        input: Some(Input::Prompt("hello".into())),
        params: Some(GenerationParams {
            max_tokens: Some(3),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn with_key<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {key}")).unwrap(),
    );
    r
}

#[tokio::test]
async fn api_keys_and_their_hashes_never_reach_the_logs() {
    let emulator = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let admin = ai_router_client::keys::generate();
    let user = ai_router_client::keys::generate();
    let config = dir.path().join("router.toml");
    std::fs::write(
        &config,
        format!(
            "[openrouter]\nenabled = true\nbase_url = \"{}\"\n\
             [access]\nledger_path = {:?}\n\
             [[access.keys]]\nname = \"ops\"\nhash = \"{}\"\nadmin = true\n\
             [[access.keys]]\nname = \"user\"\nhash = \"{}\"\nmodels = [\"openrouter/*\"]\nrequests_per_minute = 2\n",
            emulator.openrouter_base(),
            dir.path().join("usage.db").display().to_string(),
            admin.hash,
            user.hash,
        ),
    )
    .unwrap();
    let mut child = router()
        .args(["--listen", "127.0.0.1:0", "--log", "trace", "--config"])
        .arg(&config)
        .env("OPENROUTER_API_KEY", "sk-or-unused")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
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
    let mut messages = Vec::new();
    for key in [&user.key, &user.key, &user.key, &admin.key, "air_wrong"] {
        match client.generate(with_key(request(), key)).await {
            Ok(_) => {}
            Err(s) => messages.push(s.message().to_string()),
        }
    }
    assert_eq!(
        messages.len(),
        2,
        "the third user call is rate limited, the wrong key refused: {messages:?}"
    );
    let stats = client
        .stats(with_key(StatsRequest {}, &admin.key))
        .await
        .unwrap();
    let stats = format!("{:?}", stats.into_inner());

    signal(child.id(), libc::SIGTERM).unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let everything = first + &rest.join().unwrap() + &stdout + &stats + &messages.join("\n");
    assert!(everything.len() > 1000, "trace-level logs were produced");
    for secret in [&admin.key, &user.key, &admin.hash, &user.hash] {
        assert!(
            !everything.contains(secret.as_str()),
            "a key or hash leaked"
        );
        let hex = secret.trim_start_matches("sha256:");
        assert!(!everything.contains(hex), "a hash leaked");
    }
}
