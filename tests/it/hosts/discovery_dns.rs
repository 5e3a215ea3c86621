//! `discovery = "dns://localhost:PORT"`: the name's addresses are the
//! hosts. `localhost` may also resolve to `::1`, where nothing listens:
//! those attempts fail to connect and are retried on 127.0.0.1.

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_testkit::emulator::Emulator;

use super::{lab_hosts, router};
use crate::common::prompt;

#[tokio::test]
async fn hosts_are_found_by_resolving_a_name() {
    let emulator = Emulator::start().await.unwrap();
    let port = emulator.addr().port();
    let mut ep = EndpointConfig::new("lab", EndpointKind::OpenAi, "");
    ep.discovery = Some(format!("dns://localhost:{port}/v1"));
    let router = router(ep).await;
    let client = router.client().await.unwrap();
    for i in 0..10 {
        let r = client
            .generate(prompt("lab/m", &format!("q{i}"), 2))
            .await
            .unwrap();
        assert_eq!(r.text, "tok0 tok1");
    }
    assert_eq!(emulator.stats().requests, 10);
    let hosts = lab_hosts(&router).len();
    assert!(hosts >= 1, "localhost resolved to no host");
    router.stop().await.unwrap();
}
