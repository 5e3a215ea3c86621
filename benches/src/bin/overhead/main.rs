//! `overhead`: what a gateway adds, measured out of process and side by
//! side with peers (issue 14).
//!
//! ```sh
//! scripts/bench-overhead            # builds, prepares the peers' venv, runs (~5 min)
//! scripts/bench-overhead --quick    # the same cells, fewer calls (~3 min)
//! cargo build --release -p ai-router --bin ai-router -p ai-router-testkit --bin emulator
//! cargo run --release -p ai-router-benches --bin overhead -- [--quick] [--no-peers] [--no-floors] [--no-local]
//!     [--no-remote] [--venv DIR] [--out DIR]
//! ```
//!
//! Every system is its own process: the upstream (the testkit's `emulator`
//! binary, 8 tokens, no delay), ai-router (release binary, an `[[endpoints]]`
//! entry pointing at the upstream), LiteLLM proxy and sglang-router (from
//! the bench venv, each in front of the same upstream). This process is
//! only the load generator: one current-thread runtime, calls driven from a
//! single task — gRPC (tonic, one HTTP/2 channel) to ai-router, HTTP/1.1
//! (hyper, pooled keep-alive, body serialised once, SSE scanned without
//! JSON parsing) to the upstream and the peers. Cells alternate the
//! systems in rounds. CPU and memory come from `/proc` for each system's
//! own processes. A peer that cannot be installed or started is reported
//! as skipped with the reason. The local cell ([`local`]) puts a warm tiny
//! GGUF model behind ai-router, behind llama.cpp's router mode and in
//! front of the client directly. Output: a summary on stdout, and
//! `overhead-<time>.csv` / `.md` under `--out` (default `benches/results`).

mod caller;
mod drive;
mod local;
mod remote;
mod report;
mod results;
// The launchers of ai-router and llama.cpp's router mode with a local model
// directory, shared with the `swap` bench.
#[allow(dead_code)]
#[path = "../swap/servers.rs"]
mod servers;
mod systems;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ai_router_benches::machine::{command_output, utc_now};
use ai_router_benches::procstat::tree_cpu_time;
use ai_router_benches::req::Ask;
use ai_router_benches::thin_http::ThinHttp;
use anyhow::{Context, bail};

use caller::Caller;
use remote::{MANY_GAP_TEXT, MANY_TOKENS, Plan, STREAM_GAP, STREAM_TOKENS, Subject, UNARY_TOKENS};
use results::Results;
use systems::{Binaries, LITELLM_KEY, Models, Running, SystemKind};

struct Options {
    quick: bool,
    peers: bool,
    /// The gRPC floors (tonic + reqwest, tonic + hyper) beside ai-router.
    floors: bool,
    local: bool,
    remote: bool,
    venv: Option<PathBuf>,
    out: PathBuf,
}

fn parse_options() -> anyhow::Result<Options> {
    let mut o = Options {
        quick: false,
        peers: true,
        floors: true,
        local: true,
        remote: true,
        venv: None,
        out: PathBuf::from("benches/results"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => o.quick = true,
            "--no-peers" => o.peers = false,
            "--no-floors" => o.floors = false,
            "--no-local" => o.local = false,
            "--no-remote" => o.remote = false,
            "--venv" => o.venv = Some(args.next().context("--venv needs a directory")?.into()),
            "--out" => o.out = args.next().context("--out needs a directory")?.into(),
            "-h" | "--help" => {
                println!(
                    "usage: overhead [--quick] [--no-peers] [--no-floors] [--no-local] [--no-remote] [--venv DIR] [--out DIR]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    Ok(o)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let options = parse_options()?;
    let started = Instant::now();
    let bins = Binaries::find(options.venv.clone())?;
    let scratch = tempfile::tempdir()?;
    let mut results = Results::default();
    let run = command_output("date", &["-u", "+%Y%m%dT%H%M%SZ"]);
    let plan = if options.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    results.notes.push(format!(
        "mode: {}; commit {}",
        if options.quick { "--quick" } else { "full" },
        command_output("git", &["describe", "--always", "--dirty"])
    ));

    results
        .notes
        .push(format!("load average at start: {}", loadavg()));
    if options.remote {
        remote_cells(
            &bins,
            scratch.path(),
            &plan,
            options.peers,
            options.floors,
            &mut results,
        )
        .await?;
    }
    if options.local {
        eprintln!("local path cell");
        let llama = ai_router_testkit::llama::llama_server()?;
        let local_plan = if options.quick {
            local::LocalPlan::quick()
        } else {
            local::LocalPlan::full()
        };
        local::run(
            &llama,
            &bins.router,
            scratch.path(),
            &local_plan,
            &mut results,
        )
        .await?;
    }

    results
        .notes
        .push(format!("load average at the end: {}", loadavg()));
    let summary = report::summary(&results, &utc_now(), started.elapsed());
    println!("{summary}");
    std::fs::create_dir_all(&options.out)?;
    let csv = options.out.join(format!("overhead-{run}.csv"));
    results.write_csv(&csv, &run)?;
    let md = options.out.join(format!("overhead-{run}.md"));
    std::fs::write(&md, &summary)?;
    println!("wrote {} and {}", csv.display(), md.display());
    Ok(())
}

/// `/proc/loadavg`'s 1/5/15-minute figures: this machine is shared, and a
/// reader should know how busy it was.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Starts the upstream, ai-router and the peers, runs every remote cell,
/// stops them.
async fn remote_cells(
    bins: &Binaries,
    scratch: &std::path::Path,
    plan: &Plan,
    peers: bool,
    floors: bool,
    results: &mut Results,
) -> anyhow::Result<()> {
    let models = Models {
        unary: "m".into(),
        stream: format!("s@tokens={STREAM_TOKENS}@gap={STREAM_GAP}"),
        many: format!("c@tokens={MANY_TOKENS}@gap={MANY_GAP_TEXT}"),
    };
    eprintln!("starting the upstream, ai-router and the peers");
    let upstream = systems::start_upstream(bins, scratch)?;
    let upstream_pid = upstream.pid();
    let up_url = upstream.url.clone();
    let mut running: Vec<Running> = vec![upstream];
    running.push(systems::start_router(bins, &up_url, scratch).await?);
    if floors {
        for kind in [SystemKind::FloorReqwest, SystemKind::FloorHyper] {
            match systems::start_floor(bins, &up_url, scratch, kind) {
                Ok(r) => running.push(r),
                Err(e) => results
                    .skipped
                    .push((kind.label().into(), format!("{e:#}"))),
            }
        }
    }
    if peers {
        match systems::start_litellm(bins, &up_url, &models, scratch).await {
            Ok(r) => running.push(r),
            Err(e) => results.skipped.push(("litellm".into(), format!("{e:#}"))),
        }
        match systems::start_sglang(bins, &up_url, scratch).await {
            Ok(r) => running.push(r),
            Err(e) => results
                .skipped
                .push(("sglang-router".into(), format!("{e:#}"))),
        }
    } else {
        for p in ["litellm", "sglang-router"] {
            results.skipped.push((p.into(), "--no-peers".into()));
        }
    }

    let mut subjects = Vec::new();
    for r in running {
        subjects.push(subject(r, &models).await?);
    }
    remote::memory(&subjects, "idle_rss", results);

    // Every system answers the same tokens before anything is measured.
    for s in &subjects {
        let unary = s
            .unary
            .call()
            .await
            .with_context(|| format!("{}: first unary call", s.running.kind.label()))?;
        let stream = s
            .stream
            .call()
            .await
            .with_context(|| format!("{}: first stream", s.running.kind.label()))?;
        // gRPC reports usage.completion_tokens, HTTP counts SSE content events.
        if unary.tokens != UNARY_TOKENS || stream.tokens != STREAM_TOKENS {
            bail!(
                "{} answered {} unary / {} streamed tokens, expected {UNARY_TOKENS} / {STREAM_TOKENS}",
                s.running.kind.label(),
                unary.tokens,
                stream.tokens
            );
        }
    }
    // Warm-up, not recorded: connections, caches, JIT-free but allocator-warm.
    for s in &subjects {
        drive::closed(&s.unary, 300, 4, Duration::from_secs(5)).await?;
        remote::settle(s.running.pid()).await;
    }
    let cpu_at_start: Vec<_> = subjects
        .iter()
        .map(|s| tree_cpu_time(s.running.pid()))
        .collect();
    let t = Instant::now();

    let mut quiet = remote::Quiet::default();
    eprintln!("unary cells");
    remote::unary(&subjects, upstream_pid, plan, &mut quiet, results).await?;
    if let Some(router) = subjects
        .iter()
        .find(|s| s.running.kind == SystemKind::AiRouter)
    {
        let client = systems::grpc_channel(&router.running.url).await?;
        let unknown = Caller::NotFound(client, Ask::new("nope/none", "x", 1).grpc());
        remote::floor(&subjects, router, &unknown, plan, &mut quiet, results).await?;
    }
    eprintln!("rate sweep");
    remote::rates(&subjects, plan, &mut quiet, results).await?;
    remote::memory(&subjects, "loaded_rss", results);
    eprintln!("streaming cells");
    remote::streams(&subjects, plan, &mut quiet, results).await?;
    remote::many_streams(&subjects, plan, &mut quiet, results).await?;
    remote::memory(&subjects, "plateau_rss", results);
    results.notes.push(quiet.note());
    results.notes.push(format!(
        "remote cells took {:.0} s; CPU used over them: {}",
        t.elapsed().as_secs_f64(),
        subjects
            .iter()
            .zip(cpu_at_start)
            .map(|(s, c0)| format!(
                "{} {:.1} s",
                s.running.kind.label(),
                tree_cpu_time(s.running.pid())
                    .saturating_sub(c0)
                    .as_secs_f64()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // Peers and the router first, the upstream last.
    for mut s in subjects.into_iter().rev() {
        s.running.server.stop();
    }
    Ok(())
}

/// The calls of one system for the three remote workloads.
async fn subject(running: Running, models: &Models) -> anyhow::Result<Subject> {
    let ask = |model: &str, tokens: u32| Ask::new(model, "Say something short.", tokens);
    let asks = [
        ask(&models.unary, UNARY_TOKENS),
        ask(&models.stream, STREAM_TOKENS),
        ask(&models.many, MANY_TOKENS),
    ];
    let callers: Vec<Caller> = match running.kind {
        kind if kind.is_grpc() => {
            let client = systems::grpc_channel(&running.url).await?;
            vec![
                Caller::grpc(
                    &client,
                    &asks[0].with_model(format!("emu/{}", models.unary)),
                    false,
                ),
                Caller::grpc(
                    &client,
                    &asks[1].with_model(format!("emu/{}", models.stream)),
                    true,
                ),
                Caller::grpc(
                    &client,
                    &asks[2].with_model(format!("emu/{}", models.many)),
                    true,
                ),
            ]
        }
        kind => {
            let key = (kind == SystemKind::LiteLlm).then_some(LITELLM_KEY);
            let http = ThinHttp::new(&format!("{}/v1/chat/completions", running.url), key)?;
            asks.iter()
                .map(|a| Caller::http(&http, a, true))
                .collect::<anyhow::Result<_>>()?
        }
    };
    let mut callers = callers.into_iter();
    let mut next = || callers.next().context("three callers");
    Ok(Subject {
        unary: next()?,
        stream: next()?,
        many: next()?,
        running,
    })
}
