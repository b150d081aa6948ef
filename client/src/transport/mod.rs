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

/// The connector for a profile's node: Arti for `.onion` addresses, TCP
/// otherwise (development nodes).
pub fn connector_for(
    data: &crate::profile::VaultData,
    tor: &TorOptions,
) -> crate::Result<std::sync::Arc<dyn Connector>> {
    if data.address.ends_with(".onion") {
        #[cfg(feature = "tor")]
        {
            return Ok(std::sync::Arc::new(arti::ArtiConnector::new(
                &data.address,
                data.auth_key.as_deref(),
                tor,
            )?));
        }
        #[cfg(not(feature = "tor"))]
        {
            let _ = tor;
            return Err(crate::ClientError::Connect(
                "this build has no Tor support (feature `tor`)".into(),
            ));
        }
    }
    if data.address.is_empty() {
        return Err(crate::ClientError::Profile(
            "this profile has not joined a node yet; run `onionchat join <invite>`".into(),
        ));
    }
    Ok(std::sync::Arc::new(TcpConnector::new(data.address.clone())))
}

/// Receives Tor bootstrap progress: percent done and what Arti is doing.
pub type BootstrapSink = std::sync::Arc<dyn Fn(u8, String) + Send + Sync>;

/// Tor settings of the client.
#[derive(Clone, Default)]
pub struct TorOptions {
    /// Arti state and cache directory (default: the user's cache dir,
    /// `~/.cache/onionchat/tor` on Linux).
    pub state_dir: Option<std::path::PathBuf>,
    /// Arti configuration file for a private Tor network (tests, demo).
    pub network_config: Option<std::path::PathBuf>,
    /// Print bootstrap progress to stderr.
    pub progress: bool,
    /// Also report bootstrap progress here (a GUI's progress bar).
    pub on_bootstrap: Option<BootstrapSink>,
    /// Give up connecting to Tor after this long (the command line's
    /// stated limit; `None`: keep trying, as an app with a Cancel button
    /// does).
    pub bootstrap_timeout: Option<std::time::Duration>,
    /// Reach Tor only through these bridges (empty: directly): bridge
    /// lines as bridges.torproject.org gives them.
    pub bridges: Vec<String>,
    /// The obfs4 program for obfs4 bridges (default: found on PATH).
    pub transport_program: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for TorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorOptions")
            .field("state_dir", &self.state_dir)
            .field("network_config", &self.network_config)
            .field("progress", &self.progress)
            .field("on_bootstrap", &self.on_bootstrap.is_some())
            .field("bootstrap_timeout", &self.bootstrap_timeout)
            .field("bridges", &self.bridges.len())
            .finish()
    }
}
