//! `ai-router-cli`: talk to an ai-router from the shell.
//!
//! Everything a terminal needs lives here and not in the `ai_router_client`
//! library: argument parsing (clap), tables and the timing summary
//! (`format`), JSON lines (`output`, serialising the proto messages as
//! canonical proto3 JSON), the progress bar (indicatif), and exit statuses.
//! The library stays a plain gRPC client that programs can embed.
//!
//! Exit status: 0 on success; 1 when a batch finished but some items failed;
//! 2 when the router could not be reached, refused the call, or the input
//! was unusable (the same code clap uses for bad arguments), so scripts can
//! tell "some prompts failed" from "nothing ran".

mod admin;
mod args;
mod batch;
mod failure;
mod format;
mod generate;
mod info;
mod input;
mod keys;
mod names;
mod output;
mod usage;

use std::process::ExitCode;

use std::path::PathBuf;

use ai_router_client::{Client, ClientError, TlsOptions};
use clap::Parser;

use crate::args::{Cli, Command};
use crate::failure::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Built by hand rather than with #[tokio::main] so a runtime failure is
    // reported like any other error instead of panicking.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return CliError::Io(err).report(),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => err.report(),
    }
}

/// Dispatches to the subcommand. Input is read before connecting so a bad
/// file fails fast without touching the network.
async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let conn = Connection {
        addr: cli.addr,
        timeout: cli.timeout,
        api_key: cli.api_key,
        ca_file: cli.ca_file,
        client_cert: cli.client_cert,
        client_key: cli.client_key,
    };
    match cli.command {
        Command::Generate(args) => {
            let req = generate::build_request(&args)?;
            generate::run(&conn.connect().await?, req, &args, cli.quiet).await
        }
        Command::Batch(args) => {
            let items = batch::build_items(&args)?;
            batch::run(&conn.connect().await?, items, &args, cli.quiet).await
        }
        Command::Stats(args) => info::stats(&conn.connect().await?, args.json).await,
        Command::Models(args) => match args.action {
            None => info::models(&conn.connect().await?, args.json).await,
            Some(action) => admin::run(&conn.connect().await?, action, args.json).await,
        },
        Command::Usage(args) => usage::run(&conn.connect().await?, &args).await,
        Command::Reload(args) => admin::reload(&conn.connect().await?, args.json).await,
        Command::Keys(args::KeysCommand::New(args)) => keys::new(&args),
    }
}

/// Where and how to connect, from the global flags.
struct Connection {
    addr: String,
    timeout: Option<std::time::Duration>,
    api_key: Option<String>,
    ca_file: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
}

impl Connection {
    async fn connect(&self) -> Result<Client, ClientError> {
        let mut client = if self.addr.starts_with("dns:") {
            // `dns:///name:port`: every router the name resolves to, balanced.
            Client::connect_balanced(&self.addr).await?
        } else {
            let tls = TlsOptions::from_files(
                self.ca_file.as_deref(),
                self.client_cert.as_deref(),
                self.client_key.as_deref(),
            )?;
            Client::connect_with_tls(self.addr.clone(), tls).await?
        };
        if let Some(key) = &self.api_key {
            client = client.with_api_key(key)?;
        }
        Ok(match self.timeout {
            Some(timeout) => client.with_timeout(timeout),
            None => client,
        })
    }
}
