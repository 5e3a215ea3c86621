//! `discovery = "file://..."`: hosts come from a watched TOML file; an
//! atomic swap of the file moves the traffic without a restart, and a
//! broken file keeps the hosts that were known.

use std::time::{Duration, Instant};

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_testkit::emulator::EmulatorConfig;

use super::{emulators, router};
use crate::common::prompt;

/// Writes the file beside and renames it over, as a ConfigMap update does.
fn swap(path: &std::path::Path, content: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn a_swapped_hosts_file_moves_the_traffic() {
    let hosts = emulators(2, EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts.toml");
    swap(&file, &format!("urls = [{:?}]\n", hosts[0].openai_base()));
    let mut ep = EndpointConfig::new("lab", EndpointKind::OpenAi, "");
    ep.discovery = Some(format!("file://{}", file.display()));
    ep.discovery_interval = Duration::from_millis(20);
    let router = router(ep).await;
    let client = router.client().await.unwrap();

    for i in 0..3 {
        client
            .generate(prompt("lab/m", &format!("a{i}"), 2))
            .await
            .unwrap();
    }
    assert_eq!(hosts[0].stats().requests, 3);

    swap(&file, &format!("urls = [{:?}]\n", hosts[1].openai_base()));
    let until = Instant::now() + Duration::from_secs(10);
    while hosts[1].stats().requests == 0 && Instant::now() < until {
        client.generate(prompt("lab/m", "b", 2)).await.unwrap();
    }
    assert!(hosts[1].stats().requests > 0, "the new host was never used");
    let old = hosts[0].stats().requests;

    // A broken file keeps the known hosts.
    swap(&file, "urls = [\"not a url\"\n");
    for i in 0..5 {
        client
            .generate(prompt("lab/m", &format!("c{i}"), 2))
            .await
            .unwrap();
    }
    assert_eq!(hosts[0].stats().requests, old, "the removed host got calls");
    router.stop().await.unwrap();
}
