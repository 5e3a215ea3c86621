//! Router replicas behind a real Envoy running `deploy/envoy/envoy.yaml`:
//! three `ai-router` processes on loopback, rolled with SIGTERM one by one
//! (each replaced on its port and healthy again before the next goes, as a
//! Deployment with `maxUnavailable: 0` does) while unary and streaming
//! calls keep flowing through Envoy. Every unary call must succeed (a
//! draining replica refuses new streams; Envoy's health check and retry
//! policy move them) and every stream must either finish or end with a
//! gRPC status, never be cut short. Skips, saying why, when no Envoy can be
//! installed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ai_router_client::Client;
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::envoy::{Envoy, envoy_binary, loopback_config};
use ai_router_testkit::otlp::OtlpReceiver;
use ai_router_testkit::router_process::{RouterProcess, free_port};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::common::prompt;

/// Three routers over the emulator, Envoy in front, a trace receiver for
/// Envoy's and the routers' spans.
struct Fleet {
    emulator: Emulator,
    otlp: OtlpReceiver,
    config: tempfile::TempDir,
    ports: Vec<u16>,
    routers: Vec<Option<RouterProcess>>,
    envoy: Envoy,
}

impl Fleet {
    /// None (with the reason printed) when no Envoy can be had.
    async fn start(replicas: usize) -> Option<Fleet> {
        if let Err(why) = envoy_binary() {
            eprintln!("SKIPPED: replicas behind Envoy not tested: {why}");
            return None;
        }
        let emulator = Emulator::start().await.unwrap();
        let otlp = OtlpReceiver::start().await.unwrap();
        let config = tempfile::tempdir().unwrap();
        std::fs::write(
            config.path().join("router.toml"),
            format!(
                "[local]\nmodels_dirs = []\n[openrouter]\nenabled = false\n\
                 [[endpoints]]\nname = \"emu\"\nbase_url = \"{}\"\n",
                emulator.openai_base()
            ),
        )
        .unwrap();
        let ports: Vec<u16> = (0..replicas).map(|_| free_port().unwrap()).collect();
        let mut fleet_routers = Vec::new();
        for &port in &ports {
            fleet_routers.push(Some(Self::router(&config, &otlp, port).await));
        }
        let (listen, admin) = (free_port().unwrap(), free_port().unwrap());
        let envoy_config = loopback_config(&ports, otlp.addr, listen, admin).unwrap();
        let envoy = Envoy::start(&envoy_config, listen, admin).await.unwrap();
        let fleet = Fleet {
            emulator,
            otlp,
            config,
            ports,
            routers: fleet_routers,
            envoy,
        };
        fleet.all_healthy().await;
        Some(fleet)
    }

    async fn router(config: &tempfile::TempDir, otlp: &OtlpReceiver, port: u16) -> RouterProcess {
        let args = [
            format!("--config={}", config.path().join("router.toml").display()),
            "--shutdown-grace=10s".to_string(),
        ];
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT".to_string(), otlp.endpoint()),
            ("OTEL_SERVICE_NAME".to_string(), "ai-router".to_string()),
            // Spans leave within 100 ms instead of the SDK's 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY".to_string(), "100".to_string()),
        ];
        RouterProcess::start(port, &args, &env).await.unwrap()
    }

    async fn all_healthy(&self) {
        let n = self.ports.len();
        self.envoy
            .wait_until(
                &format!("{n} healthy routers"),
                Duration::from_secs(30),
                |h, _| h == n,
            )
            .await
            .unwrap();
    }

    async fn client(&self) -> Client {
        Client::connect(format!("http://{}", self.envoy.addr))
            .await
            .unwrap()
    }

    async fn stop(mut self) {
        for router in self.routers.iter_mut().filter_map(Option::take) {
            assert!(
                router
                    .terminate(Duration::from_secs(20))
                    .await
                    .unwrap()
                    .success()
            );
        }
        self.envoy.stop().await.unwrap();
        self.emulator.shutdown().await;
    }
}

#[derive(Default)]
struct Tally {
    unary_ok: AtomicU64,
    unary_failed: AtomicU64,
    streams_finished: AtomicU64,
    streams_failed_cleanly: AtomicU64,
    streams_cut_short: AtomicU64,
    failures: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, counter: &AtomicU64, what: String) {
        counter.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut f) = self.failures.lock() {
            f.push(what);
        }
    }
}

async fn unary_worker(client: Client, tally: Arc<Tally>, stop: CancellationToken) {
    // Bounded: the roll ends long before this many calls.
    for _ in 0..200_000 {
        if stop.is_cancelled() {
            return;
        }
        match client.generate(prompt("emu/m@tokens=4", "hi", 4)).await {
            Ok(_) => tally.unary_ok.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                tally.fail(&tally.unary_failed, format!("unary: {e}"));
                0
            }
        };
    }
}

async fn stream_worker(client: Client, tally: Arc<Tally>, stop: CancellationToken) {
    for _ in 0..20_000 {
        if stop.is_cancelled() {
            return;
        }
        // 20 tokens 20 ms apart: streams are in flight when a replica drains.
        let mut stream = match client
            .generate_stream(prompt("emu/m@tokens=20@gap=20ms", "hi", 20))
            .await
        {
            Ok(s) => s,
            Err(e) => {
                tally.fail(
                    &tally.streams_failed_cleanly,
                    format!("stream refused: {e}"),
                );
                continue;
            }
        };
        let mut outcome = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) if c.done.is_some() => outcome = Some(true),
                Ok(_) => {}
                Err(e) => {
                    tally.fail(&tally.streams_failed_cleanly, format!("stream: {e}"));
                    outcome = Some(false);
                }
            }
        }
        match outcome {
            Some(true) => tally.streams_finished.fetch_add(1, Ordering::Relaxed),
            Some(false) => 0, // counted with its status above
            None => {
                tally.fail(
                    &tally.streams_cut_short,
                    "a stream ended with neither done nor a status".into(),
                );
                0
            }
        };
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_replicas_behind_envoy_fails_no_unary_call_and_cuts_no_stream() {
    let Some(mut fleet) = Fleet::start(3).await else {
        return;
    };
    let client = fleet.client().await;
    for _ in 0..10 {
        client
            .generate(prompt("emu/m@tokens=4", "warm", 4))
            .await
            .unwrap();
    }
    let tally = Arc::new(Tally::default());
    let stop = CancellationToken::new();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        workers.spawn(unary_worker(
            fleet.client().await,
            tally.clone(),
            stop.clone(),
        ));
    }
    for _ in 0..2 {
        workers.spawn(stream_worker(
            fleet.client().await,
            tally.clone(),
            stop.clone(),
        ));
    }

    for i in 0..fleet.ports.len() {
        let before = tally.unary_ok.load(Ordering::Relaxed);
        let old = fleet.routers[i].take().unwrap();
        let status = old.terminate(Duration::from_secs(20)).await.unwrap();
        assert!(
            status.success(),
            "replica {i} exited with {status} after SIGTERM"
        );
        let new = Fleet::router(&fleet.config, &fleet.otlp, fleet.ports[i]).await;
        fleet.routers[i] = Some(new);
        fleet.all_healthy().await;
        let during = tally.unary_ok.load(Ordering::Relaxed) - before;
        assert!(
            during > 0,
            "no call completed while replica {i} was rolled: no load to judge"
        );
    }
    stop.cancel();
    while let Some(joined) = workers.join_next().await {
        joined.unwrap();
    }

    let failures = tally.failures.lock().unwrap().clone();
    let (ok, failed) = (
        tally.unary_ok.load(Ordering::Relaxed),
        tally.unary_failed.load(Ordering::Relaxed),
    );
    let (finished, clean, cut) = (
        tally.streams_finished.load(Ordering::Relaxed),
        tally.streams_failed_cleanly.load(Ordering::Relaxed),
        tally.streams_cut_short.load(Ordering::Relaxed),
    );
    eprintln!(
        "roll of {} replicas: unary {ok} ok / {failed} failed; streams {finished} finished, \
         {clean} failed with a status, {cut} cut short",
        fleet.ports.len()
    );
    assert_eq!(
        failed, 0,
        "unary calls failed during the roll: {failures:?}"
    );
    assert_eq!(cut, 0, "streams cut short: {failures:?}");
    assert!(finished > 0, "no stream ran during the roll");
    fleet.stop().await;
}

/// A caller's `traceparent` through Envoy and a router to the model host
/// is one trace: Envoy's span continues the caller's, the router's RPC span
/// is the child of Envoy's, and the upstream receives the same trace id.
#[tokio::test]
async fn one_trace_from_the_caller_through_envoy_and_the_router_to_the_host() {
    use ai_router_client::proto::router_client::RouterClient;
    const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";
    const CALLER_SPAN: &str = "eee19b7ec3c1b174";
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();

    let Some(fleet) = Fleet::start(1).await else {
        return;
    };
    let mut stub = RouterClient::connect(format!("http://{}", fleet.envoy.addr))
        .await
        .unwrap();
    let mut request = tonic::Request::new(prompt("emu/m@tokens=3", "hi", 3));
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01").parse().unwrap(),
    );
    let reply = stub.generate(request).await.unwrap().into_inner();
    assert_eq!(reply.trace_id, TRACE_ID);

    // Envoy exports on its flush timer (5 s by default): wait for both tiers.
    let arrived = fleet
        .otlp
        .wait_for(Duration::from_secs(30), |spans| {
            let ours = spans.iter().filter(|s| hex(&s.trace_id) == TRACE_ID);
            let generate = ours.clone().find(|s| s.name == "generate");
            generate.is_some_and(|g| ours.clone().any(|s| s.span_id == g.parent_span_id))
        })
        .await;
    let spans: Vec<_> = fleet
        .otlp
        .spans()
        .into_iter()
        .filter(|s| hex(&s.trace_id) == TRACE_ID)
        .collect();
    assert!(
        arrived,
        "Envoy's and the router's spans did not both arrive: {spans:?}"
    );
    let generate = spans.iter().find(|s| s.name == "generate").unwrap();
    let envoy = spans
        .iter()
        .find(|s| s.span_id == generate.parent_span_id)
        .unwrap();
    assert_eq!(
        hex(&envoy.parent_span_id),
        CALLER_SPAN,
        "Envoy's span ({}) continues the caller's",
        envoy.name
    );
    let upstream = fleet
        .emulator
        .stats()
        .header("traceparent")
        .map(str::to_string);
    assert!(
        upstream
            .as_deref()
            .is_some_and(|t| t.starts_with(&format!("00-{TRACE_ID}-"))),
        "the model host saw another trace: {upstream:?}"
    );
    fleet.stop().await;
}
