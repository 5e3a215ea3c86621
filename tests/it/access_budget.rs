//! Budgets and the usage ledger on a live router: spend survives a restart
//! (the router is refused at the right call after coming back), a deleted
//! tenant's key stops working while its rows stay in the report, and a
//! batch that exhausts its budget concurrently gets one result per item with
//! the ledger equal to what the callers were told.

use std::path::Path;
use std::time::Duration;

use ai_router::api::status::PUSHBACK_KEY;
use ai_router::config::KeyConfig;
use ai_router_client::proto::batch_item_result::Outcome;
use ai_router_client::proto::{GenerateRequest, UsageLine};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::TestRouter;
use futures::StreamExt;
use tonic::Code;

use crate::common::prompt;
use crate::keyed::{self, status_of};

const MODEL: &str = "openrouter/vendor/model";

fn request() -> GenerateRequest {
    prompt(MODEL, "what does a call cost?", 4)
}

/// What one `request()` costs at the emulator ($1/M prompt, $2/M completion
/// tokens), learnt from a router with an unlimited key.
async fn cost_of_one_call(emulator: &Emulator) -> f64 {
    let data = tempfile::tempdir().unwrap();
    let (key, entry) = keyed::key("probe");
    let router = TestRouter::start(keyed::config(emulator, data.path(), vec![entry]))
        .await
        .unwrap();
    let reply = keyed::client(&router, &key)
        .await
        .generate(request())
        .await
        .unwrap();
    router.stop().await.unwrap();
    let cost = reply.usage.unwrap().cost_usd.unwrap();
    assert!(cost > 0.0);
    cost
}

async fn start(emulator: &Emulator, data: &Path, keys: Vec<KeyConfig>) -> TestRouter {
    TestRouter::start(keyed::config(emulator, data, keys))
        .await
        .unwrap()
}

fn admin() -> (String, KeyConfig) {
    let (key, mut entry) = keyed::key("ops");
    entry.admin = true;
    // Reads reports; may generate nothing.
    entry.models = vec!["none/*".into()];
    (key, entry)
}

async fn usage(router: &TestRouter, admin_key: &str) -> Vec<UsageLine> {
    keyed::client(router, admin_key)
        .await
        .usage(Duration::from_secs(3600))
        .await
        .unwrap()
        .lines
}

#[tokio::test]
async fn a_budget_is_enforced_across_a_restart_and_a_deleted_tenant_is_refused() {
    let emulator = Emulator::start().await.unwrap();
    let cost = cost_of_one_call(&emulator).await;
    let data = tempfile::tempdir().unwrap();
    let (team_key, mut team) = keyed::key("team");
    // Room for two calls and a half: the third is admitted (2 spent), the
    // fourth is refused (3 spent).
    team.budget_usd_per_day = Some(2.5 * cost);
    let (admin_key, ops) = admin();

    let router = start(&emulator, data.path(), vec![team.clone(), ops.clone()]).await;
    let client = keyed::client(&router, &team_key).await;
    for _ in 0..2 {
        client.generate(request()).await.unwrap();
    }
    router.stop().await.unwrap();

    // Restarted: the two calls are read back from the ledger.
    let router = start(&emulator, data.path(), vec![team.clone(), ops.clone()]).await;
    let client = keyed::client(&router, &team_key).await;
    client.generate(request()).await.unwrap();
    let s = status_of(client.generate(request()).await, Code::ResourceExhausted);
    assert!(
        s.message()
            .contains("key 'team' has spent its daily budget"),
        "{s:?}"
    );
    let pushback: u64 = s
        .metadata()
        .get(PUSHBACK_KEY)
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        pushback <= 86_400_000,
        "resets by the next UTC midnight: {pushback}"
    );
    let lines = usage(&router, &admin_key).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!((lines[0].key.as_str(), lines[0].calls), ("team", 3));
    assert!((lines[0].cost_usd - 3.0 * cost).abs() < 1e-12);
    router.stop().await.unwrap();

    // The tenant is deleted from the config: its key is unknown, its
    // history stays in the ledger.
    let router = start(&emulator, data.path(), vec![ops]).await;
    let client = keyed::client(&router, &team_key).await;
    let s = status_of(client.generate(request()).await, Code::Unauthenticated);
    assert_eq!(s.message(), "unknown API key");
    let lines = usage(&router, &admin_key).await;
    assert_eq!(lines.iter().map(|l| l.calls).sum::<u64>(), 3);
    router.stop().await.unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_batch_that_exhausts_its_budget_concurrently_keeps_the_ledger_exact() {
    let emulator = Emulator::start().await.unwrap();
    let cost = cost_of_one_call(&emulator).await;
    let data = tempfile::tempdir().unwrap();
    let (team_key, mut team) = keyed::key("team");
    team.budget_usd_per_day = Some(5.5 * cost);
    let (admin_key, ops) = admin();
    let mut config = keyed::config(&emulator, data.path(), vec![team, ops]);
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.metrics_listen = Some(format!("127.0.0.1:{metrics_port}").parse().unwrap());
    let router = TestRouter::start(config).await.unwrap();
    let client = keyed::client(&router, &team_key).await;

    let items: Vec<_> = (0..40).map(|_| request()).collect();
    let results: Vec<_> = client.batch(items, 8).await.unwrap().collect().await;
    let mut seen = vec![0; 40];
    let mut told_cost = 0.0;
    let mut ok = 0;
    let mut refused = 0;
    for r in results {
        let r = r.unwrap();
        seen[r.index as usize] += 1;
        match r.outcome.unwrap() {
            Outcome::Response(resp) => {
                ok += 1;
                told_cost += resp.usage.unwrap().cost_usd.unwrap();
            }
            Outcome::Error(e) => {
                assert_eq!(e.code, Code::ResourceExhausted as i32, "{e:?}");
                assert!(e.message.contains("daily budget"), "{e:?}");
                refused += 1;
            }
        }
    }
    assert!(
        seen.iter().all(|&n| n == 1),
        "one result per item: {seen:?}"
    );
    // At least six calls fit under 5.5 calls' worth; calls already in flight
    // when it ran out still finish, at most the batch's concurrency of them.
    assert!((6..=6 + 8).contains(&ok), "{ok} succeeded");
    assert_eq!(ok + refused, 40);
    let lines = usage(&router, &admin_key).await;
    let team_line = lines.iter().find(|l| l.key == "team").unwrap();
    assert_eq!(
        team_line.calls, ok as u64,
        "one ledger row per call that ran"
    );
    assert!(
        (team_line.cost_usd - told_cost).abs() < 1e-12,
        "ledger {} vs told {told_cost}",
        team_line.cost_usd
    );
    let stats = keyed::client(&router, &admin_key)
        .await
        .stats()
        .await
        .unwrap();
    let team_stats = stats.keys.iter().find(|k| k.name == "team").unwrap();
    assert_eq!(team_stats.calls, ok as u64);
    assert_eq!(team_stats.refused, refused as u64);
    let ledger = stats.ledger.unwrap();
    assert_eq!(ledger.rows_failed + ledger.rows_dropped, 0);

    // /metrics carries the same per-key figures, by tenant name only.
    let text = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!(line("ai_router_key_calls_total{key=\"team\"}"), ok as f64);
    assert_eq!(
        line("ai_router_key_refused_calls_total{key=\"team\"}"),
        refused as f64
    );
    assert_eq!(
        line("ai_router_access_denied_total{reason=\"budget_exhausted\"}"),
        refused as f64
    );
    assert!((line("ai_router_key_cost_usd_total{key=\"team\"}") - told_cost).abs() < 1e-6);
    assert!(line("ai_router_ledger_rows_written_total") >= ok as f64);
    assert!(!text.contains(&team_key), "a key leaked into /metrics");
    router.stop().await.unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_stream_cancelled_after_output_leaves_one_estimated_row() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (team_key, team) = keyed::key("team");
    let (admin_key, ops) = admin();
    let router = start(&emulator, data.path(), vec![team, ops]).await;
    let client = keyed::client(&router, &team_key).await;

    // The upstream streams three tokens and then hangs; the caller reads
    // them and leaves.
    let mut stream = client
        .generate_stream(prompt("openrouter/v/m@silent_after=3", "hello there", 16))
        .await
        .unwrap();
    for _ in 0..3 {
        let chunk = stream.next().await.unwrap().unwrap();
        assert!(!chunk.delta.is_empty());
    }
    drop(stream);

    let ops_client = keyed::client(&router, &admin_key).await;
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let line = loop {
        let lines = ops_client
            .usage(Duration::from_secs(3600))
            .await
            .unwrap()
            .lines;
        if let Some(line) = lines.into_iter().find(|l| l.key == "team") {
            break line;
        }
        assert!(
            std::time::Instant::now() < until,
            "the cancelled call was never recorded"
        );
        // The router notices the client left on its next send.
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!((line.calls, line.failed), (1, 1));
    assert_eq!(line.completion_tokens, 3, "one token per delta sent");
    assert!(line.prompt_tokens > 0, "the prompt was consumed: estimated");
    assert_eq!(line.cost_usd, 0.0, "the upstream never reported a cost");
    router.stop().await.unwrap();
    emulator.shutdown().await;
}
