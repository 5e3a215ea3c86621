//! The router started in-process on 127.0.0.1:0, as a test or benchmark
//! uses it: bound before the serve task starts (so connecting never races
//! the start), stopped through the same shutdown path as SIGTERM. Tests call
//! it through the published `ai_router_client::Client` ([`TestRouter::client`]),
//! so the client crate is exercised end to end; the generated stub
//! ([`TestRouter::raw_client`]) is there for what the client does not offer
//! (request metadata) and for benchmarks that measure the bare stub. With
//! `http_listen` set in the config it also serves the OpenAI-compatible HTTP
//! door on a second port ([`TestRouter::openai_base`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ai_router::config::Config;
use ai_router::engine::Engine;
use ai_router_client::Client;
use ai_router_proto::v1::router_client::RouterClient;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use crate::llama::llama_server;

/// A running router.
pub struct TestRouter {
    /// Bound address.
    pub addr: SocketAddr,
    /// The HTTP door's address, when the config turned it on
    /// (`http_listen`; the router is given a listener on 127.0.0.1:0).
    pub http_addr: Option<SocketAddr>,
    /// The engine, for white-box checks (pool pids, counters).
    pub engine: Arc<Engine>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ai_router::StartError>>>,
}

/// A config for tests: the given models directory, the llama-server found by
/// [`llama_server`], small contexts, and no idle TTL unless a test sets one.
pub fn local_config(models_dir: &Path) -> anyhow::Result<Config> {
    let mut c = Config {
        listen: "127.0.0.1:0".parse()?,
        ..Config::default()
    };
    c.shutdown_grace = Duration::from_secs(5);
    c.local.models_dirs = vec![models_dir.to_path_buf()];
    c.local.llama_server = Some(llama_server()?);
    c.local.defaults.ctx_size = 2048;
    c.local.defaults.slots = 2;
    c.local.defaults.threads = Some(1);
    c.local.idle_ttl = None;
    c.local.stop_grace = Duration::from_secs(2);
    c.local.startup_timeout = Duration::from_secs(30);
    // Hermetic: not switched on by an OPENROUTER_API_KEY in the environment.
    c.openrouter.enabled = Some(false);
    Ok(c)
}

/// A config with no local models (remote endpoints only).
pub fn remote_config() -> anyhow::Result<Config> {
    let mut c = Config {
        listen: "127.0.0.1:0".parse()?,
        ..Config::default()
    };
    c.local.models_dirs = vec![];
    c.openrouter.enabled = Some(false);
    Ok(c)
}

impl TestRouter {
    /// Validates `config`, binds 127.0.0.1:0 and serves it in a background task.
    pub async fn start(config: Config) -> anyhow::Result<TestRouter> {
        let config = config.validate()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let http = match config.http_listen {
            Some(_) => Some(tokio::net::TcpListener::bind("127.0.0.1:0").await?),
            None => None,
        };
        let http_addr = http.as_ref().map(|l| l.local_addr()).transpose()?;
        let engine = ai_router::build_engine(config, Instant::now())?;
        let (tx, rx) = oneshot::channel();
        let listeners = ai_router::Listeners {
            grpc: listener,
            http,
        };
        let task = tokio::spawn(ai_router::serve_on(listeners, engine.clone(), async {
            let _ = rx.await;
        }));
        Ok(TestRouter {
            addr,
            http_addr,
            engine,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Serves the configuration in the TOML file at `path` (read as the
    /// binary reads `--config`, with no flags) on 127.0.0.1:0; the
    /// `ReloadConfig` RPC reads the file again.
    pub async fn start_from_file(path: &Path) -> anyhow::Result<TestRouter> {
        let cli = ai_router::config::Cli {
            config: Some(path.to_path_buf()),
            ..ai_router::config::Cli::default()
        };
        let config = ai_router::config::load(&cli)?;
        let source: ai_router::reload::ConfigSource =
            Arc::new(move || ai_router::config::load(&cli));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let engine = ai_router::build_reloadable_engine(config, Some(source), Instant::now())?;
        let (tx, rx) = oneshot::channel();
        let listeners = ai_router::Listeners {
            grpc: listener,
            http: None,
        };
        let task = tokio::spawn(ai_router::serve_on(listeners, engine.clone(), async {
            let _ = rx.await;
        }));
        Ok(TestRouter {
            addr,
            http_addr: None,
            engine,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The HTTP door's OpenAI base URL, `http://127.0.0.1:PORT/v1`.
    ///
    /// # Panics
    /// When the router was started without `http_listen`.
    pub fn openai_base(&self) -> String {
        match self.http_addr {
            Some(addr) => format!("http://{addr}/v1"),
            None => panic!("this router has no HTTP door: set config.http_listen"),
        }
    }

    /// The published client (`ai_router_client::Client`), connected.
    pub async fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::connect(self.url()).await?)
    }

    /// The generated tonic stub, for calls that need what [`Client`] does
    /// not expose (request metadata such as `traceparent`) and for
    /// benchmarks that measure the bare stub.
    pub async fn raw_client(&self) -> anyhow::Result<RouterClient<Channel>> {
        Ok(RouterClient::connect(self.url()).await?)
    }

    /// A tonic channel to the router.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(Channel::from_shared(self.url())?.connect().await?)
    }

    /// Triggers the graceful shutdown and waits for it (children reaped).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop_inner().await
    }

    async fn stop_inner(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

impl Drop for TestRouter {
    fn drop(&mut self) {
        // A test that panicked before stop(): still ask for the shutdown so
        // children get SIGTERM; kill_on_drop and PDEATHSIG cover the rest.
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Waits (bounded) for the first pool event matching `pred`.
pub async fn wait_for_event(
    events: &mut tokio::sync::broadcast::Receiver<ai_router::pool::PoolEvent>,
    within: Duration,
    mut pred: impl FnMut(&ai_router::pool::PoolEvent) -> bool,
) -> anyhow::Result<ai_router::pool::PoolEvent> {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(e) if pred(&e) => return Ok(e),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => return Err(anyhow::anyhow!("pool event channel closed: {e}")),
            }
        }
    };
    tokio::time::timeout(within, wait)
        .await
        .map_err(|_| anyhow::anyhow!("no matching pool event within {within:?}"))?
}
