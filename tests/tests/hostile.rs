//! The box is never trusted: a node that attacks its own users.
//!
//! Each test puts a [`HostileNode`] between a user's client and the real
//! node and has it lie — about who is in a room, which keys exist, what
//! was said and in which order, which state is current — and checks that
//! the client refuses and says so (a `Security` event, an `Untrusted`
//! error, a rejected or missing message), and that the lie won the
//! attacker nothing: the real node shows no new epoch, no grant for the
//! attacker, no message sealed under a key the attacker holds.

use std::path::Path;
use std::sync::Arc;

use onionchat_client::profile::Profile;
use onionchat_client::{Client, ClientError, ClientEvent, Incoming};
use onionchat_proto::crypto::roster::{next_roster, sign_roster};
use onionchat_proto::crypto::{IdentityKey, RoomKey, SignContext, message, room_key};
use onionchat_proto::wire::{
    History, MessageContent, MsgId, Room, RoomId, RoomKeys, RosterChain, RosterChange,
    RosterMember, SendMessage, Signed,
};
use onionchat_proto::{encode, now_ms};
use onionchat_tests::proxy::{HostileNode, rewrite, swap_key};
use onionchat_tests::raw;
use onionchat_tests::{Node, PASS, texts, two_friends, wait_event};

/// A box with ann (owner, admin of the group), bob and carol (ann's
/// friends, strangers to each other) in one group, and mallory, another
/// account on the box whose key the attacker holds.
struct Household {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    node: Node,
    ann: Arc<Client>,
    carol: Arc<Client>,
    mallory: Arc<Client>,
    group: RoomId,
}

async fn household() -> Household {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().to_path_buf();
    let node = Node::start(&dir.join("node"), &[]);
    let (ann, mut people, _) =
        onionchat_tests::owner_and(&node, &dir, &["bob", "carol", "mallory"], 2).await;
    let group = ann.create_group(&["bob", "carol"]).await.expect("group").id;
    ann.send_text(group, "hello group").await.expect("send");
    // bob has been in the group a while: he verified it before any attack.
    let bob = &people[0];
    assert_eq!(
        texts(&bob.sync(group).await.expect("sync")),
        ["hello group"]
    );
    bob.save().expect("save");
    let mallory = people.pop().expect("mallory");
    let carol = people.pop().expect("carol");
    Household {
        _tmp: tmp,
        dir,
        node,
        ann,
        carol,
        mallory,
        group,
    }
}

impl Household {
    /// bob's profile opened afresh (nothing cached) through `proxy`.
    fn bob_via(&self, proxy: &HostileNode) -> Arc<Client> {
        let conn = proxy.connector();
        Arc::new(Client::open(&self.dir.join("bob"), PASS, move |_| Ok(conn)).expect("open bob"))
    }

    fn identity(&self, name: &str) -> IdentityKey {
        Profile::open(&self.dir.join(name), PASS)
            .expect("profile")
            .identity
    }

    /// The group as the real node has it (asked honestly by ann).
    async fn real_group(&self) -> Room {
        self.ann.room(self.group).await.expect("real room")
    }

    async fn real_texts(&self) -> Vec<String> {
        texts(&self.ann.history_all(self.group, 0).await.expect("history"))
    }
}

fn is_room_path(path: &str, room: RoomId) -> bool {
    path == format!("/v1/rooms/{room}") || path == "/v1/rooms"
}

/// Rewrite `Room` answers for `room` (alone or in the room list).
fn edit_room(
    room: RoomId,
    edit: impl Fn(&mut Room) + Send + Sync + 'static,
) -> impl Fn(&str, &str, Vec<u8>) -> Vec<u8> + Send + Sync + 'static {
    move |method, path, body| {
        if method != "GET" || !is_room_path(path, room) {
            return body;
        }
        if path == "/v1/rooms" {
            return rewrite::<onionchat_proto::wire::RoomList>(body, |l| {
                l.rooms.iter_mut().filter(|r| r.id == room).for_each(&edit)
            });
        }
        rewrite::<Room>(body, &edit)
    }
}

/// Sending must fail with `Untrusted`, and the client must say why.
async fn refused_to_send(bob: &Client, room: RoomId, expect: &str) {
    let mut events = bob.subscribe();
    let err = bob
        .send_text(room, "secret")
        .await
        .expect_err("sent into a room the node forged");
    assert!(
        matches!(&err, ClientError::Untrusted(w) if w.contains(expect)),
        "expected a refusal mentioning {expect:?}, got: {err}"
    );
    let what = wait_event(&mut events, 5, |e| match e {
        ClientEvent::Security { what, .. } => Some(what.clone()),
        _ => None,
    })
    .await;
    assert!(what.contains(expect), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_nobody_signed_in_or_out_are_refused() {
    let h = household().await;
    let proxy = HostileNode::start(h.node.addr.clone()).await;
    let mallory = h.mallory.me();
    let carol = h.carol.me();

    // 1. The node adds mallory to the member list and asks for a re-key,
    //    so the next key would be wrapped for her.
    proxy.attack(edit_room(h.group, move |r| {
        r.members.push(mallory);
        r.members.sort();
        r.rekey_required = true;
    }));
    refused_to_send(&h.bob_via(&proxy), h.group, "does not match").await;

    // 2. The node drops carol silently (so she would miss what follows).
    proxy.attack(edit_room(h.group, move |r| {
        r.members.retain(|m| *m != carol);
        r.rekey_required = true;
    }));
    refused_to_send(&h.bob_via(&proxy), h.group, "does not match").await;

    // 3. A real, signed roster adding mallory — signed by carol, a member
    //    who is not an admin, and then by mallory herself.
    let current = h.real_group().await;
    let v1 = h.ann.verified_roster(h.group).expect("ann verified it");
    for (signer, name, expect) in [
        (
            h.identity("carol"),
            "carol",
            "only an admin can add members",
        ),
        (h.identity("mallory"), "mallory", "not a member"),
    ] {
        let actor = if name == "carol" { carol } else { mallory };
        let mut members = v1.body.members.clone();
        members.push(RosterMember {
            user: mallory,
            username: "mallory".into(),
            fp: h.identity("mallory").fingerprint(),
        });
        let body = next_roster(
            &v1,
            RosterChange::Add,
            actor,
            signer.fingerprint(),
            members,
            now_ms(),
        );
        let forged = sign_roster(&signer, &body).expect("sign");
        let (room_forged, chain_forged) = (forged.clone(), forged.clone());
        let room_id = h.group;
        let base = current.clone();
        proxy.attack(move |method, path, body| {
            if method == "GET" && path.starts_with(&format!("/v1/rooms/{room_id}/rosters")) {
                return rewrite::<RosterChain>(body, |c| c.rosters = vec![chain_forged.clone()]);
            }
            let mut forged_room = base.clone();
            forged_room.roster = room_forged.clone();
            forged_room.members.push(mallory);
            forged_room.members.sort();
            forged_room.rekey_required = true;
            edit_room(room_id, move |r| *r = forged_room.clone())(method, path, body)
        });
        refused_to_send(&h.bob_via(&proxy), h.group, expect).await;
    }

    // Nothing was won: no new epoch, mallory is no member and has no key,
    // and no message went out.
    proxy.honest();
    let real = h.real_group().await;
    assert_eq!(real.epoch, 1);
    assert!(!real.members.contains(&mallory));
    let r = raw::get(
        &h.node.addr,
        &format!("/v1/rooms/{}/keys", h.group),
        h.mallory.session_token().as_deref(),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(h.real_texts().await, ["hello group"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_planted_by_someone_outside_the_room_is_refused() {
    let h = household().await;
    let proxy = HostileNode::start(h.node.addr.clone()).await;
    let bob_id = h.real_group().await.members[1];
    let bob_key = h.identity("bob");
    let mallory = h.identity("mallory");
    let v1 = h.ann.verified_roster(h.group).expect("roster");
    // mallory's key for "epoch 2", wrapped for bob, bound to the real roster.
    let planted_key = RoomKey::generate();
    let grant = room_key::make_grant(
        &mallory,
        h.group,
        2,
        v1.hash,
        bob_id,
        bob_key.public(),
        &planted_key,
    )
    .expect("grant");
    let room_id = h.group;
    proxy.attack(move |method, path, body| {
        if method == "GET" && path == format!("/v1/rooms/{room_id}/keys") {
            return rewrite::<RoomKeys>(body, |k| k.grants.push(grant.clone()));
        }
        edit_room(room_id, |r| r.epoch = 2)(method, path, body)
    });
    let bob = h.bob_via(&proxy);
    let mut events = bob.subscribe();
    let err = bob
        .send_text(h.group, "secret")
        .await
        .expect_err("sealed under a planted key");
    assert!(err.to_string().contains("no room key for epoch 2"), "{err}");
    let what = wait_event(&mut events, 5, |e| match e {
        ClientEvent::Security { what, .. } => Some(what.clone()),
        _ => None,
    })
    .await;
    assert!(
        what.contains("signed by someone who is not a member"),
        "{what}"
    );
    drop(bob);
    let p = Profile::open(&h.dir.join("bob"), PASS).expect("profile");
    assert!(
        p.room_key(h.group.0, 2).is_none(),
        "the planted key was kept"
    );
    proxy.honest();
    assert_eq!(h.real_texts().await, ["hello group"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_in_the_group_is_known_only_by_the_key_signed_into_it() {
    let h = household().await;
    let proxy = HostileNode::start(h.node.addr.clone()).await;
    h.carol
        .send_text(h.group, "from carol")
        .await
        .expect("send");
    let bob = h.bob_via(&proxy);
    assert_eq!(
        texts(&bob.sync(h.group).await.expect("sync")),
        ["from carol"]
    );
    // carol is not bob's contact: nothing was pinned, she is "introduced".
    let carol = h.carol.me();
    assert!(
        bob.contact(carol).is_none(),
        "carol was pinned on first sight"
    );
    let intro = bob.introduction(h.group, carol).expect("introduced");
    assert_eq!(
        (intro.username.as_str(), intro.introduced_by),
        ("carol", h.ann.me().0)
    );
    assert_eq!(bob.name_of(carol), "carol");
    bob.save().expect("save");
    drop(bob);

    // The node now serves mallory's key as carol's.
    let mallory = h.identity("mallory");
    proxy.attack(swap_key("carol", mallory.public().spki_der().to_vec()));
    h.carol.send_text(h.group, "second").await.expect("send");
    let bob = h.bob_via(&proxy);
    let got = bob.sync(h.group).await.expect("sync");
    assert!(
        matches!(&got[..], [Incoming::Rejected { reason, .. }] if reason.contains("not the one signed into the room")),
        "{got:?}"
    );
    // And no new key is wrapped for the swapped key.
    let err = bob
        .rekey(h.group)
        .await
        .expect_err("re-keyed for a swapped key");
    assert!(matches!(err, ClientError::Untrusted(_)), "{err}");
    proxy.honest();
    assert_eq!(h.real_group().await.epoch, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_a_room_back_is_refused() {
    let h = household().await;
    let proxy = HostileNode::start(h.node.addr.clone()).await;
    let old = h.real_group().await;
    // ann removes carol: roster 2, epoch 2. bob sees it.
    h.ann
        .remove_members(h.group, &["carol"])
        .await
        .expect("remove carol");
    let bob = h.bob_via(&proxy);
    let mut events = bob.subscribe();
    let now = bob.room(h.group).await.expect("room");
    assert_eq!((now.epoch, now.members.len()), (2, 2));
    let text = wait_event(&mut events, 5, |e| match e {
        ClientEvent::Membership { text, .. } => Some(text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(text, "ann removed carol");
    assert_eq!(
        bob.membership_log(h.group)
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>(),
        [
            "ann created the room with bob and carol",
            "ann removed carol"
        ]
    );
    bob.save().expect("save");
    drop(bob);

    // The node serves the old room (carol back in, epoch 1, whose key
    // carol holds).
    let stale = old.clone();
    proxy.attack(edit_room(h.group, move |r| *r = stale.clone()));
    refused_to_send(&h.bob_via(&proxy), h.group, "rollback").await;
    // Or only the old epoch, under the new roster.
    proxy.attack(edit_room(h.group, |r| r.epoch = 1));
    refused_to_send(&h.bob_via(&proxy), h.group, "rollback").await;
    proxy.honest();
    assert_eq!(h.real_texts().await, ["hello group"]);
}

/// ann sends `texts` into `room`.
async fn say(ann: &Client, room: RoomId, texts: &[&str]) {
    for t in texts {
        ann.send_text(room, t).await.expect("send");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_withheld_and_reordered_messages_are_caught() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    bob.save().expect("save");
    drop(bob);
    let proxy = HostileNode::start(node.addr.clone()).await;
    let conn = proxy.connector();
    let bob =
        Arc::new(Client::open(&tmp.path().join("bob"), PASS, move |_| Ok(conn)).expect("bob"));
    let history = |path: &str| path.contains("/messages?after=");

    // Reordered: the node swaps two of ann's messages in the page.
    say(&ann, room, &["one", "two", "three", "four"]).await;
    proxy.attack(move |_, path, body| {
        if !history(path) {
            return body;
        }
        rewrite::<History>(body, |h| {
            let (a, b) = (
                h.messages[1].envelope.clone(),
                h.messages[2].envelope.clone(),
            );
            h.messages[1].envelope = b;
            h.messages[2].envelope = a;
        })
    });
    assert_eq!(
        texts(&bob.sync(room).await.expect("sync")),
        ["one", "two", "three", "four"],
        "one sender's messages read in the order they were sent"
    );

    // Withheld: the node drops "six" (its seq hole says nothing: seqs
    // are the node's; the counter in ann's signed envelope tells).
    say(&ann, room, &["five", "six", "seven"]).await;
    proxy.attack(move |_, path, body| {
        if !history(path) {
            return body;
        }
        rewrite::<History>(body, |h| h.messages.retain(|m| m.seq != 6))
    });
    let got = bob.sync(room).await.expect("sync");
    match &got[..] {
        [
            Incoming::Message(five),
            Incoming::Missing {
                count, sender_name, ..
            },
            Incoming::Message(seven),
        ] => {
            assert_eq!(
                five.content,
                MessageContent::Text {
                    text: "five".into()
                }
            );
            assert_eq!((*count, sender_name.as_str()), (1, "ann"));
            assert_eq!(
                seven.content,
                MessageContent::Text {
                    text: "seven".into()
                }
            );
        }
        other => panic!("expected five, a gap of one, seven: {other:?}"),
    }

    // Replayed: an old message served again as new.
    let old = raw::history(&node.addr, &ann, room).await.messages[1].clone();
    say(&ann, room, &["eight"]).await;
    proxy.attack(move |_, path, body| {
        if !history(path) {
            return body;
        }
        rewrite::<History>(body, |h| {
            let mut again = old.clone();
            again.seq = h.messages.last().map_or(1, |m| m.seq + 1);
            h.messages.push(again);
        })
    });
    let got = bob.sync(room).await.expect("sync");
    let shown: Vec<&MessageContent> = got
        .iter()
        .filter_map(|i| match i {
            Incoming::Message(m) => Some(&m.content),
            _ => None,
        })
        .collect();
    assert_eq!(
        shown,
        [&MessageContent::Text {
            text: "eight".into()
        }]
    );
    assert!(
        got.iter()
            .any(|i| matches!(i, Incoming::Rejected { reason, .. } if reason.contains("replayed"))),
        "{got:?}"
    );

    proxy.honest();
}

fn open_registration(dir: &Path) -> String {
    let p = dir.join("node.toml");
    std::fs::write(&p, "open_registration = true\n").expect("config");
    format!("--config={}", p.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_or_sign_up_for_one_box_is_worthless_at_another() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = open_registration(tmp.path());
    let a = Node::start(&tmp.path().join("a"), &[&cfg]);
    let b = Node::start(&tmp.path().join("b"), &[&cfg]);
    let key = IdentityKey::generate().expect("keygen");
    for n in [&a, &b] {
        assert_eq!(raw::signup(&n.addr, &key, "ann", None).await.status, 200);
    }
    let a_id = raw::node_id(&a.addr).await;
    assert_ne!(a_id, raw::node_id(&b.addr).await);
    // Box A passes box B's challenge to ann; her answer names box A.
    let answer = raw::signed_login_naming(&b.addr, &key, "ann", &a_id).await;
    let r = raw::post_cbor(&b.addr, "/v1/auth/login", None, answer).await;
    assert_eq!(
        (r.status, r.code()),
        (401, Some(onionchat_proto::wire::ErrorCode::Unauthorized))
    );
    // The same answer naming box B is what B accepts.
    let honest = raw::signed_login(&b.addr, &key, "ann").await;
    let r = raw::post_cbor(&b.addr, "/v1/auth/login", None, honest).await;
    assert_eq!(r.status, 200);
    let token = raw::session_token(&r);
    // A sign-up signed for box A does not create an account on box B.
    let other = IdentityKey::generate().expect("keygen");
    let body = onionchat_proto::wire::SignupBody {
        v: onionchat_proto::PROTOCOL_VERSION,
        username: "zoe".into(),
        public_key: other.public().spki_der().to_vec(),
        invite: None,
        node: a_id,
    };
    let signed = other.sign_body(SignContext::Signup, &body).expect("sign");
    let r = raw::post_cbor(&b.addr, "/v1/signup", None, encode(&signed).expect("enc")).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        raw::get(&b.addr, "/v1/users/zoe", Some(&token))
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_store_what_does_not_verify() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, _bob, room) = two_friends(&node, tmp.path()).await;
    ann.send_text(room, "real").await.expect("send");
    ann.save().expect("save");
    let p = Profile::open(&tmp.path().join("ann"), PASS).expect("profile");
    let key = RoomKey::from_bytes(p.room_key(room.0, 1).expect("key"));
    let token = ann.session_token().expect("token");
    let seal = |counter| {
        message::seal(
            &p.identity,
            room,
            1,
            &key,
            MsgId::random(),
            message::Position {
                stream: 9,
                counter,
                roster: onionchat_tests::raw::ANY_ROSTER,
            },
            now_ms(),
            &MessageContent::Text { text: "x".into() },
        )
        .expect("seal")
    };
    let foreign = IdentityKey::generate().expect("keygen");
    let zeros = Signed {
        signature: vec![0; 384],
        ..seal(1)
    };
    let mut flipped = seal(2);
    flipped.signature[100] ^= 1;
    let resigned = {
        let env = seal(3);
        Signed {
            signature: foreign.sign(SignContext::Message, &env.body).expect("sign"),
            ..env
        }
    };
    for (what, envelope) in [
        ("zero signature", zeros),
        ("flipped bit", flipped),
        ("someone else's signature", resigned),
    ] {
        let r = raw::post_cbor(
            &node.addr,
            &format!("/v1/rooms/{room}/messages"),
            Some(&token),
            encode(&SendMessage { envelope }).expect("enc"),
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (400, Some(onionchat_proto::wire::ErrorCode::BadSignature)),
            "{what}"
        );
    }
    // A file header with a bad signature is refused too.
    let (mut header, _) = onionchat_proto::crypto::file_stream::FileSealer::start(
        &p.identity,
        room,
        1,
        &key,
        onionchat_proto::wire::FileId::random(),
        10,
        65536,
    )
    .expect("header");
    header.signature[5] ^= 1;
    let r = raw::post_cbor(
        &node.addr,
        &format!("/v1/rooms/{room}/files"),
        Some(&token),
        encode(&onionchat_proto::wire::FileUploadStart { header }).expect("enc"),
    )
    .await;
    assert_eq!(
        r.code(),
        Some(onionchat_proto::wire::ErrorCode::BadSignature)
    );
    assert_eq!(raw::history(&node.addr, &ann, room).await.messages.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_on_the_first_page_of_a_chat_is_flagged() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    say(&ann, room, &["Yes, do it", "wait", "no, don't"]).await;
    assert_eq!(
        texts(&bob.sync(room).await.expect("sync")),
        ["Yes, do it", "wait", "no, don't"]
    );
    bob.save().expect("save");
    drop(bob);
    // The box serves sync honestly, but the page a chat opens with shows
    // ann's old "Yes, do it" again, as the newest message.
    let proxy = HostileNode::start(node.addr.clone()).await;
    let old = raw::history(&node.addr, &ann, room).await.messages[0].clone();
    proxy.attack(move |_, path, body| {
        if !path.contains("/messages?after=0") {
            return body;
        }
        rewrite::<History>(body, |h| {
            let mut again = old.clone();
            again.seq = h.messages.last().map_or(1, |m| m.seq + 1);
            h.messages.push(again);
        })
    });
    let conn = proxy.connector();
    let bob =
        Arc::new(Client::open(&tmp.path().join("bob"), PASS, move |_| Ok(conn)).expect("bob"));
    let (page, _) = bob.history(room, 0, 50).await.expect("first page");
    assert_eq!(page.len(), 4, "{page:?}");
    assert_eq!(texts(&page[..3]), ["Yes, do it", "wait", "no, don't"]);
    assert!(
        matches!(page.last(), Some(Incoming::Rejected { reason, .. }) if reason.contains("replayed") && reason.contains("delivered before")),
        "{page:?}"
    );
}

/// Older pages are checked too: a message shown again deep in history —
/// at an old seq, with a counter that was delivered — is refused once the
/// device has seen where it really was, and a message the box leaves out
/// of a page is announced where it is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_and_a_gap_in_an_older_page_are_flagged() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    let said = ["m1", "m2", "m3", "m4", "m5", "m6"];
    say(&ann, room, &said).await;
    assert_eq!(texts(&bob.sync(room).await.expect("sync")), said);
    bob.save().expect("save");
    drop(bob);
    // Scrolling back, the page after #3 has m4, then m1 again in m5's
    // place (m5 is left out), then m6.
    let proxy = HostileNode::start(node.addr.clone()).await;
    let all = raw::history(&node.addr, &ann, room).await.messages;
    proxy.attack(move |_, path, body| {
        if !path.contains("/messages?after=3") {
            return body;
        }
        rewrite::<History>(body, |h| {
            let mut again = all[0].clone();
            again.seq = 5;
            h.messages = vec![all[3].clone(), again, all[5].clone()];
        })
    });
    let conn = proxy.connector();
    let bob =
        Arc::new(Client::open(&tmp.path().join("bob"), PASS, move |_| Ok(conn)).expect("bob"));
    let (first, _) = bob.history(room, 0, 3).await.expect("first page");
    assert_eq!(texts(&first), ["m1", "m2", "m3"]);
    let (older, _) = bob.history(room, 3, 3).await.expect("next page");
    assert_eq!(older.len(), 4, "{older:?}");
    assert_eq!(texts(&older[..1]), ["m4"]);
    assert!(
        matches!(&older[1], Incoming::Rejected { reason, seq: 5, .. } if reason.contains("replayed") && reason.contains("shown before at #1")),
        "{older:?}"
    );
    assert!(
        matches!(&older[2], Incoming::Missing { count: 1, before: 6, sender_name, .. } if sender_name == "ann"),
        "{older:?}"
    );
    assert_eq!(texts(&older[3..]), ["m6"]);

    // Scrolling the other way (a new session: the later page first), the
    // copy is shown until the real m1 turns up; then the page carries a
    // refusal for where the copy was shown.
    bob.save().expect("save");
    drop(bob);
    let conn = proxy.connector();
    let bob =
        Arc::new(Client::open(&tmp.path().join("bob"), PASS, move |_| Ok(conn)).expect("bob"));
    let (later, _) = bob.history(room, 3, 3).await.expect("later page");
    let copy_at = later
        .iter()
        .find_map(|i| match i {
            Incoming::Message(r) if r.counter == 1 => Some(r.seq),
            _ => None,
        })
        .expect("the copy is shown while nothing says otherwise");
    let (first, _) = bob.history(room, 0, 3).await.expect("first page");
    assert_eq!(texts(&first[..3]), ["m1", "m2", "m3"]);
    assert!(
        matches!(&first[3..], [Incoming::Rejected { seq, reason, .. }] if *seq == copy_at && reason.contains("shown earlier, at #1")),
        "{first:?}"
    );
}
