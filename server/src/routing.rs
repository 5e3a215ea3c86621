//! Model id → route. A route says which backend serves the id (a local pool
//! entry or a remote endpoint and the upstream model name) and which limiter
//! admits its requests.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backend::RemoteEndpoint;
use crate::domain::ModelId;
use crate::error::RouterError;
use crate::executor::RouteLimiter;
use crate::pool::{ModelEntry, Pool};

/// Ids listed in a NOT_FOUND message before "and N more".
const MAX_LISTED_IDS: usize = 20;

/// Where a route's requests go.
#[derive(Clone)]
pub enum Backend {
    /// A local llama-server child from the pool.
    Local(Arc<ModelEntry>),
    /// A remote endpoint, with the model name to send it.
    Remote {
        /// The endpoint.
        endpoint: Arc<RemoteEndpoint>,
        /// Upstream model name (the id without the endpoint prefix).
        upstream_model: String,
    },
}

/// A resolved model id.
#[derive(Clone)]
pub struct Route {
    /// The id as requested.
    pub model_id: ModelId,
    /// Who serves it.
    pub backend: Backend,
    /// Admission limiter shared by all requests to the same local model or endpoint.
    pub limiter: Arc<RouteLimiter>,
    /// OpenRouter only: upstream model names OpenRouter itself falls back to
    /// (its `models` array), taken from the caller's fallback list.
    pub provider_fallbacks: Vec<String>,
}

/// The routing table, fixed at start.
pub struct RouteTable {
    pool: Pool,
    local_limiters: BTreeMap<String, Arc<RouteLimiter>>,
    endpoints: BTreeMap<String, Arc<RemoteEndpoint>>,
    /// Variable to set when OpenRouter ids are asked for while it is off.
    openrouter_key_env: Option<String>,
}

impl RouteTable {
    /// Builds the table.
    pub fn new(
        pool: Pool,
        local_limiters: BTreeMap<String, Arc<RouteLimiter>>,
        endpoints: Vec<Arc<RemoteEndpoint>>,
        openrouter_key_env: Option<String>,
    ) -> RouteTable {
        RouteTable {
            pool,
            local_limiters,
            endpoints: endpoints
                .into_iter()
                .map(|e| (e.config.name.clone(), e))
                .collect(),
            openrouter_key_env,
        }
    }

    /// Resolves an id; unknown ones are NOT_FOUND listing what is known.
    pub fn resolve(&self, model_id: &ModelId) -> Result<Route, RouterError> {
        let id = model_id.as_str();
        if let (Some(entry), Some(limiter)) = (self.pool.model(id), self.local_limiters.get(id)) {
            return Ok(Route {
                model_id: model_id.clone(),
                backend: Backend::Local(entry),
                limiter: limiter.clone(),
                provider_fallbacks: Vec::new(),
            });
        }
        if let Some((prefix, rest)) = model_id.split_prefix() {
            if let Some(endpoint) = self.endpoints.get(prefix) {
                let served = endpoint.config.models.is_empty()
                    || endpoint.config.models.iter().any(|m| m == rest);
                if served {
                    return Ok(Route {
                        model_id: model_id.clone(),
                        backend: Backend::Remote {
                            endpoint: endpoint.clone(),
                            upstream_model: rest.to_string(),
                        },
                        limiter: endpoint.limiter.clone(),
                        provider_fallbacks: Vec::new(),
                    });
                }
            } else if prefix == "openrouter"
                && let Some(var) = &self.openrouter_key_env
            {
                return Err(RouterError::FailedPrecondition(format!(
                    "model '{id}' needs OpenRouter, which is not enabled: set the {var} environment variable (or [openrouter] enabled = true) and restart"
                )));
            }
        }
        Err(RouterError::ModelNotFound {
            model: id.to_string(),
            known: self.known_ids_for_message(),
        })
    }

    /// Every id the router can serve: local models and the remote models
    /// listed in config (an endpoint that takes any model shows `name/*`).
    pub fn known_ids(&self) -> Vec<(String, Option<Arc<RemoteEndpoint>>)> {
        let mut ids: Vec<(String, Option<Arc<RemoteEndpoint>>)> =
            self.pool.ids().map(|id| (id.to_string(), None)).collect();
        for endpoint in self.endpoints.values() {
            if endpoint.config.models.is_empty() {
                ids.push((
                    format!("{}/*", endpoint.config.name),
                    Some(endpoint.clone()),
                ));
            }
            for m in &endpoint.config.models {
                ids.push((
                    format!("{}/{m}", endpoint.config.name),
                    Some(endpoint.clone()),
                ));
            }
        }
        ids.sort_by(|a, b| a.0.cmp(&b.0));
        ids
    }

    fn known_ids_for_message(&self) -> String {
        let ids: Vec<String> = self.known_ids().into_iter().map(|(id, _)| id).collect();
        if ids.is_empty() {
            return "none (put *.gguf files in the models directory or configure an endpoint)"
                .into();
        }
        let mut listed = ids
            .iter()
            .take(MAX_LISTED_IDS)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if ids.len() > MAX_LISTED_IDS {
            listed.push_str(&format!(" and {} more", ids.len() - MAX_LISTED_IDS));
        }
        listed
    }

    /// Every route's limiter: local models, then endpoints.
    pub fn limiters(&self) -> Vec<Arc<RouteLimiter>> {
        self.local_limiters
            .values()
            .cloned()
            .chain(self.endpoints.values().map(|e| e.limiter.clone()))
            .collect()
    }

    /// The endpoints.
    pub fn endpoints(&self) -> impl Iterator<Item = &Arc<RemoteEndpoint>> {
        self.endpoints.values()
    }
}
