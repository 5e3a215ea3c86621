//! The messages' serde impls follow the proto3 JSON mapping, the shape
//! grpcurl prints and the CLI's `--json` relies on.

use ai_router_proto::v1::batch_item_result::Outcome;
use ai_router_proto::v1::{
    BackendKind, BatchItemResult, Duration, FinishReason, GenerateResponse, ItemError, MemoryStats,
    StatsResponse, Timing, Usage,
};
use serde_json::json;

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
            queue_wait: Some(Duration {
                seconds: 0,
                nanos: 1_234_000,
            }),
            model_acquire: None,
            cold_start: true,
            time_to_first_token: Some(Duration {
                seconds: 1,
                nanos: 500_000_000,
            }),
            total: Some(Duration::from(std::time::Duration::from_secs(2))),
            attempts: 1,
        }),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        client_request_id: String::new(),
        upstream_id: String::new(),
        ..Default::default()
    }
}

#[test]
fn response_is_canonical_proto3_json() {
    let value = serde_json::to_value(response()).unwrap();
    assert_eq!(
        value,
        json!({
            "text": "hello",
            "model": "tiny",
            "backend": "BACKEND_KIND_LOCAL",
            "finishReason": "FINISH_REASON_STOP",
            "usage": {"promptTokens": 3, "completionTokens": 4, "costUsd": 0.5},
            "timing": {
                "queueWait": "0.001234s",
                "coldStart": true,
                "timeToFirstToken": "1.500s",
                "total": "2s",
                "attempts": 1
            },
            "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"
        })
    );
}

#[test]
fn int64_is_a_string_and_defaults_are_omitted() {
    let stats = StatsResponse {
        total_requests: 7,
        memory: Some(MemoryStats {
            growth_since_warmup_bytes: -4096,
            ..MemoryStats::default()
        }),
        ..StatsResponse::default()
    };
    assert_eq!(
        serde_json::to_value(&stats).unwrap(),
        json!({"totalRequests": "7", "memory": {"growthSinceWarmupBytes": "-4096"}})
    );
}

#[test]
fn oneof_is_the_set_member() {
    let failed = BatchItemResult {
        index: 2,
        outcome: Some(Outcome::Error(ItemError {
            code: 5,
            message: "no such model".into(),
        })),
    };
    assert_eq!(
        serde_json::to_string(&failed).unwrap(),
        r#"{"index":2,"error":{"code":5,"message":"no such model"}}"#
    );
}

#[test]
fn json_reads_back_into_the_same_message() {
    let text = serde_json::to_string(&response()).unwrap();
    let back: GenerateResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(back, response());
    // Parsers accept the proto field names too, as the mapping requires.
    let usage: Usage = serde_json::from_str(r#"{"prompt_tokens": 2}"#).unwrap();
    assert_eq!(usage.prompt_tokens, 2);
}
