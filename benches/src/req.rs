//! Request builders shared by the router side and the direct side, so both
//! ask the upstream for exactly the same work.

use ai_router_proto::v1::{GenerateRequest, GenerationParams, generate_request::Input};
use serde_json::json;

/// What one request asks for.
#[derive(Debug, Clone)]
pub struct Ask {
    /// Model id (router side) or upstream model name (direct side).
    pub model: String,
    /// The prompt, sent as one user message.
    pub prompt: String,
    /// Length cap.
    pub max_tokens: u32,
    /// Greedy sampling with a seed, so both paths generate the same tokens.
    pub greedy: bool,
}

impl Ask {
    /// A request for `model`.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>, max_tokens: u32) -> Self {
        Ask {
            model: model.into(),
            prompt: prompt.into(),
            max_tokens,
            greedy: false,
        }
    }

    /// Temperature 0 and a fixed seed.
    pub fn greedy(mut self) -> Self {
        self.greedy = true;
        self
    }

    /// The same ask for another model name.
    pub fn with_model(&self, model: impl Into<String>) -> Self {
        Ask {
            model: model.into(),
            ..self.clone()
        }
    }

    /// The gRPC request.
    pub fn grpc(&self) -> GenerateRequest {
        GenerateRequest {
            model: self.model.clone(),
            input: Some(Input::Prompt(self.prompt.clone())),
            params: Some(GenerationParams {
                max_tokens: Some(self.max_tokens),
                temperature: self.greedy.then_some(0.0),
                seed: self.greedy.then_some(1),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The JSON body the router itself sends upstream for this request
    /// (streamed, with the usage chunk).
    pub fn openai_body(&self) -> serde_json::Value {
        let mut body = json!({
            "model": self.model,
            "messages": [{"role": "user", "content": self.prompt}],
            "max_tokens": self.max_tokens,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if self.greedy {
            body["temperature"] = json!(0.0);
            body["seed"] = json!(1);
        }
        body
    }
}
