//! Node configuration: built-in defaults, overridden by a TOML file, then
//! by environment variables and command-line flags (see `main.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How the node is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// A Tor onion service through embedded Arti (the product).
    Onion,
    /// A plain TCP listener, loopback only unless forced (development, tests).
    Tcp,
}

/// Everything the node can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the database, blobs and Tor state live.
    pub data_dir: PathBuf,
    /// Onion service (default) or TCP.
    pub transport: TransportKind,
    /// TCP listen address (transport `tcp`).
    pub listen: SocketAddr,
    /// Allow a TCP listener on a non-loopback address.
    pub allow_non_loopback: bool,
    /// Sign-up without an invite.
    pub open_registration: bool,
    /// Default invite lifetime in seconds.
    pub invite_ttl_secs: u64,
    /// Session lifetime in seconds.
    pub session_ttl_secs: u64,
    /// Largest file (ciphertext bytes).
    pub max_file_bytes: u64,
    /// Storage per user (ciphertext bytes of files, counted when announced).
    pub user_quota_bytes: u64,
    /// Free space kept in reserve on the data dir's filesystem, in MiB:
    /// below it (or below `min_free_percent`, whichever is more) new
    /// messages and uploads get `storage_full`; reading goes on.
    pub min_free_mb: u64,
    /// See `min_free_mb`: a share of the filesystem, in percent.
    pub min_free_percent: u64,
    /// Delete messages older than this many days (never if unset).
    pub retention_days: Option<u32>,
    /// Tell people sharing a room when someone is online.
    pub presence: bool,
    /// Relay typing indicators.
    pub typing: bool,
    /// Rate limits.
    pub rate: RateConfig,
    /// Tor settings.
    pub tor: TorConfig,
    /// Database page cache in MiB (memory use grows up to this).
    pub db_cache_mb: usize,
    /// Status display: `auto` (probe I2C for an OLED), `none`,
    /// `png:FILE[@WxH]`, `ssd1306:/dev/i2c-1[@0x3d]`, `sh1106:/dev/i2c-1`,
    /// `st7789:/dev/spidev0.0,dc=25,rst=27[,bl=18]`, `ili9341:…`,
    /// `fb:/dev/fb0` (see the onionchat-hw docs for every option).
    pub display: String,
    /// Buttons next to the display: `/dev/gpiochip0:17` (press: next page,
    /// hold 2 s: show an invite) or `/dev/gpiochip0:17,27` (the second one
    /// shows an invite). Wired to ground, with the pull-up on.
    pub buttons: Option<String>,
    /// Let a held button make a fresh invite (valid for an hour) and show
    /// it as a QR code. Anyone who can touch the box can then invite
    /// someone; turn off where that is not wanted.
    pub button_invites: bool,
    /// The onion address when another Tor daemon publishes this node
    /// (transport `tcp` behind `HiddenServicePort 80 …`): sign-ups and
    /// logins name it, so the node must know it. Not needed with the
    /// built-in onion service.
    pub onion_address: Option<String>,
    /// Where the box's updater (`onionchat-update`) reports the last
    /// update of OnionChat, and whether it was rolled back; shown by
    /// `status` and on the screen. A missing file means no update yet.
    pub update_report: Option<PathBuf>,
    /// Seconds a client may take to send a request's headers before the
    /// connection is closed (a slow or stuck client cannot hold a slot).
    pub header_timeout_secs: u64,
    /// Seconds a request body (a message, an upload) may go without a
    /// byte before the request fails with `timeout` (nothing is stored).
    pub body_idle_secs: u64,
    /// Seconds a WebSocket may go without a frame from its client (clients
    /// ping every 25 s) before the node closes it.
    pub ws_idle_secs: u64,
}

/// Token-bucket rate limits (there are no client IPs behind an onion
/// service, so limits are per account, per session and per connection).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateConfig {
    /// Sustained messages per second per user.
    pub messages_per_sec: f64,
    /// Message burst per user.
    pub message_burst: f64,
    /// Sustained API requests per second per user (all their sessions together).
    pub requests_per_sec: f64,
    /// Request burst per user.
    pub request_burst: f64,
    /// Sign-ups per minute, node-wide (a loose cap).
    pub auth_per_min: f64,
    /// Sign-ups per minute for one username, and successful logins per
    /// minute for one account (challenges and failed logins are not
    /// limited: they store nothing, and limiting them would let anyone
    /// lock a name out).
    pub auth_per_user_per_min: f64,
    /// Requests with an unknown or expired session token per second,
    /// node-wide (bursts of five times as many).
    pub bad_tokens_per_sec: f64,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            messages_per_sec: 50.0,
            message_burst: 200.0,
            requests_per_sec: 50.0,
            request_burst: 200.0,
            auth_per_min: 600.0,
            auth_per_user_per_min: 12.0,
            bad_tokens_per_sec: 20.0,
        }
    }
}

/// Tor settings (used with transport `onion`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TorConfig {
    /// Only clients holding an authorized key can find the service.
    pub restricted_discovery: bool,
    /// Use a private Tor network instead of the public one: a TOML file in
    /// Arti's configuration format (`[tor_network]` authorities and
    /// fallbacks, path rules, …), merged over the defaults.
    pub network_config: Option<PathBuf>,
    /// Introduction requests per second accepted by the service (0 = Arti's default).
    pub intro_rate_per_sec: u32,
    /// Burst of introduction requests.
    pub intro_burst: u32,
    /// Most concurrent streams per rendezvous circuit.
    pub max_streams_per_circuit: u32,
    /// Onion-service proof-of-work defence (on by default: it costs
    /// nothing until the introduction queue is flooded, then clients that
    /// solve a puzzle get in first).
    pub pow: bool,
    /// Reach Tor only through these bridges (where Tor is blocked): lines
    /// as bridges.torproject.org gives them, `obfs4 IP:PORT FINGERPRINT
    /// cert=… iat-mode=0` or `IP:PORT FINGERPRINT`. Empty: directly.
    pub bridges: Vec<String>,
    /// The obfs4 program for obfs4 bridges (default: `lyrebird` or
    /// `obfs4proxy` on PATH; Debian: `apt install obfs4proxy`).
    pub transport_program: Option<PathBuf>,
}

// The defaults live here, not in `Config::default`, so a `[tor]` table
// that sets one key keeps the others' defaults.
impl Default for TorConfig {
    fn default() -> Self {
        TorConfig {
            restricted_discovery: true,
            network_config: None,
            intro_rate_per_sec: 0,
            intro_burst: 0,
            max_streams_per_circuit: 64,
            pow: true,
            bridges: Vec::new(),
            transport_program: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            transport: TransportKind::Onion,
            listen: SocketAddr::from(([127, 0, 0, 1], 8480)),
            allow_non_loopback: false,
            open_registration: false,
            invite_ttl_secs: 7 * 24 * 3600,
            session_ttl_secs: 30 * 24 * 3600,
            max_file_bytes: 2 * 1024 * 1024 * 1024,
            user_quota_bytes: 10 * 1024 * 1024 * 1024,
            min_free_mb: crate::store::space::DEFAULT_FLOOR_BYTES / (1024 * 1024),
            min_free_percent: crate::store::space::DEFAULT_FLOOR_PERCENT,
            retention_days: None,
            presence: true,
            typing: true,
            rate: RateConfig::default(),
            display: "auto".into(),
            buttons: None,
            button_invites: true,
            onion_address: None,
            update_report: Some(PathBuf::from("/var/lib/onionchat-update/report")),
            header_timeout_secs: 30,
            body_idle_secs: 60,
            ws_idle_secs: 90,
            db_cache_mb: 32,
            tor: TorConfig::default(),
        }
    }
}

/// `$XDG_DATA_HOME/onionchat-node` (or the platform's equivalent).
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("org", "OnionChat", "onionchat-node")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("onionchat-data"))
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this config.
    #[error("{path}: {source}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Cause.
        source: toml::de::Error,
    },
    /// A setting is unsafe or contradictory.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Read a TOML config file over the defaults.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// [`Config::header_timeout_secs`] as a duration (at least 1 s).
    pub fn header_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.header_timeout_secs.max(1))
    }

    /// [`Config::body_idle_secs`] as a duration.
    pub fn body_idle(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.body_idle_secs.max(1))
    }

    /// [`Config::ws_idle_secs`] as a duration.
    pub fn ws_idle(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ws_idle_secs.max(1))
    }

    /// Check for unsafe combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.transport == TransportKind::Tcp
            && !self.listen.ip().is_loopback()
            && !self.allow_non_loopback
        {
            return Err(ConfigError::Invalid(format!(
                "refusing to serve on {} without Tor: this exposes the node to the network. \
                 Use the onion transport, a loopback address, or --allow-non-loopback if you really mean it",
                self.listen
            )));
        }
        let r = &self.rate;
        if [
            r.messages_per_sec,
            r.requests_per_sec,
            r.auth_per_min,
            r.auth_per_user_per_min,
            r.bad_tokens_per_sec,
        ]
        .iter()
        .any(|v| v.is_nan() || *v <= 0.0)
        {
            return Err(ConfigError::Invalid("rate limits must be positive".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe_and_toml_overrides_them() {
        let c = Config::default();
        assert_eq!(c.transport, TransportKind::Onion);
        assert!(!c.open_registration);
        assert!(c.tor.restricted_discovery);
        assert!(c.tor.pow, "proof-of-work defence is on by default");
        // A [tor] table that sets one key keeps the other defaults.
        let c: Config = toml::from_str("[tor]\nintro_burst = 5\n").expect("toml");
        assert!(c.tor.restricted_discovery && c.tor.pow);
        assert_eq!(c.tor.max_streams_per_circuit, 64);
        c.validate().expect("defaults validate");
        let c: Config = toml::from_str(
            "transport = \"tcp\"\nlisten = \"0.0.0.0:80\"\n[rate]\nmessages_per_sec = 5.0\n",
        )
        .expect("parse");
        assert_eq!(c.rate.messages_per_sec, 5.0);
        assert!(c.validate().is_err(), "non-loopback TCP must be refused");
        assert!(toml::from_str::<Config>("no_such_key = 1").is_err());
    }

    #[test]
    fn the_packaged_config_file_is_valid_and_says_the_defaults() {
        // images/deb/node.toml ships in the .deb as /etc/onionchat/node.toml.
        let text = include_str!("../../images/deb/node.toml");
        let c: Config = toml::from_str(text).expect("the packaged node.toml parses");
        c.validate().expect("and validates");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/onionchat"));
        // Every commented setting, uncommented, still parses (no typos).
        let all: String = text
            .lines()
            // `#key = value` lines are settings; `# words` lines are prose.
            .map(|l| {
                l.strip_prefix('#')
                    .filter(|r| r.starts_with(|c: char| c.is_ascii_lowercase()))
                    .unwrap_or(l)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let c: Config = toml::from_str(&all).expect("every documented setting parses");
        assert_eq!(c.header_timeout_secs, 30);
        assert_eq!(c.retention_days, Some(365));
    }
}
