//! Test harness: the real `onionchat-node` binary on loopback with a fresh
//! data dir, real clients, raw HTTP for error cases.
//!
//! The binaries must be built first (`cargo build --workspace --bins`; the
//! README test command does this); the harness finds them next to the
//! test executable's target directory.

pub mod card;
pub mod crash;
pub mod guest;
pub mod load;
pub mod pair;
pub mod proxy;
pub mod raw;
pub mod tor_net;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use onionchat_client::{Client, ClientEvent, TcpConnector};
use onionchat_proto::wire::InviteLink;

/// Passphrase used by test profiles.
pub const PASS: &[u8] = b"correct horse battery staple";

/// Path of a workspace binary (`onionchat-node`, `onionchat`).
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // A test runs from target/<profile>/deps/, a binary from target/<profile>/.
    let here = exe.parent().expect("exe dir");
    let p = if here.ends_with("deps") {
        here.parent().expect("target dir").join(name)
    } else {
        here.join(name)
    };
    assert!(
        p.exists(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins`",
        p.display()
    );
    p
}

/// The command that runs the node: the workspace's `onionchat-node`, or
/// what `ONIONCHAT_NODE_CMD` says (program and arguments separated by
/// spaces) — e.g. `qemu-aarch64-static -L /usr/aarch64-linux-gnu
/// dist/arm/onionchat-node` to run the node built for a Raspberry Pi.
pub fn node_command() -> Command {
    match std::env::var("ONIONCHAT_NODE_CMD") {
        Ok(spec) if !spec.trim().is_empty() => {
            let mut parts = spec.split_whitespace();
            let mut cmd = Command::new(parts.next().expect("program"));
            cmd.args(parts);
            cmd
        }
        _ => Command::new(bin_path("onionchat-node")),
    }
}

/// A running node process.
pub struct Node {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Data dir.
    pub data_dir: PathBuf,
    /// Owner invite link, while the node has no owner.
    pub owner_invite: Option<String>,
    /// What the node printed on stdout up to its "listening" line.
    pub stdout_head: Vec<String>,
    extra: Vec<String>,
    onion: Option<PathBuf>,
    /// Runs the node instead of [`node_command`] (a wrapper script).
    program: Option<PathBuf>,
}

impl Node {
    /// Start a node on an ephemeral loopback port.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Node {
        Self::start_on(
            data_dir,
            "127.0.0.1:0",
            extra.iter().map(|s| s.to_string()).collect(),
            None,
        )
    }

    /// Start a node on the TCP address `listen` (e.g. a port reserved for
    /// another Tor daemon's `HiddenServicePort`).
    pub fn start_at(data_dir: &Path, listen: &str, extra: &[&str]) -> Node {
        Self::start_on(
            data_dir,
            listen,
            extra.iter().map(|s| s.to_string()).collect(),
            None,
        )
    }

    /// Start a node as an onion service on the private Tor network described
    /// by `arti_config`.
    pub fn start_onion(data_dir: &Path, arti_config: &Path, extra: &[&str]) -> Node {
        Self::start_on(
            data_dir,
            "",
            extra.iter().map(|s| s.to_string()).collect(),
            Some(arti_config.to_path_buf()),
        )
    }

    /// Start a node on an ephemeral loopback port through `program` (a
    /// wrapper that execs the node binary with its arguments), also on
    /// every restart.
    pub fn start_through(program: &Path, data_dir: &Path, extra: &[&str]) -> Node {
        Self::start_on_with(
            data_dir,
            "127.0.0.1:0",
            extra.iter().map(|s| s.to_string()).collect(),
            None,
            Some(program.to_path_buf()),
        )
    }

    fn start_on(data_dir: &Path, listen: &str, extra: Vec<String>, onion: Option<PathBuf>) -> Node {
        Self::start_on_with(data_dir, listen, extra, onion, None)
    }

    fn start_on_with(
        data_dir: &Path,
        listen: &str,
        extra: Vec<String>,
        onion: Option<PathBuf>,
        program: Option<PathBuf>,
    ) -> Node {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.with_extension("log"))
            .expect("log file");
        let mut cmd = match &program {
            Some(p) => Command::new(p),
            None => node_command(),
        };
        cmd.arg("--data-dir").arg(data_dir);
        for e in &extra {
            if e.starts_with("--config") {
                cmd.arg(e);
            }
        }
        match &onion {
            Some(cfg) => {
                cmd.args(["run", "--transport", "onion", "--tor-network"])
                    .arg(cfg);
            }
            None => {
                cmd.args(["run", "--transport", "tcp", "--listen", listen]);
            }
        }
        cmd.args(extra.iter().filter(|e| !e.starts_with("--config")));
        let mut child = cmd
            // ONIONCHAT_TEST_NODE_LOG=debug,tor_guardmgr=trace (say) to see
            // more of what Arti does in a test's node.
            .env(
                "RUST_LOG",
                std::env::var("ONIONCHAT_TEST_NODE_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn node");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut owner_invite = None;
        let mut unowned = false;
        let mut stdout_head = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(180);
        let url = loop {
            assert!(Instant::now() < deadline, "node did not start in time");
            let line = lines
                .next()
                .unwrap_or_else(|| {
                    let log =
                        std::fs::read_to_string(data_dir.with_extension("log")).unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(6).collect();
                    panic!("node exited early; its log ends: {tail:#?}")
                })
                .expect("read");
            if let Some(inv) = line.trim().strip_prefix("Owner invite: ") {
                owner_invite = Some(inv.to_string());
            }
            stdout_head.push(line.clone());
            if line.starts_with("Nobody owns this node yet") && owner_invite.is_none() {
                unowned = true;
            }
            if let Some(url) = line.strip_prefix("OnionChat node listening on ") {
                break url.trim().to_string();
            }
        };
        // Not on a terminal, the node keeps its owner invite out of its
        // output (logs); ask for it the way an owner at the box would.
        if unowned && owner_invite.is_none() {
            let out = node_cmd_ok(data_dir, &["invite", "owner"]);
            owner_invite = out
                .lines()
                .find_map(|l| l.trim().strip_prefix("Owner invite: "))
                .map(str::to_string);
            assert!(owner_invite.is_some(), "no owner invite: {out}");
        }
        // Keep draining stdout so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let addr = url.trim_start_matches("http://").to_string();
        Node {
            child: Some(child),
            url,
            addr,
            data_dir: data_dir.to_path_buf(),
            owner_invite,
            stdout_head,
            extra,
            onion,
            program,
        }
    }

    /// Process id of the node.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Graceful stop (SIGTERM) and wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if child.try_wait().expect("wait").is_some() {
                    return;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("node did not stop within 30 s of SIGTERM");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Wait up to `secs` for the node to exit by itself; its exit status.
    pub fn wait_exit(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            let child = self.child.as_mut()?;
            if let Some(status) = child.try_wait().expect("wait") {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Crash: SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop and start again on the same port with the same data dir.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Start again after `stop`/`kill9` (same port, same data dir).
    pub fn start_again(&mut self) {
        // The port may linger briefly; retry a few times.
        let addr = self.addr.clone();
        for _ in 0..if self.onion.is_some() { 0 } else { 50 } {
            if std::net::TcpListener::bind(&addr).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let n = Node::start_on_with(
            &self.data_dir,
            &addr,
            self.extra.clone(),
            self.onion.clone(),
            self.program.clone(),
        );
        *self = n;
    }

    /// A TCP connector to this node.
    pub fn connector(&self) -> Arc<TcpConnector> {
        Arc::new(TcpConnector::new(self.addr.clone()))
    }

    /// The last `n` lines of the node's log (its stderr), oldest first.
    pub fn log_tail(&self, n: usize) -> Vec<String> {
        let log = std::fs::read_to_string(self.data_dir.with_extension("log")).unwrap_or_default();
        let mut tail: Vec<String> = log.lines().rev().take(n).map(str::to_string).collect();
        tail.reverse();
        tail
    }

    /// Wait until the node's onion service says it is running (descriptors
    /// published, introduction points up), so that a client joining next
    /// is not racing the service's first publication. Panics with the log's
    /// tail after `secs`.
    pub fn wait_onion_running(&self, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let log_path = self.data_dir.with_extension("log");
        loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if log
                .lines()
                .any(|l| l.contains("onion service state") && l.contains("state=Running"))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the onion service did not come up in {secs} s; the node's log ends: {:#?}",
                self.log_tail(12)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Create a profile in `dir` and join via `invite`.
pub async fn join(node: &Node, dir: &Path, username: &str, invite: &str) -> Arc<Client> {
    let link = InviteLink::parse(invite).expect("invite link");
    let c = Client::join(dir, PASS, &link, username, node.connector(), |_| {})
        .await
        .unwrap_or_else(|e| panic!("{username} could not join: {e}"));
    Arc::new(c)
}

/// "ann" joins with the node's owner invite and becomes its owner; her
/// profile lives in `dir`.
pub async fn join_owner(node: &Node, dir: &Path) -> Arc<Client> {
    join(
        node,
        dir,
        "ann",
        node.owner_invite.as_deref().expect("owner invite"),
    )
    .await
}

/// ann (owner, via the owner invite) and bob (invited by ann), friends,
/// with their 1:1 room.
pub async fn two_friends(
    node: &Node,
    dir: &Path,
) -> (Arc<Client>, Arc<Client>, onionchat_proto::wire::RoomId) {
    let ann = join_owner(node, &dir.join("ann")).await;
    let inv = ann.create_invite(None, None).await.expect("invite");
    let bob = join(
        node,
        &dir.join("bob"),
        "bob",
        &ann.invite_link(&inv.code).to_string(),
    )
    .await;
    let req = ann.send_friend_request("bob").await.expect("request");
    let room = bob.accept_friend_request(&req).await.expect("accept").id;
    (ann, bob, room)
}

/// ann (the owner, through the owner invite) and an account for each of
/// `names`, each joined with an invite ann made; the first `friends` of them
/// accepted a friend request from ann. Returns ann, the others in order,
/// and the 1:1 rooms of those friends.
pub async fn owner_and(
    node: &Node,
    dir: &Path,
    names: &[&str],
    friends: usize,
) -> (
    Arc<Client>,
    Vec<Arc<Client>>,
    Vec<onionchat_proto::wire::RoomId>,
) {
    let ann = join_owner(node, &dir.join("ann")).await;
    let mut people = Vec::new();
    for name in names {
        let inv = ann.create_invite(None, None).await.expect("invite");
        let link = ann.invite_link(&inv.code).to_string();
        people.push(join(node, &dir.join(name), name, &link).await);
    }
    let mut rooms = Vec::new();
    for friend in &people[..friends] {
        let req = ann
            .send_friend_request(&friend.username())
            .await
            .expect("request");
        rooms.push(friend.accept_friend_request(&req).await.expect("accept").id);
    }
    (ann, people, rooms)
}

/// Open an existing profile against `node`.
pub fn open(node: &Node, dir: &Path) -> Arc<Client> {
    let conn = node.connector();
    Arc::new(Client::open(dir, PASS, move |_| Ok(conn)).expect("open profile"))
}

/// Write `toml` as the node's config file in `dir`; the flag that loads it.
pub fn config_arg(dir: &Path, toml: &str) -> String {
    let p = dir.join("node.toml");
    std::fs::write(&p, toml).expect("config");
    format!("--config={}", p.display())
}

/// Wait until `pred` matches an event, or panic after `secs`.
pub async fn wait_event<T>(
    rx: &mut tokio::sync::broadcast::Receiver<ClientEvent>,
    secs: u64,
    mut pred: impl FnMut(&ClientEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(ev)) => {
                if let Some(t) = pred(&ev) {
                    return t;
                }
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(e)) => panic!("event stream ended: {e}"),
            Err(_) => panic!("timed out waiting for an event"),
        }
    }
}

/// Wait until the client's live connection is up.
pub async fn wait_connected(rx: &mut tokio::sync::broadcast::Receiver<ClientEvent>, secs: u64) {
    wait_event(rx, secs, |e| {
        matches!(
            e,
            ClientEvent::Connection(onionchat_client::ConnectionState::Connected)
        )
        .then_some(())
    })
    .await
}

/// Wait until a text message `text` arrives; returns it.
pub async fn wait_text(
    rx: &mut tokio::sync::broadcast::Receiver<ClientEvent>,
    secs: u64,
    text: &str,
) -> onionchat_client::Received {
    wait_event(rx, secs, |e| match e {
        ClientEvent::Message(onionchat_client::Incoming::Message(r))
            if r.content
                == onionchat_proto::wire::MessageContent::Text {
                    text: text.to_string(),
                } =>
        {
            Some(r.clone())
        }
        _ => None,
    })
    .await
}

/// `from` sends the file `src` to `room`, `to` downloads it into `dest`
/// (the client checks the announced SHA-256), and the bytes match.
pub async fn file_round_trip(
    from: &Client,
    to: &Client,
    room: onionchat_proto::wire::RoomId,
    src: &Path,
    dest: &Path,
) -> onionchat_proto::wire::FileId {
    let (file_id, _) = from
        .send_file(room, src, Box::new(|_, _| true))
        .await
        .expect("upload");
    to.download_file(
        file_id,
        dest,
        Some(&sha256_file(src)),
        Box::new(|_, _| true),
    )
    .await
    .expect("download");
    assert_eq!(
        sha256_file(dest),
        sha256_file(src),
        "downloaded bytes differ"
    );
    file_id
}

/// SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Vec<u8> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path).expect("open");
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().to_vec()
}

/// Write `len` pseudo-random bytes to `path`.
pub fn make_file(path: &Path, len: usize, seed: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut buf = Vec::with_capacity(1 << 16);
    let mut written = 0;
    while written < len {
        buf.clear();
        while buf.len() < (1 << 16) && written + buf.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&x.to_le_bytes()[..(len - written - buf.len()).min(8)]);
        }
        f.write_all(&buf).expect("write");
        written += buf.len();
    }
}

/// Resident memory of a process in KiB (VmRSS), from /proc.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Percentile of sorted durations (ms).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Run a box-side command: `onionchat-node --data-dir DIR ARGS…`.
pub fn node_cmd(data_dir: &Path, args: &[&str]) -> std::process::Output {
    node_command()
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run onionchat-node")
}

/// Like [`node_cmd`], but it must succeed; returns its stdout.
pub fn node_cmd_ok(data_dir: &Path, args: &[&str]) -> String {
    let out = node_cmd(data_dir, args);
    assert!(
        out.status.success(),
        "onionchat-node {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The texts of verified messages, in order; a rejected message fails the test.
pub fn texts(items: &[onionchat_client::Incoming]) -> Vec<String> {
    use onionchat_client::Incoming;
    use onionchat_proto::wire::MessageContent;
    items
        .iter()
        .filter_map(|i| match i {
            Incoming::Message(r) => match &r.content {
                MessageContent::Text { text } => Some(text.clone()),
                _ => None,
            },
            Incoming::Rejected { reason, .. } => panic!("a message was rejected: {reason}"),
            Incoming::BeforeYouJoined { seq, .. } => {
                panic!("message {seq} was sent before we were in the room")
            }
            Incoming::Missing {
                count, sender_name, ..
            } => {
                panic!("{count} messages from {sender_name} are missing")
            }
        })
        .collect()
}

/// The text of the one QR code in a PNG picture (a screen's frame, or a
/// screenshot of an emulated screen), if there is one that decodes.
pub fn qr_in_png(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let luma = |x: usize, y: usize| -> u8 {
        let i = (y * w + x) * channels;
        match channels {
            1 | 2 => buf[i],
            _ => {
                ((u32::from(buf[i]) * 3 + u32::from(buf[i + 1]) * 6 + u32::from(buf[i + 2])) / 10)
                    as u8
            }
        }
    };
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, luma);
    let grids = img.detect_grids();
    grids.first()?.decode().ok().map(|(_, content)| content)
}

/// An Arti configuration for a Tor network nobody runs: every directory
/// and relay address is a closed port on loopback.
pub fn dead_network(dir: &std::path::Path) -> std::path::PathBuf {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let path = dir.join("dead-net.toml");
    std::fs::write(
        &path,
        format!(
            "[address_filter]\nallow_local_addrs = true\n\n\
             [tor_network]\nfallback_caches = [\n  {{ rsa_identity = \"{rsa}\", ed_identity = \"{ed}\", orports = [\"127.0.0.1:{closed}\"] }}\n]\n\n\
             [tor_network.authorities]\nv3idents = [\"{v3}\"]\nuploads = [[\"127.0.0.1:{closed}\"]]\ndownloads = [[\"127.0.0.1:{closed}\"]]\nvotes = [[\"127.0.0.1:{closed}\"]]\n",
            rsa = "A".repeat(40),
            ed = "A".repeat(43),
            v3 = "C".repeat(40),
        ),
    )
    .expect("arti config");
    path
}

/// Write a 1200 × 900 JPEG photo with an EXIF block holding a GPS
/// position and the marker text `our-home` to look for.
pub fn photo_with_gps(path: &Path) {
    // A sunset: smooth, like a photo (and small as a PNG screenshot).
    let img = image::RgbImage::from_fn(1200, 900, |x, y| {
        let sky = (y * 255 / 900) as u8;
        let sun = if (x as i32 - 800).pow(2) + (y as i32 - 560).pow(2) < 110 * 110 {
            255
        } else {
            0
        };
        if y > 600 {
            image::Rgb([20, 60 + (x * 60 / 1200) as u8, 120 + (y % 40) as u8])
        } else {
            image::Rgb([255 - sky / 4, 120 + sky / 3 + sun / 4, 80 + sun / 2])
        }
    });
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut jpeg, 85,
        ))
        .expect("encode");
    let mut exif =
        b"Exif\0\0II*\0\x08\0\0\0\x01\0\x25\x88\x04\0\x01\0\0\0\x1a\0\0\0\0\0\0\0".to_vec();
    exif.extend_from_slice(b"GPS 52.3702N 4.8952E our-home");
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    std::fs::write(path, out).expect("write photo");
}
