//! `queue_slots` read from hosts that list their slots (the emulator
//! answers `GET /slots` as llama-server does): the host's load is this
//! router's requests plus the *other* clients', so a request of ours that
//! the host lists as busy is not counted twice.

use std::time::Duration;

use ai_router::config::PickPolicy;
use ai_router_testkit::emulator::{Emulator, EmulatorConfig};

use super::{emulators, lab_hosts, pooled, router};
use crate::common::prompt;

/// Bound on each wait (a read comes every `READ`).
const WAIT: Duration = Duration::from_secs(10);
const READ: Duration = Duration::from_millis(20);

/// Waits until `host` has answered two more `/slots` reads than it had
/// when called: the first of them began after the call, and the router
/// stored its result before it sent the second.
async fn a_fresh_read(host: &Emulator) {
    let before = host.stats().slot_reads;
    assert!(
        host.wait_until(WAIT, |s| s.slot_reads >= before + 2).await,
        "the router stopped reading /slots"
    );
}

/// The load the router gives `host`.
fn load_of(router: &ai_router_testkit::router::TestRouter, host: &Emulator) -> u32 {
    let label = host.base_url().trim_start_matches("http://").to_string();
    lab_hosts(router)
        .host_loads()
        .into_iter()
        .find(|(l, _)| *l == label)
        .map(|(_, load)| load)
        .unwrap()
}

#[tokio::test]
async fn own_requests_count_once_and_other_clients_are_added() {
    let hosts = emulators(2, EmulatorConfig::default().with_slots(2)).await;
    let mut endpoint = pooled(
        hosts.iter().map(Emulator::openai_base).collect(),
        PickPolicy::RoundRobin,
    );
    endpoint.queue_slots = Some(READ);
    let router = router(endpoint).await;
    let client = router.client().await.unwrap();

    // One of our requests holds a slot of whichever host it went to (the
    // emulator never answers `@silent`).
    let ours = tokio::spawn({
        let client = client.clone();
        async move { client.generate(prompt("lab/m@silent", "held", 1)).await }
    });
    let (first, second) = (&hosts[0], &hosts[1]);
    tokio::select! {
        arrived = first.wait_until(WAIT, |s| s.in_flight == 1) => assert!(arrived),
        arrived = second.wait_until(WAIT, |s| s.in_flight == 1) => assert!(arrived),
    }
    let host = if first.stats().in_flight == 1 {
        first
    } else {
        second
    };
    a_fresh_read(host).await;
    assert_eq!(
        load_of(&router, host),
        1,
        "the host lists our request as a busy slot; counted twice it would be 2"
    );

    // Another client's request on the same host joins the load.
    let theirs = tokio::spawn({
        let url = format!("{}/chat/completions", host.openai_base());
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&serde_json::json!({
                    "model": "m@silent",
                    "messages": [{"role": "user", "content": "theirs"}],
                }))
                .send()
                .await
        }
    });
    assert!(host.wait_until(WAIT, |s| s.in_flight == 2).await);
    a_fresh_read(host).await;
    assert_eq!(load_of(&router, host), 2, "ours plus theirs");

    ours.abort();
    theirs.abort();
    assert!(host.wait_until(WAIT, |s| s.in_flight == 0).await);
    a_fresh_read(host).await;
    assert_eq!(load_of(&router, host), 0);
    router.stop().await.unwrap();
}
