//! Helpers for the access-control modules: a router with API keys in front
//! of the emulator as OpenRouter, keys made the way `ai-router-cli keys new`
//! makes them, clients that present them, and status checks.

use std::path::Path;

use ai_router::config::{Config, EndpointConfig, EndpointKind, KeyConfig};
use ai_router::domain::Priority;
use ai_router_client::{Client, ClientError};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::{TestRouter, remote_config};

/// A key and its config entry (every model, no limits, not admin).
pub fn key(name: &str) -> (String, KeyConfig) {
    let k = ai_router_client::keys::generate();
    let entry = KeyConfig {
        name: name.into(),
        hash: k.hash,
        models: vec!["*".into()],
        requests_per_minute: None,
        tokens_per_minute: None,
        budget_usd_per_day: None,
        budget_usd_per_month: None,
        max_batch_items: None,
        max_concurrency: None,
        priority: Priority::Interactive,
        admin: false,
    };
    (k.key, entry)
}

/// A remote-only config with the emulator as OpenRouter, these keys, and
/// the ledger in `data`.
pub fn config(emulator: &Emulator, data: &Path, keys: Vec<KeyConfig>) -> Config {
    let mut c = remote_config().unwrap();
    c.endpoints.push(EndpointConfig::new(
        "openrouter",
        EndpointKind::OpenRouter,
        &emulator.openrouter_base(),
    ));
    c.access.keys = keys;
    c.access.ledger_path = data.join("usage.db");
    c
}

/// A client of `router` presenting `key`.
pub async fn client(router: &TestRouter, key: &str) -> Client {
    router.client().await.unwrap().with_api_key(key).unwrap()
}

/// The status of a failed call, with its code checked.
pub fn status_of<T: std::fmt::Debug>(
    result: Result<T, ClientError>,
    code: tonic::Code,
) -> tonic::Status {
    match result {
        Err(ClientError::Status(s)) if s.code() == code => s,
        other => panic!("expected {code:?}, got {other:?}"),
    }
}
