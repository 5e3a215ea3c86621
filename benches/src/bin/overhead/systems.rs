//! The processes of the remote-path cells, each started on its own
//! loopback port and waited on until it answers: the upstream (the
//! testkit's `emulator` binary), ai-router (release binary, one `[[endpoints]]`
//! entry pointing at the upstream) and the peers from the bench venv
//! (LiteLLM proxy, sglang-router). A peer that is not installed or does not
//! start is returned as skipped with the reason.

use std::path::{Path, PathBuf};

use ai_router_benches::server_proc::{Server, free_port};
pub use ai_router_benches::server_proc::{http_ok, wait_until};
use ai_router_proto::v1::ListModelsRequest;
use ai_router_proto::v1::router_client::RouterClient;
use anyhow::{Context, bail};
use tonic::transport::{Channel, Endpoint};

/// The key LiteLLM's proxy insists on; sent by the HTTP client.
pub const LITELLM_KEY: &str = "sk-bench-overhead-0000";

/// Which system answers a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SystemKind {
    /// The upstream called directly over HTTP (the baseline).
    Direct,
    /// ai-router over gRPC.
    AiRouter,
    /// LiteLLM proxy over HTTP.
    LiteLlm,
    /// sglang-router over HTTP.
    Sglang,
    /// The gRPC floor (`grpc_floor`, reqwest to the upstream): what a
    /// gateway on tonic and reqwest costs here with nothing else in it.
    FloorReqwest,
    /// The gRPC floor with hyper's pooled client instead of reqwest.
    FloorHyper,
}

impl SystemKind {
    /// Label in tables and the CSV.
    pub fn label(self) -> &'static str {
        match self {
            SystemKind::Direct => "direct",
            SystemKind::AiRouter => "ai-router",
            SystemKind::LiteLlm => "litellm",
            SystemKind::Sglang => "sglang-router",
            SystemKind::FloorReqwest => "floor-reqwest",
            SystemKind::FloorHyper => "floor-hyper",
        }
    }

    /// Called over gRPC (ai-router and the floors) rather than HTTP.
    pub fn is_grpc(self) -> bool {
        matches!(
            self,
            SystemKind::AiRouter | SystemKind::FloorReqwest | SystemKind::FloorHyper
        )
    }
}

/// Model names of the cells, as the upstream sees them (emulator
/// directives after `@`). ai-router addresses them as `emu/<name>`.
#[derive(Debug, Clone)]
pub struct Models {
    /// Unary cells: 8 tokens, no delay.
    pub unary: String,
    /// Streaming latency cell.
    pub stream: String,
    /// Concurrent-streams cell.
    pub many: String,
}

/// A started system.
pub struct Running {
    /// Which one.
    pub kind: SystemKind,
    /// Its process (the upstream's for `Direct`).
    pub server: Server,
    /// `http://127.0.0.1:P` for the HTTP systems, the gRPC URL for ai-router.
    pub url: String,
}

impl Running {
    /// The pid whose CPU and memory are charged to this system.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }
}

/// Where the binaries are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `ai-router` release binary.
    pub router: PathBuf,
    /// The testkit's `emulator` binary.
    pub emulator: PathBuf,
    /// The gRPC floor (`benches/src/bin/grpc_floor.rs`).
    pub floor: PathBuf,
    /// The bench venv (`bin/litellm`, `bin/python` with `sglang_router`).
    pub venv: PathBuf,
}

impl Binaries {
    /// Next to this executable (`target/release/`), unless overridden by
    /// `AI_ROUTER_BIN` / `EMULATOR_BIN`; the venv from `BENCH_VENV` or
    /// `--venv`.
    pub fn find(venv: Option<PathBuf>) -> anyhow::Result<Binaries> {
        let here = std::env::current_exe()?
            .parent()
            .context("this executable has no directory")?
            .to_path_buf();
        let pick = |var: &str, name: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .unwrap_or_else(|| here.join(name))
        };
        let b = Binaries {
            router: pick("AI_ROUTER_BIN", "ai-router"),
            emulator: pick("EMULATOR_BIN", "emulator"),
            floor: pick("GRPC_FLOOR_BIN", "grpc_floor"),
            venv: venv
                .or_else(|| std::env::var_os("BENCH_VENV").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("target/bench-venv")),
        };
        for p in [&b.router, &b.emulator] {
            if !p.exists() {
                bail!(
                    "{} is missing: build it with `cargo build --release -p ai-router -p ai-router-testkit --bin ai-router --bin emulator` (or run scripts/bench-overhead)",
                    p.display()
                );
            }
        }
        Ok(b)
    }
}

/// Starts the emulator (current-thread runtime, 8 tokens by default).
pub fn start_upstream(bins: &Binaries, scratch: &Path) -> anyhow::Result<Running> {
    let server = Server::spawn_announcing(
        &bins.emulator,
        &["--threads".into(), "0".into()],
        &scratch.join("emulator.log"),
    )?;
    let url = format!("http://127.0.0.1:{}", server.port);
    Ok(Running {
        kind: SystemKind::Direct,
        server,
        url,
    })
}

/// Starts ai-router with one endpoint `emu` → the upstream, limits raised
/// so 512 concurrent streams are admitted.
pub async fn start_router(
    bins: &Binaries,
    upstream: &str,
    scratch: &Path,
) -> anyhow::Result<Running> {
    let config = scratch.join("ai-router.toml");
    std::fs::write(
        &config,
        format!(
            "[executor]\nmax_in_flight = 2048\nmax_queue = 4096\n\n\
             [[endpoints]]\nname = \"emu\"\nbase_url = \"{upstream}/v1\"\nmax_concurrency = 1024\n"
        ),
    )?;
    let empty_models = scratch.join("no-models");
    std::fs::create_dir_all(&empty_models)?;
    let port = free_port()?;
    let args: Vec<String> = vec![
        "--config".into(),
        path_str(&config)?,
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--models-dir".into(),
        path_str(&empty_models)?,
        "--log".into(),
        "warn".into(),
    ];
    let mut server = Server::spawn(&bins.router, &args, &scratch.join("ai-router.log"), port)?;
    let url = format!("http://127.0.0.1:{port}");
    wait_until(&mut server, "ai-router", || async {
        let mut client = RouterClient::connect(url.clone()).await?;
        client.list_models(ListModelsRequest::default()).await?;
        Ok(true)
    })
    .await?;
    Ok(Running {
        kind: SystemKind::AiRouter,
        server,
        url,
    })
}

/// Starts the gRPC floor in front of the upstream with `kind`'s client.
pub fn start_floor(
    bins: &Binaries,
    upstream: &str,
    scratch: &Path,
    kind: SystemKind,
) -> anyhow::Result<Running> {
    let client = match kind {
        SystemKind::FloorHyper => "hyper",
        _ => "reqwest",
    };
    let args: Vec<String> = vec![
        "--upstream".into(),
        upstream.into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--client".into(),
        client.into(),
    ];
    let log = scratch.join(format!("{}.log", kind.label()));
    let server = Server::spawn_announcing(&bins.floor, &args, &log)?;
    let url = format!("http://127.0.0.1:{}", server.port);
    Ok(Running { kind, server, url })
}

/// Starts LiteLLM's proxy with one `openai/` model per cell model.
pub async fn start_litellm(
    bins: &Binaries,
    upstream: &str,
    models: &Models,
    scratch: &Path,
) -> anyhow::Result<Running> {
    let litellm = bins.venv.join("bin/litellm");
    if !litellm.exists() {
        bail!(
            "not installed: {} is missing (scripts/bench-overhead installs `litellm[proxy]` into the bench venv)",
            litellm.display()
        );
    }
    let mut yaml = String::from("model_list:\n");
    for m in [&models.unary, &models.stream, &models.many] {
        yaml.push_str(&format!(
            "  - model_name: \"{m}\"\n    litellm_params:\n      model: \"openai/{m}\"\n      api_base: \"{upstream}/v1\"\n      api_key: \"none\"\n"
        ));
    }
    let config = scratch.join("litellm.yaml");
    std::fs::write(&config, yaml)?;
    let port = free_port()?;
    let args: Vec<String> = vec![
        "--config".into(),
        path_str(&config)?,
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--num_workers".into(),
        "1".into(),
    ];
    let env = [
        ("LITELLM_MASTER_KEY", LITELLM_KEY),
        ("LITELLM_LOG", "ERROR"),
    ];
    let mut server = Server::spawn_env(&litellm, &args, &env, &scratch.join("litellm.log"), port)?;
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build()?;
    let probe = format!("{url}/health/liveliness");
    wait_until(&mut server, "litellm", || http_ok(&http, &probe)).await?;
    Ok(Running {
        kind: SystemKind::LiteLlm,
        server,
        url,
    })
}

/// Starts sglang-router (round robin over the one upstream).
pub async fn start_sglang(
    bins: &Binaries,
    upstream: &str,
    scratch: &Path,
) -> anyhow::Result<Running> {
    let (server, url) = ai_router_benches::sglang::start(
        &bins.venv,
        &[upstream.to_string()],
        "round_robin",
        &scratch.join("sglang-router.log"),
    )
    .await?;
    Ok(Running {
        kind: SystemKind::Sglang,
        server,
        url,
    })
}

/// A gRPC channel with `TCP_NODELAY`, as a latency-minded client opens it.
pub async fn grpc_channel(url: &str) -> anyhow::Result<RouterClient<Channel>> {
    let channel = Endpoint::from_shared(url.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await?;
    Ok(RouterClient::new(channel))
}

pub fn path_str(p: &Path) -> anyhow::Result<String> {
    p.to_str()
        .map(str::to_string)
        .with_context(|| format!("path is not UTF-8: {}", p.display()))
}
