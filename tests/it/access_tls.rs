//! TLS and mTLS on the gRPC port with certificates made at run time: a
//! client that trusts the CA connects over https://; one that does not, or
//! that speaks plain text, fails; with a client CA configured, only a client
//! presenting a certificate from that CA gets in.

use ai_router_client::{Client, TlsOptions};
use ai_router_testkit::certs::TestPki;
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::TestRouter;

use crate::common::prompt;
use crate::keyed;

/// The error chain of a call that must have failed.
fn failure<T: std::fmt::Debug>(result: Result<T, ai_router_client::ClientError>) -> String {
    match result {
        Ok(v) => panic!("expected a failure, got {v:?}"),
        Err(e) => ai_router_client::error_chain(&e),
    }
}

fn https(router: &TestRouter) -> String {
    format!("https://127.0.0.1:{}", router.addr.port())
}

#[tokio::test]
async fn tls_serves_clients_that_trust_the_ca() {
    let emulator = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "a").unwrap();
    let mut config = keyed::config(&emulator, dir.path(), vec![]);
    config.tls.cert = Some(pki.server_cert.clone());
    config.tls.key = Some(pki.server_key.clone());
    let router = TestRouter::start(config).await.unwrap();

    let tls = TlsOptions::from_files(Some(&pki.ca), None, None).unwrap();
    let client = Client::connect_with_tls(https(&router), tls).await.unwrap();
    let reply = client
        .generate(prompt("openrouter/x/y", "hi", 3))
        .await
        .unwrap();
    assert!(!reply.text.is_empty());

    // Not trusting the CA: the handshake fails.
    let untrusted = Client::connect_with_tls(https(&router), TlsOptions::default()).await;
    let e = failure(untrusted);
    assert!(e.contains("UnknownIssuer"), "{e}");
    // Plain text to a TLS port gets no answer.
    let plain = match Client::connect(router.url()).await {
        Ok(c) => c.list_models().await.map(|_| ()),
        Err(e) => Err(e),
    };
    let e = failure(plain);
    assert!(e.contains("transport error"), "{e}");
    router.stop().await.unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn mtls_requires_a_client_certificate_from_the_configured_ca() {
    let emulator = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "a").unwrap();
    let other = TestPki::create(dir.path(), "b").unwrap();
    let mut config = keyed::config(&emulator, dir.path(), vec![]);
    config.tls.cert = Some(pki.server_cert.clone());
    config.tls.key = Some(pki.server_key.clone());
    config.tls.client_ca = Some(pki.ca.clone());
    let router = TestRouter::start(config).await.unwrap();

    let call = |tls: TlsOptions| {
        let url = https(&router);
        async move {
            let client = Client::connect_with_tls(url, tls).await?;
            client.list_models().await
        }
    };
    let with_cert =
        TlsOptions::from_files(Some(&pki.ca), Some(&pki.client_cert), Some(&pki.client_key))
            .unwrap();
    assert!(call(with_cert).await.is_ok());
    let without_cert = TlsOptions::from_files(Some(&pki.ca), None, None).unwrap();
    let e = failure(call(without_cert).await);
    assert!(e.contains("CertificateRequired"), "{e}");
    let wrong_ca = TlsOptions::from_files(
        Some(&pki.ca),
        Some(&other.client_cert),
        Some(&other.client_key),
    )
    .unwrap();
    let e = failure(call(wrong_ca).await);
    assert!(e.contains("UnknownCA"), "{e}");
    router.stop().await.unwrap();
    emulator.shutdown().await;
}
