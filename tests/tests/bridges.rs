//! Tor where Tor is blocked: the box reaches the private Tor network only
//! through an obfs4 bridge — a C tor bridge whose server transport is
//! Debian's `obfs4proxy`, not listed in the consensus. With the bridge down
//! it cannot connect; with it up it does, and says so. The CLI refuses a
//! line that is not a bridge, or a missing transport program, in words,
//! and keeps a profile's bridges.
//!
//! Not here yet: chatting end to end through the bridge. On this private
//! network, onion-service circuits through the bridge do not complete
//! (the service's introduction points stay empty; a client's join fails
//! with "Failed to obtain hidden service circuit").

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use onionchat_tests::tor_net::TorNet;
use onionchat_tests::{Node, bin_path, config_arg, node_cmd_ok};

/// The CLI on profile `dir`, on the private network.
fn cli(net: &TorNet, dir: &Path, args: &[&str]) -> Output {
    Command::new(bin_path("onionchat"))
        .arg("--profile-dir")
        .arg(dir)
        .args(args)
        .env("ONIONCHAT_PASSPHRASE", "correct horse battery staple")
        .env("ONIONCHAT_TOR_NETWORK", &net.arti_config)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_box_reaches_tor_only_through_an_obfs4_bridge_and_the_cli_keeps_bridges() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut net = TorNet::start(&tmp.path().join("tor-net"));
    let bridge = net.obfs4_bridge("bridge");
    eprintln!("bridge line: {}", bridge.obfs4);

    // A box told to use the bridge while the bridge is down: it cannot
    // reach Tor, and says it is trying through a bridge.
    net.kill("bridge");
    let data = tmp.path().join("node");
    let config = config_arg(
        tmp.path(),
        &format!("[tor]\nbridges = [{:?}]\n", bridge.obfs4),
    );
    let node = Node::start_onion(&data, &net.arti_config, &[&config]);
    std::thread::sleep(Duration::from_secs(20));
    let stuck = node_cmd_ok(&data, &["status"]);
    assert!(stuck.contains("(through a bridge)"), "{stuck}");
    assert!(!stuck.contains("reachable"), "{stuck}");
    // The bridge comes up: the box connects to Tor through it. (Publishing
    // the onion service through the bridge does not complete on this
    // private network yet: its introduction points stay empty.)
    net.restart("bridge");
    let up = wait_status(&data, "Tor:         connected to Tor", 240);
    assert!(up.contains("(through a bridge)"), "{up}");
    eprintln!("the box through the bridge:\n{up}");
    let link = node.owner_invite.clone().expect("the owner invite");
    drop(node);

    // The CLI: a line that is not a bridge, and a missing transport
    // program, are refused at once in words.
    let carol = tmp.path().join("carol");
    // Carol's join is refused before any connection, saying why.
    let refused = |extra: &[&str], why: &str| {
        let mut args = vec!["join", link.as_str(), "--username", "carol"];
        args.extend_from_slice(extra);
        let out = cli(&net, &carol, &args);
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
        .arg(&carol)
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
    let listed = cli(&net, &carol, &["bridges", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        format!("Bridge {}", bridge.obfs4)
    );
    let cleared = cli(&net, &carol, &["bridges", "clear"]);
    assert!(cleared.status.success(), "{}", said(&cleared));
    assert!(said(&cli(&net, &carol, &["bridges", "list"])).contains("No bridges"));
}
