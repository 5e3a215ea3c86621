//! The `ai-router` binary as a person runs it: it prints its bound address
//! first, serves a real generation, exits 0 on SIGTERM with every child
//! reaped, and leaves no orphan llama-server even when killed with SIGKILL.

// Helpers outside #[test] fns panic on broken set-up, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ai_router_proto::v1::router_client::RouterClient;
use ai_router_proto::v1::{GenerateRequest, GenerationParams, generate_request::Input};
use ai_router_testkit::llama::llama_server;
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::procs::{children_of, is_running, signal};

/// Starts the binary on 127.0.0.1:0 and reads the address from its first log line.
fn start(models: &ModelDir) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ai-router"))
        .args(["--listen", "127.0.0.1:0", "--log", "info"])
        .arg("--models-dir")
        .arg(models.path())
        .env("LLAMA_SERVER", llama_server().unwrap())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .split("listening on ")
        .nth(1)
        .unwrap_or_else(|| panic!("first log line should name the address: {first:?}"))
        .trim()
        .to_string();
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

async fn generate_once(addr: &str) {
    let mut client = RouterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let r = client
        .generate(GenerateRequest {
            model: "tiny".into(),
            input: Some(Input::Prompt("hi".into())),
            params: Some(GenerationParams {
                max_tokens: Some(4),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!r.text.is_empty());
}

fn llama_children_of(pid: u32) -> Vec<u32> {
    children_of(pid)
        .into_iter()
        .filter(|p| p.comm.starts_with("llama-server"))
        .map(|p| p.pid)
        .collect()
}

/// Waits (bounded) for a process to exit; the condition is observed, not slept on.
fn wait_gone(pid: u32, within: Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if !is_running(pid) {
            return true;
        }
        std::thread::yield_now();
    }
    !is_running(pid)
}

#[tokio::test]
async fn sigterm_exits_zero_and_stops_children() {
    let models = ModelDir::with_models(&["tiny"]).unwrap();
    let (mut router, addr) = start(&models);
    generate_once(&addr).await;
    let kids = llama_children_of(router.id());
    assert_eq!(kids.len(), 1, "one warm child");
    signal(router.id(), libc::SIGTERM).unwrap();
    let status = tokio::task::spawn_blocking(move || router.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    for kid in kids {
        assert!(
            wait_gone(kid, Duration::from_secs(5)),
            "child {kid} outlived the router"
        );
    }
}

#[tokio::test]
async fn sigkill_of_the_router_leaves_no_orphan() {
    let models = ModelDir::with_models(&["tiny"]).unwrap();
    let (mut router, addr) = start(&models);
    generate_once(&addr).await;
    let kids = llama_children_of(router.id());
    assert_eq!(kids.len(), 1);
    router.kill().unwrap();
    router.wait().unwrap();
    for kid in kids {
        // PR_SET_PDEATHSIG delivers SIGKILL to the child when the router dies.
        assert!(
            wait_gone(kid, Duration::from_secs(5)),
            "orphan llama-server {kid} survived the router's SIGKILL"
        );
    }
}
