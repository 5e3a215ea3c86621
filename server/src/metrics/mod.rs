//! Prometheus metrics on an optional HTTP port: `GET /metrics` renders the
//! same snapshot the `Stats` RPC returns, in the text exposition format.

mod render;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::engine::Engine;

pub use render::render;

/// Binds `addr` and serves `/metrics` on a task of `tasks` until `stop`.
pub async fn spawn(
    addr: SocketAddr,
    engine: Arc<Engine>,
    stop: CancellationToken,
    tasks: &TaskTracker,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(engine);
    tasks.spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!("metrics server stopped: {e}");
        }
    });
    Ok(())
}

async fn metrics(State(engine): State<Arc<Engine>>) -> impl IntoResponse {
    let stats = crate::api::stats_snapshot(&engine);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        render(&stats),
    )
}
