//! The two systems under test, each started as its own server process on a
//! free loopback port and waited on until it answers (never a blind sleep):
//! the ai-router release binary, and llama-server in router mode.
//!
//! Every process is a [`Server`]: stopped on drop, errors included.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ai_router_benches::server_proc::{Server, free_port};
use ai_router_proto::v1::ListModelsRequest;
use ai_router_proto::v1::router_client::RouterClient;
use ai_router_testkit::procs::{proc_info, signal};
use anyhow::{Context, bail};

/// Longest a server may take to answer after its spawn.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Start attempts (a free port chosen by binding :0 can be taken by a
/// stranger before the server binds it).
const START_ATTEMPTS: usize = 3;

/// llama-server settings shared by both systems, per model process.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Most model processes at once (`--max-loaded-models`, `--models-max`).
    pub cap: usize,
    /// `--parallel` slots per model process.
    pub slots: u32,
    /// `--ctx-size` per model process.
    pub ctx_size: u32,
    /// `--threads` per model process.
    pub threads: u32,
}

/// Which system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum System {
    /// This workspace's `ai-router` binary.
    AiRouter,
    /// `llama-server --models-dir DIR --models-max N`.
    LlamaRouter,
}

impl System {
    /// Label for tables.
    pub fn label(self) -> &'static str {
        match self {
            System::AiRouter => "ai-router",
            System::LlamaRouter => "llama.cpp router",
        }
    }
}

/// How to start one system: binary, models, settings, scratch dir.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The system.
    pub system: System,
    /// Its binary (ai-router or llama-server).
    pub binary: PathBuf,
    /// llama-server (passed to ai-router).
    pub llama_server: PathBuf,
    /// Directory of the `*.gguf` models.
    pub models_dir: PathBuf,
    /// Model ids the server must list before it counts as ready.
    pub model_ids: Vec<String>,
    /// Per-model settings.
    pub settings: Settings,
    /// Where logs and the ai-router config file go.
    pub scratch: PathBuf,
}

impl Launch {
    /// The command line for `port`, as an argument list (no shell).
    pub fn args(&self, port: u16) -> anyhow::Result<Vec<String>> {
        let s = &self.settings;
        let dir = path_str(&self.models_dir)?;
        Ok(match self.system {
            System::AiRouter => {
                // --threads has no flag; it is a [local] setting of the file.
                let config = self.scratch.join("ai-router.toml");
                std::fs::write(&config, format!("[local]\nthreads = {}\n", s.threads))?;
                vec![
                    "--config".into(),
                    path_str(&config)?,
                    "--listen".into(),
                    format!("127.0.0.1:{port}"),
                    "--models-dir".into(),
                    dir,
                    "--llama-server".into(),
                    path_str(&self.llama_server)?,
                    "--max-loaded-models".into(),
                    s.cap.to_string(),
                    "--slots".into(),
                    s.slots.to_string(),
                    "--ctx-size".into(),
                    s.ctx_size.to_string(),
                    "--idle-ttl".into(),
                    "0s".into(),
                    "--log".into(),
                    "warn".into(),
                ]
            }
            // The router passes its own arguments, minus the router-only
            // ones, to every model process it spawns (checked in its
            // /v1/models listing: "args").
            System::LlamaRouter => vec![
                "--models-dir".into(),
                dir,
                "--models-max".into(),
                s.cap.to_string(),
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
            ],
        })
    }

    /// The command line as one printable string (port shown as P).
    pub fn command_line(&self) -> anyhow::Result<String> {
        let args = self.args(0)?;
        let mut line = vec![self.binary.display().to_string()];
        let mut prev_port = false;
        for a in args {
            let shown = if prev_port {
                match self.system {
                    System::AiRouter => "127.0.0.1:P".to_string(),
                    System::LlamaRouter => "P".to_string(),
                }
            } else {
                a.clone()
            };
            prev_port = a == "--port" || a == "--listen";
            line.push(shown);
        }
        Ok(line.join(" "))
    }

    /// Starts the server and waits until it serves and lists every model.
    pub async fn start(&self, label: &str) -> anyhow::Result<Server> {
        let mut last = None;
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port()?;
            let log = self.scratch.join(format!("{label}-{attempt}.log"));
            let mut server = Server::spawn(&self.binary, &self.args(port)?, &log, port)?;
            match self.wait_ready(&mut server).await {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let e = e.context(format!(
                        "{} did not become ready (attempt {attempt}); log tail:\n{}",
                        self.system.label(),
                        server.log_tail(20)
                    ));
                    server.stop();
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no start attempt was made")))
    }

    async fn wait_ready(&self, server: &mut Server) -> anyhow::Result<()> {
        let until = Instant::now() + READY_TIMEOUT;
        let mut delay = Duration::from_millis(2);
        let http = reqwest::Client::builder().no_proxy().build()?;
        loop {
            if let Some(status) = server.exited()? {
                bail!("exited during start-up: {status}");
            }
            let probe = match self.system {
                System::AiRouter => self.ai_router_lists_models(server.port).await,
                System::LlamaRouter => self.llama_lists_models(&http, server.port).await,
            };
            match probe {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                // Connection refused until it binds: keep polling.
                Err(_) if Instant::now() < until => {}
                Err(e) => return Err(e),
            }
            if Instant::now() > until {
                bail!("not ready after {READY_TIMEOUT:?}");
            }
            // Polling backoff: there is no readiness signal to wait on from
            // outside the process but its port.
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(50));
        }
    }

    async fn ai_router_lists_models(&self, port: u16) -> anyhow::Result<bool> {
        let mut client = RouterClient::connect(format!("http://127.0.0.1:{port}")).await?;
        let listed = client
            .list_models(ListModelsRequest::default())
            .await?
            .into_inner();
        let ids: Vec<String> = listed.models.iter().map(|m| m.id.clone()).collect();
        Ok(self.model_ids.iter().all(|m| ids.contains(m)))
    }

    async fn llama_lists_models(&self, http: &reqwest::Client, port: u16) -> anyhow::Result<bool> {
        let base = format!("http://127.0.0.1:{port}");
        if !http
            .get(format!("{base}/health"))
            .send()
            .await?
            .status()
            .is_success()
        {
            return Ok(false);
        }
        let listed: serde_json::Value = http
            .get(format!("{base}/v1/models"))
            .send()
            .await?
            .json()
            .await?;
        let ids: Vec<&str> = listed
            .get("data")
            .and_then(|d| d.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.get("id").and_then(|i| i.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(self.model_ids.iter().all(|m| ids.contains(&m.as_str())))
    }
}

fn path_str(p: &Path) -> anyhow::Result<String> {
    p.to_str()
        .map(str::to_string)
        .with_context(|| format!("path is not UTF-8: {}", p.display()))
}

/// SIGKILLs every pid in `pids` still running llama-server (children a
/// stopped server left behind); returns how many there were.
pub fn kill_leftovers(pids: impl IntoIterator<Item = u32>) -> usize {
    let mut killed = 0;
    for pid in pids {
        if let Some(p) = proc_info(pid)
            && p.comm.starts_with("llama-server")
            && p.state != 'Z'
            && signal(pid, libc::SIGKILL).is_ok()
        {
            killed += 1;
        }
    }
    killed
}
