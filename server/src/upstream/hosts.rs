//! The seam between the attempt loop and a pool of hosts behind one
//! endpoint. The loop asks the pool for a host before every attempt
//! (naming the hosts already tried, so a retry goes elsewhere when it can)
//! and tells the host how the attempt went (for its load, health and
//! prefix index). The pool itself lives with the backends
//! (`backend::hosts`); this layer only knows the trait.

use http::Uri;

use super::call::ChatCall;
use super::error::UpstreamError;

/// A pool's stable key for one host (a hash of its URL).
pub type HostKey = u64;

/// Where each attempt of a pooled endpoint's call goes.
pub trait HostSource: Send + Sync + std::fmt::Debug {
    /// The host for the next attempt of `call`, never one in `tried` while
    /// another can take it. Fails when no host can take it (none known, or
    /// the only one is ejected).
    fn pick(
        &self,
        call: &ChatCall,
        tried: &[HostKey],
    ) -> Result<Box<dyn HostAttempt>, UpstreamError>;

    /// Whether a host outside `tried` could take the next attempt (a retry
    /// that goes elsewhere need not back off first).
    fn has_untried(&self, tried: &[HostKey]) -> bool;
}

/// One attempt on one host: counted in the host's load until it is
/// finished or dropped (a dropped attempt, e.g. the caller left, says
/// nothing about the host's health).
pub trait HostAttempt: Send + Sync {
    /// The host's key.
    fn key(&self) -> HostKey;
    /// The host's chat completions URL, parsed once when the host joined.
    fn chat_url(&self) -> &Uri;
    /// Reports how the attempt went; true when a failure was counted
    /// against the host (then it is the host's, not the model's: the
    /// (endpoint, model) breaker leaves it out).
    fn finish(self: Box<Self>, result: AttemptResult<'_>) -> bool;
}

/// How one attempt ended, as far as its host is concerned.
#[derive(Debug, Clone, Copy)]
pub enum AttemptResult<'a> {
    /// An answer arrived; the cache reuse it reported, if any.
    Answered {
        /// Prompt tokens the upstream counted.
        prompt_tokens: u32,
        /// Prompt tokens it served from its cache
        /// (`usage.prompt_tokens_details.cached_tokens` or llama-server's
        /// `timings.cache_n`), when it said.
        cached_tokens: Option<u32>,
        /// When its first token arrived, when known (the host's latency
        /// runs to here; else to the whole answer).
        first_token_at: Option<std::time::Instant>,
    },
    /// The attempt failed.
    Failed(&'a UpstreamError),
}
