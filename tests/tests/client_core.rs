//! Client-core guarantees: key pinning, passphrase handling, export/import,
//! and resuming a conversation across a reconnect.

use std::collections::BTreeMap;
use std::sync::Arc;

use onionchat_client::{Client, ClientError, ClientEvent, Incoming};
use onionchat_proto::crypto::IdentityKey;
use onionchat_proto::wire::MessageContent;
use onionchat_tests::proxy::{HostileNode, swap_key};
use onionchat_tests::{Node, PASS, open, texts, wait_event};

fn dir_bytes(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_key_is_refused_with_key_changed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    bob.send_text(room, "before").await.expect("send");
    let bob_fp = bob.fingerprint();
    drop(ann);

    // ann now talks to the node through someone who can swap keys.
    let mallory = IdentityKey::generate().expect("keygen");
    let proxy = HostileNode::start(node.addr.clone()).await;
    let conn = proxy.connector();
    let ann =
        Arc::new(Client::open(&tmp.path().join("ann"), PASS, move |_| Ok(conn)).expect("open"));
    let mut events = ann.subscribe();
    assert_eq!(ann.user("bob").await.expect("unarmed").fingerprint, bob_fp);

    proxy.attack(swap_key("bob", mallory.public().spki_der().to_vec()));
    let err = ann.user("bob").await.expect_err("swapped key accepted");
    match err {
        ClientError::KeyChanged {
            username,
            pinned,
            seen,
            ..
        } => {
            assert_eq!(username, "bob");
            assert_eq!(pinned, bob_fp);
            assert_eq!(seen, mallory.fingerprint());
        }
        other => panic!("expected KeyChanged, got {other}"),
    }
    let ev = wait_event(&mut events, 5, |e| match e {
        ClientEvent::KeyChanged { username, .. } => Some(username.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ev, "bob");
    // A new room key is wrapped for the key bob signed into the room, not
    // for the one the node now serves: the real bob reads what follows.
    let r = ann.rekey(room).await.expect("re-key for the signed keys");
    assert_eq!(r.epoch, 2);
    ann.send_text(room, "after the swap").await.expect("send");
    let got = bob.history_all(room, 0).await.expect("bob's history");
    assert_eq!(texts(&got), vec!["before", "after the swap"]);
    // Messages bob really signed still verify against the pinned key.
    let hist = ann.history_all(room, 0).await.expect("history");
    assert!(
        matches!(&hist[0], Incoming::Message(r) if r.content == MessageContent::Text { text: "before".into() })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passphrase_and_export_import() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    ann.send_text(room, "one").await.expect("send");
    let group = ann.create_group(&["bob"]).await.expect("group");
    bob.send_text(group.id, "two").await.expect("send");
    ann.save().expect("save");

    // A wrong passphrase fails and changes nothing on disk.
    let dir = tmp.path().join("ann");
    let before = dir_bytes(&dir);
    let conn = node.connector();
    let err =
        Client::open(&dir, b"not the passphrase", move |_| Ok(conn)).expect_err("wrong passphrase");
    assert!(matches!(err, ClientError::WrongPassphrase), "{err}");
    assert_eq!(
        dir_bytes(&dir),
        before,
        "a failed unlock must not touch the profile"
    );
    // The private key file opens with openssl and the passphrase.
    let pem = dir.join("identity.pem");
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(&pem)
        .arg("-passin")
        .arg(format!("pass:{}", String::from_utf8_lossy(PASS)))
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&pem).expect("meta").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // Export, import on a fresh profile: every room stays readable.
    let export = tmp.path().join("ann.export");
    ann.export(&export).expect("export");
    drop(ann);
    let fresh = tmp.path().join("ann-on-new-laptop");
    let conn = node.connector();
    assert!(matches!(
        onionchat_client::profile::Profile::import(&export, &fresh, b"wrong passphrase"),
        Err(ClientError::WrongPassphrase)
    ));
    assert!(!fresh.join("vault.bin").exists());
    onionchat_client::profile::Profile::import(&export, &fresh, PASS).expect("import");
    let ann2 = Arc::new(Client::open(&fresh, PASS, move |_| Ok(conn)).expect("open imported"));
    let h1 = ann2.history_all(room, 0).await.expect("1:1");
    let h2 = ann2.history_all(group.id, 0).await.expect("group");
    assert!(
        matches!(&h1[0], Incoming::Message(r) if r.content == MessageContent::Text { text: "one".into() })
    );
    assert!(
        matches!(&h2[0], Incoming::Message(r) if r.content == MessageContent::Text { text: "two".into() })
    );
    ann2.send_text(group.id, "from the new laptop")
        .await
        .expect("send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_mid_conversation_loses_and_duplicates_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    let mut events = bob.subscribe();
    let live = bob.start_live();
    onionchat_tests::wait_connected(&mut events, 20).await;

    let mut got: Vec<String> = Vec::new();
    let collect = |e: &ClientEvent| match e {
        ClientEvent::Message(Incoming::Message(r)) if r.room_id == room => match &r.content {
            MessageContent::Text { text } => Some(text.clone()),
            _ => None,
        },
        ClientEvent::Message(Incoming::Rejected { reason, .. }) => panic!("rejected: {reason}"),
        _ => None,
    };
    for i in 0..5 {
        ann.send_text(room, &format!("m{i}")).await.expect("send");
        got.push(wait_event(&mut events, 20, collect).await);
    }
    // The node goes away mid-conversation; ann keeps writing after it comes back.
    node.restart();
    for i in 5..10 {
        ann.send_text(room, &format!("m{i}"))
            .await
            .expect("send after restart");
    }
    while got.len() < 10 {
        got.push(wait_event(&mut events, 60, collect).await);
    }
    // Bob also sends while reconnected; it goes out exactly once.
    bob.send_text(room, "back").await.expect("bob sends");
    let last = wait_event(&mut events, 20, collect).await;
    assert_eq!(last, "back");
    let want: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    assert_eq!(got, want, "every message exactly once, in order");
    let hist = bob.history_all(room, 0).await.expect("history");
    assert_eq!(hist.len(), 11);
    drop(live);
    drop(bob);
    // Reopening later, sync finds nothing new: the cursor was saved.
    let bob2 = open(&node, &tmp.path().join("bob"));
    assert!(bob2.sync(room).await.expect("sync").is_empty());
}

/// A message sent over the live WebSocket: the sending connection gets the
/// ack instead of a copy, and the client delivers the message to itself from
/// that ack — once, in seq order, before `send` returns. The sender's other
/// sessions and the friend get copies as before, and the ack counts as the
/// sender's delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_sends_reach_the_sender_once_its_other_sessions_and_friends() {
    use onionchat_proto::wire::ServerFrame;
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    let (mut ann_ev, mut bob_ev) = (ann.subscribe(), bob.subscribe());
    let (_al, _bl) = (ann.start_live(), bob.start_live());
    onionchat_tests::wait_connected(&mut ann_ev, 20).await;
    onionchat_tests::wait_connected(&mut bob_ev, 20).await;
    let text_of = |e: &ClientEvent| match e {
        ClientEvent::Message(Incoming::Message(r)) if r.room_id == room => match &r.content {
            MessageContent::Text { text } => Some((r.seq, r.sender, text.clone())),
            _ => None,
        },
        ClientEvent::Message(Incoming::Rejected { reason, .. }) => panic!("rejected: {reason}"),
        _ => None,
    };

    // Only ann's live session is up: the ack alone marks her delivery.
    let solo = ann.send_text(room, "solo").await.expect("send");
    assert!(!solo.duplicate);
    onionchat_tests::wait_text(&mut bob_ev, 20, "solo").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let markers = bob.markers(room).await.expect("markers");
        let ann_state = markers.members.iter().find(|m| m.user == ann.me());
        if ann_state.is_some_and(|m| m.delivered_seq >= solo.seq) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ann's delivery marker never reached her own message: {markers:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // A second session of ann's, watching raw frames.
    let token = ann.session_token().expect("token");
    let mut other = onionchat_tests::raw::websocket(&node.addr, &token).await;
    assert!(matches!(
        onionchat_tests::raw::next_frame(&mut other).await,
        Some(ServerFrame::Hello { .. })
    ));

    let mut sent = vec![(solo.seq, ann.me(), "solo".to_string())];
    // Everything ann's client delivers, in order.
    let mut ann_got = vec![];
    for i in 0..3 {
        let text = format!("a{i}");
        let ack = ann.send_text(room, &text).await.expect("ann sends");
        // Already delivered to ann by the time `send` returned.
        while let Ok(e) = ann_ev.try_recv() {
            ann_got.extend(text_of(&e));
        }
        let mine = (ack.seq, ann.me(), text);
        assert_eq!(ann_got.last(), Some(&mine));
        sent.push(mine);
        let text = format!("b{i}");
        let ack = bob.send_text(room, &text).await.expect("bob sends");
        sent.push((ack.seq, bob.me(), text));
    }
    let end = bob.send_text(room, "end").await.expect("end");
    sent.push((end.seq, bob.me(), "end".to_string()));

    // Ann's client: every message exactly once, in seq order.
    while ann_got.last().is_none_or(|m| m.2 != "end") {
        ann_got.push(wait_event(&mut ann_ev, 20, text_of).await);
    }
    assert_eq!(ann_got, sent, "every message reaches ann once, in order");
    // Ann's other session: a copy of every message, her own included.
    let mut copies = vec![];
    while copies.len() < 7 {
        match onionchat_tests::raw::next_frame(&mut other).await {
            Some(ServerFrame::Message(m)) => copies.push((m.seq, m.sender)),
            Some(_) => {}
            None => panic!("ann's other session closed"),
        }
    }
    let want: Vec<_> = sent[1..].iter().map(|m| (m.0, m.1)).collect();
    assert_eq!(copies, want, "other sessions get every copy in order");
    // Bob got everything (his own messages from his acks), once, in order.
    let mut bob_got: Vec<(u64, onionchat_proto::wire::UserId, String)> = vec![];
    while bob_got.last().is_none_or(|m| m.2 != "end") {
        bob_got.push(wait_event(&mut bob_ev, 20, text_of).await);
    }
    assert_eq!(
        bob_got,
        sent[1..].to_vec(),
        "bob gets every message once, in order"
    );
}

/// The node's side of the same contract, seen on raw sockets: the
/// connection a `send` frame came in on gets the ack and no copy; another
/// connection of the same user gets the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sending_connection_gets_the_ack_instead_of_a_copy() {
    use futures_util::SinkExt;
    use onionchat_proto::crypto::{message, room_key::RoomKey};
    use onionchat_proto::wire::{ClientFrame, MsgId, ServerFrame};
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, _bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    // Ann's client fetches the room key once; her profile then holds it.
    ann.send_text(room, "hello").await.expect("send");
    ann.save().expect("save");
    let epoch = ann.room(room).await.expect("room").epoch;
    let token = ann.session_token().expect("token");
    let profile =
        onionchat_client::profile::Profile::open(&tmp.path().join("ann"), PASS).expect("profile");
    let key = RoomKey::from_bytes(profile.room_key(room.0, epoch).expect("room key"));
    let msg_id = MsgId::random();
    let envelope = message::seal(
        &profile.identity,
        room,
        epoch,
        &key,
        msg_id,
        message::Position {
            stream: profile.data.stream,
            counter: 2,
            roster: onionchat_tests::raw::ANY_ROSTER,
        },
        onionchat_proto::now_ms(),
        &MessageContent::Text { text: "raw".into() },
    )
    .expect("seal");

    let mut sending = onionchat_tests::raw::websocket(&node.addr, &token).await;
    let mut other = onionchat_tests::raw::websocket(&node.addr, &token).await;
    for s in [&mut sending, &mut other] {
        assert!(matches!(
            onionchat_tests::raw::next_frame(s).await,
            Some(ServerFrame::Hello { .. })
        ));
    }
    let frame = |f: &ClientFrame| {
        tokio_tungstenite::tungstenite::Message::Binary(
            onionchat_proto::encode(f).expect("encode").into(),
        )
    };
    sending
        .send(frame(&ClientFrame::Send { envelope }))
        .await
        .expect("send frame");
    let ack = match onionchat_tests::raw::next_frame(&mut sending).await {
        Some(ServerFrame::Ack(ack)) => ack,
        other => panic!("expected the ack first, got {other:?}"),
    };
    assert_eq!(ack.msg_id, msg_id);
    assert!(!ack.duplicate);
    // Frames come in order: if a copy had been queued, it would come before
    // this pong.
    sending
        .send(frame(&ClientFrame::Ping { nonce: 7 }))
        .await
        .expect("ping");
    assert_eq!(
        onionchat_tests::raw::next_frame(&mut sending).await,
        Some(ServerFrame::Pong { nonce: 7 })
    );
    match onionchat_tests::raw::next_frame(&mut other).await {
        Some(ServerFrame::Message(m)) => {
            assert_eq!((m.seq, m.sender), (ack.seq, ann.me()));
        }
        other => panic!("the other session should get the copy, got {other:?}"),
    }
}

/// The owner removes a member: the member's live connection closes, their
/// session and login stop working, the rest of the box carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_removes_a_member() {
    use onionchat_proto::wire::ErrorCode;
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    ann.send_text(room, "before").await.expect("send");

    // Only the owner lists the box's members.
    let names = |l: Vec<onionchat_proto::wire::UserInfo>| {
        l.into_iter().map(|u| u.username).collect::<Vec<_>>()
    };
    assert_eq!(names(ann.members().await.expect("members")), ["ann", "bob"]);
    let err = bob.members().await.expect_err("not the owner");
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));

    // Only the owner removes, and not herself.
    let err = bob.remove_account("ann").await.expect_err("not the owner");
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));
    let err = ann.remove_account("ann").await.expect_err("herself");
    assert_eq!(err.code(), Some(ErrorCode::Invalid));

    let token = bob.session_token().expect("token");
    let mut live = onionchat_tests::raw::websocket(&node.addr, &token).await;
    assert!(matches!(
        onionchat_tests::raw::next_frame(&mut live).await,
        Some(onionchat_proto::wire::ServerFrame::Hello { .. })
    ));
    ann.remove_account("bob").await.expect("remove");

    // Bob's open connection is closed, his token and his key open nothing.
    let closed =
        onionchat_tests::raw::close_code(&mut live, 10, "the removed member's connection").await;
    assert_eq!(closed, Some(1008));
    let r = onionchat_tests::raw::get(&node.addr, "/v1/me", Some(&token)).await;
    assert_eq!(r.status, 401);
    bob.logout().await.ok();
    let err = bob.history_all(room, 0).await.expect_err("cannot log in");
    assert_eq!(err.code(), Some(ErrorCode::Forbidden), "{err}");
    // The member list no longer has him.
    assert_eq!(names(ann.members().await.expect("members")), ["ann"]);
    // Everyone can see the account is gone; the owner's room still works.
    let info: onionchat_proto::wire::UserInfo = onionchat_proto::decode(
        &onionchat_tests::raw::get(
            &node.addr,
            "/v1/users/bob",
            Some(&ann.session_token().expect("token")),
        )
        .await
        .body,
    )
    .expect("info");
    assert!(info.removed);
    assert_eq!(
        texts(&ann.history_all(room, 0).await.expect("history")),
        ["before"]
    );
    let err = ann.remove_account("bob").await.expect_err("twice");
    assert_eq!(err.code(), Some(ErrorCode::Conflict));
}
