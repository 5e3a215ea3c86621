//! The `ai-router` binary: parse flags, load config, bind, run.

use std::process::ExitCode;
use std::time::Instant;

use ai_router::config::{self, Cli};
use ai_router::telemetry::TelemetryOptions;

fn main() -> ExitCode {
    let process_start = Instant::now();
    let cli = Cli::parse_args();
    let config = match config::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ai-router: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ai-router: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let telemetry = match ai_router::telemetry::init(&TelemetryOptions {
            log_filter: cli.log.clone(),
            log_json: cli.log_json,
            otlp_endpoint: cli.otlp_endpoint.clone(),
        }) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ai-router: {e}");
                return ExitCode::FAILURE;
            }
        };
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("ai-router: cannot listen on {}: {e}", config.listen);
                return ExitCode::FAILURE;
            }
        };
        match listener.local_addr() {
            Ok(addr) => tracing::info!("ai-router listening on {addr}"),
            Err(e) => tracing::warn!("ai-router listening (address unknown: {e})"),
        }
        // ReloadConfig and SIGHUP read the same file, flags and environment
        // again.
        let source_cli = cli.clone();
        let source: ai_router::reload::ConfigSource =
            std::sync::Arc::new(move || config::load(&source_cli));
        let result =
            ai_router::run_reloadable(listener, config, source, process_start, shutdown_signal())
                .await;
        // Last step of the shutdown order: flush buffered spans.
        telemetry.shutdown();
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ai-router: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
