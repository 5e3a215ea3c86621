//! `GET /metrics` on an optional HTTP port: the registry in OpenMetrics text.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Exposition;

/// The OpenMetrics 1.0 text content type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `addr` and serves `/metrics` on a task of `tasks` until `stop`.
pub async fn spawn(
    addr: SocketAddr,
    exposition: Exposition,
    stop: CancellationToken,
    tasks: &TaskTracker,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(exposition);
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

async fn metrics(State(exposition): State<Exposition>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], exposition.encode())
}
