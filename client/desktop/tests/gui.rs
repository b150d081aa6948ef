//! The desktop app, headless, against the real node binary on loopback:
//! every click and keystroke goes through the app's own `view`/`update`
//! and ends in real client-core calls.

mod common;

use std::sync::Arc;

use common::{Ui, options};
use onionchat_client::Client;
use onionchat_desktop::screen::start::Mode;
use onionchat_proto::wire::InviteLink;
use onionchat_tests::{Node, PASS};

const PASSPHRASE: &str = "correct horse battery staple";

/// Fill in the join form and press Join.
fn join(ui: &mut Ui, invite: &str, name: &str, pass: &str, again: &str) {
    ui.type_into("invite", invite);
    ui.type_into("username", name);
    ui.type_into("new-passphrase", pass);
    ui.type_into("new-passphrase-again", again);
    ui.click("Join");
}

fn wait_connected(ui: &mut Ui) {
    ui.wait_until("signed in and connected", 60, |ui| {
        ui.signed_in() && ui.sees("● Connected") && ui.home().loaded()
    });
}

/// Unlock the only profile.
fn unlock(ui: &mut Ui, pass: &str) {
    ui.type_into("unlock-passphrase", pass);
    ui.click("Unlock");
}

#[test]
fn onboarding_from_an_invite_then_unlocking_on_the_next_start() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let invite = node.owner_invite.clone().expect("owner invite");

    let mut ui = Ui::new(options(tmp.path()));
    // No profile yet: the window opens on the join form.
    match ui.app.screen() {
        onionchat_desktop::app::Screen::Start(s) => assert_eq!(s.mode(), Mode::Join),
        _ => panic!("signed in without a profile"),
    }
    assert!(ui.screenshot("join"));
    join(&mut ui, &invite, "ann", PASSPHRASE, PASSPHRASE);
    wait_connected(&mut ui);
    assert!(ui.sees("ann (ann)"), "{:?}", ui.texts());
    // The owner invite made ann the owner: the box's own view is there.
    assert!(ui.sees("Your box"));
    assert_eq!(ui.home().client().username(), "ann");
    drop(ui);

    // Next start: the profile is there and must be unlocked.
    let mut ui = Ui::new(options(tmp.path()));
    match ui.app.screen() {
        onionchat_desktop::app::Screen::Start(s) => assert_eq!(s.mode(), Mode::Unlock),
        _ => panic!("signed in without a passphrase"),
    }
    unlock(&mut ui, "not the passphrase");
    ui.wait_for_text("wrong passphrase", 30);
    assert!(!ui.signed_in());
    ui.replace_in("unlock-passphrase", PASSPHRASE);
    ui.click("Unlock");
    wait_connected(&mut ui);
}

#[test]
fn bad_input_gets_a_clear_message_in_the_window() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let invite = node.owner_invite.clone().expect("owner invite");
    let mut ui = Ui::new(options(tmp.path()));

    join(
        &mut ui,
        "https://example.com/join/me",
        "ann",
        PASSPHRASE,
        PASSPHRASE,
    );
    ui.wait_for_text(
        "That is not an OnionChat invite: must start with onionchat://.",
        5,
    );

    // The right invite, but a mismatched passphrase.
    ui.replace_in("invite", &invite);
    ui.replace_in("new-passphrase-again", "x");
    ui.click("Join");
    ui.wait_for_text("The two passphrases differ.", 5);

    // A box that is down: a clear error, and no half-made profile left.
    drop(node);
    ui.replace_in("new-passphrase-again", PASSPHRASE);
    ui.click("Join");
    ui.wait_for_text("cannot reach the node", 60);
    assert!(!ui.signed_in());
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("profiles"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "a failed join left {left:?}");

    // A picture without a QR code.
    let picture = tmp.path().join("cat.png");
    std::fs::write(&picture, b"\x89PNG not really").expect("write");
    ui.type_into("picture", picture.to_str().expect("utf-8"));
    ui.click("Read QR code");
    ui.wait_for_text("Cannot open the picture", 5);
}

/// ann (owner) and bob, accounts made through the core, each opened in
/// their own window.
fn two_accounts(tmp: &std::path::Path, node: &Node) -> (Ui, Ui) {
    let ann_ui = Ui::new(options(&tmp.join("ann")));
    let bob_ui = Ui::new(options(&tmp.join("bob")));
    ann_ui.block_on(async {
        let ann = onionchat_tests::join_owner(node, &tmp.join("ann/profiles/ann")).await;
        let inv = ann.create_invite(None, None).await.expect("invite");
        onionchat_tests::join(
            node,
            &tmp.join("bob/profiles/bob"),
            "bob",
            &ann.invite_link(&inv.code).to_string(),
        )
        .await;
    });
    let mut ann_ui = Ui::new(options(&tmp.join("ann")));
    let mut bob_ui = {
        drop(bob_ui);
        Ui::new(options(&tmp.join("bob")))
    };
    unlock(&mut ann_ui, PASSPHRASE);
    unlock(&mut bob_ui, PASSPHRASE);
    wait_connected(&mut ann_ui);
    wait_connected(&mut bob_ui);
    (ann_ui, bob_ui)
}

#[test]
fn two_people_become_friends_and_chat_both_ways() {
    assert_eq!(PASS, PASSPHRASE.as_bytes());
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (mut ann, mut bob) = two_accounts(tmp.path(), &node);

    ann.click("Add a friend");
    ann.type_into("friend-name", "bob");
    ann.enter_in("friend-name");
    ann.wait_for_text("Friend request sent to bob.", 20);
    ann.wait_for_text("Waiting for bob to accept", 20);

    bob.wait_for_text("ann wants to be friends", 20);
    bob.click("Accept");
    bob.wait_until("the chat with ann open", 20, |ui| {
        ui.home().current_room().is_some()
    });
    bob.wait_for_text("No messages yet. Say hello!", 20);
    bob.type_into("composer", "hi ann");
    bob.enter_in("composer");
    bob.wait_until("bob's message shown", 20, |ui| ui.sees("hi ann"));

    // ann sees bob as a friend with one unread message, opens the chat.
    ann.wait_for_text("bob (1)", 30);
    ann.click_containing("bob (1)");
    ann.wait_for_text("hi ann", 20);
    ann.type_into("composer", "hello bob 👋");
    ann.enter_in("composer");
    bob.wait_for_text("hello bob 👋", 20);
    // bob had the chat open: ann's message is read, and ann sees that.
    ann.wait_for_text("· read", 20);
    assert!(ann.screenshot("chat"));
    assert!(bob.screenshot("chat-bob"));
}

#[test]
fn the_owner_makes_an_invite_that_works() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let invite = node.owner_invite.clone().expect("owner invite");
    let mut ui = Ui::new(options(tmp.path()));
    join(&mut ui, &invite, "ann", PASSPHRASE, PASSPHRASE);
    wait_connected(&mut ui);

    ui.click("Your box");
    ui.wait_for_text("1 members, 1 online", 20);
    ui.click("Make an invite");
    ui.wait_for_text("New invite — give it to one person. It works once.", 20);
    let link = ui
        .texts()
        .into_iter()
        .find(|t| t.starts_with("onionchat://"))
        .expect("the invite link is shown");
    assert!(ui.screenshot("owner"));

    // Someone else redeems it.
    let link = InviteLink::parse(&link).expect("a valid link");
    let carol = ui.block_on(async {
        Client::join(
            &tmp.path().join("carol"),
            PASS,
            &link,
            "carol",
            node.connector(),
            |_| {},
        )
        .await
        .expect("carol joins with the invite")
    });
    assert_eq!(carol.username(), "carol");
    ui.click("Refresh");
    ui.wait_for_text("2 members", 20);
    let _ = Arc::new(carol);
}
