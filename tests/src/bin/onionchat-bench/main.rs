//! Benchmarks (not tests): `onionchat-bench node|client|tor|paths|load`.
//! Build with `cargo build --release --workspace --bins` and run the
//! release binary; results are printed as Markdown tables.

mod paths;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use onionchat_proto::crypto::IdentityKey;
use onionchat_proto::encode;
use onionchat_proto::wire::{FriendRequest, FriendRequestCreate, MsgId, RoomId, ServerFrame};
use onionchat_tests::raw;
use onionchat_tests::{Node, percentile, rss_kib};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

struct User {
    key: Arc<IdentityKey>,
    token: String,
    room: RoomId,
}

async fn signup_login(addr: &str, key: &IdentityKey, name: &str) -> String {
    let r = raw::signup(addr, key, name, None).await;
    assert_eq!(r.status, 200, "signup {name}: {:?}", r.code());
    let r = raw::post_cbor(
        addr,
        "/v1/auth/login",
        None,
        raw::signed_login(addr, key, name).await,
    )
    .await;
    assert_eq!(r.status, 200, "login {name}: {:?}", r.code());
    raw::session_token(&r)
}

/// `n` users, each in a 1:1 room with an offline "hub" account.
async fn make_users(addr: &str, n: usize) -> Vec<User> {
    let t = Instant::now();
    let mut keys = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..=n {
        handles.push(tokio::task::spawn_blocking(|| {
            IdentityKey::generate().expect("keygen")
        }));
    }
    for h in handles {
        keys.push(h.await.expect("keygen"));
    }
    eprintln!(
        "generated {} keys in {:.1} s",
        keys.len(),
        t.elapsed().as_secs_f64()
    );
    let hub_key = keys.remove(0);
    let hub_token = signup_login(addr, &hub_key, "hub").await;
    let hub_info: onionchat_proto::wire::UserInfo =
        onionchat_proto::decode(&raw::get(addr, "/v1/me", Some(&hub_token)).await.body)
            .expect("me");
    let mut users = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        let name = format!("user{i}");
        let token = signup_login(addr, &key, &name).await;
        let me: onionchat_proto::wire::UserInfo =
            onionchat_proto::decode(&raw::get(addr, "/v1/me", Some(&token)).await.body)
                .expect("me");
        let r = raw::post_cbor(
            addr,
            "/v1/friends/requests",
            Some(&token),
            encode(&FriendRequestCreate { to: "hub".into() }).expect("enc"),
        )
        .await;
        let req: FriendRequest = onionchat_proto::decode(&r.body).expect("request");
        let room = raw::accept_direct(
            addr,
            &hub_token,
            req.id,
            (hub_info.user_id, "hub", &hub_key),
            (me.user_id, &name, &key),
        )
        .await;
        users.push(User {
            key: Arc::new(key),
            token,
            room: room.id,
        });
    }
    eprintln!(
        "set up {n} users and rooms in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    users
}

fn envelope(user: &User, counter: u64) -> (MsgId, Vec<u8>) {
    raw::send_frame(&user.key, user.room, counter, 200)
}

/// Signed send frames for `user`, made on every core (RSA signing is what
/// limits how many a benchmark can prepare).
async fn envelopes(user: &User, n: usize) -> Vec<(MsgId, Vec<u8>)> {
    let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
    let per = n.div_ceil(cores);
    let mut handles = Vec::new();
    for part in 0..cores {
        let u = User {
            key: user.key.clone(),
            token: user.token.clone(),
            room: user.room,
        };
        handles.push(tokio::task::spawn_blocking(move || {
            (part * per..((part + 1) * per).min(n))
                .map(|i| envelope(&u, i as u64 + 1))
                .collect::<Vec<_>>()
        }));
    }
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.extend(h.await.expect("sign"));
    }
    out
}

#[derive(Default)]
struct Samples {
    ack_ms: Vec<f64>,
    recv_ms: Vec<f64>,
    acked: u64,
    /// When the last ack arrived (a run may end early: its envelopes are
    /// signed up front and can run out).
    last_ack: Option<Instant>,
}

/// Most messages one throughput run can send: each is RSA-signed up front
/// (≈ 3 ms a signature), so this bounds the preparation time.
const MAX_SIGNED: usize = 24_000;

/// Run `senders` WebSocket senders for `dur`; `rate` = messages/s per sender (None = as fast as possible, window 32).
async fn run_senders(
    addr: &str,
    users: &[User],
    senders: usize,
    dur: Duration,
    rate: Option<f64>,
) -> (Samples, f64) {
    let samples = Arc::new(Mutex::new(Samples::default()));
    // Sign everything first: the clock starts when sending does.
    let per_sender = if rate.is_some() {
        200
    } else {
        MAX_SIGNED / senders.max(1) + 50
    };
    let mut prepared = Vec::new();
    for user in users.iter().take(senders) {
        prepared.push((user.token.clone(), envelopes(user, per_sender).await));
    }
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = Vec::new();
    for (token, frames) in prepared {
        let addr = addr.to_string();
        let samples = samples.clone();
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = raw::websocket(&addr, &token).await.split();
            // Delivery is timed on a second session of the same user: the
            // sending connection gets the ack, not a copy.
            let mut watcher = raw::websocket(&addr, &token).await;
            let sent: Arc<std::sync::Mutex<HashMap<MsgId, Instant>>> = Arc::default();
            let window = Arc::new(tokio::sync::Semaphore::new(32));
            let (sent2, w2) = (sent.clone(), window.clone());
            let acks = tokio::spawn(async move {
                let mut local = Samples::default();
                while let Some(Ok(m)) = stream.next().await {
                    let Message::Binary(b) = m else { continue };
                    if let Ok(ServerFrame::Ack(a)) = onionchat_proto::decode::<ServerFrame>(&b) {
                        if let Some(t) = sent2.lock().expect("lock").get(&a.msg_id) {
                            local.ack_ms.push(t.elapsed().as_secs_f64() * 1e3);
                        }
                        local.acked += 1;
                        local.last_ack = Some(Instant::now());
                        w2.add_permits(1);
                    }
                }
                local
            });
            let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
            let sent3 = sent.clone();
            let receipts = tokio::spawn(async move {
                let mut recv_ms = Vec::new();
                loop {
                    let m = tokio::select! {
                        m = watcher.next() => m,
                        _ = &mut stopped => break,
                    };
                    let Some(Ok(Message::Binary(b))) = m else {
                        break;
                    };
                    if let Ok(ServerFrame::Message(sm)) = onionchat_proto::decode::<ServerFrame>(&b)
                        && let Ok(body) = onionchat_proto::crypto::message::decode(&sm.envelope)
                        && let Some(t) = sent3.lock().expect("lock").get(&body.msg_id)
                    {
                        recv_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                }
                recv_ms
            });
            let mut next = Instant::now();
            for (id, bytes) in frames {
                if Instant::now() >= deadline {
                    break;
                }
                match rate {
                    Some(r) => {
                        next += Duration::from_secs_f64(1.0 / r);
                        tokio::time::sleep_until(next.into()).await;
                    }
                    None => window.acquire().await.expect("permit").forget(),
                }
                sent.lock().expect("lock").insert(id, Instant::now());
                if sink.send(Message::Binary(bytes.into())).await.is_err() {
                    break;
                }
            }
            // Let in-flight acks and copies arrive, then close.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = stop.send(());
            let _ = sink.close().await;
            let local = tokio::time::timeout(Duration::from_secs(5), acks)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            let recv_ms = receipts.await.unwrap_or_default();
            let mut s = samples.lock().await;
            s.ack_ms.extend(local.ack_ms);
            s.recv_ms.extend(recv_ms);
            s.acked += local.acked;
            s.last_ack = s.last_ack.max(local.last_ack);
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    let s = Arc::try_unwrap(samples).ok().expect("samples").into_inner();
    let until = s.last_ack.map_or(dur, |t| t.duration_since(start)).min(dur);
    (s, until.as_secs_f64())
}

fn fsync_rate(dir: &std::path::Path) -> f64 {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path).expect("probe");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(3) {
        f.write_all(&[0u8; 4096]).expect("write");
        f.sync_data().expect("fsync");
        n += 1;
    }
    let _ = std::fs::remove_file(path);
    n as f64 / start.elapsed().as_secs_f64()
}

async fn bench_node() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = tmp.path().join("node.toml");
    std::fs::write(
        &cfg,
        "open_registration = true\npresence = false\ntyping = false\n[rate]\nmessages_per_sec = 1000000.0\nmessage_burst = 1000000.0\nrequests_per_sec = 1000000.0\nrequest_burst = 1000000.0\nauth_per_min = 1000000.0\n",
    )
    .expect("config");
    let node = Node::start(
        &tmp.path().join("node"),
        &[&format!("--config={}", cfg.display())],
    );
    let pid = node.pid().expect("pid");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_fresh = rss_kib(pid).unwrap_or(0);
    let fsyncs = fsync_rate(&node.data_dir);
    let users = make_users(&node.addr, 256).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss_kib(pid).unwrap_or(0);
    println!("\n### Node on loopback (`onionchat-bench node`)\n");
    println!("Raw fsync rate of the data dir's disk (4 KiB write + fdatasync): **{fsyncs:.0}/s**.");
    println!(
        "Node RSS: {:.1} MiB fresh, {:.1} MiB idle with 257 accounts and 256 rooms.\n",
        rss_fresh as f64 / 1024.0,
        rss_idle as f64 / 1024.0
    );
    println!(
        "| senders | durable msgs/s | × fsync rate | send→ack p50 / p99 (ms) | send→receive p50 / p99 (ms) | node RSS peak (MiB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    // ONIONCHAT_BENCH_SENDERS=256 runs one row (e.g. under a heap profiler).
    let rows: Vec<usize> = std::env::var("ONIONCHAT_BENCH_SENDERS")
        .ok()
        .and_then(|v| v.split(',').map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 64, 256]);
    for n in rows {
        let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let p2 = peak.clone();
        let sampler = tokio::spawn(async move {
            loop {
                if let Some(r) = rss_kib(pid) {
                    p2.fetch_max(r, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        let (mut s, secs) = run_senders(&node.addr, &users, n, Duration::from_secs(5), None).await;
        sampler.abort();
        s.ack_ms.sort_by(f64::total_cmp);
        s.recv_ms.sort_by(f64::total_cmp);
        let rate = s.acked as f64 / secs;
        println!(
            "| {n} | {rate:.0} | {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} |",
            rate / fsyncs,
            percentile(&s.ack_ms, 0.5),
            percentile(&s.ack_ms, 0.99),
            percentile(&s.recv_ms, 0.5),
            percentile(&s.recv_ms, 0.99),
            peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0
        );
    }
    let (mut s, secs) = run_senders(
        &node.addr,
        &users,
        64,
        Duration::from_secs(10),
        Some(1000.0 / 64.0),
    )
    .await;
    s.ack_ms.sort_by(f64::total_cmp);
    s.recv_ms.sort_by(f64::total_cmp);
    println!(
        "\nAt 1,000 messages/s offered (64 senders × 15.6/s, 10 s): {:.0} acked/s, send→ack p50 {:.1} ms, p99 **{:.1} ms**; send→receive p50 {:.1} ms, p99 {:.1} ms.",
        s.acked as f64 / secs,
        percentile(&s.ack_ms, 0.5),
        percentile(&s.ack_ms, 0.99),
        percentile(&s.recv_ms, 0.5),
        percentile(&s.recv_ms, 0.99)
    );
    // The node gives memory back once traffic has been quiet for a few
    // seconds (node/src/memory.rs).
    tokio::time::sleep(Duration::from_secs(6)).await;
    println!(
        "Node RSS after the runs (idle again for 6 s): {:.1} MiB.",
        rss_kib(pid).unwrap_or(0) as f64 / 1024.0
    );
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

async fn bench_client() {
    use onionchat_client::{Client, Incoming};
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = tmp.path().join("node.toml");
    std::fs::write(&cfg, "[rate]\nmessages_per_sec = 1000000.0\nmessage_burst = 1000000.0\nrequests_per_sec = 1000000.0\nrequest_burst = 1000000.0\n").expect("config");
    let node = Node::start(
        &tmp.path().join("node"),
        &[&format!("--config={}", cfg.display())],
    );
    let (ann, bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    ann.save().expect("save");

    let mut unlock = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let conn = node.connector();
        let _c = Client::open(&tmp.path().join("ann"), onionchat_tests::PASS, move |_| {
            Ok(conn)
        })
        .expect("open");
        unlock.push(t.elapsed().as_secs_f64() * 1e3);
    }
    unlock.sort_by(f64::total_cmp);

    let n = 10_000usize;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let ann = ann.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..n / 4 {
                ann.send_text(
                    room,
                    &format!("message {w}-{i}: the quick brown fox jumps over the lazy dog"),
                )
                .await
                .expect("send");
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    let send_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let hist = bob.history_all(room, 0).await.expect("history");
    let hist_s = t.elapsed().as_secs_f64();
    assert_eq!(hist.len(), n);
    assert!(hist.iter().all(|i| matches!(i, Incoming::Message(_))));

    let size = 200 * 1024 * 1024;
    let src = tmp.path().join("big.bin");
    onionchat_tests::make_file(&src, size, 1);
    let hwm_before = vm_hwm_kib();
    let t = Instant::now();
    let (file_id, _) = ann
        .send_file(room, &src, Box::new(|_, _| true))
        .await
        .expect("upload");
    let up = size as f64 / t.elapsed().as_secs_f64() / 1e6;
    let dest = tmp.path().join("out.bin");
    let t = Instant::now();
    bob.download_file(file_id, &dest, None, Box::new(|_, _| true))
        .await
        .expect("download");
    let down = size as f64 / t.elapsed().as_secs_f64() / 1e6;
    let hwm_after = vm_hwm_kib();
    println!("\n### Client core on loopback (`onionchat-bench client`)\n");
    println!("| measure | result |\n|---|---|");
    println!(
        "| profile unlock (Argon2id 32 MiB × 3 + scrypt 2^14 PKCS#8), median of 5 | {:.0} ms |",
        unlock[2]
    );
    println!(
        "| send 10,000 messages (encrypt + sign + durable ack, 4 concurrent) | {:.1} s ({:.0} msgs/s) |",
        send_s,
        n as f64 / send_s
    );
    println!(
        "| fetch + verify + decrypt 10,000 history messages | {:.2} s ({:.0} msgs/s) |",
        hist_s,
        n as f64 / hist_s
    );
    println!("| file upload, 200 MiB (read + hash + encrypt + stream) | {up:.0} MB/s |");
    println!("| file download, 200 MiB (stream + decrypt + write) | {down:.0} MB/s |");
    println!(
        "| client process peak RSS before / after the transfers | {:.1} / {:.1} MiB |",
        hwm_before as f64 / 1024.0,
        hwm_after as f64 / 1024.0
    );
}

/// A bootstrapped Arti client on `runtime` with its state under `dir`.
async fn arti_on<R: tor_rtcompat::Runtime>(
    runtime: R,
    net: &onionchat_tests::tor_net::TorNet,
    dir: &std::path::Path,
) -> std::sync::Arc<arti_client::TorClient<R>> {
    let config = onionchat_tor::arti_config(dir, Some(&net.arti_config), &Default::default())
        .expect("config");
    arti_client::TorClient::with_runtime(runtime)
        .config(config)
        .create_bootstrapped()
        .await
        .expect("bootstrap")
}

/// A bare Arti onion service that echoes bytes: the reference round trip.
pub(crate) async fn echo_service<R: tor_rtcompat::Runtime>(
    runtime: R,
    net: &onionchat_tests::tor_net::TorNet,
    dir: &std::path::Path,
) -> (String, Box<dyn std::any::Any + Send>) {
    use safelog::DisplayRedacted;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let client = arti_on(runtime, net, dir).await;
    let mut b = tor_hsservice::config::OnionServiceConfigBuilder::default();
    b.nickname("echo".parse().expect("nick"));
    let (svc, reqs) = client
        .launch_onion_service(b.build().expect("cfg"))
        .expect("launch")
        .expect("enabled");
    let onion = svc
        .onion_address()
        .expect("addr")
        .display_unredacted()
        .to_string();
    let task = tokio::spawn(async move {
        let mut streams = Box::pin(tor_hsservice::handle_rend_requests(reqs));
        while let Some(req) = streams.next().await {
            tokio::spawn(async move {
                let Ok(mut s) = req
                    .accept(tor_cell::relaycell::msg::Connected::new_empty())
                    .await
                else {
                    return;
                };
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() || s.flush().await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (onion, Box::new((client, svc, task)))
}

/// Round trips (ms, sorted) of `n` 600-byte writes to the bare Arti echo
/// service at `echo`, from a fresh client on `runtime` (its own guards and
/// circuits): the floor any message over Tor stands on.
async fn echo_round_trips<R: tor_rtcompat::Runtime>(
    runtime: R,
    net: &onionchat_tests::tor_net::TorNet,
    dir: &std::path::Path,
    echo: &str,
    n: usize,
) -> Vec<f64> {
    let client = arti_on(runtime, net, dir).await;
    paths::echo_on(&client, echo, n, 600).await
}

/// Send `n` texts from `from` and wait for each at the receiver; returns
/// the sorted send → ack and send → receive times (ms).
async fn timed_messages(
    from: &onionchat_client::Client,
    room: onionchat_proto::wire::RoomId,
    to: &mut tokio::sync::broadcast::Receiver<onionchat_client::ClientEvent>,
    prefix: &str,
    n: usize,
) -> (Vec<f64>, Vec<f64>) {
    let (mut acks, mut recv) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let text = format!("{prefix} {i}");
        // Both clocks start at the send; the receive is timed on its own,
        // not after the sender's ack (which may come later than delivery).
        let t = Instant::now();
        let (ack, received) = tokio::join!(
            async {
                from.send_text(room, &text).await.expect("send");
                t.elapsed()
            },
            async {
                onionchat_tests::wait_text(to, 60, &text).await;
                t.elapsed()
            }
        );
        acks.push(ack.as_secs_f64() * 1e3);
        recv.push(received.as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    acks.sort_by(f64::total_cmp);
    recv.sort_by(f64::total_cmp);
    (acks, recv)
}

/// "p50 / p99 ms" of sorted samples, for a table cell.
pub(crate) fn p50_p99(sorted: &[f64]) -> String {
    format!(
        "{:.1} / {:.1} ms",
        percentile(sorted, 0.5),
        percentile(sorted, 0.99)
    )
}

/// Rounds of fresh clients (new guards and circuits) in `bench tor`.
const TOR_ROUNDS: usize = 4;
/// Messages and echo round trips per round.
const PER_ROUND: usize = 100;

async fn bench_tor() {
    let tmp = tempfile::tempdir().expect("tmp");
    let net = onionchat_tests::tor_net::TorNet::start(&tmp.path().join("net"));
    onionchat_tests::tor_net::avoid_rollover(Duration::from_secs(180));
    let t0 = Instant::now();
    let node = Node::start_onion(&tmp.path().join("node"), &net.arti_config, &[]);
    let published = t0.elapsed().as_secs_f64();
    let invite =
        onionchat_proto::wire::InviteLink::parse(node.owner_invite.as_deref().expect("invite"))
            .expect("link");
    let join = |name: String, link: onionchat_proto::wire::InviteLink| {
        let dir = tmp.path().join(&name);
        let net = &net;
        async move {
            onionchat_tests::tor_net::join_via_tor(net, &dir, &name, &link.to_string())
                .await
                .expect("join over tor")
        }
    };
    let ann = join("ann".into(), invite).await;
    let first_request = t0.elapsed().as_secs_f64();
    let inv = ann.create_invite(None, None).await.expect("invite");
    let bob = join("bob".into(), ann.invite_link(&inv.code)).await;
    let req = ann.send_friend_request("bob").await.expect("req");
    let room = bob.accept_friend_request(&req).await.expect("accept").id;
    // Where the time goes: sealing alone (CPU), and a send over HTTP
    // (no live session yet) on ann's kept-alive Arti stream.
    let mut seal_ms = Vec::new();
    {
        use onionchat_proto::crypto::{identity::IdentityKey, message, room_key::RoomKey};
        let id = IdentityKey::generate().expect("key");
        let key = RoomKey::generate();
        for i in 0..50 {
            let t = Instant::now();
            let content = onionchat_proto::wire::MessageContent::Text {
                text: format!("ping {i}"),
            };
            message::seal(
                &id,
                room,
                1,
                &key,
                onionchat_proto::wire::MsgId::random(),
                message::Position {
                    stream: 1,
                    counter: i + 1,
                    roster: onionchat_tests::raw::ANY_ROSTER,
                },
                0,
                &content,
            )
            .expect("seal");
            seal_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    seal_ms.sort_by(f64::total_cmp);
    let mut bob_events = bob.subscribe();
    let _bl = bob.start_live();
    onionchat_tests::wait_connected(&mut bob_events, 120).await;
    // Sent over HTTP (ann has no live session yet), received live over
    // bob's WebSocket.
    let (http_send, http_recv) = timed_messages(&ann, room, &mut bob_events, "http", 50).await;
    let mut ann_events = ann.subscribe();
    let _al = ann.start_live();
    onionchat_tests::wait_connected(&mut ann_events, 120).await;
    // Sent over ann's WebSocket.
    let (acks, lat0) = timed_messages(&ann, room, &mut bob_events, "ping", PER_ROUND).await;
    // Our HTTP request round trip on ann's kept-alive Arti stream (no
    // crypto, no commit): the node's own share of the path.
    let mut http = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        ann.node_status().await.expect("status");
        http.push(t.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    http.sort_by(f64::total_cmp);

    // The reference: a bare Arti stream echo, on Arti's stock runtime and
    // on ours (TCP_NODELAY to relays); the ratio uses ours, the faster floor.
    let (stock_echo, _ks) = echo_service(
        tor_rtcompat::PreferredRuntime::current().expect("runtime"),
        &net,
        &tmp.path().join("echo-stock"),
    )
    .await;
    let (our_echo, _ko) = echo_service(
        onionchat_tor::runtime::current().expect("runtime"),
        &net,
        &tmp.path().join("echo-ours"),
    )
    .await;
    // On a 10-relay network with no other traffic, whether two circuits
    // share a relay link decides a run (C tor relays leave Nagle on, and an
    // idle link's delayed ACK holds the second write ~40 ms). So each round
    // uses fresh clients — new guards, new circuits — for both the messages
    // and the echo, and the pooled p50s are compared.
    let (mut lat, mut rtt, mut stock_rtt, mut rounds) = (vec![], vec![], vec![], vec![]);
    for r in 0..TOR_ROUNDS {
        let round_lat = if r == 0 {
            lat0.clone()
        } else {
            let inv = ann.create_invite(None, None).await.expect("invite");
            let a = join(format!("ann{r}"), ann.invite_link(&inv.code)).await;
            let inv = ann.create_invite(None, None).await.expect("invite");
            let b = join(format!("bob{r}"), ann.invite_link(&inv.code)).await;
            let req = a.send_friend_request(&b.username()).await.expect("req");
            let room = b.accept_friend_request(&req).await.expect("accept").id;
            let (mut a_events, mut b_events) = (a.subscribe(), b.subscribe());
            let (_a, _b) = (a.start_live(), b.start_live());
            onionchat_tests::wait_connected(&mut a_events, 120).await;
            onionchat_tests::wait_connected(&mut b_events, 120).await;
            timed_messages(&a, room, &mut b_events, "round", PER_ROUND)
                .await
                .1
        };
        let dir = tmp.path().join(format!("echo-clients-{r}"));
        let ours = echo_round_trips(
            onionchat_tor::runtime::current().expect("runtime"),
            &net,
            &dir.join("ours"),
            &our_echo,
            PER_ROUND,
        )
        .await;
        let stock = echo_round_trips(
            tor_rtcompat::PreferredRuntime::current().expect("runtime"),
            &net,
            &dir.join("stock"),
            &stock_echo,
            PER_ROUND,
        )
        .await;
        rounds.push((
            percentile(&round_lat, 0.5),
            percentile(&ours, 0.5),
            percentile(&stock, 0.5),
        ));
        lat.extend(round_lat);
        rtt.extend(ours);
        stock_rtt.extend(stock);
    }
    for v in [&mut lat, &mut rtt, &mut stock_rtt] {
        v.sort_by(f64::total_cmp);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss = rss_kib(node.pid().expect("pid")).unwrap_or(0);
    println!("\n### Over the private Tor network (`onionchat-bench tor`)\n");
    println!("| measure | result |\n|---|---|");
    println!("| node cold start → onion service launched (address known) | {published:.1} s |");
    println!(
        "| node cold start → first client request served (Arti client, restricted discovery) | {first_request:.1} s |"
    );
    println!(
        "| message send → receive, p50 / p99 ({TOR_ROUNDS} rounds of fresh sender + receiver; both over Arti, WebSocket) | {} |",
        p50_p99(&lat)
    );
    println!(
        "| message send → ack, p50 / p99 (round 1: seal + sign, WebSocket, durable commit) | {} |",
        p50_p99(&acks)
    );
    println!(
        "| seal (AES-GCM + RSA-PSS sign) alone, p50 | {:.1} ms |",
        percentile(&seal_ms, 0.5)
    );
    println!(
        "| message send → ack over HTTP (no live session), p50 / p99 | {} |",
        p50_p99(&http_send)
    );
    println!(
        "| message sent over HTTP → received over bob's WebSocket, p50 / p99 | {} |",
        p50_p99(&http_recv)
    );
    println!(
        "| HTTP GET round trip on the same Arti stream (no crypto, no commit), p50 / p99 | {} |",
        p50_p99(&http)
    );
    println!(
        "| POST (message send → ack over HTTP) p50 / GET p50, same Arti stream | **{:.2}×** |",
        percentile(&http_send, 0.5) / percentile(&http, 0.5)
    );
    println!(
        "| bare Arti stream echo round trip, Arti's stock runtime, p50 / p99 (600 bytes, a fresh client each round) | {} |",
        p50_p99(&stock_rtt)
    );
    println!(
        "| bare Arti stream echo round trip, OnionChat's runtime (TCP_NODELAY), p50 / p99 (600 bytes, a fresh client each round) | {} |",
        p50_p99(&rtt)
    );
    println!(
        "| our p50 / bare p50 (same runtime) | **{:.2}×** |",
        percentile(&lat, 0.5) / percentile(&rtt, 0.5)
    );
    println!(
        "| (our p50 − seal p50) / bare p50: what the node and the transport add, without the client's signing | {:.2}× |",
        (percentile(&lat, 0.5) - percentile(&seal_ms, 0.5)) / percentile(&rtt, 0.5)
    );
    println!(
        "| our p50 / bare p50 (Arti's stock runtime) | {:.2}× |",
        percentile(&lat, 0.5) / percentile(&stock_rtt, 0.5)
    );
    for (r, (ours, echo, stock)) in rounds.iter().enumerate() {
        println!(
            "| round {}: message p50 / bare echo p50 on our runtime / on Arti's stock runtime | {ours:.1} / {echo:.1} / {stock:.1} ms → {:.2}× |",
            r + 1,
            ours / echo
        );
    }
    println!(
        "| node RSS with the onion service up, two clients connected, idle | {:.1} MiB |",
        rss as f64 / 1024.0
    );
}

/// 500 WebSocket clients for 60 s (see `onionchat_tests::load`):
/// `onionchat-bench load [CLIENTS] [SECONDS]`.
async fn bench_load() {
    use onionchat_tests::load::{LoadOptions, node_config, run};
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let clients = arg(2, 500) as usize;
    let secs = arg(3, 60);
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = onionchat_tests::config_arg(tmp.path(), node_config());
    let node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let cache = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join(".cache/onionchat/bench-keys"));
    let opts = LoadOptions {
        clients,
        slow: clients / 25,
        vanishing: clients / 25,
        duration: Duration::from_secs(secs),
        send_every: Duration::from_secs(2),
        key_cache: cache,
    };
    let r = run(&node, &opts).await;
    println!(
        "| clients (slow, vanishing) | rooms (sizes) | sent / acked | deliveries (expected) | delivery p50 / p99 / max | slow cut off | vanished mid-frame | node RSS before / peak | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} ({}, {}) | {} ({}–{}) | {} / {} | {} ({}) | {:.1} / {:.1} / {:.1} ms | {} of {} | {} | {:.1} / {:.1} MiB | {} |",
        r.clients,
        opts.slow,
        opts.vanishing,
        r.rooms,
        r.room_sizes.0,
        r.room_sizes.1,
        r.sent,
        r.acked,
        r.delivered,
        r.expected_deliveries,
        r.latency_ms.0,
        r.latency_ms.1,
        r.latency_ms.2,
        r.slow_cut_off,
        opts.slow,
        r.vanished,
        r.rss_kib.0 as f64 / 1024.0,
        r.rss_kib.1 as f64 / 1024.0,
        r.errors.len()
    );
    for e in r.errors.iter().take(20) {
        println!("error: {e}");
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let what = std::env::args().nth(1).unwrap_or_default();
    let known = rt.block_on(async {
        match what.as_str() {
            "node" => bench_node().await,
            "client" => bench_client().await,
            "tor" => bench_tor().await,
            "paths" => paths::bench_paths().await,
            "load" => bench_load().await,
            _ => {
                eprintln!("usage: onionchat-bench node|client|tor|paths|load");
                return false;
            }
        }
        true
    });
    // Exit here, not by dropping the runtime: Arti's background tasks still
    // arm timers while it shuts down, and in a release build (panic =
    // abort) that panic took the finished run's exit status with it.
    std::process::exit(if known { 0 } else { 2 });
}
