//! A private Tor network on 127.0.0.1 made of Debian's `tor` daemons:
//! 3 directory authorities (keys from `tor-gencert`) and 7 relays, all
//! flagged guard/exit/HSDir, with TestingTorNetwork timings; plus the Arti
//! configuration that points at it. Every daemon is told to exit with the
//! test process (`__OwningControllerProcess`) and is killed on drop, so
//! nothing outlives a failed test.
//!
//! Settings follow `../shared/notes/local-tor-network.md` (checked with
//! Arti 0.47): the one non-obvious rule is that Arti's `hsdir_interval`
//! must equal C tor's shortened onion-service time period, 24 × the voting
//! interval (20 s) = 8 minutes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Voting interval of the test network, in seconds.
pub const VOTING_INTERVAL: u64 = 20;
/// Onion-service time period, in seconds (24 voting intervals).
pub const TIME_PERIOD: u64 = 24 * VOTING_INTERVAL;

/// One tor daemon.
pub struct Daemon {
    /// Nickname.
    pub name: String,
    /// Data directory.
    pub dir: PathBuf,
    /// OR port.
    pub orport: u16,
    /// Dir port.
    pub dirport: u16,
    child: Option<Child>,
    torrc: PathBuf,
}

impl Daemon {
    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.join("stdout.log")).expect("log");
        let child = Command::new("tor")
            .arg("-f")
            .arg(&self.torrc)
            .stdout(Stdio::from(log))
            .stderr(Stdio::null())
            .spawn()
            .expect("start tor (apt-get install tor)");
        self.child = Some(child);
    }

    /// Whether it logged "Bootstrapped 100%".
    /// Start it and wait (up to 2 minutes) until it has bootstrapped.
    fn spawn_bootstrapped(&mut self) {
        self.spawn();
        let start = Instant::now();
        while !self.bootstrapped() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "tor daemon {} did not bootstrap; its log is in {}",
                self.name,
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn bootstrapped(&self) -> bool {
        std::fs::read_to_string(self.dir.join("notice.log"))
            .is_ok_and(|s| s.contains("Bootstrapped 100%"))
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The running network.
pub struct TorNet {
    /// Where everything lives.
    pub dir: PathBuf,
    /// Authorities then relays.
    pub daemons: Vec<Daemon>,
    /// Arti configuration (TOML) for this network.
    pub arti_config: PathBuf,
    dir_authority_lines: Vec<String>,
}

fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    ls.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

fn run(cmd: &mut Command, input: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

const COMMON: &str = "TestingTorNetwork 1
AssumeReachable 1
PathsNeededToBuildCircuits 0.25
TestingDirAuthVoteExit *
TestingDirAuthVoteGuard *
TestingDirAuthVoteHSDir *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
Address 127.0.0.1
SocksPort 0
ExitRelay 1
ExitPolicyRejectPrivate 0
ExitPolicy accept *:*
RunAsDaemon 0
";

const AUTHORITY: &str = "AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
TestingV3AuthInitialVotingInterval 5
V3AuthVotingInterval 20
TestingV3AuthInitialVoteDelay 2
V3AuthVoteDelay 4
TestingV3AuthInitialDistDelay 2
V3AuthDistDelay 4
";

impl TorNet {
    /// Build and start the network in `dir`; returns once every daemon has
    /// bootstrapped (about 10–20 s).
    pub fn start(dir: &Path) -> TorNet {
        std::fs::create_dir_all(dir).expect("dir");
        let empty = dir.join("empty-torrc");
        std::fs::write(&empty, "").expect("empty torrc");
        let ports = free_ports(20);
        let mut daemons = Vec::new();
        let mut dir_authority_lines = Vec::new();
        for i in 0..10 {
            let name = if i < 3 {
                format!("auth{i}")
            } else {
                format!("relay{}", i - 3)
            };
            let d = dir.join(&name);
            std::fs::create_dir_all(d.join("keys")).expect("dir");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).expect("chmod");
            let (orport, dirport) = (ports[2 * i], ports[2 * i + 1]);
            if i < 3 {
                let keys = d.join("keys");
                run(
                    Command::new("tor-gencert")
                        .args([
                            "--create-identity-key",
                            "-m",
                            "12",
                            "-a",
                            &format!("127.0.0.1:{dirport}"),
                            "-i",
                        ])
                        .arg(keys.join("authority_identity_key"))
                        .arg("-s")
                        .arg(keys.join("authority_signing_key"))
                        .arg("-c")
                        .arg(keys.join("authority_certificate"))
                        .arg("--passphrase-fd")
                        .arg("0"),
                    "\n",
                );
                let cert =
                    std::fs::read_to_string(keys.join("authority_certificate")).expect("cert");
                let v3ident = cert
                    .lines()
                    .find_map(|l| l.strip_prefix("fingerprint "))
                    .expect("v3ident")
                    .trim()
                    .to_string();
                run(
                    Command::new("tor")
                        .arg("--list-fingerprint")
                        .arg("--DataDirectory")
                        .arg(&d)
                        .args([
                            "--ORPort",
                            &orport.to_string(),
                            "--Nickname",
                            &name,
                            "--SocksPort",
                            "0",
                            "-f",
                        ])
                        .arg(&empty),
                    "",
                );
                let fp = std::fs::read_to_string(d.join("fingerprint")).expect("fingerprint");
                let rsa = fp.split_whitespace().nth(1).expect("rsa fp").to_string();
                dir_authority_lines.push(format!(
                    "DirAuthority {name} orport={orport} no-v2 v3ident={v3ident} 127.0.0.1:{dirport} {rsa}"
                ));
            }
            daemons.push(Daemon {
                torrc: d.join("torrc"),
                name,
                dir: d,
                orport,
                dirport,
                child: None,
            });
        }
        let owner = std::process::id();
        for (i, d) in daemons.iter_mut().enumerate() {
            let mut torrc = String::from(COMMON);
            torrc.push_str(&format!(
                "Nickname {}\nDataDirectory {}\nORPort 127.0.0.1:{}\nDirPort 127.0.0.1:{}\nLog notice file {}\n__OwningControllerProcess {owner}\n",
                d.name,
                d.dir.display(),
                d.orport,
                d.dirport,
                d.dir.join("notice.log").display()
            ));
            if i < 3 {
                torrc.push_str(AUTHORITY);
            }
            for l in &dir_authority_lines {
                torrc.push_str(l);
                torrc.push('\n');
            }
            std::fs::write(&d.torrc, torrc).expect("torrc");
            d.spawn();
        }
        let mut net = TorNet {
            arti_config: dir.join("arti.toml"),
            dir: dir.to_path_buf(),
            daemons,
            dir_authority_lines,
        };
        net.wait_bootstrapped(Duration::from_secs(180));
        net.write_arti_config();
        net
    }

    fn wait_bootstrapped(&self, limit: Duration) {
        let start = Instant::now();
        while !self
            .daemons
            .iter()
            .filter(|d| d.child.is_some())
            .all(Daemon::bootstrapped)
        {
            assert!(
                start.elapsed() < limit,
                "the test Tor network did not bootstrap within {limit:?}; logs in {}",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Write the Arti TOML that points at this network.
    fn write_arti_config(&mut self) {
        let mut fallbacks = Vec::new();
        for d in &self.daemons {
            // Relay identity keys exist once the daemon has started.
            let rsa = std::fs::read_to_string(d.dir.join("fingerprint")).expect("fingerprint");
            let ed = std::fs::read_to_string(d.dir.join("fingerprint-ed25519"))
                .expect("ed25519 fingerprint");
            fallbacks.push(format!(
                "  {{ rsa_identity = \"{}\", ed_identity = \"{}\", orports = [\"127.0.0.1:{}\"] }}",
                rsa.split_whitespace().nth(1).expect("rsa"),
                ed.split_whitespace().nth(1).expect("ed"),
                d.orport
            ));
        }
        let mut v3 = Vec::new();
        let mut addrs = Vec::new();
        for l in &self.dir_authority_lines {
            let v = l
                .split_whitespace()
                .find_map(|w| w.strip_prefix("v3ident="))
                .expect("v3ident");
            let a = l
                .split_whitespace()
                .find(|w| w.starts_with("127.0.0.1:"))
                .expect("addr");
            v3.push(format!("\"{v}\""));
            addrs.push(format!("[\"{a}\"]"));
        }
        let toml = format!(
            "# Arti configuration for the private test network in this directory.\n\
             [path_rules]\nipv4_subnet_family_prefix = 33\nipv6_subnet_family_prefix = 129\n\n\
             [address_filter]\nallow_local_addrs = true\n\n\
             [override_net_params]\nhsdir_interval = {}\ncbtdisabled = 1\ncbtinitialtimeout = 10000\n\"guard-min-filtered-sample-size\" = 5\n\n\
             [tor_network]\nfallback_caches = [\n{}\n]\n\n\
             [tor_network.authorities]\nv3idents = [{}]\nuploads = [{}]\ndownloads = [{}]\nvotes = [{}]\n",
            TIME_PERIOD / 60,
            fallbacks.join(",\n"),
            v3.join(", "),
            addrs.join(", "),
            addrs.join(", "),
            addrs.join(", ")
        );
        std::fs::write(&self.arti_config, toml).expect("arti.toml");
    }

    /// An Arti configuration for this network as seen from a network that
    /// blocks Tor: every relay it knows of (its fallback directories) is
    /// at an address where nothing answers, as a censor that blocks the
    /// public relays' addresses leaves them. Directly, Arti stays stuck;
    /// through a bridge (which it reaches at the bridge's own address) it
    /// gets everything else from the bridge.
    pub fn blocked_arti_config(&self) -> PathBuf {
        let blocked = self.dir.join("arti-blocked.toml");
        // A port that was free a moment ago and has nobody listening.
        let closed = free_ports(1)[0];
        let text = std::fs::read_to_string(&self.arti_config).expect("arti.toml");
        let mut out = String::new();
        let mut in_fallbacks = false;
        for line in text.lines() {
            if line.starts_with("fallback_caches") {
                in_fallbacks = true;
            } else if in_fallbacks && line.starts_with(']') {
                in_fallbacks = false;
            }
            if in_fallbacks && line.contains("orports") {
                let start = line.find("orports").expect("orports");
                out.push_str(&line[..start]);
                out.push_str(&format!("orports = [\"127.0.0.1:{closed}\"] }},"));
                out.push('\n');
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        assert!(!out.contains(&format!(":{}\"", self.daemons[0].orport)));
        std::fs::write(&blocked, out).expect("arti-blocked.toml");
        blocked
    }

    /// The `DirAuthority` lines, for extra C tor clients.
    pub fn dir_authority_lines(&self) -> &[String] {
        &self.dir_authority_lines
    }

    /// Kill one relay by name (to see the service recover).
    pub fn kill(&mut self, name: &str) {
        if let Some(d) = self.daemons.iter_mut().find(|d| d.name == name) {
            d.kill();
        }
    }

    /// Start a C tor bridge `name` whose server transport is Debian's
    /// `obfs4proxy`; returns once it has bootstrapped, with its bridge
    /// lines (obfs4 and plain). The bridge is not in the consensus: only
    /// clients given a line can use it.
    pub fn obfs4_bridge(&mut self, name: &str) -> BridgeLines {
        let ports = free_ports(2);
        let (orport, ptport) = (ports[0], ports[1]);
        let program = ["/usr/bin/obfs4proxy", "/usr/bin/lyrebird"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("obfs4proxy (apt-get install obfs4proxy)");
        let extra = format!(
            "Nickname {name}\nAddress 127.0.0.1\nORPort 127.0.0.1:{orport}\nBridgeRelay 1\n\
             PublishServerDescriptor 0\nAssumeReachable 1\nSocksPort 0\nExtORPort auto\n\
             ServerTransportPlugin obfs4 exec {program}\n\
             ServerTransportListenAddr obfs4 127.0.0.1:{ptport}\n"
        );
        let d = self.c_tor(name, &extra);
        let dir = d.dir.clone();
        let fp = std::fs::read_to_string(dir.join("fingerprint")).expect("fingerprint");
        let fp = fp
            .split_whitespace()
            .nth(1)
            .expect("fingerprint")
            .to_string();
        // obfs4proxy writes its line (with its cert) as it starts.
        let start = Instant::now();
        let template = loop {
            if let Ok(t) = std::fs::read_to_string(dir.join("pt_state/obfs4_bridgeline.txt"))
                && let Some(l) = t.lines().find(|l| l.starts_with("Bridge obfs4"))
            {
                break l.to_string();
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "obfs4proxy wrote no bridge line in {}",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(250));
        };
        BridgeLines {
            obfs4: template
                .trim_start_matches("Bridge ")
                .replace("<IP ADDRESS>:<PORT>", &format!("127.0.0.1:{ptport}"))
                .replace("<FINGERPRINT>", &fp),
            plain: format!("127.0.0.1:{orport} {fp}"),
        }
    }

    /// Start a daemon stopped with [`TorNet::kill`] again (same keys,
    /// same ports); returns when it has bootstrapped.
    pub fn restart(&mut self, name: &str) {
        let d = self
            .daemons
            .iter_mut()
            .find(|d| d.name == name)
            .expect("no such daemon");
        d.spawn_bootstrapped();
    }

    /// Start a C tor client (and optionally an onion service) with extra
    /// torrc lines; returns when it has bootstrapped.
    pub fn c_tor(&mut self, name: &str, extra: &str) -> &Daemon {
        let d = self.dir.join(name);
        std::fs::create_dir_all(&d).expect("dir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let mut torrc = format!(
            "TestingTorNetwork 1\nRunAsDaemon 0\nDataDirectory {}\nLog notice file {}\n__OwningControllerProcess {}\n{extra}\n",
            d.display(),
            d.join("notice.log").display(),
            std::process::id()
        );
        for l in &self.dir_authority_lines {
            torrc.push_str(l);
            torrc.push('\n');
        }
        let path = d.join("torrc");
        std::fs::write(&path, torrc).expect("torrc");
        let mut daemon = Daemon {
            name: name.into(),
            dir: d,
            orport: 0,
            dirport: 0,
            child: None,
            torrc: path,
        };
        daemon.spawn_bootstrapped();
        self.daemons.push(daemon);
        self.daemons.last().expect("daemon")
    }

    /// A C tor onion service `name` in front of `127.0.0.1:port` (its
    /// virtual port 80); returns its address once C tor has written it.
    pub fn c_tor_onion_service(&mut self, name: &str, port: u16) -> String {
        let hs = self.dir.join(format!("{name}-hs"));
        std::fs::create_dir_all(&hs).expect("hs dir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hs, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        self.c_tor(
            name,
            &format!(
                "SocksPort 0\nHiddenServiceDir {}\nHiddenServicePort 80 127.0.0.1:{port}\n",
                hs.display()
            ),
        );
        let start = Instant::now();
        loop {
            if let Ok(h) = std::fs::read_to_string(hs.join("hostname")) {
                return h.trim().to_string();
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "C tor wrote no hostname for {name}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for TorNet {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            d.kill();
        }
    }
}

/// Seconds until the next onion-service time-period boundary of the test
/// network (C tor's TestingTorNetwork periods start at unix time ≡ 240 mod 480).
pub fn secs_to_rollover() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let phase = (now + TIME_PERIOD - TIME_PERIOD / 2) % TIME_PERIOD;
    TIME_PERIOD - phase
}

/// If a time-period boundary is less than `margin` away, wait until 45 s
/// past it (the service has republished by then), so a multi-step test does
/// not straddle a rollover.
pub fn avoid_rollover(margin: Duration) {
    let left = secs_to_rollover();
    if left < margin.as_secs() {
        std::thread::sleep(Duration::from_secs(left + 45));
    }
}

/// A bridge's lines, as a bridge's operator hands them out.
#[derive(Debug, Clone)]
pub struct BridgeLines {
    /// `obfs4 127.0.0.1:PORT FINGERPRINT cert=… iat-mode=0`.
    pub obfs4: String,
    /// `127.0.0.1:ORPORT FINGERPRINT` (no transport).
    pub plain: String,
}

/// Join a node over Arti on this network, retrying while the young network
/// settles (descriptor publication, time-period rollover). Gives up after
/// about two minutes.
pub async fn join_via_tor(
    net: &TorNet,
    dir: &Path,
    name: &str,
    invite: &str,
) -> onionchat_client::Result<std::sync::Arc<onionchat_client::Client>> {
    join_via_bridges(&net.arti_config, dir, name, invite, &[]).await
}

/// [`join_via_tor`], reaching the network only through `bridges`, with the
/// Arti configuration `network` (the network's own, or
/// [`TorNet::blocked_arti_config`]).
pub async fn join_via_bridges(
    network: &Path,
    dir: &Path,
    name: &str,
    invite: &str,
    bridges: &[String],
) -> onionchat_client::Result<std::sync::Arc<onionchat_client::Client>> {
    use onionchat_client::transport::{TorOptions, connector_for};
    let link = onionchat_proto::wire::InviteLink::parse(invite)
        .map_err(|e| onionchat_client::ClientError::Profile(e.to_string()))?;
    let mut data = onionchat_client::profile::VaultData::default();
    data.address = link.address.clone();
    data.auth_key = link.auth_key.clone();
    let tor = TorOptions {
        state_dir: Some(dir.with_extension("tor")),
        network_config: Some(network.to_path_buf()),
        progress: false,
        on_bootstrap: None,
        bootstrap_timeout: None,
        bridges: bridges.to_vec(),
        transport_program: None,
    };
    let mut last = None;
    for _ in 0..12 {
        // Every try's connector shares one Tor client (the process's, for
        // this state directory: see onionchat_tor::shared).
        let connector = connector_for(&data, &tor)?;
        match onionchat_client::Client::join(dir, crate::PASS, &link, name, connector, |_| {}).await
        {
            Ok(c) => return Ok(std::sync::Arc::new(c)),
            Err(e) => {
                eprintln!("{name}: join failed ({e}); retrying");
                last = Some(e);
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    }
    Err(last.unwrap_or_else(|| onionchat_client::ClientError::Connect("gave up".into())))
}

/// Wait until the onion service named by `invite` answers `GET /v1/info`
/// through a fresh Arti client on the network `network` (state kept in
/// `dir`), so a test that then joins through a slower path (bridges, a
/// window) does not race the service's first publication. The invite is
/// not used up. Panics after about `secs` seconds with the last error.
pub async fn wait_reachable(network: &Path, dir: &Path, invite: &str, secs: u64) {
    use onionchat_client::transport::{TorOptions, connector_for};
    let link = onionchat_proto::wire::InviteLink::parse(invite).expect("invite link");
    let mut data = onionchat_client::profile::VaultData::default();
    data.address = link.address.clone();
    data.auth_key = link.auth_key.clone();
    let tor = TorOptions {
        state_dir: Some(dir.to_path_buf()),
        network_config: Some(network.to_path_buf()),
        progress: false,
        on_bootstrap: None,
        bootstrap_timeout: None,
        bridges: Vec::new(),
        transport_program: None,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let connector = connector_for(&data, &tor).expect("connector");
        let api = onionchat_client::api::Api::new(connector);
        let err = match api
            .get::<onionchat_proto::wire::ServerInfo>("/v1/info")
            .await
        {
            Ok(_) => return,
            Err(e) => e,
        };
        assert!(
            std::time::Instant::now() < deadline,
            "the onion service was not reachable in {secs} s: {err}"
        );
        eprintln!("the onion service is not reachable yet ({err}); trying again");
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
