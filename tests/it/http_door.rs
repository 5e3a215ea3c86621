//! The HTTP door's edges, seen with a plain HTTP client: bad bodies get a
//! clear 4xx in OpenAI's error shape, the caller's deadline is a 504, and a
//! caller that goes away (whole or streamed answer) cancels the upstream
//! request.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::{http_router_over_emulator, wait_router_idle};

const WAIT: Duration = Duration::from_secs(10);

fn chat_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
}

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].clone())
}

#[tokio::test]
async fn bad_requests_get_a_clear_4xx_in_openais_shape() {
    let (_emulator, router) = http_router_over_emulator(|c| {
        c.limits.max_message_bytes = 4096;
    })
    .await;
    let http = reqwest::Client::new();
    let url = format!("{}/chat/completions", router.openai_base());

    let (status, e) = error_of(
        http.post(&url)
            .header("content-type", "application/json")
            .body("{\"model\": ")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(e["type"], "invalid_request_error");
    assert_eq!(e["code"], "invalid_json");
    assert!(
        e["message"].as_str().unwrap().contains("not valid JSON"),
        "{e}"
    );

    let (status, e) = error_of(
        http.post(&url)
            .header("content-type", "text/plain")
            .body(chat_body("lab/m").to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 415);
    assert!(e["message"].as_str().unwrap().contains("application/json"));

    let mut big = chat_body("lab/m");
    big["messages"][0]["content"] = Value::String("x".repeat(8192));
    let (status, e) = error_of(http.post(&url).json(&big).send().await.unwrap()).await;
    assert_eq!(status, 413);
    assert!(e["message"].as_str().unwrap().contains("4096 bytes"), "{e}");

    let mut wrong_type = chat_body("lab/m");
    wrong_type["max_tokens"] = json!("three");
    let (status, e) = error_of(http.post(&url).json(&wrong_type).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(e["message"].as_str().unwrap().contains("max_tokens"), "{e}");

    let mut unsupported = chat_body("lab/m");
    unsupported["n"] = json!(3);
    let (status, e) = error_of(http.post(&url).json(&unsupported).send().await.unwrap()).await;
    assert_eq!((status, e["param"].as_str()), (400, Some("n")), "{e}");

    let mut zero = chat_body("lab/m");
    zero["max_tokens"] = json!(0);
    let (status, e) = error_of(http.post(&url).json(&zero).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(e["message"].as_str().unwrap().contains("max_tokens"), "{e}");

    let (status, e) = error_of(
        http.get(format!("{}/nowhere", router.openai_base()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("/v1/chat/completions")
    );
    let (status, _) = error_of(http.get(&url).send().await.unwrap()).await;
    assert_eq!(status, 405);

    let health: Value = http
        .get(format!("http://{}/health", router.http_addr.unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn the_callers_deadline_is_a_504_and_aborts_the_upstream() {
    let (emulator, router) = http_router_over_emulator(|_| {}).await;
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", router.openai_base()))
        .header("x-request-timeout-ms", "300")
        .json(&chat_body("lab/m@silent"))
        .send()
        .await
        .unwrap();
    let (status, e) = error_of(response).await;
    assert_eq!(status, 504);
    assert_eq!(e["type"], "timeout_error");
    assert!(
        emulator.wait_until(WAIT, |s| s.cancelled == 1).await,
        "the upstream request was aborted: {:?}",
        emulator.stats()
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_caller_that_leaves_a_whole_answer_cancels_the_upstream() {
    let (emulator, router) = http_router_over_emulator(|_| {}).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let result = http
        .post(format!("{}/chat/completions", router.openai_base()))
        .json(&chat_body("lab/m@silent"))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    assert!(
        emulator.wait_until(WAIT, |s| s.cancelled == 1).await,
        "the upstream request was aborted: {:?}",
        emulator.stats()
    );
    assert_eq!(wait_router_idle(&router).await, (0, 0));
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_caller_that_leaves_a_stream_cancels_the_upstream() {
    let (emulator, router) = http_router_over_emulator(|_| {}).await;
    let mut body = chat_body("lab/m@tokens=100000@gap=10ms");
    body["stream"] = json!(true);
    body["max_tokens"] = json!(8000);
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", router.openai_base()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: {"), "{first:?}");
    drop(stream);
    assert!(
        emulator.wait_until(WAIT, |s| s.cancelled == 1).await,
        "the upstream stream was aborted: {:?}",
        emulator.stats()
    );
    assert_eq!(wait_router_idle(&router).await, (0, 0));
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_stream_refused_before_any_text_gets_its_own_status() {
    let (_emulator, router) = http_router_over_emulator(|_| {}).await;
    let mut body = chat_body("lab/m@status=429@retry_after=3");
    body["stream"] = json!(true);
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", router.openai_base()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "3");
    assert_eq!(response.headers()["retry-after-ms"], "3000");
    let (status, e) = error_of(response).await;
    assert_eq!(status, 429);
    assert_eq!(e["type"], "rate_limit_error");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_full_queue_is_a_429_with_retry_after() {
    let (emulator, router) = http_router_over_emulator(|c| {
        c.endpoints[0].max_concurrency = 1;
        c.executor.max_queue = 0;
    })
    .await;
    let url = format!("{}/chat/completions", router.openai_base());
    // The one slot is held by a request the upstream never answers.
    let holder = {
        let url = url.clone();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .json(&chat_body("lab/m@silent"))
                .send()
                .await
        })
    };
    assert!(emulator.wait_until(WAIT, |s| s.in_flight == 1).await);
    let response = reqwest::Client::new()
        .post(&url)
        .json(&chat_body("lab/m"))
        .send()
        .await
        .unwrap();
    let retry_after = response.headers().get("retry-after").cloned();
    let (status, e) = error_of(response).await;
    assert_eq!(status, 429, "{e}");
    assert_eq!(e["code"], "resource_exhausted");
    assert!(e["message"].as_str().unwrap().contains("queue"), "{e}");
    assert!(retry_after.is_some(), "a full queue says when to retry");
    holder.abort();
    assert!(emulator.wait_until(WAIT, |s| s.cancelled == 1).await);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_stream_on_a_cold_local_model_says_so_in_an_sse_comment() {
    use ai_router_testkit::models::ModelDir;
    use ai_router_testkit::router::{TestRouter, local_config};
    let models = ModelDir::with_models(&["cold"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let router = TestRouter::start(config).await.unwrap();
    let mut body = chat_body("cold");
    body["stream"] = json!(true);
    let raw = reqwest::Client::new()
        .post(format!("{}/chat/completions", router.openai_base()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let comment = raw
        .lines()
        .position(|l| l.starts_with(": loading model cold"))
        .unwrap_or_else(|| panic!("no loading comment in:\n{raw}"));
    let first_content = raw
        .lines()
        .position(|l| l.contains("\"content\":\"") && !l.contains("\"content\":\"\""))
        .unwrap_or(usize::MAX);
    assert!(
        comment < first_content,
        "the comment comes before any text:\n{raw}"
    );
    assert!(raw.trim_end().ends_with("data: [DONE]"), "{raw}");
    router.stop().await.unwrap();
}
