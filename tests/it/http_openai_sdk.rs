//! The HTTP door as the official `openai` Python package sees it: chat
//! (whole and streamed with usage), text completions, the model list, a
//! stream that fails mid-way, and every error status raised as the SDK's own
//! typed exception. The emulator is the upstream, so the exact text is known.

use ai_router_testkit::python::run_sdk;
use serde_json::Value;

use crate::common::{http_router_over_emulator, wait_router_idle};

#[tokio::test]
async fn chat_whole_and_streamed_with_usage() {
    let (_emulator, router) = http_router_over_emulator(|_| {}).await;
    let base = router.openai_base();

    let r = run_sdk("chat", &base, "lab/m", None).await.unwrap();
    assert_eq!(r["content"], "tok0 tok1 tok2 tok3 tok4");
    assert_eq!(r["role"], "assistant");
    assert_eq!(r["object"], "chat.completion");
    assert_eq!(r["model"], "lab/m");
    assert_eq!(r["finish_reason"], "length");
    assert!(r["id"].as_str().unwrap().starts_with("chatcmpl-"), "{r}");
    assert_eq!(r["usage"]["completion_tokens"], 5);
    let prompt = r["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(prompt > 0);
    assert_eq!(r["usage"]["total_tokens"], prompt + 5);

    let s = run_sdk("stream", &base, "lab/m", None).await.unwrap();
    assert_eq!(s["content"], "tok0 tok1 tok2 tok3 tok4 tok5");
    assert_eq!(s["finish_reason"], "length");
    assert_eq!(s["usage"]["completion_tokens"], 6);
    assert_eq!(s["roles"], serde_json::json!(["assistant"]));
    assert_eq!(s["ids"], 1, "every chunk carries the same id");
    // role chunk + 6 text chunks + finish chunk + usage chunk
    assert_eq!(s["chunks"], 9, "{s}");

    // Both doors count into the same Stats.
    let stats = router.client().await.unwrap().stats().await.unwrap();
    let ok = stats
        .requests
        .iter()
        .find(|c| c.model == "lab/m" && c.status == "OK")
        .map(|c| c.count);
    assert_eq!(ok, Some(2), "{:?}", stats.requests);
    assert_eq!(wait_router_idle(&router).await, (0, 0));
    router.stop().await.unwrap();
}

#[tokio::test]
async fn text_completions_and_the_model_list() {
    let (_emulator, router) = http_router_over_emulator(|_| {}).await;
    let base = router.openai_base();
    let c = run_sdk("completion", &base, "lab/m", None).await.unwrap();
    assert_eq!(c["object"], "text_completion");
    assert_eq!(c["text"], "tok0 tok1 tok2 tok3");
    assert_eq!(c["finish_reason"], "length");
    assert_eq!(c["usage"]["completion_tokens"], 4);
    let s = run_sdk("completion_stream", &base, "lab/m", None)
        .await
        .unwrap();
    assert_eq!(s["text"], "tok0 tok1 tok2");
    assert_eq!(s["finish_reason"], "length");
    let m = run_sdk("models", &base, "-", None).await.unwrap();
    assert_eq!(m["ids"], serde_json::json!(["lab/*"]));
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_stream_that_fails_midway_raises_in_the_sdk() {
    let (_emulator, router) = http_router_over_emulator(|_| {}).await;
    let r = run_sdk(
        "stream_error",
        &router.openai_base(),
        "lab/m@midstream_error=2",
        None,
    )
    .await
    .unwrap();
    assert_eq!(r["raised"], "APIError", "{r}");
    assert_eq!(r["content"], "tok0 tok1", "the text before the failure");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("failed mid-generation"),
        "{r}"
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn each_failure_is_the_sdks_typed_error_with_its_status() {
    let (_emulator, router) = http_router_over_emulator(|_| {}).await;
    let base = router.openai_base();
    let cases: [(&str, &str, u64, &str); 7] = [
        (
            "lab/m@status=429@retry_after=7",
            "RateLimitError",
            429,
            "rate_limit_error",
        ),
        ("nope", "NotFoundError", 404, "not_found_error"),
        (
            "../etc/passwd",
            "BadRequestError",
            400,
            "invalid_request_error",
        ),
        (
            "lab/m@status=401",
            "AuthenticationError",
            401,
            "authentication_error",
        ),
        (
            "lab/m@status=403",
            "PermissionDeniedError",
            403,
            "permission_error",
        ),
        (
            "lab/m@status=503",
            "InternalServerError",
            503,
            "server_error",
        ),
        (
            "lab/m@status=400",
            "BadRequestError",
            400,
            "invalid_request_error",
        ),
    ];
    for (model, class, status, kind) in cases {
        let e: Value = run_sdk("error", &base, model, None).await.unwrap();
        assert_eq!(e["class"], class, "{model}: {e}");
        assert_eq!(e["status"], status, "{model}: {e}");
        assert_eq!(e["type"], kind, "{model}: {e}");
        assert!(!e["message"].as_str().unwrap_or_default().is_empty());
    }
    let limited = run_sdk("error", &base, "lab/m@status=429@retry_after=7", None)
        .await
        .unwrap();
    assert_eq!(limited["retry_after"], "7", "Retry-After is passed on");
    let missing = run_sdk("error", &base, "nope", None).await.unwrap();
    assert_eq!(missing["code"], "model_not_found");
    assert!(
        missing["message"].as_str().unwrap().contains("lab/*"),
        "the message lists the known ids: {missing}"
    );
    router.stop().await.unwrap();
}
