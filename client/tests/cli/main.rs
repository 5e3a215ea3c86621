//! The `ai-router-cli` binary run as a user runs it, against an in-process
//! fake router: what it prints on stdout (text, or proto3 JSON with `--json`
//! and for batches), and its exit statuses.

// A failed unwrap is a failed test, in the helpers as in the tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_router;

use std::process::Output;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Runs the CLI with `args` against the router at `addr`, feeding `stdin`.
async fn cli(addr: std::net::SocketAddr, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ai-router-cli"))
        .arg("--addr")
        .arg(addr.to_string())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.unwrap()
}

fn stdout_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The fake's answer to prompt "hi" on model "tiny", as proto3 JSON: names in
/// lowerCamelCase, enums by name, durations as seconds strings, fields at
/// their default left out.
fn hi_json() -> Value {
    json!({
        "text": "echo: hi",
        "model": "tiny",
        "backend": "BACKEND_KIND_LOCAL",
        "finishReason": "FINISH_REASON_STOP",
        "usage": {"promptTokens": 3, "completionTokens": 4},
        "timing": {
            "queueWait": "0.001s",
            "modelAcquire": "0s",
            "timeToFirstToken": "0.250s",
            "total": "1.500s",
            "attempts": 1
        },
        "clientRequestId": "r1"
    })
}

#[tokio::test]
async fn generate_json_prints_the_response_message() {
    let router = fake_router::start().await;
    let args = ["generate", "-m", "tiny", "-p", "hi", "--json"];
    let out = cli(
        router.addr,
        &[&args[..], &["--client-request-id", "r1"]].concat(),
        "",
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout_lines(&out), [hi_json()]);
    // The timing summary still goes to stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tiny (local) · stop · 3+4 tokens"),
        "{stderr}"
    );
}

#[tokio::test]
async fn streamed_json_collects_the_deltas_into_text() {
    let router = fake_router::start().await;
    let args = ["-q", "generate", "-m", "tiny", "--stream", "--json"];
    let out = cli(
        router.addr,
        &[&args[..], &["--client-request-id", "r1"]].concat(),
        "hi\n",
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout_lines(&out), [hi_json()]);
}

#[tokio::test]
async fn plain_generate_prints_the_text() {
    let router = fake_router::start().await;
    for extra in [&[][..], &["--stream"]] {
        let args = [&["-q", "generate", "-m", "tiny", "-p", "hi"][..], extra].concat();
        let out = cli(router.addr, &args, "").await;
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "echo: hi\n");
        assert!(out.stderr.is_empty(), "{out:?}");
    }
}

#[tokio::test]
async fn batch_prints_one_result_message_per_line() {
    let router = fake_router::start().await;
    let input = "a\n{\"prompt\": \"b\", \"model\": \"missing\"}\n";
    let out = cli(router.addr, &["-q", "batch", "--model", "tiny"], input).await;
    // Some items failed: status 1, not 2 (the batch itself ran).
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 2);
    // Index 0 is proto3's default, so it is omitted like any other.
    assert_eq!(lines[0].get("index"), None);
    assert_eq!(lines[0]["response"]["text"], "echo: a");
    assert_eq!(
        lines[1],
        json!({"index": 1, "error": {"code": 5, "message": "no model \"missing\"; known: tiny"}})
    );
}

#[tokio::test]
async fn stats_and_models_json() {
    let router = fake_router::start().await;
    let out = cli(router.addr, &["stats", "--json"], "").await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout_lines(&out),
        [json!({"uptime": "90s", "totalRequests": "3"})]
    );

    let out = cli(router.addr, &["models", "--json"], "").await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout_lines(&out),
        [json!({"models": [{
            "id": "tiny",
            "backend": "BACKEND_KIND_LOCAL",
            "state": "MODEL_STATE_WARM",
            "slots": 2
        }]})]
    );
}

#[tokio::test]
async fn refused_call_exits_2_with_the_status() {
    let router = fake_router::start().await;
    let out = cli(
        router.addr,
        &["generate", "-m", "missing", "-p", "hi", "--json"],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: NOT_FOUND: no model \"missing\"; known: tiny\n"
    );
}

#[tokio::test]
async fn usage_sends_the_api_key_and_the_window() {
    let router = fake_router::start().await;
    let out = cli(
        router.addr,
        &["--api-key", "admin-key", "usage", "--since", "2h", "--json"],
        "",
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout_lines(&out)[0]["lines"][0]["calls"], "7200");

    let out = cli(router.addr, &["usage", "--since", "2h"], "").await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: UNAUTHENTICATED: unknown API key\n"
    );
}

#[tokio::test]
async fn keys_new_prints_a_key_and_the_entry_with_its_hash() {
    let out = Command::new(env!("CARGO_BIN_EXE_ai-router-cli"))
        .args(["keys", "new", "--name", "team-a"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let key = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(ai_router_client::keys::KEY_PREFIX))
        .unwrap();
    let entry = format!("hash = \"{}\"", ai_router_client::keys::hash(key));
    assert!(text.contains(&entry), "{text}");
    assert!(text.contains("name = \"team-a\""), "{text}");
}
