//! A first start that explains itself, on a network where Tor cannot
//! connect: the owner invite appears at once (the onion address does not
//! depend on Tor being up), the node says in one plain line what Tor is
//! doing, and `status` says it in words and human units.

use std::time::{Duration, Instant};

use onionchat_proto::wire::InviteLink;
use onionchat_tests::{Node, config_arg, dead_network, node_cmd, node_cmd_ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_invite_comes_before_tor_and_status_says_why_it_waits() {
    let tmp = tempfile::tempdir().expect("tmp");
    let net = dead_network(tmp.path());
    let started = Instant::now();
    let node = Node::start_onion(&tmp.path().join("node"), &net, &[]);
    let invite = InviteLink::parse(node.owner_invite.as_deref().expect("owner invite shown"))
        .expect("invite link");
    // Started by a service manager (no terminal), the node never writes the
    // invite — which makes its user the owner — into its output or log.
    assert!(
        !node.stdout_head.iter().any(|l| l.contains(&invite.code)),
        "the owner invite went to stdout: {:?}",
        node.stdout_head
    );
    let log = std::fs::read_to_string(node.data_dir.with_extension("log")).expect("log");
    assert!(
        !log.contains(&invite.code),
        "the owner invite is in the log"
    );
    assert!(invite.address.ends_with(".onion"), "{}", invite.address);
    assert!(
        invite.auth_key.is_some(),
        "the invite carries its access key"
    );
    eprintln!(
        "owner invite after {:.1} s with Tor unreachable",
        started.elapsed().as_secs_f64()
    );

    // status, in words and human units; the machine form stays.
    let status = node_cmd_ok(&node.data_dir, &["status"]);
    assert!(
        status.contains("Tor:         connecting to Tor, "),
        "{status}"
    );
    assert!(status.contains(&invite.address), "{status}");
    let storage = status
        .lines()
        .find(|l| l.starts_with("storage:"))
        .expect("storage line");
    assert!(
        storage.ends_with(" B") || storage.ends_with("iB"),
        "storage in human units: {storage}"
    );
    let memory = status
        .lines()
        .find(|l| l.starts_with("memory:"))
        .expect("memory line");
    assert!(memory.ends_with("MiB"), "memory in human units: {memory}");
    let json: serde_json::Value =
        serde_json::from_str(&node_cmd_ok(&node.data_dir, &["status", "--json"])).expect("json");
    assert_eq!(json["transport"]["state"], "bootstrapping", "{json}");
    // The node's own resident memory, from the node's process (not the
    // command's): a few MiB at least, less than a small board has.
    let rss = json["memory_bytes"].as_u64().expect("memory_bytes");
    assert!((4 << 20..512 << 20).contains(&rss), "{json}");

    // The log says what Tor is doing in plain lines, not walls of retries.
    let log_path = node.data_dir.with_extension("log");
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.lines().any(|l| l.starts_with("Tor: ")) || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        log.lines().any(|l| l.starts_with("Tor: ")),
        "no plain Tor line in the log:\n{log}"
    );
    let warnings = log.lines().filter(|l| l.contains(" WARN ")).count();
    assert!(
        warnings <= 5,
        "{warnings} warnings bury the status line:\n{log}"
    );
}

/// A second node started on the same data directory says what is wrong.
#[test]
fn a_second_node_on_the_same_data_dir_says_one_is_running() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("node");
    let _node = Node::start(&data, &[]);
    let out = node_cmd(
        &data,
        &["run", "--transport", "tcp", "--listen", "127.0.0.1:0"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another onionchat-node is already running")
            && !err.contains("internal error"),
        "{err}"
    );
}

/// The box's updater leaves a report; `status` (and the screen, tested in
/// onionchat-hw) says what it did, and a half-written report is ignored.
#[test]
fn status_says_what_the_last_update_did() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("node");
    let report = tmp.path().join("report");
    let config = config_arg(
        tmp.path(),
        &format!("update_report = {:?}\n", report.display().to_string()),
    );
    let _node = Node::start(&data, &[&config]);
    let status = node_cmd_ok(&data, &["status"]);
    assert!(!status.contains("last update"), "{status}");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    std::fs::write(
        &report,
        format!(
            "outcome=rolled-back\nfrom=0.4.0\nto=0.4.1\nat={}\n",
            now - 7200
        ),
    )
    .expect("report");
    let status = node_cmd_ok(&data, &["status"]);
    assert!(
        status.contains("last update: 0.4.1 did not start, so 0.4.0 was put back (2 h 0 min ago)"),
        "{status}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&node_cmd_ok(&data, &["status", "--json"])).expect("json");
    assert_eq!(json["last_update"]["outcome"], "rolled_back", "{json}");

    std::fs::write(&report, "outcome=updated\nfrom=0.4.0\n").expect("half a report");
    let status = node_cmd_ok(&data, &["status"]);
    assert!(!status.contains("last update"), "{status}");
}

/// When Arti gives up connecting to Tor (here after one attempt — on the
/// real network its round of attempts lasts an hour or more, say a night
/// with the router off), the node does not stay disconnected until someone
/// restarts it: it says so, with when it tries again, and tries again,
/// waiting longer each time; `status` says the same.
#[test]
fn a_node_whose_tor_gave_up_tries_again() {
    let tmp = tempfile::tempdir().expect("tmp");
    let net = dead_network(tmp.path());
    let mut toml = std::fs::read_to_string(&net).expect("network file");
    toml.push_str(
        "\n[download_schedule]\nretry_bootstrap = { attempts = 1, initial_delay = \"100 ms\", parallelism = 1 }\n\
         \n[circuit_timing]\nrequest_timeout = \"2 sec\"\nrequest_max_retries = 1\n",
    );
    std::fs::write(&net, toml).expect("network file");
    let node = Node::start_onion(&tmp.path().join("node"), &net, &[]);
    let log_path = node.data_dir.with_extension("log");
    let deadline = Instant::now() + Duration::from_secs(120);
    let tries = |log: &str| {
        log.lines()
            .filter(|l| l.starts_with("Tor: cannot connect: "))
            .map(|l| {
                l.rsplit_once("trying again in ")
                    .map(|(_, t)| t.to_string())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
    };
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if tries(&log).len() >= 2 || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    // Twice given up, twice tried again: after 5 s, then after 10 s.
    assert_eq!(tries(&log)[..2], ["5 s", "10 s"], "{log}");
    let status = node_cmd_ok(&node.data_dir, &["status"]);
    eprintln!("{status}");
    assert!(
        status.contains("Unable to bootstrap a working directory"),
        "{status}"
    );
}
