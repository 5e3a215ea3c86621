//! The one gate between a [`Config`] and serving: range and consistency
//! checks, plus the settings derived from others (`[openrouter]` becomes an
//! endpoint when enabled, base URLs lose a trailing `/`). Its output,
//! [`ValidatedConfig`], is what `build_engine` and `run` take.

use std::collections::HashSet;
use std::ops::Deref;

use super::endpoint::OPENROUTER_NAME;
use super::{Config, ConfigError, EndpointKind};

/// A [`Config`] that passed [`Config::validate`]. It reads as a `Config`
/// (`Deref`) but cannot be changed: a change goes back through `validate`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedConfig(Config);

impl Deref for ValidatedConfig {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.0
    }
}

impl ValidatedConfig {
    /// The checked config, to hand to the parts that keep it.
    pub fn into_inner(self) -> Config {
        self.0
    }
}

impl Config {
    /// Checks every range and rule, naming the setting at fault, and
    /// resolves the derived settings.
    pub fn validate(mut self) -> Result<ValidatedConfig, ConfigError> {
        self.resolve_openrouter()?;
        for ep in &mut self.endpoints {
            let trimmed = ep.base_url.trim_end_matches('/').len();
            ep.base_url.truncate(trimmed);
        }
        self.check_limits()?;
        self.check_local()?;
        self.check_endpoints()?;
        self.resolve_keys_file()?;
        self.check_access()?;
        Ok(ValidatedConfig(self))
    }

    fn resolve_openrouter(&mut self) -> Result<(), ConfigError> {
        let table = &self.openrouter;
        if table.endpoint.name != OPENROUTER_NAME {
            return Err(ConfigError::Invalid(
                "[openrouter] takes no `name`: its models are always `openrouter/<vendor>/<model>`"
                    .into(),
            ));
        }
        // An OpenRouter endpoint already listed (built in code, or by an
        // earlier `validate`) takes the table's place.
        let listed = self
            .endpoints
            .iter()
            .any(|e| e.kind == EndpointKind::OpenRouter);
        if table.is_enabled() && !listed {
            let mut endpoint = table.endpoint.clone();
            endpoint.kind = EndpointKind::OpenRouter;
            endpoint.api_key_env = Some(table.key_env().to_string());
            self.endpoints.insert(0, endpoint);
        }
        Ok(())
    }

    fn check_limits(&self) -> Result<(), ConfigError> {
        if self.limits.max_tokens == 0 {
            return bad("limits.max_tokens must be at least 1");
        }
        if self.limits.max_batch_items == 0 {
            return bad("limits.max_batch_items must be at least 1");
        }
        if self.executor.max_in_flight == 0 || self.executor.batch_concurrency == 0 {
            return bad("executor.max_in_flight and executor.batch_concurrency must be at least 1");
        }
        Ok(())
    }

    fn check_local(&self) -> Result<(), ConfigError> {
        let local = &self.local;
        if local.max_loaded_models == 0 {
            return bad("local.max_loaded_models must be at least 1");
        }
        if local.defaults.slots == 0 || local.models.iter().any(|m| m.settings.slots == 0) {
            return bad("local slots (llama-server --parallel) must be at least 1");
        }
        for m in &local.models {
            if let Err(why) = crate::domain::ModelId::parse(m.id.as_str()) {
                return bad(format!("local model id {:?}: {why}", m.id));
            }
        }
        Ok(())
    }

    fn check_endpoints(&self) -> Result<(), ConfigError> {
        let mut names = HashSet::new();
        for ep in &self.endpoints {
            if ep.name.is_empty() {
                return bad("every [[endpoints]] entry needs a `name`");
            }
            if let Err(why) = crate::domain::ModelId::parse(ep.name.as_str()) {
                return bad(format!("endpoint name {:?}: {why}", ep.name));
            }
            if ep.name.contains('/') {
                return bad(format!("endpoint name {:?} must not contain '/'", ep.name));
            }
            if !names.insert(ep.name.as_str()) {
                return bad(format!("endpoint name '{}' is used twice", ep.name));
            }
            check_hosts(ep)?;
            if ep.max_concurrency == 0 || ep.max_attempts == 0 {
                return bad(format!(
                    "endpoint '{}': max_concurrency and max_attempts must be at least 1",
                    ep.name
                ));
            }
        }
        Ok(())
    }
}

/// Exactly one way to name an endpoint's hosts, each a valid base URL.
fn check_hosts(ep: &super::EndpointConfig) -> Result<(), ConfigError> {
    let name = &ep.name;
    let listed = !ep.urls.is_empty();
    // OpenRouter's table has a default base_url, so only an [[endpoints]]
    // entry can name its hosts twice.
    let own_base = ep.kind == EndpointKind::OpenAi && !ep.base_url.is_empty();
    match (&ep.discovery, listed) {
        (Some(_), true) => {
            return bad(format!(
                "endpoint '{name}': give either `urls` or `discovery`, not both"
            ));
        }
        (Some(_), false) | (None, true) if own_base => {
            return bad(format!(
                "endpoint '{name}': `base_url` is a one-host pool; drop it when `urls` or `discovery` names the hosts"
            ));
        }
        (None, false) if ep.base_url.is_empty() => {
            return bad(format!(
                "endpoint '{name}' needs a `base_url`, `urls` or `discovery`"
            ));
        }
        _ => {}
    }
    if let Some(source) = &ep.discovery
        && !(source.starts_with("dns://") || source.starts_with("file://"))
    {
        return bad(format!(
            "endpoint '{name}': discovery {source:?} must be dns://name:port[/path] or file://path"
        ));
    }
    for url in ep.listed_hosts() {
        if let Err(detail) = super::chat_url(&url) {
            return bad(format!("endpoint '{name}': {detail}"));
        }
    }
    if ep.ejection_failures == 0
        || ep.discovery_interval.is_zero()
        || ep.queue_metrics.is_some_and(|d| d.is_zero())
        || ep.queue_slots.is_some_and(|d| d.is_zero())
        || ep.latency_decay.is_zero()
        || ep.probe_interval.is_zero()
    {
        return bad(format!(
            "endpoint '{name}': ejection_failures, discovery_interval, queue_metrics, queue_slots, latency_decay and probe_interval must be above zero"
        ));
    }
    Ok(())
}

fn bad(message: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid(message.into()))
}
