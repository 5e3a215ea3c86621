//! Every kind of bad input gets a clear status and spawns nothing.

use ai_router_client::proto::{
    ChatMessage, ChatMessages, GenerateRequest, GenerationParams, ModelState,
    generate_request::Input,
};
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::procs::ChildWatch;
use ai_router_testkit::router::{TestRouter, local_config};
use tonic::Code;

use crate::common::prompt;

fn with_params(p: GenerationParams) -> GenerateRequest {
    GenerateRequest {
        params: Some(p),
        ..prompt("known", "hi", 4)
    }
}

#[tokio::test]
async fn bad_requests_are_rejected_with_actionable_statuses() {
    let models = ModelDir::with_models(&["known", "other"]).unwrap();
    let children = ChildWatch::start(models.path()).unwrap();
    let router = TestRouter::start(local_config(models.path()).unwrap())
        .await
        .unwrap();
    let client = router.client().await.unwrap();

    let unknown = client.generate(prompt("nope", "hi", 4)).await.unwrap_err();
    assert_eq!(unknown.code(), Some(Code::NotFound));
    let message = unknown.message().unwrap();
    assert!(
        message.contains("known") && message.contains("other"),
        "{message}"
    );

    let cases: Vec<(&str, GenerateRequest, &str)> = vec![
        ("dotdot", prompt("../x", "hi", 4), "model"),
        ("absolute", prompt("/etc/passwd", "hi", 4), "model"),
        ("flag", prompt("--help", "hi", 4), "model"),
        ("nul", prompt("a\0b", "hi", 4), "model"),
        ("empty model", prompt("", "hi", 4), "model"),
        ("empty prompt", prompt("known", "", 4), "prompt"),
        (
            "no input",
            GenerateRequest {
                input: None,
                ..prompt("known", "hi", 4)
            },
            "prompt or messages",
        ),
        (
            "empty messages",
            GenerateRequest {
                input: Some(Input::Messages(ChatMessages { messages: vec![] })),
                ..prompt("known", "hi", 4)
            },
            "messages",
        ),
        (
            "bad role",
            GenerateRequest {
                input: Some(Input::Messages(ChatMessages {
                    messages: vec![ChatMessage {
                        role: "wizard".into(),
                        content: "x".into(),
                        ..Default::default()
                    }],
                })),
                ..prompt("known", "hi", 4)
            },
            "role",
        ),
        (
            "max_tokens 0",
            with_params(GenerationParams {
                max_tokens: Some(0),
                ..Default::default()
            }),
            "max_tokens",
        ),
        (
            "max_tokens huge",
            with_params(GenerationParams {
                max_tokens: Some(10_000_000),
                ..Default::default()
            }),
            "max_tokens",
        ),
        (
            "nan temperature",
            with_params(GenerationParams {
                temperature: Some(f32::NAN),
                ..Default::default()
            }),
            "temperature",
        ),
        (
            "negative temperature",
            with_params(GenerationParams {
                temperature: Some(-0.5),
                ..Default::default()
            }),
            "temperature",
        ),
        (
            "top_p above 1",
            with_params(GenerationParams {
                top_p: Some(1.01),
                ..Default::default()
            }),
            "top_p",
        ),
        (
            "top_p zero",
            with_params(GenerationParams {
                top_p: Some(0.0),
                ..Default::default()
            }),
            "top_p",
        ),
        (
            "bad fallback",
            GenerateRequest {
                fallback_models: vec!["../../x".into()],
                ..prompt("known", "hi", 4)
            },
            "fallback",
        ),
    ];
    for (name, request, needle) in cases {
        let err = client.generate(request.clone()).await.unwrap_err();
        assert_eq!(err.code(), Some(Code::InvalidArgument), "{name}: {err:?}");
        assert!(
            err.message().unwrap().contains(needle),
            "{name}: {err} should mention {needle:?}"
        );
        // The streaming RPC validates the same way, before any stream starts.
        let Err(err) = client.generate_stream(request).await else {
            panic!("{name} (stream): accepted");
        };
        assert_eq!(err.code(), Some(Code::InvalidArgument), "{name} (stream)");
    }

    // Nothing was spawned by any of it: this router never had a child.
    assert_eq!(
        children.seen(),
        Default::default(),
        "bad input must not start processes"
    );
    let listed = client.list_models().await.unwrap();
    assert!(
        listed
            .models
            .iter()
            .all(|m| m.state == ModelState::Cold as i32)
    );

    router.stop().await.unwrap();
}

#[tokio::test]
async fn an_oversized_message_is_resource_exhausted() {
    let models = ModelDir::with_models(&["known"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.limits.max_message_bytes = 64 * 1024;
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();
    let big = "x".repeat(128 * 1024);
    let err = client.generate(prompt("known", &big, 4)).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::ResourceExhausted), "{err:?}");
    router.stop().await.unwrap();
}
