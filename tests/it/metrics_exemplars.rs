//! Latency histograms on `/metrics` carry the request's trace id as an
//! OpenMetrics exemplar when the trace is sampled, and none when it is not:
//! read from the exposition directly, and from a real Prometheus with
//! exemplar storage scraping the router (skipped, saying why, when no
//! Prometheus can be had). Each test runs in a process of its own: it
//! installs the process-wide subscriber that exports spans.

use std::net::SocketAddr;
use std::time::Duration;

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router::telemetry::Telemetry;
use ai_router_proto::v1::GenerateRequest;
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::otlp::OtlpReceiver;
use ai_router_testkit::prometheus::{Prometheus, prometheus_binary};
use ai_router_testkit::router::{TestRouter, remote_config};

use crate::common::{export_traces_to, in_own_process, prompt};

/// Every per-phase latency a generation records.
const PHASES: [&str; 5] = [
    "ai_router_request_duration_seconds",
    "ai_router_queue_wait_seconds",
    "ai_router_model_acquire_seconds",
    "ai_router_time_to_first_token_seconds",
    "ai_router_generation_seconds",
];

/// A free loopback port (bound, then released for the process under test).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A router exporting spans to a local OTLP receiver, over one emulator
/// endpoint `emu`, with `/metrics` on `metrics`.
struct Traced {
    router: TestRouter,
    emulator: Emulator,
    telemetry: Telemetry,
    _receiver: OtlpReceiver,
    metrics: SocketAddr,
}

impl Traced {
    async fn start() -> Traced {
        let receiver = OtlpReceiver::start().await.unwrap();
        let telemetry = export_traces_to(&receiver);
        let emulator = Emulator::start().await.unwrap();
        let mut config = remote_config().unwrap();
        config.endpoints.push(EndpointConfig::new(
            "emu",
            EndpointKind::OpenAi,
            &emulator.openai_base(),
        ));
        let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
        config.metrics_listen = Some(metrics);
        // The metrics listener is bound before the gRPC server answers.
        let router = TestRouter::start(config).await.unwrap();
        Traced {
            router,
            emulator,
            telemetry,
            _receiver: receiver,
            metrics,
        }
    }

    /// One unary call with `traceparent` (if any); the trace id the router
    /// answers with.
    async fn generate(&self, traceparent: Option<&str>) -> String {
        let mut client = self.router.raw_client().await.unwrap();
        let response = client.generate(with_parent(prompt("emu/m", "hi", 2), traceparent));
        response.await.unwrap().into_inner().trace_id
    }

    /// One streamed call with `traceparent`, read to its end.
    async fn generate_stream(&self, traceparent: &str) {
        let mut client = self.router.raw_client().await.unwrap();
        let request = with_parent(prompt("emu/m", "hi", 2), Some(traceparent));
        let mut stream = client.generate_stream(request).await.unwrap().into_inner();
        let mut done = false;
        while let Some(chunk) = stream.message().await.unwrap() {
            done |= chunk.done.is_some();
        }
        assert!(done, "the stream ended with its completion");
    }

    async fn scrape(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.metrics))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.router.stop().await.unwrap();
        self.emulator.shutdown().await;
        self.telemetry.shutdown();
    }
}

fn with_parent(
    message: GenerateRequest,
    traceparent: Option<&str>,
) -> tonic::Request<GenerateRequest> {
    let mut request = tonic::Request::new(message);
    if let Some(traceparent) = traceparent {
        request
            .metadata_mut()
            .insert("traceparent", traceparent.parse().unwrap());
    }
    request
}

/// One bucket's exemplar as the exposition has it.
#[derive(Debug)]
struct Exemplar {
    le: f64,
    trace_id: String,
    value: f64,
    timestamp: Option<f64>,
}

/// Every exemplar on `family`'s bucket lines, parsed strictly: a line with
/// `#` that does not read `<bucket> <count> # {trace_id="<32 hex>"} <value>
/// [<timestamp>]` fails the test.
fn exemplars(exposition: &str, family: &str) -> Vec<Exemplar> {
    let prefix = format!("{family}_bucket{{le=\"");
    let mut found = Vec::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Some((_, exemplar)) = rest.split_once(" # ") else {
            continue;
        };
        let (le, _) = rest.split_once('"').unwrap();
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap()
        };
        let (labels, rest) = exemplar
            .strip_prefix("{trace_id=\"")
            .and_then(|e| e.split_once("\"} "))
            .unwrap_or_else(|| panic!("not a trace exemplar: {line}"));
        assert!(
            labels.len() == 32 && labels.bytes().all(|b| b.is_ascii_hexdigit()),
            "trace id of 32 hex digits: {line}"
        );
        let mut numbers = rest.split(' ').map(|n| n.parse::<f64>().unwrap());
        let value = numbers.next().unwrap();
        let timestamp = numbers.next();
        assert!(numbers.next().is_none(), "{line}");
        found.push(Exemplar {
            le,
            trace_id: labels.to_string(),
            value,
            timestamp,
        });
    }
    found
}

/// `family`'s exemplar carrying `trace_id`, checked to sit in the bucket its
/// value belongs to.
fn exemplar_of<'a>(found: &'a [Exemplar], family: &str, trace_id: &str) -> Option<&'a Exemplar> {
    let e = found.iter().find(|e| e.trace_id == trace_id)?;
    let below = ai_router::metrics::LATENCY_BUCKETS
        .iter()
        .copied()
        .filter(|le| *le < e.le)
        .fold(0.0, f64::max);
    assert!(
        e.value <= e.le && e.value > below,
        "{family}: exemplar {e:?} outside its bucket"
    );
    Some(e)
}

fn count_of(exposition: &str, family: &str) -> u64 {
    let prefix = format!("{family}_count ");
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {family}_count"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_buckets_carry_sampled_trace_ids_as_exemplars() {
    if !in_own_process(
        module_path!(),
        "latency_buckets_carry_sampled_trace_ids_as_exemplars",
    )
    .await
    {
        return;
    }
    let traced = Traced::start().await;
    let unary = "4bf92f3577b34da6a3ce929d0e0e4736";
    let stream = "0af7651916cd43dd8448eb211c80319c";
    let unsampled = "1f2e3d4c5b6a79880123456789abcdef";

    // A caller's sampled trace: every phase's bucket names it, stamped
    // with the time of the call.
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let answered = traced
        .generate(Some(&format!("00-{unary}-00f067aa0ba902b7-01")))
        .await;
    assert_eq!(answered, unary);
    let text = traced.scrape().await;
    for family in PHASES {
        let found = exemplars(&text, family);
        let e = exemplar_of(&found, family, unary)
            .unwrap_or_else(|| panic!("{family}: no exemplar for {unary}: {found:?}"));
        let at = e.timestamp.expect("exemplars are timestamped");
        assert!(at >= before - 1.0 && at < before + 600.0, "{e:?}");
    }

    // A stream records its exemplar too (inside its own span).
    traced
        .generate_stream(&format!("00-{stream}-00f067aa0ba902b7-01"))
        .await;
    let text = traced.scrape().await;
    for family in [PHASES[0], PHASES[3]] {
        let found = exemplars(&text, family);
        assert!(
            exemplar_of(&found, family, stream).is_some(),
            "{family}: no exemplar for the stream's {stream}: {found:?}"
        );
    }

    // No caller trace: the router's own root trace (sampled) is named.
    let own = traced.generate(None).await;
    assert_eq!(own.len(), 32, "{own:?}");
    let text = traced.scrape().await;
    let found = exemplars(&text, PHASES[0]);
    assert!(
        exemplar_of(&found, PHASES[0], &own).is_some(),
        "no exemplar for the router's own trace {own}: {found:?}"
    );

    // A caller's trace that is not sampled is recorded, without exemplar.
    let counted = count_of(&text, PHASES[0]);
    traced
        .generate(Some(&format!("00-{unsampled}-00f067aa0ba902b7-00")))
        .await;
    let text = traced.scrape().await;
    assert_eq!(count_of(&text, PHASES[0]), counted + 1);
    assert!(
        !text.contains(unsampled),
        "an unsampled trace is named on /metrics:\n{text}"
    );
    traced.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_stores_the_trace_exemplars() {
    if let Err(why) = prometheus_binary() {
        eprintln!("SKIPPED: exemplars not checked in a real Prometheus: {why}");
        return;
    }
    if !in_own_process(
        module_path!(),
        "a_real_prometheus_stores_the_trace_exemplars",
    )
    .await
    {
        return;
    }
    let traced = Traced::start().await;
    let prometheus = Prometheus::start(traced.metrics, free_port())
        .await
        .unwrap();
    let trace_id = "5b8aa5a2d2c872e8321cf37308d69df2";
    traced
        .generate(Some(&format!("00-{trace_id}-051581bf3cb55c13-01")))
        .await;

    // The next scrape stores it; the API is the signal it was scraped.
    for family in [PHASES[0], PHASES[3]] {
        let query = format!("{family}_bucket");
        let stored = prometheus
            .wait_for_exemplars(&query, Duration::from_secs(60), |series| {
                series.iter().any(|s| exemplar_in(s, trace_id).is_some())
            })
            .await
            .unwrap();
        let (series, exemplar) = stored
            .iter()
            .find_map(|s| exemplar_in(s, trace_id).map(|e| (s, e)))
            .unwrap();
        assert_eq!(series["seriesLabels"]["job"], "ai-router");
        assert_eq!(series["seriesLabels"]["__name__"], query.as_str());
        let le: f64 = match series["seriesLabels"]["le"].as_str().unwrap() {
            "+Inf" => f64::INFINITY,
            le => le.parse().unwrap(),
        };
        let value: f64 = exemplar["value"].as_str().unwrap().parse().unwrap();
        assert!(value > 0.0 && value <= le, "{series}");
    }
    prometheus.stop().await.unwrap();
    traced.stop().await;
}

/// The exemplar of one `query_exemplars` series naming `trace_id`.
fn exemplar_in<'a>(series: &'a serde_json::Value, trace_id: &str) -> Option<&'a serde_json::Value> {
    series["exemplars"]
        .as_array()?
        .iter()
        .find(|e| e["labels"]["trace_id"] == trace_id)
}
