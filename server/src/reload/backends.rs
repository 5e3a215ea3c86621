//! The backends a configuration asks for, built at start and again on every
//! reload. A reload passes the running route table: a local model whose
//! entry the pool kept, and an endpoint whose settings did not change, keep
//! their backend (its admission queue, connections, host health and
//! breakers) instead of getting a fresh one.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backend::{Backend, EndpointError, LocalModel, RemoteEndpoint};
use crate::config::{Config, EndpointKind};
use crate::lifecycle::Lifecycle;
use crate::metrics::UpstreamMetrics;
use crate::pool::Pool;
use crate::routing::RouteTable;
use crate::upstream::UpstreamClient;

/// What the route table is built from.
pub struct BackendParts<'a> {
    /// The validated configuration.
    pub config: &'a Config,
    /// The pool, already holding the catalogue to route to.
    pub pool: &'a Pool,
    /// The one loopback client every child is called with.
    pub local_client: &'a UpstreamClient,
    /// Upstream counters every endpoint reports to.
    pub counters: &'a UpstreamMetrics,
    /// Where endpoint discovery tasks run.
    pub life: &'a Lifecycle,
}

/// The running table and the local models the pool kept as they were: the
/// backends that may be carried over.
#[derive(Clone, Copy)]
pub struct Running<'a> {
    /// The table serving now.
    pub table: &'a RouteTable,
    /// Local ids whose pool entry was kept (same file and settings).
    pub kept_models: &'a [String],
}

/// Which endpoints a rebuild created, dropped or rebuilt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointChange {
    /// New names.
    pub added: Vec<String>,
    /// Names no longer configured.
    pub removed: Vec<String>,
    /// Names whose settings changed.
    pub replaced: Vec<String>,
}

impl BackendParts<'_> {
    /// The route table at start.
    pub fn first_route_table(&self) -> Result<RouteTable, EndpointError> {
        let (endpoints, _) = self.endpoints(None)?;
        Ok(self.assemble(None, endpoints))
    }

    /// The table over the pool's catalogue and `endpoints`, reusing the
    /// local backends of `running` where the pool kept the entry.
    pub fn assemble(
        &self,
        running: Option<Running<'_>>,
        endpoints: Vec<Arc<RemoteEndpoint>>,
    ) -> RouteTable {
        let openrouter_off = !self
            .config
            .endpoints
            .iter()
            .any(|e| e.kind == EndpointKind::OpenRouter);
        RouteTable::new(
            self.local_backends(running),
            endpoints,
            openrouter_off.then(|| crate::config::OPENROUTER_KEY_ENV.to_string()),
        )
    }

    fn local_backends(&self, running: Option<Running<'_>>) -> Vec<Arc<dyn Backend>> {
        let max_queue = self.config.executor.max_queue;
        self.pool
            .entries()
            .values()
            .map(|entry| {
                let kept = running
                    .filter(|r| r.kept_models.contains(&entry.spec.id))
                    .and_then(|r| r.table.local(&entry.spec.id));
                match kept {
                    Some(backend) => backend.clone(),
                    None => Arc::new(LocalModel::new(
                        entry.clone(),
                        self.pool.clone(),
                        self.local_client.clone(),
                        &self.config.local,
                        max_queue,
                    )) as Arc<dyn Backend>,
                }
            })
            .collect()
    }

    /// The configured endpoints, reusing those of `running` whose settings
    /// did not change. Fails before anything is swapped.
    pub fn endpoints(
        &self,
        running: Option<&RouteTable>,
    ) -> Result<(Vec<Arc<RemoteEndpoint>>, EndpointChange), EndpointError> {
        let max_queue = self.config.executor.max_queue;
        let before: BTreeMap<&str, &Arc<RemoteEndpoint>> = running
            .into_iter()
            .flat_map(|r| r.endpoints())
            .map(|e| (e.config.name.as_str(), e))
            .collect();
        let mut change = EndpointChange::default();
        let mut built = Vec::with_capacity(self.config.endpoints.len());
        for config in &self.config.endpoints {
            let endpoint = match before.get(config.name.as_str()) {
                Some(kept) if kept.config == *config => (*kept).clone(),
                previous => {
                    if previous.is_some() {
                        change.replaced.push(config.name.clone());
                    } else if running.is_some() {
                        change.added.push(config.name.clone());
                    }
                    Arc::new(RemoteEndpoint::new(
                        config.clone(),
                        self.counters.clone(),
                        max_queue,
                        self.life,
                    )?)
                }
            };
            built.push(endpoint);
        }
        change.removed = before
            .keys()
            .filter(|name| !self.config.endpoints.iter().any(|e| e.name == **name))
            .map(|name| name.to_string())
            .collect();
        Ok((built, change))
    }
}
