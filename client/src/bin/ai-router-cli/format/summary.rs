//! The one-line timing summary the CLI prints to stderr after a completion.

use ai_router_client::proto::GenerateResponse;

use super::units::opt_ms;
use crate::names::{backend_name, finish_reason_name};

/// Summarises who answered, why it stopped, token counts and where the time
/// went, in one line, e.g.
/// `tiny (local) · stop · 5+16 tokens · total 120.00 ms · ttft 12.00 ms · queue 0.01 ms · acquire 0.02 ms`.
/// Cold starts, retries, cost and the trace id are appended only when they
/// carry information.
pub fn timing_summary(resp: &GenerateResponse) -> String {
    let mut parts = vec![
        format!("{} ({})", resp.model, backend_name(resp.backend)),
        finish_reason_name(resp.finish_reason),
    ];
    if let Some(usage) = &resp.usage {
        parts.push(format!(
            "{}+{} tokens",
            usage.prompt_tokens, usage.completion_tokens
        ));
        if let Some(cost) = usage.cost_usd {
            parts.push(format!("${cost:.6}"));
        }
    }
    if let Some(t) = &resp.timing {
        parts.push(format!("total {}", opt_ms(t.total.as_ref())));
        parts.push(format!("ttft {}", opt_ms(t.time_to_first_token.as_ref())));
        parts.push(format!("queue {}", opt_ms(t.queue_wait.as_ref())));
        parts.push(format!("acquire {}", opt_ms(t.model_acquire.as_ref())));
        if t.cold_start {
            parts.push("cold start".to_owned());
        }
        if t.attempts > 1 {
            parts.push(format!("{} attempts", t.attempts));
        }
    }
    if !resp.trace_id.is_empty() {
        parts.push(format!("trace {}", resp.trace_id));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ai_router_client::proto::{BackendKind, Duration, FinishReason, Timing, Usage};

    fn ms(ms: i32) -> Option<Duration> {
        Some(Duration {
            seconds: 0,
            nanos: ms * 1_000_000,
        })
    }

    #[test]
    fn full_summary() {
        let resp = GenerateResponse {
            text: "ignored".into(),
            model: "tiny".into(),
            backend: BackendKind::Local as i32,
            finish_reason: FinishReason::Length as i32,
            usage: Some(Usage {
                prompt_tokens: 5,
                completion_tokens: 16,
                cost_usd: None,
            }),
            timing: Some(Timing {
                queue_wait: ms(0),
                model_acquire: ms(300),
                cold_start: true,
                time_to_first_token: ms(320),
                total: ms(400),
                attempts: 2,
            }),
            trace_id: "abc".into(),
            ..GenerateResponse::default()
        };
        assert_eq!(
            timing_summary(&resp),
            "tiny (local) · length · 5+16 tokens · total 400.00 ms · ttft 320.00 ms · \
             queue 0.00 ms · acquire 300.00 ms · cold start · 2 attempts · trace abc"
        );
    }

    #[test]
    fn minimal_summary() {
        let resp = GenerateResponse {
            model: "m".into(),
            ..GenerateResponse::default()
        };
        assert_eq!(timing_summary(&resp), "m (unspecified) · unspecified");
    }
}
