//! JSON renderings of router responses, for `--json` output and scripts.
//!
//! The prost types don't derive `Serialize`, and their wire shape (enum
//! numbers, `{seconds, nanos}` durations) is awkward in `jq` anyway, so these
//! are serialisable mirrors: enums become the short names from
//! [`crate::names`] and durations become milliseconds (`*_ms`, floats,
//! `null` when absent). They are structs rather than `serde_json::Value`s so
//! the keys keep a reading order (`index`, `ok` first) without turning on
//! serde_json's `preserve_order` for the whole workspace.

use serde::Serialize;

use crate::format::units::duration_ms;
use crate::names::{backend_name, code_number_name, finish_reason_name, state_name};
use crate::proto::batch_item_result::Outcome;
use crate::proto::{
    BatchItemResult, GenerateResponse, LatencySummary, ListModelsResponse, StatsResponse,
};

/// Milliseconds rounded to microseconds, or `None` (`null`).
fn ms(d: Option<&prost_types::Duration>) -> Option<f64> {
    d.map(|d| (duration_ms(d) * 1_000.0).round() / 1_000.0)
}

/// A whole completion.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResponseJson {
    /// Model that answered.
    pub model: String,
    /// Generated text.
    pub text: String,
    /// `local`, `openai` or `openrouter`.
    pub backend: String,
    /// `stop`, `length`, `content_filter`, `tool_calls` or `unspecified`.
    pub finish_reason: String,
    /// Token counts and cost.
    pub usage: UsageJson,
    /// Where the time went, in milliseconds.
    pub timing_ms: TimingJson,
    /// Whether the request waited for a model process to start.
    pub cold_start: bool,
    /// Upstream attempts made.
    pub attempts: u32,
    /// W3C trace id, empty when tracing is off.
    pub trace_id: String,
    /// The caller's id, echoed.
    pub client_request_id: String,
    /// The upstream's own generation id, if any.
    pub upstream_id: String,
}

/// Token counts and cost.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UsageJson {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Cost in USD when the upstream reports it.
    pub cost_usd: Option<f64>,
}

/// Durations of one request in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimingJson {
    /// Waiting for an executor permit.
    pub queue_wait: Option<f64>,
    /// Getting a ready upstream.
    pub model_acquire: Option<f64>,
    /// Arrival to first token.
    pub time_to_first_token: Option<f64>,
    /// Arrival to completion.
    pub total: Option<f64>,
}

impl From<&GenerateResponse> for ResponseJson {
    fn from(resp: &GenerateResponse) -> Self {
        let usage = resp.usage.unwrap_or_default();
        let timing = resp.timing.unwrap_or_default();
        Self {
            model: resp.model.clone(),
            text: resp.text.clone(),
            backend: backend_name(resp.backend),
            finish_reason: finish_reason_name(resp.finish_reason),
            usage: UsageJson {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                cost_usd: usage.cost_usd,
            },
            timing_ms: TimingJson {
                queue_wait: ms(timing.queue_wait.as_ref()),
                model_acquire: ms(timing.model_acquire.as_ref()),
                time_to_first_token: ms(timing.time_to_first_token.as_ref()),
                total: ms(timing.total.as_ref()),
            },
            cold_start: timing.cold_start,
            attempts: timing.attempts,
            trace_id: resp.trace_id.clone(),
            client_request_id: resp.client_request_id.clone(),
            upstream_id: resp.upstream_id.clone(),
        }
    }
}

/// One batch result: `{"index":i,"ok":true, ..response fields..}` or
/// `{"index":i,"ok":false,"code":"NOT_FOUND","message":".."}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BatchItemJson {
    /// The item completed.
    Ok {
        /// Position of the item in the batch.
        index: u32,
        /// Always `true`; lets `jq 'select(.ok)'` filter without knowing
        /// the variants.
        ok: bool,
        /// The completion (boxed: it dwarfs the error variant).
        #[serde(flatten)]
        response: Box<ResponseJson>,
    },
    /// The item failed.
    Failed {
        /// Position of the item in the batch.
        index: u32,
        /// Always `false`.
        ok: bool,
        /// Upper-case gRPC code name.
        code: String,
        /// What went wrong.
        message: String,
    },
}

impl BatchItemJson {
    /// Whether the item succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok { .. })
    }
}

impl From<&BatchItemResult> for BatchItemJson {
    /// A result with neither outcome (a server bug) becomes a failed
    /// `UNKNOWN` item rather than being dropped, so every index still
    /// appears once.
    fn from(item: &BatchItemResult) -> Self {
        match &item.outcome {
            Some(Outcome::Response(resp)) => Self::Ok {
                index: item.index,
                ok: true,
                response: Box::new(resp.into()),
            },
            Some(Outcome::Error(err)) => Self::Failed {
                index: item.index,
                ok: false,
                code: code_number_name(err.code),
                message: err.message.clone(),
            },
            None => Self::Failed {
                index: item.index,
                ok: false,
                code: "UNKNOWN".to_owned(),
                message: "the router sent a result with neither a response nor an error".to_owned(),
            },
        }
    }
}

/// Latency percentiles in microseconds, as on the wire.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencyJson {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Largest sample.
    pub max_us: u64,
}

impl From<&LatencySummary> for LatencyJson {
    fn from(s: &LatencySummary) -> Self {
        Self {
            count: s.count,
            p50_us: s.p50_us,
            p90_us: s.p90_us,
            p99_us: s.p99_us,
            max_us: s.max_us,
        }
    }
}

/// The local pool's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolJson {
    /// Warm hits.
    pub hits: u64,
    /// Requests that waited for a process start.
    pub cold_starts: u64,
    /// Processes stopped.
    pub evictions: u64,
    /// Processes restarted.
    pub restarts: u64,
    /// hits / (hits + cold_starts).
    pub hit_ratio: f64,
    /// Spawn-to-ready time.
    pub load_time: Option<LatencyJson>,
    /// Processes running now.
    pub loaded_models: u32,
}

/// Requests counted by model and outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestCountJson {
    /// Model requested.
    pub model: String,
    /// Outcome code name.
    pub status: String,
    /// Number of requests.
    pub count: u64,
}

/// The router's statistics, field for field, durations as `*_ms`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatsJson {
    /// Time since start.
    pub uptime_ms: Option<f64>,
    /// Process start to serving.
    pub startup_time_ms: Option<f64>,
    /// Requests finished.
    pub total_requests: u64,
    /// Generated tokens per second over the lifetime.
    pub tokens_per_second: f64,
    /// In flight now.
    pub in_flight: u64,
    /// Queued now.
    pub queued: u64,
    /// Rejected because the queue was full.
    pub rejected: u64,
    /// Router resident memory.
    pub rss_bytes: u64,
    /// Upstream HTTP connections opened.
    pub upstream_connections_opened: u64,
    /// Upstream HTTP requests sent.
    pub upstream_requests_sent: u64,
    /// End-to-end latency.
    pub latency: Option<LatencyJson>,
    /// Queue wait.
    pub queue_wait: Option<LatencyJson>,
    /// Model acquire.
    pub model_acquire: Option<LatencyJson>,
    /// Time to first token.
    pub time_to_first_token: Option<LatencyJson>,
    /// Local pool.
    pub pool: Option<PoolJson>,
    /// Requests by model and status.
    pub requests: Vec<RequestCountJson>,
}

impl From<&StatsResponse> for StatsJson {
    fn from(stats: &StatsResponse) -> Self {
        let lat = |s: Option<&LatencySummary>| s.map(LatencyJson::from);
        Self {
            uptime_ms: ms(stats.uptime.as_ref()),
            startup_time_ms: ms(stats.startup_time.as_ref()),
            total_requests: stats.total_requests,
            tokens_per_second: stats.tokens_per_second,
            in_flight: stats.in_flight,
            queued: stats.queued,
            rejected: stats.rejected,
            rss_bytes: stats.rss_bytes,
            upstream_connections_opened: stats.upstream_connections_opened,
            upstream_requests_sent: stats.upstream_requests_sent,
            latency: lat(stats.latency.as_ref()),
            queue_wait: lat(stats.queue_wait.as_ref()),
            model_acquire: lat(stats.model_acquire.as_ref()),
            time_to_first_token: lat(stats.time_to_first_token.as_ref()),
            pool: stats.pool.as_ref().map(|p| PoolJson {
                hits: p.hits,
                cold_starts: p.cold_starts,
                evictions: p.evictions,
                restarts: p.restarts,
                hit_ratio: p.hit_ratio,
                load_time: lat(p.load_time.as_ref()),
                loaded_models: p.loaded_models,
            }),
            requests: stats
                .requests
                .iter()
                .map(|r| RequestCountJson {
                    model: r.model.clone(),
                    status: r.status.clone(),
                    count: r.count,
                })
                .collect(),
        }
    }
}

/// One servable model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelJson {
    /// Model id.
    pub id: String,
    /// `local`, `openai` or `openrouter`.
    pub backend: String,
    /// `cold`, `loading`, `warm` or `failed`.
    pub state: String,
    /// Concurrent requests served.
    pub slots: u32,
    /// Requests in flight now.
    pub in_flight: u32,
    /// Time since the last request finished.
    pub idle_ms: Option<f64>,
    /// Process resident memory (0 when not applicable).
    pub rss_bytes: u64,
    /// Why the last start failed.
    pub last_error: String,
}

/// The model list: `{"models":[..]}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelsJson {
    /// Models, sorted by id.
    pub models: Vec<ModelJson>,
}

impl From<&ListModelsResponse> for ModelsJson {
    fn from(list: &ListModelsResponse) -> Self {
        Self {
            models: list
                .models
                .iter()
                .map(|m| ModelJson {
                    id: m.id.clone(),
                    backend: backend_name(m.backend),
                    state: state_name(m.state),
                    slots: m.slots,
                    in_flight: m.in_flight,
                    idle_ms: ms(m.idle.as_ref()),
                    rss_bytes: m.rss_bytes,
                    last_error: m.last_error.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::proto::{BackendKind, FinishReason, ItemError, ModelInfo, Timing, Usage};

    fn response() -> GenerateResponse {
        GenerateResponse {
            text: "hello".into(),
            model: "tiny".into(),
            backend: BackendKind::Local as i32,
            finish_reason: FinishReason::Stop as i32,
            usage: Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 4,
                cost_usd: Some(0.5),
            }),
            timing: Some(Timing {
                queue_wait: Some(prost_types::Duration {
                    seconds: 0,
                    nanos: 1_234_567,
                }),
                model_acquire: None,
                cold_start: false,
                time_to_first_token: None,
                total: Some(prost_types::Duration {
                    seconds: 2,
                    nanos: 0,
                }),
                attempts: 1,
            }),
            trace_id: "t".into(),
            client_request_id: "c".into(),
            upstream_id: String::new(),
        }
    }

    #[test]
    fn response_json() {
        let v = serde_json::to_value(ResponseJson::from(&response())).unwrap();
        assert_eq!(v["text"], "hello");
        assert_eq!(v["backend"], "local");
        assert_eq!(v["finish_reason"], "stop");
        assert_eq!(v["usage"]["completion_tokens"], 4);
        assert_eq!(v["usage"]["cost_usd"], 0.5);
        assert_eq!(v["timing_ms"]["queue_wait"], 1.235);
        assert_eq!(v["timing_ms"]["model_acquire"], Value::Null);
        assert_eq!(v["timing_ms"]["total"], 2000.0);
        assert_eq!(v["attempts"], 1);
    }

    #[test]
    fn batch_items() {
        let ok = BatchItemJson::from(&BatchItemResult {
            index: 3,
            outcome: Some(Outcome::Response(response())),
        });
        assert!(ok.is_ok());
        let text = serde_json::to_string(&ok).unwrap();
        assert!(
            text.starts_with(r#"{"index":3,"ok":true,"model":"tiny","text":"hello","#),
            "{text}"
        );

        let err = BatchItemJson::from(&BatchItemResult {
            index: 1,
            outcome: Some(Outcome::Error(ItemError {
                code: 5,
                message: "no such model".into(),
            })),
        });
        assert!(!err.is_ok());
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"index":1,"ok":false,"code":"NOT_FOUND","message":"no such model"}"#
        );

        let empty = BatchItemJson::from(&BatchItemResult {
            index: 0,
            outcome: None,
        });
        let v = serde_json::to_value(empty).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["code"], "UNKNOWN");
    }

    #[test]
    fn stats_and_models_json() {
        let v = serde_json::to_value(StatsJson::from(&StatsResponse::default())).unwrap();
        assert_eq!(v["uptime_ms"], Value::Null);
        assert_eq!(v["pool"], Value::Null);
        assert_eq!(v["requests"], json!([]));

        let v = serde_json::to_value(ModelsJson::from(&ListModelsResponse {
            models: vec![ModelInfo {
                id: "tiny".into(),
                state: 3,
                backend: 1,
                ..ModelInfo::default()
            }],
        }))
        .unwrap();
        assert_eq!(v["models"][0]["id"], "tiny");
        assert_eq!(v["models"][0]["state"], "warm");
        assert_eq!(v["models"][0]["idle_ms"], Value::Null);
    }
}
