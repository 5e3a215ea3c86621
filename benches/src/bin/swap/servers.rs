//! The two systems under test, each started as its own server process on a
//! free loopback port and waited on until it answers (never a blind sleep):
//! the ai-router release binary, and llama-server in router mode.
//!
//! Every process is stopped on drop, errors included: SIGTERM, a grace
//! period, then SIGKILL to its whole process group; it also gets SIGTERM if
//! this bench dies (`PR_SET_PDEATHSIG`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ai_router_proto::v1::ListModelsRequest;
use ai_router_proto::v1::router_client::RouterClient;
use ai_router_testkit::procs::{proc_info, signal};
use anyhow::{Context, bail};

/// Longest a server may take to answer after its spawn.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// SIGTERM → SIGKILL grace. llama.cpp's router waits for its children on
/// SIGTERM (they get 10 s each), ai-router stops its own within 2-5 s.
const STOP_GRACE: Duration = Duration::from_secs(15);

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

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A server process in its own process group, logging to a file.
pub struct Server {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
}

impl Server {
    fn spawn(binary: &Path, args: &[String], log: &Path, port: u16) -> anyhow::Result<Server> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut command = Command::new(binary);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: the closure runs between fork and exec and only calls
        // prctl(2), which is async-signal-safe. The bench spawns from its
        // main thread (a current-thread runtime), which lives until the
        // end, so the signal means "the bench died", not "a thread ended".
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        Ok(Server {
            child: Some(child),
            port,
            log: log.to_path_buf(),
        })
    }

    /// Its pid (0 once stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn exited(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        match self.child.as_mut() {
            Some(c) => Ok(c.try_wait()?),
            None => bail!("already stopped"),
        }
    }

    /// Its log file (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let len = f.metadata().map_or(0, |m| m.len());
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
            let _ = f.read_to_string(&mut text);
        }
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGTERM, up to [`STOP_GRACE`] for it to exit, then SIGKILL to the
    /// process group; reaps it. Returns how it ended.
    pub fn stop(&mut self) -> String {
        let Some(mut child) = self.child.take() else {
            return "already stopped".into();
        };
        let pid = child.id();
        let _ = signal(pid, libc::SIGTERM);
        let until = Instant::now() + STOP_GRACE;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    // Anything it left in its group (llama.cpp's children
                    // share it) goes too.
                    kill_group(pid);
                    return format!("exited ({status})");
                }
                Ok(None) if Instant::now() < until => {
                    // Bounded poll for the exit of a process that is not
                    // ours to wait on asynchronously.
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    kill_group(pid);
                    let _ = child.kill();
                    let _ = child.wait();
                    return format!("killed after {STOP_GRACE:?}");
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn kill_group(pgid: u32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative
        // pid names the process group the child leads (process_group(0)).
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
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
