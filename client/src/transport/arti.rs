//! Reaching `.onion` nodes through an embedded Arti client.

use super::{BoxStream, ConnectFuture, Connector, TorOptions};
use crate::error::{ClientError, Result};

/// Connects to one onion service through Arti.
pub struct ArtiConnector {
    address: String,
}

impl ArtiConnector {
    /// A connector for `address` (`xxx.onion`), with an optional
    /// restricted-discovery key.
    pub fn new(address: &str, _auth_key: Option<&str>, _tor: &TorOptions) -> Result<Self> {
        Err(ClientError::Connect(format!(
            "Tor support for {address} is not wired yet"
        )))
    }
}

impl Connector for ArtiConnector {
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(async move { Err::<BoxStream, _>(std::io::Error::other("not wired")) })
    }

    fn authority(&self) -> String {
        self.address.clone()
    }
}
