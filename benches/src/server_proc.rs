//! A server process under test: spawned in its own process group with its
//! output in a log file, stopped on drop (SIGTERM, a grace period, then
//! SIGKILL to the whole group), and sent SIGTERM if the bench dies
//! (`PR_SET_PDEATHSIG`). Shared by the `swap` and `overhead` harnesses.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ai_router_testkit::procs::signal;
use anyhow::{Context, bail};

/// SIGTERM → SIGKILL grace. llama.cpp's router waits for its children on
/// SIGTERM (they get 10 s each), ai-router stops its own within 2-5 s.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> anyhow::Result<u16> {
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

/// How long [`Server::spawn_announcing`] waits for the address line.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(30);

impl Server {
    /// Spawns `binary args` (which is to listen on `port`), stdout and
    /// stderr going to `log`. Readiness is the caller's to wait for.
    pub fn spawn(binary: &Path, args: &[String], log: &Path, port: u16) -> anyhow::Result<Server> {
        Self::spawn_env(binary, args, &[], log, port)
    }

    /// [`Server::spawn`] with extra environment variables for the child.
    pub fn spawn_env(
        binary: &Path,
        args: &[String],
        env: &[(&str, &str)],
        log: &Path,
        port: u16,
    ) -> anyhow::Result<Server> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        Self::spawn_with(binary, args, env, Stdio::from(out), err, log, port)
    }

    /// Spawns a server that prints its own `http://HOST:PORT` as its first
    /// stdout line once it is bound (the testkit's `emulator`), and returns
    /// when that line arrives: the readiness signal, no polling. stderr goes
    /// to `log`; stdout is read on a helper thread to its end, so the child
    /// never blocks on a full pipe.
    pub fn spawn_announcing(binary: &Path, args: &[String], log: &Path) -> anyhow::Result<Server> {
        use std::io::BufRead as _;
        let err = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut server = Self::spawn_with(binary, args, &[], Stdio::piped(), err, log, 0)?;
        let stdout = server
            .child
            .as_mut()
            .and_then(|c| c.stdout.take())
            .context("the child's stdout pipe is missing")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Drain whatever else it prints.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(ANNOUNCE_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            Ok(_) => bail!(
                "{} exited before announcing its address; log tail:\n{}",
                binary.display(),
                server.log_tail(20)
            ),
            Err(_) => bail!(
                "{} announced no address within {ANNOUNCE_TIMEOUT:?}",
                binary.display()
            ),
        };
        server.port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| {
                format!(
                    "{} announced {line:?}, not http://HOST:PORT",
                    binary.display()
                )
            })?;
        Ok(server)
    }

    fn spawn_with(
        binary: &Path,
        args: &[String],
        env: &[(&str, &str)],
        stdout: Stdio,
        stderr: File,
        log: &Path,
        port: u16,
    ) -> anyhow::Result<Server> {
        let mut command = Command::new(binary);
        command
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
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

    /// Its exit status if it has exited (an error once stopped).
    pub fn exited(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
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

/// Longest [`wait_until`] waits for a server to answer after its spawn.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Polls `probe` with backoff until it says yes, the process exits, or
/// [`READY_TIMEOUT`] passes. From outside a process there is no readiness
/// signal but its port.
pub async fn wait_until<F, Fut>(server: &mut Server, what: &str, probe: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let until = Instant::now() + READY_TIMEOUT;
    let mut delay = Duration::from_millis(5);
    loop {
        if let Some(status) = server.exited()? {
            bail!(
                "{what} exited during start-up ({status}); log tail:\n{}",
                server.log_tail(15)
            );
        }
        if let Ok(true) = probe().await {
            return Ok(());
        }
        if Instant::now() > until {
            bail!(
                "{what} not ready after {READY_TIMEOUT:?}; log tail:\n{}",
                server.log_tail(15)
            );
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(200));
    }
}

/// Whether `GET url` answers 2xx (a readiness probe).
pub async fn http_ok(http: &reqwest::Client, url: &str) -> anyhow::Result<bool> {
    Ok(http.get(url).send().await?.status().is_success())
}
