//! `models load|unload|pin|unpin|watch` and `reload`: the Admin service
//! from a terminal.
//! One line per result (or per event for `watch`), or the message as JSON.

use std::process::ExitCode;

use ai_router_client::Client;
use ai_router_client::proto::{ModelEvent, ModelEventKind};
use futures::StreamExt;

use crate::args::ModelAction;
use crate::failure::CliError;
use crate::names::state_name;
use crate::output;

/// Runs one admin action.
pub async fn run(client: &Client, action: ModelAction, json: bool) -> Result<ExitCode, CliError> {
    match action {
        ModelAction::Load { model, pin } => {
            let r = client.load_model(&model, pin).await?;
            if json {
                return json_done(&r);
            }
            let waited = r
                .waited
                .map_or(0.0, |d| d.seconds as f64 + f64::from(d.nanos) / 1e9);
            let what = if r.started { "started" } else { "already warm" };
            let pinned = if pin { ", pinned" } else { "" };
            output::text(&format!("{model}: {what} ({waited:.2} s){pinned}\n"))?;
        }
        ModelAction::Unload { model, force } => {
            let r = client.unload_model(&model, force).await?;
            if json {
                return json_done(&r);
            }
            let line = match (r.stopped, force) {
                (false, _) => format!("{model}: was not running\n"),
                (true, false) => {
                    format!("{model}: stopped after {} call(s) finished\n", r.in_flight)
                }
                (true, true) => format!(
                    "{model}: stopped; {} call(s) in flight failed\n",
                    r.in_flight
                ),
            };
            output::text(&line)?;
        }
        ModelAction::Pin { model } => return pin(client, &model, true, json).await,
        ModelAction::Unpin { model } => return pin(client, &model, false, json).await,
        ModelAction::Watch => {
            let mut events = client.watch_models().await?;
            while let Some(event) = events.next().await {
                let event = event?;
                if json {
                    output::json_line(&event)?;
                } else {
                    output::text(&event_line(&event))?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `reload`: what the router changed, one line per kind of change.
pub async fn reload(client: &Client, json: bool) -> Result<ExitCode, CliError> {
    let r = client.reload_config().await?;
    if json {
        return json_done(&r);
    }
    let mut out = String::new();
    let mut list = |what: &str, ids: &[String]| {
        if !ids.is_empty() {
            out.push_str(&format!("{what:<20} {}\n", ids.join(", ")));
        }
    };
    list("models added", &r.models_added);
    list("models removed", &r.models_removed);
    list("models replaced", &r.models_replaced);
    list("endpoints added", &r.endpoints_added);
    list("endpoints removed", &r.endpoints_removed);
    list("endpoints replaced", &r.endpoints_replaced);
    list("needs a restart", &r.restart_required);
    out.push_str(&format!(
        "{:<20} {}\n{:<20} {}\n",
        "models unchanged",
        r.models_unchanged,
        "keys",
        if r.keys_changed {
            "changed"
        } else {
            "unchanged"
        }
    ));
    output::text(&out)?;
    Ok(ExitCode::SUCCESS)
}

async fn pin(client: &Client, model: &str, pinned: bool, json: bool) -> Result<ExitCode, CliError> {
    let r = client.pin_model(model, pinned).await?;
    if json {
        return json_done(&r);
    }
    let state = r.model.map_or_else(String::new, |m| state_name(m.state));
    let verb = if pinned { "pinned" } else { "unpinned" };
    output::text(&format!("{model}: {verb} ({state})\n"))?;
    Ok(ExitCode::SUCCESS)
}

fn json_done(message: &impl serde::Serialize) -> Result<ExitCode, CliError> {
    output::json_line(message)?;
    Ok(ExitCode::SUCCESS)
}

/// `LOADING  tiny  (loading)`-style line for one event.
fn event_line(e: &ModelEvent) -> String {
    let kind = match ModelEventKind::try_from(e.kind) {
        Ok(ModelEventKind::Current) => "current",
        Ok(ModelEventKind::Loading) => "loading",
        Ok(ModelEventKind::Ready) => "ready",
        Ok(ModelEventKind::Evicted) => "evicted",
        Ok(ModelEventKind::Died) => "died",
        Ok(ModelEventKind::StartFailed) => "start_failed",
        Ok(ModelEventKind::Pinned) => "pinned",
        Ok(ModelEventKind::Lagged) => "lagged",
        Ok(ModelEventKind::Added) => "added",
        Ok(ModelEventKind::Removed) => "removed",
        Ok(ModelEventKind::Unspecified) | Err(_) => "unknown",
    };
    let mut line = format!("{kind:<12} {:<24} {}", e.model, state_name(e.state));
    if e.pid != 0 {
        line.push_str(&format!(" pid={}", e.pid));
    }
    if e.pinned {
        line.push_str(" pinned");
    }
    if !e.reason.is_empty() {
        line.push_str(&format!(" ({})", e.reason));
    }
    line.push('\n');
    line
}
