//! OnionChat over a real (private, local) Tor network: the node is an Arti
//! onion service, clients connect through Arti, C tor interoperates.

use std::sync::Arc;
use std::time::Duration;

use onionchat_client::transport::{TorOptions, connector_for};
use onionchat_client::{Client, ClientEvent, Incoming};
use onionchat_proto::wire::{InviteLink, MessageContent};
use onionchat_tests::tor_net::{TorNet, avoid_rollover};
use onionchat_tests::{Node, PASS, make_file, sha256_file, wait_event};

/// Join through Tor, retrying while the young network settles (descriptor
/// publication, time-period rollover).
async fn join_via_tor(
    net: &TorNet,
    dir: &std::path::Path,
    name: &str,
    invite: &str,
) -> Arc<Client> {
    let link = InviteLink::parse(invite).expect("invite");
    let mut last = None;
    for _ in 0..12 {
        let mut data = onionchat_client::profile::VaultData::default();
        data.address = link.address.clone();
        data.auth_key = link.auth_key.clone();
        let tor = TorOptions {
            state_dir: Some(dir.with_extension("tor")),
            network_config: Some(net.arti_config.clone()),
            progress: false,
        };
        let connector = connector_for(&data, &tor).expect("connector");
        match Client::join(dir, PASS, &link, name, connector, |_| {}).await {
            Ok(c) => return Arc::new(c),
            Err(e) => {
                eprintln!("{name}: join failed ({e}); retrying");
                last = Some(e);
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    }
    panic!("{name} could not join over Tor: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_is_an_onion_service_and_clients_use_arti() {
    let tmp = tempfile::tempdir().expect("tmp");
    let net = TorNet::start(&tmp.path().join("tor-net"));
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
    let inv = ann.create_invite(None, None).await.expect("invite");
    let bob = join_via_tor(
        &net,
        &tmp.path().join("bob"),
        "bob",
        &ann.invite_link(&inv.code).to_string(),
    )
    .await;
    let req = ann.send_friend_request("bob").await.expect("request");
    let room = bob.accept_friend_request(req.id).await.expect("accept").id;
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
    let (file_id, _) = ann
        .send_file(room, &src, Box::new(|_, _| true))
        .await
        .expect("upload over tor");
    let dest = tmp.path().join("five.out");
    bob.download_file(
        file_id,
        &dest,
        Some(&sha256_file(&src)),
        Box::new(|_, _| true),
    )
    .await
    .expect("download over tor");
    assert_eq!(sha256_file(&dest), sha256_file(&src));
}
