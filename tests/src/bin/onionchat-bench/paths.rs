//! `onionchat-bench paths`: where a round trip over Tor goes, side by side
//! in one run on one private network, and what a bridge costs.
//!
//! Each round makes a fresh member (new Tor state: new guard, new
//! circuits) and, on that member's own Arti client, times in turn: a bare
//! echo through a C tor onion service, a bare echo through an Arti onion
//! service, our HTTP GET and POST on the kept-alive stream, and a message
//! over our WebSocket (send → ack). The same GET, POST and message against
//! a node on loopback TCP give the node's own share; what is left over the
//! echo is the transport's. Rounds run directly and then through an obfs4
//! bridge from a network where every public relay's address is dead. The
//! command line's `join` (no Tor state yet) and `send` (state cached),
//! each a new process, give the cold and warm times to a first message.

use std::path::Path;
use std::time::{Duration, Instant};

use onionchat_client::Client;
use onionchat_proto::wire::RoomId;
use onionchat_tests::tor_net::{TorNet, avoid_rollover, join_via_bridges, join_via_tor};
use onionchat_tests::{Node, PASS, bin_path, percentile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::p50_p99;

/// Fresh members per path kind.
const ROUNDS: usize = 3;
/// Samples of each measure per round.
const N: usize = 40;

/// Samples of one measure, pooled over rounds.
#[derive(Default)]
struct Pool(Vec<f64>);

impl Pool {
    fn add(&mut self, mut v: Vec<f64>) {
        self.0.append(&mut v);
        self.0.sort_by(f64::total_cmp);
    }
    fn p50(&self) -> f64 {
        percentile(&self.0, 0.5)
    }
}

/// Everything measured along one kind of path.
#[derive(Default)]
struct Measures {
    c_echo: Pool,
    arti_echo: Pool,
    /// The Arti echo with 2,000-byte writes (five cells each way: a
    /// message, with its signature, is several cells too).
    arti_echo_big: Pool,
    get: Pool,
    post: Pool,
    ws: Pool,
    /// Per round: (C echo, Arti echo, Arti echo 2,000 B, GET, POST,
    /// WebSocket) p50s.
    rounds: Vec<[f64; 6]>,
    /// Core client, fresh Tor state: start → joined (s).
    join: Vec<f64>,
}

/// A C tor onion service in front of a loopback TCP echo server.
async fn c_tor_echo(net: &mut TorNet) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            s.set_nodelay(true).ok();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    net.c_tor_onion_service("c-echo", port)
}

/// Round trips (ms, sorted) of `n` writes of `size` bytes to the echo
/// service at `onion`, on a new stream of `tor`.
pub(crate) async fn echo_on<R: tor_rtcompat::Runtime>(
    tor: &arti_client::TorClient<R>,
    onion: &str,
    n: usize,
    size: usize,
) -> Vec<f64> {
    let mut stream = None;
    for _ in 0..40 {
        match tor.connect((onion, 80)).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => {
                eprintln!("echo {onion}: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        }
    }
    let mut stream = stream.expect("an echo stream");
    let msg = vec![0x55u8; size];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        stream.write_all(&msg).await.expect("write");
        stream.flush().await.expect("flush");
        let (mut got, mut buf) = (0, [0u8; 4096]);
        while got < msg.len() {
            got += stream.read(&mut buf).await.expect("read");
        }
        out.push(t.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out.sort_by(f64::total_cmp);
    out
}

/// `n` timings (ms, sorted) of `op`.
async fn time_n<F, Fut>(n: usize, mut op: F) -> Vec<f64>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        op(i).await;
        out.push(t.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out.sort_by(f64::total_cmp);
    out
}

/// GET, POST (send over HTTP) and a WebSocket message (send → ack) from
/// `who` in `room`.
async fn our_ops(who: &std::sync::Arc<Client>, room: RoomId, tag: &str) -> [Vec<f64>; 3] {
    let get = time_n(N, |_| async {
        who.friend_requests().await.expect("GET");
    })
    .await;
    let post = time_n(N, |i| async move {
        who.send_text(room, &format!("{tag} http {i}"))
            .await
            .expect("POST");
    })
    .await;
    let mut events = who.subscribe();
    let _live = who.start_live();
    onionchat_tests::wait_connected(&mut events, 120).await;
    let ws = time_n(N, |i| async move {
        who.send_text(room, &format!("{tag} ws {i}"))
            .await
            .expect("WebSocket send");
    })
    .await;
    [get, post, ws]
}

/// A new member of `ann`'s box, befriended by ann: (client, their room).
async fn member(
    ann: &Client,
    network: &Path,
    bridges: &[String],
    dir: &Path,
    name: &str,
) -> (std::sync::Arc<Client>, RoomId, f64) {
    let inv = ann.create_invite(None, None).await.expect("invite");
    let link = ann.invite_link(&inv.code).to_string();
    let t = Instant::now();
    let who = join_via_bridges(network, dir, name, &link, bridges)
        .await
        .expect("join");
    let joined = t.elapsed().as_secs_f64();
    let req = ann.send_friend_request(name).await.expect("request");
    let room = who.accept_friend_request(&req).await.expect("accept").id;
    (who, room, joined)
}

/// The command line, as a new process, until it works (at most 5 tries):
/// the wall time (s) of the try that worked, and how many failed first.
fn cli_time(network: &Path, dir: &Path, bridges: &[String], args: &[&str]) -> (f64, usize) {
    let mut failed = 0;
    loop {
        let mut cmd = std::process::Command::new(bin_path("onionchat"));
        cmd.arg("--profile-dir")
            .arg(dir)
            .args(args)
            .env(
                "ONIONCHAT_PASSPHRASE",
                String::from_utf8_lossy(PASS).to_string(),
            )
            .env("ONIONCHAT_TOR_NETWORK", network)
            .env("XDG_CACHE_HOME", dir.with_extension("cache"));
        for b in bridges {
            cmd.arg("--bridge").arg(b);
        }
        let t = Instant::now();
        let out = cmd.output().expect("run onionchat");
        let secs = t.elapsed().as_secs_f64();
        if out.status.success() {
            return (secs, failed);
        }
        failed += 1;
        eprintln!(
            "onionchat {args:?} failed after {secs:.1} s: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(failed < 5, "onionchat {args:?} kept failing");
        std::thread::sleep(Duration::from_secs(5));
    }
}

pub(crate) async fn bench_paths() {
    let tmp = tempfile::tempdir().expect("tmp");
    let base = tmp.path();
    let mut net = TorNet::start(&base.join("net"));
    let bridge = net.obfs4_bridge("bridge");
    let blocked = net.blocked_arti_config();
    let c_echo = c_tor_echo(&mut net).await;
    let (arti_echo, _keep) = crate::echo_service(
        onionchat_tor::runtime::current().expect("runtime"),
        &net,
        &base.join("arti-echo"),
    )
    .await;
    avoid_rollover(Duration::from_secs(240));
    let node = Node::start_onion(&base.join("node"), &net.arti_config, &[]);
    let ann = join_via_tor(
        &net,
        &base.join("ann"),
        "ann",
        node.owner_invite.as_deref().expect("invite"),
    )
    .await
    .expect("ann joins");
    let mut ann_events = ann.subscribe();
    let _ann_live = ann.start_live();
    onionchat_tests::wait_connected(&mut ann_events, 120).await;

    // The node's own share: the same operations over loopback TCP.
    let tcp_node = Node::start(&base.join("tcp-node"), &[]);
    let tcp_owner = onionchat_tests::join_owner(&tcp_node, &base.join("tcp-owner")).await;
    let (tcp_who, tcp_room, _) = member(
        &tcp_owner,
        &net.arti_config,
        &[],
        &base.join("tcp-member"),
        "tcpmember",
    )
    .await;
    let [tcp_get, tcp_post, tcp_ws] = our_ops(&tcp_who, tcp_room, "tcp").await;

    let kinds: [(&str, &Path, Vec<String>); 2] = [
        ("direct", &net.arti_config, Vec::new()),
        ("obfs4 bridge", &blocked, vec![bridge.obfs4.clone()]),
    ];
    let mut results: Vec<(&str, Measures)> = Vec::new();
    let mut first_message = Vec::new();
    for (kind, network, bridges) in &kinds {
        let mut m = Measures::default();
        for r in 0..ROUNDS {
            let name = format!(
                "{}{r}",
                if bridges.is_empty() {
                    "direct"
                } else {
                    "bridged"
                }
            );
            let dir = base.join(&name);
            let (who, room, joined) = member(&ann, network, bridges, &dir, &name).await;
            m.join.push(joined);
            // The member's own Arti client (the process shares one per
            // state directory), so the echoes leave through the same guard.
            let config = onionchat_tor::arti_config(
                &dir.with_extension("tor"),
                Some(network),
                &onionchat_tor::Bridges {
                    lines: bridges.clone(),
                    transport_program: None,
                },
            )
            .expect("config");
            let tor = onionchat_tor::shared::client(&dir.with_extension("tor"), &config)
                .expect("the member's Tor client");
            let c = echo_on(&tor, &c_echo, N, 600).await;
            let a = echo_on(&tor, &arti_echo, N, 600).await;
            let big = echo_on(&tor, &arti_echo, N, 2000).await;
            let [get, post, ws] = our_ops(&who, room, &name).await;
            m.rounds.push([
                percentile(&c, 0.5),
                percentile(&a, 0.5),
                percentile(&big, 0.5),
                percentile(&get, 0.5),
                percentile(&post, 0.5),
                percentile(&ws, 0.5),
            ]);
            m.c_echo.add(c);
            m.arti_echo.add(a);
            m.arti_echo_big.add(big);
            m.get.add(get);
            m.post.add(post);
            m.ws.add(ws);
        }
        // The command line, each a new process: `join` with no Tor state
        // (cold), then `send` with it cached (warm).
        let dir = base.join(format!("cli-{}", kind.replace(' ', "-")));
        let name = format!(
            "cli{}",
            if bridges.is_empty() {
                "direct"
            } else {
                "bridged"
            }
        );
        let inv = ann.create_invite(None, None).await.expect("invite");
        let link = ann.invite_link(&inv.code).to_string();
        let cold = cli_time(
            network,
            &dir,
            bridges,
            &["join", &link, "--username", &name],
        );
        ann.send_friend_request(&name).await.expect("request");
        cli_time(network, &dir, bridges, &["friends", "accept", "ann"]);
        let warm = cli_time(network, &dir, bridges, &["send", "ann", "first"]);
        first_message.push((*kind, cold.0, warm.0, cold.1 + warm.1));
        results.push((kind, m));
    }

    println!("\n### Paths over the private Tor network (`onionchat-bench paths`)\n");
    println!(
        "{ROUNDS} fresh members per path kind, {N} samples of each measure per member, on the member's own Arti client (OnionChat's runtime); p50 / p99 pooled.\n"
    );
    println!("| measure | node on loopback TCP | direct | through an obfs4 bridge |");
    println!("|---|---:|---:|---:|");
    let row = |what: &str, tcp: Option<&[f64]>, f: &dyn Fn(&Measures) -> String| {
        println!(
            "| {what} | {} | {} | {} |",
            tcp.map(p50_p99).unwrap_or_else(|| "—".into()),
            f(&results[0].1),
            f(&results[1].1)
        );
    };
    row("bare echo, C tor onion service (600 B)", None, &|m| {
        p50_p99(&m.c_echo.0)
    });
    row("bare echo, Arti onion service (600 B)", None, &|m| {
        p50_p99(&m.arti_echo.0)
    });
    row(
        "bare echo, Arti onion service (2,000 B: five cells each way)",
        None,
        &|m| p50_p99(&m.arti_echo_big.0),
    );
    row("our HTTP GET (kept-alive stream)", Some(&tcp_get), &|m| {
        p50_p99(&m.get.0)
    });
    row(
        "our HTTP POST (message send → ack)",
        Some(&tcp_post),
        &|m| p50_p99(&m.post.0),
    );
    row(
        "our WebSocket message (send → ack)",
        Some(&tcp_ws),
        &|m| p50_p99(&m.ws.0),
    );
    let tcp50 = |v: &[f64]| percentile(v, 0.5);
    row("WebSocket message p50 / Arti echo p50", None, &|m| {
        format!("**{:.2}×**", m.ws.p50() / m.arti_echo.p50())
    });
    row(
        "(WebSocket p50 − its TCP p50) / Arti echo p50: the transport's share",
        None,
        &|m| format!("{:.2}×", (m.ws.p50() - tcp50(&tcp_ws)) / m.arti_echo.p50()),
    );
    row("(GET p50 − its TCP p50) / Arti echo p50", None, &|m| {
        format!(
            "{:.2}×",
            (m.get.p50() - tcp50(&tcp_get)) / m.arti_echo.p50()
        )
    });
    row("Arti echo p50 / C tor echo p50", None, &|m| {
        format!("{:.2}×", m.arti_echo.p50() / m.c_echo.p50())
    });
    row(
        "core client, no Tor state: start → joined (mean)",
        None,
        &|m| format!("{:.1} s", m.join.iter().sum::<f64>() / m.join.len() as f64),
    );
    println!(
        "| command line `join`, no Tor state (cold, a new process) | — | {:.1} s | {:.1} s |",
        first_message[0].1, first_message[1].1
    );
    println!(
        "| command line `send`, Tor state cached (warm, a new process) | — | {:.1} s | {:.1} s |",
        first_message[0].2, first_message[1].2
    );
    println!(
        "| command line tries that failed first (\"Failed to obtain hidden service circuit\") | — | {} | {} |",
        first_message[0].3, first_message[1].3
    );
    println!(
        "| bridge / direct: WebSocket message p50 | — | — | **{:.2}×** |",
        results[1].1.ws.p50() / results[0].1.ws.p50()
    );
    println!(
        "| bridge / direct: cold join, warm send | — | — | {:.2}×, {:.2}× |",
        first_message[1].1 / first_message[0].1,
        first_message[1].2 / first_message[0].2
    );
    println!("\nBy member (p50, ms):\n");
    println!(
        "| path | member | C tor echo | Arti echo | Arti echo 2,000 B | GET | POST | WebSocket |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (kind, m) in &results {
        for (r, p) in m.rounds.iter().enumerate() {
            println!(
                "| {kind} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                r + 1,
                p[0],
                p[1],
                p[2],
                p[3],
                p[4],
                p[5]
            );
        }
    }
    drop(node);
}
