//! Crash harness: concurrent senders (over the live WebSocket, HTTP when it
//! is down) and file uploads against the real node binary, `kill -9` at a
//! random moment, restart, and check what a household would notice:
//!
//! - every acknowledged message is stored exactly once, at the seq its
//!   acknowledgement named, and verifies (signature and decryption);
//! - a message that was not acknowledged is either whole or absent, never
//!   doubled; seqs have no gaps;
//! - every acknowledged file, and every file a visible message points to,
//!   downloads completely and matches its SHA-256;
//! - `onionchat-node check`: no blob without a record, no record without
//!   its blob, quota usage equal to the files present.
//!
//! A short run is part of the test suite (`tests/crash.rs`); the long one
//! (≥ 100 kills) is `onionchat-crash --kills 100`. The same load and checks
//! run against the emulated box with its power cut instead ([`Target`],
//! `onionchat-crash --power-cuts N`, see [`crate::guest`]).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onionchat_client::{Client, ClientError, Connector, Incoming};
use onionchat_proto::wire::{FileId, InviteLink, MessageContent, RoomId};

use crate::{Node, PASS, config_arg, make_file, node_cmd, sha256_file};

/// What to run.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    /// How many times the node is killed.
    pub kills: u32,
    /// Seed of the kill moments and file sizes (printed, so a failing run
    /// can be repeated).
    pub seed: u64,
    /// The node is killed between 30 ms and this long after the load starts.
    pub max_run_ms: u64,
    /// Scratch directory (node data, profiles, downloads).
    pub dir: PathBuf,
    /// Print a line per kill on stderr.
    pub progress: bool,
    /// Pause between one sender's messages (the box's default rate limit
    /// is 50 messages/s per account; the local node's is raised instead).
    pub pace: Option<Duration>,
}

/// What the harness cuts and starts again.
pub trait Target {
    /// Streams to the node.
    fn connector(&self) -> Arc<dyn Connector>;
    /// Stop it abruptly: `kill -9` the node, or pull the box's plug.
    fn cut(&mut self);
    /// Start it again; returns once the node serves.
    fn restart(&mut self) -> impl std::future::Future<Output = ()>;
    /// What `onionchat-node check` finds wrong now (empty: healthy), or
    /// None where it cannot run between cuts (the emulated box).
    fn check(&mut self) -> Option<Vec<String>>;
    /// The last check, after the last cycle; then stop.
    fn finish(&mut self) -> impl std::future::Future<Output = Vec<String>>;
}

/// The node binary on this machine, killed with SIGKILL.
pub struct LocalNode {
    node: Node,
}

impl Target for LocalNode {
    fn connector(&self) -> Arc<dyn Connector> {
        self.node.connector()
    }

    fn cut(&mut self) {
        self.node.kill9();
    }

    async fn restart(&mut self) {
        tokio::task::block_in_place(|| self.node.start_again());
    }

    fn check(&mut self) -> Option<Vec<String>> {
        Some(store_check(&self.node.data_dir))
    }

    async fn finish(&mut self) -> Vec<String> {
        let problems = store_check(&self.node.data_dir);
        self.node.stop();
        problems
    }
}

/// What a run found.
#[derive(Debug, Default, Clone)]
pub struct CrashReport {
    /// Kills done.
    pub kills: u32,
    /// Messages the node acknowledged (each checked after every restart).
    pub acked_messages: u64,
    /// Sends cut off by a kill before their acknowledgement.
    pub unacked_sends: u64,
    /// Of those, how many were stored anyway (whole: allowed).
    pub unacked_stored: u64,
    /// Files whose upload and message were acknowledged.
    pub acked_files: u64,
    /// File downloads verified.
    pub files_verified: u64,
    /// Messages verified in the final full read of every room.
    pub messages_in_final_read: u64,
    /// Of those, text messages (the rest are file messages).
    pub texts_in_final_read: u64,
    /// Counters the final read reports as never arrived: each is a send
    /// a kill cut off (or a retry after one), whose counter is never used
    /// again (protocol §5) — an honest gap, not a loss.
    pub gaps_in_final_read: u64,
    /// The node's resident memory after the final read (its own status).
    pub node_memory_bytes: Option<u64>,
    /// What went wrong; must be empty.
    pub anomalies: Vec<String>,
}

/// Sends and uploads of one load phase.
#[derive(Default)]
struct Ledger {
    /// text → (room, seq the acknowledgement named).
    acked: HashMap<String, (RoomId, u64)>,
    /// Texts whose send ended without an acknowledgement.
    unacked: HashSet<String>,
    /// Files acknowledged: id and plaintext SHA-256.
    files: Vec<(FileId, Vec<u8>)>,
    /// The node refused a well-formed request while it was up.
    refusals: Vec<String>,
}

/// Tiny deterministic generator (xorshift64*), so runs repeat by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A node refusal is a finding; a lost connection (the kill) is not.
fn note_failure(ledger: &Mutex<Ledger>, what: &str, e: &ClientError) {
    if matches!(e, ClientError::Api(_)) {
        lock(ledger).refusals.push(format!("{what}: {e}"));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Text (or file marker) of a verified message.
fn label(content: &MessageContent) -> String {
    match content {
        MessageContent::Text { text } => text.clone(),
        MessageContent::File { file_id, .. } => format!("file:{file_id}"),
        other => other.summary(),
    }
}

/// Run the harness against the node binary on this machine.
pub async fn run(opts: &CrashOptions) -> CrashReport {
    let cfg = config_arg(
        &opts.dir,
        "[rate]\nmessages_per_sec = 10000.0\nmessage_burst = 10000.0\n\
         requests_per_sec = 10000.0\nrequest_burst = 10000.0\n",
    );
    let node = Node::start(&opts.dir.join("node"), &[&cfg]);
    let invite = node.owner_invite.clone().expect("owner invite");
    let invite = InviteLink::parse(&invite).expect("owner invite link");
    run_on(&mut LocalNode { node }, &invite, opts).await
}

/// Someone joins the node behind `target` with `invite`.
async fn join_target(
    target: &impl Target,
    dir: &Path,
    name: &str,
    invite: &InviteLink,
) -> Arc<Client> {
    let c = Client::join(
        &dir.join(name),
        PASS,
        invite,
        name,
        target.connector(),
        |_| {},
    )
    .await
    .unwrap_or_else(|e| panic!("{name} could not join: {e}"));
    Arc::new(c)
}

/// Run the harness against `target`, whose node is fresh and shows
/// `owner_invite`.
pub async fn run_on(
    target: &mut impl Target,
    owner_invite: &InviteLink,
    opts: &CrashOptions,
) -> CrashReport {
    let dir = &opts.dir;
    let ann = join_target(target, dir, "ann", owner_invite).await;
    // ann invites a friend (through the address the test reaches the node
    // at, not the one the node names), who accepts her friend request.
    let node: &_ = target;
    let befriend = |name: &'static str| {
        let ann = ann.clone();
        async move {
            let inv = ann.create_invite(None, None).await.expect("invite");
            let link = InviteLink {
                address: owner_invite.address.clone(),
                ..ann.invite_link(&inv.code)
            };
            let friend = join_target(node, dir, name, &link).await;
            let req = ann.send_friend_request(name).await.expect("request");
            let room = friend.accept_friend_request(&req).await.expect("accept");
            (friend, room.id)
        }
    };
    let (bob, direct) = befriend("bob").await;
    let (carol, _) = befriend("carol").await;
    let group = ann.create_group(&["bob", "carol"]).await.expect("group").id;
    let _live: Vec<_> = [&ann, &bob, &carol]
        .iter()
        .map(|c| c.start_live())
        .collect();

    let senders: Vec<(&str, Arc<Client>, RoomId)> = vec![
        ("ann", ann.clone(), direct),
        ("bob", bob.clone(), direct),
        ("carol", carol.clone(), group),
        ("ann", ann.clone(), group),
    ];
    let rooms = [direct, group];
    let mut rng = Rng(opts.seed | 1);
    let mut report = CrashReport::default();
    // What ann (a member of both rooms) has verified so far.
    let mut checked_upto: HashMap<RoomId, u64> = HashMap::new();
    let mut seen: HashMap<String, (RoomId, u64)> = HashMap::new();
    let mut all_acked: HashMap<String, (RoomId, u64)> = HashMap::new();
    let mut all_files: Vec<(FileId, Vec<u8>)> = Vec::new();
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).expect("downloads dir");

    for cycle in 0..opts.kills {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for (i, (who, c, room)) in senders.iter().enumerate() {
            let (c, room, who) = (c.clone(), *room, who.to_string());
            let (ledger, stop, pace) = (ledger.clone(), stop.clone(), opts.pace);
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if let Some(p) = pace {
                        tokio::time::sleep(p).await;
                    }
                    let text = format!("{who}/{i}/{cycle}/{n}");
                    n += 1;
                    match tokio::time::timeout(Duration::from_secs(20), c.send_text(room, &text))
                        .await
                    {
                        Ok(Ok(ack)) => {
                            lock(&ledger).acked.insert(text, (room, ack.seq));
                        }
                        Ok(Err(e)) => {
                            note_failure(&ledger, &text, &e);
                            lock(&ledger).unacked.insert(text);
                            break;
                        }
                        Err(_) => {
                            lock(&ledger).unacked.insert(text);
                            break;
                        }
                    }
                }
            }));
        }
        {
            let (bob, ledger, stop) = (bob.clone(), ledger.clone(), stop.clone());
            let src = dir.join(format!("upload-{cycle}.bin"));
            let len = 16 * 1024 + rng.below(384 * 1024) as usize;
            let seed = rng.next();
            tasks.push(tokio::spawn(async move {
                make_file(&src, len, seed);
                let sha = sha256_file(&src);
                while !stop.load(Ordering::Relaxed) {
                    let sent = tokio::time::timeout(
                        Duration::from_secs(60),
                        bob.send_file(group, &src, Box::new(|_, _| true)),
                    )
                    .await;
                    match sent {
                        Ok(Ok((id, _ack))) => lock(&ledger).files.push((id, sha.clone())),
                        Ok(Err(e)) => {
                            note_failure(&ledger, "upload", &e);
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(30 + rng.below(opts.max_run_ms))).await;
        target.cut();
        report.kills += 1;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            if let Err(e) = t.await {
                report
                    .anomalies
                    .push(format!("cycle {cycle}: a load task died: {e}"));
            }
        }
        target.restart().await;

        let ledger = std::mem::take(&mut *lock(&ledger));
        for r in &ledger.refusals {
            report
                .anomalies
                .push(format!("cycle {cycle}: the node refused {r}"));
        }
        report.anomalies.extend(
            target
                .check()
                .unwrap_or_default()
                .into_iter()
                .map(|p| format!("cycle {cycle}: check: {p}")),
        );
        // Read what is new in each room (history verifies and decrypts).
        for room in rooms {
            let after = checked_upto.get(&room).copied().unwrap_or(0);
            let items = match read_room(&ann, room, after).await {
                Ok(items) => items,
                Err(e) => {
                    report
                        .anomalies
                        .push(format!("cycle {cycle}: history of {room}: {e}"));
                    continue;
                }
            };
            let mut seqs = Vec::new();
            for item in items {
                match item {
                    Incoming::Message(r) => {
                        seqs.push(r.seq);
                        let label = label(&r.content);
                        if let Some(first) = seen.insert(label.clone(), (room, r.seq)) {
                            report.anomalies.push(format!(
                                "cycle {cycle}: {label} stored twice (seq {} and {})",
                                first.1, r.seq
                            ));
                        }
                        if let MessageContent::File {
                            file_id, sha256, ..
                        } = &r.content
                        {
                            // A visible file message means a whole file.
                            match verify_file(&ann, *file_id, sha256, &downloads).await {
                                Ok(()) => report.files_verified += 1,
                                Err(e) => report
                                    .anomalies
                                    .push(format!("cycle {cycle}: file {file_id}: {e}")),
                            }
                        }
                    }
                    // A send a kill cut off leaves its counter unused.
                    Incoming::Missing { .. } => {}
                    other => report
                        .anomalies
                        .push(format!("cycle {cycle}: not a verified message: {other:?}")),
                }
            }
            seqs.sort_unstable();
            for (i, s) in seqs.iter().enumerate() {
                if *s != after + 1 + i as u64 {
                    report.anomalies.push(format!(
                        "cycle {cycle}: room {room}: seq {s} where {} was due",
                        after + 1 + i as u64
                    ));
                    break;
                }
            }
            if let Some(last) = seqs.last() {
                checked_upto.insert(room, *last);
            }
        }
        for (text, at) in &ledger.acked {
            match seen.get(text) {
                Some(stored) if stored == at => {}
                Some(stored) => report.anomalies.push(format!(
                    "cycle {cycle}: {text} acknowledged as seq {} but stored as {}",
                    at.1, stored.1
                )),
                None => report
                    .anomalies
                    .push(format!("cycle {cycle}: acknowledged {text} is lost")),
            }
        }
        for (id, _) in &ledger.files {
            if !seen.contains_key(&format!("file:{id}")) {
                report.anomalies.push(format!(
                    "cycle {cycle}: the message of acknowledged file {id} is lost"
                ));
            }
        }
        report.acked_messages += ledger.acked.len() as u64;
        report.unacked_sends += ledger.unacked.len() as u64;
        report.unacked_stored += ledger
            .unacked
            .iter()
            .filter(|t| seen.contains_key(*t))
            .count() as u64;
        report.acked_files += ledger.files.len() as u64;
        all_acked.extend(ledger.acked);
        all_files.extend(ledger.files);
        if opts.progress {
            eprintln!(
                "kill {}/{}: {} messages and {} files acknowledged so far, {} anomalies",
                cycle + 1,
                opts.kills,
                report.acked_messages,
                report.acked_files,
                report.anomalies.len()
            );
        }
    }

    // The final read of every room from its start: everything acknowledged
    // in any cycle is still there, once, at its seq.
    let mut final_seen: HashMap<String, (RoomId, u64)> = HashMap::new();
    for room in rooms {
        match read_room(&ann, room, 0).await {
            Ok(items) => {
                for item in items {
                    if let Incoming::Message(r) = item {
                        report.messages_in_final_read += 1;
                        if matches!(r.content, MessageContent::Text { .. }) {
                            report.texts_in_final_read += 1;
                        }
                        if final_seen
                            .insert(label(&r.content), (room, r.seq))
                            .is_some()
                        {
                            report
                                .anomalies
                                .push(format!("final read: {} twice", label(&r.content)));
                        }
                    } else if let Incoming::Missing { count, .. } = item {
                        report.gaps_in_final_read += count;
                    } else {
                        report
                            .anomalies
                            .push(format!("final read: not a verified message: {item:?}"));
                    }
                }
            }
            Err(e) => report.anomalies.push(format!("final read of {room}: {e}")),
        }
    }
    for (text, at) in &all_acked {
        if final_seen.get(text) != Some(at) {
            report
                .anomalies
                .push(format!("final read: acknowledged {text} is not at {at:?}"));
        }
    }
    for (id, sha) in &all_files {
        match verify_file(&bob, *id, sha, &downloads).await {
            Ok(()) => report.files_verified += 1,
            Err(e) => report.anomalies.push(format!("final read: file {id}: {e}")),
        }
    }
    report.node_memory_bytes = ann.node_status().await.ok().and_then(|s| s.memory_bytes);
    report.anomalies.extend(
        target
            .finish()
            .await
            .into_iter()
            .map(|p| format!("final check: {p}")),
    );
    report
}

/// Every message of `room` after `after`, verified by `client`.
async fn read_room(
    client: &Client,
    room: RoomId,
    after: u64,
) -> Result<Vec<Incoming>, ClientError> {
    // The first request after a restart may meet a connection the kill
    // broke; one retry is what any client does.
    match client.history_all(room, after).await {
        Ok(items) => Ok(items),
        Err(_) => client.history_all(room, after).await,
    }
}

/// Download a file and compare it with its SHA-256.
async fn verify_file(
    client: &Client,
    id: FileId,
    sha256: &[u8],
    downloads: &Path,
) -> Result<(), String> {
    let dest = downloads.join(id.to_string());
    let _ = std::fs::remove_file(&dest);
    client
        .download_file(id, &dest, Some(sha256), Box::new(|_, _| true))
        .await
        .map_err(|e| e.to_string())?;
    if sha256_file(&dest) != sha256 {
        return Err("downloaded bytes do not match".into());
    }
    std::fs::remove_file(&dest).map_err(|e| e.to_string())
}

/// Problems `onionchat-node check` reports for the running node.
pub fn store_check(node_dir: &Path) -> Vec<String> {
    let out = node_cmd(node_dir, &["check", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<serde_json::Value>(&stdout) {
        Ok(v) => {
            let problems: Vec<String> = v["problems"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| p.as_str().unwrap_or("?").to_string())
                        .collect()
                })
                .unwrap_or_else(|| vec![format!("no problems list in {stdout}")]);
            if problems.is_empty() && !out.status.success() {
                return vec![format!("check exited {}", out.status)];
            }
            problems
        }
        Err(e) => vec![format!(
            "unreadable check output ({e}): {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        )],
    }
}
