//! `emulator`: the testkit's OpenAI-compatible upstream as its own process,
//! so a benchmark can keep the upstream's CPU apart from the router's and
//! the load generator's.
//!
//! Prints `http://HOST:PORT` on stdout once the listener is bound (the
//! readiness signal: connections are queued from then on) and serves until
//! SIGTERM or SIGINT. Per-request directives (`m@tokens=32@gap=1ms`) work as
//! in the library; the flags set the defaults. Arguments are parsed with std
//! only so the testkit gains no dependencies.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use ai_router_testkit::emulator::{Emulator, EmulatorConfig, parse_duration};

const USAGE: &str = "\
usage: emulator [--host ADDR] [--port N] [--tokens N] [--gap DUR] [--delay DUR]
                [--threads N] [--slots N] [--models ID,ID] [--behaviour DIRECTIVES]

Serves an OpenAI-compatible chat-completions emulator and prints its base
URL (http://HOST:PORT) on stdout when it is bound. Answers are
deterministic: token i is `tok{i}`.

  --host ADDR   IP address to bind (default 127.0.0.1)
  --port N      port to bind (default 0: a free one)
  --tokens N    tokens per answer unless max_tokens or `tokens=` says less (default 8)
  --gap DUR     time per token, e.g. 1ms (default 0)
  --delay DUR   wait before answering, e.g. 5ms (default 0)
  --threads N   runtime worker threads; 0 = one current-thread runtime (default 0)
  --slots N     at most N generating at once (default unlimited)
  --models IDS  ids listed by GET /v1/models (default emulator/model)
  --behaviour DIRECTIVES
                directives for every chat request, e.g. status=500 or
                delay=2s (as in the x-emulator-behaviour header)";

/// Parsed command line.
#[derive(Debug)]
struct Args {
    host: IpAddr,
    port: u16,
    threads: usize,
    config: EmulatorConfig,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let parsed = match parse_args(&args) {
        Ok(parsed) => parsed,
        Err(msg) => {
            eprintln!("emulator: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = if parsed.threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(parsed.threads)
            .enable_all()
            .build()
    };
    let result = runtime
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(serve(parsed)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("emulator: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Binds, announces the address, and serves until a termination signal.
async fn serve(args: Args) -> anyhow::Result<()> {
    let addr = SocketAddr::new(args.host, args.port);
    let emulator = Emulator::start_on(addr, args.config).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", emulator.base_url())?;
        out.flush()?;
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r?,
    }
    emulator.shutdown().await;
    Ok(())
}

/// Turns `--flag value` pairs into [`Args`].
fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
        threads: 0,
        config: EmulatorConfig::default(),
    };
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let value = iter.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--host" => {
                parsed.host = value
                    .parse()
                    .map_err(|_| format!("--host expects an IP address, got {value:?}"))?;
            }
            "--port" => parsed.port = number(flag, value)?,
            "--behaviour" | "--behavior" => parsed.config.behaviour = value.clone(),
            "--threads" => parsed.threads = number(flag, value)?,
            "--tokens" => parsed.config.default_tokens = number(flag, value)?,
            "--gap" => parsed.config.token_gap = duration(flag, value)?,
            "--delay" => parsed.config.delay = duration(flag, value)?,
            "--slots" => {
                let slots: usize = number(flag, value)?;
                if slots == 0 {
                    return Err("--slots must be at least 1".into());
                }
                parsed.config.slots = Some(slots);
            }
            "--models" => {
                parsed.config.models = value
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(parsed)
}

/// Parses a numeric flag value, naming the flag in the error.
fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} expects a non-negative integer, got {value:?}"))
}

/// Parses a duration flag value (`250us`, `5ms`, `1.5s`).
fn duration(flag: &str, value: &str) -> Result<Duration, String> {
    parse_duration(value).map_err(|e| format!("{flag}: {e}"))
}
