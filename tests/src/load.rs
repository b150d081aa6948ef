//! Load: hundreds of WebSocket clients on one node at once, in rooms of 2
//! to 20, with the two kinds of client a box on a shelf will meet — ones
//! that stop reading (a laptop lid closed mid-download) and ones that
//! vanish mid-frame (a phone losing its network) — while everyone else
//! chats. Well-behaved clients must see no errors and get every message;
//! slow ones must be cut off rather than hold others up.
//!
//! `onionchat-bench load` runs it at full size (docs/benchmark-history.md); the
//! test suite runs a small one (`tests/load.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use onionchat_proto::crypto::roster::{first_roster, roster_hash, sign_roster};
use onionchat_proto::crypto::{IdentityKey, RoomKey, at_rest, room_key};
use onionchat_proto::encode;
use onionchat_proto::wire::{
    CreateRoom, FriendRequest, FriendRequestCreate, MsgId, RoomId, RoomKind, RosterMember,
    ServerFrame, UserId, UserInfo,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::{Node, percentile, raw, rss_kib};

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Clients in all (each its own account and WebSocket).
    pub clients: usize,
    /// Of those, clients that never read their socket.
    pub slow: usize,
    /// Of those, clients that connect, send half a frame and vanish, again
    /// and again.
    pub vanishing: usize,
    /// How long the chatting lasts.
    pub duration: Duration,
    /// Each well-behaved client sends one message this often.
    pub send_every: Duration,
    /// Where generated RSA keys are kept between runs (generation is most
    /// of the set-up time); `None` makes fresh ones.
    pub key_cache: Option<PathBuf>,
}

/// What a run saw.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    /// Clients connected.
    pub clients: usize,
    /// Rooms, and the smallest and largest.
    pub rooms: usize,
    /// Room sizes (min, max).
    pub room_sizes: (usize, usize),
    /// Messages sent by well-behaved clients.
    pub sent: u64,
    /// Of those, acknowledged.
    pub acked: u64,
    /// Copies well-behaved clients should have received.
    pub expected_deliveries: u64,
    /// Copies they did receive.
    pub delivered: u64,
    /// Send → receive latency at well-behaved receivers (ms): p50, p99, max.
    pub latency_ms: (f64, f64, f64),
    /// Slow clients the node cut off, of `slow`.
    pub slow_cut_off: usize,
    /// Connections that vanished mid-frame.
    pub vanished: u64,
    /// Node RSS before the load and at its peak (KiB).
    pub rss_kib: (u64, u64),
    /// Errors well-behaved clients saw; must be empty.
    pub errors: Vec<String>,
}

/// Signed send frames of one client, by message id.
type Frames = Vec<(MsgId, Vec<u8>)>;

struct Member {
    name: String,
    id: UserId,
    key: Arc<IdentityKey>,
    token: String,
    room: RoomId,
}

/// `n` identity keys, from `cache` when it has them.
fn keys(n: usize, cache: Option<&Path>) -> Vec<IdentityKey> {
    let load = |i: usize| -> Option<IdentityKey> {
        let pem = std::fs::read_to_string(cache?.join(format!("{i:04}.pem"))).ok()?;
        at_rest::from_plain_pem(&pem).ok()
    };
    let mut out: Vec<Option<IdentityKey>> = (0..n).map(load).collect();
    let missing: Vec<usize> = (0..n).filter(|i| out[*i].is_none()).collect();
    if !missing.is_empty() {
        eprintln!("generating {} RSA keys (kept for next time)", missing.len());
        let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
        let made: Vec<(usize, IdentityKey)> = std::thread::scope(|s| {
            let handles: Vec<_> = missing
                .chunks(missing.len().div_ceil(cores))
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|&i| (i, IdentityKey::generate().expect("keygen")))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("keygen thread"))
                .collect()
        });
        for (i, key) in made {
            if let Some(dir) = cache {
                let _ = std::fs::create_dir_all(dir);
                let pem = at_rest::plain_pem_for_tests(&key).expect("pem");
                let _ = std::fs::write(dir.join(format!("{i:04}.pem")), pem.as_bytes());
            }
            out[i] = Some(key);
        }
    }
    out.into_iter().map(|k| k.expect("every key")).collect()
}

/// Room sizes from 2 to 20 covering `n` clients.
fn room_sizes(n: usize) -> Vec<usize> {
    const CYCLE: [usize; 10] = [2, 3, 4, 5, 6, 8, 10, 12, 16, 20];
    let mut sizes = Vec::new();
    let mut left = n;
    let mut k = 0;
    while left > 0 {
        let mut s = CYCLE[k % CYCLE.len()].min(left);
        if left - s == 1 {
            // Nobody is left alone in a room.
            if s < 20 { s += 1 } else { s -= 1 }
        }
        if s < 2 {
            break;
        }
        sizes.push(s);
        left -= s;
        k += 1;
    }
    sizes
}

async fn post(addr: &str, path: &str, token: &str, body: Vec<u8>) -> raw::RawResponse {
    let r = raw::post_cbor(addr, path, Some(token), body).await;
    assert!(
        r.status == 200 || r.status == 201,
        "POST {path}: {} {:?}",
        r.status,
        r.code()
    );
    r
}

/// Sign everyone up and put them in rooms of 2..=20 (friendships first:
/// a group is made of its creator's friends).
async fn set_up(addr: &str, keys: Vec<IdentityKey>) -> Vec<Vec<Member>> {
    let mut people = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        let name = format!("load{i}");
        let r = raw::signup(addr, &key, &name, None).await;
        assert_eq!(r.status, 200, "signup {name}: {:?}", r.code());
        let r = raw::post_cbor(
            addr,
            "/v1/auth/login",
            None,
            raw::signed_login(addr, &key, &name).await,
        )
        .await;
        assert_eq!(r.status, 200, "login {name}: {:?}", r.code());
        let token = raw::session_token(&r);
        let me: UserInfo =
            onionchat_proto::decode(&raw::get(addr, "/v1/me", Some(&token)).await.body)
                .expect("me");
        people.push(Member {
            name,
            id: me.user_id,
            key: Arc::new(key),
            token,
            room: RoomId([0; 16]),
        });
    }
    let mut rooms = Vec::new();
    let mut people = people.into_iter();
    for size in room_sizes(people.len()) {
        let mut members: Vec<Member> = people.by_ref().take(size).collect();
        let (creator, others) = members.split_first().expect("a creator");
        let mut direct = None;
        for m in others {
            let r = post(
                addr,
                "/v1/friends/requests",
                &creator.token,
                encode(&FriendRequestCreate { to: m.name.clone() }).expect("enc"),
            )
            .await;
            let req: FriendRequest = onionchat_proto::decode(&r.body).expect("request");
            let room = raw::accept_direct(
                addr,
                &m.token,
                req.id,
                (m.id, &m.name, &m.key),
                (creator.id, &creator.name, &creator.key),
            )
            .await;
            direct = Some(room.id);
        }
        let room = if size == 2 {
            direct.expect("the 1:1 room")
        } else {
            let room_id = RoomId::random();
            let rk = RoomKey::generate();
            let body = first_roster(
                room_id,
                RoomKind::Group,
                creator.id,
                creator.key.fingerprint(),
                members
                    .iter()
                    .map(|m| RosterMember {
                        user: m.id,
                        username: m.name.clone(),
                        fp: m.key.fingerprint(),
                    })
                    .collect(),
                onionchat_proto::now_ms(),
            );
            let roster = sign_roster(&creator.key, &body).expect("roster");
            let hash = roster_hash(&roster);
            let key_grants = members
                .iter()
                .map(|m| {
                    room_key::make_grant(&creator.key, room_id, 1, hash, m.id, m.key.public(), &rk)
                        .expect("grant")
                })
                .collect();
            post(
                addr,
                "/v1/rooms",
                &creator.token,
                encode(&CreateRoom {
                    room_id,
                    roster,
                    key_grants,
                    title: None,
                })
                .expect("enc"),
            )
            .await;
            room_id
        };
        for m in &mut members {
            m.room = room;
        }
        rooms.push(members);
    }
    rooms
}

/// Signed send frames for one member (made before the clock starts):
/// short messages, and in a `busy` room every tenth one long (a pasted
/// text, a long story: 60 KiB), so that what a stalled member is owed
/// outgrows what the node will hold for them.
fn frames(key: &IdentityKey, room: RoomId, n: usize, busy: bool) -> Frames {
    (1..=n as u64)
        .map(|counter| {
            let len = if busy && counter % 10 == 0 {
                60 * 1024
            } else {
                300
            };
            raw::send_frame(key, room, counter, len)
        })
        .collect()
}

/// A WebSocket whose owner never reads, with a small receive window (a
/// phone on a bad link, a laptop whose lid closed): what the node sends
/// piles up on its side.
async fn stalled_socket(addr: &str, token: &str) -> raw::RawSocket {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = socket
        .connect(addr.parse().expect("socket address"))
        .await
        .expect("connect");
    raw::websocket_over(stream, addr, token).await
}

/// Connect, send the start of a frame, and drop the connection.
async fn vanish_once(addr: &str, token: &str) -> std::io::Result<()> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let req = format!(
        "GET /v1/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
    // A masked binary frame announcing 256 bytes, of which 10 come.
    s.write_all(&[0x82, 0x80 | 126, 0x01, 0x00, 1, 2, 3, 4])
        .await?;
    s.write_all(&[0u8; 10]).await?;
    Ok(())
}

/// Run the load against `node` (started with open registration and loose
/// auth limits, see [`node_config`]).
pub async fn run(node: &Node, opts: &LoadOptions) -> LoadReport {
    let addr = node.addr.clone();
    let t = Instant::now();
    let keys = tokio::task::block_in_place(|| keys(opts.clients, opts.key_cache.as_deref()));
    let rooms = set_up(&addr, keys).await;
    eprintln!(
        "{} clients in {} rooms set up in {:.1} s",
        opts.clients,
        rooms.len(),
        t.elapsed().as_secs_f64()
    );
    let mut report = LoadReport {
        clients: opts.clients,
        rooms: rooms.len(),
        room_sizes: (
            rooms.iter().map(Vec::len).min().unwrap_or(0),
            rooms.iter().map(Vec::len).max().unwrap_or(0),
        ),
        ..LoadReport::default()
    };
    // Roles. Clients that stop reading sit in the busiest rooms (most
    // traffic to hold back, and most people they could hold up), one per
    // room at most; clients that vanish are spread over the rest.
    let mut everyone: Vec<(Member, usize)> = Vec::new();
    let mut sizes = Vec::new();
    for (r, members) in rooms.into_iter().enumerate() {
        sizes.push((members.len(), r));
        everyone.extend(members.into_iter().map(|m| (m, r)));
    }
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let mut role = vec![0u8; everyone.len()]; // 0 good, 1 slow, 2 vanishing
    for &(_, r) in sizes.iter().take(opts.slow) {
        // The last member of the room (never its creator).
        if let Some(i) = everyone.iter().rposition(|(_, room)| *room == r) {
            role[i] = 1;
        }
    }
    let busy: std::collections::HashSet<usize> =
        sizes.iter().take(opts.slow).map(|&(_, r)| r).collect();
    let free: Vec<usize> = (0..everyone.len()).filter(|i| role[*i] == 0).collect();
    let step = free.len() / opts.vanishing.max(1);
    for k in 0..opts.vanishing {
        role[free[(k * step + step / 2).min(free.len() - 1)]] = 2;
    }
    let good_in_room = {
        let mut c: HashMap<usize, u64> = HashMap::new();
        for (i, (_, r)) in everyone.iter().enumerate() {
            if role[i] == 0 {
                *c.entry(*r).or_default() += 1;
            }
        }
        c
    };
    let per_client = (opts.duration.as_millis() / opts.send_every.as_millis().max(1)) as usize + 2;
    let t = Instant::now();
    let mut prepared: Vec<Option<Frames>> = Vec::new();
    {
        let members: Vec<(Arc<IdentityKey>, RoomId, bool, bool)> = everyone
            .iter()
            .enumerate()
            .map(|(i, (m, r))| (m.key.clone(), m.room, role[i] == 0, busy.contains(r)))
            .collect();
        let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
        let chunk = members.len().div_ceil(cores);
        let signed: Vec<Vec<Option<Frames>>> = std::thread::scope(|s| {
            let hs: Vec<_> = members
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|(key, room, good, busy)| {
                                good.then(|| frames(key, *room, per_client, *busy))
                            })
                            .collect()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("signer")).collect()
        });
        for part in signed {
            prepared.extend(part);
        }
    }
    eprintln!(
        "signed {} messages in {:.1} s",
        prepared.iter().flatten().map(Vec::len).sum::<usize>(),
        t.elapsed().as_secs_f64()
    );

    let pid = node.pid().expect("node pid");
    report.rss_kib.0 = rss_kib(pid).unwrap_or(0);
    let peak = Arc::new(AtomicU64::new(report.rss_kib.0));
    let sent_at: Arc<Mutex<HashMap<MsgId, (Instant, usize)>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let (sent, acked, delivered, vanished) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let start = Instant::now();
    let deadline = start + opts.duration;
    // Everyone connects first; then the clock runs.
    let mut good = Vec::new();
    let mut slow = Vec::new();
    let mut tasks = Vec::new();
    for (i, ((m, room_index), frames)) in everyone.into_iter().zip(prepared).enumerate() {
        match role[i] {
            1 => slow.push(stalled_socket(&addr, &m.token).await),
            2 => {
                let (addr, token, vanished) = (addr.clone(), m.token.clone(), vanished.clone());
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < deadline {
                        if vanish_once(&addr, &token).await.is_ok() {
                            vanished.fetch_add(1, Ordering::Relaxed);
                        }
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                }));
            }
            _ => good.push((
                m.name,
                room_index,
                raw::websocket(&addr, &m.token).await,
                frames.expect("frames"),
            )),
        }
    }
    {
        let peak = peak.clone();
        tokio::spawn(async move {
            while Instant::now() < deadline + Duration::from_secs(5) {
                if let Some(kib) = rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
    let n_good = good.len();
    for (k, (name, room_index, socket, frames)) in good.into_iter().enumerate() {
        let (mut sink, mut stream) = socket.split();
        let (sent_at, latencies, errors) = (sent_at.clone(), latencies.clone(), errors.clone());
        let (sent, acked, delivered) = (sent.clone(), acked.clone(), delivered.clone());
        let others = good_in_room.get(&room_index).copied().unwrap_or(1) as usize - 1;
        let every = opts.send_every;
        // Spread the first sends over one interval.
        let offset = every.mul_f64(k as f64 / n_good.max(1) as f64);
        tasks.push(tokio::spawn(async move {
            let reader = {
                let (errors, name, sent_at) = (errors.clone(), name.clone(), sent_at.clone());
                tokio::spawn(async move {
                    while let Some(m) = stream.next().await {
                        let Ok(Message::Binary(b)) = m else {
                            if let Ok(Message::Close(c)) = m {
                                errors
                                    .lock()
                                    .expect("lock")
                                    .push(format!("{name}: closed {c:?}"));
                            }
                            continue;
                        };
                        match onionchat_proto::decode::<ServerFrame>(&b) {
                            Ok(ServerFrame::Ack(_)) => {
                                acked.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(ServerFrame::Message(sm)) => {
                                let Ok(body) =
                                    onionchat_proto::crypto::message::decode(&sm.envelope)
                                else {
                                    continue;
                                };
                                if let Some((t, _)) =
                                    sent_at.lock().expect("lock").get(&body.msg_id)
                                {
                                    latencies
                                        .lock()
                                        .expect("lock")
                                        .push(t.elapsed().as_secs_f64() * 1e3);
                                }
                                delivered.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(ServerFrame::Error { error, .. }) => errors
                                .lock()
                                .expect("lock")
                                .push(format!("{name}: {error:?}")),
                            Ok(_) => {}
                            Err(e) => errors
                                .lock()
                                .expect("lock")
                                .push(format!("{name}: undecodable frame: {e}")),
                        }
                    }
                })
            };
            tokio::time::sleep(offset).await;
            let mut next = Instant::now();
            for (id, bytes) in frames {
                if Instant::now() >= deadline {
                    break;
                }
                sent_at
                    .lock()
                    .expect("lock")
                    .insert(id, (Instant::now(), others));
                if let Err(e) = sink.send(Message::Binary(bytes.into())).await {
                    errors
                        .lock()
                        .expect("lock")
                        .push(format!("{name}: send: {e}"));
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                next += every;
                tokio::time::sleep_until(next.into()).await;
            }
            // Let the last copies arrive before closing.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let _ = sink.close().await;
            reader.abort();
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    // A slow client that the node cut off finds the end of its stream
    // once it finally reads; one that was kept finds its frames still
    // coming.
    let drains: Vec<_> = slow
        .into_iter()
        .map(|mut socket| {
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_secs(10), async {
                    loop {
                        match socket.next().await {
                            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                            Some(Ok(_)) => {}
                        }
                    }
                })
                .await
                .unwrap_or(false)
            })
        })
        .collect();
    for d in drains {
        report.slow_cut_off += usize::from(d.await.unwrap_or(false));
    }
    report.sent = sent.load(Ordering::Relaxed);
    report.acked = acked.load(Ordering::Relaxed);
    report.delivered = delivered.load(Ordering::Relaxed);
    report.expected_deliveries = sent_at
        .lock()
        .expect("lock")
        .values()
        .map(|(_, others)| *others as u64)
        .sum();
    report.vanished = vanished.load(Ordering::Relaxed);
    report.rss_kib.1 = peak.load(Ordering::Relaxed);
    let mut l = std::mem::take(&mut *latencies.lock().expect("lock"));
    l.sort_by(f64::total_cmp);
    report.latency_ms = (
        percentile(&l, 0.5),
        percentile(&l, 0.99),
        l.last().copied().unwrap_or(0.0),
    );
    report.errors = std::mem::take(&mut *errors.lock().expect("lock"));
    report
}

/// Node settings for a load run: anyone may sign up (the run makes its
/// own accounts), and set-up logins are not throttled.
pub fn node_config() -> &'static str {
    "open_registration = true\n[rate]\nauth_per_min = 1000000.0\nauth_per_user_per_min = 1000.0\n"
}
