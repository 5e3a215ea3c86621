//! An upstream host as a separate process in its own network namespace
//! ([`NetNs`]): the testkit's `emulator` binary or a real llama-server,
//! bound to the namespace's address on [`PORT`]. Started and awaited on the
//! line each prints once it serves (the emulator its URL on stdout,
//! llama-server `listening on http://` on stderr after the model loaded),
//! never on a sleep. Dropping it kills the process, then removes the
//! namespace.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;

use crate::netns::NetNs;

/// The port every host binds inside its own namespace (nothing else is there).
pub const PORT: u16 = 8080;

/// Longest a host may take to print its readiness line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Output lines kept for an error message.
const LOG_TAIL: usize = 30;

/// A host process in its namespace.
#[derive(Debug)]
pub struct NsHost {
    /// None once killed. Declared before `ns`: dropped (killed) first.
    child: Option<Child>,
    log: Arc<Mutex<VecDeque<String>>>,
    /// Its namespace (take its link down with [`NetNs::set_link`]).
    pub ns: NetNs,
}

impl NsHost {
    /// `emulator --host ADDR --port 8080 ARGS` (the binary is the test's
    /// `env!("CARGO_BIN_EXE_emulator")`) in a new namespace.
    pub async fn emulator(binary: &Path, args: &[&str]) -> anyhow::Result<NsHost> {
        let ns = NetNs::create()?;
        let mut command = ns.command(binary);
        command
            .args(["--host", &ns.ns_ip.to_string(), "--port", &PORT.to_string()])
            .args(args);
        let expected = format!("http://{}:{PORT}", ns.ns_ip);
        start(ns, command, move |line| line.trim() == expected).await
    }

    /// llama-server on `model` with `slots` parallel slots and one thread
    /// (plus `args`) in a new namespace.
    pub async fn llama(model: &Path, slots: u32, args: &[&str]) -> anyhow::Result<NsHost> {
        let ns = NetNs::create()?;
        let mut command = ns.command(crate::llama::llama_server()?);
        command
            .arg("--model")
            .arg(model)
            .args(["--host", &ns.ns_ip.to_string(), "--port", &PORT.to_string()])
            .args(["--parallel", &slots.to_string(), "--threads", "1"])
            .args(args);
        start(ns, command, |line| line.contains("listening on http://")).await
    }

    /// `http://ADDR:8080/v1`.
    pub fn openai_base(&self) -> String {
        format!("http://{}:{PORT}/v1", self.ns.ns_ip)
    }

    /// Kills the process (SIGKILL: no goodbye to open connections) and
    /// reaps it. The namespace stays: connects are then refused.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await.context("killing the host")?;
        }
        Ok(())
    }

    /// The last lines it printed.
    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// Spawns `command` (output piped), keeps reading both pipes into the log,
/// and returns once a line satisfies `ready`.
async fn start(
    ns: NetNs,
    mut command: tokio::process::Command,
    ready: impl Fn(&str) -> bool,
) -> anyhow::Result<NsHost> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("spawning `ip netns exec`")?;
    let log = Arc::new(Mutex::new(VecDeque::new()));
    let (lines, mut seen) = mpsc::unbounded_channel();
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    tokio::spawn(drain(stdout, log.clone(), lines.clone()));
    tokio::spawn(drain(stderr, log.clone(), lines));
    let mut host = NsHost {
        child: Some(child),
        log,
        ns,
    };
    let waited = tokio::time::timeout(READY_TIMEOUT, async {
        // Both pipes closed before a ready line: the process is gone.
        while let Some(line) = seen.recv().await {
            if ready(&line) {
                return true;
            }
        }
        false
    })
    .await;
    match waited {
        Ok(true) => Ok(host),
        Ok(false) => {
            let status = match host.child.as_mut() {
                Some(child) => child.wait().await.ok(),
                None => None,
            };
            bail!(
                "host in {} exited before it was ready ({status:?}):\n{}",
                host.ns.name,
                host.log_tail()
            )
        }
        Err(_) => bail!(
            "host in {} not ready after {READY_TIMEOUT:?}:\n{}",
            host.ns.name,
            host.log_tail()
        ),
    }
}

/// Reads `pipe` line by line into the log tail and the channel until it closes.
async fn drain(
    pipe: impl AsyncRead + Unpin,
    log: Arc<Mutex<VecDeque<String>>>,
    lines: mpsc::UnboundedSender<String>,
) {
    let mut reader = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = reader.next_line().await {
        {
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            if log.len() == LOG_TAIL {
                log.pop_front();
            }
            log.push_back(line.clone());
        }
        // Nobody listens once the host is ready: that is fine.
        let _ = lines.send(line);
    }
}
