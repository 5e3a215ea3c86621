//! The standard health and reflection services answer, so grpcurl and any
//! load balancer work with no proto file.

use ai_router_testkit::router::{TestRouter, remote_config};
use futures::{FutureExt, StreamExt};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

#[tokio::test]
async fn health_reports_serving() {
    let router = TestRouter::start(remote_config().unwrap()).await.unwrap();
    let mut health = HealthClient::new(router.channel().await.unwrap());
    for service in ["", "airouter.v1.Router"] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            r.status,
            ServingStatus::Serving as i32,
            "service {service:?}"
        );
    }
    router.stop().await.unwrap();
}

/// One reflection conversation per protocol version: list the services, then
/// fetch the file that defines `airouter.v1.Router` (what `grpcurl describe`
/// does). The v1 and v1alpha modules have the same shapes under different
/// package names, hence a macro rather than a generic function.
macro_rules! reflection_round_trip {
    ($version:ident) => {{
        use tonic_reflection::pb::$version::ServerReflectionRequest;
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;

        let router = TestRouter::start(remote_config().unwrap()).await.unwrap();
        let mut reflection = ServerReflectionClient::new(router.channel().await.unwrap());
        let requests = vec![
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            },
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileContainingSymbol(
                    "airouter.v1.Router".into(),
                )),
            },
        ];
        let mut responses = reflection
            .server_reflection_info(futures::stream::iter(requests))
            .await
            .unwrap()
            .into_inner();
        let response = responses.next().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("unexpected reflection answer: {response:?}");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for expected in ["airouter.v1.Router", "grpc.health.v1.Health"] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
        let response = responses.next().await.unwrap().unwrap();
        let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
            panic!("unexpected reflection answer: {response:?}");
        };
        let files: Vec<prost_types::FileDescriptorProto> = files
            .file_descriptor_proto
            .iter()
            .map(|bytes| prost::Message::decode(bytes.as_slice()).unwrap())
            .collect();
        let methods: Vec<&str> = files
            .iter()
            .flat_map(|f| &f.service)
            .filter(|s| s.name() == "Router")
            .flat_map(|s| &s.method)
            .map(|m| m.name())
            .collect();
        assert!(methods.contains(&"Generate"), "{methods:?}");
        router.stop().await.unwrap();
    }};
}

#[tokio::test]
async fn reflection_v1_lists_and_describes_the_router() {
    reflection_round_trip!(v1);
}

/// grpcurl 1.8, grpc_cli and Postman ask only v1alpha.
#[tokio::test]
async fn reflection_v1alpha_lists_and_describes_the_router() {
    reflection_round_trip!(v1alpha);
}

/// Readiness and liveness part ways during a drain: `airouter.v1.Router`
/// goes NOT_SERVING (so Kubernetes and Envoy stop sending new calls) while
/// the liveness name never leaves SERVING (so a kubelet never restarts a
/// router that is finishing its calls). Both are watched from before the
/// stop to the end of the connection; a stream held open keeps the drain
/// going until the Router watch has reported the change.
#[tokio::test]
async fn drain_turns_readiness_off_and_leaves_liveness_on() {
    use ai_router::config::{EndpointConfig, EndpointKind};
    use ai_router_testkit::emulator::Emulator;
    let emulator = Emulator::start().await.unwrap();
    let mut config = remote_config().unwrap();
    config.shutdown_grace = std::time::Duration::from_secs(20);
    config.endpoints.push(EndpointConfig::new(
        "emu",
        EndpointKind::OpenAi,
        &emulator.openai_base(),
    ));
    let router = TestRouter::start(config).await.unwrap();
    let health = HealthClient::new(router.channel().await.unwrap());
    let watch = |service: &str| {
        let mut health = health.clone();
        let request = HealthCheckRequest {
            service: service.into(),
        };
        async move { health.watch(request).await.unwrap().into_inner() }
    };
    let mut liveness = watch(ai_router::LIVENESS_SERVICE).await;
    let mut readiness = watch("airouter.v1.Router").await;
    let mut overall = watch("").await;
    let first = |s: Option<Result<tonic_health::pb::HealthCheckResponse, tonic::Status>>| {
        s.unwrap().unwrap().status
    };
    assert_eq!(first(liveness.next().await), ServingStatus::Serving as i32);
    assert_eq!(first(readiness.next().await), ServingStatus::Serving as i32);
    assert_eq!(first(overall.next().await), ServingStatus::Serving as i32);

    // A slow stream keeps the router draining.
    let client = router.client().await.unwrap();
    let mut stream = client
        .generate_stream(crate::common::prompt(
            "emu/m@gap=50ms@tokens=200",
            "hold",
            200,
        ))
        .await
        .unwrap();
    stream.next().await.unwrap().unwrap();
    let stopping = tokio::spawn(router.stop());
    assert_eq!(
        first(readiness.next().await),
        ServingStatus::NotServing as i32,
        "readiness follows the drain"
    );
    assert_eq!(
        first(overall.next().await),
        ServingStatus::NotServing as i32
    );
    // Both drain updates have been delivered; an update to liveness made
    // with them would be waiting in its watch by now.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    if let Some(update) = liveness.next().now_or_never() {
        panic!("liveness changed during the drain: {update:?}");
    }
    // The caller leaves; its call is cancelled and the drain completes.
    drop((liveness, readiness, overall, health));
    drop(stream);
    stopping.await.unwrap().unwrap();
    emulator.shutdown().await;
}
