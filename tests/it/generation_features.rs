//! Tools, JSON output, penalties and reasoning, end to end: through the
//! official `openai` SDK on the HTTP door and through the gRPC API, what the
//! upstream was sent (checked on the emulator's last request body), and a
//! real llama-server constraining its output to a JSON schema by grammar.

use ai_router_client::proto::{
    self as pb, FinishReason, GenerateRequest, GenerationParams, ToolChoice,
    generate_request::Input, tool_choice,
};
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::python::run_sdk;
use ai_router_testkit::router::{TestRouter, local_config};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::http_router_over_emulator;

#[tokio::test]
async fn the_sdk_runs_an_agent_loop_with_tool_calls() {
    let (emulator, router) = http_router_over_emulator(|_| {}).await;
    let base = router.openai_base();
    let r = run_sdk("tools", &base, "lab/m", None).await.unwrap();
    assert_eq!(r["finish_reason"], "tool_calls", "{r}");
    assert_eq!(
        r["content"],
        Value::Null,
        "a call-only answer has no content"
    );
    assert_eq!(r["call"]["id"], "call_0");
    assert_eq!(r["call"]["type"], "function");
    assert_eq!(r["call"]["name"], "get_weather");
    assert_eq!(r["call"]["arguments"], json!({"text": "tok0 tok1 tok2"}));
    // After the tool result the model answers in text.
    assert_eq!(r["answer"], "tok0 tok1 tok2", "{r}");

    // The second request carried the whole loop to the upstream.
    let sent = emulator.stats().last_body.unwrap();
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"], Value::Null);
    assert_eq!(messages[1]["tool_calls"][0]["id"], "call_0");
    assert_eq!(
        messages[1]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(messages[2]["role"], "tool");
    assert_eq!(messages[2]["tool_call_id"], "call_0");
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        sent["tools"][0]["function"]["parameters"]["required"],
        json!(["city"])
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn streamed_tool_calls_arrive_as_deltas_the_sdk_assembles() {
    let (emulator, router) = http_router_over_emulator(|_| {}).await;
    let r = run_sdk("tools_stream", &router.openai_base(), "lab/m", None)
        .await
        .unwrap();
    assert_eq!(r["finish_reason"], "tool_calls", "{r}");
    assert_eq!(r["content"], "");
    let call = &r["calls"][0];
    assert_eq!(r["calls"].as_array().unwrap().len(), 1);
    assert_eq!(call["id"], "call_0");
    assert_eq!(call["name"], "get_weather");
    let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"text": "tok0 tok1 tok2 tok3"}));
    assert_eq!(call["pieces"], 4, "one delta per token: {r}");
    let sent = emulator.stats().last_body.unwrap();
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn json_schema_output_parses_with_the_sdks_own_parse() {
    let (emulator, router) = http_router_over_emulator(|_| {}).await;
    // Three tokens: a natural stop, which parse() needs (it refuses a cut answer).
    let r = run_sdk("json_schema", &router.openai_base(), "lab/m@tokens=3", None)
        .await
        .unwrap();
    assert_eq!(r["parsed"], "tok0 tok1 tok2", "{r}");
    assert_eq!(r["json_object"], json!({"text": "tok0 tok1"}));
    // The last request asked for json_object; the emulator saw it as sent.
    let sent = emulator.stats().last_body.unwrap();
    assert_eq!(sent["response_format"], json!({"type": "json_object"}));
    router.stop().await.unwrap();
}

#[tokio::test]
async fn reasoning_is_kept_apart_from_the_answer() {
    let (_emulator, router) = http_router_over_emulator(|_| {}).await;
    let r = run_sdk("reasoning", &router.openai_base(), "lab/m@reasoning", None)
        .await
        .unwrap();
    assert_eq!(r["content"], "tok0 tok1", "{r}");
    assert_eq!(r["reasoning"], "think0 think1");
    assert_eq!(r["content_streamed"], "tok0 tok1");
    assert_eq!(r["reasoning_streamed"], "think0 think1");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn logprobs_come_back_whole_and_streamed() {
    let (emulator, router) = http_router_over_emulator(|_| {}).await;
    let r = run_sdk("logprobs", &router.openai_base(), "lab/m", None)
        .await
        .unwrap();
    assert_eq!(r["tokens"], json!(["tok0", " tok1", " tok2"]), "{r}");
    assert_eq!(r["logprobs"], json!([-0.5, -0.5, -0.5]));
    assert_eq!(r["top"][0], json!(["tok0", "alt1"]));
    assert_eq!(r["streamed_tokens"], r["tokens"]);
    let sent = emulator.stats().last_body.unwrap();
    assert_eq!(
        (sent["logprobs"].clone(), sent["top_logprobs"].clone()),
        (json!(true), json!(2))
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_real_llama_server_returns_logprobs() {
    let models = ModelDir::with_models(&["tiny"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let router = TestRouter::start(config).await.unwrap();
    let r = run_sdk("logprobs", &router.openai_base(), "tiny", None)
        .await
        .unwrap();
    let logprobs = r["logprobs"].as_array().unwrap();
    assert_eq!(logprobs.len(), 3, "one per generated token: {r}");
    assert!(logprobs.iter().all(|l| l.as_f64().unwrap() <= 0.0), "{r}");
    assert!(
        r["top"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.as_array().unwrap().len() == 2),
        "{r}"
    );
    assert_eq!(r["streamed_tokens"].as_array().unwrap().len(), 3, "{r}");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn penalties_reach_the_upstream() {
    let (emulator, router) = http_router_over_emulator(|_| {}).await;
    run_sdk("penalties", &router.openai_base(), "lab/m", None)
        .await
        .unwrap();
    let sent = emulator.stats().last_body.unwrap();
    assert_eq!(sent["presence_penalty"], 0.5);
    assert_eq!(sent["frequency_penalty"], -0.25);
    assert_eq!(sent["seed"], 7);
    router.stop().await.unwrap();
}

fn tools_request(model: &str) -> GenerateRequest {
    GenerateRequest {
        model: model.into(),
        input: Some(Input::Prompt("weather?".into())),
        params: Some(GenerationParams {
            max_tokens: Some(2),
            tools: vec![pb::Tool {
                name: "get_weather".into(),
                description: "weather".into(),
                parameters_json: r#"{"type":"object"}"#.into(),
            }],
            tool_choice: Some(ToolChoice {
                choice: Some(tool_choice::Choice::Function("get_weather".into())),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn grpc_returns_tool_calls_whole_and_as_deltas() {
    let (_emulator, router) = http_router_over_emulator(|_| {}).await;
    let mut client = router.raw_client().await.unwrap();
    let whole = client
        .generate(tools_request("lab/m"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(whole.finish_reason, FinishReason::ToolCalls as i32);
    assert_eq!(whole.tool_calls.len(), 1);
    assert_eq!(whole.tool_calls[0].name, "get_weather");
    assert_eq!(whole.tool_calls[0].arguments, r#"{"text":"tok0 tok1"}"#);

    let mut stream = client
        .generate_stream(tools_request("lab/m"))
        .await
        .unwrap()
        .into_inner();
    let (mut arguments, mut names, mut done) = (String::new(), Vec::new(), None);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        for d in chunk.tool_calls {
            arguments.push_str(&d.arguments);
            if !d.name.is_empty() {
                names.push(d.name);
            }
        }
        done = chunk.done.or(done);
    }
    assert_eq!(names, ["get_weather"]);
    assert_eq!(arguments, r#"{"text":"tok0 tok1"}"#);
    let done = done.unwrap();
    assert_eq!(done.finish_reason, FinishReason::ToolCalls as i32);
    assert_eq!(
        done.tool_calls[0].arguments, arguments,
        "the summary holds the call assembled"
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn bad_tools_and_schemas_are_invalid_argument_naming_the_field() {
    let (_emulator, router) = http_router_over_emulator(|_| {}).await;
    let mut client = router.raw_client().await.unwrap();
    let mut bad_name = tools_request("lab/m");
    bad_name.params.as_mut().unwrap().tools[0].name = "get weather".into();
    bad_name.params.as_mut().unwrap().tool_choice = None;
    let mut bad_params = tools_request("lab/m");
    bad_params.params.as_mut().unwrap().tools[0].parameters_json = "[1]".into();
    let mut unknown_choice = tools_request("lab/m");
    unknown_choice.params.as_mut().unwrap().tool_choice = Some(ToolChoice {
        choice: Some(tool_choice::Choice::Function("other".into())),
    });
    let mut bad_penalty = tools_request("lab/m");
    bad_penalty.params.as_mut().unwrap().presence_penalty = Some(3.0);
    for (request, field) in [
        (bad_name, "tools[0].name"),
        (bad_params, "tools[0].parameters"),
        (unknown_choice, "tool_choice"),
        (bad_penalty, "presence_penalty"),
    ] {
        let e = client.generate(request).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{field}: {e:?}");
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }
    // The HTTP door says the same with a 400.
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", router.openai_base()))
        .json(&json!({
            "model": "lab/m", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": [1]}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("response_format.json_schema.schema must be a JSON object"),
        "{body}"
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_feature_the_backend_cannot_do_is_refused_naming_it() {
    // A local model started with --no-jinja cannot format tools; the request
    // is refused before anything is started.
    let models = ModelDir::with_models(&["plain"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.local.defaults.extra_args = vec!["--no-jinja".into()];
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let router = TestRouter::start(config).await.unwrap();
    let mut client = router.raw_client().await.unwrap();
    let e = client.generate(tools_request("plain")).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert_eq!(e.message(), "tools is not supported by local:plain");
    assert!(
        router
            .engine
            .pool()
            .statuses()
            .iter()
            .all(|m| m.rss_bytes == 0),
        "nothing was started"
    );
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", router.openai_base()))
        .json(&json!({
            "model": "plain", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_real_llama_server_constrains_output_to_the_schema() {
    let models = ModelDir::with_models(&["tiny"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let router = TestRouter::start(config).await.unwrap();
    let r = run_sdk("schema_local", &router.openai_base(), "tiny", None)
        .await
        .unwrap();
    // Random weights, but the grammar admits only {"answer": "yes"|"no"}.
    let content = r["content"].as_str().unwrap();
    let parsed: Value = serde_json::from_str(content)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {content:?} ({r})"));
    let answer = parsed["answer"].as_str().unwrap();
    assert!(answer == "yes" || answer == "no", "{parsed}");
    assert_eq!(parsed.as_object().unwrap().len(), 1, "{parsed}");
    router.stop().await.unwrap();
}
