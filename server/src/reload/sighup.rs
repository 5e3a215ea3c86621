//! SIGHUP reloads the configuration, as it does for nginx, HAProxy and
//! Prometheus. The outcome is logged (a signal has no one to answer);
//! `Admin.ReloadConfig` does the same and answers with what changed.

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};

use crate::engine::Engine;

/// Listens for SIGHUP until the engine's root token stops it. Registered
/// before serving starts, so a SIGHUP sent once the router is up never
/// takes the default action (terminating the process).
pub fn spawn_sighup_listener(engine: &Arc<Engine>) -> std::io::Result<()> {
    let mut hangups = signal(SignalKind::hangup())?;
    let life = engine.lifecycle().clone();
    let stop = life.root().clone();
    let engine = engine.clone();
    life.spawn(async move {
        loop {
            tokio::select! {
                received = hangups.recv() => {
                    if received.is_none() {
                        return;
                    }
                }
                _ = stop.cancelled() => return,
            }
            tracing::info!("SIGHUP: reloading the configuration");
            if let Err(e) = engine.reload().await {
                tracing::error!("{e}");
            }
        }
    });
    Ok(())
}
