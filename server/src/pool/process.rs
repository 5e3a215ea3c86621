//! One llama-server child: spawned from an argument list (never a shell),
//! tied to the router's life (parent-death signal, kill on drop), watched by
//! a supervisor task that reaps it, and stopped with SIGTERM, a grace period,
//! then SIGKILL. The supervisor holds the child's slot permit and releases it
//! only after the process has been reaped, so an exiting child still counts
//! against `max_loaded_models`.

use std::collections::VecDeque;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::time::Instant;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::PoolError;
use super::catalogue::LocalModelSpec;
use super::slots::SlotPermit;

/// Lines of stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 12;
/// Longest stderr line kept, in bytes.
const STDERR_LINE_MAX: usize = 400;
/// How long after the spawn readiness is polled every 10 ms (then 50 ms).
const READY_FAST_POLL_FOR: Duration = Duration::from_secs(2);

/// A running (or just exited) llama-server child.
pub struct ChildProcess {
    /// Model id it serves.
    pub model: String,
    /// OS process id.
    pub pid: u32,
    /// Loopback port it listens on.
    pub port: u16,
    /// OpenAI-compatible base URL, `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    /// Its chat completions URL, built once.
    pub chat_uri: http::Uri,
    /// Stopped by an operator's forced unload: its in-flight calls fail
    /// with that reason instead of being retried on a new process.
    pub(super) unloaded: AtomicBool,
    /// A generation probe is running (never two at once).
    pub(super) probing: AtomicBool,
    /// When its last generation probe started (pool epoch milliseconds).
    pub(super) probed_at_ms: AtomicU64,
    /// When it was spawned.
    pub spawned_at: Instant,
    /// Last sampled resident memory, bytes.
    pub rss_bytes: AtomicU64,
    /// Id of the slot it holds (to mark it releasing when it is stopped).
    pub(super) slot_id: u64,
    /// The slot, to raise its memory reservation to the measured RSS. Weak:
    /// only the supervisor (and the loader while starting) own the slot.
    slot: Weak<SlotPermit>,
    exit: watch::Receiver<Option<String>>,
    stop: CancellationToken,
    kill: CancellationToken,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// The `--model` argument it was given, which its `/props` echoes: how a
    /// starting child is told from a stranger that took its port.
    model_path: String,
    progress: Arc<Notify>,
}

/// What a spawn needs.
pub struct SpawnParams<'a> {
    /// llama-server binary.
    pub binary: &'a Path,
    /// The model.
    pub spec: &'a LocalModelSpec,
    /// Port to listen on.
    pub port: u16,
    /// SIGTERM → SIGKILL grace.
    pub stop_grace: Duration,
    /// The slot the process runs under, released once it has been reaped.
    pub slot: &'a Arc<SlotPermit>,
}

/// The supervisor's side of a child: it reports the exit (after releasing
/// the slot) and obeys stop and kill requests.
pub(super) struct ChildControl {
    /// Sends the exit description.
    pub exit: watch::Sender<Option<String>>,
    /// Graceful stop requested.
    pub stop: CancellationToken,
    /// Immediate kill requested.
    pub kill: CancellationToken,
    /// The slot, dropped right before the exit is announced.
    pub slot: Arc<SlotPermit>,
}

/// `http://127.0.0.1:PORT/v1/chat/completions`, for the request path's
/// client (`http::Uri`), built once per child.
fn loopback_chat_uri(port: u16) -> http::Uri {
    // A constant scheme and path around an IPv4 address with a u16 port:
    // every part is valid, so building cannot fail.
    #[allow(clippy::expect_used)]
    http::Uri::builder()
        .scheme("http")
        .authority(format!("127.0.0.1:{port}"))
        .path_and_query("/v1/chat/completions")
        .build()
        .expect("the loopback URI is valid")
}

impl ChildProcess {
    /// A child record and the control its supervisor needs. Used by the
    /// real spawn below and by the simulated launcher of the model check.
    pub(super) fn new(
        model: &str,
        model_path: &str,
        pid: u32,
        port: u16,
        slot: &Arc<SlotPermit>,
    ) -> (Arc<ChildProcess>, ChildControl) {
        let (exit_tx, exit_rx) = watch::channel(None);
        let stop = CancellationToken::new();
        let kill = CancellationToken::new();
        let child = Arc::new(ChildProcess {
            model: model.to_string(),
            pid,
            port,
            base_url: format!("http://127.0.0.1:{port}/v1"),
            chat_uri: loopback_chat_uri(port),
            unloaded: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            probed_at_ms: AtomicU64::new(0),
            spawned_at: Instant::now(),
            rss_bytes: AtomicU64::new(0),
            slot_id: slot.id(),
            slot: Arc::downgrade(slot),
            exit: exit_rx,
            stop: stop.clone(),
            kill: kill.clone(),
            stderr_tail: Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES))),
            model_path: model_path.to_string(),
            progress: Arc::new(Notify::new()),
        });
        let control = ChildControl {
            exit: exit_tx,
            stop,
            kill,
            slot: slot.clone(),
        };
        (child, control)
    }

    /// Records a measured RSS, and raises the slot's memory reservation to it.
    pub(super) fn record_rss(&self, bytes: u64) {
        self.rss_bytes.store(bytes, Ordering::Relaxed);
        if let Some(slot) = self.slot.upgrade() {
            slot.reserve_at_least(bytes);
        }
    }

    /// Starts the child and its supervisor and stderr reader (both owned by `tasks`).
    pub fn spawn(
        params: SpawnParams<'_>,
        tasks: &TaskTracker,
    ) -> Result<Arc<ChildProcess>, PoolError> {
        let spec = params.spec;
        let mut command = tokio::process::Command::new(params.binary);
        command
            .args(arguments(spec, params.port))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group: a Ctrl-C in the router's terminal reaches
            // the router, which then stops children in order.
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and only
        // calls prctl, which is async-signal-safe. PR_SET_PDEATHSIG makes the
        // kernel SIGKILL the child when the router dies, even by SIGKILL.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|e| PoolError::SpawnFailed {
            model: spec.id.clone(),
            detail: format!("{}: {e}", params.binary.display()),
        })?;
        let pid = child.id().unwrap_or_default();
        let (record, control) = ChildProcess::new(
            &spec.id,
            &model_argument(spec),
            pid,
            params.port,
            params.slot,
        );
        if let Some(stderr) = child.stderr.take() {
            tasks.spawn(read_stderr(
                stderr,
                spec.id.clone(),
                record.stderr_tail.clone(),
                record.progress.clone(),
            ));
        }
        tasks.spawn(supervise(child, pid, control, params.stop_grace));
        Ok(record)
    }

    /// True until the process has exited.
    pub fn is_alive(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// Waits until the process has exited and been reaped.
    pub async fn exited(&self) {
        let mut exit = self.exit.clone();
        let _ = exit.wait_for(Option::is_some).await;
    }

    /// Asks for a graceful stop (SIGTERM, grace, SIGKILL).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Whether the router asked this child to stop (eviction, unload,
    /// shutdown), as opposed to it dying or being killed as hung.
    pub fn stop_requested(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Kills at once (a hung child gets no grace).
    pub fn kill(&self) {
        self.kill.cancel();
    }

    /// The last lines the child printed, joined for a message.
    pub fn stderr_tail(&self) -> String {
        match self.stderr_tail.lock() {
            Ok(tail) => tail.iter().cloned().collect::<Vec<_>>().join(" | "),
            Err(_) => String::new(),
        }
    }

    /// `http://127.0.0.1:PORT{path}`: one of the child's own endpoints
    /// (`/health`, `/props`, `/slots`), for the control plane's client.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits until the child answers `/health` with 200 and its `/props`
    /// names the model it was started with (a stranger that took the port
    /// first must never be mistaken for it), failing at once if it exits
    /// first. Polled every few milliseconds, and at once whenever the child
    /// prints a line: it prints only warnings and errors (see
    /// [`arguments`]), so no line announces that it has bound its port.
    pub async fn wait_ready(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<(), PoolError> {
        let deadline = Instant::now() + timeout;
        let mut exit = self.exit.clone();
        let mut poll_every = Duration::from_millis(2);
        loop {
            if let Some(status) = exit.borrow().clone() {
                return Err(PoolError::ExitedDuringStartup {
                    model: self.model.clone(),
                    status,
                    stderr_tail: self.stderr_tail(),
                });
            }
            if self.healthy(http, Duration::from_secs(1)).await && self.is_ours(http).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(PoolError::StartupTimeout {
                    model: self.model.clone(),
                    after: timeout,
                });
            }
            let progress = self.progress.notified();
            tokio::select! {
                _ = exit.changed() => {}
                _ = progress => {}
                _ = tokio::time::sleep(poll_every) => {}
            }
            // Small models are up within a few hundred milliseconds and each
            // poll is one loopback request; a long load is polled less often.
            let cap = if self.spawned_at.elapsed() < READY_FAST_POLL_FOR {
                Duration::from_millis(10)
            } else {
                Duration::from_millis(50)
            };
            poll_every = (poll_every * 2).min(cap);
        }
    }

    /// Whether the server on the child's port is this child: its `/props`
    /// names the model file this child was started with.
    async fn is_ours(&self, http: &reqwest::Client) -> bool {
        #[derive(serde::Deserialize)]
        struct Props {
            model_path: String,
        }
        let Ok(response) = http
            .get(self.url("/props"))
            .timeout(Duration::from_secs(1))
            .send()
            .await
        else {
            return false;
        };
        if !response.status().is_success() {
            return false;
        }
        matches!(response.json::<Props>().await, Ok(props) if props.model_path == self.model_path)
    }

    /// One health probe.
    pub async fn healthy(&self, http: &reqwest::Client, timeout: Duration) -> bool {
        matches!(
            http.get(self.url("/health")).timeout(timeout).send().await,
            Ok(r) if r.status().is_success()
        )
    }
}

/// The llama-server command line for a model.
fn arguments(spec: &LocalModelSpec, port: u16) -> Vec<String> {
    let s = &spec.settings;
    let mut args = vec![
        "--model".to_string(),
        model_argument(spec),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--ctx-size".into(),
        s.ctx_size.to_string(),
        "--parallel".into(),
        s.slots.to_string(),
    ];
    if let Some(threads) = s.threads {
        args.extend(["--threads".into(), threads.to_string()]);
    }
    if let Some(layers) = s.gpu_layers {
        args.extend(["--n-gpu-layers".into(), layers.to_string()]);
    }
    if s.embeddings {
        args.push("--embeddings".into());
        // The /v1/embeddings API needs pooled vectors; a model's default
        // pooling may be `none`.
        if !s.extra_args.iter().any(|a| a == "--pooling") {
            args.extend(["--pooling".into(), "mean".into()]);
        }
    }
    // Warnings and errors only: at its default verbosity llama-server
    // writes about nine lines (27 writes) per request, each a pipe wake-up
    // for the router's stderr reader, which cost the router more CPU per
    // local request than the call itself. Errors, which explain a failed
    // start, still come through. A verbosity in `extra_args` wins.
    if !s
        .extra_args
        .iter()
        .any(|a| VERBOSITY_FLAGS.contains(&a.as_str()))
    {
        args.extend(["--log-verbosity".into(), "2".into()]);
    }
    args.extend(s.extra_args.iter().cloned());
    args
}

/// llama-server flags that set its log verbosity.
const VERBOSITY_FLAGS: [&str; 6] = [
    "-lv",
    "--verbosity",
    "--log-verbosity",
    "-v",
    "--verbose",
    "--log-verbose",
];

/// The `--model` argument: the path as the catalogue holds it.
pub(super) fn model_argument(spec: &LocalModelSpec) -> String {
    spec.path.display().to_string()
}

async fn read_stderr(
    stderr: tokio::process::ChildStderr,
    model: String,
    tail: Arc<Mutex<VecDeque<String>>>,
    progress: Arc<Notify>,
) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        // Trace level only: at higher verbosity llama-server may echo prompts.
        tracing::trace!(model = %model, "llama-server: {line}");
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            let mut line = line;
            if line.len() > STDERR_LINE_MAX {
                let cut = (0..=STDERR_LINE_MAX)
                    .rev()
                    .find(|i| line.is_char_boundary(*i))
                    .unwrap_or(0);
                line.truncate(cut);
            }
            tail.push_back(line);
        }
        progress.notify_waiters();
    }
}

async fn supervise(
    mut child: tokio::process::Child,
    pid: u32,
    control: ChildControl,
    grace: Duration,
) {
    let ChildControl {
        exit: exit_tx,
        stop,
        kill,
        slot,
    } = control;
    let status = tokio::select! {
        status = child.wait() => status,
        _ = kill.cancelled() => force_kill(&mut child).await,
        _ = stop.cancelled() => {
            send_sigterm(pid);
            tokio::select! {
                status = child.wait() => status,
                _ = tokio::time::sleep(grace) => force_kill(&mut child).await,
                _ = kill.cancelled() => force_kill(&mut child).await,
            }
        }
    };
    let described = match status {
        Ok(status) => describe(status),
        Err(e) => format!("wait failed: {e}"),
    };
    tracing::debug!(pid, status = %described, "llama-server exited");
    // Reaped: only now may another process take the slot.
    drop(slot);
    let _ = exit_tx.send(Some(described));
}

async fn force_kill(child: &mut tokio::process::Child) -> std::io::Result<ExitStatus> {
    let _ = child.start_kill();
    child.wait().await
}

fn send_sigterm(pid: u32) {
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        // SAFETY: kill(2) with a positive pid of our own child that has not
        // been reaped yet (the supervisor reaps it), so the pid is not reused.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "unknown exit".into(),
    }
}
