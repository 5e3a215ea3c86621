//! Embeddings: the gRPC `Embed` and `/v1/embeddings` (through the official
//! `openai` SDK, base64 and float), served by a remote endpoint (the
//! emulator) and by a real llama-server child started with `--embeddings`
//! on the tiny generated GGUF; a chat model refuses to embed and an
//! embedding model refuses to chat, each naming what it cannot do.

use ai_router::config::{LlamaSettings, LocalModelConfig};
use ai_router_client::proto::{BackendKind, EmbedRequest};
use ai_router_testkit::gguf::write_tiny_llama_default;
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::python::run_sdk;
use ai_router_testkit::router::{TestRouter, local_config};
use serde_json::json;

use crate::common::{http_router_over_emulator, prompt};

fn embed(model: &str, inputs: &[&str]) -> EmbedRequest {
    EmbedRequest {
        model: model.into(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        client_request_id: "e1".into(),
    }
}

#[tokio::test]
async fn a_remote_endpoint_embeds_over_grpc_and_http() {
    let (emulator, router) = http_router_over_emulator(|_| {}).await;
    let mut client = router.raw_client().await.unwrap();
    let r = client
        .embed(embed("lab/e", &["hello world", "a"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.embeddings.len(), 2);
    assert_eq!(r.embeddings[0].values, [11.0, 2.0, 104.0, 100.0]);
    assert_eq!(r.embeddings[1].values, [1.0, 1.0, 97.0, 97.0]);
    assert_eq!((r.prompt_tokens, r.model.as_str()), (3, "lab/e"));
    assert_eq!(r.backend, BackendKind::Openai as i32);
    assert_eq!(r.client_request_id, "e1");
    let sent = emulator.stats().last_body.unwrap();
    assert_eq!(sent["model"], "e");
    assert_eq!(sent["input"], json!(["hello world", "a"]));

    let s = run_sdk("embeddings", &router.openai_base(), "lab/e", None)
        .await
        .unwrap();
    assert_eq!(
        s["vectors"],
        json!([[11.0, 2.0, 104.0, 100.0], [1.0, 1.0, 97.0, 97.0]]),
        "base64 decoded by the SDK: {s}"
    );
    assert_eq!(s["indexes"], json!([0, 1]));
    assert_eq!(s["float"], json!([11.0, 2.0, 104.0, 100.0]));
    assert_eq!(s["usage"]["prompt_tokens"], 3);

    let e = client.embed(embed("lab/e", &[])).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("inputs is empty"), "{e:?}");
    let e = client.embed(embed("lab/e", &["x", ""])).await.unwrap_err();
    assert!(e.message().contains("inputs[1] is empty"), "{e:?}");
    let stats = client
        .stats(ai_router_client::proto::StatsRequest {})
        .await
        .unwrap()
        .into_inner();
    let ok = stats
        .requests
        .iter()
        .find(|c| c.model == "lab/e" && c.status == "OK")
        .map(|c| c.count);
    assert_eq!(ok, Some(3), "{:?}", stats.requests);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_local_embedding_model_is_a_llama_server_with_embeddings() {
    let chat_models = ModelDir::with_models(&["chat"]).unwrap();
    let embed_dir = tempfile::tempdir().unwrap();
    let embed_path = embed_dir.path().join("embed.gguf");
    write_tiny_llama_default(&embed_path, 11).unwrap();
    let mut config = local_config(chat_models.path()).unwrap();
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    config.local.models.push(LocalModelConfig {
        id: "embed".into(),
        path: embed_path,
        settings: LlamaSettings {
            embeddings: true,
            ..config.local.defaults.clone()
        },
    });
    let router = TestRouter::start(config).await.unwrap();
    let mut client = router.raw_client().await.unwrap();

    let r = client
        .embed(embed("embed", &["hello world", "another text", "x"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.embeddings.len(), 3);
    let width = r.embeddings[0].values.len();
    assert_eq!(width, 64, "the tiny model is 64 wide");
    for e in &r.embeddings {
        assert_eq!(e.values.len(), width);
        let norm: f32 = e.values.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "llama-server normalises: {norm}");
    }
    assert_ne!(r.embeddings[0].values, r.embeddings[1].values);
    assert!(r.prompt_tokens > 0);
    assert_eq!(r.backend, BackendKind::Local as i32);
    assert!(r.timing.unwrap().cold_start);

    let s = run_sdk("embeddings", &router.openai_base(), "embed", None)
        .await
        .unwrap();
    assert_eq!(s["vectors"].as_array().unwrap().len(), 2);
    assert_eq!(s["vectors"][0].as_array().unwrap().len(), 64);
    // Same text, same vector, whichever door and encoding.
    let sdk_first: Vec<f32> = serde_json::from_value(s["float"].clone()).unwrap();
    for (a, b) in sdk_first.iter().zip(&r.embeddings[0].values) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }

    // Each model refuses what it is not for, naming it.
    let e = client.embed(embed("chat", &["x"])).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert_eq!(e.message(), "embeddings is not supported by local:chat");
    let e = client.generate(prompt("embed", "hi", 2)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("embedding model"), "{e:?}");
    router.stop().await.unwrap();
}
