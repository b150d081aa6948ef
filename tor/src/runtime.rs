//! A tokio runtime for Arti whose relay connections send without delay.
//!
//! Arti writes each cell to its TLS connection as soon as a stream flushes,
//! but its stock runtime leaves Nagle's algorithm on for the TCP socket
//! under it. When a second small write follows the first before the relay
//! has acknowledged it — a reply frame right after a message frame, two
//! members' copies of one message sharing a guard — the kernel holds it
//! until that ACK arrives, and the relay's kernel delays its ACK by up to
//! 40 ms. On the local test network that added 40–47 ms to a third of all
//! live deliveries (measured in `onionchat-bench tor`, see
//! docs/benchmark-history.md). Cells are already fixed-size and padded, so
//! coalescing them buys nothing; every connection here sets `TCP_NODELAY`,
//! as Go, gRPC and most RPC stacks do by default.
//!
//! Only outgoing connections change. Everything else (tasks, timers, TLS,
//! listeners, UDP) is Arti's own tokio + rustls runtime.

use std::io;
use std::net::SocketAddr;

use tor_rtcompat::tls::RustlsProvider;
use tor_rtcompat::tokio::TokioRustlsRuntime;
use tor_rtcompat::{CompoundRuntime, NetStreamProvider, RealCoarseTimeProvider, TcpConnectOptions};

/// Arti's stock tokio + rustls runtime, which this one builds on.
type Base = TokioRustlsRuntime;

/// The stream type Arti's tokio runtime uses for TCP.
type BaseStream = <Base as NetStreamProvider<SocketAddr>>::Stream;

/// The runtime the node and the client hand to `TorClient::with_runtime`.
pub type Runtime =
    CompoundRuntime<Base, Base, RealCoarseTimeProvider, NoDelayTcp, Base, RustlsProvider, Base>;

/// Why a runtime could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Arti's runtime must be created from inside a tokio runtime.
    #[error("the Tor runtime must be created inside a tokio runtime: {0}")]
    NoTokio(#[source] io::Error),
}

/// A runtime on the tokio runtime this is called from.
///
/// Also installs rustls's `ring` crypto provider as the process default if
/// none is chosen yet: rustls needs one picked explicitly, and Arti's TLS
/// to relays goes through it.
pub fn current() -> Result<Runtime, RuntimeError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = Base::current().map_err(RuntimeError::NoTokio)?;
    Ok(CompoundRuntime::new(
        base.clone(),
        base.clone(),
        RealCoarseTimeProvider::new(),
        NoDelayTcp { base: base.clone() },
        base.clone(),
        RustlsProvider::default(),
        base,
    ))
}

/// Arti's TCP provider with `TCP_NODELAY` on every outgoing connection.
#[derive(Clone)]
pub struct NoDelayTcp {
    /// Listening (which clients and onion services never do) stays Arti's.
    base: Base,
}

impl std::fmt::Debug for NoDelayTcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoDelayTcp")
    }
}

#[async_trait::async_trait]
impl NetStreamProvider<SocketAddr> for NoDelayTcp {
    type Stream = BaseStream;
    type Listener = <Base as NetStreamProvider<SocketAddr>>::Listener;
    type ConnectOptions = TcpConnectOptions;
    type ListenOptions = <Base as NetStreamProvider<SocketAddr>>::ListenOptions;

    async fn connect(
        &self,
        addr: &SocketAddr,
        options: &TcpConnectOptions,
    ) -> io::Result<BaseStream> {
        let stream = socket_for(addr, options)?.connect(*addr).await?;
        Ok(stream.into())
    }

    async fn listen(
        &self,
        addr: &SocketAddr,
        options: &Self::ListenOptions,
    ) -> io::Result<Self::Listener> {
        self.base.listen(addr, options).await
    }
}

/// An unconnected socket for `addr` with Arti's options and no Nagle delay.
fn socket_for(addr: &SocketAddr, options: &TcpConnectOptions) -> io::Result<tokio::net::TcpSocket> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // Buffer sizes only take effect when set before connect(2) (tcp(7)).
    let size = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    if let Some(n) = options.common().send_buffer_size() {
        socket.set_send_buffer_size(size(*n))?;
    }
    if let Some(n) = options.common().recv_buffer_size() {
        socket.set_recv_buffer_size(size(*n))?;
    }
    socket.set_nodelay(true)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tor_rtcompat::CommonConnectOptions;

    #[test]
    fn sockets_disable_nagle() {
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        let socket = socket_for(&addr, &TcpConnectOptions::default()).expect("socket");
        assert!(socket.nodelay().expect("nodelay"));
    }

    #[test]
    fn arti_buffer_sizes_are_kept() {
        let mut common = CommonConnectOptions::builder();
        common.send_buffer_size(Some(64 * 1024));
        common.recv_buffer_size(Some(96 * 1024));
        let mut options = TcpConnectOptions::builder();
        *options.common() = common;
        let options = options.build().expect("options");
        let addr: SocketAddr = "[::1]:9".parse().expect("addr");
        let socket = socket_for(&addr, &options).expect("socket");
        // Linux doubles the requested size for bookkeeping; never less.
        assert!(socket.send_buffer_size().expect("sndbuf") >= 64 * 1024);
        assert!(socket.recv_buffer_size().expect("rcvbuf") >= 96 * 1024);
        assert!(socket.nodelay().expect("nodelay"));
    }

    #[tokio::test]
    async fn connects_through_the_runtime() {
        use futures_util::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let echo = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let (mut r, mut w) = s.split();
            tokio::io::copy(&mut r, &mut w).await.expect("echo");
        });
        let rt = current().expect("runtime");
        let mut stream = NetStreamProvider::<SocketAddr>::connect(&rt, &addr, &Default::default())
            .await
            .expect("connect");
        stream.write_all(b"cell").await.expect("write");
        let mut back = [0u8; 4];
        stream.read_exact(&mut back).await.expect("read");
        assert_eq!(&back, b"cell");
        drop(stream);
        echo.await.expect("echo task");
    }

    #[test]
    fn needs_a_tokio_runtime() {
        assert!(matches!(current(), Err(RuntimeError::NoTokio(_))));
    }
}
