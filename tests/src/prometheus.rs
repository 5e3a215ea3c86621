//! A real Prometheus (the Debian `prometheus` package `scripts/ensure-prometheus`
//! installs, or `PROMETHEUS`) with exemplar storage on, scraping one
//! loopback `/metrics` target every second into a temporary directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::bail;
use tokio::process::{Child, Command};

/// Where Prometheus is, or why it is not: `PROMETHEUS` (set by
/// `scripts/test` from `scripts/ensure-prometheus`), else `prometheus` on
/// PATH.
pub fn prometheus_binary() -> Result<PathBuf, String> {
    crate::external::find_program(
        "PROMETHEUS",
        "prometheus",
        "PROMETHEUS_UNAVAILABLE",
        "no Prometheus: run through scripts/test (it installs the Debian package) or set PROMETHEUS",
    )
}

/// The scrape config: one job, one target, scraped every second.
fn config(target: SocketAddr) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: ai-router\n    static_configs:\n      - targets: ['{target}']\n"
    )
}

/// A running Prometheus; killed when dropped.
pub struct Prometheus {
    addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (a `/metrics` address), its web
    /// API on `127.0.0.1:listen_port`, and returns once `/-/ready` answers.
    pub async fn start(target: SocketAddr, listen_port: u16) -> anyhow::Result<Prometheus> {
        let binary = prometheus_binary().map_err(anyhow::Error::msg)?;
        let dir = tempfile::tempdir()?;
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config(target))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], listen_port));
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--enable-feature=exemplar-storage")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let mut prometheus = Prometheus {
            addr,
            child,
            _dir: dir,
            http: reqwest::Client::new(),
        };
        prometheus.wait_ready(Duration::from_secs(30)).await?;
        Ok(prometheus)
    }

    /// Polls `/-/ready` (Prometheus offers no push for it) until it answers
    /// 200, or fails after `within` or when the process exits.
    async fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        let url = format!("http://{}/-/ready", self.addr);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("Prometheus exited before it was ready: {status}");
            }
            let ready = self.http.get(&url).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("Prometheus was not ready within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The stored exemplars of the series `query` selects over the last
    /// hour: `/api/v1/query_exemplars`'s `data` array.
    pub async fn exemplars(&self, query: &str) -> anyhow::Result<Vec<serde_json::Value>> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        let (start, end) = (now.as_secs() - 3600, now.as_secs() + 60);
        let url = format!("http://{}/api/v1/query_exemplars", self.addr);
        let body: serde_json::Value = self
            .http
            .get(url)
            .query(&[
                ("query", query.to_string()),
                ("start", start.to_string()),
                ("end", end.to_string()),
            ])
            .send()
            .await?
            .json()
            .await?;
        if body["status"] != "success" {
            bail!("query_exemplars failed: {body}");
        }
        Ok(body["data"].as_array().cloned().unwrap_or_default())
    }

    /// Polls the exemplars of `query` (a scrape lands every second) until
    /// `pred` holds for them, or fails after `within` showing the last ones.
    pub async fn wait_for_exemplars(
        &self,
        query: &str,
        within: Duration,
        mut pred: impl FnMut(&[serde_json::Value]) -> bool,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let found = self.exemplars(query).await?;
            if pred(&found) {
                return Ok(found);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("no matching exemplars of {query} within {within:?}; stored: {found:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops Prometheus and reaps it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}
