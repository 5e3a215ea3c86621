//! Model swapping, side by side: ai-router against llama.cpp's
//! own router mode, both serving four tiny GGUF models under a cap of two
//! loaded at once, each in its own process on loopback.
//!
//! ```sh
//! cargo build --release -p ai-router
//! cargo run --release -p ai-router-benches --bin swap
//! cargo run --release -p ai-router-benches --bin swap -- --rounds 5 --mix zipf
//! ```
//!
//! Options: `--rounds N` (per system and mix, default 3), `--calls N` (per
//! round, default 150), `--mix zipf|uniform|both`, `--system
//! ai-router|llama|both`, `--bigger` (256-wide 4-layer models instead of
//! the 64-wide 2-layer ones), `--round-limit SECS` (no call starts after
//! this much of a round, default 180; calls not started count as failed),
//! `--logs DIR` (keep every server's log there, one file per round).
//! `AI_ROUTER_BIN` overrides the ai-router binary
//! (default: `ai-router` next to this bench's own executable, i.e.
//! `target/release/ai-router`); `LLAMA_SERVER` the llama-server one.
//!
//! Each round starts a fresh server (no model loaded), runs the seeded
//! workload of [`ai_router_testkit::swap`] against it while a sampler
//! counts its llama-server children every 5 ms (zombies included), and
//! stops it. The systems alternate, the first one swapping every round
//! (AB, BA, AB, ...), so drift on this shared machine falls on both. Every
//! round is bounded in time; nothing here asserts on timings. A system that
//! cannot run is reported as skipped with the reason.

mod servers;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ai_router_benches::machine::{command_output, cores as machine_cores, cpu_model, utc_now};
use ai_router_benches::report::{Table, dur};
use ai_router_proto::v1::StatsRequest;
use ai_router_proto::v1::router_client::RouterClient;
use ai_router_testkit::gguf::{TinyModelSpec, write_tiny_llama};
use ai_router_testkit::swap::{SwapReport, SwapTarget, SwapWorkload, run_swap};
use anyhow::{Context, bail};
use servers::{Launch, Settings, System, kill_leftovers};

/// Models in the directory.
const MODELS: usize = 4;

/// Default of `--round-limit`: no call starts after this much of a round.
/// Long enough for every call of a round on today's main (~100 s).
const ROUND_TIME_LIMIT: Duration = Duration::from_secs(180);

/// A round still running this long after its time limit (one deadline and
/// more) is abandoned, its server stopped.
const ROUND_OVERRUN: Duration = Duration::from_secs(60);

/// Base seed; round r uses `SEED + r` for both systems.
const SEED: u64 = 17;

/// The two request mixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mix {
    /// Weights 1, 1/2, 1/3, 1/4; 4 callers.
    Zipf,
    /// Equal weights; 6 callers.
    Uniform,
}

impl Mix {
    fn label(self) -> &'static str {
        match self {
            Mix::Zipf => "Zipf-like mix (1, 1/2, 1/3, 1/4), 4 callers",
            Mix::Uniform => "uniform mix, 6 callers",
        }
    }

    fn workload(
        self,
        ids: &[String],
        calls: usize,
        round: usize,
        time_limit: Duration,
    ) -> SwapWorkload {
        let base = match self {
            Mix::Zipf => SwapWorkload::zipf(ids.to_vec()),
            Mix::Uniform => SwapWorkload {
                callers: 6,
                ..SwapWorkload::uniform(ids.to_vec())
            },
        };
        SwapWorkload {
            calls,
            seed: SEED + round as u64,
            time_limit,
            ..base
        }
    }
}

struct Options {
    rounds: usize,
    calls: usize,
    mixes: Vec<Mix>,
    systems: Vec<System>,
    bigger: bool,
    round_limit: Duration,
    logs: Option<PathBuf>,
}

fn parse_options() -> anyhow::Result<Option<Options>> {
    let mut o = Options {
        rounds: 3,
        calls: 150,
        mixes: vec![Mix::Zipf, Mix::Uniform],
        systems: vec![System::AiRouter, System::LlamaRouter],
        bigger: false,
        round_limit: ROUND_TIME_LIMIT,
        logs: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => {
                println!(
                    "usage: swap [--rounds N] [--calls N] [--mix zipf|uniform|both] \
                     [--system ai-router|llama|both] [--bigger] [--round-limit SECS] [--logs DIR]"
                );
                return Ok(None);
            }
            "--rounds" => o.rounds = value("--rounds")?.parse().context("--rounds")?,
            "--calls" => o.calls = value("--calls")?.parse().context("--calls")?,
            "--mix" => {
                o.mixes = match value("--mix")?.as_str() {
                    "zipf" => vec![Mix::Zipf],
                    "uniform" => vec![Mix::Uniform],
                    "both" => vec![Mix::Zipf, Mix::Uniform],
                    other => bail!("--mix {other}: choose zipf, uniform or both"),
                }
            }
            "--system" => {
                o.systems = match value("--system")?.as_str() {
                    "ai-router" => vec![System::AiRouter],
                    "llama" => vec![System::LlamaRouter],
                    "both" => vec![System::AiRouter, System::LlamaRouter],
                    other => bail!("--system {other}: choose ai-router, llama or both"),
                }
            }
            "--bigger" => o.bigger = true,
            "--logs" => o.logs = Some(PathBuf::from(value("--logs")?)),
            "--round-limit" => {
                let secs: u64 = value("--round-limit")?.parse().context("--round-limit")?;
                o.round_limit = Duration::from_secs(secs);
            }
            other => bail!("unknown argument `{other}` (see --help)"),
        }
    }
    if o.rounds == 0 || o.calls == 0 {
        bail!("--rounds and --calls must be at least 1");
    }
    Ok(Some(o))
}

/// What one round of one system produced.
struct RoundData {
    report: SwapReport,
    /// ai-router's Stats: pool cold starts and evictions.
    pool: Option<(u64, u64)>,
    /// How the server ended.
    stop: String,
    /// llama-server children still running after their server stopped.
    leftovers: usize,
}

struct Round {
    mix: Mix,
    round: usize,
    system: System,
    outcome: Result<RoundData, String>,
}

fn main() -> anyhow::Result<()> {
    let Some(options) = parse_options()? else {
        return Ok(());
    };
    // One thread: the servers run in their own processes, the bench only
    // waits on sockets; and the thread that spawns them lives to the end
    // (their PR_SET_PDEATHSIG is tied to it).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(options))
}

async fn run(options: Options) -> anyhow::Result<()> {
    let llama = ai_router_testkit::llama::llama_server()?;
    let scratch = tempfile::Builder::new()
        .prefix("ai-router-bench-")
        .tempdir()?;
    let models_dir = scratch.path().join("models");
    std::fs::create_dir_all(&models_dir)?;
    let ids: Vec<String> = (0..MODELS).map(|i| format!("m{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let spec = model_spec(i as u64 + 1, id, options.bigger);
        write_tiny_llama(&models_dir.join(format!("{id}.gguf")), &spec)?;
    }
    let settings = Settings {
        cap: 2,
        slots: 4,
        ctx_size: 4096,
        threads: 1,
    };
    let launch = |system: System, binary: PathBuf| Launch {
        system,
        binary,
        llama_server: llama.clone(),
        models_dir: models_dir.clone(),
        model_ids: ids.clone(),
        settings: settings.clone(),
        scratch: scratch.path().to_path_buf(),
    };
    // Systems that can run, or why not.
    let mut available: BTreeMap<System, Result<Launch, String>> = BTreeMap::new();
    for &system in &options.systems {
        let found = match system {
            System::AiRouter => ai_router_binary(),
            System::LlamaRouter => llama_router_supported(&llama).map(|()| llama.clone()),
        };
        available.insert(system, found.map(|b| launch(system, b)));
    }

    print_header(&options, &llama, &available, &settings)?;

    let mut rounds: Vec<Round> = Vec::new();
    let started = Instant::now();
    for &mix in &options.mixes {
        for round in 0..options.rounds {
            let workload = mix.workload(&ids, options.calls, round, options.round_limit);
            let mut order = options.systems.clone();
            if round % 2 == 1 {
                order.reverse();
            }
            for system in order {
                let Some(Ok(launch)) = available.get(&system) else {
                    continue;
                };
                let label = format!("{}-{round}-{system:?}", mix_tag(mix));
                let logs = options.logs.as_deref();
                let outcome = match run_round(launch, &workload, &label, logs).await {
                    Ok(data) => Ok(data),
                    Err(RoundError::Start(e)) => {
                        // It cannot serve at all: report it skipped.
                        available.insert(system, Err(format!("failed to start: {e:#}")));
                        continue;
                    }
                    Err(RoundError::Run(e)) => Err(format!("{e:#}")),
                };
                match &outcome {
                    Ok(d) => eprintln!(
                        "[swap] {} round {} {}: {}",
                        mix_tag(mix),
                        round + 1,
                        system.label(),
                        d.report
                    ),
                    Err(e) => eprintln!(
                        "[swap] {} round {} {}: {e}",
                        mix_tag(mix),
                        round + 1,
                        system.label()
                    ),
                }
                rounds.push(Round {
                    mix,
                    round,
                    system,
                    outcome,
                });
            }
        }
    }
    eprintln!("[swap] total {:.1} s", started.elapsed().as_secs_f64());

    for &mix in &options.mixes {
        summary_table(mix, &options, &available, &rounds, settings.cap).print();
        rounds_table(mix, &rounds).print();
    }
    print_failure_messages(&rounds);
    Ok(())
}

fn mix_tag(mix: Mix) -> &'static str {
    match mix {
        Mix::Zipf => "zipf",
        Mix::Uniform => "uniform",
    }
}

fn model_spec(seed: u64, name: &str, bigger: bool) -> TinyModelSpec {
    let base = TinyModelSpec {
        seed,
        name: name.to_string(),
        context: 4096,
        ..TinyModelSpec::default()
    };
    if bigger {
        TinyModelSpec {
            embedding: 256,
            layers: 4,
            heads: 4,
            ff: 1024,
            ..base
        }
    } else {
        base
    }
}

/// `AI_ROUTER_BIN`, else `ai-router` next to this executable.
fn ai_router_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("AI_ROUTER_BIN").map(PathBuf::from) {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("AI_ROUTER_BIN={} does not exist", p.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let candidate = exe.with_file_name("ai-router");
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(format!(
            "{} not found: run `cargo build --release -p ai-router` first (or set AI_ROUTER_BIN)",
            candidate.display()
        ))
    }
}

/// Whether this llama-server has router mode (`--models-dir`, `--models-max`).
fn llama_router_supported(llama: &std::path::Path) -> Result<(), String> {
    let out = std::process::Command::new(llama)
        .arg("--help")
        .output()
        .map_err(|e| format!("running {} --help: {e}", llama.display()))?;
    let help =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    for flag in ["--models-dir", "--models-max"] {
        if !help.contains(flag) {
            return Err(format!("this llama-server has no {flag} (no router mode)"));
        }
    }
    Ok(())
}

enum RoundError {
    Start(anyhow::Error),
    Run(anyhow::Error),
}

async fn run_round(
    launch: &Launch,
    workload: &SwapWorkload,
    label: &str,
    logs: Option<&std::path::Path>,
) -> Result<RoundData, RoundError> {
    let mut server = launch.start(label).await.map_err(RoundError::Start)?;
    let url = format!("http://127.0.0.1:{}", server.port);
    let target = match launch.system {
        System::AiRouter => SwapTarget::grpc(&url).await,
        System::LlamaRouter => SwapTarget::openai(&url),
    }
    .map_err(RoundError::Start)?;
    let hard_limit = workload.time_limit + ROUND_OVERRUN;
    let run = tokio::time::timeout(
        hard_limit,
        run_swap(workload, &target, Some(server.pid().into())),
    )
    .await;
    let pool = match &target {
        SwapTarget::Grpc(client) => pool_counters(client).await,
        SwapTarget::OpenAi { .. } => None,
    };
    drop(target);
    let stop = server.stop();
    if let Some(dir) = logs {
        let kept = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::copy(server.log_path(), dir.join(format!("{label}.log"))));
        if let Err(e) = kept {
            eprintln!(
                "[swap] could not keep the log of {label} in {}: {e}",
                dir.display()
            );
        }
    }
    let report = match run {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => return Err(RoundError::Run(e)),
        Err(_) => {
            return Err(RoundError::Run(anyhow::anyhow!(
                "round abandoned after {hard_limit:?}; server {stop}"
            )));
        }
    };
    let leftovers = report
        .procs
        .as_ref()
        .map_or(0, |p| kill_leftovers(p.seen.iter().copied()));
    Ok(RoundData {
        report,
        pool,
        stop,
        leftovers,
    })
}

async fn pool_counters(client: &RouterClient<tonic::transport::Channel>) -> Option<(u64, u64)> {
    let stats = client
        .clone()
        .stats(StatsRequest {})
        .await
        .ok()?
        .into_inner();
    stats.pool.map(|p| (p.cold_starts, p.evictions))
}

fn print_header(
    options: &Options,
    llama: &std::path::Path,
    available: &BTreeMap<System, Result<Launch, String>>,
    settings: &Settings,
) -> anyhow::Result<()> {
    let (date, cpu, cores) = (utc_now(), cpu_model(), machine_cores());
    let source = env!("CARGO_MANIFEST_DIR");
    let rev = command_output("git", &["-C", source, "rev-parse", "--short", "HEAD"]);
    let dirty =
        !command_output("git", &["-C", source, "status", "--porcelain", "--", ".."]).is_empty();
    let llama_version = std::process::Command::new(llama)
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            text.lines()
                .find(|l| l.starts_with("version"))
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    println!("# Model swapping, side by side ({date})\n");
    println!("- machine: {cores} cores, {cpu}");
    println!(
        "- source: {rev}{} (this bench's checkout)",
        if dirty { " with local changes" } else { "" }
    );
    println!("- llama-server: {} ({llama_version})", llama.display());
    println!(
        "- workload: {} models (`m0`..`m{}`, {}), cap {} loaded, {} calls per round, 8 tokens, \
         20 s deadline per call, {} round(s) per system and mix, seed {SEED}+round",
        MODELS,
        MODELS - 1,
        if options.bigger {
            "256 wide, 4 layers"
        } else {
            "64 wide, 2 layers, ~0.5 MB"
        },
        settings.cap,
        options.calls,
        options.rounds
    );
    println!(
        "- every model process: --ctx-size {} --parallel {} --threads {}",
        settings.ctx_size, settings.slots, settings.threads
    );
    for (system, launch) in available {
        match launch {
            Ok(l) => {
                let built = std::fs::metadata(&l.binary)
                    .and_then(|m| m.modified())
                    .ok()
                    .map(|t| {
                        let age = t.elapsed().unwrap_or_default();
                        format!(" (binary built {} min ago)", age.as_secs() / 60)
                    })
                    .unwrap_or_default();
                println!(
                    "- {}: `{}`{}",
                    system.label(),
                    l.command_line()?,
                    if *system == System::AiRouter {
                        built
                    } else {
                        String::new()
                    }
                );
            }
            Err(reason) => println!("- {}: **skipped**: {reason}", system.label()),
        }
    }
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

/// Columns of the per-system summary table.
const SUMMARY_HEADERS: [&str; 9] = [
    "system",
    "rounds",
    "wall median (min–max)",
    "failed calls",
    "failures by code",
    "loads per round, median (min–max)",
    "max live llama-server (running + unreaped)",
    "samples over cap",
    "latency p50 / p99 / max",
];

/// A summary row that only says why a system has no figures: its label,
/// the reason, and the remaining columns of the summary table left empty.
fn note_row(label: &str, why: String) -> Vec<String> {
    let mut row = vec![label.to_string(), why];
    row.resize(SUMMARY_HEADERS.len(), String::new());
    row
}

fn summary_table(
    mix: Mix,
    options: &Options,
    available: &BTreeMap<System, Result<Launch, String>>,
    rounds: &[Round],
    cap: usize,
) -> Table {
    let mut t = Table::new(
        format!("{}: {} calls per round", mix.label(), options.calls),
        &SUMMARY_HEADERS,
    );
    let mut sampler_notes = Vec::new();
    for &system in &options.systems {
        if let Some(Err(reason)) = available.get(&system)
            && !rounds.iter().any(|r| r.system == system && r.mix == mix)
        {
            t.row(note_row(system.label(), format!("skipped: {reason}")));
            continue;
        }
        let mine: Vec<&Round> = rounds
            .iter()
            .filter(|r| r.system == system && r.mix == mix)
            .collect();
        let done: Vec<&RoundData> = mine
            .iter()
            .filter_map(|r| r.outcome.as_ref().ok())
            .collect();
        let abandoned = mine.len() - done.len();
        if done.is_empty() {
            t.row(note_row(
                system.label(),
                format!("0 of {} completed", mine.len()),
            ));
            continue;
        }
        let walls: Vec<Duration> = done.iter().map(|d| d.report.wall).collect();
        let (wmin, wmax) = (
            walls.iter().min().copied().unwrap_or_default(),
            walls.iter().max().copied().unwrap_or_default(),
        );
        let calls: usize = done.iter().map(|d| d.report.calls).sum();
        let failed: usize = done.iter().map(|d| d.report.failed).sum();
        let mut codes: BTreeMap<String, usize> = BTreeMap::new();
        for d in &done {
            for (code, g) in &d.report.failures {
                *codes.entry(code.clone()).or_default() += g.count;
            }
        }
        let codes = if codes.is_empty() {
            "-".to_string()
        } else {
            codes
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut loads: Vec<usize> = done.iter().filter_map(|d| d.report.spawns()).collect();
        loads.sort_unstable();
        let loads = match (loads.first(), loads.last()) {
            (Some(lo), Some(hi)) => {
                format!("{} ({lo}–{hi})", loads[loads.len().saturating_sub(1) / 2])
            }
            _ => "n/a".into(),
        };
        let max_live = done
            .iter()
            .filter_map(|d| d.report.max_live())
            .max()
            .unwrap_or(0);
        let max_running = done
            .iter()
            .filter_map(|d| d.report.procs.as_ref().map(|p| p.max_running))
            .max()
            .unwrap_or(0);
        let (over, samples) = done
            .iter()
            .filter_map(|d| d.report.procs.as_ref())
            .fold((0u64, 0u64), |(o, s), p| {
                (o + p.samples_over(cap), s + p.samples)
            });
        let busy: Duration = done
            .iter()
            .filter_map(|d| d.report.procs.as_ref().map(|p| p.busy))
            .sum();
        let wall_sum: Duration = walls.iter().sum();
        sampler_notes.push(format!(
            "{}: the sampler spent {:.1}% of one core reading /proc.",
            system.label(),
            busy.as_secs_f64() * 100.0 / wall_sum.as_secs_f64().max(1e-9)
        ));
        let mut all: Vec<Duration> = done
            .iter()
            .flat_map(|d| d.report.latencies.iter().copied())
            .collect();
        all.sort_unstable();
        let q = |q: f64| -> Duration {
            if all.is_empty() {
                return Duration::ZERO;
            }
            let rank = (q * all.len() as f64).ceil() as usize;
            all[rank.clamp(1, all.len()) - 1]
        };
        t.row(vec![
            system.label().into(),
            if abandoned > 0 {
                format!("{} (+{abandoned} abandoned)", done.len())
            } else {
                done.len().to_string()
            },
            format!(
                "{} ({}–{})",
                dur(median(walls.clone())),
                dur(wmin),
                dur(wmax)
            ),
            format!("{failed} of {calls}"),
            codes,
            loads,
            format!("{max_live} ({max_running} running)"),
            if samples == 0 {
                "n/a".into()
            } else {
                format!("{:.1}%", over as f64 * 100.0 / samples as f64)
            },
            format!("{} / {} / {}", dur(q(0.5)), dur(q(0.99)), dur(q(1.0))),
        ]);
    }
    t.note(format!(
        "Loads = distinct llama-server pids seen by the 5 ms /proc sampler under the server's pid \
         (the same count for both systems). Max live counts processes that exited but were not \
         yet reaped. Samples over cap = share of samples with more than {cap} live. Latency is \
         over every call that ran, failed ones included (all rounds pooled)."
    ));
    for note in sampler_notes {
        t.note(note);
    }
    t
}

fn rounds_table(mix: Mix, rounds: &[Round]) -> Table {
    let mut t = Table::new(
        format!("{}: every round", mix.label()),
        &[
            "round",
            "system",
            "wall",
            "ok",
            "failed",
            "failures",
            "loads (pids)",
            "ai-router Stats: cold starts / evictions",
            "max live (running, unreaped)",
            "p50",
            "p99",
            "max",
            "server stop",
        ],
    );
    for r in rounds.iter().filter(|r| r.mix == mix) {
        match &r.outcome {
            Ok(d) => {
                let rep = &d.report;
                let procs = rep.procs.as_ref();
                t.row(vec![
                    (r.round + 1).to_string(),
                    r.system.label().into(),
                    dur(rep.wall),
                    rep.ok.to_string(),
                    rep.failed.to_string(),
                    rep.failure_summary(),
                    procs.map_or("n/a".into(), |p| p.spawned().to_string()),
                    d.pool.map_or("-".into(), |(c, e)| format!("{c} / {e}")),
                    procs.map_or("n/a".into(), |p| {
                        format!("{} ({}, {})", p.max_live, p.max_running, p.max_zombies)
                    }),
                    dur(rep.p50()),
                    dur(rep.p99()),
                    dur(rep.max_latency()),
                    if d.leftovers > 0 {
                        format!("{}; {} children left, killed", d.stop, d.leftovers)
                    } else {
                        d.stop.clone()
                    },
                ]);
            }
            Err(e) => {
                let mut row = vec![(r.round + 1).to_string(), r.system.label().into()];
                row.push(format!("error: {e}"));
                row.extend(std::iter::repeat_n(String::new(), 10));
                t.row(row);
            }
        }
    }
    t
}

fn print_failure_messages(rounds: &[Round]) {
    // Per system and code, the first few distinct messages over all rounds.
    let mut seen: BTreeMap<(System, String), Vec<String>> = BTreeMap::new();
    for r in rounds {
        let Ok(d) = &r.outcome else { continue };
        for (code, g) in &d.report.failures {
            let kept = seen.entry((r.system, code.clone())).or_default();
            for m in &g.messages {
                if kept.len() < 3 && !kept.contains(m) {
                    kept.push(m.clone());
                }
            }
        }
    }
    if seen.is_empty() {
        return;
    }
    println!("\n### Failure messages (first distinct ones per system and code)\n");
    for ((system, code), messages) in seen {
        for m in messages {
            println!("- {} `{code}`: {}", system.label(), m.replace('\n', " "));
        }
    }
}
