//! `overhead`: the latency the router adds over calling the same upstream
//! directly. Upstream: the emulator with a fixed 5 ms delay and 8 tokens.
//! Direct: one pooled reqwest client streaming SSE to `[DONE]`, as the
//! router does. Router: unary Generate over one gRPC channel. Both paths run
//! in the same process, alternating in rounds so drift hits both equally.

use std::future::Future;
use std::time::{Duration, Instant};

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_benches::cpu::process_cpu_time;
use ai_router_benches::direct::Direct;
use ai_router_benches::load::{Hist, closed_loop, new_hist, open_loop};
use ai_router_benches::report::{Table, diff, dur, pct, ratio, verdict};
use ai_router_benches::req::Ask;
use ai_router_testkit::emulator::{Emulator, EmulatorConfig};
use ai_router_testkit::router::{TestRouter, remote_config};

use crate::common::{Call, generate, stats};

const DELAY: Duration = Duration::from_millis(5);
const TOKENS: u32 = 8;
const ROUNDS: usize = 4;

#[derive(Clone, Copy)]
enum Load {
    Closed { concurrency: usize },
    Rate { per_second: f64 },
}

impl Load {
    fn label(self) -> String {
        match self {
            Load::Closed { concurrency } => format!("concurrency {concurrency}"),
            Load::Rate { per_second } => format!("open loop {per_second:.0} req/s"),
        }
    }
}

#[derive(Default)]
struct PathTotals {
    hist: Option<Hist>,
    requests: usize,
    cpu: Duration,
    wall: Duration,
    connections: u64,
}

impl PathTotals {
    fn add(
        &mut self,
        h: Hist,
        requests: usize,
        cpu: Duration,
        wall: Duration,
    ) -> anyhow::Result<()> {
        match &mut self.hist {
            Some(total) => total.add(h)?,
            None => self.hist = Some(h),
        }
        self.requests += requests;
        self.cpu += cpu;
        self.wall += wall;
        Ok(())
    }

    fn cpu_per_request(&self) -> Duration {
        self.cpu / self.requests.max(1) as u32
    }

    fn per_1k(&self) -> f64 {
        self.connections as f64 * 1000.0 / self.requests.max(1) as f64
    }
}

async fn drive<F, Fut>(load: Load, n: usize, f: F) -> anyhow::Result<Hist>
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    match load {
        Load::Closed { concurrency } => closed_loop(n, concurrency, f).await,
        Load::Rate { per_second } => Ok(open_loop(n, per_second, f).await?.0),
    }
}

pub async fn run() -> anyhow::Result<()> {
    let emulator = Emulator::start_with(
        EmulatorConfig::default()
            .with_delay(DELAY)
            .with_default_tokens(u64::from(TOKENS)),
    )
    .await?;
    let mut config = remote_config()?;
    let mut endpoint = EndpointConfig::new("emu", EndpointKind::OpenAi, &emulator.openai_base());
    endpoint.max_concurrency = 256;
    config.endpoints.push(endpoint);
    let router = TestRouter::start(config).await?;
    let client = router.raw_client().await?;
    let direct = Direct::new(&emulator.openai_base())?;
    let ask = Ask::new("m", "Say something short.", TOKENS);
    let routed = ask.with_model("emu/m");

    // Sanity and warm-up: both paths produce the same 8 tokens.
    let r = generate(&client, &routed).await?;
    let d = direct.chat(&ask.openai_body()).await?;
    anyhow::ensure!(
        r.text == d.text && d.completion_tokens == TOKENS,
        "router and direct disagree: {:?} vs {:?}",
        r.text,
        d.text
    );
    let direct_call = Call::direct(&direct, &ask).runner();
    let router_call = Call::router(&client, &routed).runner();
    closed_loop(300, 4, direct_call.clone()).await?;
    closed_loop(300, 4, router_call.clone()).await?;

    let loads = [
        (Load::Closed { concurrency: 1 }, 1000),
        (Load::Closed { concurrency: 16 }, 4000),
        (Load::Rate { per_second: 1000.0 }, 4000),
    ];
    let mut table = Table::new(
        format!(
            "overhead: router vs direct, emulator upstream (delay {} + {TOKENS} SSE tokens)",
            dur(DELAY)
        ),
        &[
            "load",
            "requests per path",
            "direct p50 / p99",
            "router p50 / p99",
            "added p50",
            "added p99",
            "router / direct p50",
            "upstream conns per 1k req: direct / router",
            "process CPU per req: direct / router (added)",
            "throughput direct / router",
        ],
    );
    let mut verdicts = Vec::new();
    for (load, n) in loads {
        let mut d = PathTotals::default();
        let mut r = PathTotals::default();
        let per_round = n / ROUNDS;
        for round in 0..ROUNDS {
            for step in 0..2 {
                let router_turn = (round + step) % 2 == 1;
                let emu_before = emulator.stats().connections_opened;
                let stats_before = stats(&client).await?;
                let cpu = process_cpu_time();
                let t = Instant::now();
                let h = if router_turn {
                    drive(load, per_round, router_call.clone()).await?
                } else {
                    drive(load, per_round, direct_call.clone()).await?
                };
                let wall = t.elapsed();
                let cpu = process_cpu_time().saturating_sub(cpu);
                if router_turn {
                    let after = stats(&client).await?;
                    r.add(h, per_round, cpu, wall)?;
                    r.connections += after.upstream_connections_opened
                        - stats_before.upstream_connections_opened;
                } else {
                    d.add(h, per_round, cpu, wall)?;
                    d.connections += emulator.stats().connections_opened - emu_before;
                }
            }
        }
        let dh = d.hist.take().map_or_else(new_hist, Ok)?;
        let rh = r.hist.take().map_or_else(new_hist, Ok)?;
        let (d50, d99, r50, r99) = (pct(&dh, 0.5), pct(&dh, 0.99), pct(&rh, 0.5), pct(&rh, 0.99));
        let added_cpu = r.cpu_per_request().saturating_sub(d.cpu_per_request());
        table.row(vec![
            load.label(),
            d.requests.to_string(),
            format!("{} / {}", dur(d50), dur(d99)),
            format!("{} / {}", dur(r50), dur(r99)),
            diff(r50, d50),
            diff(r99, d99),
            ratio(r50.as_secs_f64(), d50.as_secs_f64()),
            format!("{:.2} / {:.2}", d.per_1k(), r.per_1k()),
            format!(
                "{} / {} (+{})",
                dur(d.cpu_per_request()),
                dur(r.cpu_per_request()),
                dur(added_cpu)
            ),
            format!(
                "{:.0} / {:.0} req/s",
                d.requests as f64 / d.wall.as_secs_f64(),
                r.requests as f64 / r.wall.as_secs_f64()
            ),
        ]);
        if let Load::Rate { .. } = load {
            let p50_ok = r50.saturating_sub(d50) <= Duration::from_micros(150);
            let p99_ok = r99.saturating_sub(d99) <= Duration::from_millis(1);
            verdicts.push(format!(
                "Budget at {}: added p50 ≤ 150 µs {}; added p99 ≤ 1 ms {}; router CPU per request ≤ 100 µs {} (the added CPU also includes the gRPC client's own encode/decode, so it is an upper bound).",
                load.label(),
                verdict(p50_ok),
                verdict(p99_ok),
                verdict(added_cpu <= Duration::from_micros(100)),
            ));
        }
    }
    // The floor of any gRPC call on this machine: a Generate for an unknown
    // model is answered NOT_FOUND by the router without upstream I/O.
    let unknown = Ask::new("nope/none", "x", 1).grpc();
    let floor_call = {
        let client = client.clone();
        move |_| {
            let mut client = client.clone();
            let request = unknown.clone();
            async move {
                match client.generate(request).await {
                    Err(status) if status.code() == tonic::Code::NotFound => Ok(()),
                    other => Err(anyhow::anyhow!("expected NOT_FOUND, got {other:?}")),
                }
            }
        }
    };
    closed_loop(200, 1, floor_call.clone()).await?;
    let cpu = process_cpu_time();
    let floor = closed_loop(1000, 1, floor_call).await?;
    let floor_cpu = process_cpu_time().saturating_sub(cpu) / 1000;
    table.note(format!(
        "gRPC floor (same client and server, Generate answered NOT_FOUND without upstream I/O, concurrency 1, 1000 calls): p50 {}, p99 {}, process CPU {} per call.",
        dur(pct(&floor, 0.5)),
        dur(pct(&floor, 0.99)),
        dur(floor_cpu),
    ));
    for v in verdicts {
        table.note(v);
    }
    table.note(format!(
        "Each path ran {ROUNDS} alternating rounds; CPU is this whole process (router + emulator + clients) per request, from getrusage; connections: direct = emulator's accepted TCP connections, router = Stats.upstream_connections_opened."
    ));
    table.print();
    router.stop().await?;
    emulator.shutdown().await;
    Ok(())
}
