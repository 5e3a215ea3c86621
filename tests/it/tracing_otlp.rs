//! Traces reach a real OTLP receiver: one span tree per call that continues
//! the caller's trace, GenAI attributes, the trace id returned to the caller
//! and passed to the upstream, and no prompt text anywhere.
//! (Run in a process of its own: it installs the process-wide subscriber.)
//! The call goes through the generated stub, not the published client:
//! the client sets no request metadata, and this test sends `traceparent`.

use std::collections::HashMap;
use std::time::Duration;

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::otlp::OtlpReceiver;
use ai_router_testkit::router::{TestRouter, local_config};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::common::{export_traces_to, in_own_process, prompt};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const SECRET_PROMPT: &str = "the-prompt-must-never-be-exported-7c1e";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_form_one_tree_under_the_callers_trace() {
    if !in_own_process(
        module_path!(),
        "spans_form_one_tree_under_the_callers_trace",
    )
    .await
    {
        return;
    }
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = export_traces_to(&receiver);

    let emulator = Emulator::start().await.unwrap();
    let models = ModelDir::with_models(&["traced"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.endpoints.push(EndpointConfig::new(
        "up",
        EndpointKind::OpenAi,
        &emulator.openai_base(),
    ));
    let router = TestRouter::start(config).await.unwrap();
    let mut client = router.raw_client().await.unwrap();

    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let traced = |model: &str| {
        let mut request = tonic::Request::new(prompt(model, SECRET_PROMPT, 4));
        request
            .metadata_mut()
            .insert("traceparent", traceparent.parse().unwrap());
        request
    };
    let remote = client.generate(traced("up/m")).await.unwrap().into_inner();
    let local = client
        .generate(traced("traced"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        remote.trace_id, TRACE_ID,
        "the trace id is returned to the caller"
    );
    assert_eq!(local.trace_id, TRACE_ID);

    // The upstream saw the same trace, with the router's upstream span as parent.
    let upstream_traceparent = emulator
        .stats()
        .header("traceparent")
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{:?}", emulator.stats().last_headers));
    assert!(
        upstream_traceparent.starts_with(&format!("00-{TRACE_ID}-")),
        "{upstream_traceparent}"
    );

    router.stop().await.unwrap();
    telemetry.shutdown();
    assert!(
        receiver
            .wait_for(Duration::from_secs(10), |s| s
                .iter()
                .filter(|s| s.name == "generate")
                .count()
                >= 2)
            .await,
        "spans arrive at the receiver"
    );
    let spans = receiver.spans();
    let ours: Vec<Span> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == TRACE_ID)
        .cloned()
        .collect();

    let generates = named(&ours, "generate");
    assert_eq!(generates.len(), 2);
    for g in &generates {
        assert_eq!(
            hex(&g.parent_span_id),
            CALLER_SPAN,
            "the RPC span continues the caller's span"
        );
        assert!(
            matches!(attr(g, "gen_ai.operation.name"), Some(Value::StringValue(v)) if v == "chat")
        );
        assert!(
            matches!(
                attr(g, "gen_ai.usage.output_tokens"),
                Some(Value::IntValue(4))
            ),
            "{:?}",
            g.attributes
        );
        assert!(matches!(
            attr(g, "gen_ai.request.max_tokens"),
            Some(Value::IntValue(4))
        ));
        assert!(attr(g, "gen_ai.usage.input_tokens").is_some());
        assert!(attr(g, "gen_ai.response.finish_reasons").is_some());
    }
    let by_id: HashMap<String, &Span> = ours.iter().map(|s| (hex(&s.span_id), s)).collect();
    let generate_ids: Vec<String> = generates.iter().map(|g| hex(&g.span_id)).collect();
    for phase in ["queue", "model_acquire", "upstream_call"] {
        let phase_spans = named(&ours, phase);
        assert_eq!(phase_spans.len(), 2, "one {phase} span per call");
        for s in phase_spans {
            assert!(
                generate_ids.contains(&hex(&s.parent_span_id)),
                "{phase} is a child of its RPC span"
            );
        }
    }
    let cold_acquire = named(&ours, "model_acquire")
        .into_iter()
        .find(|s| matches!(attr(s, "cold"), Some(Value::BoolValue(true))))
        .expect("the local model's first acquire is cold");
    let load = named(&ours, "model_load");
    assert_eq!(load.len(), 1);
    assert_eq!(
        hex(&load[0].parent_span_id),
        hex(&cold_acquire.span_id),
        "the load hangs under the acquire that caused it"
    );
    let remote_generate = generates
        .iter()
        .find(|g| matches!(attr(g, "gen_ai.provider.name"), Some(Value::StringValue(p)) if p == "openai_compatible"))
        .unwrap();
    let upstream = named(&ours, "upstream_call")
        .into_iter()
        .find(|s| hex(&s.parent_span_id) == hex(&remote_generate.span_id))
        .unwrap();
    assert!(
        upstream_traceparent.contains(&hex(&upstream.span_id)),
        "the upstream's parent is the upstream_call span"
    );
    // The host pool's pick (a pool of one) is on the upstream_call span.
    assert!(
        matches!(attr(upstream, "server.address"), Some(Value::StringValue(a)) if a == "127.0.0.1")
    );
    let port = i64::from(emulator.addr().port());
    assert!(matches!(attr(upstream, "server.port"), Some(Value::IntValue(p)) if *p == port));
    assert!(matches!(attr(upstream, "pick.reason"), Some(Value::StringValue(r)) if r == "only"));
    assert!(matches!(
        attr(upstream, "pick.candidates"),
        Some(Value::IntValue(1))
    ));
    // llama-server's own timings ride on the local call's upstream span;
    // the emulator reports none, so the remote one has none.
    let local_generate = generates
        .iter()
        .find(|g| hex(&g.span_id) != hex(&remote_generate.span_id))
        .unwrap();
    let local_upstream = named(&ours, "upstream_call")
        .into_iter()
        .find(|s| hex(&s.parent_span_id) == hex(&local_generate.span_id))
        .unwrap();
    assert!(
        matches!(attr(local_upstream, "llama.prompt_n"), Some(Value::IntValue(n)) if *n > 0),
        "{:?}",
        local_upstream.attributes
    );
    assert!(matches!(
        attr(local_upstream, "llama.cache_n"),
        Some(Value::IntValue(_))
    ));
    for key in ["llama.prompt_ms", "llama.predicted_ms"] {
        assert!(
            matches!(attr(local_upstream, key), Some(Value::DoubleValue(ms)) if *ms >= 0.0),
            "{key}: {:?}",
            local_upstream.attributes
        );
    }
    assert!(attr(upstream, "llama.prompt_n").is_none());
    assert!(by_id.len() >= 9);

    let everything = format!("{spans:?}");
    assert!(
        !everything.contains(SECRET_PROMPT),
        "prompt text must never be exported"
    );
}
