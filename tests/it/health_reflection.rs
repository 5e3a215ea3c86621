//! The standard health and reflection services answer, so grpcurl and any
//! load balancer work with no proto file.

use ai_router_testkit::router::{TestRouter, remote_config};
use futures::StreamExt;
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
