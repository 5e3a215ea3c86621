//! Wiring and lifecycle: builds the engine from a validated config, serves
//! the gRPC services on a listener (and the OpenAI-compatible HTTP door on
//! its own, when configured), and shuts down in a fixed order:
//! health NOT_SERVING → stop accepting → drain in-flight calls (bounded by
//! the grace period) → stop streaming work that outlived it → stop every
//! child process and reap it → stop the monitors. Each step fires a token
//! of the engine's [`Lifecycle`], whose one tracker holds every task.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ai_router_proto::v1::admin_server::AdminServer;
use ai_router_proto::v1::router_server::RouterServer;
use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tonic_health::ServingStatus;

use crate::api::{AdminService, RouterService};
use crate::backend::HostGauges;
use crate::config::ValidatedConfig;
use crate::engine::Engine;
use crate::executor::{Executor, RouteGauges};
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::pool::catalogue::{self, CatalogueError};
use crate::pool::{Pool, PoolError, PoolGauges};
use crate::reload::{BackendParts, ConfigSource, Reloader};
use crate::stats::Recorder;
use crate::upstream::UpstreamClient;

/// The health name a liveness probe asks for. It is set SERVING when the
/// server starts and never changed: a router that is draining or loaded is
/// still alive, and a liveness probe that followed load would get a busy pod
/// killed. Readiness follows `airouter.v1.Router`, which goes NOT_SERVING
/// when the drain starts.
pub const LIVENESS_SERVICE: &str = "liveness";

/// Why the router could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The model catalogue is inconsistent.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// The pool could not be created.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// An HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] crate::upstream::ClientError),
    /// A remote endpoint could not be set up.
    #[error(transparent)]
    Endpoint(#[from] crate::backend::EndpointError),
    /// Reflection could not be built from the descriptor set.
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The metrics listener could not be bound.
    #[error("cannot listen for metrics: {0}")]
    Metrics(#[from] std::io::Error),
    /// The SIGHUP handler could not be installed.
    #[error("cannot listen for SIGHUP (config reload): {0}")]
    Signal(std::io::Error),
    /// The HTTP door's listener could not be bound.
    #[error("cannot listen for the HTTP door on {addr}: {source}")]
    HttpListen {
        /// `http_listen`.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server error: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Keys or the usage ledger cannot be used.
    #[error(transparent)]
    Access(#[from] crate::access::AccessStartError),
    /// The TLS certificate, key or client CA cannot be read.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Builds the engine: catalogue, pool (its maintenance and preloads start in
/// the background), endpoints, routes, executor. Does not wait for models.
/// Takes only a validated config, so an unchecked one cannot be served.
pub fn build_engine(
    config: ValidatedConfig,
    process_start: Instant,
) -> Result<Arc<Engine>, StartError> {
    build_reloadable_engine(config, None, process_start)
}

/// [`build_engine`], with where `ReloadConfig` and SIGHUP read the
/// configuration again.
pub fn build_reloadable_engine(
    config: ValidatedConfig,
    source: Option<ConfigSource>,
    process_start: Instant,
) -> Result<Arc<Engine>, StartError> {
    let catalogue = catalogue::build(&config.local)?;
    // Every subsystem's metrics, registered once and handed out below.
    let mut metrics = Metrics::new(process_start.elapsed());
    let life = Lifecycle::new();
    let pool = Pool::start(config.local.clone(), catalogue, metrics.pool.clone(), &life)?;
    let counters = metrics.upstream.clone();
    // One loopback client for every child.
    let local_client = UpstreamClient::local(Duration::from_secs(2), counters.clone())?;
    let parts = BackendParts {
        config: &config,
        pool: &pool,
        local_client: &local_client,
        counters: &counters,
        life: &life,
    };
    let routes = Arc::new(ArcSwap::from_pointee(parts.first_route_table()?));
    let executor = Executor::new(config.executor.clone(), metrics.executor.clone());
    let access = crate::access::AccessControl::start(&config.access)?;
    metrics.register_collector(crate::access::AccessGauges(access.clone()));
    metrics.register_collector(PoolGauges(pool.clone()));
    let table = routes.clone();
    metrics.register_collector(RouteGauges(Box::new(move || table.load().limiters())));
    let table = routes.clone();
    metrics.register_collector(HostGauges(Box::new(move || {
        table.load().endpoints().map(|e| e.hosts.clone()).collect()
    })));
    let stats = Recorder::new(
        process_start,
        metrics,
        config.endpoints.iter().map(|e| e.name.as_str()),
    );
    let reloader = source.map(|s| Reloader::new(s, (*config).clone(), local_client));
    let mut engine = Engine::new(
        Arc::new(config.into_inner()),
        routes,
        executor,
        pool,
        counters,
        stats,
        life,
    )
    .with_access(access);
    if let Some(reloader) = reloader {
        engine = engine.with_reloader(reloader);
    }
    Ok(Arc::new(engine))
}

/// Builds the engine and serves until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: ValidatedConfig,
    process_start: Instant,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let engine = build_engine(config, process_start)?;
    serve(listener, engine, shutdown).await
}

/// [`run`] for the binary: `source` reads the configuration again on
/// `Admin.ReloadConfig` and on SIGHUP.
pub async fn run_reloadable(
    listener: TcpListener,
    config: ValidatedConfig,
    source: ConfigSource,
    process_start: Instant,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let engine = build_reloadable_engine(config, Some(source), process_start)?;
    #[cfg(unix)]
    crate::reload::spawn_sighup_listener(&engine).map_err(StartError::Signal)?;
    serve(listener, engine, shutdown).await
}

/// The reflection services' view: the router's protos and health's.
fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(ai_router_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// The sockets the router serves on.
pub struct Listeners {
    /// gRPC: the router, health and reflection services.
    pub grpc: TcpListener,
    /// The OpenAI-compatible HTTP door, when it is on.
    pub http: Option<TcpListener>,
}

/// Serves on `listener` (gRPC) and, when `http_listen` is set, binds and
/// serves the HTTP door too, until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let http = match engine.config().http_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::HttpListen { addr, source })?,
        ),
        None => None,
    };
    let grpc = listener;
    serve_on(Listeners { grpc, http }, engine, shutdown).await
}

/// Serves the router, health and reflection services (and the HTTP door,
/// when given a listener for it) until `shutdown` completes, then shuts
/// down in order (see the module docs): both doors stop accepting at once
/// and their in-flight work drains together.
pub async fn serve_on(
    listeners: Listeners,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let Listeners {
        grpc: listener,
        http,
    } = listeners;
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<RouterServer<RouterService>>().await;
    health.set_service_status("", ServingStatus::Serving).await;
    health
        .set_service_status(LIVENESS_SERVICE, ServingStatus::Serving)
        .await;
    // Both reflection versions: v1 for current tools, v1alpha for the many
    // that still ask only for it (grpcurl 1.8, grpc_cli, Postman, grpcio's
    // reflection client).
    let reflection = reflection_builder().build_v1()?;
    let reflection_v1alpha = reflection_builder().build_v1alpha()?;
    let life = engine.lifecycle().clone();
    let max_message = engine.config().limits.max_message_bytes;
    let router = RouterServer::new(RouterService::new(engine.clone()))
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
    let admin = AdminServer::new(AdminService::new(engine.clone()));
    let stop_accepting = life.root().child_token();
    let mut builder = tonic::transport::Server::builder();
    let tls = match crate::tls::server_config(&engine.config().tls) {
        Ok(tls) => tls,
        Err(e) => {
            // Nothing served yet, but preloads may have started children.
            engine.pool().shutdown().await;
            close_ledger(&engine).await;
            life.finish().await;
            return Err(e.into());
        }
    };
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let server = builder
        .tcp_nodelay(true)
        .layer(tower::util::MapResponseLayer::new(
            crate::api::remap_tonic_statuses::<tonic::body::Body>,
        ))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(router)
        .add_service(admin)
        .serve_with_incoming_shutdown(
            // `Server::tcp_nodelay` does not apply to a caller-provided
            // stream; the incoming stream must set it, or every small reply
            // waits ~40 ms for the client's delayed ACK.
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            stop_accepting.clone().cancelled_owned(),
        );
    tokio::pin!(server);
    if let Some(listener) = http {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!("OpenAI-compatible HTTP API on http://{addr}/v1");
        }
        let app = crate::http::router(crate::http::AppState {
            engine: engine.clone(),
            hard_stop: life.requests_stop().clone(),
        });
        // Stops accepting with the gRPC door; its in-flight calls hold
        // executor permits and work guards, so the drain below covers them.
        life.spawn(crate::http::serve(listener, app, stop_accepting.clone()));
    }
    // The monitors and the metrics listener stop on the root token, last,
    // so they report the whole drain.
    {
        let engine = engine.clone();
        let stop = life.root().clone();
        life.spawn(async move { crate::stats::run_monitors(engine.stats(), stop).await });
    }
    if let Some(addr) = engine.config().metrics_listen {
        let exposition = engine.stats().exposition().clone();
        crate::metrics::spawn(addr, exposition, life.root().clone(), life.tasks()).await?;
    }
    engine.stats().mark_serving();
    tracing::info!(
        startup_ms = engine.stats().startup_time().as_secs_f64() * 1e3,
        "serving"
    );

    let early = tokio::select! {
        result = &mut server => Some(result),
        _ = shutdown => None,
    };
    if let Some(result) = early {
        engine.pool().shutdown().await;
        close_ledger(&engine).await;
        life.finish().await;
        return result.map_err(StartError::from);
    }

    tracing::info!(grace = ?engine.config().shutdown_grace, "shutting down: draining in-flight calls");
    health
        .set_not_serving::<RouterServer<RouterService>>()
        .await;
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    stop_accepting.cancel();
    // Drained when no request holds or waits for a permit and no streaming
    // producer or batch is left: signalled by the executor's guards. Idle
    // client connections do not hold the shutdown: once the work is done the
    // server future is dropped, closing them.
    let drain = async {
        tokio::select! {
            _ = &mut server => {}
            _ = engine.executor().idle() => {}
        }
    };
    if tokio::time::timeout(engine.config().shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace expired; stopping the remaining calls");
        life.requests_stop().cancel();
        let _ = tokio::time::timeout(Duration::from_secs(1), engine.executor().idle()).await;
    }
    engine.pool().shutdown().await;
    // After the drain: every usage row of every finished call is written.
    close_ledger(&engine).await;
    life.finish().await;
    tracing::info!("stopped");
    Ok(())
}

/// Writes every queued usage row and stops the ledger's writer thread (a
/// blocking join, so off the runtime's worker threads).
async fn close_ledger(engine: &Arc<Engine>) {
    let access = engine.access().clone();
    if let Err(e) = tokio::task::spawn_blocking(move || access.close()).await {
        tracing::error!("closing the usage ledger failed: {e}");
    }
}
