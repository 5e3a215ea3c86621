//! `stats` and `models`.

use std::process::ExitCode;

use ai_router_client::Client;

use crate::failure::CliError;
use crate::format::{format_models, format_stats};
use crate::output;

/// Prints the statistics table, or JSON.
pub async fn stats(client: &Client, json: bool) -> Result<ExitCode, CliError> {
    let stats = client.stats().await?;
    if json {
        output::json_line(&stats)?;
    } else {
        output::text(&format_stats(&stats))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the model table, or JSON.
pub async fn models(client: &Client, json: bool) -> Result<ExitCode, CliError> {
    let models = client.list_models().await?;
    if json {
        output::json_line(&models)?;
    } else {
        output::text(&format_models(&models))?;
    }
    Ok(ExitCode::SUCCESS)
}
