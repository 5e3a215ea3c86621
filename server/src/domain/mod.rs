//! The service's own vocabulary, at the bottom of the module graph: what a
//! request asks for (a validated [`Job`]), which model may answer
//! ([`ModelId`]) and of which kind ([`BackendKind`]), what came back
//! ([`Completion`] with its [`RequestTiming`]), embeddings ([`EmbedJob`],
//! [`Embeddings`]), tools and output formats
//! ([`Tool`], [`ToolCall`], [`ResponseFormat`]), where streamed output goes
//! ([`DeltaSink`], [`Delta`]), why a request was refused ([`ValidationError`]) and how
//! it ended ([`Outcome`]).
//!
//! Nothing here depends on another module of this crate or on a wire format
//! (proto, OpenAI JSON): the gRPC door converts proto into these types, the
//! upstream client converts them into its own wire types, and every layer in
//! between speaks only this.

mod completion;
mod embedding;
mod generation;
mod job;
mod model_id;
mod outcome;
mod priority;
mod sink;
mod timing;
mod validation;

pub use completion::{BackendKind, Completion};
pub use embedding::{EmbedJob, Embeddings};
pub use generation::{ResponseFormat, TokenLogprob, Tool, ToolCall, ToolCallDelta, ToolChoice};
pub use job::{ChatMessage, Job, Params, Role};
pub use model_id::{ModelId, ModelIdError};
pub use outcome::Outcome;
pub use priority::Priority;
pub use sink::{Delta, DeltaSink, LoadProgress};
pub use timing::RequestTiming;
pub use validation::ValidationError;
