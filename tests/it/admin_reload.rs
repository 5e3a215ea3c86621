//! `Admin.ReloadConfig` (and SIGHUP, in the binary) against real
//! llama-server children: the models directory is rescanned and the file
//! read again; untouched models keep their process; removed ones finish
//! their calls and stop; a bad file is refused and the old config serves on;
//! start-only settings are named, not applied.

use std::path::Path;
use std::time::Duration;

use ai_router::config::Config;
use ai_router_client::Client;
use ai_router_client::proto::{ModelEvent, ModelEventKind};
use ai_router_testkit::gguf::{TinyModelSpec, write_tiny_llama};
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::router::{TestRouter, local_config};
use futures::{Stream, StreamExt};
use tonic::Code;

use ai_router_testkit::procs::{is_running, signal};

use crate::common::prompt;

/// Writes `config` as the TOML file a router reads (and reloads).
fn write_config(path: &Path, config: &Config) {
    std::fs::write(path, toml::to_string(config).unwrap()).unwrap();
}

/// Writes `config` to `file` and serves it from there (so ReloadConfig reads
/// the file again), with a client.
async fn serve_from_file(file: &Path, config: &Config) -> (TestRouter, Client) {
    write_config(file, config);
    let router = TestRouter::start_from_file(file).await.unwrap();
    let client = router.client().await.unwrap();
    (router, client)
}

fn add_model(dir: &Path, id: &str, seed: u64) {
    let spec = TinyModelSpec {
        seed,
        name: id.to_string(),
        context: 4096,
        ..TinyModelSpec::default()
    };
    write_tiny_llama(&dir.join(format!("{id}.gguf")), &spec).unwrap();
}

/// Reads events until `kind` for `model`.
async fn until(
    events: &mut (impl Stream<Item = Result<ModelEvent, ai_router_client::ClientError>> + Unpin),
    model: &str,
    kind: ModelEventKind,
) -> ModelEvent {
    let wait = async {
        while let Some(event) = events.next().await {
            let event = event.unwrap();
            if event.model == model && event.kind == kind as i32 {
                return event;
            }
        }
        panic!("the watch ended before {kind:?} for {model}");
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("no {kind:?} event for {model} within 30 s"))
}

async fn ids(client: &Client) -> Vec<String> {
    let mut ids: Vec<String> = client
        .list_models()
        .await
        .unwrap()
        .models
        .into_iter()
        .map(|m| m.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_reload_adds_and_removes_models_and_leaves_the_untouched_one_running() {
    let models = ModelDir::with_models(&["a", "b"]).unwrap();
    let file = models.file("router.toml");
    let (router, client) = serve_from_file(&file, &local_config(models.path()).unwrap()).await;
    client.generate(prompt("a", "hello", 2)).await.unwrap();
    let pid_before = router.engine.pool().child_pids();
    assert_eq!(pid_before.len(), 1);
    let mut watch = client.watch_models().await.unwrap();

    add_model(models.path(), "c", 3);
    std::fs::remove_file(models.file("b.gguf")).unwrap();
    let report = client.reload_config().await.unwrap();
    assert_eq!(report.models_added, ["c"]);
    assert_eq!(report.models_removed, ["b"]);
    assert!(report.models_replaced.is_empty(), "{report:?}");
    assert_eq!(report.models_unchanged, 1);
    assert!(report.restart_required.is_empty(), "{report:?}");
    until(&mut watch, "c", ModelEventKind::Added).await;
    until(&mut watch, "b", ModelEventKind::Removed).await;

    assert_eq!(ids(&client).await, ["a", "c"]);
    assert_eq!(
        router.engine.pool().child_pids(),
        pid_before,
        "the untouched model keeps its process"
    );
    client.generate(prompt("a", "again", 2)).await.unwrap();
    client.generate(prompt("c", "new", 2)).await.unwrap();
    let gone = client.generate(prompt("b", "gone", 2)).await.unwrap_err();
    assert_eq!(gone.code(), Some(Code::NotFound), "{gone}");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_removed_model_finishes_its_stream_then_its_process_stops() {
    let models = ModelDir::with_models(&["a"]).unwrap();
    let file = models.file("router.toml");
    let (router, client) = serve_from_file(&file, &local_config(models.path()).unwrap()).await;
    let mut watch = client.watch_models().await.unwrap();
    let mut stream = client
        .generate_stream(prompt("a", "a long answer", 64))
        .await
        .unwrap();
    // The first chunk: the call holds the model now.
    let first = crate::common::first_output(&mut stream).await;
    until(&mut watch, "a", ModelEventKind::Ready).await;
    // Frozen, so the call is certainly still in flight across the reload
    // (a tiny model could otherwise finish before it).
    let pid = router.engine.pool().child_pids()[0];
    signal(pid, libc::SIGSTOP).unwrap();
    let listed = client.list_models().await.unwrap().models;
    assert_eq!(listed[0].in_flight, 1, "{listed:?}");

    std::fs::remove_file(models.file("a.gguf")).unwrap();
    let report = client.reload_config().await.unwrap();
    assert_eq!(report.models_removed, ["a"]);
    assert!(
        is_running(pid),
        "the removed model's process waits for its call"
    );
    signal(pid, libc::SIGCONT).unwrap();

    let mut chunks = vec![first];
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk.expect("the stream in flight finishes on the old process"));
    }
    assert!(
        chunks.last().unwrap().done.is_some(),
        "the stream ran to its end: {:?}",
        chunks.last()
    );
    let stopped = until(&mut watch, "a", ModelEventKind::Evicted).await;
    assert_eq!(stopped.reason, "unload");
    assert!(router.engine.pool().child_pids().is_empty());
    let gone = client.generate(prompt("a", "gone", 2)).await.unwrap_err();
    assert_eq!(gone.code(), Some(Code::NotFound), "{gone}");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_bad_file_is_refused_and_the_running_config_keeps_serving() {
    let models = ModelDir::with_models(&["a"]).unwrap();
    let file = models.file("router.toml");
    let (router, client) = serve_from_file(&file, &local_config(models.path()).unwrap()).await;

    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("max_loaded_modles = 3\n{good}")).unwrap();
    let refused = client.reload_config().await.unwrap_err();
    assert_eq!(refused.code(), Some(Code::FailedPrecondition), "{refused}");
    let message = refused.message().unwrap();
    assert!(
        message.contains("keeps serving") && message.contains("max_loaded_modles"),
        "{message}"
    );

    // A declared model whose file is missing: refused as a whole, nothing
    // of it applied.
    let mut config = local_config(models.path()).unwrap();
    config
        .local
        .models
        .push(ai_router::config::LocalModelConfig {
            id: "ghost".into(),
            path: models.file("ghost.gguf"),
            settings: config.local.defaults.clone(),
        });
    add_model(models.path(), "b", 2);
    write_config(&file, &config);
    let refused = client.reload_config().await.unwrap_err();
    assert_eq!(refused.code(), Some(Code::FailedPrecondition), "{refused}");
    assert!(refused.message().unwrap().contains("ghost"), "{refused}");
    assert_eq!(
        ids(&client).await,
        ["a"],
        "nothing of the refused reload applied"
    );

    client.generate(prompt("a", "still here", 2)).await.unwrap();
    router.stop().await.unwrap();
}

#[tokio::test]
async fn changed_settings_replace_the_model_and_start_only_settings_are_named() {
    let models = ModelDir::with_models(&["a"]).unwrap();
    let file = models.file("router.toml");
    let mut config = local_config(models.path()).unwrap();
    let (router, client) = serve_from_file(&file, &config).await;
    client.generate(prompt("a", "hello", 2)).await.unwrap();
    let old_pid = router.engine.pool().child_pids();
    let mut watch = client.watch_models().await.unwrap();

    config.local.defaults.ctx_size = 1024;
    config.local.max_loaded_models += 1;
    config.executor.max_queue += 1;
    write_config(&file, &config);
    let report = client.reload_config().await.unwrap();
    assert_eq!(report.models_replaced, ["a"]);
    assert_eq!(
        report.restart_required,
        ["executor.max_queue", "local.max_loaded_models"]
    );
    // The old process (idle) is stopped; the next call starts a new one
    // with the new settings.
    until(&mut watch, "a", ModelEventKind::Evicted).await;
    client.generate(prompt("a", "again", 2)).await.unwrap();
    let new_pid = router.engine.pool().child_pids();
    assert_eq!(new_pid.len(), 1);
    assert_ne!(new_pid, old_pid);
    // Applied settings are not reported again by the next reload.
    let again = client.reload_config().await.unwrap();
    assert!(again.restart_required.is_empty(), "{again:?}");
    assert_eq!(again.models_unchanged, 1);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_router_given_its_config_in_memory_says_it_cannot_reload() {
    let models = ModelDir::with_models(&["a"]).unwrap();
    let router = TestRouter::start(local_config(models.path()).unwrap())
        .await
        .unwrap();
    let client = router.client().await.unwrap();
    let err = client.reload_config().await.unwrap_err();
    assert_eq!(err.code(), Some(Code::FailedPrecondition), "{err}");
    assert!(err.message().unwrap().contains("in memory"), "{err}");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn sighup_makes_the_binary_read_its_config_file_again() {
    use ai_router_testkit::router_process::{RouterProcess, free_port};
    let models = ModelDir::with_models(&["a"]).unwrap();
    let file = models.file("router.toml");
    write_config(&file, &local_config(models.path()).unwrap());
    let router = RouterProcess::start(
        free_port().unwrap(),
        &[format!("--config={}", file.display())],
        &[],
    )
    .await
    .unwrap();
    let client = Client::connect(format!("http://{}", router.addr))
        .await
        .unwrap();
    let mut watch = client.watch_models().await.unwrap();

    add_model(models.path(), "b", 2);
    signal(router.pid().unwrap(), libc::SIGHUP).unwrap();
    until(&mut watch, "b", ModelEventKind::Added).await;
    client.generate(prompt("b", "hello", 2)).await.unwrap();
    assert!(
        router.log_tail().contains("configuration reloaded"),
        "{}",
        router.log_tail()
    );
    let status = router.terminate(Duration::from_secs(15)).await.unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_reload_swaps_the_keys_and_only_admin_keys_may_reload() {
    use crate::keyed::{self, status_of};
    let emulator = ai_router_testkit::emulator::Emulator::start()
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("router.toml");
    let (ops_key, mut ops) = keyed::key("ops");
    ops.admin = true;
    let (dev_key, dev) = keyed::key("dev");
    write_config(
        &file,
        &keyed::config(&emulator, data.path(), vec![ops.clone(), dev]),
    );
    let router = TestRouter::start_from_file(&file).await.unwrap();
    let as_ops = keyed::client(&router, &ops_key).await;
    let as_dev = keyed::client(&router, &dev_key).await;
    let anonymous = router.client().await.unwrap();
    let call = || prompt("openrouter/m", "hi", 2);

    // Every Admin RPC needs an admin key.
    status_of(as_dev.reload_config().await, Code::PermissionDenied);
    status_of(anonymous.reload_config().await, Code::Unauthenticated);
    status_of(as_dev.load_model("x", false).await, Code::PermissionDenied);
    status_of(
        as_dev.unload_model("x", false).await,
        Code::PermissionDenied,
    );
    status_of(as_dev.pin_model("x", true).await, Code::PermissionDenied);
    status_of(
        as_dev.watch_models().await.map(|_| ()),
        Code::PermissionDenied,
    );
    as_dev.generate(call()).await.unwrap();

    let (new_key, new) = keyed::key("new");
    write_config(
        &file,
        &keyed::config(&emulator, data.path(), vec![ops.clone(), new]),
    );
    let report = as_ops.reload_config().await.unwrap();
    assert!(report.keys_changed, "{report:?}");
    assert!(report.restart_required.is_empty(), "{report:?}");
    status_of(as_dev.generate(call()).await, Code::Unauthenticated);
    keyed::client(&router, &new_key)
        .await
        .generate(call())
        .await
        .unwrap();
    as_ops.generate(call()).await.unwrap();

    // Removing every key would open the service: refused, keys kept.
    write_config(&file, &keyed::config(&emulator, data.path(), vec![]));
    let refused = status_of(as_ops.reload_config().await, Code::FailedPrecondition);
    assert!(refused.message().contains("restart"), "{refused:?}");
    status_of(anonymous.generate(call()).await, Code::Unauthenticated);
    as_ops.generate(call()).await.unwrap();
    router.stop().await.unwrap();
}
