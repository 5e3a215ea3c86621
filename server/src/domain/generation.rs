//! What a request may ask of generation beyond sampling: tools the model
//! may call and the calls it makes, and a constrained output format. JSON
//! payloads (a tool's parameters, a schema) are kept as the JSON text the
//! caller sent, checked to be a JSON object by validation.

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// Function name (`[A-Za-z0-9_-]{1,64}`).
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// Its parameters' JSON Schema (JSON object text); None: no parameters.
    pub parameters: Option<String>,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// Never call a tool.
    None,
    /// Call at least one.
    Required,
    /// Call this function.
    Function(String),
}

/// A call the model made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCall {
    /// The upstream's id for it.
    pub id: String,
    /// Function name.
    pub name: String,
    /// Arguments, JSON text as the model wrote it.
    pub arguments: String,
}

/// A streamed piece of a tool call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallDelta {
    /// Which call of the answer it belongs to.
    pub index: u32,
    /// The call's id (first piece).
    pub id: Option<String>,
    /// Function name (first piece).
    pub name: Option<String>,
    /// More argument text.
    pub arguments: String,
}

/// A constrained output format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseFormat {
    /// Any JSON object.
    JsonObject,
    /// JSON valid against `schema` (JSON object text).
    JsonSchema {
        /// The schema's name.
        name: String,
        /// The schema.
        schema: String,
        /// OpenAI's strict flag.
        strict: bool,
    },
}

/// The log-probability of one generated token, with the alternatives asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenLogprob {
    /// The token's text.
    pub token: String,
    /// Its natural-log probability.
    pub logprob: f64,
    /// The most likely tokens at this position, with theirs.
    pub top: Vec<(String, f64)>,
}
