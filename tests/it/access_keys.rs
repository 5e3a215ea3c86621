//! API keys on the gRPC door: missing, unknown or malformed keys are
//! UNAUTHENTICATED; a model outside the key's globs is PERMISSION_DENIED
//! without revealing whether it exists, and ListModels shows only what the
//! key may use; Stats needs an admin key; health and reflection stay open;
//! neither keys nor hashes appear in any message or in Stats. Health and
//! reflection answer without a key.

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_client::proto::router_client::RouterClient;
use ai_router_client::proto::{ListModelsRequest, StatsRequest};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::TestRouter;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::common::prompt;
use crate::keyed::{self, status_of};

const ALLOWED: &str = "openrouter/anthropic/claude-3.5-haiku";
const FORBIDDEN: &str = "openrouter/openai/gpt-4o-mini";

#[tokio::test]
async fn keys_decide_who_may_call_what() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (narrow_key, mut narrow) = keyed::key("narrow");
    narrow.models = vec!["openrouter/anthropic/*".into()];
    let (admin_key, mut admin) = keyed::key("ops");
    admin.admin = true;
    let router = TestRouter::start(keyed::config(&emulator, data.path(), vec![narrow, admin]))
        .await
        .unwrap();

    // No key, an unknown key, a key given as x-api-key.
    let anonymous = router.client().await.unwrap();
    let s = status_of(
        anonymous.generate(prompt(ALLOWED, "hi", 4)).await,
        Code::Unauthenticated,
    );
    assert!(s.message().contains("authorization: Bearer"), "{s:?}");
    let stranger = keyed::client(&router, "air_not-a-real-key").await;
    let s = status_of(
        stranger.generate(prompt(ALLOWED, "hi", 4)).await,
        Code::Unauthenticated,
    );
    assert_eq!(s.message(), "unknown API key");
    let mut raw = router.raw_client().await.unwrap();
    let mut req = tonic::Request::new(prompt(ALLOWED, "hi", 4));
    req.metadata_mut()
        .insert("x-api-key", narrow_key.parse().unwrap());
    assert!(raw.generate(req).await.is_ok());

    // Allowed model, forbidden model, forbidden model that does not exist:
    // the two refusals read alike, so existence is not revealed.
    let narrow_client = keyed::client(&router, &narrow_key).await;
    assert!(
        narrow_client
            .generate(prompt(ALLOWED, "hi", 4))
            .await
            .is_ok()
    );
    let denied = status_of(
        narrow_client.generate(prompt(FORBIDDEN, "hi", 4)).await,
        Code::PermissionDenied,
    );
    assert_eq!(
        denied.message(),
        format!("key 'narrow' may not use model '{FORBIDDEN}'")
    );
    let ghost = status_of(
        narrow_client
            .generate(prompt("no-such-model", "hi", 4))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(
        ghost.message(),
        "key 'narrow' may not use model 'no-such-model'"
    );
    // A fallback outside the globs is refused too.
    let with_fallback = ai_router_client::GenerateRequestBuilder::new(ALLOWED)
        .prompt("hi")
        .fallbacks([FORBIDDEN])
        .build();
    status_of(
        narrow_client.generate(with_fallback).await,
        Code::PermissionDenied,
    );

    // Stats: admin only. ListModels: what the key may use.
    status_of(narrow_client.stats().await, Code::PermissionDenied);
    let ops = keyed::client(&router, &admin_key).await;
    let stats = ops.stats().await.unwrap();
    let narrow_usage = stats.keys.iter().find(|k| k.name == "narrow").unwrap();
    assert_eq!(
        narrow_usage.calls, 2,
        "the x-api-key call and the bearer call"
    );
    assert!(narrow_usage.cost_usd > 0.0);
    let dump = format!("{stats:?}");
    for secret in [&narrow_key, &admin_key] {
        assert!(!dump.contains(secret.as_str()), "a key leaked into Stats");
    }
    assert!(!dump.contains("sha256:"), "a hash leaked into Stats");

    router.stop().await.unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_models_shows_only_what_the_key_may_use() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (narrow_key, mut narrow) = keyed::key("narrow");
    narrow.models = vec!["lab/tiny-*".into()];
    let (all_key, all) = keyed::key("all");
    let mut config = keyed::config(&emulator, data.path(), vec![narrow, all]);
    let mut lab = EndpointConfig::new("lab", EndpointKind::OpenAi, &emulator.openai_base());
    lab.models = vec!["tiny-a".into(), "big-b".into()];
    config.endpoints.push(lab);
    let router = TestRouter::start(config).await.unwrap();

    let ids = |r: ai_router_client::proto::ListModelsResponse| {
        r.models.into_iter().map(|m| m.id).collect::<Vec<_>>()
    };
    let narrow_client = keyed::client(&router, &narrow_key).await;
    assert_eq!(
        ids(narrow_client.list_models().await.unwrap()),
        ["lab/tiny-a"]
    );
    let all_client = keyed::client(&router, &all_key).await;
    assert_eq!(
        ids(all_client.list_models().await.unwrap()),
        ["lab/big-b", "lab/tiny-a", "openrouter/*"]
    );
    // A NOT_FOUND for a model the globs allow lists only the key's models.
    let s = status_of(
        narrow_client
            .generate(prompt("lab/tiny-zzz", "hi", 4))
            .await,
        Code::NotFound,
    );
    assert!(s.message().contains("lab/tiny-a"), "{s:?}");
    assert!(!s.message().contains("big-b"), "{s:?}");
    assert!(!s.message().contains("openrouter"), "{s:?}");
    status_of(
        router.client().await.unwrap().list_models().await,
        Code::Unauthenticated,
    );
    router.stop().await.unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn health_and_reflection_stay_open_and_bad_metadata_is_refused_cleanly() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (_, entry) = keyed::key("team");
    let router = TestRouter::start(keyed::config(&emulator, data.path(), vec![entry]))
        .await
        .unwrap();
    let mut health = HealthClient::new(router.channel().await.unwrap());
    assert!(
        health
            .check(HealthCheckRequest {
                service: String::new()
            })
            .await
            .is_ok()
    );

    {
        use tonic_reflection::pb::v1::ServerReflectionRequest;
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

        let mut reflection = ServerReflectionClient::new(router.channel().await.unwrap());
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = reflection
            .server_reflection_info(futures::stream::iter(vec![request]))
            .await
            .unwrap()
            .into_inner();
        let response = futures::StreamExt::next(&mut responses)
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(
                response.message_response,
                Some(MessageResponse::ListServicesResponse(_))
            ),
            "reflection answers without a key: {response:?}"
        );
    }

    let mut raw: RouterClient<_> = router.raw_client().await.unwrap();
    // Not a bearer token; bytes outside ASCII; an empty bearer token.
    for value in [
        &b"Basic dXNlcjpwYXNz"[..],
        b"Bearer \xff\xfe\x80",
        b"Bearer   ",
    ] {
        let mut req = tonic::Request::new(ListModelsRequest {});
        req.metadata_mut()
            .insert("authorization", MetadataValue::try_from(value).unwrap());
        let s = raw.list_models(req).await.unwrap_err();
        assert_eq!(s.code(), Code::Unauthenticated, "{value:?}: {s:?}");
        assert!(s.message().starts_with("malformed API key"), "{s:?}");
    }

    // A 1 MB authorization header is refused by HTTP/2's header-list limit
    // (16 KiB) before the router sees it; an 8 KB one passes HTTP/2 and is
    // refused by the key-length cap without being hashed.
    let huge = format!("Bearer {}", "a".repeat(1 << 20));
    let mut req = tonic::Request::new(StatsRequest {});
    req.metadata_mut()
        .insert("authorization", huge.parse().unwrap());
    let s = raw.stats(req).await.unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    let long = format!("Bearer {}", "a".repeat(8 << 10));
    let mut raw = router.raw_client().await.unwrap();
    let mut req = tonic::Request::new(StatsRequest {});
    req.metadata_mut()
        .insert("authorization", long.parse().unwrap());
    let s = raw.stats(req).await.unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated, "{s:?}");
    assert_eq!(
        s.message(),
        "malformed API key: the key is longer than 512 bytes"
    );
    let mut fresh = router.raw_client().await.unwrap();
    let s = fresh.list_models(ListModelsRequest {}).await.unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated, "still serving: {s:?}");
    router.stop().await.unwrap();
    emulator.shutdown().await;
}
