//! `batch`.

use std::process::ExitCode;
use std::time::Instant;

use ai_router_client::proto::GenerateRequest;
use ai_router_client::proto::batch_item_result::Outcome;
use ai_router_client::{Client, GenerateRequestBuilder};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::BatchArgs;
use crate::failure::CliError;
use crate::input::{self, BatchLine, LineInput};
use crate::output;

/// Exit status when the batch ran but some items failed.
const EXIT_ITEMS_FAILED: u8 = 1;

/// Reads and parses the input and turns each line into a request. Fails
/// before anything is sent if the input is empty or a line has no model.
pub fn build_items(args: &BatchArgs) -> Result<Vec<GenerateRequest>, CliError> {
    let text = match &args.file {
        Some(path) if path.as_os_str() != "-" => input::read_file(path)?,
        _ => input::read_stdin("prompts")?,
    };
    let lines = input::parse_batch(&text)?;
    if lines.is_empty() {
        return Err(CliError::Input("no prompts in the input".to_owned()));
    }
    lines
        .into_iter()
        .map(|line| to_request(line, args))
        .collect()
}

fn to_request(line: BatchLine, args: &BatchArgs) -> Result<GenerateRequest, CliError> {
    let model = line.model.or_else(|| args.model.clone()).ok_or_else(|| {
        CliError::Input(format!(
            "line {}: no model; pass --model or give \"model\" on the line",
            line.line
        ))
    })?;
    let mut builder = GenerateRequestBuilder::new(model);
    builder = match line.input {
        LineInput::Prompt(prompt) => builder.prompt(prompt),
        LineInput::Messages(messages) => builder.messages(messages),
    };
    if let Some(id) = line.client_request_id {
        builder = builder.client_request_id(id);
    }
    Ok(args.params.apply(builder).build())
}

/// Sends the batch and prints one JSON line per result as it arrives, with
/// a progress bar on stderr.
pub async fn run(
    client: &Client,
    items: Vec<GenerateRequest>,
    args: &BatchArgs,
    quiet: bool,
) -> Result<ExitCode, CliError> {
    let total = items.len();
    let started = Instant::now();
    let bar = progress_bar(total, quiet);
    let mut seen = vec![false; total];
    let (mut ok, mut failed) = (0usize, 0usize);

    let result = async {
        let mut results = client.batch(items, args.concurrency).await?;
        while let Some(item) = results.next().await {
            let item = item?;
            // An item with neither outcome (a server bug) counts as failed,
            // so the exit status never claims a result nobody got.
            if matches!(item.outcome, Some(Outcome::Response(_))) {
                ok += 1;
            } else {
                failed += 1;
            }
            if let Some(flag) = usize::try_from(item.index)
                .ok()
                .and_then(|i| seen.get_mut(i))
            {
                *flag = true;
            }
            // Suspend the bar so the line is not drawn over it when stdout
            // and stderr share a terminal.
            bar.suspend(|| output::json_line(&item))?;
            bar.inc(1);
            if failed > 0 {
                bar.set_message(format!("{failed} failed"));
            }
        }
        Ok::<(), CliError>(())
    }
    .await;
    bar.finish_and_clear();
    result?;

    let missing = seen.iter().filter(|s| !**s).count();
    if missing > 0 {
        eprintln!("warning: {missing} of {total} items got no result from the router");
    }
    if !quiet {
        eprintln!(
            "batch: {ok} ok, {failed} failed of {total} in {:.2} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if failed == 0 && missing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ITEMS_FAILED)
    })
}

/// A bar on stderr; indicatif hides it by itself when stderr is not a
/// terminal, and `--quiet` hides it always.
fn progress_bar(total: usize, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(total as u64), target);
    let style =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::ParamArgs;

    fn args(model: Option<&str>) -> BatchArgs {
        BatchArgs {
            model: model.map(str::to_owned),
            file: None,
            concurrency: 0,
            params: ParamArgs {
                max_tokens: Some(8),
                temperature: None,
                top_p: None,
                stop: vec![],
                seed: None,
                fallback: vec!["fb".into()],
            },
        }
    }

    #[test]
    fn lines_become_requests() {
        let lines = input::parse_batch("a\n{\"prompt\": \"b\", \"model\": \"other\"}\n").unwrap();
        let reqs: Vec<_> = lines
            .into_iter()
            .map(|l| to_request(l, &args(Some("tiny"))).unwrap())
            .collect();
        assert_eq!(reqs[0].model, "tiny");
        assert_eq!(reqs[1].model, "other");
        assert_eq!(reqs[1].params.as_ref().unwrap().max_tokens, Some(8));
        assert_eq!(reqs[1].fallback_models, ["fb"]);
    }

    #[test]
    fn missing_model_is_an_input_error() {
        let lines = input::parse_batch("\n\na\n").unwrap();
        let err = to_request(lines[0].clone(), &args(None)).unwrap_err();
        assert!(err.to_string().starts_with("line 3: no model"), "{err}");
    }
}
