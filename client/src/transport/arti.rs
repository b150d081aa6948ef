//! Reaching `.onion` nodes through an embedded Arti client — no system Tor.

use std::sync::Arc;

use arti_client::{HsId, KeystoreSelector, TorClient, TorClientConfig};
use futures_util::StreamExt;
use onionchat_tor::Runtime;
use tor_hscrypto::pk::HsClientDescEncSecretKey;
use tor_llcrypto::pk::curve25519::StaticSecret;

use super::{BoxStream, ConnectFuture, Connector, TorOptions};
use crate::error::{ClientError, Result};

/// Connects to one onion service through Arti. The Tor client bootstraps on
/// first use and is shared by every later connection.
pub struct ArtiConnector {
    address: String,
    hsid: HsId,
    auth_key: Option<[u8; 32]>,
    /// Arti's directory (the key of the process's shared client).
    dir: std::path::PathBuf,
    config: TorClientConfig,
    progress: bool,
    on_bootstrap: Option<super::BootstrapSink>,
    bootstrap_timeout: Option<std::time::Duration>,
    /// The last thing Tor said while connecting (for a time-out's message).
    last_step: Arc<std::sync::Mutex<Option<onionchat_tor::progress::Step>>>,
    client: tokio::sync::OnceCell<Arc<TorClient<Runtime>>>,
}

impl ArtiConnector {
    /// A connector for `address` (`xxx.onion`), with the node's
    /// restricted-discovery key (base32) if it needs one.
    pub fn new(address: &str, auth_key: Option<&str>, tor: &TorOptions) -> Result<Self> {
        let hsid: HsId = address.parse().map_err(|e| {
            ClientError::Connect(format!("'{address}' is not an onion address: {e}"))
        })?;
        let auth_key =
            match auth_key {
                Some(k) => {
                    let raw = data_encoding::BASE32_NOPAD
                        .decode(k.to_ascii_uppercase().as_bytes())
                        .map_err(|_| ClientError::Connect("the access key is not base32".into()))?;
                    Some(<[u8; 32]>::try_from(raw.as_slice()).map_err(|_| {
                        ClientError::Connect("the access key is not 32 bytes".into())
                    })?)
                }
                None => None,
            };
        let (dir, config) = arti_setup(tor)?;
        Ok(ArtiConnector {
            address: address.to_string(),
            hsid,
            auth_key,
            config,
            dir,
            progress: tor.progress,
            on_bootstrap: tor.on_bootstrap.clone(),
            bootstrap_timeout: tor.bootstrap_timeout,
            last_step: Arc::default(),
            client: tokio::sync::OnceCell::new(),
        })
    }

    async fn tor(&self) -> std::io::Result<Arc<TorClient<Runtime>>> {
        self.client
            .get_or_try_init(|| async {
                // Shared with every other connector of this process on the
                // same directory (Arti locks it: see onionchat_tor::shared).
                let client = onionchat_tor::shared::client(&self.dir, &self.config)
                    .map_err(std::io::Error::other)?;
                {
                    // One plain line at a time (the box says it the same
                    // way): progress, being stuck and why, and the same
                    // line again every 30 s while nothing changes.
                    use onionchat_tor::progress::{Place, Teller, step};
                    let mut events = client.bootstrap_events();
                    let (print, sink) = (self.progress, self.on_bootstrap.clone());
                    let last_step = self.last_step.clone();
                    tokio::spawn(async move {
                        let mut teller = Teller::default();
                        let mut tick = tokio::time::interval(onionchat_tor::progress::REPEAT);
                        loop {
                            tokio::select! {
                                ev = events.next() => {
                                    let Some(ev) = ev else { break };
                                    let now = step(&ev, Place::Computer);
                                    if let Some(sink) = &sink {
                                        sink(now.percent, now.line.clone());
                                    }
                                    if print && teller.news(&now) {
                                        eprintln!("{}", now.line);
                                    }
                                    let ready = now.ready;
                                    *last_step.lock().unwrap_or_else(|p| p.into_inner()) = Some(now);
                                    if ready {
                                        break;
                                    }
                                }
                                _ = tick.tick() => {
                                    if print && teller.again() && let Some(s) = &*last_step.lock().unwrap_or_else(|p| p.into_inner()) {
                                        eprintln!("{}", s.line);
                                    }
                                }
                            }
                        }
                    });
                }
                if let Some(secret) = self.auth_key {
                    // Re-inserting an existing key fails: replace it.
                    let _ =
                        client.remove_service_discovery_key(KeystoreSelector::Primary, self.hsid);
                    let key = HsClientDescEncSecretKey::from(StaticSecret::from(secret));
                    client
                        .insert_service_discovery_key(KeystoreSelector::Primary, self.hsid, key)
                        .map_err(std::io::Error::other)?;
                }
                match self.bootstrap_timeout {
                    None => client.bootstrap().await.map_err(std::io::Error::other)?,
                    Some(limit) => tokio::time::timeout(limit, client.bootstrap())
                        .await
                        .map_err(|_| {
                            let last = self
                                .last_step
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .as_ref()
                                .map(|s| s.line.clone())
                                .unwrap_or_else(|| "Tor: no progress at all".into());
                            std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                format!(
                                    "Tor could not connect within {} s; last: {last}",
                                    limit.as_secs()
                                ),
                            )
                        })?
                        .map_err(std::io::Error::other)?,
                }
                Ok(client)
            })
            .await
            .cloned()
    }
}

/// How long a connection keeps trying after a failure that may pass (a
/// circuit that could not be built yet, a descriptor not found yet).
const CONNECT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether trying again cannot help: the address, the key or our own use
/// of Arti is wrong. Everything else (circuits, timeouts, a descriptor not
/// published yet) may pass. Seen on the private network: through a bridge,
/// a fresh client's first onion-service circuit fails within a second of
/// Tor saying it is connected ("Failed to obtain hidden service circuit"),
/// and the same request a few seconds later works.
fn hopeless(e: &arti_client::Error) -> bool {
    use arti_client::{ErrorKind as K, HasKind};
    matches!(
        e.kind(),
        K::OnionServiceWrongClientAuth
            | K::OnionServiceMissingClientAuth
            | K::OnionServiceAddressInvalid
            | K::InvalidStreamTarget
            | K::ForbiddenStreamTarget
            | K::BadApiUsage
            | K::FeatureDisabled
            | K::InvalidConfig
            | K::ArtiShuttingDown
    )
}

/// An Arti error with its causes, in one line.
fn with_causes(e: &arti_client::Error) -> String {
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

impl Connector for ArtiConnector {
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(async move {
            let tor = self.tor().await?;
            let started = tokio::time::Instant::now();
            let mut pause = std::time::Duration::from_millis(500);
            loop {
                match tor.connect((self.address.as_str(), 80)).await {
                    Ok(stream) => return Ok(Box::new(stream) as BoxStream),
                    Err(e) if !hopeless(&e) && started.elapsed() + pause < CONNECT_PATIENCE => {
                        tracing::info!(error = %with_causes(&e), "onion service not reached yet; trying again");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(std::time::Duration::from_secs(8));
                    }
                    Err(e) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionRefused,
                            with_causes(&e),
                        ));
                    }
                }
            }
        })
    }

    fn authority(&self) -> String {
        self.address.clone()
    }
}

/// Give this process's Tor client for `tor.state_dir` the settings in
/// `tor` (bridges turned on, changed or off) without a restart; nothing
/// to do when no connection has started Tor yet.
pub fn apply_tor_options(tor: &TorOptions) -> Result<()> {
    let (dir, config) = arti_setup(tor)?;
    onionchat_tor::shared::reconfigure(&dir, &config)
        .map(|_| ())
        .map_err(|e| ClientError::Connect(e.to_string()))
}

/// Arti's directory and configuration for `tor`: the process's client on
/// that directory is made, or reconfigured, with them.
fn arti_setup(tor: &TorOptions) -> Result<(std::path::PathBuf, TorClientConfig)> {
    let dir = match &tor.state_dir {
        Some(d) => d.clone(),
        None => default_state_dir()?,
    };
    let bridges = onionchat_tor::Bridges {
        lines: tor.bridges.clone(),
        transport_program: tor.transport_program.clone(),
    };
    let config = onionchat_tor::arti_config(&dir, tor.network_config.as_deref(), &bridges)
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    Ok((dir, config))
}

/// Where Arti keeps its state when the app names no place: the user's own
/// cache directory (never a shared one like `/tmp`, where another user
/// could read it or plant a directory first).
fn default_state_dir() -> Result<std::path::PathBuf> {
    directories::ProjectDirs::from("org", "OnionChat", "onionchat")
        .map(|d| d.cache_dir().join("tor"))
        .ok_or_else(|| {
            ClientError::Connect(
                "no home directory for Tor's state; give the client a state directory".into(),
            )
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn tors_default_state_is_private_to_the_user() {
        // In the user's own cache directory (not a shared one like /tmp:
        // Tor's state there would be readable by, or planted by, others).
        let dir = super::default_state_dir().expect("a home directory");
        let cache = directories::BaseDirs::new()
            .expect("a home directory")
            .cache_dir()
            .to_path_buf();
        assert!(
            dir.starts_with(&cache),
            "{} is outside {}",
            dir.display(),
            cache.display()
        );
        assert!(dir.ends_with("tor"));
    }
}
