//! Names are keys: a box that controls every answer still cannot choose who
//! "bob" is.
//!
//! Each test puts a [`HostileNode`] between a user and the real node and has
//! it lie about *people* — which room is whose, who a name belongs to,
//! whose request is being accepted, which roster is current — and checks
//! that the client refuses and says so (a `Security` event or an
//! `Untrusted` error naming the person), and that the lie won nothing on
//! the real node: no message in the wrong room, no member the user did not
//! pick, no key sealed for the attacker.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use onionchat_client::profile::Profile;
use onionchat_client::{Client, ClientError, ClientEvent, Incoming};
use onionchat_proto::crypto::roster::{first_roster, roster_hash, sign_roster};
use onionchat_proto::crypto::{IdentityKey, RoomKey, message};
use onionchat_proto::now_ms;
use onionchat_proto::wire::{
    Friend, FriendList, FriendRequestList, History, MessageContent, MsgId, Room, RoomId, RoomKeys,
    RoomKind, RoomList, RosterChain, RosterHash, RosterMember, RosterRef, Signed, StoredMessage,
    UserId, UserInfo,
};
use onionchat_tests::proxy::{HostileNode, rewrite};
use onionchat_tests::{Node, PASS, texts, wait_event};

/// ann (owner) is friends with bob and carol; mallory is another account
/// on the box whose key the attacker holds.
struct Box3 {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    node: Node,
    ann: Arc<Client>,
    bob: Arc<Client>,
    carol: Arc<Client>,
    mallory: Arc<Client>,
    ann_bob: RoomId,
    ann_carol: RoomId,
}

async fn box3() -> Box3 {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().to_path_buf();
    let node = Node::start(&dir.join("node"), &[]);
    let (ann, mut people, rooms) =
        onionchat_tests::owner_and(&node, &dir, &["bob", "carol", "mallory"], 2).await;
    // ann looks once, honestly: bob and carol become her contacts, each
    // with the 1:1 room they signed.
    assert_eq!(ann.friends().await.expect("friends").len(), 2);
    ann.save().expect("save");
    let mallory = people.pop().expect("mallory");
    let carol = people.pop().expect("carol");
    let bob = people.pop().expect("bob");
    Box3 {
        _tmp: tmp,
        dir,
        node,
        ann,
        bob,
        carol,
        mallory,
        ann_bob: rooms[0],
        ann_carol: rooms[1],
    }
}

impl Box3 {
    /// `name`'s profile opened afresh (nothing cached) through `proxy`.
    fn via(&self, name: &str, proxy: &HostileNode) -> Arc<Client> {
        let conn = proxy.connector();
        Arc::new(Client::open(&self.dir.join(name), PASS, move |_| Ok(conn)).expect("open"))
    }

    async fn info(&self, name: &str) -> UserInfo {
        let r = onionchat_tests::raw::get(
            &self.node.addr,
            &format!("/v1/users/{name}"),
            self.ann.session_token().as_deref(),
        )
        .await;
        onionchat_proto::decode(&r.body).expect("user info")
    }
}

/// The next `Security` event's text.
async fn security(events: &mut tokio::sync::broadcast::Receiver<ClientEvent>) -> String {
    wait_event(events, 10, |e| match e {
        ClientEvent::Security { what, .. } => Some(what.clone()),
        _ => None,
    })
    .await
}

/// Point `name`'s profile at the proxy, for the CLI (which connects to
/// the address in the profile).
fn reach_via(b: &Box3, name: &str, proxy: &HostileNode) {
    let mut p = Profile::open(&b.dir.join(name), PASS).expect("profile");
    p.data.address = proxy.addr.clone();
    p.save().expect("save");
}

/// Run the `onionchat` CLI as `name`: (stdout, stderr), after checking it
/// succeeded.
fn cli(b: &Box3, name: &str, args: &[&str]) -> (String, String) {
    let out = std::process::Command::new(onionchat_tests::bin_path("onionchat"))
        .arg("--profile-dir")
        .arg(b.dir.join(name))
        .args(args)
        .env(
            "ONIONCHAT_PASSPHRASE",
            std::str::from_utf8(PASS).expect("utf8"),
        )
        .output()
        .expect("run onionchat");
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "onionchat {args:?}: {e}");
    (o, e)
}

fn enc<T: serde::Serialize>(v: &T) -> Vec<u8> {
    onionchat_proto::encode(v).expect("encode")
}

fn untrusted(r: Result<impl std::fmt::Debug, ClientError>, expect: &str) {
    match r {
        Err(ClientError::Untrusted(w)) if w.contains(expect) => {}
        other => panic!("expected a refusal mentioning {expect:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_friend_list_that_swaps_rooms_cannot_redirect_a_chat() {
    let b = box3().await;
    let proxy = HostileNode::start(b.node.addr.clone()).await;
    let (ab, ac) = (b.ann_bob, b.ann_carol);
    // The box swaps the rooms of bob and carol in ann's friend list.
    let swap = move |method: &str, path: &str, body: Vec<u8>| {
        if method != "GET" || path != "/v1/friends" {
            return body;
        }
        rewrite::<FriendList>(body, |l| {
            for f in &mut l.friends {
                f.room_id = if f.room_id == ab { ac } else { ab };
            }
        })
    };
    proxy.attack(swap);
    let ann = b.via("ann", &proxy);
    let mut events = ann.subscribe();
    let friends = ann.friends_checked().await.expect("friends");
    let bob_room = friends
        .iter()
        .find(|(f, _)| f.user.username == "bob")
        .map(|(f, _)| f.room_id);
    assert_eq!(bob_room, Some(ab), "bob's chat stays the ann–bob room");
    assert!(security(&mut events).await.contains("not your chat with"));
    // What ann writes "to bob" goes into the ann–bob room; carol reads nothing.
    let room = ann.direct_room("bob").await.expect("bob's room");
    assert_eq!(room, ab);
    ann.send_text(room, "for bob only").await.expect("send");
    proxy.honest();
    assert_eq!(
        texts(&b.bob.sync(ab).await.expect("bob syncs")),
        ["for bob only"]
    );
    assert!(b.carol.sync(ac).await.expect("carol syncs").is_empty());

    // The CLI says the same, and its "send bob" goes to bob.
    proxy.attack(swap);
    drop(ann);
    reach_via(&b, "ann", &proxy);
    let (_, warned) = cli(&b, "ann", &["friends", "list"]);
    assert!(
        warned.contains("⚠ refused: the box listed bob with a chat that is not your chat with bob"),
        "{warned}"
    );
    cli(&b, "ann", &["send", "bob", "from the terminal"]);
    assert_eq!(
        texts(&b.bob.sync(ab).await.expect("bob syncs")),
        ["from the terminal"]
    );
    assert!(b.carol.sync(ac).await.expect("carol syncs").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fake_friend_under_a_contacts_name_is_refused() {
    let b = box3().await;
    let proxy = HostileNode::start(b.node.addr.clone()).await;
    // The box's own "bob": a new id and a key it holds, listed as a friend
    // with a 1:1 room whose roster the fake signed.
    let fake_key = IdentityKey::generate().expect("keygen");
    let fake_id = UserId(9_999);
    let real_bob = b.info("bob").await;
    let fake = UserInfo {
        user_id: fake_id,
        public_key: fake_key.public().spki_der().to_vec(),
        fingerprint: fake_key.fingerprint(),
        ..real_bob.clone()
    };
    let ann_member = RosterMember {
        user: b.ann.me(),
        username: "ann".into(),
        fp: b.ann.fingerprint(),
    };
    let fake_member = RosterMember {
        user: fake_id,
        username: "bob".into(),
        fp: fake_key.fingerprint(),
    };
    let fake_room = RoomId::random();
    let roster_body = first_roster(
        fake_room,
        RoomKind::Direct,
        fake_id,
        fake_key.fingerprint(),
        vec![ann_member, fake_member],
        now_ms(),
    );
    let roster = sign_roster(&fake_key, &roster_body).expect("sign");
    let served = Room {
        id: fake_room,
        kind: RoomKind::Direct,
        members: vec![b.ann.me(), fake_id],
        epoch: 1,
        created_by: fake_id,
        created_at: now_ms(),
        rekey_required: false,
        last_seq: 0,
        title: None,
        roster: roster.clone(),
    };
    proxy.forge("GET", &format!("/v1/rooms/{fake_room}"), enc(&served));
    proxy.forge(
        "GET",
        &format!("/v1/rooms/{fake_room}/rosters?after=0"),
        enc(&RosterChain {
            rosters: vec![roster.clone()],
        }),
    );
    proxy.forge("GET", &format!("/v1/users/by-id/{}", fake_id.0), enc(&fake));
    proxy.forge("GET", "/v1/users/bob", enc(&fake));
    let (f2, s2) = (fake.clone(), served.clone());
    proxy.attack(move |method, path, body| match (method, path) {
        ("GET", "/v1/friends") => rewrite::<FriendList>(body, |l| {
            l.friends.push(Friend {
                user: f2.clone(),
                room_id: fake_room,
            })
        }),
        ("GET", "/v1/rooms") => rewrite::<RoomList>(body, |l| l.rooms.push(s2.clone())),
        _ => body,
    });
    let ann = b.via("ann", &proxy);
    let mut events = ann.subscribe();
    let friends = ann.friends_checked().await.expect("friends");
    assert_eq!(
        friends
            .iter()
            .filter(|(f, _)| f.user.username == "bob")
            .map(|(f, _)| (f.user.user_id, f.room_id))
            .collect::<Vec<_>>(),
        [(real_bob.user_id, b.ann_bob)],
        "only the real bob, with the real room"
    );
    assert!(security(&mut events).await.contains("a different bob"));
    // The room the fake signed is not shown either, and bob stays bob.
    let rooms = ann.rooms().await.expect("rooms");
    assert!(rooms.iter().all(|r| r.id != fake_room));
    let contact = ann.contact_named("bob").expect("bob is a contact");
    assert_eq!(
        (contact.user_id, contact.fingerprint),
        (real_bob.user_id, real_bob.fingerprint)
    );
    assert_eq!(ann.direct_room("bob").await.expect("room"), b.ann_bob);

    // The CLI lists one bob and says why the other was left out.
    drop(ann);
    reach_via(&b, "ann", &proxy);
    let (listed, warned) = cli(&b, "ann", &["--json", "friends", "list"]);
    assert!(
        warned.contains("⚠ refused: the box presented a different bob"),
        "{warned}"
    );
    assert_eq!(listed.matches("\"bob\"").count(), 1, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_for_a_contacts_name_answered_with_another_account_is_refused() {
    let b = box3().await;
    let proxy = HostileNode::start(b.node.addr.clone()).await;
    // The box answers "who is bob?" with mallory's account and key.
    let mut mallory = b.info("mallory").await;
    mallory.username = "bob".into();
    let real_bob = b.info("bob").await;
    proxy.attack(move |method, path, body| {
        if method == "GET" && path == "/v1/users/bob" {
            return onionchat_proto::encode(&mallory).expect("enc");
        }
        body
    });
    let ann = b.via("ann", &proxy);
    let mut events = ann.subscribe();
    untrusted(ann.user("bob").await, "a different bob");
    assert!(security(&mut events).await.contains("a different bob"));
    // The safety number comes from the contact book, not the box.
    let (contact, _, _) = ann.safety_number("bob").await.expect("number");
    assert_eq!(contact.fingerprint, real_bob.fingerprint);
    // Accepting "bob's new key" with the key that was compared is refused:
    // the box serves another account under the name.
    untrusted(
        ann.accept_new_key("bob", real_bob.fingerprint).await,
        "not the one you compared",
    );
    assert_eq!(
        ann.contact_named("bob").map(|c| c.user_id),
        Some(real_bob.user_id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_made_of_contacts_never_of_what_a_lookup_returns() {
    let b = box3().await;
    let proxy = HostileNode::start(b.node.addr.clone()).await;
    // The box answers "who is carol?" with its own account (mallory's id
    // and key, named carol) and counts how often it was asked.
    let mut mallory = b.info("mallory").await;
    mallory.username = "carol".into();
    let lookups = Arc::new(AtomicUsize::new(0));
    let seen = lookups.clone();
    proxy.attack(move |method, path, body| {
        if method == "GET" && path.starts_with("/v1/users/") && !path.contains("by-id") {
            seen.fetch_add(1, Ordering::SeqCst);
            if path == "/v1/users/carol" {
                return onionchat_proto::encode(&mallory).expect("enc");
            }
        }
        body
    });
    let ann = b.via("ann", &proxy);
    let group = ann
        .create_group(&["bob", "carol"])
        .await
        .expect("group of contacts");
    assert_eq!(lookups.load(Ordering::SeqCst), 0, "no name was looked up");
    // Someone who is not a contact cannot be added by name at all.
    let err = ann
        .add_members(group.id, &["mallory"])
        .await
        .expect_err("added a stranger by name");
    assert!(
        err.to_string().contains("not one of your contacts"),
        "{err}"
    );
    proxy.honest();
    let real = b.ann.room(group.id).await.expect("real group");
    let carol = b.info("carol").await;
    let roster = b.ann.verified_roster(group.id).expect("roster");
    assert!(real.members.contains(&carol.user_id));
    assert!(!real.members.contains(&b.mallory.me()));
    assert_eq!(
        roster.body.member(carol.user_id).map(|m| m.fp),
        Some(carol.fingerprint)
    );
    // mallory holds no key of the group.
    let r = onionchat_tests::raw::get(
        &b.node.addr,
        &format!("/v1/rooms/{}/keys", group.id),
        b.mallory.session_token().as_deref(),
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_accepted_is_the_one_the_user_saw() {
    let b = box3().await;
    // carol and mallory both ask bob to be friends.
    let from_carol = b.carol.send_friend_request("bob").await.expect("carol");
    b.mallory.send_friend_request("bob").await.expect("mallory");
    let mallory = b.info("mallory").await;
    let proxy = HostileNode::start(b.node.addr.clone()).await;
    // bob clicks carol's request; at accept time the box says that request
    // is from mallory.
    let id = from_carol.id;
    proxy.attack(move |method, path, body| {
        if method == "GET" && path == "/v1/friends/requests" {
            return rewrite::<FriendRequestList>(body, |l| {
                for r in l.incoming.iter_mut().filter(|r| r.id == id) {
                    r.from = mallory.clone();
                }
            });
        }
        body
    });
    let bob = b.via("bob", &proxy);
    let mut events = bob.subscribe();
    untrusted(
        bob.accept_friend_request(&from_carol).await,
        "changed who sent the request",
    );
    assert!(security(&mut events).await.contains("nothing was accepted"));
    assert!(bob.contact_named("mallory").is_none());
    assert!(bob.contact_named("carol").is_none());
    proxy.honest();
    // Nothing happened on the box: carol's request is still pending.
    let pending = b.bob.friend_requests().await.expect("requests");
    assert_eq!(pending.incoming.len(), 2);
}

/// A group of ann (admin), bob and carol, where ann then removed carol:
/// roster 2, epoch 2. bob has seen roster 1 only.
async fn group_then_removal(b: &Box3) -> (RoomId, Room) {
    // bob and carol are not friends; ann's group introduces them.
    let group = b
        .ann
        .create_group(&["bob", "carol"])
        .await
        .expect("group")
        .id;
    b.ann.send_text(group, "hello group").await.expect("send");
    for who in [&b.bob, &b.carol] {
        assert_eq!(
            texts(&who.sync(group).await.expect("sync")),
            ["hello group"]
        );
        who.save().expect("save");
    }
    let old = b.ann.room(group).await.expect("room v1");
    b.ann
        .remove_members(group, &["carol"])
        .await
        .expect("remove carol");
    (group, old)
}

/// A message `name`'s own device seals under epoch 1 of `room` (a key the
/// profile holds), naming roster 1 (`v1`): what a member — or one who was
/// one — can still make.
fn sealed_by(b: &Box3, name: &str, room: RoomId, v1: RosterHash, text: &str) -> Signed {
    let p = Profile::open(&b.dir.join(name), PASS).expect("profile");
    let key = RoomKey::from_bytes(p.room_key(room.0, 1).expect("epoch 1 key"));
    message::seal(
        &p.identity,
        room,
        1,
        &key,
        MsgId::random(),
        message::Position {
            stream: p.data.stream,
            counter: 1,
            roster: RosterRef {
                version: 1,
                hash: v1,
            },
        },
        now_ms(),
        &MessageContent::Text { text: text.into() },
    )
    .expect("seal")
}

/// The box slips `envelope`, as from `sender`, after the last message of
/// every history page of `room`.
fn slip_in(proxy: &HostileNode, room: RoomId, sender: UserId, envelope: Signed) {
    proxy.attack(move |_, path, body| {
        if !path.contains(&format!("/v1/rooms/{room}/messages?after=")) {
            return body;
        }
        rewrite::<History>(body, |h| {
            let seq = h.messages.last().map_or(3, |m| m.seq + 1);
            h.messages.push(StoredMessage {
                room_id: room,
                seq,
                server_time: now_ms(),
                sender,
                envelope: envelope.clone(),
                erased: false,
            });
        })
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_cannot_post_under_her_old_key() {
    let b = box3().await;
    let (group, old) = group_then_removal(&b).await;
    // ann's device learns of the removal (it made it) and has read it all.
    b.ann.sync(group).await.expect("sync");
    // carol still holds epoch 1's key; the box slips in a message she
    // sealed with it after she was removed.
    let v1 = roster_hash(&old.roster);
    let envelope = sealed_by(&b, "carol", group, v1, "send the money to me");
    let proxy = HostileNode::start(b.node.addr.clone()).await;
    slip_in(&proxy, group, b.carol.me(), envelope);
    let ann = b.via("ann", &proxy);
    let got = ann.sync(group).await.expect("sync");
    assert!(
        matches!(&got[..], [Incoming::Rejected { reason, .. }] if reason.contains("no longer a member")),
        "{got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_kept_on_an_old_roster_is_caught_from_both_sides() {
    let b = box3().await;
    let (group, old) = group_then_removal(&b).await;
    // The box keeps bob on roster 1 (carol in, epoch 1, whose key carol
    // holds): no newer roster, no epoch-2 grant.
    let proxy = HostileNode::start(b.node.addr.clone()).await;
    let stale = old.clone();
    proxy.attack(move |method, path, body| {
        if method != "GET" {
            return body;
        }
        if path == format!("/v1/rooms/{group}") {
            return onionchat_proto::encode(&stale).expect("enc");
        }
        if path == "/v1/rooms" {
            return rewrite::<RoomList>(body, |l| {
                for r in l.rooms.iter_mut().filter(|r| r.id == group) {
                    *r = stale.clone();
                }
            });
        }
        if path.starts_with(&format!("/v1/rooms/{group}/rosters")) {
            return onionchat_proto::encode(&RosterChain { rosters: vec![] }).expect("enc");
        }
        if path == format!("/v1/rooms/{group}/keys") {
            return rewrite::<RoomKeys>(body, |k| k.grants.truncate(1));
        }
        body
    });
    // ann (on roster 2) writes; her message names roster 2.
    b.ann
        .send_text(group, "carol is out now")
        .await
        .expect("send");
    let bob = b.via("bob", &proxy);
    let mut events = bob.subscribe();
    let got = bob.sync(group).await.expect("sync");
    assert!(
        matches!(&got[..], [Incoming::Rejected { .. }]),
        "bob cannot read epoch 2: {got:?}"
    );
    let what = security(&mut events).await;
    assert!(
        what.contains("ann has seen a newer member list of this room (version 2)"),
        "{what}"
    );
    // bob stops sealing under epoch 1, which carol holds.
    untrusted(
        bob.send_text(group, "for ann and bob").await,
        "sending is paused",
    );
    proxy.honest();
    assert_eq!(
        texts(&b.ann.history_all(group, 0).await.expect("history")),
        ["hello group", "carol is out now"],
        "nothing bob sealed under the old key reached the box"
    );

    // The other side: a message bob signed naming roster 1, shown to ann
    // after the removal, tells her that bob has not seen it.
    let envelope = sealed_by(
        &b,
        "bob",
        group,
        roster_hash(&old.roster),
        "did carol get this?",
    );
    slip_in(&proxy, group, b.bob.me(), envelope);
    let ann = b.via("ann", &proxy);
    let mut events = ann.subscribe();
    ann.sync(group).await.expect("sync");
    let what = security(&mut events).await;
    assert!(
        what.contains("bob has not seen that carol left this room"),
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_epoch_from_the_box_does_not_lock_a_room() {
    let b = box3().await;
    let proxy = HostileNode::start(b.node.addr.clone()).await;
    let room = b.ann_bob;
    proxy.attack(move |method, path, body| {
        if method == "GET" && path == format!("/v1/rooms/{room}") {
            return rewrite::<Room>(body, |r| r.epoch = u32::MAX);
        }
        body
    });
    let ann = b.via("ann", &proxy);
    ann.send_text(room, "under a key nobody granted")
        .await
        .expect_err("sealed under an epoch no member granted");
    proxy.honest();
    // Once the box answers honestly, the room works: the node's word never
    // raised the epoch floor.
    let ann = b.via("ann", &proxy);
    ann.send_text(room, "still here").await.expect("send");
    assert_eq!(
        texts(&b.bob.sync(room).await.expect("sync")),
        ["still here"]
    );
}
