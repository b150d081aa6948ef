//! One Arti client per state directory in a process.
//!
//! Arti locks its state directory. A second `TorClient` on a directory
//! that another one holds runs without saving its state, and with bridges
//! it cannot start at all: its guard manager refuses ("Configuration
//! requires exclusive access to shared state, but another instance of Arti
//! has the lock: bridges configured", shown to the user as "operation not
//! implemented"). An app makes more than one connector over its life — a
//! join that is cancelled and tried again, a join then an unlock, a retry
//! after a failure — so every connector of one process on one directory
//! shares one client from here. A connector whose configuration differs
//! (bridges turned on, changed, or off) reconfigures that client in place.
//!
//! Clients are kept per tokio runtime as well: a client's background tasks
//! live on the runtime it was made on, so one made on a runtime that has
//! since shut down (a test's, an app window closed and opened again) is
//! never handed out on another.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arti_client::{TorClient, TorClientConfig};

use crate::runtime::{self, Runtime};

/// Why a shared client could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// No tokio runtime to run Arti on.
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    /// Arti could not be created, or not given the new configuration.
    #[error("cannot start Tor: {0}")]
    Arti(#[from] arti_client::Error),
}

type Key = (PathBuf, tokio::runtime::Id);

/// What one directory's client was made or last reconfigured with.
struct Entry {
    client: Arc<TorClient<Runtime>>,
    config: TorClientConfig,
}

fn clients() -> &'static Mutex<HashMap<Key, Entry>> {
    static CLIENTS: std::sync::OnceLock<Mutex<HashMap<Key, Entry>>> = std::sync::OnceLock::new();
    CLIENTS.get_or_init(Mutex::default)
}

/// The (unbootstrapped, until someone bootstraps it) client on `dir` — the
/// directory [`crate::arti_config`] was given — made with `config` if this
/// process has none there yet, else the existing one, reconfigured first
/// when `config` differs from what it runs with.
///
/// Must be called from inside a tokio runtime.
pub fn client(
    dir: &Path,
    config: &TorClientConfig,
) -> Result<Arc<TorClient<Runtime>>, SharedError> {
    let rt = runtime::current()?;
    let mut clients = clients().lock().unwrap_or_else(|p| p.into_inner());
    let key = key(dir);
    if let Some(entry) = clients.get_mut(&key) {
        entry.retune(config)?;
        return Ok(entry.client.clone());
    }
    let client = TorClient::with_runtime(rt)
        .config(config.clone())
        .create_unbootstrapped()?;
    clients.insert(
        key,
        Entry {
            client: client.clone(),
            config: config.clone(),
        },
    );
    Ok(client)
}

/// Give the client on `dir` `config` now (bridges turned on, changed or
/// off while Tor is connecting or connected), if this process has one on
/// this runtime; `false` when it has none yet (the next [`client`] is made
/// with whatever it is given).
///
/// Must be called from inside a tokio runtime.
pub fn reconfigure(dir: &Path, config: &TorClientConfig) -> Result<bool, SharedError> {
    let mut clients = clients().lock().unwrap_or_else(|p| p.into_inner());
    match clients.get_mut(&key(dir)) {
        Some(entry) => entry.retune(config).map(|()| true),
        None => Ok(false),
    }
}

fn key(dir: &Path) -> Key {
    (dir.to_path_buf(), tokio::runtime::Handle::current().id())
}

impl Entry {
    fn retune(&mut self, config: &TorClientConfig) -> Result<(), SharedError> {
        if self.config != *config {
            // Arti swaps its guards for the bridges (or back) and retires
            // the circuits built the old way.
            self.client
                .reconfigure(config, arti_client::config::Reconfigure::WarnOnFailures)?;
            self.config = config.clone();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_client_per_directory_and_runtime() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let config =
            |dir: &Path| crate::arti_config(dir, None, &crate::Bridges::default()).expect("config");
        let first = client(&a, &config(&a)).expect("client");
        let again = client(&a, &config(&a)).expect("client");
        assert!(Arc::ptr_eq(&first, &again), "a second connector shares it");
        let other = client(&b, &config(&b)).expect("client");
        assert!(
            !Arc::ptr_eq(&first, &other),
            "another directory, another client"
        );
        // Another runtime (this one may be gone by the time it is used)
        // gets its own.
        let dir = a.clone();
        let cfg = config(&a);
        let elsewhere = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(async move { client(&dir, &cfg).expect("client") })
        })
        .join()
        .expect("thread");
        assert!(!Arc::ptr_eq(&first, &elsewhere));
    }

    #[tokio::test]
    async fn a_changed_configuration_reconfigures_the_same_client() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("tor");
        let direct = crate::arti_config(&dir, None, &crate::Bridges::default()).expect("config");
        let bridged = crate::arti_config(
            &dir,
            None,
            &crate::Bridges {
                lines: vec!["192.0.2.66:443 316E643333645F6D79216558614D3931657A5F5F".into()],
                transport_program: None,
            },
        )
        .expect("config");
        let first = client(&dir, &direct).expect("client");
        // Turning bridges on in a running process: no second Arti (which
        // would fail on the state lock), the same one with bridges.
        let with_bridges = client(&dir, &bridged).expect("reconfigured");
        assert!(Arc::ptr_eq(&first, &with_bridges));
        let entry_config = {
            let map = clients().lock().expect("lock");
            map.get(&key(&dir)).expect("entry").config.clone()
        };
        assert_eq!(entry_config, bridged);
        // Off again, by the settings page (no connector needed).
        assert!(reconfigure(&dir, &direct).expect("reconfigure"));
        let other = tmp.path().join("none-yet");
        assert!(!reconfigure(&other, &direct).expect("nothing to do"));
    }
}
