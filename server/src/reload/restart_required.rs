//! Which changed settings a reload cannot apply. Computed from the
//! serialised configs rather than a hand-kept list of fields, so a setting
//! added later is reported (not silently ignored) until someone makes it
//! live. Only paths are reported, never values: a value may be a secret's
//! name or a file path an operator does not want echoed.

use serde_json::Value;

use crate::config::{Config, LlamaSettings};

/// Paths a reload applies: the local catalogue (directories, declared
/// models, their default llama-server settings, preloads), the remote
/// endpoints (OpenRouter included) and the keys.
const LIVE: &[&str] = &[
    "local.models_dirs",
    "local.models",
    "local.preload",
    "endpoints",
    "openrouter",
    "access.keys",
    "access.keys_file",
];

/// Dotted paths (two levels at most) whose values differ between `running`
/// and `next` and which only take effect at start, sorted.
pub fn restart_required(running: &Config, next: &Config) -> Vec<String> {
    let (Ok(a), Ok(b)) = (serde_json::to_value(running), serde_json::to_value(next)) else {
        // Both are plain data; serialising cannot fail. Claim everything
        // rather than nothing if it ever does.
        return vec!["<all settings>".to_string()];
    };
    let defaults = llama_setting_names();
    let mut changed = Vec::new();
    diff(&a, &b, "", 0, &mut changed);
    changed.retain(|path| {
        !LIVE.iter().any(|live| covers(live, path))
            && !defaults
                .iter()
                .any(|name| covers(&format!("local.{name}"), path))
    });
    changed.sort();
    changed
}

/// The llama-server settings flattened into `[local]` as the defaults of
/// discovered models (applied through the catalogue).
fn llama_setting_names() -> Vec<String> {
    match serde_json::to_value(LlamaSettings::default()) {
        Ok(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

fn covers(prefix: &str, path: &str) -> bool {
    path == prefix || path.starts_with(&format!("{prefix}."))
}

fn diff(a: &Value, b: &Value, path: &str, depth: usize, out: &mut Vec<String>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if depth < 2 => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let null = Value::Null;
                diff(
                    x.get(key).unwrap_or(&null),
                    y.get(key).unwrap_or(&null),
                    &child,
                    depth + 1,
                    out,
                );
            }
        }
        _ => out.push(path.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_settings_are_not_reported() {
        let running = Config::default();
        let mut next = Config::default();
        next.local.models_dirs.push("/elsewhere".into());
        next.local.preload.push("tiny".into());
        next.local.defaults.ctx_size += 1;
        assert_eq!(restart_required(&running, &next), Vec::<String>::new());
    }

    #[test]
    fn start_only_settings_are_named_by_path() {
        let running = Config::default();
        let mut next = Config {
            listen: "127.0.0.1:1".parse().unwrap(),
            ..Config::default()
        };
        next.local.max_loaded_models += 1;
        next.executor.max_queue += 1;
        assert_eq!(
            restart_required(&running, &next),
            vec!["executor.max_queue", "listen", "local.max_loaded_models"]
        );
    }
}
