//! The `emulator` binary (the upstream of the out-of-process overhead
//! bench): it announces its address on stdout once bound, answers with the
//! token count its flags set, and exits on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use ai_router_testkit::procs::signal;

#[tokio::test]
async fn announces_its_address_answers_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emulator"))
        .args(["--tokens", "3", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // The first stdout line is the readiness signal.
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "announced {base:?}");

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let answer: serde_json::Value = http
        .post(format!("{base}/v1/chat/completions"))
        .json(&serde_json::json!({
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer
            .pointer("/choices/0/message/content")
            .and_then(|c| c.as_str()),
        Some("tok0 tok1 tok2"),
        "{answer}"
    );
    assert_eq!(
        answer
            .pointer("/usage/completion_tokens")
            .and_then(|c| c.as_u64()),
        Some(3)
    );

    signal(child.id(), libc::SIGTERM).unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[test]
fn rejects_a_bad_flag_with_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_emulator"))
        .args(["--gap", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--gap") && err.contains("needs a unit"),
        "{err}"
    );
}
