//! Merges defaults, the TOML file and the flags (flags win) and validates the
//! result once, so the rest of the router can trust its `Config`.

use std::path::{Path, PathBuf};

use super::file::{FileConfig, FileEndpoint, FileLocal};
use super::{Cli, Config, EndpointConfig, EndpointKind, LlamaSettings, LocalModelConfig};

/// Why the configuration cannot be used. Each message names the file, key or
/// flag at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema (unknown keys included).
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message, which names the key and line.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Default OpenRouter API base.
pub const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// Default variable holding the OpenRouter key.
pub const OPENROUTER_KEY_ENV: &str = "OPENROUTER_API_KEY";

/// Builds the validated configuration from the flags (and the file they name).
pub fn load(cli: &Cli) -> Result<Config, ConfigError> {
    let file = match &cli.config {
        Some(path) => read_file(path)?,
        None => FileConfig::default(),
    };
    let mut config = from_file(file)?;
    apply_cli(&mut config, cli);
    validate(&config)?;
    Ok(config)
}

/// Parses TOML text into a validated `Config` (no flags applied).
pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
    let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: PathBuf::from("<inline>"),
        message: e.to_string(),
    })?;
    let config = from_file(file)?;
    validate(&config)?;
    Ok(config)
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn from_file(file: FileConfig) -> Result<Config, ConfigError> {
    let mut c = Config::default();
    if let Some(listen) = file.listen {
        c.listen = listen.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "listen = {listen:?} is not an address like 127.0.0.1:50051"
            ))
        })?;
    }
    if let Some(addr) = file.metrics_listen {
        c.metrics_listen = Some(addr.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "metrics_listen = {addr:?} is not an address like 127.0.0.1:9464"
            ))
        })?);
    }
    set(&mut c.shutdown_grace, file.shutdown_grace);
    set(&mut c.limits.max_tokens, file.limits.max_tokens);
    set(
        &mut c.limits.default_max_tokens,
        file.limits.default_max_tokens,
    );
    set(&mut c.limits.max_batch_items, file.limits.max_batch_items);
    set(
        &mut c.limits.max_message_bytes,
        file.limits.max_message_bytes,
    );
    let e = file.executor;
    set(&mut c.executor.max_in_flight, e.max_in_flight);
    set(&mut c.executor.max_queue, e.max_queue);
    set(&mut c.executor.max_queue_wait, e.max_queue_wait);
    set(&mut c.executor.batch_concurrency, e.batch_concurrency);
    set(
        &mut c.executor.max_batch_concurrency,
        e.max_batch_concurrency,
    );
    apply_local(&mut c, file.local);
    if let Some(or) = openrouter_endpoint(file.openrouter)? {
        c.endpoints.push(or);
    }
    for ep in file.endpoints {
        c.endpoints.push(plain_endpoint(ep)?);
    }
    Ok(c)
}

fn apply_local(c: &mut Config, l: FileLocal) {
    let local = &mut c.local;
    set(&mut local.models_dirs, l.models_dirs);
    set(&mut local.llama_server, l.llama_server.map(Some));
    set(&mut local.defaults.slots, l.slots);
    set(&mut local.defaults.ctx_size, l.ctx_size);
    set(&mut local.defaults.threads, l.threads.map(Some));
    set(&mut local.defaults.gpu_layers, l.gpu_layers.map(Some));
    set(&mut local.defaults.extra_args, l.extra_args);
    set(&mut local.max_loaded_models, l.max_loaded_models);
    set(
        &mut local.memory_budget_bytes,
        l.memory_budget_mb.map(|mb| Some(mb * 1024 * 1024)),
    );
    set(&mut local.idle_ttl, l.idle_ttl.map(non_zero));
    set(&mut local.preload, l.preload);
    set(&mut local.startup_timeout, l.startup_timeout);
    set(&mut local.slot_wait_timeout, l.slot_wait_timeout);
    set(&mut local.health_interval, l.health_interval);
    set(&mut local.stop_grace, l.stop_grace);
    set(&mut local.token_gap_timeout, l.token_gap_timeout);
    set(&mut local.first_token_timeout, l.first_token_timeout);
    set(&mut local.breaker_threshold, l.breaker_threshold);
    set(&mut local.breaker_cooldown, l.breaker_cooldown);
    let defaults = local.defaults.clone();
    local.models = l
        .models
        .into_iter()
        .map(|m| LocalModelConfig {
            id: m.id,
            path: m.path,
            settings: LlamaSettings {
                slots: m.slots.unwrap_or(defaults.slots),
                ctx_size: m.ctx_size.unwrap_or(defaults.ctx_size),
                threads: m.threads.or(defaults.threads),
                gpu_layers: m.gpu_layers.or(defaults.gpu_layers),
                extra_args: m.extra_args.unwrap_or_else(|| defaults.extra_args.clone()),
            },
        })
        .collect();
}

fn openrouter_endpoint(f: FileEndpoint) -> Result<Option<EndpointConfig>, ConfigError> {
    if f.name.is_some() {
        return Err(ConfigError::Invalid(
            "[openrouter] takes no `name`: its models are always `openrouter/<vendor>/<model>`"
                .into(),
        ));
    }
    let key_env = f
        .api_key_env
        .clone()
        .unwrap_or_else(|| OPENROUTER_KEY_ENV.to_string());
    let key_present = std::env::var_os(&key_env).is_some_and(|v| !v.is_empty());
    // Enabled explicitly, or implicitly when its key is present. When it is
    // off, `routing` still knows the prefix and answers FAILED_PRECONDITION
    // naming the variable to set.
    let enabled = f.enabled.unwrap_or(key_present);
    let base = f
        .base_url
        .clone()
        .unwrap_or_else(|| OPENROUTER_BASE_URL.to_string());
    let mut ep = EndpointConfig::new("openrouter", EndpointKind::OpenRouter, &base);
    ep.api_key_env = Some(key_env);
    ep.pool_idle_timeout = std::time::Duration::from_secs(50);
    tune(&mut ep, f);
    Ok(enabled.then_some(ep))
}

fn plain_endpoint(f: FileEndpoint) -> Result<EndpointConfig, ConfigError> {
    let name = f
        .name
        .clone()
        .ok_or_else(|| ConfigError::Invalid("every [[endpoints]] entry needs a `name`".into()))?;
    let base = f
        .base_url
        .clone()
        .ok_or_else(|| ConfigError::Invalid(format!("endpoint '{name}' needs a `base_url`")))?;
    if f.enabled.is_some() {
        return Err(ConfigError::Invalid(format!(
            "endpoint '{name}': `enabled` is only for [openrouter]; remove the entry instead"
        )));
    }
    let mut ep = EndpointConfig::new(&name, EndpointKind::OpenAi, &base);
    ep.api_key_env = f.api_key_env.clone();
    ep.models = f.models.clone();
    tune(&mut ep, f);
    Ok(ep)
}

fn tune(ep: &mut EndpointConfig, f: FileEndpoint) {
    set(&mut ep.max_concurrency, f.max_concurrency);
    set(&mut ep.connect_timeout, f.connect_timeout);
    set(&mut ep.first_token_timeout, f.first_token_timeout);
    set(&mut ep.token_gap_timeout, f.token_gap_timeout);
    set(&mut ep.pool_idle_timeout, f.pool_idle_timeout);
    set(&mut ep.max_attempts, f.max_attempts);
    set(&mut ep.stream, f.stream);
    set(&mut ep.referer, f.referer.map(Some));
    set(&mut ep.title, f.title.map(Some));
    if !f.models.is_empty() {
        ep.models = f.models;
    }
}

fn apply_cli(c: &mut Config, cli: &Cli) {
    set(&mut c.listen, cli.listen);
    set(&mut c.metrics_listen, cli.metrics_listen.map(Some));
    if !cli.models_dirs.is_empty() {
        c.local.models_dirs = cli.models_dirs.clone();
    }
    set(
        &mut c.local.llama_server,
        cli.llama_server.clone().map(Some),
    );
    set(&mut c.local.max_loaded_models, cli.max_loaded_models);
    set(&mut c.local.idle_ttl, cli.idle_ttl.map(non_zero));
    set(
        &mut c.local.memory_budget_bytes,
        cli.memory_budget_mb.map(|mb| Some(mb * 1024 * 1024)),
    );
    if !cli.preload.is_empty() {
        c.local.preload = cli.preload.clone();
    }
    set(&mut c.local.defaults.slots, cli.slots);
    set(&mut c.local.defaults.ctx_size, cli.ctx_size);
    set(&mut c.executor.max_in_flight, cli.max_in_flight);
    set(&mut c.executor.max_queue, cli.max_queue);
    set(&mut c.limits.max_batch_items, cli.max_batch_items);
    set(&mut c.limits.max_tokens, cli.max_tokens);
    set(&mut c.shutdown_grace, cli.shutdown_grace);
    if let Some(url) = &cli.openrouter_base_url {
        for ep in c
            .endpoints
            .iter_mut()
            .filter(|e| e.kind == EndpointKind::OpenRouter)
        {
            ep.base_url = url.trim_end_matches('/').to_string();
        }
    }
}

/// Checks ranges and consistency; every message names the setting.
pub fn validate(c: &Config) -> Result<(), ConfigError> {
    let bad = |m: String| Err(ConfigError::Invalid(m));
    if c.limits.max_tokens == 0 {
        return bad("limits.max_tokens must be at least 1".into());
    }
    if c.limits.max_batch_items == 0 {
        return bad("limits.max_batch_items must be at least 1".into());
    }
    if c.executor.max_in_flight == 0 || c.executor.batch_concurrency == 0 {
        return bad(
            "executor.max_in_flight and executor.batch_concurrency must be at least 1".into(),
        );
    }
    if c.local.max_loaded_models == 0 {
        return bad("local.max_loaded_models must be at least 1".into());
    }
    if c.local.defaults.slots == 0 || c.local.models.iter().any(|m| m.settings.slots == 0) {
        return bad("local slots (llama-server --parallel) must be at least 1".into());
    }
    let mut names = std::collections::HashSet::new();
    for ep in &c.endpoints {
        if let Err(why) = crate::domain::ModelId::parse(ep.name.as_str()) {
            return bad(format!("endpoint name {:?}: {why}", ep.name));
        }
        if ep.name.contains('/') {
            return bad(format!("endpoint name {:?} must not contain '/'", ep.name));
        }
        if !names.insert(ep.name.as_str()) {
            return bad(format!("endpoint name '{}' is used twice", ep.name));
        }
        if !(ep.base_url.starts_with("http://") || ep.base_url.starts_with("https://")) {
            return bad(format!(
                "endpoint '{}': base_url {:?} must start with http:// or https://",
                ep.name, ep.base_url
            ));
        }
        if ep.max_concurrency == 0 || ep.max_attempts == 0 {
            return bad(format!(
                "endpoint '{}': max_concurrency and max_attempts must be at least 1",
                ep.name
            ));
        }
    }
    for m in &c.local.models {
        if let Err(why) = crate::domain::ModelId::parse(m.id.as_str()) {
            return bad(format!("local model id {:?}: {why}", m.id));
        }
    }
    Ok(())
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

fn non_zero(d: std::time::Duration) -> Option<std::time::Duration> {
    (!d.is_zero()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named() {
        let err = from_toml("[local]\nmax_loaded_modles = 3\n").unwrap_err();
        assert!(err.to_string().contains("max_loaded_modles"), "{err}");
    }

    #[test]
    fn endpoint_table_parses() {
        let c = from_toml(
            "[[endpoints]]\nname = \"lab\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodels = [\"m\"]\nmax_concurrency = 3\nfirst_token_timeout = \"2s\"\n",
        )
        .unwrap();
        let ep = &c.endpoints[0];
        assert_eq!(ep.name, "lab");
        assert_eq!(ep.max_concurrency, 3);
        assert_eq!(ep.first_token_timeout, std::time::Duration::from_secs(2));
    }

    #[test]
    fn bad_values_are_rejected_with_the_key() {
        let err = from_toml("[limits]\nmax_tokens = 0\n").unwrap_err();
        assert!(err.to_string().contains("max_tokens"), "{err}");
        let err =
            from_toml("[[endpoints]]\nname = \"a/b\"\nbase_url = \"http://x\"\n").unwrap_err();
        assert!(err.to_string().contains("a/b"), "{err}");
    }
}
