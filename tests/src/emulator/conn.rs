//! TCP layer: counts accepted connections and lets a handler (for the
//! `reset` directive) or shutdown abort a connection from outside hyper.
//!
//! `axum::serve` owns the hyper connection, so the only place we can reach
//! the socket is the IO object handed to it. [`EmuStream`] wraps the
//! `TcpStream`; once its [`KillSwitch`] is thrown, every read/write/flush
//! fails with `ConnectionReset`, hyper abandons the connection (dropping the
//! in-progress handler future) and the socket is closed with `SO_LINGER=0`,
//! i.e. the peer gets a TCP RST and no HTTP response at all.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::stats::Shared;

/// One-way switch that makes a connection's IO fail.
#[derive(Debug, Default)]
pub(crate) struct KillSwitch {
    killed: AtomicBool,
    /// The connection task is the only one polling the stream, so one waker
    /// is enough to make it notice the kill even while it is idle.
    waker: AtomicWaker,
}

impl KillSwitch {
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    /// Register first, then check, so a concurrent `kill` is never missed.
    fn poll_killed(&self, cx: &mut Context<'_>) -> bool {
        self.waker.register(cx.waker());
        self.killed.load(Ordering::SeqCst)
    }
}

/// Per-connection handle, available to handlers as `ConnectInfo<ConnHandle>`.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    switch: Arc<KillSwitch>,
}

impl ConnHandle {
    /// Abort the connection this request arrived on (no response is sent).
    pub(crate) fn reset(&self) {
        self.switch.kill();
    }
}

impl Connected<IncomingStream<'_, EmuListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, EmuListener>) -> Self {
        Self {
            switch: stream.io().switch.clone(),
        }
    }
}

/// `TcpListener` that wraps every accepted stream in an [`EmuStream`].
#[derive(Debug)]
pub(crate) struct EmuListener {
    inner: TcpListener,
    shared: Arc<Shared>,
}

impl EmuListener {
    pub(crate) fn new(inner: TcpListener, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl Listener for EmuListener {
    type Io = EmuStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // axum's impl retries (with back-off) on accept errors for us.
        let (stream, peer) = Listener::accept(&mut self.inner).await;
        // Streaming tests measure per-token timing; Nagle would batch tokens.
        let _ = stream.set_nodelay(true);
        let switch = Arc::new(KillSwitch::default());
        let id = self.shared.connection_opened(switch.clone());
        let io = EmuStream {
            inner: stream,
            switch,
            shared: self.shared.clone(),
            id,
            lingering: false,
        };
        (io, peer)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Accepted connection; see the module docs.
#[derive(Debug)]
pub(crate) struct EmuStream {
    inner: TcpStream,
    switch: Arc<KillSwitch>,
    shared: Arc<Shared>,
    id: u64,
    lingering: bool,
}

impl EmuStream {
    /// Returns the error to report if the connection was killed.
    fn check(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        if !self.switch.poll_killed(cx) {
            return None;
        }
        if !self.lingering {
            self.lingering = true;
            // RST on drop instead of FIN: the client sees "connection reset".
            let _ = self.inner.set_zero_linger();
        }
        Some(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "emulator reset the connection",
        ))
    }
}

impl Drop for EmuStream {
    fn drop(&mut self) {
        self.shared.connection_closed(self.id);
    }
}

impl AsyncRead for EmuStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for EmuStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
