//! One OpenAI-compatible HTTP client for every backend: llama-server
//! children and remote endpoints (OpenRouter included) speak the same
//! `/v1/chat/completions` (and `/v1/embeddings`), so they share this code. Pooled connections,
//! SSE streaming, per-attempt timeouts, retries with backoff under a retry
//! budget, a circuit breaker per (remote endpoint, model), attempts spread over a
//! pooled endpoint's hosts ([`HostSource`]), error mapping.

mod breaker;
mod budget;
mod call;
mod client;
mod connector;
mod embed;
mod error;
mod hosts;
mod model_breakers;
mod response;
mod retry;
mod secret;
mod transport;
pub mod types;
mod uri;

pub use breaker::{BreakerConfig, BreakerSnapshot, BreakerState};
pub use budget::RetryBudgetConfig;
pub use call::{AttemptTimeouts, ChatCall, ChatOutcome, Target};
pub use client::{CallFailure, UpstreamClient};
pub use embed::EmbedOutcome;
pub use error::UpstreamError;
pub use hosts::{AttemptResult, HostAttempt, HostKey, HostSource};
pub use retry::RetryPolicy;
pub use secret::ApiKey;
pub use transport::ClientError;
pub use uri::uri_of;

#[cfg(test)]
mod tests;
