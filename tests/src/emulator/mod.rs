//! A faithful, fault-injecting emulator of an OpenAI-compatible /
//! OpenRouter chat-completions upstream, for integration tests and
//! benchmarks.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use ai_router_testkit::emulator::Emulator;
//! let emu = Emulator::start().await?;
//! let url = format!("{}/chat/completions", emu.openrouter_base());
//! // POST {"model": "m@flaky=2@gap=5ms", "messages": [...]} to `url`:
//! // the first two calls get 503, then tokens arrive 5 ms apart.
//! # let _ = url;
//! emu.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Routes
//! `POST /v1/chat/completions` and `POST /api/v1/chat/completions` (same
//! handler), `POST /v1/embeddings` (and under `/api`: a deterministic
//! 4-dimensional vector per input), `GET /v1/models`, `GET /api/v1/models`,
//! `GET /health`.
//!
//! # Output
//! Deterministic: token `i` is `tok{i}`, so the content is
//! `"tok0 tok1 ..."`. The count is `min(tokens=, max_tokens)`; without a
//! `tokens=` directive the model "wants" [`EmulatorConfig::default_tokens`]
//! (8). `finish_reason` is `"length"` when `max_tokens` cut the answer,
//! otherwise `"stop"` (also when a `stop` sequence matched). Usage has a
//! deterministic `cost` ($1/M prompt, $2/M completion tokens).
//!
//! # Directives
//! In the model name after `@` (`m@tokens=20@gap=5ms`), or in the
//! `x-emulator-behaviour` header (separated by `,` or `@`; the model name
//! wins on conflict). Durations need a unit: `us`, `ms`, `s`, `m`
//! (`1.5s` allowed). Unknown/malformed/duplicate directives → 400.
//!
//! | directive | effect |
//! |---|---|
//! | `delay=D` | wait before answering (before headers), for every outcome |
//! | `gap=D` | per-token time: between SSE tokens; `tokens*gap` before a non-streamed answer |
//! | `tokens=N` | tokens the model produces (capped by `max_tokens`) |
//! | `silent` | accept, never answer; hang until the client leaves |
//! | `silent_after=N` | stream N tokens, then hang |
//! | `flaky=N` | first N requests for this exact model string → 503 |
//! | `rate_limit=N` | next N requests (after any `flaky`) → 429 + `Retry-After` |
//! | `status=CODE` | always answer CODE (400-599), OpenRouter error body; 429 adds `Retry-After: 1` |
//! | `retry_after=S` | `Retry-After` value for 429 (and 503 if given) |
//! | `midstream_error=N` | N tokens then an SSE `error` event (`finish_reason: "error"`), no `[DONE]`; non-streaming: 200 with an `error` object |
//! | `reset` | TCP RST, no response at all (see below) |
//! | `reasoning` | the answer starts with reasoning (`"think0 think1"`, OpenRouter's `reasoning` field, streamed in two pieces) |
//!
//! # Tools and JSON output
//! With `tools` (and `tool_choice` not `"none"`), the model calls the
//! function `tool_choice` names, else the first tool, instead of answering
//! (with `"auto"` or no choice, only while the last message is not a tool
//! result, so an agent loop ends): `finish_reason: "tool_calls"`, one call
//! with id `call_0` whose arguments are the tokens as a JSON object,
//! `{"text":"tok0 tok1"}`, streamed in pieces after a first piece that
//! names the function. With `response_format` `json_object` or
//! `json_schema`, the content is that same JSON object. With `logprobs`,
//! every token has log-probability -0.5 and `top_logprobs` alternatives
//! (itself, then `alt1`, `alt2`... at -1.5, -2.5...), per chunk when
//! streamed.
//!
//! Precedence: `reset` > `status` > `flaky` > `rate_limit` > `silent` >
//! generation. Generating requests (and `silent`) wait for a slot when
//! [`EmulatorConfig::slots`] is set, then `delay`.
//!
//! # `reset` and connection counting
//! The server is `axum::serve` over a wrapping listener (`conn.rs`) that
//! counts each accepted TCP connection and wraps its stream. `reset` throws
//! that connection's kill switch: all further IO on it fails, hyper drops
//! the connection (and the handler), and the socket closes with
//! `SO_LINGER=0`, so the client gets a TCP RST and `reqwest` reports a
//! connection error. Shutdown throws every live connection's switch, since
//! axum's per-connection tasks would otherwise outlive the server task.

mod behaviour;
mod config;
mod conn;
mod errors;
mod generate;
mod handlers;
mod request;
mod respond;
mod sse;
mod state;
mod stats;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use behaviour::parse_duration;
pub use config::EmulatorConfig;
pub use stats::EmulatorStats;

use conn::{ConnHandle, EmuListener};
use state::AppState;
use stats::Shared;

/// A running emulator; stops (and drops its connections) on
/// [`Emulator::shutdown`] or drop.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts with [`EmulatorConfig::default`] on `127.0.0.1:0`.
    pub async fn start() -> anyhow::Result<Emulator> {
        Self::start_with(EmulatorConfig::default()).await
    }

    /// Binds `127.0.0.1:0` and serves in a background task. The listener is
    /// bound before this returns, so the server is immediately reachable
    /// (the kernel queues connections until the task accepts them).
    pub async fn start_with(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Like [`Emulator::start_with`] on a given address (the `emulator`
    /// binary lets its caller choose the port; tests use port 0).
    pub async fn start_on(addr: SocketAddr, config: EmulatorConfig) -> anyhow::Result<Emulator> {
        if config.slots == Some(0) {
            anyhow::bail!("EmulatorConfig::slots must be at least 1 (None = unlimited)");
        }
        let state = AppState::new(config, Arc::default()).map_err(anyhow::Error::msg)?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the emulator listener on {addr}"))?;
        let addr = listener.local_addr()?;
        let shared = state.shared.clone();
        let app = handlers::router(state).into_make_service_with_connect_info::<ConnHandle>();
        let listener = EmuListener::new(listener, shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("emulator server stopped: {e}");
            }
        });
        Ok(Emulator {
            addr,
            shared,
            task: Some(task),
        })
    }

    /// `http://ADDR:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// OpenAI-style base: `base_url() + "/v1"`.
    pub fn openai_base(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// OpenRouter-style base: `base_url() + "/api/v1"`.
    pub fn openrouter_base(&self) -> String {
        format!("{}/api/v1", self.base_url())
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the counters and the last request.
    pub fn stats(&self) -> EmulatorStats {
        self.shared.snapshot()
    }

    /// Waits until `pred` holds for the stats, or `timeout` passes; returns
    /// whether it held. Woken by every counter change, so tests need no
    /// sleeps or polling loops.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&EmulatorStats) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            // Register before checking, so a change in between is not lost.
            notified.as_mut().enable();
            if pred(&self.stats()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return pred(&self.stats());
            }
        }
    }

    /// Stops accepting, aborts every open connection (hanging requests are
    /// dropped and count as cancelled) and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.stop() {
            // The task was aborted; a cancellation JoinError is expected.
            let _ = task.await;
        }
        // Catch connections accepted between the abort and the task ending.
        self.shared.kill_all_connections();
    }

    fn stop(&mut self) -> Option<JoinHandle<()>> {
        let task = self.task.take();
        if let Some(t) = &task {
            t.abort();
        }
        self.shared.kill_all_connections();
        task
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}
