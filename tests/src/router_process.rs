//! The `ai-router` binary run as a real process, for tests that need what
//! an in-process [`crate::router::TestRouter`] cannot give: a SIGTERM, a
//! process exit, a restart on the same port. The binary is the one cargo
//! built next to the test executable (`target/<profile>/ai-router`; a
//! workspace `cargo test` builds it for the server's own tests), or
//! `AI_ROUTER_BIN`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Lines of the router's log kept for a failure message.
const LOG_TAIL: usize = 40;

/// The ai-router binary: `AI_ROUTER_BIN`, else `ai-router` beside the
/// directory holding this test executable (`target/<profile>/deps/..`).
pub fn router_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("AI_ROUTER_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test executable has no target/<profile> directory")?;
    let candidate = profile_dir.join("ai-router");
    if !candidate.is_file() {
        bail!(
            "{} not found: build it with `cargo build -p ai-router` (a workspace `cargo test` does) \
             or set AI_ROUTER_BIN",
            candidate.display()
        );
    }
    Ok(candidate)
}

/// A free loopback port, for a process that must bind the same port again
/// after a restart (the OS may hand it to someone else in between; tests
/// live with that small race).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A running `ai-router` process; killed if dropped while running.
pub struct RouterProcess {
    /// The gRPC address it serves.
    pub addr: SocketAddr,
    child: Child,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl RouterProcess {
    /// Starts `ai-router --listen 127.0.0.1:PORT --log-json` with `args` and
    /// `env`, and returns once its log says it is serving.
    pub async fn start(
        port: u16,
        args: &[String],
        env: &[(String, String)],
    ) -> anyhow::Result<RouterProcess> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut child = Command::new(router_binary()?)
            .arg(format!("--listen={addr}"))
            .arg("--log-json")
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (serving_tx, serving_rx) = tokio::sync::oneshot::channel();
        // Reads the log to its end (so the pipe never fills), reporting the
        // "serving" line once.
        tokio::spawn({
            let log = log.clone();
            async move {
                let mut serving_tx = Some(serving_tx);
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let serving = serde_json::from_str::<serde_json::Value>(&line)
                        .ok()
                        .is_some_and(|v| v["fields"]["message"] == "serving");
                    if let Ok(mut log) = log.lock() {
                        if log.len() == LOG_TAIL {
                            log.pop_front();
                        }
                        log.push_back(line);
                    }
                    if serving && let Some(tx) = serving_tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        let mut process = RouterProcess { addr, child, log };
        // The sender is dropped when the log ends: the process exited.
        if tokio::time::timeout(Duration::from_secs(30), serving_rx)
            .await
            .map_or(true, |r| r.is_err())
        {
            let _ = process.child.start_kill();
            bail!(
                "ai-router on {addr} never served; log:\n{}",
                process.log_tail()
            );
        }
        Ok(process)
    }

    /// The OS pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the exit; returns its status.
    pub async fn terminate(mut self, within: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.pid().context("process already reaped")?;
        crate::procs::signal(pid, libc::SIGTERM)?;
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => bail!(
                "ai-router {pid} still running {within:?} after SIGTERM; log:\n{}",
                self.log_tail()
            ),
        }
    }
}
