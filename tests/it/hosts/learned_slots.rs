//! Without `queue_slots`, a pool of several hosts still learns each host's
//! slot count with one `/slots` read when it joins (`learn_slots`), sent
//! with the endpoint's API key as llama-server's `--api-key` requires; a
//! host without slots keeps them unknown, and one still loading (503) is
//! asked again. (`learn_slots = false` is what lets the pool unit tests
//! start pools outside a runtime: with the flag ignored they would panic
//! on the spawn.)

use std::time::Duration;

use ai_router::config::PickPolicy;
use ai_router_testkit::emulator::{Emulator, EmulatorConfig};

use super::{SwitchableHost, lab_hosts, pooled, router};
use crate::common::{CANARY_KEY, KEY_ENV, set_canary_key};

const WAIT: Duration = Duration::from_secs(10);

/// The hosts' slots: none is `--no-slots`.
const SLOTS: [Option<u32>; 4] = [Some(3), Some(5), Some(7), None];

/// Hosts with [`SLOTS`], all behind the key.
async fn hosts() -> Vec<Emulator> {
    let mut hosts = Vec::new();
    for slots in SLOTS {
        let mut config = EmulatorConfig::default().with_api_key(CANARY_KEY);
        config.slots = slots.map(|n| n as usize);
        hosts.push(Emulator::start_with(config).await.unwrap());
    }
    hosts
}

#[tokio::test]
async fn each_host_is_asked_its_slots_once_with_the_key() {
    set_canary_key();
    let hosts = hosts().await;
    let mut endpoint = pooled(
        hosts.iter().map(Emulator::openai_base).collect(),
        PickPolicy::LeastLoaded,
    );
    endpoint.api_key_env = Some(KEY_ENV.into());
    let router = router(endpoint).await;
    // The hosts are asked one at a time in member order (by URL), each
    // answer stored before the next host is asked: once the last has been
    // asked, every answer before it is in. The last one's own may not be
    // yet, so it is checked only for having been asked.
    let label = |h: &Emulator| h.base_url().trim_start_matches("http://").to_string();
    let order: Vec<String> = lab_hosts(&router)
        .host_slots()
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    let Some((last, before)) = order.split_last() else {
        panic!("the pool has no hosts")
    };
    let last_host = hosts.iter().find(|h| label(h) == *last).unwrap();
    assert!(last_host.wait_until(WAIT, |s| s.slot_reads == 1).await);
    let expected = |l: &String| {
        let i = hosts.iter().position(|h| label(h) == *l).unwrap();
        SLOTS[i]
    };
    let learned: Vec<(String, Option<u32>)> = lab_hosts(&router)
        .host_slots()
        .into_iter()
        .filter(|(l, _)| before.contains(l))
        .collect();
    let wanted: Vec<(String, Option<u32>)> =
        before.iter().map(|l| (l.clone(), expected(l))).collect();
    assert_eq!(
        learned, wanted,
        "the hosts list their slots only to a read that carries the key"
    );
    for h in &hosts {
        assert_eq!(h.stats().slot_reads, 1, "one read per host in a round");
    }
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_host_still_loading_is_asked_again() {
    // Both answer `/slots` with 503 "Loading model" until switched.
    let mut hosts = vec![
        SwitchableHost::start(true).await,
        SwitchableHost::start(true).await,
    ];
    // Asked in member order (by URL): the first one's answer is stored
    // before the second is asked.
    hosts.sort_by(|a, b| a.base.cmp(&b.base));
    let router = router(pooled(
        hosts.iter().map(|h| h.base.clone()).collect(),
        PickPolicy::LeastLoaded,
    ))
    .await;
    let first = hosts[0]
        .base
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_string();
    let slots_of_first = || {
        lab_hosts(&router)
            .host_slots()
            .into_iter()
            .find(|(l, _)| *l == first)
            .and_then(|(_, s)| s)
    };
    assert!(hosts[1].wait_slot_reads(1, WAIT).await);
    assert_eq!(slots_of_first(), None, "a 503 teaches nothing");
    for h in &hosts {
        h.set_failing(false);
    }
    // The next round (5 s on) asks both again.
    assert!(hosts[1].wait_slot_reads(2, WAIT).await);
    assert_eq!(slots_of_first(), Some(2));
    router.stop().await.unwrap();
}
