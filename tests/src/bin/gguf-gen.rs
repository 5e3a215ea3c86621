//! `gguf-gen`: writes a tiny random-weight llama GGUF model.
//!
//! Used by scripts and benchmarks that need a model file on disk without a
//! download. Arguments are parsed with std only so the testkit gains no
//! dependencies.

use std::path::PathBuf;
use std::process::ExitCode;

use ai_router_testkit::gguf::{TinyModelSpec, write_tiny_llama};

const USAGE: &str = "\
usage: gguf-gen --out PATH [--seed N] [--embedding N] [--layers N] [--heads N]
                [--ff N] [--context N] [--name NAME]

Writes a random-weight llama GGUF model (all F32) and prints its path.
Defaults: seed 0, embedding 64, layers 2, heads 4, ff 2*embedding,
context 512, name tiny-llama.";

/// Parsed command line: where to write and what to write.
#[derive(Debug)]
struct Args {
    out: PathBuf,
    spec: TinyModelSpec,
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
            eprintln!("gguf-gen: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match write_tiny_llama(&parsed.out, &parsed.spec) {
        Ok(()) => {
            println!("{}", parsed.out.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("gguf-gen: writing {}: {err}", parsed.out.display());
            ExitCode::FAILURE
        }
    }
}

/// Turns `--flag value` pairs into [`Args`]. `ff` follows `embedding`
/// unless given, so `--embedding 256` alone yields a sensibly shaped model.
fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut out = None;
    let mut ff = None;
    let mut spec = TinyModelSpec::default();
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let value = iter.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--out" => out = Some(PathBuf::from(value)),
            "--name" => spec.name = value.clone(),
            "--seed" => spec.seed = number(flag, value)?,
            "--embedding" => spec.embedding = number(flag, value)?,
            "--layers" => spec.layers = number(flag, value)?,
            "--heads" => spec.heads = number(flag, value)?,
            "--ff" => ff = Some(number(flag, value)?),
            "--context" => spec.context = number(flag, value)?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    spec.ff = ff.unwrap_or(2 * spec.embedding);
    let out = out.ok_or("--out PATH is required")?;
    Ok(Args { out, spec })
}

/// Parses a numeric flag value, naming the flag in the error.
fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} expects a non-negative integer, got {value:?}"))
}
