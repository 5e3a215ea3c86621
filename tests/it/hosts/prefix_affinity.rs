//! Conversations that share a long system prompt stay on one host (whose
//! prompt cache holds it), and different customers spread over the hosts.

use std::collections::BTreeSet;

use ai_router::config::PickPolicy;
use ai_router_client::GenerateRequestBuilder;
use ai_router_testkit::emulator::EmulatorConfig;

use super::{emulators, pooled, router, served};

#[tokio::test]
async fn each_customers_follow_ups_go_to_one_host() {
    let hosts = emulators(3, EmulatorConfig::default()).await;
    let urls = hosts.iter().map(|e| e.openai_base()).collect();
    let router = router(pooled(urls, PickPolicy::Prefix)).await;
    let client = router.client().await.unwrap();
    let mut homes = BTreeSet::new();
    for customer in 0..8 {
        let system = format!("You are the assistant of customer {customer}. ").repeat(12);
        let before = served(&hosts);
        for turn in 0..5 {
            let request = GenerateRequestBuilder::new("lab/m")
                .message("system", &system)
                .message("user", format!("question {turn} of customer {customer}"))
                .max_tokens(2)
                .build();
            client.generate(request).await.unwrap();
        }
        let after = served(&hosts);
        let got: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        let home = got.iter().position(|&n| n == 5);
        assert!(home.is_some(), "customer {customer}: {got:?}");
        homes.extend(home);
    }
    // Rendezvous hashing spreads new prefixes: 8 customers on one host of
    // three has odds of 3 × (1/3)^8.
    assert!(homes.len() > 1, "every customer on one host: {homes:?}");
    router.stop().await.unwrap();
}
