//! `generate`.

use std::process::ExitCode;

use ai_router_client::proto::{GenerateRequest, GenerateResponse};
use ai_router_client::{Client, GenerateRequestBuilder};
use futures::StreamExt;

use crate::args::GenerateArgs;
use crate::failure::CliError;
use crate::format::timing_summary;
use crate::{input, output};

/// Builds the request from the arguments (reading stdin for the prompt if
/// needed).
pub fn build_request(args: &GenerateArgs) -> Result<GenerateRequest, CliError> {
    let prompt = input::prompt(args.prompt.as_deref())?;
    let mut builder = GenerateRequestBuilder::new(&args.model).prompt(prompt);
    if let Some(id) = &args.client_request_id {
        builder = builder.client_request_id(id);
    }
    Ok(args.params.apply(builder).build())
}

/// Runs the request and prints the text (or JSON), then the timing summary
/// on stderr.
pub async fn run(
    client: &Client,
    req: GenerateRequest,
    args: &GenerateArgs,
    quiet: bool,
) -> Result<ExitCode, CliError> {
    let resp = if args.stream {
        stream(client, req, !args.json).await?
    } else {
        let resp = client.generate(req).await?;
        if !args.json {
            output::text(&resp.text)?;
            output::finish_line(&resp.text)?;
        }
        resp
    };
    if args.json {
        output::json_line(&resp)?;
    }
    if !quiet {
        eprintln!("{}", timing_summary(&resp));
    }
    Ok(ExitCode::SUCCESS)
}

/// Streams the completion, printing deltas as they arrive when `echo` is
/// set, and returns the final summary with the collected text filled in.
async fn stream(
    client: &Client,
    req: GenerateRequest,
    echo: bool,
) -> Result<GenerateResponse, CliError> {
    let mut chunks = client.generate_stream(req).await?;
    let mut text = String::new();
    let mut done = None;
    while let Some(chunk) = chunks.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                // Keep what was printed readable before the error line.
                if echo {
                    output::finish_line(&text)?;
                }
                return Err(err.into());
            }
        };
        if let Some(loading) = &chunk.loading
            && echo
        {
            // On stderr: the answer on stdout stays just the answer.
            eprintln!(
                "(loading model {}, {} other loads queued)",
                loading.model, loading.loads_queued
            );
        }
        if !chunk.delta.is_empty() {
            if echo {
                output::text(&chunk.delta)?;
            }
            text.push_str(&chunk.delta);
        }
        if let Some(last) = chunk.done {
            done = Some(last);
            break;
        }
    }
    if echo {
        output::finish_line(&text)?;
    }
    let mut resp = done
        .ok_or_else(|| CliError::Protocol("the stream ended without its final chunk".to_owned()))?;
    // The last chunk's text is empty by contract; older servers may repeat
    // it, in which case the deltas are still the authority.
    resp.text = text;
    Ok(resp)
}
