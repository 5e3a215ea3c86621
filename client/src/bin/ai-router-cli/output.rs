//! Writing results to stdout.

use std::io::Write;

use serde::Serialize;

use crate::failure::CliError;

/// Writes one value as a JSON line and flushes, so a consumer reading the
/// pipe sees each result as soon as it exists rather than when a buffer
/// fills. The values are the proto messages themselves, whose serde impls
/// give canonical proto3 JSON (what grpcurl prints for the same RPC).
pub fn json_line(value: &impl Serialize) -> Result<(), CliError> {
    let line = serde_json::to_string(value)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// Writes text as-is and flushes (streamed deltas).
pub fn text(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Writes a final newline unless the text already ended with one, so the
/// shell prompt doesn't land on the last line of output.
pub fn finish_line(printed: &str) -> Result<(), CliError> {
    if printed.is_empty() || printed.ends_with('\n') {
        return Ok(());
    }
    text("\n")
}
