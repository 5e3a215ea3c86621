//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use ai_router_client::{DEFAULT_ADDR, GenerateRequestBuilder};
use clap::{Args, Parser, Subcommand};

/// Talk to an ai-router: generate text, run batches, inspect stats and models.
#[derive(Debug, Parser)]
#[command(name = "ai-router-cli", version, about)]
pub struct Cli {
    /// Router address: http://host:port, https://host:port, host:port, or
    /// dns:///name:port to balance over every router the name resolves to.
    #[arg(long, global = true, env = "AI_ROUTER_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: String,

    /// API key, sent as `authorization: Bearer <key>`.
    #[arg(long, global = true, env = "AI_ROUTER_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// CA certificate (PEM) to trust for an https:// router, besides the system roots.
    #[arg(long, global = true, env = "AI_ROUTER_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Client certificate (PEM) for a router that requires mTLS.
    #[arg(
        long,
        global = true,
        env = "AI_ROUTER_CLIENT_CERT",
        requires = "client_key"
    )]
    pub client_cert: Option<PathBuf>,

    /// Client private key (PEM) for --client-cert.
    #[arg(
        long,
        global = true,
        env = "AI_ROUTER_CLIENT_KEY",
        requires = "client_cert"
    )]
    pub client_key: Option<PathBuf>,

    /// Deadline for each call, e.g. "30s", "2m", "500ms". The router aborts
    /// the upstream work when it passes. For a batch it covers the whole batch.
    #[arg(long, global = true, value_parser = parse_timeout)]
    pub timeout: Option<Duration>,

    /// Don't print the timing summary or the progress bar on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate one completion.
    Generate(GenerateArgs),
    /// Run many prompts (one per line) as one batch; prints one JSON object
    /// per line as each finishes.
    Batch(BatchArgs),
    /// Show the router's statistics.
    Stats(JsonArgs),
    /// List the models the router can serve, or operate the local pool
    /// (`models load|unload|pin|unpin|watch`, the Admin service).
    Models(ModelsArgs),
    /// Usage per API key and model from the router's ledger (admin key).
    Usage(UsageArgs),
    /// Make the router re-read its configuration and rescan its models
    /// directories (as SIGHUP does); prints what changed.
    Reload(JsonArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// `models` arguments: the list by default, or an admin action.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Print JSON instead of a table (one message per line for `watch`).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub action: Option<ModelAction>,
}

/// What to do to a local model.
#[derive(Debug, Subcommand)]
pub enum ModelAction {
    /// Start a local model now and wait until it is ready.
    Load {
        /// Local model id.
        model: String,
        /// Keep it loaded: never evicted until unpinned or unloaded.
        #[arg(long)]
        pin: bool,
    },
    /// Stop a local model after its calls finish (`--force`: fail them now).
    Unload {
        /// Local model id.
        model: String,
        /// Stop at once; calls in flight fail with UNAVAILABLE.
        #[arg(long)]
        force: bool,
    },
    /// Never evict this model (it is not started by this).
    Pin {
        /// Local model id.
        model: String,
    },
    /// Let this model be evicted again.
    Unpin {
        /// Local model id.
        model: String,
    },
    /// Print the pool's state changes as they happen (Ctrl-C to stop).
    Watch,
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a fresh random key once, with the config entry holding its hash.
    New(NewKeyArgs),
}

/// `keys new` arguments.
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    /// Tenant name for the config entry.
    #[arg(long, default_value = "my-team")]
    pub name: String,
}

/// `usage` arguments.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Window, counted back from now: "24h", "7d", "30m".
    #[arg(long, default_value = "24h", value_parser = parse_timeout)]
    pub since: Duration,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `generate` arguments.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Model id, as listed by `models`.
    #[arg(short, long)]
    pub model: String,

    /// The prompt; read from stdin when omitted or "-".
    #[arg(short, long)]
    pub prompt: Option<String>,

    /// Print text deltas as they arrive.
    #[arg(long)]
    pub stream: bool,

    /// Print the whole response as one JSON object (with --stream the deltas
    /// are collected into its "text").
    #[arg(long)]
    pub json: bool,

    /// Your own id for the request, echoed back and attached to the trace.
    #[arg(long)]
    pub client_request_id: Option<String>,

    #[command(flatten)]
    pub params: ParamArgs,
}

/// `batch` arguments.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Model for lines that don't name one.
    #[arg(short, long)]
    pub model: Option<String>,

    /// Input file, one prompt per line (blank lines skipped; lines starting
    /// with "{" are JSON: {"prompt": "...", "model": "..."}). Stdin when
    /// omitted or "-".
    #[arg(short, long)]
    pub file: Option<PathBuf>,

    /// Items in flight at once; 0 uses the router's default.
    #[arg(short, long, default_value_t = 0)]
    pub concurrency: u32,

    #[command(flatten)]
    pub params: ParamArgs,
}

/// Sampling and routing options shared by `generate` and `batch`.
#[derive(Debug, Args)]
pub struct ParamArgs {
    /// Maximum tokens to generate.
    #[arg(long)]
    pub max_tokens: Option<u32>,

    /// Sampling temperature (>= 0).
    #[arg(long, allow_negative_numbers = true)]
    pub temperature: Option<f32>,

    /// Nucleus sampling mass, in (0, 1].
    #[arg(long, allow_negative_numbers = true)]
    pub top_p: Option<f32>,

    /// Stop sequence; repeat for more.
    #[arg(long)]
    pub stop: Vec<String>,

    /// Sampling seed.
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<i64>,

    /// Fallback model, tried in order when the primary fails before output;
    /// repeat for more.
    #[arg(long)]
    pub fallback: Vec<String>,
}

impl ParamArgs {
    /// Applies these options to a request under construction.
    pub fn apply(&self, mut builder: GenerateRequestBuilder) -> GenerateRequestBuilder {
        if let Some(n) = self.max_tokens {
            builder = builder.max_tokens(n);
        }
        if let Some(t) = self.temperature {
            builder = builder.temperature(t);
        }
        if let Some(p) = self.top_p {
            builder = builder.top_p(p);
        }
        if let Some(seed) = self.seed {
            builder = builder.seed(seed);
        }
        builder
            .stops(self.stop.iter().cloned())
            .fallbacks(self.fallback.iter().cloned())
    }
}

/// `stats` / `models` arguments.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Parses "30s", "1m 30s", "250ms". Zero is refused: a zero gRPC deadline
/// fails every call at once, which is never what was meant.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("the timeout must be greater than zero".to_owned());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_timeout("0s").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn parses_generate() {
        let cli = Cli::try_parse_from([
            "ai-router-cli",
            "--addr",
            "127.0.0.1:1",
            "generate",
            "-m",
            "tiny",
            "--prompt",
            "hi",
            "--stop",
            "a",
            "--stop",
            "b",
            "--seed",
            "-1",
            "--timeout",
            "5s",
        ])
        .unwrap();
        assert_eq!(cli.addr, "127.0.0.1:1");
        assert_eq!(cli.timeout, Some(Duration::from_secs(5)));
        let Command::Generate(args) = cli.command else {
            panic!("expected generate");
        };
        assert_eq!(args.params.stop, ["a", "b"]);
        assert_eq!(args.params.seed, Some(-1));
        let req = args
            .params
            .apply(GenerateRequestBuilder::new("tiny"))
            .build();
        assert_eq!(req.params.unwrap().stop, ["a", "b"]);
    }

    #[test]
    fn generate_requires_model() {
        assert!(Cli::try_parse_from(["ai-router-cli", "generate", "-p", "x"]).is_err());
    }
}
