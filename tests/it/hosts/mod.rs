//! Pooled endpoints: one endpoint, several hosts (testkit emulators on
//! loopback ports, and a switchable failing host). One module per
//! behaviour; the helpers here build the endpoint and the hosts.
//!
//! Most run in-process on loopback; [`netns_faults`] runs the hosts as
//! separate processes in network namespaces, where a link can go down.

mod discovery_dns;
mod discovery_file;
mod ejection;
mod fallback_elsewhere;
mod host_killed;
mod learned_slots;
mod netns_faults;
mod p2c_slow_host;
mod prefix_affinity;
mod probe;
mod slot_aware;
mod slots_queue;
mod spread;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ai_router::config::{Config, EndpointConfig, EndpointKind, PickPolicy};
use ai_router_testkit::emulator::{Emulator, EmulatorConfig};
use ai_router_testkit::router::{TestRouter, remote_config};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// `n` emulators with the same settings.
pub async fn emulators(n: usize, config: EmulatorConfig) -> Vec<Emulator> {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        all.push(Emulator::start_with(config.clone()).await.unwrap());
    }
    all
}

/// An endpoint `lab` over `urls`.
pub fn pooled(urls: Vec<String>, pick: PickPolicy) -> EndpointConfig {
    let mut ep = EndpointConfig::new("lab", EndpointKind::OpenAi, "");
    ep.urls = urls;
    ep.pick = pick;
    ep
}

/// A router with one endpoint.
pub async fn router(endpoint: EndpointConfig) -> TestRouter {
    let mut config: Config = remote_config().unwrap();
    config.endpoints.push(endpoint);
    TestRouter::start(config).await.unwrap()
}

/// The host pool of endpoint `lab`.
pub fn lab_hosts(router: &TestRouter) -> Arc<ai_router::backend::HostPool> {
    router
        .engine
        .routes()
        .endpoints()
        .find(|e| e.config.name == "lab")
        .unwrap()
        .hosts
        .clone()
}

/// Requests each emulator has received.
pub fn served(hosts: &[Emulator]) -> Vec<u64> {
    hosts.iter().map(|e| e.stats().requests).collect()
}

/// A host whose answers are switched between HTTP 500 and a plain JSON
/// completion (and its `/slots` between 503, as llama-server answers while
/// it loads, and two free slots); counts the requests and `/slots` reads it
/// gets. Stops when dropped.
pub struct SwitchableHost {
    /// `http://127.0.0.1:PORT/v1`.
    pub base: String,
    state: Arc<HostState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct HostState {
    failing: AtomicBool,
    requests: AtomicU64,
    slot_reads: AtomicU64,
    /// Woken on every `/slots` read.
    read: tokio::sync::Notify,
}

impl SwitchableHost {
    pub async fn start(failing: bool) -> SwitchableHost {
        let state = Arc::new(HostState::default());
        state.failing.store(failing, Ordering::SeqCst);
        let app = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(answer))
            .route("/slots", axum::routing::get(slots))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SwitchableHost { base, state, task }
    }

    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Waits (at most `within`) until it has answered `n` `/slots` reads.
    pub async fn wait_slot_reads(&self, n: u64, within: std::time::Duration) -> bool {
        let reached = async {
            loop {
                let read = self.state.read.notified();
                tokio::pin!(read);
                read.as_mut().enable();
                if self.state.slot_reads.load(Ordering::SeqCst) >= n {
                    return;
                }
                read.await;
            }
        };
        tokio::time::timeout(within, reached).await.is_ok()
    }
}

impl Drop for SwitchableHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn slots(State(state): State<Arc<HostState>>) -> Response {
    // Counted before answering: a waiter knows the answer came after.
    state.slot_reads.fetch_add(1, Ordering::SeqCst);
    state.read.notify_waiters();
    if state.failing.load(Ordering::SeqCst) {
        let body = serde_json::json!({"error": {"code": 503, "message": "Loading model"}});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    Json(serde_json::json!([
        {"id": 0, "is_processing": false},
        {"id": 1, "is_processing": false}
    ]))
    .into_response()
}

async fn answer(State(state): State<Arc<HostState>>) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    if state.failing.load(Ordering::SeqCst) {
        let body = serde_json::json!({"error": {"code": 500, "message": "host broken"}});
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
    }
    Json(serde_json::json!({
        "id": "switchable",
        "model": "m",
        "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1}
    }))
    .into_response()
}
