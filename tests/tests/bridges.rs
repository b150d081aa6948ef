//! Tor where Tor is blocked, on the private network: a C tor bridge whose
//! server transport is Debian's `obfs4proxy`, not listed in the consensus,
//! and Arti configurations in which every public relay's address is dead
//! ([`TorNet::blocked_arti_config`]) — as a censor leaves them.
//!
//! - The box, on such a network: through the bridge it connects,
//!   publishes its onion service, and a member who reaches Tor directly
//!   joins it and chats; with the bridge stopped it cannot reach Tor at
//!   all, and says it is trying through a bridge.
//! - A member on such a network: without a bridge, or with the bridge
//!   stopped, Tor never connects; through the bridge they join and chat
//!   end to end.
//! - The CLI refuses a line that is not a bridge, or a missing transport
//!   program, in words, and keeps a profile's bridges.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use onionchat_tests::tor_net::{TorNet, join_via_bridges, join_via_tor};
use onionchat_tests::{Node, bin_path, config_arg, node_cmd_ok, wait_connected, wait_text};

/// The CLI on profile `dir`, with Arti configuration `network`.
fn cli(network: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(bin_path("onionchat"))
        .arg("--profile-dir")
        .arg(dir)
        .args(args)
        .env("ONIONCHAT_PASSPHRASE", "correct horse battery staple")
        .env("ONIONCHAT_TOR_NETWORK", network)
        .env("XDG_CACHE_HOME", dir.with_extension("cache"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run onionchat")
}

fn said(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `onionchat join` on a blocked network (with `extra` arguments) cannot
/// reach Tor: it gives up at its 20 s limit and says so.
fn cli_gives_up(network: &Path, dir: &Path, link: &str, extra: &[&str]) {
    let mut args = vec!["join", link, "--username", "carol", "--tor-timeout", "20"];
    args.extend_from_slice(extra);
    let out = cli(network, dir, &args);
    assert!(!out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("Tor could not connect within 20 s"),
        "{}",
        said(&out)
    );
}

/// Wait until `onionchat-node status` has `what` (up to `secs`).
fn wait_status(data: &Path, what: &str, secs: u64) -> String {
    let start = Instant::now();
    loop {
        let s = node_cmd_ok(data, &["status"]);
        if s.contains(what) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "no {what:?} in {secs} s:\n{s}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Send `text` from `from` in `room` and see it arrive at `to`.
async fn chat(
    from: &onionchat_client::Client,
    to: &std::sync::Arc<onionchat_client::Client>,
    room: onionchat_proto::wire::RoomId,
    text: &str,
) {
    let mut events = to.subscribe();
    let _live = to.start_live();
    wait_connected(&mut events, 120).await;
    from.send_text(room, text).await.expect("send");
    wait_text(&mut events, 120, text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_box_and_a_member_on_blocked_networks_chat_through_an_obfs4_bridge() {
    let t0 = Instant::now();
    let at = |what: &str| eprintln!("[{:5.1} s] {what}", t0.elapsed().as_secs_f64());
    let tmp = tempfile::tempdir().expect("tmp");
    let mut net = TorNet::start(&tmp.path().join("tor-net"));
    let bridge = net.obfs4_bridge("bridge");
    at("network and bridge up");
    let blocked = net.blocked_arti_config();
    eprintln!("bridge line: {}", bridge.obfs4);

    // The box, on a blocked network, told to use the bridge: it connects
    // to Tor through it, and says so.
    let data = tmp.path().join("node");
    let config = config_arg(
        tmp.path(),
        &format!("[tor]\nbridges = [{:?}]\n", bridge.obfs4),
    );
    let mut node = Node::start_onion(&data, &blocked, &[&config]);
    let up = wait_status(&data, "Tor:         connected to Tor", 240);
    assert!(up.contains("(through a bridge)"), "{up}");
    at(&format!("the box through the bridge:\n{up}"));
    // (No waiting out a time-period rollover: the joins retry through it.)
    let owner_link = node.owner_invite.clone().expect("the owner invite");
    // Ann reaches Tor directly; the box's onion service answers her.
    let ann = join_via_tor(&net, &tmp.path().join("ann"), "ann", &owner_link)
        .await
        .expect("ann joins the box that is behind a bridge");

    at("ann joined");
    // Carol is on a blocked network too. Without a bridge, Tor does not
    // connect (the CLI gives up at its limit and says how far it got).
    let invite = ann.create_invite(None, None).await.expect("invite");
    let carol_link = ann.invite_link(&invite.code).to_string();
    cli_gives_up(&blocked, &tmp.path().join("carol-cli"), &carol_link, &[]);
    at("carol's CLI gave up");
    // Through the bridge she joins and chats both ways.
    let carol = join_via_bridges(
        &blocked,
        &tmp.path().join("carol"),
        "carol",
        &carol_link,
        std::slice::from_ref(&bridge.obfs4),
    )
    .await
    .expect("carol joins through the bridge");
    at("carol joined");
    let req = ann.send_friend_request("carol").await.expect("request");
    let room = carol.accept_friend_request(&req).await.expect("accept").id;
    chat(&ann, &carol, room, "through the bridge, both of us").await;
    chat(&carol, &ann, room, "hello from behind the censor").await;
    at("chatted both ways");

    // With the bridge stopped, neither gets through: the box (started
    // again) cannot reach Tor at all and says it is trying through a
    // bridge, and the member's command line, given the bridge, gives up.
    node.stop();
    net.kill("bridge");
    let _node = Node::start_onion(&data, &blocked, &[&config]);
    cli_gives_up(
        &blocked,
        &tmp.path().join("carol-cli-2"),
        &carol_link,
        &["--bridge", &bridge.obfs4],
    );
    let stuck = node_cmd_ok(&data, &["status"]);
    assert!(stuck.contains("(through a bridge)"), "{stuck}");
    assert!(!stuck.contains("connected to Tor"), "{stuck}");
    at("with the bridge stopped: the box stuck, the member's CLI gave up");

    // The CLI: a line that is not a bridge, and a missing transport
    // program, are refused at once in words.
    let dave = tmp.path().join("dave");
    let refused = |extra: &[&str], why: &str| {
        let mut args = vec!["join", carol_link.as_str(), "--username", "dave"];
        args.extend_from_slice(extra);
        let out = cli(&net.arti_config, &dave, &args);
        assert!(!out.status.success(), "{}", said(&out));
        assert!(said(&out).contains(why), "{}", said(&out));
    };
    refused(
        &["--bridge", "obfs4 nowhere cert=x"],
        "is not a bridge line",
    );
    refused(
        &[
            "--bridge",
            &bridge.obfs4,
            "--transport-program",
            "/nonexistent/obfs4proxy",
        ],
        "obfs4 bridges need the obfs4proxy program",
    );
    // The profile keeps its bridges (checked before they are kept).
    let set = Command::new(bin_path("onionchat"))
        .arg("--profile-dir")
        .arg(&dave)
        .args(["bridges", "set", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(format!("# from a friend\nBridge {}\n", bridge.obfs4).as_bytes())?;
            c.wait_with_output()
        })
        .expect("bridges set");
    assert!(set.status.success(), "{}", said(&set));
    assert!(said(&set).contains("through 1 bridge"), "{}", said(&set));
    let listed = cli(&net.arti_config, &dave, &["bridges", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        format!("Bridge {}", bridge.obfs4)
    );
    let cleared = cli(&net.arti_config, &dave, &["bridges", "clear"]);
    assert!(cleared.status.success(), "{}", said(&cleared));
    assert!(said(&cli(&net.arti_config, &dave, &["bridges", "list"])).contains("No bridges"));
}
