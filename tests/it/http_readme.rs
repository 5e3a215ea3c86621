//! The README's `curl` examples for the HTTP door, run as written (only the
//! address changed) against a router serving a real tiny local model named
//! `demo` (and a second tiny file as the embedding model `demo-embed`), so the
//! documentation cannot drift from what the door does.

use ai_router::config::{LlamaSettings, LocalModelConfig};
use ai_router_testkit::gguf::write_tiny_llama_default;
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::router::{TestRouter, local_config};
use serde_json::Value;

/// The address the README's examples use.
const README_ADDR: &str = "127.0.0.1:8080";

/// Every ```sh block of the HTTP section whose first line runs curl.
fn curl_examples() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("## The OpenAI-compatible HTTP API")
        .expect("the README has the HTTP section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    section
        .split("```sh\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(code, _)| code.to_string()))
        .filter(|code| code.starts_with("curl "))
        .collect()
}

#[tokio::test]
async fn the_readme_curl_examples_work_as_written() {
    let examples = curl_examples();
    assert!(examples.len() >= 5, "{examples:?}");
    let models = ModelDir::with_models(&["demo"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    // Its own file: a declared model on a scanned file's path replaces it.
    let embed_dir = tempfile::tempdir().unwrap();
    let embed_path = embed_dir.path().join("demo-embed.gguf");
    write_tiny_llama_default(&embed_path, 3).unwrap();
    config.local.models.push(LocalModelConfig {
        id: "demo-embed".into(),
        path: embed_path,
        settings: LlamaSettings {
            embeddings: true,
            ..config.local.defaults.clone()
        },
    });
    let router = TestRouter::start(config).await.unwrap();
    let addr = router.http_addr.unwrap().to_string();

    for example in examples {
        let command = example.replace(README_ADDR, &addr);
        let out = tokio::process::Command::new("sh")
            .args(["-c", &command])
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{example}\nfailed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if command.contains("\"stream\":true") {
            check_stream(&example, &stdout);
        } else {
            let body: Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("{example}\nprinted {stdout:?}: {e}"));
            assert!(body.get("error").is_none(), "{example}\n{body}");
            check_whole(&example, &body);
        }
    }
    router.stop().await.unwrap();
}

fn check_whole(example: &str, body: &Value) {
    match body["object"].as_str() {
        Some("chat.completion") if example.contains("json_schema") => {
            // Grammar-constrained: the answer is the schema's JSON.
            let text = body["choices"][0]["message"]["content"].as_str().unwrap();
            let answer: Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{example}\nnot JSON ({e}): {text:?}"));
            assert!(
                answer["answer"] == "yes" || answer["answer"] == "no",
                "{answer}"
            );
        }
        Some("chat.completion") => {
            let text = body["choices"][0]["message"]["content"].as_str().unwrap();
            assert!(!text.is_empty(), "{example}\n{body}");
            assert_eq!(body["usage"]["completion_tokens"], 8, "{body}");
        }
        Some("list") if body["data"][0]["object"] == "embedding" => {
            assert_eq!(body["data"].as_array().unwrap().len(), 2, "{body}");
            assert_eq!(body["data"][1]["embedding"].as_array().unwrap().len(), 64);
        }
        Some("list") => {
            let ids: Vec<&str> = body["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|m| m["id"].as_str())
                .collect();
            assert_eq!(ids, ["demo", "demo-embed"], "{body}");
        }
        other => panic!("{example}\nunexpected object {other:?}: {body}"),
    }
}

fn check_stream(example: &str, stdout: &str) {
    let events: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"), "{example}\n{stdout}");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!text.is_empty(), "{stdout}");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 8, "{stdout}");
    assert_eq!(usage["choices"], serde_json::json!([]));
}
