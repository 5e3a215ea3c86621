//! A pooled endpoint over hosts that are separate processes in their own
//! network namespaces (the `emulator` binary, and real llama-servers),
//! reached over veth links. Faults: a host killed mid-run, its link taken
//! down mid-run (connects and reads hang: only the router's timeouts end
//! them), a host answering 500, a host too slow for the first-token
//! timeout. Nothing is lost: every call succeeds on another host, and the
//! failed host, and only it, is ejected. With every link down, each call
//! gets one clear error within its timeouts.
//!
//! Skips, saying why, where namespaces cannot be made (not root, no `ip`).

use std::time::Duration;

use ai_router::config::{EndpointConfig, PickPolicy};
use ai_router_testkit::netns;
use ai_router_testkit::netns_host::{NsHost, PORT};
use ai_router_testkit::router::TestRouter;
use futures::StreamExt;

use super::{lab_hosts, pooled, router};
use crate::common::prompt;

const EMULATOR: &str = env!("CARGO_BIN_EXE_emulator");

/// Calls per run, and how many at once.
const CALLS: usize = 60;
const CONCURRENCY: usize = 6;

/// Whether namespaced hosts can run here; prints why not.
fn can_run(test: &str) -> bool {
    match netns::unavailable() {
        None => true,
        Some(why) => {
            eprintln!("SKIPPED: {test}: hosts in network namespaces not tested: {why}");
            false
        }
    }
}

/// Emulator hosts, one per argument list, each in its own namespace.
async fn emulators(args: &[&[&str]]) -> Vec<NsHost> {
    let mut hosts = Vec::new();
    for a in args {
        hosts.push(NsHost::emulator(EMULATOR.as_ref(), a).await.unwrap());
    }
    hosts
}

/// Answers take 5 tokens 10 ms apart, so calls are in flight when a fault
/// strikes.
const STEADY: &[&str] = &["--tokens", "5", "--gap", "10ms"];

/// The endpoint over `hosts`, with timeouts short enough for a test and an
/// ejection that lasts past it.
fn endpoint(hosts: &[NsHost]) -> EndpointConfig {
    let urls = hosts.iter().map(NsHost::openai_base).collect();
    let mut ep = pooled(urls, PickPolicy::LeastLoaded);
    ep.connect_timeout = Duration::from_millis(300);
    ep.first_token_timeout = Duration::from_secs(1);
    ep.token_gap_timeout = Duration::from_secs(1);
    ep.max_attempts = 3;
    ep.ejection_failures = 2;
    ep.ejection_time = Duration::from_secs(3600);
    ep
}

/// The `address:port` of `host` as the pool labels it.
fn label(host: &NsHost) -> String {
    format!("{}:{PORT}", host.ns.ns_ip)
}

/// The hosts of endpoint `lab` ejected now.
fn ejected(router: &TestRouter) -> Vec<String> {
    lab_hosts(router).ejected_hosts()
}

/// Runs `CALLS` calls, `CONCURRENCY` at a time; after the `at`-th answer
/// runs `fault` once. Every call must succeed.
async fn run_with_fault(router: &TestRouter, at: usize, fault: impl AsyncFnOnce()) {
    let client = router.client().await.unwrap();
    let calls = futures::stream::iter(0..CALLS).map(|i| {
        let client = client.clone();
        async move { client.generate(prompt("lab/m", &format!("q{i}"), 5)).await }
    });
    let mut results = calls.buffer_unordered(CONCURRENCY);
    let mut fault = Some(fault);
    let mut ok = 0;
    while let Some(r) = results.next().await {
        let answer = r.unwrap_or_else(|e| panic!("call lost after {ok} answers: {e}"));
        assert_eq!(answer.text, "tok0 tok1 tok2 tok3 tok4");
        ok += 1;
        if ok == at
            && let Some(fault) = fault.take()
        {
            fault().await;
        }
    }
    assert_eq!(ok, CALLS);
}

/// Runs `CALLS` calls with no fault on the way (a host is faulty from the start).
async fn run_all(router: &TestRouter) {
    run_with_fault(router, usize::MAX, async || {}).await;
}

#[tokio::test]
async fn a_host_killed_mid_run_loses_no_call_and_is_ejected() {
    if !can_run("host killed") {
        return;
    }
    let mut hosts = emulators(&[STEADY, STEADY, STEADY]).await;
    let router = router(endpoint(&hosts)).await;
    let victim = label(&hosts[1]);
    run_with_fault(&router, 15, async || hosts[1].kill().await.unwrap()).await;
    assert_eq!(ejected(&router), [victim]);
    assert_eq!(router.engine.upstream_metrics().host_ejections.get(), 1);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_host_whose_link_goes_down_is_timed_out_and_ejected() {
    if !can_run("link down") {
        return;
    }
    let hosts = emulators(&[STEADY, STEADY, STEADY]).await;
    let router = router(endpoint(&hosts)).await;
    let victim = label(&hosts[2]);
    // Connections to it are open and pooled by now: reads on them hang.
    run_with_fault(&router, 15, async || hosts[2].ns.set_link(false).unwrap()).await;
    assert_eq!(ejected(&router), [victim]);
    assert_eq!(router.engine.upstream_metrics().host_ejections.get(), 1);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_host_answering_500_is_ejected_and_its_calls_retried() {
    if !can_run("host answering 500") {
        return;
    }
    let failing: &[&str] = &["--behaviour", "status=500"];
    let hosts = emulators(&[STEADY, failing, STEADY]).await;
    let router = router(endpoint(&hosts)).await;
    run_all(&router).await;
    assert_eq!(ejected(&router), [label(&hosts[1])]);
    assert_eq!(router.engine.upstream_metrics().host_ejections.get(), 1);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_host_slower_than_the_first_token_timeout_is_ejected() {
    if !can_run("slow host") {
        return;
    }
    // Its answers start after 3 s; the endpoint waits 1 s for a first token.
    let slow: &[&str] = &["--tokens", "5", "--delay", "3s"];
    let hosts = emulators(&[slow, STEADY, STEADY]).await;
    let router = router(endpoint(&hosts)).await;
    run_all(&router).await;
    assert_eq!(ejected(&router), [label(&hosts[0])]);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn with_every_link_down_each_call_gets_one_clear_error() {
    if !can_run("every link down") {
        return;
    }
    let hosts = emulators(&[STEADY, STEADY]).await;
    for h in &hosts {
        h.ns.set_link(false).unwrap();
    }
    let router = router(endpoint(&hosts)).await;
    let client = router.client().await.unwrap();
    let calls = (0..4).map(|i| {
        let client = client.clone();
        async move { client.generate(prompt("lab/m", &format!("q{i}"), 5)).await }
    });
    for r in futures::future::join_all(calls).await {
        let error = r.expect_err("no host is reachable");
        assert_eq!(error.code(), Some(tonic::Code::Unavailable), "{error:?}");
        let message = error.message().unwrap_or_default();
        assert!(message.contains("lab"), "{message}");
    }
    router.stop().await.unwrap();
}

#[tokio::test]
async fn llama_server_hosts_in_namespaces_survive_one_killed() {
    if !can_run("llama-server hosts") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.gguf");
    ai_router_testkit::gguf::write_tiny_llama_default(&model, 7).unwrap();
    let mut hosts = Vec::new();
    for _ in 0..2 {
        hosts.push(
            NsHost::llama(&model, 2, &["--ctx-size", "2048"])
                .await
                .unwrap(),
        );
    }
    let router = router(endpoint(&hosts)).await;
    let client = router.client().await.unwrap();
    let victim = label(&hosts[0]);
    let calls = futures::stream::iter(0..24).map(|i| {
        let client = client.clone();
        async move {
            client
                .generate(prompt("lab/tiny", &format!("hello {i}"), 4))
                .await
        }
    });
    let mut results = calls.buffer_unordered(4);
    let mut ok = 0;
    while let Some(r) = results.next().await {
        let answer = r.unwrap_or_else(|e| panic!("call lost after {ok} answers: {e}"));
        assert!(answer.usage.unwrap().completion_tokens > 0);
        ok += 1;
        if ok == 8 {
            hosts[0].kill().await.unwrap();
        }
    }
    assert_eq!(ok, 24);
    assert_eq!(ejected(&router), [victim]);
    router.stop().await.unwrap();
}
