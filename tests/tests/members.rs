//! No member can wear down another: a hostile member — a normal account
//! with its own key, talking to the real node — tries to grow what its
//! friend's device keeps until the profile no longer opens.

use onionchat_client::profile::Profile;
use onionchat_client::{ClientEvent, Incoming};
use onionchat_proto::crypto::{RoomKey, message};
use onionchat_proto::wire::{MessageContent, MsgId, RoomId, RosterRef, SendMessage};
use onionchat_proto::{encode, now_ms};
use onionchat_tests::{Node, PASS, open, raw, two_friends};

/// bob (the attacker) posts `n` valid, signed messages into `room`, each
/// at the `(stream, counter)` that `at(i)` picks.
async fn flood(
    node: &Node,
    dir: &std::path::Path,
    token: &str,
    room: RoomId,
    n: u64,
    at: impl Fn(u64) -> (u64, u64),
) {
    let p = Profile::open(&dir.join("bob"), PASS).expect("bob's profile");
    let key = RoomKey::from_bytes(p.room_key(room.0, 1).expect("room key"));
    let roster = p
        .data
        .rooms
        .get(&room.to_hex())
        .and_then(|t| t.latest())
        .map(|r| RosterRef {
            version: r.body.version,
            hash: r.hash,
        })
        .expect("bob's roster");
    for i in 0..n {
        let (stream, counter) = at(i);
        let envelope = message::seal(
            &p.identity,
            room,
            1,
            &key,
            MsgId::random(),
            message::Position {
                stream,
                counter,
                roster,
            },
            now_ms(),
            &MessageContent::Text { text: "x".into() },
        )
        .expect("seal");
        loop {
            let r = raw::post_cbor(
                &node.addr,
                &format!("/v1/rooms/{room}/messages"),
                Some(token),
                encode(&SendMessage {
                    envelope: envelope.clone(),
                })
                .expect("enc"),
            )
            .await;
            match r.status {
                201 => break,
                // The node's rate limit: a patient attacker waits.
                429 => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                s => panic!("the node refused the flood: {s}"),
            }
        }
    }
}

fn vault_len(dir: &std::path::Path) -> u64 {
    std::fs::metadata(dir.join("ann").join("vault.bin"))
        .expect("vault")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_friend_cannot_grow_a_profile_until_it_no_longer_opens() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    bob.send_text(room, "hi ann").await.expect("send");
    bob.save().expect("save");
    let token = bob.session_token().expect("token");
    ann.sync(room).await.expect("sync");
    ann.save().expect("save");
    let before = vault_len(tmp.path());
    let mut events = ann.subscribe();

    // One way: a single stream whose every message skips 1,024 counters
    // (each once remembered one by one).
    flood(&node, tmp.path(), &token, room, 400, |i| (7, 2 + i * 1025)).await;
    let got = ann.sync(room).await.expect("sync");
    assert_eq!(
        got.iter()
            .filter(|i| matches!(i, onionchat_client::Incoming::Message(_)))
            .count(),
        400
    );
    let told = onionchat_tests::wait_event(&mut events, 5, |e| match e {
        ClientEvent::Security { what, .. } => Some(what.clone()),
        _ => None,
    })
    .await;
    assert!(
        told.contains("no longer keeps track of every gap"),
        "{told}"
    );

    // The other: a new stream (device) for every message.
    flood(&node, tmp.path(), &token, room, 400, |i| (1_000 + i, 500)).await;
    ann.sync(room).await.expect("sync");
    ann.save().expect("save");
    let after = vault_len(tmp.path());
    // Before the caps this grew by megabytes (400 × 1,024 gaps, then 400
    // streams × 499); now by what 8 streams × 256 gaps take, at most.
    assert!(
        after < before + 64 * 1024,
        "the vault grew from {before} to {after} bytes"
    );
    drop(ann);
    // And it still opens with the passphrase, whole.
    let ann = open(&node, &tmp.path().join("ann"));
    assert_eq!(ann.username(), "ann");
    ann.send_text(room, "still here").await.expect("send");
}

/// What a sync showed, one line each: texts, "k missing", "rejected: …".
fn shown(got: &[Incoming]) -> Vec<String> {
    got.iter()
        .map(|i| match i {
            Incoming::Message(m) => match &m.content {
                MessageContent::Text { text } => text.clone(),
                other => format!("{other:?}"),
            },
            Incoming::Missing { count, .. } => format!("{count} missing"),
            Incoming::Rejected { reason, .. } => format!("rejected: {reason}"),
            Incoming::BeforeYouJoined { .. } => "before you joined".into(),
        })
        .collect()
}

/// ann and bob are friends; ann said "hello", and now talks to the box
/// through a hostile proxy, which stored her "transfer it" and told her it
/// failed. Returns ann (through the proxy), bob, their room and the proxy.
async fn transfer_it_said_to_fail(
    node: &Node,
    dir: &std::path::Path,
) -> (
    std::sync::Arc<onionchat_client::Client>,
    std::sync::Arc<onionchat_client::Client>,
    RoomId,
    onionchat_tests::proxy::HostileNode,
) {
    use onionchat_proto::wire::{ApiError, ErrorCode};
    let (ann, bob, room) = two_friends(node, dir).await;
    ann.send_text(room, "hello").await.expect("send");
    ann.save().expect("save");
    drop(ann);
    let proxy = onionchat_tests::proxy::HostileNode::start(node.addr.clone()).await;
    let conn = proxy.connector();
    let ann = std::sync::Arc::new(
        onionchat_client::Client::open(&dir.join("ann"), PASS, move |_| Ok(conn)).expect("ann"),
    );
    proxy.lie_after_forwarding(
        "POST",
        &format!("/v1/rooms/{room}/messages"),
        500,
        encode(&ApiError::new(ErrorCode::Internal, "the node failed")).expect("enc"),
    );
    ann.send_text(room, "transfer it")
        .await
        .expect_err("the box said it failed");
    (ann, bob, room, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_that_left_is_never_reused() {
    use onionchat_proto::wire::History;
    use onionchat_tests::proxy::rewrite;

    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room, proxy) = transfer_it_said_to_fail(&node, tmp.path()).await;
    // ann says the opposite; the box keeps that one from bob, and shows
    // him the first.
    ann.send_text(room, "no, don't").await.expect("send");
    ann.send_text(room, "ok?").await.expect("send");
    proxy.attack(move |_, path, body| {
        if !path.contains("/messages?after=") {
            return body;
        }
        rewrite::<History>(body, |h| {
            h.messages.retain(|m| {
                onionchat_proto::crypto::message::decode(&m.envelope).is_ok_and(|b| b.counter != 3)
            })
        })
    });
    let conn = proxy.connector();
    let bob_via = onionchat_client::Client::open(&tmp.path().join("bob"), PASS, move |_| Ok(conn))
        .expect("bob");
    drop(bob);
    let got = bob_via.sync(room).await.expect("sync");
    let seen = shown(&got);
    // "no, don't" had its own counter: its absence is a gap bob is told
    // about, not a silent swap.
    assert_eq!(seen, ["hello", "transfer it", "1 missing", "ok?"]);
}

/// A send that may have left without an ack is declared void by the next
/// message: receivers see no gap for it, and if the box delivers it after
/// all, they refuse it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_the_sender_counts_as_failed_is_no_gap_and_never_shown_later() {
    use onionchat_proto::wire::History;
    use onionchat_tests::proxy::rewrite;
    use std::sync::atomic::{AtomicBool, Ordering};

    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room, proxy) = transfer_it_said_to_fail(&node, tmp.path()).await;
    ann.send_text(room, "no, don't").await.expect("send");
    // First the box keeps "transfer it" back; later it shows it as new.
    let r = raw::get(
        &node.addr,
        &format!("/v1/rooms/{room}/messages?after=0"),
        bob.session_token().as_deref(),
    )
    .await;
    let all = onionchat_proto::decode::<History>(&r.body)
        .expect("history")
        .messages;
    assert_eq!(all.len(), 3, "the box did store it");
    let later = std::sync::Arc::new(AtomicBool::new(false));
    let phase = later.clone();
    proxy.attack(move |_, path, body| {
        if !path.contains("/messages?after=") {
            return body;
        }
        let kept = all[1].clone();
        let later = phase.load(Ordering::SeqCst);
        rewrite::<History>(body, |h| {
            if later {
                let mut again = kept.clone();
                again.seq = 4;
                h.messages = vec![again];
            } else {
                h.messages.retain(|m| m.seq != kept.seq);
            }
        })
    });
    let conn = proxy.connector();
    let bob_via = onionchat_client::Client::open(&tmp.path().join("bob"), PASS, move |_| Ok(conn))
        .expect("bob");
    drop(bob);
    // No "1 missing": ann's app declared the attempt void.
    assert_eq!(
        shown(&bob_via.sync(room).await.expect("sync")),
        ["hello", "no, don't"]
    );
    later.store(true, Ordering::SeqCst);
    let got = bob_via.sync(room).await.expect("sync");
    assert!(
        matches!(got.as_slice(), [Incoming::Rejected { reason, .. }] if reason.contains("replayed")),
        "{:?}",
        shown(&got)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_count_against_their_senders_quota() {
    use onionchat_proto::wire::ErrorCode;
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = onionchat_tests::config_arg(
        tmp.path(),
        "user_quota_bytes = 100000\n[rate]\nmessages_per_sec = 1000.0\nmessage_burst = 1000.0\n",
    );
    let node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    // bob writes long messages until his quota is used up.
    let long = "x".repeat(8 * 1024);
    let mut sent = 0;
    let refused = loop {
        match bob.send_text(room, &long).await {
            Ok(_) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 100, "the quota never stopped bob");
    };
    assert_eq!(refused.code(), Some(ErrorCode::QuotaExceeded), "{refused}");
    assert!(sent >= 5, "bob sent {sent} before his quota ran out");
    // ann's quota is her own.
    ann.send_text(room, "still mine to use")
        .await
        .expect("ann sends");
    // The store agrees with itself: usage equals what is stored.
    let check = onionchat_tests::node_cmd_ok(&tmp.path().join("node"), &["check"]);
    assert!(check.trim_end().ends_with("\nhealthy"), "{check}");
}

/// Rooms and re-keys are writes like messages: their rosters and key
/// grants count against the quota of the member who uploads them, so a
/// member making groups or re-keying in a loop stops at their own quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_rekeys_count_against_their_makers_quota() {
    use onionchat_proto::wire::ErrorCode;
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = onionchat_tests::config_arg(
        tmp.path(),
        "user_quota_bytes = 40000\n[rate]\nrequests_per_sec = 1000.0\nrequest_burst = 1000.0\n",
    );
    let node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    // bob makes groups with ann until his quota is used up.
    let mut made = 0;
    let refused = loop {
        match bob.create_group(&["ann"]).await {
            Ok(_) => made += 1,
            Err(e) => break e,
        }
        assert!(made < 100, "the quota never stopped bob");
    };
    assert_eq!(refused.code(), Some(ErrorCode::QuotaExceeded), "{refused}");
    assert!(made >= 3, "bob made {made} groups before his quota ran out");
    // Re-keying is refused too; the room stays at its epoch and usable.
    let err = bob.rekey(room).await.expect_err("over quota");
    assert_eq!(err.code(), Some(ErrorCode::QuotaExceeded), "{err}");
    assert_eq!(bob.room(room).await.expect("room").epoch, 1);
    // ann's quota is her own: she re-keys, makes a group, and both can
    // still write in their chat.
    ann.rekey(room).await.expect("ann re-keys");
    ann.create_group(&["bob"]).await.expect("ann makes a group");
    ann.send_text(room, "still ours").await.expect("ann sends");
    // The store agrees with itself: usage equals what is stored.
    let check = onionchat_tests::node_cmd_ok(&tmp.path().join("node"), &["check"]);
    assert!(check.trim_end().ends_with("\nhealthy"), "{check}");
}
