//! Helpers shared by the scenarios.

use std::sync::Arc;
use std::time::Duration;

use ai_router_benches::req::Ask;
use ai_router_proto::v1::router_client::RouterClient;
use ai_router_proto::v1::{GenerateRequest, GenerateResponse, StatsRequest, StatsResponse};
use futures::future::BoxFuture;
use tonic::transport::Channel;

/// The gRPC client type used everywhere.
pub type Client = RouterClient<Channel>;

pub use ai_router_benches::models::bigger_spec;

/// One unary Generate.
pub async fn generate(client: &Client, ask: &Ask) -> anyhow::Result<GenerateResponse> {
    Ok(client.clone().generate(ask.grpc()).await?.into_inner())
}

/// The Stats RPC.
pub async fn stats(client: &Client) -> anyhow::Result<StatsResponse> {
    Ok(client.clone().stats(StatsRequest {}).await?.into_inner())
}

/// A protobuf duration as a std one (zero when absent).
pub fn pb_dur(d: Option<ai_router_proto::v1::Duration>) -> Duration {
    d.map(|d| {
        Duration::from_secs(d.seconds.max(0) as u64) + Duration::from_nanos(d.nanos.max(0) as u64)
    })
    .unwrap_or_default()
}

/// Machine, date and binary notes printed before the tables.
pub fn print_machine() -> anyhow::Result<()> {
    use ai_router_benches::machine::{cores, cpu_model, utc_now};
    let (cpu, cores, date) = (cpu_model(), cores(), utc_now());
    let llama = ai_router_testkit::llama::llama_server()?;
    println!("# e2e run {date}\n");
    println!("- machine: {cores} cores, {cpu}");
    println!("- llama-server: {}", llama.display());
    println!(
        "- router, emulator, llama-server clients and load generator share this process and its cores"
    );
    Ok(())
}

/// One request, either straight to an upstream or through the router.
#[derive(Clone)]
pub enum Call {
    /// Direct streamed HTTP with this JSON body.
    Direct(ai_router_benches::direct::Direct, Arc<serde_json::Value>),
    /// Unary Generate through the router.
    Router(Client, Box<GenerateRequest>),
}

impl Call {
    /// Direct call for `ask`.
    pub fn direct(direct: &ai_router_benches::direct::Direct, ask: &Ask) -> Call {
        Call::Direct(direct.clone(), Arc::new(ask.openai_body()))
    }

    /// Router call for `ask`.
    pub fn router(client: &Client, ask: &Ask) -> Call {
        Call::Router(client.clone(), Box::new(ask.grpc()))
    }

    /// Performs the request once.
    pub async fn once(&self) -> anyhow::Result<()> {
        match self {
            Call::Direct(direct, body) => direct.chat(body).await.map(|_| ()),
            Call::Router(client, request) => {
                client.clone().generate((**request).clone()).await?;
                Ok(())
            }
        }
    }

    /// A closure for the load runners.
    pub fn runner(
        &self,
    ) -> impl Fn(usize) -> BoxFuture<'static, anyhow::Result<()>> + Clone + Send + Sync + 'static
    {
        let call = self.clone();
        move |_| {
            let call = call.clone();
            Box::pin(async move { call.once().await })
        }
    }
}

/// An emulator, a router with one endpoint `emu` pointing at it, and a
/// client: the set-up of the scenarios that measure the router itself.
pub struct EmuRouter {
    /// The upstream.
    pub emulator: ai_router_testkit::emulator::Emulator,
    /// The router.
    pub router: ai_router_testkit::router::TestRouter,
    /// A client on its own connection.
    pub client: Client,
}

impl EmuRouter {
    /// Starts both; `max_concurrency` is the endpoint's limit and `tweak`
    /// may change the rest of the router's config.
    pub async fn start(
        emulator: ai_router_testkit::emulator::EmulatorConfig,
        max_concurrency: u32,
        tweak: impl FnOnce(&mut ai_router::config::Config),
    ) -> anyhow::Result<EmuRouter> {
        use ai_router::config::{EndpointConfig, EndpointKind};
        let emulator = ai_router_testkit::emulator::Emulator::start_with(emulator).await?;
        let mut config = ai_router_testkit::router::remote_config()?;
        let mut endpoint =
            EndpointConfig::new("emu", EndpointKind::OpenAi, &emulator.openai_base());
        endpoint.max_concurrency = max_concurrency;
        config.endpoints.push(endpoint);
        tweak(&mut config);
        let router = ai_router_testkit::router::TestRouter::start(config).await?;
        let client = router.raw_client().await?;
        Ok(EmuRouter {
            emulator,
            router,
            client,
        })
    }

    /// Stops the router (graceful) and then the emulator.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.router.stop().await?;
        self.emulator.shutdown().await;
        Ok(())
    }
}

/// A latency histogram several tasks record into.
#[derive(Clone)]
pub struct SharedHist(Arc<std::sync::Mutex<ai_router_benches::load::Hist>>);

impl SharedHist {
    /// Empty.
    pub fn new() -> anyhow::Result<SharedHist> {
        Ok(SharedHist(Arc::new(std::sync::Mutex::new(
            ai_router_benches::load::new_hist()?,
        ))))
    }

    /// Records one duration.
    pub fn record(&self, d: Duration) -> anyhow::Result<()> {
        let mut h = self
            .0
            .lock()
            .map_err(|_| anyhow::anyhow!("histogram lock poisoned"))?;
        ai_router_benches::load::record(&mut h, d)
    }

    /// A copy of what was recorded.
    pub fn snapshot(&self) -> anyhow::Result<ai_router_benches::load::Hist> {
        Ok(self
            .0
            .lock()
            .map_err(|_| anyhow::anyhow!("histogram lock poisoned"))?
            .clone())
    }
}
