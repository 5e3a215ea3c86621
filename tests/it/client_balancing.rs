//! Client-side balancing: `Client::connect_balanced` follows a name as its
//! addresses change (a Kubernetes headless Service as router pods come and
//! go). A test resolver stands in for DNS and answers with two in-process
//! routers; each router's own `Stats` says which one served.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_client::{BalanceOptions, Client};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::{TestRouter, remote_config};

use crate::common::prompt;

async fn router(emulator: &Emulator) -> TestRouter {
    let mut config = remote_config().unwrap();
    config.endpoints.push(EndpointConfig::new(
        "emu",
        EndpointKind::OpenAi,
        &emulator.openai_base(),
    ));
    TestRouter::start(config).await.unwrap()
}

async fn served(router: &TestRouter) -> u64 {
    router
        .client()
        .await
        .unwrap()
        .stats()
        .await
        .unwrap()
        .total_requests
}

/// Calls through `client` until `done(calls so far)` holds (checked after
/// each call), at most `limit` calls; every call must succeed.
async fn call_until(client: &Client, limit: usize, mut done: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..limit {
        client
            .generate(prompt("emu/m@tokens=2", "hi", 2))
            .await
            .expect("a balanced call failed");
        if done().await {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn balanced_client_follows_the_name_as_routers_come_and_go() {
    let emulator = Emulator::start().await.unwrap();
    let (a, b) = (router(&emulator).await, router(&emulator).await);
    let answer: Arc<Mutex<Vec<SocketAddr>>> = Arc::new(Mutex::new(vec![a.addr]));
    let resolver = {
        let answer = answer.clone();
        Arc::new(move |host: String, _port: u16| {
            let found = answer.lock().unwrap().clone();
            Box::pin(async move {
                assert_eq!(host, "routers.test");
                Ok(found)
            }) as _
        })
    };
    let options = BalanceOptions {
        refresh: Duration::from_millis(20),
        resolver,
    };
    let client = Client::connect_balanced_with("dns:///routers.test:50051", options)
        .await
        .unwrap();

    // One address: every call goes to A.
    for _ in 0..10 {
        client
            .generate(prompt("emu/m@tokens=2", "hi", 2))
            .await
            .unwrap();
    }
    assert_eq!((served(&a).await, served(&b).await), (10, 0));

    // B appears in the name: calls start reaching it.
    answer.lock().unwrap().push(b.addr);
    assert!(
        call_until(&client, 2_000, async || served(&b).await > 0).await,
        "B never received a call after it appeared in the name"
    );
    let a_before = served(&a).await;
    let mut reached_a_again = false;
    call_until(&client, 200, async || {
        reached_a_again |= served(&a).await > a_before;
        reached_a_again
    })
    .await;
    assert!(reached_a_again, "with two routers, A never served again");

    // A leaves the name (a draining pod leaves DNS), then stops: 20 calls in
    // a row land on B, and none fails once A is gone.
    answer.lock().unwrap().retain(|addr| *addr != a.addr);
    let mut streak = (served(&a).await, 0);
    assert!(
        call_until(&client, 2_000, async || {
            let now = served(&a).await;
            streak = if now == streak.0 {
                (now, streak.1 + 1)
            } else {
                (now, 0)
            };
            streak.1 >= 20
        })
        .await,
        "A kept receiving calls after it left the name"
    );
    a.stop().await.unwrap();
    let b_before = served(&b).await;
    for _ in 0..20 {
        client
            .generate(prompt("emu/m@tokens=2", "hi", 2))
            .await
            .unwrap();
    }
    assert_eq!(served(&b).await, b_before + 20);
    b.stop().await.unwrap();
    emulator.shutdown().await;
}
