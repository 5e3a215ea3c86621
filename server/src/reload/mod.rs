//! Config reload (`Admin.ReloadConfig`, SIGHUP): the configuration is read
//! again from where it came from, validated, and what can change while
//! serving is applied:
//! - the local catalogue (models directories rescanned, declared models,
//!   their llama-server settings, preloads): [`Pool::apply_catalogue`]
//!   keeps untouched models with their processes and drains the others;
//! - the route table, rebuilt over it and swapped in whole; endpoints whose
//!   settings did not change keep their connections, hosts and breakers
//!   ([`backends`]);
//! - the keys (and the keys file), through access control.
//!
//! Everything else only applies at start and is listed as
//! [`restart_required`]. A configuration that does not validate, or whose
//! catalogue or endpoints cannot be built, is refused before anything
//! changes: the running one keeps serving. Reloads are serialised.
//!
//! [`Pool::apply_catalogue`]: crate::pool::Pool::apply_catalogue

pub mod backends;
mod restart_required;
#[cfg(unix)]
mod sighup;

use std::sync::Arc;

use crate::config::{Config, ConfigError, ValidatedConfig};
use crate::engine::Engine;
use crate::error::RouterError;
use crate::pool::CatalogueChange;
use crate::upstream::UpstreamClient;
pub use backends::{BackendParts, EndpointChange, Running};
pub use restart_required::restart_required;
#[cfg(unix)]
pub use sighup::spawn_sighup_listener;

/// Where the configuration is read from again: the binary's file, flags and
/// environment. Tests give their own.
pub type ConfigSource = Arc<dyn Fn() -> Result<ValidatedConfig, ConfigError> + Send + Sync>;

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Local models.
    pub models: CatalogueChange,
    /// Remote endpoints.
    pub endpoints: EndpointChange,
    /// Whether the keys changed (and were applied).
    pub keys_changed: bool,
    /// Changed settings that apply only after a restart (dotted paths).
    pub restart_required: Vec<String>,
}

/// The engine's reload state.
pub struct Reloader {
    source: ConfigSource,
    /// The configuration applied last; held across a reload, which
    /// serialises them.
    applied: tokio::sync::Mutex<Config>,
    /// The loopback client new local backends are given.
    local_client: UpstreamClient,
}

impl Reloader {
    /// Reloads from `source`, starting from `running`.
    pub fn new(source: ConfigSource, running: Config, local_client: UpstreamClient) -> Reloader {
        Reloader {
            source,
            applied: tokio::sync::Mutex::new(running),
            local_client,
        }
    }
}

impl Engine {
    /// Reads the configuration again and applies what can change while
    /// serving (see the module docs).
    pub async fn reload(&self) -> Result<ReloadReport, RouterError> {
        let Some(reloader) = self.reloader() else {
            return Err(RouterError::FailedPrecondition(
                "this router was given its configuration in memory; there is nothing to read again (the ai-router binary reloads its --config file, flags and environment)".into(),
            ));
        };
        let source = reloader.source.clone();
        let mut applied = reloader.applied.lock().await;
        let rejected = |e: &dyn std::fmt::Display| {
            RouterError::FailedPrecondition(format!(
                "the new configuration was rejected and the running one keeps serving: {e}"
            ))
        };
        // Reading and validating touch the file system (keys file, models
        // directories): off the runtime's worker threads.
        let next = tokio::task::spawn_blocking(move || {
            let config = source()?;
            let catalogue = crate::pool::catalogue::build(&config.local);
            Ok::<_, ConfigError>((config, catalogue))
        })
        .await
        .map_err(|e| rejected(&e))?;
        let (next, catalogue) = next.map_err(|e| rejected(&e))?;
        let catalogue = catalogue.map_err(|e| rejected(&e))?;
        let keys = self
            .access()
            .prepare_keys(&next.access)
            .map_err(|e| rejected(&e))?;
        // Endpoints are built before anything changes: one that cannot be
        // built refuses the whole reload.
        let parts = self.backend_parts(&next, &reloader.local_client);
        let running = self.routes();
        let (endpoints, endpoint_change) =
            parts.endpoints(Some(&running)).map_err(|e| rejected(&e))?;
        let models = self.pool().apply_catalogue(catalogue, &next.local.preload);
        let table = parts.assemble(
            Some(Running {
                table: &running,
                kept_models: &models.unchanged,
            }),
            endpoints,
        );
        self.stats()
            .add_endpoints(table.endpoints().map(|e| e.config.name.as_str()));
        self.swap_routes(table);
        let keys_changed = self.access().apply_keys(keys);
        let report = ReloadReport {
            models,
            endpoints: endpoint_change,
            keys_changed,
            restart_required: restart_required(&applied, &next),
        };
        *applied = next.into_inner();
        tracing::info!(
            models_added = report.models.added.len(),
            models_removed = report.models.removed.len(),
            models_replaced = report.models.replaced.len(),
            endpoints_added = report.endpoints.added.len(),
            endpoints_removed = report.endpoints.removed.len(),
            endpoints_replaced = report.endpoints.replaced.len(),
            keys_changed,
            restart_required = ?report.restart_required,
            "configuration reloaded"
        );
        Ok(report)
    }
}
