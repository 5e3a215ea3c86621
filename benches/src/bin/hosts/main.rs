//! Host pools under load (issue 12's measured items, the emulator part):
//! one remote endpoint over N emulated hosts, each with 4 slots and a fixed
//! 50 ms per request, driven open-loop at 0.95 × the pool's capacity
//! (reckoned from the service time measured first, see [`measured_service`]).
//!
//! ```sh
//! cargo run --release -p ai-router-benches --bin hosts            # N = 1, 2, 4
//! cargo run --release -p ai-router-benches --bin hosts -- 1 2 4 8 # other N
//! ```
//!
//! Tables: throughput and p50/p99 per N with the ratios to one host; and
//! with one of four hosts at 2× latency, power of two choices on peak-EWMA
//! cost (`least_loaded`: without slot counts; as configured by default,
//! with each host's slot count learned once, which makes the cost
//! slot-aware; with the hosts' `/slots` read every 100 ms; and then
//! comparing every host), on in-flight counts alone (`least_in_flight`)
//! and round robin at the same offered rate: 0.95 × the pool's capacity
//! (the issue's shape), then 0.95 × the fast hosts' capacity (where the
//! slow host is not needed). The router runs in-process on loopback with
//! the hosts; all share this machine's cores, so the ratios (one run) are
//! the result, not the absolute figures. Nothing here asserts on timings.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use ai_router::config::{Config, EndpointConfig, EndpointKind, PickChoices, PickPolicy};
use ai_router_benches::load::{Hist, median, open_loop};
use ai_router_benches::machine::{cores, cpu_model, utc_now};
use ai_router_benches::report::{Table, dur, pct, ratio, verdict};
use ai_router_client::{Client, GenerateRequestBuilder};
use ai_router_testkit::emulator::{Emulator, EmulatorConfig, EmulatorStats};
use ai_router_testkit::router::{TestRouter, remote_config};

/// Slots per emulated host.
const SLOTS: usize = 4;
/// Time per request on a normal host.
const SERVICE: Duration = Duration::from_millis(50);
/// Offered load as a share of capacity.
const LOAD: f64 = 0.95;
/// Seconds of offered load per run.
const SECONDS: f64 = 6.0;
/// Sequential calls that measure one host's service time.
const CALIBRATION_CALLS: usize = 40;
/// `queue_slots` for the rows that read the hosts' `/slots`.
const SLOTS_READ: Duration = Duration::from_millis(100);

/// A picker as a row of the tables.
#[derive(Debug, Clone, Copy)]
struct Picker {
    label: &'static str,
    pick: PickPolicy,
    choices: PickChoices,
    /// `queue_slots`: read the hosts' `/slots` this often.
    queue_slots: Option<Duration>,
    /// `learn_slots`: read each host's `/slots` once (without `queue_slots`).
    learn_slots: bool,
}

impl Picker {
    /// `policy` with two choices and no host figures read at all (not even
    /// the slot counts a pool learns by default): the picker alone.
    const fn plain(label: &'static str, pick: PickPolicy) -> Picker {
        Picker {
            label,
            pick,
            choices: PickChoices::Two,
            queue_slots: None,
            learn_slots: false,
        }
    }
}

/// `least_loaded` as a pool is configured by default: two choices, each
/// host's slot count learned with one `/slots` read.
const DEFAULTS: Picker = Picker {
    label: "least_loaded, defaults (slot counts learned once)",
    learn_slots: true,
    ..Picker::plain("", PickPolicy::LeastLoaded)
};

/// `least_loaded` with the hosts' `/slots` read at an interval: the
/// slot-aware cost with the other clients' requests in the load.
const SLOT_AWARE: Picker = Picker {
    label: "least_loaded + queue_slots",
    pick: PickPolicy::LeastLoaded,
    choices: PickChoices::Two,
    queue_slots: Some(SLOTS_READ),
    learn_slots: true,
};

/// The same comparing every host (`pick_choices = "all"`).
const SLOT_AWARE_ALL: Picker = Picker {
    label: "least_loaded + queue_slots + pick_choices all",
    choices: PickChoices::All,
    ..SLOT_AWARE
};

/// What one run measured.
struct Run {
    hist: Hist,
    throughput: f64,
    errors: usize,
    /// Requests each host served (warm-up included).
    served: Vec<u64>,
    /// Requests that waited at a host for a free slot (summed over hosts).
    waited: u64,
}

/// Requests per second one host at `service` per request can serve.
fn capacity(service: Duration) -> f64 {
    SLOTS as f64 / service.as_secs_f64()
}

/// Emulated hosts with the given service times and a router over them.
struct Pool {
    hosts: Vec<Emulator>,
    router: TestRouter,
    client: Client,
}

impl Pool {
    /// Starts the hosts and a router picking with `picker`, then warms the
    /// router's connections to every host outside any measurement.
    async fn start(services: &[Duration], picker: Picker) -> anyhow::Result<Pool> {
        let mut hosts = Vec::new();
        for s in services {
            let config = EmulatorConfig::default()
                .with_slots(SLOTS)
                .with_delay(*s)
                .with_default_tokens(1);
            hosts.push(Emulator::start_with(config).await?);
        }
        let mut ep = EndpointConfig::new("pool", EndpointKind::OpenAi, "");
        ep.urls = hosts.iter().map(Emulator::openai_base).collect();
        ep.pick = picker.pick;
        ep.pick_choices = picker.choices;
        ep.queue_slots = picker.queue_slots;
        ep.learn_slots = picker.learn_slots;
        ep.max_concurrency = 4096;
        ep.stream = false;
        let mut config: Config = remote_config()?;
        config.executor.max_in_flight = 4096;
        config.executor.max_queue = 4096;
        config.endpoints.push(ep);
        let router = TestRouter::start(config).await?;
        let client = router.client().await?;
        for _ in 0..(4 * services.len()) {
            client.generate(request(0)).await?;
        }
        Ok(Pool {
            hosts,
            router,
            client,
        })
    }

    /// Stops the router and the hosts; what each host saw.
    async fn stop(self) -> anyhow::Result<Vec<EmulatorStats>> {
        self.router.stop().await?;
        let stats = self.hosts.iter().map(Emulator::stats).collect();
        for h in self.hosts {
            h.shutdown().await;
        }
        Ok(stats)
    }
}

/// A host's service time as a caller of the router sees it: the median of
/// sequential calls to one idle host configured for `configured`. The
/// timer rounds a host's sleep up and the answer crosses the router, so a
/// "50 ms" host holds its slot for about 51-52 ms; offering 0.95 × the
/// *configured* capacity would load its slots about 0.99. Capacity is
/// reckoned from this figure instead, so "0.95 × capacity" is what it says.
async fn measured_service(configured: Duration) -> anyhow::Result<Duration> {
    let pool = Pool::start(&[configured], Picker::plain("-", PickPolicy::LeastLoaded)).await?;
    let mut samples = Vec::new();
    for i in 0..CALIBRATION_CALLS {
        let t = Instant::now();
        pool.client.generate(request(i)).await?;
        samples.push(t.elapsed());
    }
    pool.stop().await?;
    Ok(median(&samples))
}

/// Starts hosts with the given service times, a router over them with
/// `picker`, and offers `rate` requests per second for `SECONDS`.
async fn run(services: &[Duration], picker: Picker, rate: f64) -> anyhow::Result<Run> {
    let pool = Pool::start(services, picker).await?;
    let n = (rate * SECONDS) as usize;
    let errors = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let counted = errors.clone();
    let client = pool.client.clone();
    let (hist, _) = open_loop(n, rate, move |i| {
        let client = client.clone();
        let errors = counted.clone();
        async move {
            if client.generate(request(i)).await.is_err() {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        }
    })
    .await?;
    let throughput = n as f64 / started.elapsed().as_secs_f64();
    let stats = pool.stop().await?;
    Ok(Run {
        hist,
        throughput,
        errors: errors.load(std::sync::atomic::Ordering::Relaxed),
        served: stats.iter().map(|s| s.requests).collect(),
        waited: stats.iter().map(|s| s.waited).sum(),
    })
}

fn request(i: usize) -> ai_router_client::proto::GenerateRequest {
    GenerateRequestBuilder::new("pool/m")
        .prompt(format!("q{i}"))
        .max_tokens(1)
        .build()
}

/// p50, p99, p99 / one host's, whether within 1.2×, share of requests
/// that waited for a slot, errors.
fn latency_cells(r: &Run, base_p99: Duration) -> Vec<String> {
    let p99 = pct(&r.hist, 0.99);
    let p99_ratio = p99.as_secs_f64() / base_p99.as_secs_f64();
    let total: u64 = r.served.iter().sum();
    vec![
        dur(pct(&r.hist, 0.5)),
        dur(p99),
        format!("{p99_ratio:.2}×"),
        verdict(p99_ratio <= 1.2).into(),
        format!("{:.1}%", 100.0 * r.waited as f64 / total.max(1) as f64),
        r.errors.to_string(),
    ]
}

/// The latency columns [`latency_cells`] fills.
const LATENCY_COLUMNS: [&str; 6] = [
    "p50",
    "p99",
    "p99 / one host",
    "≤ 1.2×",
    "waited for a slot",
    "errors",
];

/// `lead` columns followed by the latency columns.
fn columns(lead: &[&'static str]) -> Vec<&'static str> {
    lead.iter().copied().chain(LATENCY_COLUMNS).collect()
}

async fn scaling(ns: &[usize], service: Duration) -> anyhow::Result<()> {
    let mut table = Table::new(
        "Throughput with N hosts (open loop at 0.95 × capacity)",
        &columns(&[
            "N",
            "picker",
            "offered req/s",
            "served req/s",
            "× one host",
            "≥ 0.9·N",
        ]),
    );
    let mut one: Option<(f64, Duration)> = None;
    for &n in ns {
        let rate = LOAD * capacity(service) * n as f64;
        // One host has no choice to make: one row.
        let picks: &[Picker] = if n == 1 {
            &[Picker::plain("-", PickPolicy::LeastLoaded)]
        } else {
            &[
                Picker::plain("least_loaded, no slot counts", PickPolicy::LeastLoaded),
                DEFAULTS,
                SLOT_AWARE,
                SLOT_AWARE_ALL,
                Picker::plain("least_in_flight", PickPolicy::LeastInFlight),
            ]
        };
        for picker in picks {
            let name = picker.label;
            let r = run(&vec![SERVICE; n], *picker, rate).await?;
            let p99 = pct(&r.hist, 0.99);
            let (base_tp, base_p99) = *one.get_or_insert((r.throughput, p99));
            let scale = r.throughput / base_tp;
            let mut row = vec![
                n.to_string(),
                name.into(),
                format!("{rate:.0}"),
                format!("{:.1}", r.throughput),
                ratio(r.throughput, base_tp),
                verdict(scale >= 0.9 * n as f64).into(),
            ];
            row.extend(latency_cells(&r, base_p99));
            table.row(row);
        }
    }
    table.note(format!(
        "Each host: {SLOTS} slots, {} per request configured, {} measured (capacity is \
         reckoned from the measured figure); {SECONDS} s of offered load per row.",
        dur(SERVICE),
        dur(service),
    ));
    table.print();
    Ok(())
}

async fn slow_host(service: Duration, slow_service: Duration) -> anyhow::Result<()> {
    let mut services = vec![SERVICE; 4];
    services[0] = SERVICE * 2;
    let fast_capacity = 3.0 * capacity(service);
    let pool_capacity = fast_capacity + capacity(slow_service);
    let baseline = run(
        &[SERVICE],
        Picker::plain("-", PickPolicy::LeastLoaded),
        LOAD * capacity(service),
    )
    .await?;
    let base_p99 = pct(&baseline.hist, 0.99);
    for (shape, rate) in [
        ("the pool's capacity", LOAD * pool_capacity),
        ("the 3 fast hosts' capacity", LOAD * fast_capacity),
    ] {
        // Every request the slow host takes lasts at least 2 × SERVICE; the
        // fast hosts can take at most their capacity, so the slow host
        // must take the rest.
        let forced = ((rate - fast_capacity) / rate).max(0.0);
        let mut table = Table::new(
            format!("One of 4 hosts at 2× latency, offered {rate:.0} req/s (0.95 × {shape})"),
            &columns(&["picker", "served req/s", "slow host's share"]),
        );
        let pickers = [
            Picker::plain(
                "least_loaded, no slot counts (P2C, peak EWMA × load)",
                PickPolicy::LeastLoaded,
            ),
            DEFAULTS,
            SLOT_AWARE,
            SLOT_AWARE_ALL,
            Picker::plain(
                "least_in_flight (P2C, in flight)",
                PickPolicy::LeastInFlight,
            ),
            Picker::plain("round_robin", PickPolicy::RoundRobin),
        ];
        for picker in pickers {
            let name = picker.label;
            let r = run(&services, picker, rate).await?;
            let total: u64 = r.served.iter().sum();
            let mut row = vec![
                name.into(),
                format!("{:.1}", r.throughput),
                format!("{:.1}%", 100.0 * r.served[0] as f64 / total.max(1) as f64),
            ];
            row.extend(latency_cells(&r, base_p99));
            table.row(row);
        }
        table.note(format!(
            "One-host p99 (same run, 0.95 × one host's capacity): {}. The fast hosts \
             serve at most {fast_capacity:.0} req/s, so the slow host must take at least \
             {:.1}% of the requests, each lasting ≥ {}; p99 ≤ 1.2× one host needs that \
             share under 1%. Service measured: {} on a fast host, {} on the slow one.",
            dur(base_p99),
            100.0 * forced,
            dur(slow_service),
            dur(service),
            dur(slow_service),
        ));
        table.print();
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut ns: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("arguments are host counts (1 2 4): {e}"))?;
    if ns.is_empty() {
        ns = vec![1, 2, 4];
    }
    if ns.contains(&0) {
        anyhow::bail!("a host count must be at least 1");
    }
    println!(
        "# Host pools\n\n{} · {} cores · {}",
        cpu_model(),
        cores(),
        utc_now()
    );
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let service = measured_service(SERVICE).await?;
        let slow_service = measured_service(SERVICE * 2).await?;
        scaling(&ns, service).await?;
        slow_host(service, slow_service).await
    })
}
