//! Model id → route. A route names the backend that serves the id, the
//! model name to send it, and (OpenRouter only) the caller's fallbacks that
//! OpenRouter tries by itself. Local models are matched by their exact id,
//! remote endpoints by the prefix before the first '/'.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backend::{Backend, Listing, RemoteEndpoint};
use crate::domain::{BackendKind, ModelId};
use crate::error::RouterError;
use crate::executor::RouteLimiter;

/// Ids listed in a NOT_FOUND message before "and N more".
const MAX_LISTED_IDS: usize = 20;

/// A resolved model id.
#[derive(Clone)]
pub struct Route {
    /// The id as requested.
    pub model_id: ModelId,
    /// Who serves it.
    pub backend: Arc<dyn Backend>,
    /// OpenRouter only: upstream model names OpenRouter itself falls back to
    /// (its `models` array), taken from the caller's fallback list.
    pub provider_fallbacks: Vec<String>,
}

impl Route {
    /// The model name sent upstream.
    pub fn upstream_model(&self) -> &str {
        self.backend.upstream_model(&self.model_id)
    }

    /// Whether `other` goes to the same OpenRouter endpoint, which can then
    /// try it itself within one request.
    pub fn shares_openrouter_with(&self, other: &Route) -> bool {
        self.backend.kind() == BackendKind::OpenRouter && Arc::ptr_eq(&self.backend, &other.backend)
    }
}

/// The routing table. Immutable: a config reload builds a new one and
/// swaps it in whole.
pub struct RouteTable {
    /// Local models by id.
    exact: BTreeMap<String, Arc<dyn Backend>>,
    /// Remote endpoints by name (the id prefix).
    prefixed: BTreeMap<String, Arc<dyn Backend>>,
    /// The same endpoints as their concrete type, for per-endpoint stats.
    endpoints: Vec<Arc<RemoteEndpoint>>,
    /// Variable to set when OpenRouter ids are asked for while it is off.
    openrouter_key_env: Option<String>,
}

impl RouteTable {
    /// Builds the table from the local models and the remote endpoints.
    pub fn new(
        local: Vec<Arc<dyn Backend>>,
        endpoints: Vec<Arc<RemoteEndpoint>>,
        openrouter_key_env: Option<String>,
    ) -> RouteTable {
        let exact = local
            .into_iter()
            .map(|b| (b.limiter().name().to_string(), b))
            .collect();
        let prefixed = endpoints
            .iter()
            .map(|e| (e.config.name.clone(), e.clone() as Arc<dyn Backend>))
            .collect();
        RouteTable {
            exact,
            prefixed,
            endpoints,
            openrouter_key_env,
        }
    }

    /// Resolves an id; unknown ones are NOT_FOUND listing what is known.
    pub fn resolve(&self, model_id: &ModelId) -> Result<Route, RouterError> {
        let route = |backend: &Arc<dyn Backend>| Route {
            model_id: model_id.clone(),
            backend: backend.clone(),
            provider_fallbacks: Vec::new(),
        };
        if let Some(backend) = self.exact.get(model_id.as_str()) {
            return Ok(route(backend));
        }
        if let Some((prefix, rest)) = model_id.split_prefix() {
            if let Some(backend) = self.prefixed.get(prefix) {
                if backend.serves(rest) {
                    return Ok(route(backend));
                }
            } else if prefix == "openrouter"
                && let Some(var) = &self.openrouter_key_env
            {
                return Err(RouterError::FailedPrecondition(format!(
                    "model '{model_id}' needs OpenRouter, which is not enabled: set the {var} environment variable (or [openrouter] enabled = true) and restart"
                )));
            }
        }
        Err(RouterError::ModelNotFound {
            model: model_id.to_string(),
            known: self.known_ids_for_message(),
        })
    }

    /// Whether `id` can serve without starting anything. Unknown ids count
    /// as ready: they fail at once.
    pub fn is_ready(&self, id: &ModelId) -> bool {
        // Only exact (local) routes can be cold: no NOT_FOUND message is
        // built just to say "ready".
        self.exact.get(id.as_str()).is_none_or(|b| b.is_ready())
    }

    /// What every backend lists, sorted by id.
    pub fn listings(&self) -> Vec<Listing> {
        let mut all: Vec<Listing> = self
            .exact
            .values()
            .chain(self.prefixed.values())
            .flat_map(|b| b.listings())
            .collect();
        all.sort_by(|a, b| a.status.id.cmp(&b.status.id));
        all
    }

    fn known_ids_for_message(&self) -> String {
        let ids: Vec<String> = self.listings().into_iter().map(|l| l.status.id).collect();
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
        self.exact
            .values()
            .chain(self.prefixed.values())
            .map(|b| b.limiter().clone())
            .collect()
    }

    /// The backend of a local model id.
    pub fn local(&self, id: &str) -> Option<&Arc<dyn Backend>> {
        self.exact.get(id)
    }

    /// The remote endpoints.
    pub fn endpoints(&self) -> impl Iterator<Item = &Arc<RemoteEndpoint>> {
        self.endpoints.iter()
    }
}
