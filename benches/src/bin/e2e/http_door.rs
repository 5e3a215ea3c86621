//! `http_door`: the latency the OpenAI-compatible HTTP door adds, against
//! the gRPC API for the same call and against calling the upstream
//! directly. Upstream: the emulator answering 8 SSE tokens with no delay,
//! so the differences are the router's own. Three paths, alternating in
//! rounds so drift hits all equally:
//! - direct: one pooled reqwest client streaming the upstream to `[DONE]`
//!   (what the router itself does upstream);
//! - gRPC: unary `Generate` over one channel;
//! - HTTP: `POST /v1/chat/completions` (whole answer) with one pooled
//!   keep-alive reqwest client, JSON decoded.

use std::sync::Arc;

use ai_router_benches::direct::Direct;
use ai_router_benches::load::{Hist, closed_loop, new_hist};
use ai_router_benches::report::{Table, diff, dur, pct, ratio};
use ai_router_benches::req::Ask;
use ai_router_testkit::emulator::EmulatorConfig;
use futures::future::BoxFuture;

use crate::common::{Call, EmuRouter};

const TOKENS: u32 = 8;
const ROUNDS: usize = 3;
/// (concurrency, requests per path).
const LOADS: [(usize, usize); 2] = [(1, 900), (16, 3000)];

/// One whole chat completion through the HTTP door.
#[derive(Clone)]
struct HttpCall {
    http: reqwest::Client,
    url: Arc<String>,
    body: Arc<serde_json::Value>,
}

impl HttpCall {
    async fn once(&self) -> anyhow::Result<String> {
        let response = self
            .http
            .post(self.url.as_str())
            .json(&*self.body)
            .send()
            .await?;
        anyhow::ensure!(response.status().is_success(), "HTTP {}", response.status());
        let body: serde_json::Value = response.json().await?;
        Ok(body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    fn runner(
        &self,
    ) -> impl Fn(usize) -> BoxFuture<'static, anyhow::Result<()>> + Clone + Send + Sync + 'static
    {
        let call = self.clone();
        move |_| {
            let call = call.clone();
            Box::pin(async move { call.once().await.map(|_| ()) })
        }
    }
}

#[derive(Default)]
struct Path {
    hist: Option<Hist>,
}

impl Path {
    fn add(&mut self, h: Hist) -> anyhow::Result<()> {
        match &mut self.hist {
            Some(total) => total.add(h)?,
            None => self.hist = Some(h),
        }
        Ok(())
    }

    fn take(&mut self) -> anyhow::Result<Hist> {
        self.hist.take().map_or_else(new_hist, Ok)
    }
}

pub async fn run() -> anyhow::Result<()> {
    let setup = EmuRouter::start(
        EmulatorConfig::default().with_default_tokens(u64::from(TOKENS)),
        256,
        |c| c.http_listen = Some(([127, 0, 0, 1], 0).into()),
    )
    .await?;
    let direct = Direct::new(&setup.emulator.openai_base())?;
    let ask = Ask::new("m", "Say something short.", TOKENS);
    let routed = ask.with_model("emu/m");
    let mut door_body = routed.openai_body();
    door_body["stream"] = serde_json::json!(false);
    door_body
        .as_object_mut()
        .map(|o| o.remove("stream_options"));
    let http = HttpCall {
        http: reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .build()?,
        url: Arc::new(format!("{}/chat/completions", setup.router.openai_base())),
        body: Arc::new(door_body),
    };

    // Sanity: all three paths give the same 8 tokens.
    let d = direct.chat(&ask.openai_body()).await?;
    let g = setup
        .client
        .clone()
        .generate(routed.grpc())
        .await?
        .into_inner();
    let h = http.once().await?;
    anyhow::ensure!(
        d.text == g.text && g.text == h,
        "paths disagree: {:?} / {:?} / {:?}",
        d.text,
        g.text,
        h
    );
    let direct_call = Call::direct(&direct, &ask).runner();
    let grpc_call = Call::router(&setup.client, &routed).runner();
    let http_call = http.runner();
    for _ in 0..2 {
        closed_loop(200, 4, direct_call.clone()).await?;
        closed_loop(200, 4, grpc_call.clone()).await?;
        closed_loop(200, 4, http_call.clone()).await?;
    }

    let mut table = Table::new(
        format!(
            "http_door: HTTP door vs gRPC vs direct, emulator upstream ({TOKENS} SSE tokens, no delay)"
        ),
        &[
            "load",
            "requests per path",
            "direct p50 / p99",
            "gRPC p50 / p99",
            "HTTP p50 / p99",
            "gRPC added p50 / p99",
            "HTTP added p50 / p99",
            "HTTP − gRPC p50 / p99",
            "HTTP / gRPC p50",
        ],
    );
    for (concurrency, n) in LOADS {
        let (mut d, mut g, mut h) = (Path::default(), Path::default(), Path::default());
        let per_round = n / ROUNDS;
        for round in 0..ROUNDS {
            for step in 0..3 {
                match (round + step) % 3 {
                    0 => d.add(closed_loop(per_round, concurrency, direct_call.clone()).await?)?,
                    1 => g.add(closed_loop(per_round, concurrency, grpc_call.clone()).await?)?,
                    _ => h.add(closed_loop(per_round, concurrency, http_call.clone()).await?)?,
                }
            }
        }
        let (dh, gh, hh) = (d.take()?, g.take()?, h.take()?);
        let p = |h: &Hist| (pct(h, 0.5), pct(h, 0.99));
        let ((d50, d99), (g50, g99), (h50, h99)) = (p(&dh), p(&gh), p(&hh));
        table.row(vec![
            format!("concurrency {concurrency}"),
            (per_round * ROUNDS).to_string(),
            format!("{} / {}", dur(d50), dur(d99)),
            format!("{} / {}", dur(g50), dur(g99)),
            format!("{} / {}", dur(h50), dur(h99)),
            format!("{} / {}", diff(g50, d50), diff(g99, d99)),
            format!("{} / {}", diff(h50, d50), diff(h99, d99)),
            format!("{} / {}", diff(h50, g50), diff(h99, g99)),
            ratio(h50.as_secs_f64(), g50.as_secs_f64()),
        ]);
    }
    table.note(format!(
        "Each path ran {ROUNDS} rounds per load, the three paths in rotating order; router, emulator and the clients share this process. The HTTP client decodes JSON (serde_json Value), the gRPC client protobuf; both keep one pooled connection per worker pool."
    ));
    table.print();
    setup.stop().await
}
