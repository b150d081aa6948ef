//! The async glue between the window and the client core: listing, unlocking
//! and creating profiles, joining a box, and the stream of live events.
//!
//! Everything here returns plain values or streams; the screens turn them
//! into messages. Nothing here draws.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use iced::futures::stream::{self, BoxStream, StreamExt};
use onionchat_client::profile::{Profile, VaultData};
use onionchat_client::transport::{BootstrapSink, TorOptions, connector_for};
use onionchat_client::words::explain;
use onionchat_client::{Client, ClientEvent};
use onionchat_proto::wire::InviteLink;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// Where the app keeps things and how it reaches Tor.
#[derive(Debug, Clone)]
pub struct Places {
    /// Every profile is a folder in here.
    pub profiles_dir: PathBuf,
    /// Arti state (default: the user's cache dir).
    pub tor_state_dir: Option<PathBuf>,
    /// Arti configuration of a private Tor network (tests, demos).
    pub tor_network: Option<PathBuf>,
}

impl Places {
    /// The user's standard places.
    pub fn standard() -> Places {
        let profiles_dir = Profile::default_dir("default")
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".onionchat"));
        Places {
            profiles_dir,
            tor_state_dir: None,
            tor_network: None,
        }
    }

    /// The folder of profile `name`.
    pub fn profile_dir(&self, name: &str) -> PathBuf {
        self.profiles_dir.join(name)
    }

    /// How a profile is shown in the list: "ann @ q6q7szmh….onion" once it
    /// has been opened here (a small `label` file beside the encrypted
    /// profile: the name is the folder's anyway, and an address cut short
    /// is enough to tell boxes apart, not to reach one), else its folder
    /// name.
    pub fn label(&self, name: &str) -> String {
        std::fs::read_to_string(self.profile_dir(name).join("label"))
            .ok()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && l.len() < 200)
            .unwrap_or_else(|| name.to_string())
    }

    /// Remember how to show profile `name` (see [`Places::label`]).
    pub fn write_label(&self, name: &str, client: &Client) {
        let address = client.box_address();
        let short = match address.strip_suffix(".onion") {
            Some(id) if id.len() > 8 => format!("{}….onion", &id[..8]),
            _ => address,
        };
        let _ = std::fs::write(
            self.profile_dir(name).join("label"),
            format!("{} @ {short}\n", client.username()),
        );
    }

    /// Names of the profiles on this computer, sorted.
    pub fn profiles(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.profiles_dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| Profile::exists(&e.path()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    /// The bridge lines Tor is reached through (none: directly): one
    /// list for every profile on this computer, since it is the network
    /// that blocks Tor, not the profile.
    pub fn bridges(&self) -> Vec<String> {
        onionchat_tor::bridges::read_file(&self.bridges_file())
    }

    /// Keep `lines` as the bridges (none: remove the file).
    pub fn save_bridges(&self, lines: &[String]) -> std::io::Result<()> {
        onionchat_tor::bridges::write_file(&self.bridges_file(), lines)
    }

    fn bridges_file(&self) -> PathBuf {
        self.profiles_dir.join("bridges.txt")
    }

    fn tor(&self, sink: Option<BootstrapSink>) -> TorOptions {
        TorOptions {
            state_dir: self.tor_state_dir.clone(),
            network_config: self.tor_network.clone(),
            progress: false,
            on_bootstrap: sink,
            // The window has a Cancel button instead of a time limit.
            bootstrap_timeout: None,
            bridges: self.bridges(),
            transport_program: None,
        }
    }
}

/// A profile name: what the user typed, made safe as a folder name.
pub fn profile_name(username: &str, taken: &[String]) -> String {
    let base: String = username
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = if base.is_empty() {
        "profile".to_string()
    } else {
        base
    };
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// Tor bootstrap progress as it arrives (taken once, by the home screen).
pub type TorProgress = Arc<std::sync::Mutex<Option<mpsc::UnboundedReceiver<(u8, String)>>>>;

/// An unlocked profile, ready to go online.
#[derive(Clone)]
pub struct Opened {
    /// Name of the profile (its folder).
    pub profile: String,
    /// The client.
    pub client: Arc<Client>,
    /// Tor bootstrap progress, when the box is an onion service.
    pub tor_progress: TorProgress,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// A connector and, for an onion address, where its Tor progress arrives.
type ConnectorAndProgress = (
    Arc<dyn onionchat_client::Connector>,
    Option<mpsc::UnboundedReceiver<(u8, String)>>,
);

/// A connector for a profile's box that reports Tor progress on a channel.
fn connector(places: &Places, data: &VaultData) -> onionchat_client::Result<ConnectorAndProgress> {
    if data.address.ends_with(".onion") {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink: BootstrapSink = Arc::new(move |p, what| {
            let _ = tx.send((p, what));
        });
        Ok((connector_for(data, &places.tor(Some(sink)))?, Some(rx)))
    } else {
        Ok((connector_for(data, &places.tor(None))?, None))
    }
}

/// Unlock profile `name` (Argon2 runs off the UI thread).
pub async fn unlock(
    places: Places,
    name: String,
    passphrase: Zeroizing<String>,
) -> Result<Opened, String> {
    let dir = places.profile_dir(&name);
    tokio::task::spawn_blocking(move || {
        let mut progress = None;
        let client = Client::open(&dir, passphrase.as_bytes(), |data| {
            let (c, p) = connector(&places, data)?;
            progress = p;
            Ok(c)
        })
        .map_err(|e| explain(&e))?;
        places.write_label(&name, &client);
        Ok(Opened {
            profile: name,
            client: Arc::new(client),
            tor_progress: Arc::new(std::sync::Mutex::new(progress)),
        })
    })
    .await
    .map_err(|e| format!("unlocking stopped: {e}"))?
}

/// What joining a box reports while it works.
#[derive(Debug, Clone)]
pub enum JoinEvent {
    /// A step ("Generating your identity key…").
    Step(String),
    /// Tor bootstrap progress.
    Tor(u8, String),
    /// Finished.
    Done(Result<Opened, String>),
}

/// Create profile `name` for `username` and redeem `invite` with it, as a
/// stream of progress ending in [`JoinEvent::Done`]. A failed join leaves no
/// half-made profile behind.
pub fn join(
    places: Places,
    name: String,
    invite: InviteLink,
    username: String,
    passphrase: Zeroizing<String>,
) -> BoxStream<'static, JoinEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let dir = places.profile_dir(&name);
        let existed = Profile::exists(&dir);
        let mut cancelled = false;
        let mut data = VaultData::default();
        data.address = invite.address.clone();
        data.auth_key = invite.auth_key.clone();
        let result = match connector(&places, &data) {
            Err(e) => Err(explain(&e)),
            Ok((connector, tor)) => {
                if let Some(mut tor) = tor {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while let Some((p, what)) = tor.recv().await {
                            let _ = tx.send(JoinEvent::Tor(p, what));
                        }
                    });
                }
                let step = {
                    let tx = tx.clone();
                    move |s: &str| {
                        let _ = tx.send(JoinEvent::Step(s.to_string()));
                    }
                };
                let joining = Client::join(
                    &dir,
                    passphrase.as_bytes(),
                    &invite,
                    &username,
                    connector,
                    step,
                );
                // Cancelled (the window dropped the stream): stop, and
                // clean up below like any failed join.
                tokio::select! {
                    joined = joining => joined
                        .inspect(|client| places.write_label(&name, client))
                        .map(|client| Opened {
                            profile: name,
                            client: Arc::new(client),
                            tor_progress: TorProgress::default(),
                        })
                        .map_err(|e| explain(&e)),
                    _ = tx.closed() => {
                        cancelled = true;
                        Err("cancelled".to_string())
                    }
                }
            }
        };
        // A failed join removes the profile it made (Client::join does);
        // a cancelled one was stopped before it could: remove it here the
        // same way. A profile whose sign-up went through (the invite is
        // spent) is kept, so the user can unlock it and log in later.
        if cancelled && !existed {
            let pass = Zeroizing::new(passphrase.as_bytes().to_vec());
            let dir = dir.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let joined = Profile::open(&dir, &pass).is_ok_and(|p| p.data.user_id.is_some());
                if !joined {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            })
            .await;
        }
        let _ = tx.send(JoinEvent::Done(result));
    });
    receiver_stream(rx)
}

/// Tell the running Tor client (if any) about the bridges now kept in
/// `places`: a connection stuck on a blocked network goes on through them.
pub async fn apply_bridges(places: Places) -> Result<(), String> {
    onionchat_client::transport::arti::apply_tor_options(&places.tor(None)).map_err(|e| explain(&e))
}

/// Import an exported profile file as profile `name`.
pub async fn import(
    places: Places,
    name: String,
    file: PathBuf,
    passphrase: Zeroizing<String>,
) -> Result<String, String> {
    let dir = places.profile_dir(&name);
    tokio::task::spawn_blocking(move || {
        Profile::import(&file, &dir, passphrase.as_bytes())
            .map(|_| name)
            .map_err(|e| explain(&e))
    })
    .await
    .map_err(|e| format!("import stopped: {e}"))?
}

/// Everything the client core reports, as a stream (a UI that falls behind
/// skips what it missed rather than stalling the core).
pub fn events(client: &Client) -> BoxStream<'static, ClientEvent> {
    let rx = client.subscribe();
    stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => return Some((ev, rx)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "the window fell behind the client's events");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}

/// A tokio receiver as a stream.
pub fn receiver_stream<T: Send + 'static>(rx: mpsc::UnboundedReceiver<T>) -> BoxStream<'static, T> {
    stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) }).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_are_safe_folder_names_and_unique() {
        assert_eq!(profile_name("ann", &[]), "ann");
        assert_eq!(profile_name("../etc", &[]), "___etc");
        assert_eq!(
            profile_name("ann", &["ann".into(), "ann-2".into()]),
            "ann-3"
        );
    }

    #[test]
    fn only_folders_holding_a_profile_are_listed() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("empty")).expect("mkdir");
        let places = Places {
            profiles_dir: dir.path().to_path_buf(),
            tor_state_dir: None,
            tor_network: None,
        };
        assert!(places.profiles().is_empty());
        std::fs::create_dir_all(dir.path().join("bob")).expect("mkdir");
        std::fs::write(dir.path().join("bob/identity.pem"), b"x").expect("write");
        assert_eq!(places.profiles(), vec!["bob".to_string()]);
    }
}
