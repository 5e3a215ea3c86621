//! The same keys on the HTTP door as on gRPC: no or unknown key → 401, a
//! model outside the key's globs → 403 (and absent from `/v1/models`), a
//! spent rate limit → 429 with `Retry-After`, and the usage ledger records
//! the HTTP calls under the key's tenant.

use serde_json::{Value, json};

use crate::keyed::{client, config, key};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::TestRouter;

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
}

/// A chat completion for `model` with `key` as a bearer token.
async fn call(http: &reqwest::Client, url: &str, key: &str, model: &str) -> reqwest::Response {
    http.post(url)
        .bearer_auth(key)
        .json(&chat(model))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_grpc_keys_guard_the_http_door_too() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (open_key, open) = key("team-open");
    let (narrow_key, mut narrow) = key("team-narrow");
    narrow.models = vec!["openrouter/allowed/*".into()];
    narrow.requests_per_minute = Some(2);
    let (admin_key, mut admin) = key("ops");
    admin.admin = true;
    let mut c = config(&emulator, data.path(), vec![open, narrow, admin]);
    c.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let router = TestRouter::start(c).await.unwrap();
    let url = format!("{}/chat/completions", router.openai_base());
    let http = reqwest::Client::new();

    let anonymous = http
        .post(&url)
        .json(&chat("openrouter/a/b"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = call(&http, &url, "sk-not-a-key", "openrouter/a/b").await;
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert!(!body.to_string().contains("sk-not-a-key"), "{body}");

    let ok = http
        .post(&url)
        .header("x-api-key", &open_key)
        .json(&chat("openrouter/a/b"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let denied = call(&http, &url, &narrow_key, "openrouter/other/m").await;
    assert_eq!(denied.status(), 403);
    let models: Value = http
        .get(format!("{}/models", router.openai_base()))
        .bearer_auth(&narrow_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["id"] != "openrouter/*"),
        "a narrow key sees only its own models: {models}"
    );

    // Two requests a minute: the third is refused with a hint.
    for _ in 0..2 {
        let r = call(&http, &url, &narrow_key, "openrouter/allowed/m").await;
        assert_eq!(r.status(), 200);
    }
    let limited = call(&http, &url, &narrow_key, "openrouter/allowed/m").await;
    assert_eq!(limited.status(), 429);
    let after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after >= 1, "retry-after {after}");

    // The ledger counted the HTTP calls under each tenant.
    let usage = client(&router, &admin_key)
        .await
        .usage(std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    let calls = |tenant: &str| -> u64 {
        usage
            .lines
            .iter()
            .filter(|l| l.key == tenant)
            .map(|l| l.calls)
            .sum()
    };
    assert_eq!(calls("team-open"), 1, "{usage:?}");
    assert_eq!(calls("team-narrow"), 2, "{usage:?}");
    router.stop().await.unwrap();
}
