//! End-to-end tests of the emulator over real HTTP with reqwest.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use super::{Emulator, EmulatorConfig};

/// Upper bound for waiting on an async counter; tests never sleep.
const WAIT: Duration = Duration::from_secs(5);

fn url(emu: &Emulator) -> String {
    format!("{}/chat/completions", emu.openai_base())
}

fn req(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "say something nice"}]})
}

fn stream_req(model: &str) -> Value {
    let mut r = req(model);
    r["stream"] = json!(true);
    r["stream_options"] = json!({"include_usage": true});
    r
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> reqwest::Response {
    client.post(url).json(body).send().await.unwrap()
}

/// Splits an SSE body into events (without the trailing blank line).
fn events(text: &str) -> Vec<&str> {
    text.split("\n\n").filter(|e| !e.is_empty()).collect()
}

fn data_json(event: &str) -> Value {
    serde_json::from_str(event.strip_prefix("data: ").unwrap()).unwrap()
}

#[tokio::test]
async fn non_streaming_ok() {
    let emu = Emulator::start().await.unwrap();
    let client = reqwest::Client::new();
    let mut body = req("m");
    body["max_tokens"] = json!(3);
    let resp = post(&client, &url(&emu), &body).await;
    assert_eq!(resp.status(), 200);
    let gen_id = resp.headers()["x-generation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["id"], gen_id.as_str());
    assert!(gen_id.starts_with("gen-"));
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "m");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "tok0 tok1 tok2");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    // 3 words + 4 per message.
    assert_eq!(v["usage"]["prompt_tokens"], 7);
    assert_eq!(v["usage"]["completion_tokens"], 3);
    assert_eq!(v["usage"]["total_tokens"], 10);
    assert!(v["usage"]["cost"].as_f64().unwrap() > 0.0);

    // Default length, via the OpenRouter path: 8 tokens, natural stop.
    let or_url = format!("{}/chat/completions", emu.openrouter_base());
    let v: Value = post(&client, &or_url, &req("m"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["usage"]["completion_tokens"], 8);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    let s = emu.stats();
    assert_eq!((s.requests, s.in_flight, s.cancelled), (2, 0, 0));
    assert_eq!(s.last_body, Some(req("m")));
}

#[tokio::test]
async fn streaming_ok() {
    let emu = Emulator::start().await.unwrap();
    let client = reqwest::Client::new();
    let resp = post(&client, &url(&emu), &stream_req("m@tokens=3@gap=1ms")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let gen_id = resp.headers()["x-generation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = resp.text().await.unwrap();
    assert!(text.starts_with(": OPENROUTER PROCESSING\n\n"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    let ev = events(&text);
    // comment, 3 tokens, final, usage, [DONE]
    assert_eq!(ev.len(), 7, "{text}");
    let chunks: Vec<Value> = ev[1..6].iter().map(|e| data_json(e)).collect();
    for c in &chunks {
        assert_eq!(c["id"], gen_id.as_str());
        assert_eq!(c["object"], "chat.completion.chunk");
    }
    let content: String = chunks[..3]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(content, "tok0 tok1 tok2");
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[4]["choices"], json!([]));
    assert_eq!(chunks[4]["usage"]["completion_tokens"], 3);
    assert!(chunks[4]["usage"]["cost"].as_f64().unwrap() > 0.0);

    // Without include_usage there is no usage chunk.
    let mut body = stream_req("m@tokens=2");
    body["stream_options"] = json!(null);
    let text = post(&client, &url(&emu), &body).await.text().await.unwrap();
    assert_eq!(events(&text).len(), 5, "{text}");
    assert!(!text.contains("usage"));

    assert!(emu.wait_until(WAIT, |s| s.in_flight == 0).await);
    assert_eq!(emu.stats().cancelled, 0);
}

#[tokio::test]
async fn flaky_then_ok_per_model_name() {
    let emu = Emulator::start().await.unwrap();
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let resp = post(&client, &url(&emu), &req("m@flaky=2")).await;
        statuses.push(resp.status().as_u16());
        if resp.status() == 503 {
            let v: Value = resp.json().await.unwrap();
            assert_eq!(
                v,
                json!({"error": {"code": 503, "message": "upstream overloaded"}})
            );
        }
    }
    assert_eq!(statuses, [503, 503, 200]);
    // Another model string has its own counter.
    let resp = post(&client, &url(&emu), &req("other@flaky=1")).await;
    assert_eq!(resp.status(), 503);
}

#[tokio::test]
async fn rate_limit_and_status_codes() {
    let emu = Emulator::start().await.unwrap();
    let client = reqwest::Client::new();
    let resp = post(&client, &url(&emu), &req("m@rate_limit=1")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(
        post(&client, &url(&emu), &req("m@rate_limit=1"))
            .await
            .status(),
        200
    );

    let resp = post(&client, &url(&emu), &req("m@status=429@retry_after=7")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");

    let resp = post(&client, &url(&emu), &req("m@status=402")).await;
    assert_eq!(resp.status(), 402);
    assert!(resp.headers().get("retry-after").is_none());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {"code": 402, "message": "Insufficient credits"}})
    );

    // The header selects behaviour too.
    let resp = client
        .post(url(&emu))
        .header("x-emulator-behaviour", "status=500")
        .json(&req("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
}

#[tokio::test]
async fn midstream_error() {
    let emu = Emulator::start().await.unwrap();
    let client = reqwest::Client::new();
    let resp = post(&client, &url(&emu), &stream_req("m@midstream_error=2")).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("[DONE]"), "{text}");
    let ev = events(&text);
    assert_eq!(ev.len(), 4, "{text}"); // comment, 2 tokens, error
    let err = data_json(ev[3]);
    assert_eq!(err["error"]["code"], 502);
    assert_eq!(err["error"]["message"], "provider disconnected");
    assert_eq!(err["choices"][0]["finish_reason"], "error");

    let resp = post(&client, &url(&emu), &req("m@midstream_error=1")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 502);
    assert_eq!(v["choices"][0]["message"]["content"], "tok0");
    assert!(emu.wait_until(WAIT, |s| s.in_flight == 0).await);
    assert_eq!(emu.stats().cancelled, 0);
}

#[tokio::test]
async fn silent_times_out_and_is_cancelled() {
    let emu = Emulator::start().await.unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = client
        .post(url(&emu))
        .json(&req("m@silent"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        emu.wait_until(WAIT, |s| s.in_flight == 0 && s.cancelled == 1)
            .await,
        "{:?}",
        emu.stats()
    );
    assert_eq!(emu.stats().max_in_flight, 1);
}

#[tokio::test]
async fn silent_after_streams_then_hangs() {
    let emu = Emulator::start().await.unwrap();
    let client = reqwest::Client::new();
    let resp = post(&client, &url(&emu), &stream_req("m@silent_after=2")).await;
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    while seen.matches("tok").count() < 2 {
        seen.push_str(std::str::from_utf8(&body.next().await.unwrap().unwrap()).unwrap());
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(100), body.next())
            .await
            .is_err()
    );
    assert_eq!(emu.stats().in_flight, 1);
    drop(body);
    assert!(
        emu.wait_until(WAIT, |s| s.in_flight == 0 && s.cancelled == 1)
            .await,
        "{:?}",
        emu.stats()
    );
}

#[tokio::test]
async fn reset_is_a_connection_error() {
    let emu = Emulator::start().await.unwrap();
    let client = reqwest::Client::new();
    let err = client
        .post(url(&emu))
        .json(&req("m@reset"))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout() && !err.is_status(), "{err:?}");
    // The socket was closed with SO_LINGER=0: the client sees ECONNRESET.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut reset = false;
    while let Some(e) = source {
        reset |= e
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset);
        source = e.source();
    }
    assert!(reset, "{err:?}");
    assert!(
        emu.wait_until(WAIT, |s| s.in_flight == 0 && s.connections_open == 0)
            .await
    );
    let s = emu.stats();
    assert_eq!((s.requests, s.cancelled), (1, 0));
    // The emulator keeps serving.
    assert_eq!(post(&client, &url(&emu), &req("m")).await.status(), 200);
}

#[tokio::test]
async fn keep_alive_reuses_one_connection() {
    let emu = Emulator::start().await.unwrap();
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let resp = post(&client, &url(&emu), &req("m")).await;
        resp.bytes().await.unwrap();
    }
    assert_eq!(emu.stats().connections_opened, 1);
    let other = reqwest::Client::new();
    post(&other, &url(&emu), &req("m"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(emu.stats().connections_opened, 2);
}

#[tokio::test]
async fn auth_headers_and_bad_input() {
    let emu = Emulator::start_with(EmulatorConfig::default().with_api_key("sk-test"))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    for auth in [None, Some("Bearer nope")] {
        let mut rb = client.post(url(&emu)).json(&req("m"));
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            v,
            json!({"error": {"code": 401, "message": "No auth credentials found"}})
        );
    }
    let resp = client
        .post(url(&emu))
        .bearer_auth("sk-test")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("HTTP-Referer", "https://example.test")
        .header("X-Title", "emulator test")
        .json(&req("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let s = emu.stats();
    assert_eq!(s.header("Authorization"), Some("Bearer sk-test"));
    assert_eq!(s.header("http-referer"), Some("https://example.test"));
    assert_eq!(s.header("x-title"), Some("emulator test"));
    assert!(s.header("traceparent").is_some());

    let send_raw = |body: &'static str| {
        client
            .post(url(&emu))
            .bearer_auth("sk-test")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for bad in [
        "{not json",
        r#"{"model":"m"}"#,
        r#"{"model":"m@bogus","messages":[{"role":"user","content":"x"}]}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}"#,
    ] {
        let resp = send_raw(bad).await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], 400);
        assert!(v["error"]["message"].is_string());
    }

    let health: Value = client
        .get(format!("{}/health", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));
    let models: Value = client
        .get(format!("{}/models", emu.openai_base()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "emulator/model");
}

#[tokio::test]
async fn slots_queue_extra_requests() {
    let emu = Emulator::start_with(EmulatorConfig::default().with_slots(1))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let holder = tokio::spawn({
        let (client, url) = (client.clone(), url(&emu));
        async move { client.post(url).json(&req("m@silent")).send().await }
    });
    assert!(emu.wait_until(WAIT, |s| s.in_flight == 1).await);
    let waiter = tokio::spawn({
        let (client, url) = (client.clone(), url(&emu));
        async move { client.post(url).json(&req("m")).send().await }
    });
    assert!(emu.wait_until(WAIT, |s| s.queued == 1).await);
    // Both queue signals a router reads, as llama-server gives them.
    let read = |path: &str| {
        let request = client.get(format!("{}{path}", emu.base_url())).send();
        async move { request.await.unwrap().text().await.unwrap() }
    };
    let slots: serde_json::Value = serde_json::from_str(&read("/slots").await).unwrap();
    assert_eq!(slots, serde_json::json!([{"id": 0, "is_processing": true}]));
    let metrics = read("/metrics").await;
    assert!(
        metrics.contains("llamacpp:requests_deferred 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("llamacpp:requests_processing 1\n"),
        "{metrics}"
    );
    holder.abort();
    let resp = waiter.await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        emu.wait_until(WAIT, |s| s.queued == 0 && s.in_flight == 0)
            .await
    );
    let stats = emu.stats();
    assert_eq!(stats.max_in_flight, 2);
    // The holder took the free slot; only the second request waited.
    assert_eq!(stats.waited, 1);
}

#[tokio::test]
async fn shutdown_drops_hanging_requests() {
    let emu = Emulator::start().await.unwrap();
    let client = reqwest::Client::new();
    let pending = tokio::spawn({
        let (client, url) = (client.clone(), url(&emu));
        async move { client.post(url).json(&req("m@silent")).send().await }
    });
    assert!(emu.wait_until(WAIT, |s| s.in_flight == 1).await);
    let base = emu.base_url();
    emu.shutdown().await;
    let res = tokio::time::timeout(WAIT, pending).await.unwrap().unwrap();
    assert!(res.is_err(), "{res:?}");
    assert!(client.get(format!("{base}/health")).send().await.is_err());
}

#[tokio::test]
async fn delay_and_gap_take_at_least_that_long() {
    let emu = Emulator::start().await.unwrap();
    let client = reqwest::Client::new();
    let t = tokio::time::Instant::now();
    let resp = post(&client, &url(&emu), &req("m@delay=30ms@tokens=4@gap=5ms")).await;
    resp.bytes().await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(50),
        "{:?}",
        t.elapsed()
    );
}
