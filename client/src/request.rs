//! A builder for `GenerateRequest`, so callers don't assemble the `oneof`
//! input and the optional `GenerationParams` by hand.

use crate::proto::generate_request::Input;
use crate::proto::{ChatMessage, ChatMessages, GenerateRequest, GenerationParams};

/// Builds a [`GenerateRequest`] step by step.
///
/// Parameters left unset stay unset on the wire, so the upstream's defaults
/// apply. Nothing is validated here: the router is the authority on limits
/// (its token cap, for instance) and answers `INVALID_ARGUMENT` with a reason.
///
/// ```
/// use ai_router_client::GenerateRequestBuilder;
///
/// let req = GenerateRequestBuilder::new("tiny")
///     .prompt("Say hi")
///     .max_tokens(32)
///     .temperature(0.2)
///     .stop("\n")
///     .fallbacks(["openrouter/openai/gpt-4o-mini"])
///     .build();
/// assert_eq!(req.model, "tiny");
/// assert_eq!(req.params.unwrap().max_tokens, Some(32));
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct GenerateRequestBuilder {
    req: GenerateRequest,
}

impl GenerateRequestBuilder {
    /// Starts a request for `model` (an id as listed by `ListModels`).
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            req: GenerateRequest {
                model: model.into(),
                ..GenerateRequest::default()
            },
        }
    }

    /// Uses a plain prompt as the input (sent as one user message),
    /// replacing any messages set earlier.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.req.input = Some(Input::Prompt(prompt.into()));
        self
    }

    /// Uses chat messages, oldest first, as the input, replacing any prompt
    /// or messages set earlier.
    pub fn messages(mut self, messages: impl IntoIterator<Item = ChatMessage>) -> Self {
        self.req.input = Some(Input::Messages(ChatMessages {
            messages: messages.into_iter().collect(),
        }));
        self
    }

    /// Appends one chat message; a prompt set earlier is replaced.
    pub fn message(mut self, role: impl Into<String>, content: impl Into<String>) -> Self {
        let msg = ChatMessage {
            role: role.into(),
            content: content.into(),
            ..Default::default()
        };
        match &mut self.req.input {
            Some(Input::Messages(list)) => list.messages.push(msg),
            _ => {
                self.req.input = Some(Input::Messages(ChatMessages {
                    messages: vec![msg],
                }));
            }
        }
        self
    }

    /// Caps the number of generated tokens.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.params().max_tokens = Some(max_tokens);
        self
    }

    /// Sets the sampling temperature.
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.params().temperature = Some(temperature);
        self
    }

    /// Sets the nucleus sampling mass.
    pub fn top_p(mut self, top_p: f32) -> Self {
        self.params().top_p = Some(top_p);
        self
    }

    /// Adds one stop sequence (call again for more, or use [`Self::stops`]).
    pub fn stop(mut self, stop: impl Into<String>) -> Self {
        self.params().stop.push(stop.into());
        self
    }

    /// Adds several stop sequences.
    pub fn stops(mut self, stops: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.params().stop.extend(stops.into_iter().map(Into::into));
        self
    }

    /// Sets the sampling seed, for reproducible output where supported.
    pub fn seed(mut self, seed: i64) -> Self {
        self.params().seed = Some(seed);
        self
    }

    /// Adds fallback model ids, tried in order when the primary fails before
    /// producing output.
    pub fn fallbacks(mut self, models: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.req
            .fallback_models
            .extend(models.into_iter().map(Into::into));
        self
    }

    /// Sets the caller's own id, echoed in the response and attached to the
    /// router's trace so the two sides' logs can be joined.
    pub fn client_request_id(mut self, id: impl Into<String>) -> Self {
        self.req.client_request_id = id.into();
        self
    }

    /// Returns the finished request.
    pub fn build(self) -> GenerateRequest {
        self.req
    }

    /// The params message, created on first use so a request with no
    /// parameters sends none.
    fn params(&mut self) -> &mut GenerationParams {
        self.req
            .params
            .get_or_insert_with(GenerationParams::default)
    }
}

impl From<GenerateRequestBuilder> for GenerateRequest {
    fn from(builder: GenerateRequestBuilder) -> Self {
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_request_has_no_params() {
        let req = GenerateRequestBuilder::new("m").prompt("p").build();
        assert_eq!(req.model, "m");
        assert_eq!(req.input, Some(Input::Prompt("p".into())));
        assert_eq!(req.params, None);
        assert!(req.fallback_models.is_empty());
    }

    #[test]
    fn every_setter_lands_in_the_right_field() {
        let req = GenerateRequestBuilder::new("m")
            .prompt("p")
            .max_tokens(7)
            .temperature(0.5)
            .top_p(0.9)
            .stop("a")
            .stops(["b", "c"])
            .seed(-3)
            .fallbacks(["f1", "f2"])
            .client_request_id("id-1")
            .build();
        let params = req.params.unwrap();
        assert_eq!(params.max_tokens, Some(7));
        assert_eq!(params.temperature, Some(0.5));
        assert_eq!(params.top_p, Some(0.9));
        assert_eq!(params.stop, ["a", "b", "c"]);
        assert_eq!(params.seed, Some(-3));
        assert_eq!(req.fallback_models, ["f1", "f2"]);
        assert_eq!(req.client_request_id, "id-1");
    }

    #[test]
    fn messages_replace_prompt_and_message_appends() {
        let req = GenerateRequestBuilder::new("m")
            .prompt("gone")
            .message("system", "be brief")
            .message("user", "hi")
            .build();
        let Some(Input::Messages(list)) = req.input else {
            panic!("expected messages");
        };
        assert_eq!(list.messages.len(), 2);
        assert_eq!(list.messages[1].role, "user");

        let req = GenerateRequestBuilder::new("m")
            .messages(vec![ChatMessage {
                role: "user".into(),
                content: "x".into(),
                ..Default::default()
            }])
            .prompt("last wins")
            .build();
        assert_eq!(req.input, Some(Input::Prompt("last wins".into())));
    }
}
