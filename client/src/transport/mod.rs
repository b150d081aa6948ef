//! How the client reaches a node: the [`Connector`] seam. [`TcpConnector`]
//! for development and tests, `ArtiConnector` (feature `tor`) for `.onion`.

#[cfg(feature = "tor")]
pub mod arti;

use std::future::Future;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream to the node.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A boxed stream.
pub type BoxStream = Box<dyn Stream>;

/// The future [`Connector::connect`] returns.
pub type ConnectFuture<'a> = Pin<Box<dyn Future<Output = std::io::Result<BoxStream>> + Send + 'a>>;

/// Opens streams to one node.
pub trait Connector: Send + Sync + 'static {
    /// Open a new stream to the node.
    fn connect(&self) -> ConnectFuture<'_>;
    /// The `Host` header / authority to use (`127.0.0.1:PORT`, `xxx.onion`).
    fn authority(&self) -> String;
}

/// Plain TCP (development, tests, or a C tor SOCKS-less setup).
#[derive(Debug, Clone)]
pub struct TcpConnector {
    addr: String,
}

impl TcpConnector {
    /// Connect to `host:port`.
    pub fn new(addr: impl Into<String>) -> Self {
        TcpConnector { addr: addr.into() }
    }
}

impl Connector for TcpConnector {
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(async move {
            let s = tokio::net::TcpStream::connect(&self.addr).await?;
            s.set_nodelay(true)?;
            Ok(Box::new(s) as BoxStream)
        })
    }

    fn authority(&self) -> String {
        self.addr.clone()
    }
}
