//! `usage`: the ledger's report per key and model, as a table or JSON.

use std::fmt::Write as _;
use std::process::ExitCode;

use ai_router_client::Client;
use ai_router_client::proto::UsageResponse;

use crate::args::UsageArgs;
use crate::failure::CliError;
use crate::output;

/// Prints usage over the requested window.
pub async fn run(client: &Client, args: &UsageArgs) -> Result<ExitCode, CliError> {
    let report = client.usage(args.since).await?;
    if args.json {
        output::json_line(&report)?;
    } else {
        output::text(&table(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn table(report: &UsageResponse) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:<40} {:>8} {:>7} {:>12} {:>12} {:>12}",
        "KEY", "MODEL", "CALLS", "FAILED", "PROMPT TOK", "COMPL TOK", "COST USD"
    );
    for l in &report.lines {
        let _ = writeln!(
            out,
            "{:<20} {:<40} {:>8} {:>7} {:>12} {:>12} {:>12.6}",
            l.key, l.model, l.calls, l.failed, l.prompt_tokens, l.completion_tokens, l.cost_usd
        );
    }
    if report.lines.is_empty() {
        out.push_str("(no calls in this window)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use ai_router_client::proto::UsageLine;

    use super::*;

    #[test]
    fn one_row_per_key_and_model() {
        let report = UsageResponse {
            lines: vec![UsageLine {
                key: "team-a".into(),
                model: "tiny".into(),
                calls: 3,
                failed: 1,
                prompt_tokens: 30,
                completion_tokens: 12,
                cost_usd: 0.25,
            }],
        };
        let t = table(&report);
        assert_eq!(t.lines().count(), 2);
        assert!(t.lines().nth(1).unwrap().contains("team-a"));
        assert!(t.contains("0.250000"));
    }
}
