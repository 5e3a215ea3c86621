//! The HTTP door continues the caller's W3C trace like the gRPC door: its
//! span is a child of the `traceparent` the request carried, the phases hang
//! under it, and the upstream receives the same trace id.
//! (Run in a process of its own: it installs the process-wide subscriber.)

use std::time::Duration;

use ai_router_testkit::otlp::OtlpReceiver;
use serde_json::json;

use crate::common::{export_traces_to, http_router_over_emulator, in_own_process};

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "b7ad6b7169203331";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_request_continues_the_callers_trace() {
    if !in_own_process(
        module_path!(),
        "an_http_request_continues_the_callers_trace",
    )
    .await
    {
        return;
    }
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = export_traces_to(&receiver);
    let (emulator, router) = http_router_over_emulator(|_| {}).await;
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", router.openai_base()))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .json(&json!({"model": "lab/m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let upstream = emulator.stats().header("traceparent").map(str::to_string);
    assert!(
        upstream
            .as_deref()
            .is_some_and(|t| t.starts_with(&format!("00-{TRACE_ID}-"))),
        "the upstream saw the caller's trace: {upstream:?}"
    );
    router.stop().await.unwrap();
    telemetry.shutdown();
    assert!(
        receiver
            .wait_for(Duration::from_secs(10), |s| s
                .iter()
                .any(|s| s.name == "chat_completions"))
            .await,
        "the door's span arrives"
    );
    let spans = receiver.spans();
    let door = spans.iter().find(|s| s.name == "chat_completions").unwrap();
    assert_eq!(hex(&door.trace_id), TRACE_ID);
    assert_eq!(hex(&door.parent_span_id), CALLER_SPAN);
    let upstream_call = spans
        .iter()
        .find(|s| s.name == "upstream_call" && hex(&s.trace_id) == TRACE_ID)
        .expect("the upstream call span is in the same trace");
    assert_eq!(hex(&upstream_call.parent_span_id), hex(&door.span_id));
}
