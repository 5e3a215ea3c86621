//! Why a configuration cannot be used. Each message names the file, key or
//! flag at fault, so the person starting the router can fix it.

use std::path::PathBuf;

/// A configuration that cannot be served.
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
        /// The file (`<inline>` for TOML given as text).
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl ConfigError {
    /// Maps a layering error to the layer it came from: the file when the
    /// bad value was read from one, otherwise the flags or environment.
    pub(super) fn from_layers(error: figment::Error) -> ConfigError {
        let message = describe(&error);
        let file = error
            .metadata
            .as_ref()
            .and_then(|m| m.source.as_ref())
            .and_then(|s| s.file_path());
        match (file, &error.metadata) {
            (Some(path), _) => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            (None, Some(metadata)) => {
                ConfigError::Invalid(format!("{message}, from {}", metadata.name))
            }
            (None, None) => ConfigError::Invalid(message),
        }
    }
}

/// The error in words, with the key at fault as a dotted path.
fn describe(error: &figment::Error) -> String {
    use figment::error::Kind;
    let unknown = match &error.kind {
        Kind::UnknownField(field, expected) => Some((field.as_str(), expected.join(", "))),
        // Beside a flattened table (`[local]`'s llama-server keys) serde
        // reports an unknown key as a bare message without the list.
        Kind::Message(m) => m
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.strip_suffix('`'))
            .map(|field| (field, String::new())),
        _ => None,
    };
    let mut path = error.path.clone();
    match unknown {
        Some((field, expected)) => {
            if path.last().map(String::as_str) != Some(field) {
                path.push(field.to_string());
            }
            let key = path.join(".");
            if expected.is_empty() {
                format!("unknown key `{key}`")
            } else {
                format!("unknown key `{key}`; expected one of: {expected}")
            }
        }
        None if path.is_empty() => error.kind.to_string(),
        None => format!("{} (at `{}`)", error.kind, path.join(".")),
    }
}
