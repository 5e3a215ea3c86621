//! The local-path cell: one warm tiny GGUF model (random weights, 256
//! wide, 4 layers: a few ms per 8-token answer) served three ways, each its
//! own set of processes: llama-server called directly (the baseline),
//! through ai-router (gRPC, its own llama-server child), and through
//! llama.cpp's own router mode (`llama-server --models-dir`). The same
//! llama-server settings everywhere; systems alternate in rounds.
//!
//! HTTP calls here are plain (non-streamed) chat completions, the best a
//! unary caller of llama-server can do: the connection stays alive.

use std::path::Path;
use std::time::Duration;

use ai_router_benches::procstat::{cpu_time, tree_cpu_time};
use ai_router_benches::report::pct;
use ai_router_benches::req::Ask;
use ai_router_benches::server_proc::{Server, free_port};
use ai_router_benches::thin_http::ThinHttp;
use ai_router_testkit::gguf::{TinyModelSpec, write_tiny_llama};

use crate::caller::Caller;
use crate::drive::{Recorded, closed};
use crate::remote::order;
use crate::results::Results;
use crate::servers::{Launch, Settings, System};
use crate::systems::{grpc_channel, http_ok, path_str, wait_until};

/// Model id (file stem).
const MODEL: &str = "tiny";
/// Tokens per answer.
const TOKENS: u32 = 8;

/// Settings of every llama-server here: 4 slots as in the issue's
/// measurement and one compute thread: ggml's threads spin while they wait
/// for each other, and two of them on this shared 2-core machine made the
/// model's own time swing 3× from round to round.
fn settings() -> Settings {
    Settings {
        cap: 1,
        slots: 4,
        ctx_size: 2048,
        threads: 1,
    }
}

/// Calls per round (concurrency 1, 16), rounds, and the time cap per round.
pub struct LocalPlan {
    pub calls: [usize; 2],
    pub rounds: usize,
    pub round_time: Duration,
}

impl LocalPlan {
    pub fn full() -> LocalPlan {
        // Many short rounds: the neighbours' load on this shared machine
        // drifts within seconds.
        LocalPlan {
            calls: [60, 240],
            rounds: 6,
            round_time: Duration::from_secs(4),
        }
    }

    pub fn quick() -> LocalPlan {
        LocalPlan {
            calls: [40, 160],
            rounds: 2,
            round_time: Duration::from_secs(3),
        }
    }
}

struct LocalSubject {
    label: &'static str,
    server: Server,
    caller: Caller,
    /// The router process is charged apart from its model child.
    has_router: bool,
}

/// Runs the cell; a system that cannot start is reported as skipped.
pub async fn run(
    llama: &Path,
    router_bin: &Path,
    scratch: &Path,
    plan: &LocalPlan,
    results: &mut Results,
) -> anyhow::Result<()> {
    let models = scratch.join("local-models");
    std::fs::create_dir_all(&models)?;
    let spec = TinyModelSpec {
        embedding: 256,
        layers: 4,
        heads: 4,
        ff: 1024,
        context: 2048,
        seed: 7,
        name: MODEL.into(),
    };
    write_tiny_llama(&models.join(format!("{MODEL}.gguf")), &spec)?;
    let ask = Ask::new(MODEL, "Say something short.", TOKENS).greedy();

    let mut subjects = Vec::new();
    match start_direct(llama, &models, scratch).await {
        Ok((server, url)) => subjects.push(LocalSubject {
            label: "llama-server direct",
            caller: Caller::http(
                &ThinHttp::new(&format!("{url}/v1/chat/completions"), None)?,
                &ask,
                false,
            )?,
            server,
            has_router: false,
        }),
        Err(e) => {
            results
                .skipped
                .push(("llama-server direct".into(), format!("{e:#}")));
            results
                .notes
                .push("local cell skipped: the direct baseline did not start".into());
            return Ok(());
        }
    }
    let launch = |system: System, binary: &Path| Launch {
        system,
        binary: binary.to_path_buf(),
        llama_server: llama.to_path_buf(),
        models_dir: models.clone(),
        model_ids: vec![MODEL.into()],
        settings: settings(),
        scratch: scratch.to_path_buf(),
    };
    match launch(System::AiRouter, router_bin)
        .start("local-ai-router")
        .await
    {
        Ok(server) => {
            let client = grpc_channel(&format!("http://127.0.0.1:{}", server.port)).await?;
            subjects.push(LocalSubject {
                label: "ai-router",
                caller: Caller::grpc(&client, &ask, false),
                server,
                has_router: true,
            });
        }
        Err(e) => results
            .skipped
            .push(("ai-router (local)".into(), format!("{e:#}"))),
    }
    match launch(System::LlamaRouter, llama)
        .start("local-llama-router")
        .await
    {
        Ok(server) => {
            let url = format!("http://127.0.0.1:{}/v1/chat/completions", server.port);
            subjects.push(LocalSubject {
                label: "llama.cpp router",
                caller: Caller::http(&ThinHttp::new(&url, None)?, &ask, false)?,
                server,
                has_router: true,
            });
        }
        Err(e) => results
            .skipped
            .push(("llama.cpp router".into(), format!("{e:#}"))),
    }
    // Warm: the routers load the model on the first call.
    for s in &subjects {
        let warm = closed(&s.caller, 24, 4, Duration::from_secs(120)).await?;
        if warm.ok == 0 {
            anyhow::bail!(
                "local {}: warm-up failed: {}",
                s.label,
                warm.first_error.unwrap_or_default()
            );
        }
    }

    for (ci, concurrency) in [1usize, 16].into_iter().enumerate() {
        let param = format!("c={concurrency}");
        let mut recs = Recorded::per_system(subjects.len())?;
        let mut router_cpu = vec![Duration::ZERO; subjects.len()];
        let mut model_cpu = vec![Duration::ZERO; subjects.len()];
        for round in 0..plan.rounds {
            for i in order(subjects.len(), round) {
                let s = &subjects[i];
                let pid = s.server.pid();
                let (own0, tree0) = (cpu_time(pid).unwrap_or_default(), tree_cpu_time(pid));
                let rec = closed(&s.caller, plan.calls[ci], concurrency, plan.round_time).await?;
                let own = cpu_time(pid).unwrap_or_default().saturating_sub(own0);
                let tree = tree_cpu_time(pid).saturating_sub(tree0);
                if s.has_router {
                    router_cpu[i] += own;
                    model_cpu[i] += tree.saturating_sub(own);
                } else {
                    model_cpu[i] += tree;
                }
                recs[i].merge(rec)?;
            }
        }
        let direct_tput = recs[0].ok as f64 / recs[0].wall.as_secs_f64().max(1e-9);
        let direct_p50 = pct(&recs[0].latency, 0.5);
        for (i, s) in subjects.iter().enumerate() {
            let r = &recs[i];
            let calls = r.ok.max(1) as f64;
            let tput = r.ok as f64 / r.wall.as_secs_f64().max(1e-9);
            results.add("local", s.label, &param, "throughput", tput, "req/s");
            results.add(
                "local",
                s.label,
                &param,
                "throughput_ratio",
                tput / direct_tput.max(1e-9),
                "x",
            );
            results.add_us("local", s.label, &param, "p50", pct(&r.latency, 0.5));
            results.add_us("local", s.label, &param, "p99", pct(&r.latency, 0.99));
            results.add(
                "local",
                s.label,
                &param,
                "added_p50",
                ai_router_benches::gateway_stats::added_us(pct(&r.latency, 0.5), direct_p50),
                "us",
            );
            results.add(
                "local",
                s.label,
                &param,
                "router_cpu_per_req",
                router_cpu[i].as_nanos() as f64 / 1e3 / calls,
                "us",
            );
            results.add(
                "local",
                s.label,
                &param,
                "model_cpu_per_req",
                model_cpu[i].as_nanos() as f64 / 1e3 / calls,
                "us",
            );
            results.add_errors("local", s.label, &param, r);
        }
        eprintln!("  local {param}: done");
    }
    for mut s in subjects {
        s.server.stop();
    }
    Ok(())
}

/// llama-server on the model file, ready when `/health` answers 200.
async fn start_direct(
    llama: &Path,
    models: &Path,
    scratch: &Path,
) -> anyhow::Result<(Server, String)> {
    let s = settings();
    let port = free_port()?;
    let args = vec![
        "-m".into(),
        path_str(&models.join(format!("{MODEL}.gguf")))?,
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--ctx-size".into(),
        s.ctx_size.to_string(),
        "--parallel".into(),
        s.slots.to_string(),
        "--threads".into(),
        s.threads.to_string(),
        // One HTTP thread per kept-alive client connection: with the
        // default (slots + 2) idle keep-alive connections of the 16 callers
        // hold every thread and the rest wait for the keep-alive timeout.
        // The routers keep few connections to their child and need no such
        // setting.
        "--threads-http".into(),
        "32".into(),
    ];
    let mut server = Server::spawn(llama, &args, &scratch.join("llama-direct.log"), port)?;
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build()?;
    let probe = format!("{url}/health");
    wait_until(&mut server, "llama-server", || http_ok(&http, &probe)).await?;
    Ok((server, url))
}
