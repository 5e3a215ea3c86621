//! `tracing`: what exporting OpenTelemetry spans costs. The workload of
//! `overhead` (emulator with a fixed 5 ms delay and 8 SSE tokens, unary
//! Generate, closed loop at concurrency 16 and at concurrency 1), measured
//! with no subscriber installed at all ("off") and then with
//! `ai_router::telemetry::init` exporting to a real OTLP receiver in this
//! process ("on").
//!
//! The subscriber is process-wide and cannot be removed, so "off" and "on"
//! cannot alternate: "off" is measured twice first (its two runs show the
//! run-to-run spread), then the exporter is installed and "on" is measured
//! twice. For the same reason this scenario always runs last.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ai_router::telemetry::{TelemetryOptions, init};
use ai_router_benches::cpu::process_cpu_time;
use ai_router_benches::load::{Hist, closed_loop};
use ai_router_benches::report::{Table, diff, dur, pct, ratio, verdict};
use ai_router_benches::req::Ask;
use ai_router_testkit::emulator::EmulatorConfig;
use ai_router_testkit::otlp::OtlpReceiver;

use crate::common::{Call, EmuRouter, generate};

const DELAY: Duration = Duration::from_millis(5);
const TOKENS: u32 = 8;
const WARM_UP: usize = 300;
const N_C16: usize = 4_000;
const N_C1: usize = 400;
/// Spans one Generate is expected to export.
const SPAN_NAMES: [&str; 4] = ["generate", "queue", "model_acquire", "upstream_call"];

/// One measurement: concurrency 16 then concurrency 1.
struct Run {
    label: String,
    c16: Hist,
    c16_wall: Duration,
    c16_cpu: Duration,
    c1: Hist,
    c1_wall: Duration,
}

impl Run {
    fn c16_rps(&self) -> f64 {
        N_C16 as f64 / self.c16_wall.as_secs_f64()
    }

    fn c1_rps(&self) -> f64 {
        N_C1 as f64 / self.c1_wall.as_secs_f64()
    }
}

async fn measure(label: &str, call: &Call) -> anyhow::Result<Run> {
    let cpu = process_cpu_time();
    let t = Instant::now();
    let c16 = closed_loop(N_C16, 16, call.runner()).await?;
    let c16_wall = t.elapsed();
    let c16_cpu = process_cpu_time().saturating_sub(cpu);
    let t = Instant::now();
    let c1 = closed_loop(N_C1, 1, call.runner()).await?;
    Ok(Run {
        label: label.to_string(),
        c16,
        c16_wall,
        c16_cpu,
        c1,
        c1_wall: t.elapsed(),
    })
}

/// The two runs of one side as one: histograms merged, throughput from the
/// summed wall time.
fn merge(a: &Run, b: &Run, label: &str) -> anyhow::Result<Run> {
    let mut c16 = a.c16.clone();
    c16.add(&b.c16)?;
    let mut c1 = a.c1.clone();
    c1.add(&b.c1)?;
    Ok(Run {
        label: label.to_string(),
        c16,
        c16_wall: (a.c16_wall + b.c16_wall) / 2,
        c16_cpu: (a.c16_cpu + b.c16_cpu) / 2,
        c1,
        c1_wall: (a.c1_wall + b.c1_wall) / 2,
    })
}

fn row(r: &Run) -> Vec<String> {
    vec![
        r.label.clone(),
        format!("{:.0} req/s", r.c16_rps()),
        format!("{} / {}", dur(pct(&r.c16, 0.5)), dur(pct(&r.c16, 0.99))),
        dur(r.c16_cpu / N_C16 as u32),
        format!("{} / {}", dur(pct(&r.c1, 0.5)), dur(pct(&r.c1, 0.99))),
        format!("{:.0} req/s", r.c1_rps()),
    ]
}

/// CPU time (user + system) of this process's threads whose name starts
/// with `prefix`, from /proc/self/task/*/stat (clock-tick resolution).
fn threads_cpu(prefix: &str) -> Duration {
    // SAFETY: sysconf only reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut total = 0u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "tid (comm) state ppid ...": comm may hold spaces, so split at
        // its closing parenthesis; utime and stime are fields 14 and 15.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        total += field(11) + field(12);
    }
    Duration::from_nanos(total * 1_000_000_000 / ticks)
}

fn pct_change(on: f64, off: f64) -> String {
    if off == 0.0 {
        return "n/a".into();
    }
    format!("{:+.1}%", (on / off - 1.0) * 100.0)
}

pub async fn run() -> anyhow::Result<()> {
    let setup = EmuRouter::start(
        EmulatorConfig::default()
            .with_delay(DELAY)
            .with_default_tokens(u64::from(TOKENS)),
        256,
        |_| {},
    )
    .await?;
    let client = setup.client.clone();
    let routed = Ask::new("emu/m", "Say something short.", TOKENS);
    generate(&client, &routed).await?;
    let call = Call::router(&client, &routed);
    closed_loop(WARM_UP, 4, call.runner()).await?;

    // "off": no subscriber in the process at all.
    let off1 = measure("off, run 1", &call).await?;
    let off2 = measure("off, run 2", &call).await?;

    // "on": the exporter, as `--otlp-endpoint` installs it.
    let receiver = OtlpReceiver::start().await?;
    let telemetry = init(&TelemetryOptions {
        log_filter: "warn".into(),
        log_json: false,
        otlp_endpoint: Some(receiver.endpoint()),
    })?;
    anyhow::ensure!(
        telemetry.exporting(),
        "telemetry::init did not install the exporter"
    );
    let traced_before = setup.router.engine.stats().total();
    closed_loop(WARM_UP, 4, call.runner()).await?;
    // The batch span processor's own thread ("OpenTelemetry.Traces.BatchProcessor",
    // truncated to 15 characters by the kernel).
    let exporter_cpu = threads_cpu("OpenTelemetry");
    let on1 = measure("on, run 1", &call).await?;
    let on2 = measure("on, run 2", &call).await?;
    let exporter_cpu = threads_cpu("OpenTelemetry").saturating_sub(exporter_cpu);
    let traced = setup.router.engine.stats().total() - traced_before;

    // Flush what the batch processor still holds (it blocks on the export,
    // so off the runtime's worker threads), then count what arrived.
    let flush_started = Instant::now();
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
    let flush = flush_started.elapsed();
    let expected = traced as usize * SPAN_NAMES.len();
    receiver
        .wait_for(Duration::from_secs(10), |s| s.len() >= expected)
        .await;
    let spans = receiver.spans();
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for s in &spans {
        *by_name.entry(s.name.clone()).or_default() += 1;
    }

    let off = merge(&off1, &off2, "off, both runs")?;
    let on = merge(&on1, &on2, "on, both runs")?;
    let mut table = Table::new(
        format!(
            "tracing: OTLP export on vs off, emulator upstream (delay {} + {TOKENS} SSE tokens)",
            dur(DELAY)
        ),
        &[
            "run",
            "c16 throughput",
            "c16 p50 / p99",
            "c16 process CPU per req",
            "c1 p50 / p99",
            "c1 throughput",
        ],
    );
    for r in [&off1, &off2, &on1, &on2, &off, &on] {
        table.row(row(r));
    }
    let (off_c1, on_c1) = (pct(&off.c1, 0.5), pct(&on.c1, 0.5));
    let (off_c16, on_c16) = (pct(&off.c16, 0.5), pct(&on.c16, 0.5));
    table.row(vec![
        "on − off (both runs)".into(),
        format!(
            "{} ({})",
            pct_change(on.c16_rps(), off.c16_rps()),
            ratio(on.c16_rps(), off.c16_rps())
        ),
        format!(
            "{} / {}",
            diff(on_c16, off_c16),
            diff(pct(&on.c16, 0.99), pct(&off.c16, 0.99))
        ),
        diff(on.c16_cpu / N_C16 as u32, off.c16_cpu / N_C16 as u32),
        format!(
            "{} / {}",
            diff(on_c1, off_c1),
            diff(pct(&on.c1, 0.99), pct(&off.c1, 0.99))
        ),
        pct_change(on.c1_rps(), off.c1_rps()),
    ]);
    table.row(vec![
        "spread: off run 2 − off run 1".into(),
        pct_change(off2.c16_rps(), off1.c16_rps()),
        format!(
            "{} / {}",
            diff(pct(&off2.c16, 0.5), pct(&off1.c16, 0.5)),
            diff(pct(&off2.c16, 0.99), pct(&off1.c16, 0.99))
        ),
        diff(off2.c16_cpu / N_C16 as u32, off1.c16_cpu / N_C16 as u32),
        format!(
            "{} / {}",
            diff(pct(&off2.c1, 0.5), pct(&off1.c1, 0.5)),
            diff(pct(&off2.c1, 0.99), pct(&off1.c1, 0.99))
        ),
        pct_change(off2.c1_rps(), off1.c1_rps()),
    ]);
    table.row(vec![
        "spread: on run 2 − on run 1".into(),
        pct_change(on2.c16_rps(), on1.c16_rps()),
        format!(
            "{} / {}",
            diff(pct(&on2.c16, 0.5), pct(&on1.c16, 0.5)),
            diff(pct(&on2.c16, 0.99), pct(&on1.c16, 0.99))
        ),
        diff(on2.c16_cpu / N_C16 as u32, on1.c16_cpu / N_C16 as u32),
        format!(
            "{} / {}",
            diff(pct(&on2.c1, 0.5), pct(&on1.c1, 0.5)),
            diff(pct(&on2.c1, 0.99), pct(&on1.c1, 0.99))
        ),
        pct_change(on2.c1_rps(), on1.c1_rps()),
    ]);

    let loss = 1.0 - on.c16_rps() / off.c16_rps().max(f64::MIN_POSITIVE);
    let added_c1 = on_c1.saturating_sub(off_c1);
    table.note(format!(
        "Budget: throughput loss ≤ 5% at concurrency 16: {} ({:.1}% loss); added p50 ≤ 20 µs at concurrency 1: {} ({}). Off and on cannot alternate in one process (the subscriber is global and cannot be removed), so each side was measured twice in a row, off first; the spread rows show how far two identical runs differ.",
        verdict(loss <= 0.05),
        loss * 100.0,
        verdict(added_c1 <= Duration::from_micros(20)),
        diff(on_c1, off_c1),
    ));
    let per_request =
        |name: &str| by_name.get(name).copied().unwrap_or(0) as f64 / (traced.max(1)) as f64;
    let missing: i64 = SPAN_NAMES
        .iter()
        .map(|n| traced as i64 - by_name.get(*n).copied().unwrap_or(0) as i64)
        .filter(|m| *m > 0)
        .sum();
    let others: Vec<String> = by_name
        .iter()
        .filter(|(n, _)| !SPAN_NAMES.contains(&n.as_str()))
        .map(|(n, c)| format!("{n} {c}"))
        .collect();
    table.note(format!(
        "Spans received by the OTLP receiver: {} for {traced} traced requests ({:.2} per request): {}{}. Spans lost: {missing} ({}). Flush at shutdown took {}.",
        spans.len(),
        spans.len() as f64 / traced.max(1) as f64,
        SPAN_NAMES
            .iter()
            .map(|n| format!("{n} {:.3}/req", per_request(n)))
            .collect::<Vec<_>>()
            .join(", "),
        if others.is_empty() {
            String::new()
        } else {
            format!("; other spans: {}", others.join(", "))
        },
        if missing == 0 {
            "none".to_string()
        } else {
            format!(
                "{:.2}% of the expected {expected}",
                missing as f64 * 100.0 / expected.max(1) as f64
            )
        },
        dur(flush),
    ));
    table.note(format!(
        "Of the added CPU, the batch span processor's own thread used {} per request over the two on runs ({} in all); the rest is the tracing layer on the request path, the exporter's gRPC I/O and the in-process receiver decoding the spans (all on the runtime's threads, not separable here).",
        dur(exporter_cpu / (2 * (N_C16 + N_C1)) as u32),
        dur(exporter_cpu),
    ));
    table.note(format!(
        "{N_C16} requests at concurrency 16 then {N_C1} at concurrency 1 per run; {WARM_UP} warm-up requests before the off runs and again after installing the exporter. CPU is this whole process (router, emulator, client, exporter, receiver) from getrusage."
    ));
    table.print();
    setup.stop().await?;
    Ok(())
}
