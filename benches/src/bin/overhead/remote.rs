//! The remote-path cells: the same emulator upstream called directly and
//! through ai-router and each peer, the systems alternating in rounds (the
//! order rotates every round) so drift on this shared machine falls on all
//! of them. CPU is read from `/proc` for each system's own processes only.

use std::time::Duration;

use ai_router_benches::gateway_stats::{RateStep, added_us, highest_rate_within, stalled};
use ai_router_benches::load::Hist;
use ai_router_benches::procstat::{cpu_time, status_bytes, tree_cpu_time, tree_rss};
use ai_router_benches::report::pct;

use crate::caller::Caller;
use crate::drive::{Recorded, burst, closed, open};
use crate::results::Results;
use crate::systems::{Running, SystemKind};

/// Tokens of a unary answer.
pub const UNARY_TOKENS: u32 = 8;
/// Tokens and per-token gap of the streaming-latency cell.
pub const STREAM_TOKENS: u32 = 16;
pub const STREAM_GAP: &str = "1ms";
/// Tokens and gap of the concurrent-streams cell.
pub const MANY_TOKENS: u32 = 16;
pub const MANY_GAP: Duration = Duration::from_millis(50);
pub const MANY_GAP_TEXT: &str = "50ms";
/// A stream whose tokens are further apart than this stalled (5× the
/// upstream's own gap).
pub const STALL_GAP: Duration = Duration::from_millis(250);
/// The p99 bounds of the rate sweep.
pub const RATE_BOUNDS_MS: [u64; 3] = [1, 5, 10];

/// How much load each cell puts on each system.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Alternating rounds per cell.
    pub rounds: usize,
    /// Calls per round at concurrency 1 and 16.
    pub unary_calls: [usize; 2],
    /// Longest a round may run.
    pub round_time: Duration,
    /// Offered rates of the sweep.
    pub rates: Vec<f64>,
    /// Time per rate step.
    pub rate_step: Duration,
    /// Streams per round at concurrency 1 and 16.
    pub stream_calls: [usize; 2],
    /// Concurrent-stream levels.
    pub levels: Vec<usize>,
}

impl Plan {
    /// The full run (about 3.5 minutes for the remote cells).
    pub fn full() -> Plan {
        Plan {
            rounds: 6,
            unary_calls: [700, 2000],
            round_time: Duration::from_secs(2),
            rates: vec![
                100.0, 250.0, 500.0, 1000.0, 2000.0, 3000.0, 4000.0, 6000.0, 8000.0,
            ],
            rate_step: Duration::from_millis(1500),
            stream_calls: [40, 240],
            levels: vec![64, 128, 256, 512],
        }
    }

    /// `--quick`: the same cells with fewer calls (about 2 minutes for the remote cells).
    pub fn quick() -> Plan {
        Plan {
            rounds: 2,
            unary_calls: [300, 800],
            round_time: Duration::from_millis(1500),
            rates: vec![250.0, 1000.0, 2000.0, 4000.0, 8000.0],
            rate_step: Duration::from_millis(600),
            stream_calls: [20, 96],
            levels: vec![128, 512],
        }
    }
}

/// A system with its prepared calls.
pub struct Subject {
    /// The process(es).
    pub running: Running,
    /// Unary call (8 tokens).
    pub unary: Caller,
    /// Streaming call (16 tokens, 1 ms apart).
    pub stream: Caller,
    /// Long streaming call for the concurrency cell.
    pub many: Caller,
}

impl Subject {
    fn label(&self) -> &'static str {
        self.running.kind.label()
    }

    /// The pid charged: the system's own process tree; for the direct path,
    /// the upstream (what a direct call costs anybody).
    fn pid(&self) -> u32 {
        self.running.pid()
    }
}

/// One look at the machine: how long CPU use is measured over.
const LOOK: Duration = Duration::from_millis(50);
/// The longest settle after a turn.
const SETTLE_CAP: Duration = Duration::from_secs(5);
/// The longest wait for quiet before one turn.
const QUIET_CAP: Duration = Duration::from_secs(15);

/// What one wait for quiet found.
struct Wait {
    /// 50 ms looks taken (1: quiet at the first).
    looks: u32,
    /// It gave up at the cap with the processes still busy.
    capped: bool,
}

/// Waits (at most about `cap`) until the process trees of `pids` together
/// use under 10% of a core over one [`LOOK`].
async fn wait_quiet(pids: &[u32], cap: Duration) -> Wait {
    let started = std::time::Instant::now();
    let cpu = || pids.iter().map(|&p| tree_cpu_time(p)).sum::<Duration>();
    let mut looks = 0;
    loop {
        let c0 = cpu();
        tokio::time::sleep(LOOK).await;
        looks += 1;
        if cpu().saturating_sub(c0) * 10 < LOOK {
            return Wait {
                looks,
                capped: false,
            };
        }
        if started.elapsed() > cap {
            return Wait {
                looks,
                capped: true,
            };
        }
    }
}

/// Waits (at most 5 s) until `pid`'s process tree has gone quiet (under
/// 10% of a core over 50 ms), so work a system finishes after its round
/// (LiteLLM logs and accounts after answering) is not charged to the
/// system measured next. Quiet systems pass in one 50 ms look.
pub async fn settle(pid: u32) {
    wait_quiet(&[pid], SETTLE_CAP).await;
}

/// Waits before a system's turn (at most [`QUIET_CAP`]) until every
/// system's processes together have gone quiet, under 10% of a core over
/// 50 ms. `settle` after a turn only waits (5 s at most, and that work is
/// charged to the system) for the system just measured: LiteLLM kept
/// working for longer than that after its stream rounds, and with systems
/// in a fixed rotation that leftover work always fell into the turns of the
/// same few systems after it (ai-router's c=16 TTFT p99 read +7 to +13 ms
/// in full runs, +0.4 ms without the peers).
#[derive(Debug, Default)]
pub struct Quiet {
    /// Turns waited for.
    pub turns: usize,
    /// Turns whose first 50 ms look found the machine busy.
    pub busy: usize,
    /// Time spent waiting beyond each turn's first look.
    pub extra: Duration,
    /// Turns that started after the cap with the machine still busy.
    pub capped: usize,
}

impl Quiet {
    /// Waits until the processes of every subject are quiet.
    pub async fn before_turn(&mut self, subjects: &[Subject]) {
        let started = std::time::Instant::now();
        let pids: Vec<u32> = subjects.iter().map(Subject::pid).collect();
        let wait = wait_quiet(&pids, QUIET_CAP).await;
        self.turns += 1;
        if wait.capped {
            self.capped += 1;
        }
        if wait.looks > 1 {
            self.busy += 1;
            self.extra += started.elapsed().saturating_sub(LOOK);
        }
    }

    /// One line for the run's notes.
    pub fn note(&self) -> String {
        format!(
            "before each of {} remote turns the harness waited until every system's processes were quiet (under 10% of a core over 50 ms): {} turns found the machine busy and waited {:.1} s more in all; {} started still busy after {} s",
            self.turns,
            self.busy,
            self.extra.as_secs_f64(),
            self.capped,
            QUIET_CAP.as_secs()
        )
    }
}

/// The order of round `round`: rotated by one each round.
pub fn order(n: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (i + round) % n)
}

fn q(h: &Hist, q: f64) -> Duration {
    pct(h, q)
}

/// Unary `Generate` at concurrency 1 and 16: latency, added latency over
/// direct, CPU per request, throughput.
pub async fn unary(
    subjects: &[Subject],
    upstream_pid: u32,
    plan: &Plan,
    quiet: &mut Quiet,
    results: &mut Results,
) -> anyhow::Result<()> {
    for (ci, concurrency) in [1usize, 16].into_iter().enumerate() {
        let param = format!("c={concurrency}");
        let mut recs = Recorded::per_system(subjects.len())?;
        let mut cpu = vec![Duration::ZERO; subjects.len()];
        let mut up_cpu = vec![Duration::ZERO; subjects.len()];
        for round in 0..plan.rounds {
            for i in order(subjects.len(), round) {
                let s = &subjects[i];
                quiet.before_turn(subjects).await;
                let (c0, u0) = (
                    tree_cpu_time(s.pid()),
                    cpu_time(upstream_pid).unwrap_or_default(),
                );
                let rec =
                    closed(&s.unary, plan.unary_calls[ci], concurrency, plan.round_time).await?;
                // Work done after the last answer (the settle) is the
                // system's too.
                settle(s.pid()).await;
                cpu[i] += tree_cpu_time(s.pid()).saturating_sub(c0);
                up_cpu[i] += cpu_time(upstream_pid)
                    .unwrap_or_default()
                    .saturating_sub(u0);
                recs[i].merge(rec)?;
            }
        }
        let direct = &recs[0].latency;
        let (d50, d99, d999) = (q(direct, 0.5), q(direct, 0.99), q(direct, 0.999));
        for (i, s) in subjects.iter().enumerate() {
            let r = &recs[i];
            let label = s.label();
            let calls = r.ok.max(1) as f64;
            results.add_us("unary", label, &param, "p50", q(&r.latency, 0.5));
            results.add_us("unary", label, &param, "p99", q(&r.latency, 0.99));
            results.add_us("unary", label, &param, "p99.9", q(&r.latency, 0.999));
            results.add(
                "unary",
                label,
                &param,
                "added_p50",
                added_us(q(&r.latency, 0.5), d50),
                "us",
            );
            results.add(
                "unary",
                label,
                &param,
                "added_p99",
                added_us(q(&r.latency, 0.99), d99),
                "us",
            );
            results.add(
                "unary",
                label,
                &param,
                "added_p99.9",
                added_us(q(&r.latency, 0.999), d999),
                "us",
            );
            results.add(
                "unary",
                label,
                &param,
                "p50_ratio",
                q(&r.latency, 0.5).as_secs_f64() / d50.as_secs_f64().max(1e-9),
                "x",
            );
            results.add(
                "unary",
                label,
                &param,
                "cpu_per_req",
                cpu[i].as_nanos() as f64 / 1e3 / calls,
                "us",
            );
            results.add(
                "unary",
                label,
                &param,
                "upstream_cpu_per_req",
                up_cpu[i].as_nanos() as f64 / 1e3 / calls,
                "us",
            );
            results.add(
                "unary",
                label,
                &param,
                "throughput",
                r.ok as f64 / r.wall.as_secs_f64().max(1e-9),
                "req/s",
            );
            results.add("unary", label, &param, "calls", r.ok as f64, "count");
            results.add_errors("unary", label, &param, r);
        }
        eprintln!("  unary {param}: done");
    }
    Ok(())
}

/// The gRPC floor: ai-router answering `NOT_FOUND` for an unknown model
/// (no routing to an upstream, no upstream I/O) at concurrency 1, so a
/// reader can tell the server's fixed cost from the forwarding cost.
pub async fn floor(
    subjects: &[Subject],
    router: &Subject,
    floor: &Caller,
    plan: &Plan,
    quiet: &mut Quiet,
    results: &mut Results,
) -> anyhow::Result<()> {
    let mut rec = Recorded::empty()?;
    let mut cpu = Duration::ZERO;
    for _ in 0..plan.rounds {
        quiet.before_turn(subjects).await;
        let c0 = tree_cpu_time(router.pid());
        rec.merge(closed(floor, plan.unary_calls[0], 1, plan.round_time).await?)?;
        settle(router.pid()).await;
        cpu += tree_cpu_time(router.pid()).saturating_sub(c0);
    }
    let label = "ai-router NOT_FOUND floor";
    results.add_us("floor", label, "c=1", "p50", q(&rec.latency, 0.5));
    results.add_us("floor", label, "c=1", "p99", q(&rec.latency, 0.99));
    results.add(
        "floor",
        label,
        "c=1",
        "cpu_per_req",
        cpu.as_nanos() as f64 / 1e3 / rec.ok.max(1) as f64,
        "us",
    );
    results.add_errors("floor", label, "c=1", &rec);
    Ok(())
}

/// Open-loop sweep: the highest rate each system serves with p99 under
/// 1 / 5 / 10 ms. A system leaves the sweep after two steps in a row over
/// 10 ms or behind the offered rate (one step may be a neighbour's blip).
pub async fn rates(
    subjects: &[Subject],
    plan: &Plan,
    quiet: &mut Quiet,
    results: &mut Results,
) -> anyhow::Result<()> {
    let mut steps: Vec<Vec<RateStep>> = vec![Vec::new(); subjects.len()];
    let mut failed_steps = vec![0; subjects.len()];
    let worst = Duration::from_millis(*RATE_BOUNDS_MS.last().unwrap_or(&10));
    for (si, rate) in plan.rates.iter().enumerate() {
        for i in order(subjects.len(), si) {
            if failed_steps[i] >= 2 {
                continue;
            }
            quiet.before_turn(subjects).await;
            let (_, step) = open(&subjects[i].unary, *rate, plan.rate_step, 1024).await?;
            settle(subjects[i].pid()).await;
            if !step.kept_up() || step.p99 > worst {
                failed_steps[i] += 1;
            } else {
                failed_steps[i] = 0;
            }
            results.add_us(
                "rate",
                subjects[i].label(),
                &format!("offered={rate:.0}"),
                "p99",
                step.p99,
            );
            steps[i].push(step);
        }
        eprintln!("  rate {rate:.0}/s: done");
    }
    for (i, s) in subjects.iter().enumerate() {
        for bound in RATE_BOUNDS_MS {
            let best = highest_rate_within(&steps[i], Duration::from_millis(bound));
            // 0 = not even the lowest rate stayed under the bound.
            results.add(
                "rate",
                s.label(),
                &format!("p99<={bound}ms"),
                "max_rate",
                best.unwrap_or(0.0),
                "req/s",
            );
        }
    }
    Ok(())
}

/// Streams at concurrency 1 and 16: TTFT and inter-token gaps, added over
/// direct.
pub async fn streams(
    subjects: &[Subject],
    plan: &Plan,
    quiet: &mut Quiet,
    results: &mut Results,
) -> anyhow::Result<()> {
    for (ci, concurrency) in [1usize, 16].into_iter().enumerate() {
        let param = format!("c={concurrency}");
        let mut recs = Recorded::per_system(subjects.len())?;
        for round in 0..plan.rounds {
            for i in order(subjects.len(), round) {
                quiet.before_turn(subjects).await;
                let rec = closed(
                    &subjects[i].stream,
                    plan.stream_calls[ci],
                    concurrency,
                    plan.round_time * 2,
                )
                .await?;
                settle(subjects[i].pid()).await;
                recs[i].merge(rec)?;
            }
        }
        let (t99, g99) = (q(&recs[0].ttft, 0.99), q(&recs[0].gap, 0.99));
        for (i, s) in subjects.iter().enumerate() {
            let r = &recs[i];
            let label = s.label();
            results.add_us("stream", label, &param, "ttft_p50", q(&r.ttft, 0.5));
            results.add_us("stream", label, &param, "ttft_p99", q(&r.ttft, 0.99));
            results.add_us("stream", label, &param, "gap_p99", q(&r.gap, 0.99));
            results.add(
                "stream",
                label,
                &param,
                "added_ttft_p99",
                added_us(q(&r.ttft, 0.99), t99),
                "us",
            );
            results.add(
                "stream",
                label,
                &param,
                "added_gap_p99",
                added_us(q(&r.gap, 0.99), g99),
                "us",
            );
            results.add("stream", label, &param, "streams", r.ok as f64, "count");
            results.add_errors("stream", label, &param, r);
        }
        eprintln!("  streams {param}: done");
    }
    Ok(())
}

/// Concurrent streams stepped up to 512: the highest level at which no
/// stream failed, came up short or waited more than [`STALL_GAP`] between
/// two tokens. A system leaves at its first stalled level.
pub async fn many_streams(
    subjects: &[Subject],
    plan: &Plan,
    quiet: &mut Quiet,
    results: &mut Results,
) -> anyhow::Result<()> {
    let mut best = vec![0usize; subjects.len()];
    let mut active = vec![true; subjects.len()];
    for (li, level) in plan.levels.iter().copied().enumerate() {
        for i in order(subjects.len(), li) {
            if !active[i] {
                continue;
            }
            let s = &subjects[i];
            quiet.before_turn(subjects).await;
            let (rec, outcomes) = burst(&s.many, level).await?;
            settle(s.pid()).await;
            let stalls = outcomes
                .iter()
                .filter(|o| stalled(o, MANY_TOKENS, STALL_GAP))
                .count();
            let longest = outcomes
                .iter()
                .map(|o| o.longest_gap)
                .max()
                .unwrap_or_default();
            let param = format!("n={level}");
            results.add(
                "streams",
                s.label(),
                &param,
                "stalled",
                stalls as f64,
                "count",
            );
            results.add_us("streams", s.label(), &param, "longest_gap", longest);
            results.add_us("streams", s.label(), &param, "ttft_p99", q(&rec.ttft, 0.99));
            results.add_us("streams", s.label(), &param, "gap_p99", q(&rec.gap, 0.99));
            if stalls == 0 {
                best[i] = level;
            } else {
                active[i] = false;
                if let Some(e) = &rec.first_error {
                    results.notes.push(format!(
                        "{level} streams {}: {stalls} stalled, first error: {e}",
                        s.label()
                    ));
                }
            }
        }
        eprintln!("  {level} concurrent streams: done");
    }
    for (i, s) in subjects.iter().enumerate() {
        results.add(
            "streams",
            s.label(),
            "max",
            "no_stall_streams",
            best[i] as f64,
            "streams",
        );
    }
    Ok(())
}

/// Resident memory of each system's process tree now, and the main
/// process's peak (VmHWM), under `metric`.
pub fn memory(subjects: &[Subject], metric: &str, results: &mut Results) {
    for s in subjects {
        if s.running.kind == SystemKind::Direct {
            continue;
        }
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        results.add(
            "memory",
            s.label(),
            "",
            metric,
            mib(tree_rss(s.pid())),
            "MiB",
        );
        if metric == "plateau_rss" {
            let peak = status_bytes(s.pid(), "VmHWM").unwrap_or(0);
            results.add("memory", s.label(), "", "peak_rss", mib(peak), "MiB");
        }
    }
}
