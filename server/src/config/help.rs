//! `--help` with each setting's default read from `Config::default()`, so
//! the defaults a person reads are the ones the router uses. A flag's key
//! is its id, inside the table named by its group (`local`, `executor`,
//! ...); a flag whose default is "unset" says in its own help what that means.

use clap::{Arg, CommandFactory, FromArgMatches};
use figment::Figment;
use figment::providers::Serialized;
use figment::value::Value;

use super::{Cli, Config};

impl Cli {
    /// The clap command with every setting's default shown in its help.
    pub fn command_with_defaults() -> clap::Command {
        let defaults = Figment::from(Serialized::defaults(Config::default()));
        let command = Cli::command();
        let shown: Vec<(String, String)> = command
            .get_arguments()
            .filter_map(|arg| {
                let key = config_key(&command, &defaults, arg)?;
                let value = defaults.find_value(&key).ok().as_ref().and_then(render)?;
                Some((arg.get_id().to_string(), value))
            })
            .collect();
        command.mut_args(
            |arg| match shown.iter().find(|(id, _)| arg.get_id() == id) {
                Some((_, value)) => {
                    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                    arg.help(format!("{help} [default: {value}]"))
                }
                None => arg,
            },
        )
    }

    /// Parses the process's arguments and environment like `Parser::parse`
    /// (printing help or an error and exiting when asked to).
    pub fn parse_args() -> Cli {
        let matches = Cli::command_with_defaults().get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// Parses the given arguments (and the process's environment).
    pub fn try_parse_args_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command_with_defaults().try_get_matches_from(args)?;
        Cli::from_arg_matches(&matches)
    }
}

/// The config key a flag sets: `table.id` when the flag belongs to a group
/// named after a table, `id` when it is a top-level key; None for flags
/// that are not settings (`--config`, `--log`).
pub(super) fn config_key(command: &clap::Command, defaults: &Figment, arg: &Arg) -> Option<String> {
    let id = arg.get_id().as_str();
    let table = command.get_groups().find(|group| {
        group.get_args().any(|a| a == arg.get_id())
            && defaults
                .find_value(group.get_id().as_str())
                .is_ok_and(|v| v.as_dict().is_some())
    });
    let key = match table {
        Some(group) => format!("{}.{id}", group.get_id()),
        None => id.to_string(),
    };
    defaults.contains(&key).then_some(key)
}

/// A default as a person would type it; None for an unset value.
fn render(value: &Value) -> Option<String> {
    match value {
        Value::String(_, s) => Some(s.clone()),
        Value::Char(_, c) => Some(c.to_string()),
        Value::Bool(_, b) => Some(b.to_string()),
        Value::Num(..) => value
            .to_u128()
            .map(|n| n.to_string())
            .or_else(|| value.to_i128().map(|n| n.to_string()))
            .or_else(|| value.to_f64().map(|n| n.to_string())),
        Value::Array(_, items) if !items.is_empty() => {
            let items: Option<Vec<String>> = items.iter().map(render).collect();
            items.map(|items| items.join(","))
        }
        Value::Array(..) | Value::Dict(..) | Value::Empty(..) => None,
    }
}
