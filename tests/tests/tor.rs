//! OnionChat over a real (private, local) Tor network: the node is an Arti
//! onion service, clients connect through Arti, C tor interoperates.

use std::sync::Arc;
use std::time::Duration;

use onionchat_client::transport::{TorOptions, connector_for};
use onionchat_client::{Client, ClientEvent, Incoming};
use onionchat_proto::wire::{InviteLink, MessageContent};
use onionchat_tests::tor_net::{TorNet, avoid_rollover};
use onionchat_tests::{Node, PASS, make_file, wait_event};

async fn join_via_tor(
    net: &TorNet,
    dir: &std::path::Path,
    name: &str,
    invite: &str,
) -> Arc<Client> {
    onionchat_tests::tor_net::join_via_tor(net, dir, name, invite)
        .await
        .unwrap_or_else(|e| panic!("{name} could not join over Tor: {e}"))
}

/// Tor tests run one at a time: each brings up ten tor daemons.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Retry an operation while Tor paths settle (relay loss, rollover).
async fn retry<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = onionchat_client::Result<T>>,
{
    let mut last = None;
    for _ in 0..24 {
        match f().await {
            Ok(v) => return v,
            Err(e) => {
                eprintln!("{what}: {e}; retrying");
                last = Some(e);
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
    panic!("{what} kept failing: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_is_an_onion_service_and_clients_use_arti() {
    let _one = ONE_AT_A_TIME.lock().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let mut net = TorNet::start(&tmp.path().join("tor-net"));
    avoid_rollover(Duration::from_secs(120));
    let node = Node::start_onion(&tmp.path().join("node"), &net.arti_config, &[]);
    assert!(node.url.ends_with(".onion"), "{}", node.url);
    let invite = node.owner_invite.clone().expect("owner invite");
    let link = InviteLink::parse(&invite).expect("link");
    assert!(
        link.auth_key.is_some(),
        "restricted discovery is on by default: the invite carries a key"
    );
    let ann = join_via_tor(&net, &tmp.path().join("ann"), "ann", &invite).await;
    // The box lists its access keys: the owner invite's and the spares.
    let access = |args: &[&str]| {
        let mut all = vec!["access"];
        all.extend_from_slice(args);
        onionchat_tests::node_cmd_ok(&node.data_dir, &all)
    };
    let keys = access(&["list"]);
    assert!(keys.contains(&format!("invite {}", link.code)), "{keys}");
    let spare = keys
        .lines()
        .find(|l| l.ends_with("spare"))
        .expect("a spare key")
        .split_whitespace()
        .next()
        .expect("id")
        .to_string();
    assert!(
        !access(&["revoke", &spare]).contains(&format!("{spare} ")),
        "revoked key still listed"
    );
    let inv = ann.create_invite(None, None).await.expect("invite");
    let bob = join_via_tor(
        &net,
        &tmp.path().join("bob"),
        "bob",
        &ann.invite_link(&inv.code).to_string(),
    )
    .await;
    let req = ann.send_friend_request("bob").await.expect("request");
    let room = bob.accept_friend_request(&req).await.expect("accept").id;
    let mut events = bob.subscribe();
    let _live = bob.start_live();
    ann.send_text(room, "hello over tor").await.expect("send");
    let got = wait_event(&mut events, 60, |e| match e {
        ClientEvent::Message(Incoming::Message(r)) => Some(r.content.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        got,
        MessageContent::Text {
            text: "hello over tor".into()
        }
    );
    let src = tmp.path().join("five.bin");
    make_file(&src, 5 * 1024 * 1024, 9);
    onionchat_tests::file_round_trip(&ann, &bob, room, &src, &tmp.path().join("five.out")).await;

    // The node restarts: same .onion, bob's live session reconnects and
    // resumes; what ann sends meanwhile arrives exactly once.
    let onion = node.url.clone();
    let mut node = node;
    node.restart();
    assert_eq!(node.url, onion, "the onion address must survive a restart");
    for i in 0..3 {
        let text = format!("after restart {i}");
        retry("send after restart", || ann.send_text(room, &text)).await;
    }
    let mut got = Vec::new();
    while got.len() < 3 {
        let t = wait_event(&mut events, 240, |e| match e {
            ClientEvent::Message(Incoming::Message(r)) => match &r.content {
                MessageContent::Text { text } if text.starts_with("after restart") => {
                    Some(text.clone())
                }
                _ => None,
            },
            _ => None,
        })
        .await;
        got.push(t);
    }
    assert_eq!(
        got,
        vec!["after restart 0", "after restart 1", "after restart 2"]
    );

    // A backup restored into a new data dir keeps the same .onion address.
    let backup = tmp.path().join("box.backup");
    let pass = tmp.path().join("backup-passphrase");
    std::fs::write(&pass, onionchat_tests::PASS).expect("passphrase file");
    let (backup_s, pass_s) = (backup.to_str().expect("path"), pass.to_str().expect("path"));
    onionchat_tests::node_cmd_ok(
        &node.data_dir,
        &["backup", "--passphrase-file", pass_s, backup_s],
    );
    node.stop();
    let restored = tmp.path().join("restored-node");
    onionchat_tests::node_cmd_ok(
        &restored,
        &["restore", "--passphrase-file", pass_s, backup_s],
    );
    let node = Node::start_onion(&restored, &net.arti_config, &[]);
    assert_eq!(
        node.url, onion,
        "the restored box must keep its onion address"
    );
    retry("send after restore", || {
        ann.send_text(room, "after restore")
    })
    .await;

    // Relays disappear; the service and its clients recover.
    net.kill("relay0");
    net.kill("relay1");
    retry("send after relays died", || {
        ann.send_text(room, "after relay loss")
    })
    .await;
    let hist = retry("history after relays died", || bob.history_all(room, 0)).await;
    let all = onionchat_tests::texts(&hist);
    assert_eq!(all.first().map(String::as_str), Some("hello over tor"));
    assert_eq!(all.last().map(String::as_str), Some("after relay loss"));
    assert!(all.iter().any(|t| t == "after restore"));
    assert_eq!(
        all.iter()
            .filter(|t| t.starts_with("after restart"))
            .count(),
        3,
        "no duplicates"
    );

    // A client without the access key cannot even reach the node.
    let inv = ann.create_invite(None, None).await.expect("invite");
    let mut link = ann.invite_link(&inv.code);
    assert!(link.auth_key.is_some());
    link.auth_key = None;
    let mut data = onionchat_client::profile::VaultData::default();
    data.address = link.address.clone();
    let tor = TorOptions {
        state_dir: Some(tmp.path().join("eve.tor")),
        network_config: Some(net.arti_config.clone()),
        progress: false,
        on_bootstrap: None,
        bootstrap_timeout: None,
        ..Default::default()
    };
    let connector = connector_for(&data, &tor).expect("connector");
    let attempt = tokio::time::timeout(
        Duration::from_secs(120),
        Client::join(
            &tmp.path().join("eve"),
            PASS,
            &link,
            "eve",
            connector,
            |_| {},
        ),
    )
    .await;
    match attempt {
        Ok(Err(onionchat_client::ClientError::Connect(e))) => {
            eprintln!("keyless client refused as expected: {e}")
        }
        Ok(Err(other)) => panic!("expected a connection failure, got {other}"),
        Ok(Ok(_)) => panic!("a client without the restricted-discovery key reached the node"),
        Err(_) => {} // could not even build a circuit to the service: also refused
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interoperates_with_c_tor_both_ways() {
    let _one = ONE_AT_A_TIME.lock().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let mut net = TorNet::start(&tmp.path().join("tor-net"));
    avoid_rollover(Duration::from_secs(120));

    // 1. curl through a C tor SOCKS port reaches the Arti onion service,
    //    with the access key from an invite in C tor's ClientOnionAuthDir.
    let node = Node::start_onion(&tmp.path().join("node"), &net.arti_config, &[]);
    let link = InviteLink::parse(node.owner_invite.as_deref().expect("invite")).expect("link");
    let auth_dir = tmp.path().join("c-tor-auth");
    std::fs::create_dir_all(&auth_dir).expect("dir");
    let host = link.address.trim_end_matches(".onion");
    std::fs::write(
        auth_dir.join("node.auth_private"),
        format!(
            "{host}:descriptor:x25519:{}\n",
            link.auth_key.as_deref().expect("key")
        ),
    )
    .expect("auth file");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&auth_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let socks = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    net.c_tor(
        "ctor-client",
        &format!(
            "SocksPort 127.0.0.1:{socks}\nClientOnionAuthDir {}",
            auth_dir.display()
        ),
    );
    let mut ok = false;
    for _ in 0..24 {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "30",
                "--socks5-hostname",
            ])
            .arg(format!("127.0.0.1:{socks}"))
            .arg(format!("{}/v1/info", node.url))
            .output()
            .expect("curl (apt-get install curl)");
        if String::from_utf8_lossy(&out.stdout) == "200" {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    assert!(
        ok,
        "curl through C tor never got 200 from the onion service"
    );

    // 2. Our client reaches an onion service that C tor publishes in front
    //    of a node's TCP listener (the node is told its onion address:
    //    sign-ups name it).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let hostname = net.c_tor_onion_service("ctor-service", port);
    let cfg = tmp.path().join("tcp-node.toml");
    std::fs::write(&cfg, format!("onion_address = \"{hostname}\"\n")).expect("config");
    let tcp_node = Node::start_at(
        &tmp.path().join("tcp-node"),
        &format!("127.0.0.1:{port}"),
        &[&format!("--config={}", cfg.display())],
    );
    let tcp_invite =
        InviteLink::parse(tcp_node.owner_invite.as_deref().expect("invite")).expect("link");
    let via_c_tor = InviteLink {
        address: hostname.clone(),
        code: tcp_invite.code,
        auth_key: None,
    };
    let ann = join_via_tor(&net, &tmp.path().join("ann"), "ann", &via_c_tor.to_string()).await;
    assert_eq!(ann.node_status().await.expect("status").users, 1);
    eprintln!("joined a node behind C tor at {hostname}");
}
