//! What families do in the app — reply, react, delete, photos, group
//! names, search — clicked through the real window against the real node,
//! with the other member's real client on the other side.

mod common;

use common::{Ui, owner_with_friends};
use onionchat_client::{Deletion, Incoming, Received};
use onionchat_proto::wire::{MessageContent, RoomId};
use onionchat_tests::Node;

fn messages(items: Vec<Incoming>) -> Vec<Received> {
    items
        .into_iter()
        .filter_map(|i| match i {
            Incoming::Message(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// bob's view of the chat, as his client verifies it.
fn bobs_view(ann: &Ui, bob: &onionchat_client::Client, room: RoomId) -> Vec<Received> {
    ann.block_on(async { messages(bob.history_all(room, 0).await.expect("bob reads")) })
}

#[test]
fn replies_reactions_deletes_and_photos_in_the_window() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (mut ann, friends) = owner_with_friends(tmp.path(), &node, &["bob"]);
    let bob = friends[0].clone();
    let room = ann.block_on(async { bob.direct_room("ann").await.expect("room") });
    ann.block_on(async {
        bob.send_text(room, "Are you coming on Sunday?")
            .await
            .expect("send")
    });
    ann.wait_for_text("bob (1)", 30);
    ann.click_containing("bob (1)");
    ann.wait_for_text("Are you coming on Sunday?", 20);

    // Reply: click the message, Reply, write.
    ann.click("Are you coming on Sunday?");
    ann.click("Reply");
    ann.wait_for_text("Replying to bob: “Are you coming on Sunday?”", 10);
    ann.type_into("composer", "Yes, with cake");
    ann.enter_in("composer");
    ann.wait_for_text("Yes, with cake", 20);
    ann.wait_for_text("↪ bob: Are you coming on Sunday?", 20);
    assert!(!ann.sees_containing("Replying to bob"));
    let seen = bobs_view(&ann, &bob, room);
    let (question, answer) = (&seen[0], &seen[1]);
    assert_eq!(
        answer.content,
        MessageContent::Reply {
            to: question.msg_id,
            excerpt: "Are you coming on Sunday?".into(),
            text: "Yes, with cake".into()
        }
    );

    // React: click, 👍; bob's ❤️ shows on ann's reply.
    ann.click("Are you coming on Sunday?");
    ann.click("👍");
    ann.wait_for_text("👍 ann", 20);
    let reply_seq = answer.seq;
    ann.block_on(async {
        bob.react(room, reply_seq, "❤️", true)
            .await
            .expect("bob reacts")
    });
    ann.wait_for_text("❤️ bob", 20);
    assert!(bobs_view(&ann, &bob, room).iter().any(|r| matches!(
        &r.content,
        MessageContent::Reaction { to, emoji, on: true } if *to == question.msg_id && emoji == "👍"
    )));
    // Clicking 👍 again takes it back.
    ann.click("Are you coming on Sunday?");
    ann.click("👍");
    ann.wait_until("ann's 👍 taken back", 20, |ui| !ui.sees("👍 ann"));

    // Delete for everyone: ann's own message, gone for bob too.
    ann.type_into("composer", "the door code is 4711");
    ann.enter_in("composer");
    ann.wait_for_text("the door code is 4711", 20);
    ann.click("the door code is 4711");
    ann.click("Delete for everyone");
    ann.wait_for_text("You deleted this message.", 20);
    assert!(!ann.sees_containing("4711"));
    let gone = bobs_view(&ann, &bob, room);
    assert!(
        gone.iter()
            .any(|r| r.deleted == Some(Deletion::ByAuthor) && !r.content.summary().contains("4711"))
    );
    assert!(!gone.iter().any(|r| r.content.summary().contains("4711")));
    // bob takes one of his back: ann's window follows.
    let oops = ann.block_on(async { bob.send_text(room, "oops, wrong chat").await.expect("send") });
    ann.wait_for_text("oops, wrong chat", 20);
    ann.block_on(async {
        bob.delete_for_everyone(room, oops.seq)
            .await
            .expect("bob deletes")
    });
    ann.wait_for_text("bob deleted this message.", 20);
    assert!(!ann.sees("oops, wrong chat"));

    // Delete for me: gone here, still there for bob.
    ann.click("Are you coming on Sunday?");
    ann.click("Delete for me");
    ann.wait_for_text("You deleted this message here.", 10);
    assert!(!ann.sees("Are you coming on Sunday?"));
    assert!(
        bobs_view(&ann, &bob, room)
            .iter()
            .any(|r| r.content.summary() == "Are you coming on Sunday?")
    );

    // A photo shows from its preview; clicking it opens the viewer.
    let photo = tmp.path().join("beach.jpg");
    onionchat_tests::photo_with_gps(&photo);
    let (_, ack) = ann.block_on(async {
        bob.send_file(room, &photo, Box::new(|_, _| true))
            .await
            .expect("bob sends a photo")
    });
    ann.wait_until("the photo's caption", 30, |ui| {
        ui.sees_containing("📷 beach.jpg")
    });
    let shown = ann
        .home()
        .timeline(room)
        .and_then(|t| t.message(ack.seq).cloned());
    assert!(
        matches!(
            shown,
            Some(onionchat_desktop::screen::chat::Entry::Message {
                preview: Some(Ok(_)),
                ..
            })
        ),
        "{shown:?}"
    );
    ann.screenshot("photo-reply-reactions");
    ann.click_id(format!("photo-{}", ack.seq));
    ann.wait_for_text("beach.jpg — 1200 × 900", 30);
    ann.screenshot("photo-viewer");
    ann.click("Back to the chat");
    ann.wait_for_text("Yes, with cake", 10);
}

#[test]
fn a_group_is_named_by_its_admin_and_search_finds_old_messages() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (mut ann, friends) = owner_with_friends(tmp.path(), &node, &["bob", "carol"]);
    let bob = friends[0].clone();

    ann.click("New group");
    ann.type_into("group-names", "bob, carol");
    ann.click("Create group");
    ann.wait_for_text("Group: bob, carol", 30);
    let group = ann.home().current_room().expect("the group is open");
    ann.click("Members");
    ann.type_into("group-name", "The Smiths");
    ann.click("Rename");
    ann.wait_for_text("The group is now called “The Smiths”.", 30);
    ann.click("✕");
    // The list and the title show the name; the chat says who named it.
    ann.click_containing("The Smiths");
    ann.wait_for_text("ann named the group “The Smiths”", 30);
    ann.block_on(async {
        bob.sync(group).await.expect("bob syncs");
        assert_eq!(bob.group_name(group).as_deref(), Some("The Smiths"));
    });
    // bob is no admin: his rename is refused by ann's app, which says so.
    ann.block_on(async {
        bob.send(
            group,
            MessageContent::Rename {
                name: "Bob's gang".into(),
            },
        )
        .await
        .expect("sent")
    });
    ann.wait_until("bob's rename refused", 30, |ui| {
        ui.sees_containing("not an admin")
    });
    assert!(ann.sees_containing("The Smiths") && !ann.sees_containing("Bob's gang"));

    // Search: across chats, from the sidebar.
    ann.block_on(async {
        bob.send_text(group, "Grandma's train arrives at 3")
            .await
            .expect("send")
    });
    ann.wait_for_text("Grandma's train arrives at 3", 30);
    ann.click("Search");
    ann.type_into("search", "TRAIN");
    ann.wait_for_text("Grandma's train arrives at 3", 10);
    ann.wait_until("the result names the chat", 10, |ui| {
        ui.sees_containing("The Smiths · bob")
    });
    ann.screenshot("search");
    ann.replace_in("search", "nothing like this");
    ann.wait_for_text("Nothing found.", 10);
}

/// Added to a group later, a member's window says once, at the top, that
/// what came before was for the members then — no refusal per message —
/// and shows what was said after they came.
#[test]
fn added_to_a_group_later_the_window_says_what_came_before_once() {
    use onionchat_desktop::screen::chat::BEFORE_YOU_JOINED;
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (mut ann, friends) = owner_with_friends(tmp.path(), &node, &["bob", "carol"]);
    let (bob, carol) = (friends[0].clone(), friends[1].clone());
    ann.block_on(async {
        let req = bob.send_friend_request("carol").await.expect("request");
        carol.accept_friend_request(&req).await.expect("accept");
        let group = bob.create_group(&["carol"]).await.expect("group").id;
        bob.rename_group(group, "Cake club").await.expect("name");
        for text in ["who bakes?", "me!", "chocolate?"] {
            bob.send_text(group, text).await.expect("send");
        }
        bob.add_members(group, &["ann"]).await.expect("add ann");
        bob.send_text(group, "welcome, ann").await.expect("send");
    });
    ann.wait_for_text("Cake club", 60);
    ann.click_containing("Cake club");
    ann.wait_for_text("welcome, ann", 30);
    ann.wait_for_text(BEFORE_YOU_JOINED, 10);
    let shown = ann.texts();
    assert_eq!(
        shown
            .iter()
            .filter(|t| t.as_str() == BEFORE_YOU_JOINED)
            .count(),
        1,
        "{shown:?}"
    );
    assert!(
        !shown
            .iter()
            .any(|t| t.contains("refused") || t.contains("who bakes?")),
        "{shown:?}"
    );
}
