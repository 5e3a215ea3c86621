//! Builds a [`Config`] from its layers, lowest first: `Config::default()`,
//! the TOML file, then the flags and environment variables clap read. Each
//! layer is a figment provider over the same keys, so no setting is copied
//! from one layer to the next by hand. Afterwards every `[[local.models]]`
//! entry takes the `[local]` llama-server settings it does not set itself.

use std::path::{Path, PathBuf};

use figment::providers::Serialized;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

use super::{Cli, Config, ConfigError, Overrides, ValidatedConfig};

/// Builds the validated configuration from the flags (and the file they name).
pub fn load(cli: &Cli) -> Result<ValidatedConfig, ConfigError> {
    let file = cli.config.as_deref().map(TomlLayer::read).transpose()?;
    layered(file, &cli.overrides)?.validate()
}

/// Parses TOML text over the defaults (no flags) and validates it.
pub fn from_toml(text: &str) -> Result<ValidatedConfig, ConfigError> {
    let file = TomlLayer::parse(PathBuf::from("<inline>"), text)?;
    layered(Some(file), &Overrides::default())?.validate()
}

fn layered(file: Option<TomlLayer>, overrides: &Overrides) -> Result<Config, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(file) = file {
        figment = figment.merge(file);
    }
    let figment = figment.merge(FlagsLayer(overrides));
    let mut config: Config = figment.extract().map_err(ConfigError::from_layers)?;
    inherit_model_settings(&figment, &mut config)?;
    Ok(config)
}

/// Re-reads each declared model over the final `[local]` settings, so a key
/// the entry leaves out comes from `[local]` (whichever layer set it), not
/// from the built-in default.
fn inherit_model_settings(figment: &Figment, config: &mut Config) -> Result<(), ConfigError> {
    if config.local.models.is_empty() {
        return Ok(());
    }
    let declared: Vec<Dict> = figment
        .extract_inner("local.models")
        .map_err(ConfigError::from_layers)?;
    let defaults = config.local.defaults.clone();
    for (model, keys) in config.local.models.iter_mut().zip(declared) {
        *model = Figment::from(Serialized::defaults(&defaults))
            .merge(Serialized::defaults(keys))
            .extract()
            .map_err(ConfigError::from_layers)?;
    }
    Ok(())
}

/// The TOML file, parsed up front so a syntax error keeps toml's own
/// message with its line and column.
struct TomlLayer {
    path: PathBuf,
    table: Dict,
}

impl TomlLayer {
    fn read(path: &Path) -> Result<TomlLayer, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        TomlLayer::parse(path.to_path_buf(), &text)
    }

    fn parse(path: PathBuf, text: &str) -> Result<TomlLayer, ConfigError> {
        match toml::from_str(text) {
            Ok(table) => Ok(TomlLayer { path, table }),
            Err(e) => Err(ConfigError::Parse {
                path,
                message: e.to_string(),
            }),
        }
    }
}

impl Provider for TomlLayer {
    fn metadata(&self) -> Metadata {
        Metadata::from("TOML file", Source::File(self.path.clone()))
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Ok(Profile::Default.collect(self.table.clone()))
    }
}

/// The flags and environment variables that were given. A flag left out
/// serialises as empty (None, or an empty list) and is dropped here, so it
/// never hides the file's value.
struct FlagsLayer<'a>(&'a Overrides);

impl Provider for FlagsLayer<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named("command-line flags or environment variables")
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        let mut value = Value::serialize(self.0)?;
        prune(&mut value);
        let given = value.into_dict().unwrap_or_default();
        Ok(Profile::Default.collect(given))
    }
}

/// Removes empty values, lists and tables; true when nothing is left.
fn prune(value: &mut Value) -> bool {
    match value {
        Value::Dict(_, dict) => {
            dict.retain(|_, v| !prune(v));
            dict.is_empty()
        }
        Value::Array(_, items) => items.is_empty(),
        Value::Empty(..) => true,
        _ => false,
    }
}
