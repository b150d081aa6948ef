//! What families do in a chat, against the real node binary: photos with
//! their preview, replies, reactions, delete for everyone and for me,
//! group names and search — and a box that tries to undo them.

use std::sync::Arc;

use onionchat_client::{Client, ClientError, ClientEvent, Deletion, Incoming, Received};
use onionchat_proto::wire::{History, MessageContent, RoomId, StoredMessage};
use onionchat_tests::proxy::{HostileNode, rewrite};
use onionchat_tests::{Node, PASS, photo_with_gps, raw, two_friends, wait_event};

fn messages(items: &[Incoming]) -> Vec<&Received> {
    items
        .iter()
        .filter_map(|i| match i {
            Incoming::Message(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn no_refusals(items: &[Incoming]) {
    assert!(
        items
            .iter()
            .all(|i| !matches!(i, Incoming::Rejected { .. } | Incoming::Missing { .. })),
        "{items:?}"
    );
}

/// What the shown messages say (any kind), for looking things up.
fn said(items: &[Incoming]) -> Vec<String> {
    messages(items)
        .iter()
        .filter(|r| r.deleted.is_none())
        .map(|r| r.content.summary())
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reactions_and_deletes_are_seen_by_the_other_member() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;

    let hello = ann
        .send_text(room, "Dinner at ours on Sunday?")
        .await
        .expect("send");
    let reply = bob
        .reply(room, hello.seq, "Yes please! We'll bring cake")
        .await
        .expect("reply");
    bob.react(room, hello.seq, "👍", true).await.expect("react");
    bob.react(room, hello.seq, "👍", false).await.expect("undo");
    ann.react(room, reply.seq, "❤️", true).await.expect("react");

    let seen = ann.history_all(room, 0).await.expect("history");
    no_refusals(&seen);
    let m = messages(&seen);
    let first = m[0].msg_id;
    assert_eq!(
        m[1].content,
        MessageContent::Reply {
            to: first,
            excerpt: "Dinner at ours on Sunday?".into(),
            text: "Yes please! We'll bring cake".into()
        }
    );
    assert_eq!(
        m[2].content,
        MessageContent::Reaction {
            to: first,
            emoji: "👍".into(),
            on: true
        }
    );
    assert_eq!(
        m[3].content,
        MessageContent::Reaction {
            to: first,
            emoji: "👍".into(),
            on: false
        }
    );
    assert!(
        matches!(&m[4].content, MessageContent::Reaction { to, emoji, on: true } if *to == m[1].msg_id && emoji == "❤️")
    );

    // Bad input is refused in words, before anything leaves.
    let err = bob
        .react(
            room,
            hello.seq,
            "a very long reaction that is no emoji at all",
            true,
        )
        .await
        .expect_err("long reaction");
    assert!(matches!(err, ClientError::Input(_)), "{err}");
    let err = bob
        .reply(room, 999, "to nothing")
        .await
        .expect_err("no message");
    assert!(err.to_string().contains("no message 999"), "{err}");

    // Delete for everyone: only the author may.
    let oops = ann
        .send_text(room, "the door code is 4711")
        .await
        .expect("send");
    let err = bob
        .delete_for_everyone(room, oops.seq)
        .await
        .expect_err("not bob's message");
    assert!(err.to_string().contains("only your own"), "{err}");
    let before = raw::history(&node.addr, &ann, room).await;
    let original = before
        .messages
        .iter()
        .find(|m| m.seq == oops.seq)
        .expect("stored")
        .clone();
    let ciphertext = onionchat_proto::crypto::message::decode(&original.envelope)
        .expect("body")
        .ciphertext;
    let db_path = tmp.path().join("node").join("onionchat.redb");
    assert!(
        contains(&std::fs::read(&db_path).expect("redb"), &ciphertext[..48]),
        "the check below would not see the ciphertext"
    );
    let delete = ann
        .delete_for_everyone(room, oops.seq)
        .await
        .expect("delete");

    // bob sees it deleted, with no gap and no refusal, and the deletion.
    let seen = bob.history_all(room, 0).await.expect("history");
    no_refusals(&seen);
    let m = messages(&seen);
    let gone = m.iter().find(|r| r.seq == oops.seq).expect("placeholder");
    assert_eq!(gone.deleted, Some(Deletion::ByAuthor));
    assert_eq!(gone.content, MessageContent::Delete { to: gone.msg_id });
    assert_eq!(
        gone.msg_id,
        messages(&ann.history(room, oops.seq - 1, 1).await.expect("page").0)[0].msg_id
    );
    let del = m.iter().find(|r| r.seq == delete.seq).expect("deletion");
    assert_eq!(del.content, MessageContent::Delete { to: gone.msg_id });
    assert!(!said(&seen).iter().any(|t| t.contains("4711")));

    // The node dropped the ciphertext and kept the signed request.
    let after = raw::history(&node.addr, &ann, room).await;
    let stored = after
        .messages
        .iter()
        .find(|m| m.seq == oops.seq)
        .expect("tombstone");
    assert!(stored.erased);
    let erase = onionchat_proto::crypto::erase::decode(&stored.envelope).expect("erase body");
    assert_eq!((erase.seq, erase.sender_fp), (oops.seq, ann.fingerprint()));
    assert!(!contains(&stored.envelope.body, &ciphertext[..32]));

    // Delete for me: gone here, still there for the other.
    bob.delete_for_me(room, m[1].msg_id).expect("delete for me");
    let bob_again = bob.history_all(room, 0).await.expect("history");
    let hidden = messages(&bob_again)
        .into_iter()
        .find(|r| r.seq == reply.seq)
        .expect("slot");
    assert_eq!(hidden.deleted, Some(Deletion::ForMe));
    assert!(!said(&bob_again).iter().any(|t| t.contains("cake")));
    assert!(
        said(&ann.history_all(room, 0).await.expect("ann"))
            .iter()
            .any(|t| t.contains("cake"))
    );

    // The erased ciphertext is nowhere in the node's files once it has
    // written its data away (stopped: the file is whole and closed).
    drop((ann, bob));
    let mut node = node;
    node.stop();
    let db = std::fs::read(&db_path).expect("redb file");
    assert!(
        !contains(&db, &ciphertext[..48]),
        "the erased message's ciphertext is still in the redb file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_travels_with_a_clean_preview_and_deleting_it_removes_the_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    let photo = tmp.path().join("beach.jpg");
    photo_with_gps(&photo);
    let (file_id, ack) = ann
        .send_file(room, &photo, Box::new(|_, _| true))
        .await
        .expect("send photo");

    let seen = bob.history_all(room, 0).await.expect("history");
    no_refusals(&seen);
    let m = messages(&seen);
    let MessageContent::File {
        preview: Some(p),
        mime,
        name,
        ..
    } = &m[0].content
    else {
        panic!("no preview: {:?}", m[0].content)
    };
    assert_eq!(
        (name.as_str(), mime.as_deref()),
        ("beach.jpg", Some("image/jpeg"))
    );
    assert_eq!((p.full_width, p.full_height), (1200, 900));
    assert!(p.width <= 320 && p.height <= 320 && p.bytes.len() <= 24 * 1024);
    let shown = onionchat_client::picture::decode_preview(p).expect("preview decodes");
    assert_eq!((shown.width(), shown.height()), (p.width, p.height));
    assert!(!contains(&p.bytes, b"our-home"), "GPS text in the preview");
    assert!(!contains(&p.bytes, b"Exif"), "EXIF block in the preview");
    // The full picture is the file: the same pixels, without the GPS
    // block the original carries (nor any EXIF: the photo is upright).
    let dest = tmp.path().join("got.jpg");
    let MessageContent::File { sha256, .. } = &m[0].content else {
        unreachable!()
    };
    bob.download_file(file_id, &dest, Some(sha256), Box::new(|_, _| true))
        .await
        .expect("download");
    let original = std::fs::read(&photo).expect("read");
    let got = std::fs::read(&dest).expect("read");
    assert!(contains(&original, b"our-home") && contains(&original, b"Exif"));
    assert!(!contains(&got, b"our-home"), "GPS text in the photo");
    assert!(!contains(&got, b"Exif"), "EXIF block in the photo");
    let pixels = |b: &[u8]| {
        onionchat_client::picture::decode(b)
            .expect("decodes")
            .to_rgb8()
    };
    assert_eq!(
        pixels(&got),
        pixels(&original),
        "the photo's pixels changed"
    );

    // Deleting the photo for everyone removes the file from the box.
    let blobs = tmp.path().join("node").join("blobs");
    let count = || {
        std::fs::read_dir(&blobs)
            .map(|d| d.flatten().filter(|e| e.path().is_file()).count())
            .unwrap_or(0)
    };
    assert_eq!(count(), 1);
    ann.delete_for_everyone(room, ack.seq)
        .await
        .expect("delete");
    assert_eq!(count(), 0, "the photo's blob is still on the box");
    let err = bob
        .download_file(
            file_id,
            &tmp.path().join("again.jpg"),
            None,
            Box::new(|_, _| true),
        )
        .await
        .expect_err("file gone");
    assert_eq!(
        err.code(),
        Some(onionchat_proto::wire::ErrorCode::NotFound),
        "{err}"
    );
    let seen = bob.history_all(room, 0).await.expect("history");
    no_refusals(&seen);
    assert_eq!(messages(&seen)[0].deleted, Some(Deletion::ByAuthor));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_have_names_only_admins_can_give_and_search_finds_messages() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, people, _) =
        onionchat_tests::owner_and(&node, tmp.path(), &["bob", "carol"], 2).await;
    let (bob, carol) = (&people[0], &people[1]);
    let group = ann.create_group(&["bob", "carol"]).await.expect("group").id;
    ann.rename_group(group, "  The Smiths  ")
        .await
        .expect("rename");
    ann.send_text(group, "Grandma arrives on the 3 pm train")
        .await
        .expect("send");
    bob.send_text(group, "I'll pick her up")
        .await
        .expect("send");
    bob.sync(group).await.expect("sync");
    assert_eq!(bob.group_name(group).as_deref(), Some("The Smiths"));

    // bob is no admin: his app will not, and a rename he signs anyway is
    // refused by the others.
    let err = bob
        .rename_group(group, "Bob's gang")
        .await
        .expect_err("no admin");
    assert!(err.to_string().contains("only an admin"), "{err}");
    bob.send(
        group,
        MessageContent::Rename {
            name: "Bob's gang".into(),
        },
    )
    .await
    .expect("the node cannot tell: it is encrypted");
    let got = carol.sync(group).await.expect("sync");
    assert!(
        got.iter().any(
            |i| matches!(i, Incoming::Rejected { reason, .. } if reason.contains("not an admin"))
        ),
        "{got:?}"
    );
    assert_eq!(carol.group_name(group).as_deref(), Some("The Smiths"));
    // The admin renames again: the later name wins.
    ann.rename_group(group, "Smiths & co")
        .await
        .expect("rename");
    carol.sync(group).await.expect("sync");
    assert_eq!(carol.group_name(group).as_deref(), Some("Smiths & co"));
    // Someone added later cannot read what was said before they came,
    // renames included: the admin who adds them says the name again.
    let dan_dir = tmp.path().join("dan");
    let inv = ann.create_invite(None, None).await.expect("invite");
    let dan = onionchat_tests::join(
        &node,
        &dan_dir,
        "dan",
        &ann.invite_link(&inv.code).to_string(),
    )
    .await;
    let req = ann.send_friend_request("dan").await.expect("request");
    dan.accept_friend_request(&req).await.expect("accept");
    ann.add_members(group, &["dan"]).await.expect("add dan");
    dan.sync(group).await.expect("dan syncs");
    assert_eq!(dan.group_name(group).as_deref(), Some("Smiths & co"));
    // A chat between two friends has no name to give.
    let direct = ann.direct_room("bob").await.expect("direct");
    assert!(ann.rename_group(direct, "x").await.is_err());

    // Search, on the member's computer, across chats and in one.
    ann.send_text(direct, "the TRAIN tickets are booked")
        .await
        .expect("send");
    let rooms: Vec<RoomId> = ann
        .rooms()
        .await
        .expect("rooms")
        .iter()
        .map(|r| r.id)
        .collect();
    let found = ann.search(&rooms, "train", 50).await.expect("search");
    let found: Vec<String> = found.iter().map(|r| r.text.clone()).collect();
    assert_eq!(
        found,
        [
            "Grandma arrives on the 3 pm train",
            "the TRAIN tickets are booked"
        ]
    );
    let found = ann.search(&[group], "train", 50).await.expect("search");
    assert_eq!(found.len(), 1);
    assert!(ann.search(&rooms, "  ", 50).await.is_err());
    // Deleted messages are not found.
    let seq = ann
        .history_all(direct, 0)
        .await
        .expect("history")
        .iter()
        .filter_map(|i| match i {
            Incoming::Message(r) if r.content.summary().contains("TRAIN") => Some(r.seq),
            _ => None,
        })
        .next()
        .expect("seq");
    ann.delete_for_everyone(direct, seq).await.expect("delete");
    assert_eq!(
        ann.search(&rooms, "train", 50).await.expect("search").len(),
        1
    );
    // The index is on ann's computer, encrypted; it answers without the box.
    ann.save().expect("save");
    let index = std::fs::read(tmp.path().join("ann").join("search.bin")).expect("index file");
    assert!(!contains(&index, b"Grandma") && !contains(&index, b"train"));
    let mut node = node;
    node.stop();
    let found = ann
        .search(&rooms, "GRANDMA", 50)
        .await
        .expect("offline search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].sender_name, "ann");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_box_that_serves_a_deleted_message_or_a_taken_back_reaction_again_is_caught() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    let secret = ann
        .send_text(room, "surprise party plans")
        .await
        .expect("send");
    ann.send_text(room, "👀").await.expect("send");
    let react = ann.react(room, 2, "🎉", true).await.expect("react");
    ann.react(room, 2, "🎉", false).await.expect("take back");
    // bob reads through a box that will lie.
    drop(bob);
    let proxy = HostileNode::start(node.addr.clone()).await;
    let conn = proxy.connector();
    let bob =
        Arc::new(Client::open(&tmp.path().join("bob"), PASS, move |_| Ok(conn)).expect("open"));
    let mut events = bob.subscribe();
    let got = bob.sync(room).await.expect("sync");
    no_refusals(&got);
    let stored = raw::history(&node.addr, &ann, room).await;
    let original: StoredMessage = stored.messages[(secret.seq - 1) as usize].clone();
    let reaction: StoredMessage = stored.messages[(react.seq - 1) as usize].clone();
    let original_id = onionchat_proto::crypto::message::decode(&original.envelope)
        .expect("body")
        .msg_id;

    ann.delete_for_everyone(room, secret.seq)
        .await
        .expect("delete");
    let got = bob.sync(room).await.expect("sync");
    no_refusals(&got);
    // A "delete" of ann's message signed by someone else (bob's app would
    // not offer it; a hostile member can sign one) deletes nothing, and
    // does not mask ann's own deletion.
    bob.send(room, MessageContent::Delete { to: original_id })
        .await
        .expect("sent");
    bob.sync(room).await.expect("sync");

    // The box serves the deleted message again, in its old place.
    let history = |path: &str| path.contains("/messages?after=");
    let again = original.clone();
    proxy.attack(move |_, path, body| {
        if !history(path) {
            return body;
        }
        rewrite::<History>(body, |h| {
            for m in &mut h.messages {
                if m.seq == again.seq {
                    *m = again.clone();
                }
            }
        })
    });
    let page = bob.history_all(room, 0).await.expect("history");
    assert!(
        page.iter().any(|i| matches!(i, Incoming::Rejected { seq, reason, .. } if *seq == secret.seq && reason.contains("deleted"))),
        "{page:?}"
    );
    assert!(!said(&page).iter().any(|t| t.contains("surprise")));
    let said = wait_event(&mut events, 5, |e| match e {
        ClientEvent::Security { what, .. } if what.contains("served it again") => {
            Some(what.clone())
        }
        _ => None,
    })
    .await;
    assert!(said.contains("ann"), "{said}");

    // The box serves the taken-back reaction again, as new.
    ann.send_text(room, "see you there").await.expect("send");
    let old = reaction.clone();
    proxy.attack(move |_, path, body| {
        if !history(path) {
            return body;
        }
        rewrite::<History>(body, |h| {
            let mut replay = old.clone();
            replay.seq = h.messages.last().map_or(1, |m| m.seq + 1);
            h.messages.push(replay);
        })
    });
    let got = bob.sync(room).await.expect("sync");
    assert!(
        !messages(&got)
            .iter()
            .any(|r| matches!(r.content, MessageContent::Reaction { on: true, .. })),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|i| matches!(i, Incoming::Rejected { reason, .. } if reason.contains("replayed"))),
        "{got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_erases_only_what_the_author_signed() {
    use onionchat_client::profile::Profile;
    use onionchat_proto::crypto::{erase, message};
    use onionchat_proto::encode;
    use onionchat_proto::wire::{EraseMessage, ErrorCode, Signed};
    use onionchat_tests::raw::{expect, post_cbor};

    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    let sent = ann.send_text(room, "take me back").await.expect("send");
    let ann_key = Profile::open(&tmp.path().join("ann"), PASS)
        .expect("ann")
        .identity;
    let bob_key = Profile::open(&tmp.path().join("bob"), PASS)
        .expect("bob")
        .identity;
    let stored = raw::history(&node.addr, &ann, room).await.messages[0].clone();
    let body = message::decode(&stored.envelope).expect("body");
    let (a, path) = (&node.addr, format!("/v1/rooms/{room}/erase"));
    let ann_token = ann.session_token();
    let bob_token = bob.session_token();
    let post = |token: Option<String>, erase: Signed| {
        let path = path.clone();
        async move {
            post_cbor(
                a,
                &path,
                token.as_deref(),
                encode(&EraseMessage { erase }).expect("enc"),
            )
            .await
        }
    };
    let genuine = erase::sign(&ann_key, &body, sent.seq, 1).expect("sign");

    // bob erasing ann's message with his own signature: not his.
    let mut as_bob = body.clone();
    as_bob.sender_fp = bob_key.fingerprint();
    let bobs = erase::sign(&bob_key, &as_bob, sent.seq, 1).expect("sign");
    expect(
        &post(bob_token.clone(), bobs).await,
        403,
        ErrorCode::Forbidden,
    );
    // bob posting ann's genuine request: signed for another key.
    expect(
        &post(bob_token.clone(), genuine.clone()).await,
        403,
        ErrorCode::Forbidden,
    );
    // ann's request with a broken signature.
    let mut broken = genuine.clone();
    broken.signature[10] ^= 1;
    expect(
        &post(ann_token.clone(), broken).await,
        400,
        ErrorCode::BadSignature,
    );
    // Naming another counter than the stored message has.
    let mut other = body.clone();
    other.counter += 1;
    let wrong = erase::sign(&ann_key, &other, sent.seq, 1).expect("sign");
    expect(
        &post(ann_token.clone(), wrong).await,
        400,
        ErrorCode::Invalid,
    );
    // A message that is not there.
    let nothing = erase::sign(&ann_key, &body, 999, 1).expect("sign");
    expect(
        &post(ann_token.clone(), nothing).await,
        404,
        ErrorCode::NotFound,
    );
    // Junk, and no login.
    let junk = Signed {
        body: vec![1, 2, 3],
        signature: vec![],
    };
    expect(
        &post(ann_token.clone(), junk).await,
        400,
        ErrorCode::Malformed,
    );
    expect(
        &post(None, genuine.clone()).await,
        401,
        ErrorCode::Unauthorized,
    );
    // After all that, the message is still there, unchanged.
    let now = raw::history(&node.addr, &ann, room).await.messages[0].clone();
    assert_eq!(now, stored);

    // The author's own request erases it; again changes nothing.
    for _ in 0..2 {
        let r = post(ann_token.clone(), genuine.clone()).await;
        assert_eq!(r.status, 204, "{:?}", r.code());
    }
    let now = raw::history(&node.addr, &ann, room).await.messages[0].clone();
    assert!(now.erased);
    assert_eq!(now.envelope, genuine);
    // A resend of the erased message is no way to bring it back.
    let again = post_cbor(
        a,
        &format!("/v1/rooms/{room}/messages"),
        ann_token.as_deref(),
        encode(&onionchat_proto::wire::SendMessage {
            envelope: stored.envelope.clone(),
        })
        .expect("enc"),
    )
    .await;
    assert_eq!(again.status, 409, "{:?}", again.code());
    assert!(raw::history(&node.addr, &ann, room).await.messages[0].erased);
}

/// Someone added to a group later sees what was said before as one quiet
/// fact — sent before they were in it — not as refusals, and with no trip
/// to the box for keys that were never theirs; what is said after they
/// came opens. The box cannot pass a message meant for them off as one of
/// those: the roster a message names is signed by its sender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_added_later_sees_what_came_before_as_such() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, people, _) =
        onionchat_tests::owner_and(&node, tmp.path(), &["bob", "carol"], 2).await;
    let (bob, carol) = (&people[0], &people[1]);
    let group = ann.create_group(&["bob"]).await.expect("group").id;
    ann.send_text(group, "what shall we give mum?")
        .await
        .expect("send");
    bob.send_text(group, "a photo book").await.expect("send");
    ann.add_members(group, &["carol"]).await.expect("add carol");
    ann.send_text(group, "welcome, carol").await.expect("send");

    let seen = carol.history_all(group, 0).await.expect("history");
    let kinds: Vec<String> = seen
        .iter()
        .map(|i| match i {
            Incoming::BeforeYouJoined { sender_name, .. } => format!("before: {sender_name}"),
            Incoming::Message(r) => r.content.summary(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["before: ann", "before: bob", "welcome, carol"]);
    let welcome = seen[2].seq();
    // bob, there from the start, reads them all.
    let bobs = bob.history_all(group, 0).await.expect("history");
    no_refusals(&bobs);
    assert_eq!(messages(&bobs).len(), 3);

    // Through a box that makes ann's welcome name the roster carol was
    // not in (as if it had been sent before she came): refused, never
    // filed away as "before you joined".
    let stored = raw::history(&node.addr, carol, group).await;
    let before_roster = onionchat_proto::crypto::message::decode(&stored.messages[0].envelope)
        .expect("body")
        .roster;
    carol.save().expect("save");
    let proxy = HostileNode::start(node.addr.clone()).await;
    let key_fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = key_fetches.clone();
    proxy.attack(move |_, path, body| {
        if path.ends_with("/keys") {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        if !path.contains("/messages?after=") {
            return body;
        }
        rewrite::<History>(body, move |h| {
            for m in &mut h.messages {
                let Ok(mut b) = onionchat_proto::crypto::message::decode(&m.envelope) else {
                    continue;
                };
                if b.roster != before_roster {
                    b.roster = before_roster;
                    m.envelope.body = onionchat_proto::encode(&b).expect("encode");
                }
            }
        })
    });
    let conn = proxy.connector();
    let carol_via =
        Client::open(&tmp.path().join("carol"), PASS, move |_| Ok(conn)).expect("carol");
    let seen = carol_via.history_all(group, 0).await.expect("history");
    assert!(
        matches!(seen.last(), Some(Incoming::Rejected { seq, .. }) if *seq == welcome),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|i| matches!(i, Incoming::BeforeYouJoined { seq, .. } if *seq == welcome)),
        "{seen:?}"
    );
    // The earlier messages were known for what they are without asking
    // the box for keys (one request each, on every page, before).
    assert_eq!(
        seen.iter()
            .filter(|i| matches!(i, Incoming::BeforeYouJoined { .. }))
            .count(),
        2
    );
    assert_eq!(key_fetches.load(std::sync::atomic::Ordering::SeqCst), 0);
}
