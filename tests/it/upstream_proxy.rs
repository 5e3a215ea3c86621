//! Remote endpoints through the environment's HTTP proxy, as OpenRouter
//! users behind a corporate proxy run it: the router binary started with
//! `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`, and a small recording proxy on
//! loopback in front of the emulator. Plain `http` upstreams are forwarded
//! (absolute URI, `Proxy-Authorization` on every request), `https` ones are
//! tunnelled (`CONNECT host:443` with the credentials), and hosts named in
//! `NO_PROXY` are reached directly.

use std::sync::{Arc, Mutex};

use ai_router_client::Client;
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router_process::{RouterProcess, free_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::prompt;

/// `user:pass`, base64: what the router must send as `Basic` credentials.
const CREDENTIALS: &str = "dXNlcjpwYXNz";

/// A forward proxy that records each request head it receives. A plain
/// request is relayed to `upstream` as it came (the emulator takes
/// absolute-form targets); a CONNECT is answered 200 and then closed, since
/// no TLS upstream exists here: the head it carried is what is checked.
struct RecordingProxy {
    addr: std::net::SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingProxy {
    async fn start(upstream: std::net::SocketAddr) -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let heads = heads.clone();
            async move {
                while let Ok((conn, _)) = listener.accept().await {
                    tokio::spawn(relay(conn, upstream, heads.clone()));
                }
            }
        });
        RecordingProxy { addr, heads, task }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one client connection (see [`RecordingProxy`]).
async fn relay(
    mut client: TcpStream,
    upstream: std::net::SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    heads.lock().unwrap().push(head.clone());
    if head.starts_with("CONNECT ") {
        let _ = client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await;
        // Ends the tunnel with a FIN, then reads until the client closes:
        // closing with its TLS hello unread would reset the connection
        // instead, and which of the two the client saw would be a race.
        let _ = client.shutdown().await;
        while matches!(client.read(&mut chunk).await, Ok(n) if n > 0) {}
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    // Everything read so far (head and any body) goes on as it came; from
    // then on bytes are copied both ways. Later requests on a kept-alive
    // connection pass through unrecorded, which the tests allow for.
    if server.write_all(&buf).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// A request head's header value (names compared case-insensitively).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn remote_calls_go_through_the_environments_proxy_unless_no_proxy_names_the_host() {
    let emulator = Emulator::start().await.unwrap();
    let emulator_addr: std::net::SocketAddr = emulator
        .base_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let proxy = RecordingProxy::start(emulator_addr).await;
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("router.toml");
    // `.invalid` never resolves (RFC 6761): a call to those hosts can only
    // have gone through the proxy.
    std::fs::write(
        &file,
        format!(
            "[local]\nmodels_dirs = []\n[openrouter]\nenabled = false\n\
             [[endpoints]]\nname = \"viaproxy\"\nbase_url = \"http://upstream.invalid:{port}/v1\"\n\
             [[endpoints]]\nname = \"tunnel\"\nbase_url = \"https://secure.invalid/v1\"\nmax_attempts = 1\n\
             [[endpoints]]\nname = \"direct\"\nbase_url = \"{direct}\"\n",
            port = emulator_addr.port(),
            direct = emulator.openai_base(),
        ),
    )
    .unwrap();
    let proxy_url = format!("http://user:pass@{}", proxy.addr);
    let env = [
        ("HTTP_PROXY".to_string(), proxy_url.clone()),
        ("HTTPS_PROXY".to_string(), proxy_url),
        ("NO_PROXY".to_string(), "127.0.0.1".to_string()),
    ];
    let router = RouterProcess::start(
        free_port().unwrap(),
        &[format!("--config={}", file.display())],
        &env,
    )
    .await
    .unwrap();
    let client = Client::connect(format!("http://{}", router.addr))
        .await
        .unwrap();

    // Plain HTTP: forwarded with the absolute URI and the credentials.
    let answer = client
        .generate(prompt("viaproxy/m", "hello", 3))
        .await
        .unwrap();
    assert_eq!(answer.text, "tok0 tok1 tok2");
    let heads = proxy.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let forwarded = &heads[0];
    assert!(
        forwarded.starts_with(&format!(
            "POST http://upstream.invalid:{}/v1/chat/completions HTTP/1.1\r\n",
            emulator_addr.port()
        )),
        "{forwarded}"
    );
    assert_eq!(
        header(forwarded, "proxy-authorization"),
        Some(format!("Basic {CREDENTIALS}").as_str()),
        "{forwarded}"
    );

    // HTTPS: a CONNECT tunnel to the upstream's host and port, with the
    // credentials on the CONNECT. The proxy then closes the tunnel, so the
    // call fails, with a status that says the upstream could not be reached.
    let failed = client
        .generate(prompt("tunnel/m", "hello", 3))
        .await
        .unwrap_err();
    let heads = proxy.heads();
    let connect = heads
        .iter()
        .find(|h| h.starts_with("CONNECT "))
        .unwrap_or_else(|| panic!("no CONNECT among {heads:?}; the call ended with {failed}"));
    assert!(
        connect.starts_with("CONNECT secure.invalid:443 HTTP/1.1\r\n"),
        "{connect}"
    );
    assert_eq!(
        header(connect, "proxy-authorization"),
        Some(format!("Basic {CREDENTIALS}").as_str()),
        "{connect}"
    );
    // The endpoint is named, and the TLS handshake the tunnel cut short.
    let message = failed.to_string();
    assert!(
        message.starts_with("UNAVAILABLE: cannot reach tunnel: tls handshake eof"),
        "{message}"
    );

    // NO_PROXY names the direct endpoint's host: the proxy sees nothing
    // new, the emulator one more request.
    let seen_by_proxy = proxy.heads().len();
    let before = emulator.stats().requests;
    let answer = client
        .generate(prompt("direct/m", "hello", 2))
        .await
        .unwrap();
    assert_eq!(answer.text, "tok0 tok1");
    assert_eq!(emulator.stats().requests, before + 1);
    assert_eq!(proxy.heads().len(), seen_by_proxy, "{:?}", proxy.heads());

    router
        .terminate(std::time::Duration::from_secs(10))
        .await
        .unwrap();
}
