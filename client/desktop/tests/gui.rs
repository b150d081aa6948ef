//! The desktop app, headless, against the real node binary on loopback:
//! every click and keystroke goes through the app's own `view`/`update`
//! and ends in real client-core calls.

mod common;

use std::sync::Arc;

use common::{PASSPHRASE, Ui, options, owner_with_friends, unlock, wait_connected};
use onionchat_client::Client;
use onionchat_desktop::screen::start::Mode;
use onionchat_proto::wire::InviteLink;
use onionchat_tests::{Node, PASS};

/// Fill in the join form and press Join.
fn join(ui: &mut Ui, invite: &str, name: &str, pass: &str, again: &str) {
    ui.type_into("invite", invite);
    ui.type_into("username", name);
    ui.type_into("new-passphrase", pass);
    ui.type_into("new-passphrase-again", again);
    ui.click("Join");
}

/// A box, and ann's window on it: she joined with the owner invite and is
/// connected.
fn owner_window(dir: &std::path::Path) -> (Node, Ui) {
    let node = Node::start(&dir.join("node"), &[]);
    let invite = node.owner_invite.clone().expect("owner invite");
    let mut ui = Ui::new(options(dir));
    join(&mut ui, &invite, "ann", PASSPHRASE, PASSPHRASE);
    wait_connected(&mut ui);
    (node, ui)
}

/// A photo of the box's screen: `text` as a QR code, 6 pixels a module, on
/// a grey background.
fn qr_picture(text: &str, path: &std::path::Path) {
    let code = qrcode::QrCode::new(text.as_bytes()).expect("qr");
    let width = code.width() as u32;
    let colors = code.to_colors();
    let (scale, margin) = (6u32, 40u32);
    let side = width * scale + 2 * margin;
    let img = image::RgbImage::from_fn(side + 80, side, |x, y| {
        let inside =
            x >= margin && y >= margin && x < margin + width * scale && y < margin + width * scale;
        if !inside {
            return image::Rgb([235, 235, 235]);
        }
        let (mx, my) = ((x - margin) / scale, (y - margin) / scale);
        if colors[(my * width + mx) as usize] == qrcode::Color::Dark {
            image::Rgb([20, 20, 30])
        } else {
            image::Rgb([250, 250, 250])
        }
    });
    img.save(path).expect("save picture");
}

#[test]
fn onboarding_from_a_picture_of_the_qr_code_then_unlocking_on_the_next_start() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let invite = node.owner_invite.clone().expect("owner invite");

    let mut ui = Ui::new(options(tmp.path()));
    // No profile yet: the window opens on the join form.
    match ui.app.screen() {
        onionchat_desktop::app::Screen::Start(s) => assert_eq!(s.mode(), Mode::Join),
        _ => panic!("signed in without a profile"),
    }
    ui.screenshot("join");
    // The invite comes from a photo of the box's screen.
    let photo = tmp.path().join("box-screen.jpg");
    qr_picture(&invite, &photo);
    // A picture without a code, dropped on the window: said plainly.
    let blank = tmp.path().join("blank.png");
    image::RgbImage::from_pixel(64, 64, image::Rgb([255, 255, 255]))
        .save(&blank)
        .expect("blank picture");
    ui.send(onionchat_desktop::Message::Dropped(blank));
    ui.wait_for_text("No QR code found in that picture", 5);
    // The photo of the box's screen, dropped on the window.
    ui.send(onionchat_desktop::Message::Dropped(photo.clone()));
    ui.wait_until("the invite read from the picture", 10, |ui| {
        ui.sees(&invite)
    });
    ui.type_into("username", "ann");
    ui.type_into("new-passphrase", PASSPHRASE);
    ui.type_into("new-passphrase-again", PASSPHRASE);
    ui.click("Join");
    wait_connected(&mut ui);
    assert!(ui.sees("ann"), "{:?}", ui.texts());
    // The owner invite made ann the owner: the box's own view is there.
    assert!(ui.sees("Your box"));
    assert_eq!(ui.home().client().username(), "ann");
    drop(ui);

    // Next start: the profile is there and must be unlocked.
    let mut ui = Ui::new(options(tmp.path()));
    match ui.app.screen() {
        onionchat_desktop::app::Screen::Start(s) => {
            assert_eq!(s.mode(), Mode::Unlock);
            // The list says whose profile it is, on which box.
            assert_eq!(
                s.selected_label(),
                Some(format!("ann @ {}", node.addr).as_str())
            );
        }
        _ => panic!("signed in without a passphrase"),
    }
    unlock(&mut ui, "not the passphrase");
    ui.wait_for_text("passphrase does not open this profile", 30);
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
    ui.wait_for_text("Cannot reach the box", 60);
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
    ui.wait_for_text(
        "Cannot open the picture: cat.png is not a PNG or JPEG picture, or it is damaged",
        5,
    );
}

/// A name the box refuses: the join fails in words, nothing is left, and
/// the same invite works with another name.
#[test]
fn a_refused_name_can_be_changed_and_the_join_retried() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let invite = node.owner_invite.clone().expect("owner invite");
    // ann owns the box; the invite is for someone new, who picks "ann".
    let link = {
        let ui = Ui::new(options(&tmp.path().join("owner")));
        ui.block_on(async {
            let ann =
                onionchat_tests::join(&node, &tmp.path().join("owner-ann"), "ann", &invite).await;
            let inv = ann.create_invite(None, None).await.expect("invite");
            ann.invite_link(&inv.code).to_string()
        })
    };
    let mut ui = Ui::new(options(tmp.path()));
    join(&mut ui, &link, "ann", PASSPHRASE, PASSPHRASE);
    ui.wait_for_text("Pick another name and try again.", 60);
    assert!(!ui.signed_in());
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("profiles"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "a refused join left {left:?}");
    ui.replace_in("username", "annie");
    ui.click("Join");
    wait_connected(&mut ui);
    assert_eq!(ui.home().client().username(), "annie");
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
    // A 1:1 chat says so, instead of listing "ann, bob" (once the room's
    // members are in, which may be a frame after its history).
    bob.wait_for_text("1:1 chat with ann — end-to-end encrypted", 20);
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
    // Both are online, and each sees the other so (bob came online after
    // ann, ann after bob: the node tells a new connection who is online).
    ann.wait_for_text("● bob", 20);
    bob.wait_for_text("● ann", 20);
    ann.screenshot("chat");
    bob.screenshot("chat-bob");
}

/// An error stays until it is dismissed (the refresh that follows every
/// action used to wipe it within a frame), in words, and the name that was
/// refused stays in the field to be corrected.
#[test]
fn an_error_stays_until_dismissed_with_the_name_to_correct() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_node, mut ui) = owner_window(tmp.path());

    ui.click("Add a friend");
    ui.type_into("friend-name", "nobody");
    ui.enter_in("friend-name");
    let said = "No user named 'nobody'. Check the spelling and try again.";
    ui.wait_for_text(said, 20);
    // Refreshes come and go; the error and the name stay.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < until {
        ui.pump();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(ui.home().loaded());
    assert!(ui.sees(said), "{:?}", ui.texts());
    assert!(!ui.sees_containing("NotFound"));
    assert_eq!(ui.home().friend_name(), "nobody");
    ui.screenshot("error-stays");
    ui.click("✕");
    assert!(!ui.sees(said));
}

/// Joining over Tor where Tor cannot connect: the window says what Tor is
/// doing in one line, offers Cancel, and after it nothing is left behind
/// and the screen works again.
#[test]
fn a_join_stuck_on_tor_can_be_cancelled() {
    let tmp = tempfile::tempdir().expect("tmp");
    let net = onionchat_tests::dead_network(tmp.path());
    let node = Node::start_onion(&tmp.path().join("node"), &net, &[]);
    let invite = node.owner_invite.clone().expect("owner invite");
    let mut opts = options(tmp.path());
    opts.places.tor_network = Some(net);
    let mut ui = Ui::new(opts);
    join(&mut ui, &invite, "ann", PASSPHRASE, PASSPHRASE);
    ui.wait_until("Tor connecting", 60, |ui| {
        ui.texts().iter().any(|t| t.starts_with("Tor: "))
    });
    let shown = ui.texts();
    ui.screenshot("tor-stuck");
    assert!(
        !shown.iter().any(|t| t.contains("Connecting to Tor: ")),
        "{shown:?}"
    );
    ui.click("Cancel");
    ui.wait_for_text("Joining was cancelled", 10);
    // Nothing is left in the profiles folder, and the tabs work again.
    ui.wait_until("the half-made profile removed", 20, |_| {
        std::fs::read_dir(tmp.path().join("profiles"))
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    });
    ui.click("Import a profile");
    match ui.app.screen() {
        onionchat_desktop::app::Screen::Start(s) => assert_eq!(s.mode(), Mode::Import),
        _ => panic!("not on the start screen"),
    }
}

/// Joining from a network that blocks Tor (every public relay's address
/// dead): the stuck join offers "Tor is blocked here?"; a line that is not
/// a bridge is explained in words; pasting the obfs4 bridge's line lets
/// the same join go on through it — no restart — and the bridges are kept
/// for the next start and shown on the settings page.
#[test]
fn a_join_stuck_on_a_blocked_network_goes_on_through_a_pasted_bridge() {
    use onionchat_desktop::screen::bridges;
    use onionchat_desktop::screen::start;
    let tmp = tempfile::tempdir().expect("tmp");
    let mut net = onionchat_tests::tor_net::TorNet::start(&tmp.path().join("tor-net"));
    let bridge = net.obfs4_bridge("bridge");
    let blocked = net.blocked_arti_config();
    onionchat_tests::tor_net::avoid_rollover(std::time::Duration::from_secs(90));
    let node = Node::start_onion(&tmp.path().join("node"), &net.arti_config, &[]);
    let invite = node.owner_invite.clone().expect("owner invite");
    let mut opts = options(tmp.path());
    opts.places.tor_network = Some(blocked);
    let mut ui = Ui::new(opts.clone());
    join(&mut ui, &invite, "ann", PASSPHRASE, PASSPHRASE);
    ui.wait_until("Tor connecting", 90, |ui| {
        ui.texts().iter().any(|t| t.starts_with("Tor: "))
    });
    ui.click("Tor is blocked here?");
    ui.wait_for_text("bridges.torproject.org", 5);
    let paste = |ui: &mut Ui, text: &str| {
        ui.send(onionchat_desktop::Message::Start(start::Message::Bridges(
            bridges::Message::Edit(iced::widget::text_editor::Action::Edit(
                iced::widget::text_editor::Edit::Paste(Arc::new(text.to_string())),
            )),
        )));
    };
    paste(&mut ui, "obfs4 not-an-address cert=x");
    ui.click("Use these bridges");
    ui.wait_for_text("is not a bridge line", 5);
    assert!(!tmp.path().join("profiles/bridges.txt").exists());
    ui.screenshot("tor-blocked");
    // "Connect directly" forgets the bridges and brings the form back; the
    // join is still stuck, and offers the panel again.
    ui.click("Connect directly");
    ui.wait_until("the panel closed", 10, |ui| !ui.sees("Use these bridges"));
    ui.click("Tor is blocked here?");
    ui.wait_for_text("bridges.torproject.org", 5);
    // What is tested is the window's way through the bridge, not how soon
    // a box that started a moment ago is published: wait until the box
    // answers over the unblocked network first.
    ui.block_on(onionchat_tests::tor_net::wait_reachable(
        &net.arti_config,
        &tmp.path().join("probe.tor"),
        &invite,
        300,
    ));
    paste(&mut ui, &format!("# from a friend\n{}\n", bridge.obfs4));
    ui.click("Use these bridges");
    // A client that came in through a bridge may still be fetching the
    // service's descriptor from a directory that has not got it (on a busy
    // machine, three private networks at once): "Cannot reach the box" —
    // and, as a person would, wait a little and Join again (now through the
    // bridges from the start), for up to ten minutes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        ui.wait_until("connected, or told the box cannot be reached", 300, |ui| {
            (ui.signed_in() && ui.sees("● Connected")) || ui.sees_containing("Cannot reach the box")
        });
        if ui.signed_in() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the window never reached the box through the bridge; the box's log ends: {:#?}",
            node.log_tail(12)
        );
        std::thread::sleep(std::time::Duration::from_secs(10));
        ui.click("Join");
    }
    wait_connected_within(&mut ui, 300);
    let kept = std::fs::read_to_string(tmp.path().join("profiles/bridges.txt")).expect("kept");
    assert!(kept.contains(&bridge.obfs4), "{kept}");
    // The next start connects through them from the first moment, and the
    // settings page says so.
    ui.restart(opts);
    unlock(&mut ui, PASSPHRASE);
    wait_connected_within(&mut ui, 300);
    ui.click("Settings");
    ui.wait_for_text("Tor is reached through 1 bridge.", 5);
}

fn wait_connected_within(ui: &mut Ui, secs: u64) {
    ui.wait_until("signed in and connected", secs, |ui| {
        ui.signed_in() && ui.sees("● Connected") && ui.home().loaded()
    });
}

/// The settings page: the keys are listed, and notifications and the
/// theme are kept for the next start.
#[test]
fn settings_list_the_keys_and_are_kept() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_node, mut ui) = owner_window(tmp.path());
    ui.click("Settings");
    ui.wait_for_text("Keyboard", 5);
    assert!(ui.sees("Ctrl+K") && ui.sees("jump to a chat by name"));
    assert_eq!(ui.app.theme(), iced::Theme::Light);
    ui.click("Dark theme");
    ui.click("Show new messages while the window is in the background");
    assert_eq!(ui.app.theme(), iced::Theme::Dark);
    let kept = onionchat_desktop::settings::Settings::load(&tmp.path().join("profiles"));
    assert!(kept.dark && !kept.notifications, "{kept:?}");
    // The next start draws dark from the first frame.
    drop(ui);
    let ui = Ui::new(options(tmp.path()));
    assert_eq!(ui.app.theme(), iced::Theme::Dark);
}

#[test]
fn the_owner_makes_an_invite_that_works() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (node, mut ui) = owner_window(tmp.path());

    ui.click("Your box");
    ui.wait_for_text("1 member, 1 online", 20);
    // In words: how long it runs, when invites stop working.
    assert!(ui.sees_containing("running for "), "{:?}", ui.texts());
    assert!(!ui.sees_containing(" h\n") && !ui.sees_containing("up 0 h"));
    ui.click("Make an invite");
    ui.wait_for_text("New invite — give it to one person. It works once.", 20);
    ui.click("Copy the link");
    ui.wait_for_text("The invite link copied.", 10);
    ui.wait_until("the invite listed with its expiry", 20, |ui| {
        ui.sees_containing("— works until ") && ui.sees_containing("(in 7 days)")
    });
    let link = ui
        .texts()
        .into_iter()
        .find(|t| t.starts_with("onionchat://"))
        .expect("the invite link is shown");
    ui.screenshot("owner");

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
    ui.wait_for_text("used by carol", 20);
    assert!(
        ui.sees("ann (owner)") && ui.sees("carol"),
        "{:?}",
        ui.texts()
    );

    // Another invite, revoked before anyone uses it: it no longer works.
    ui.click("Make an invite");
    ui.wait_until("a second invite", 20, |ui| {
        ui.texts()
            .iter()
            .any(|t| t.starts_with("onionchat://") && *t != link.to_string())
    });
    let second = ui
        .texts()
        .into_iter()
        .find(|t| t.starts_with("onionchat://") && *t != link.to_string())
        .expect("the second link");
    // Listed (the list reloads after the invite is made), then revoked.
    ui.wait_until("the new invite listed", 20, |ui| ui.sees("Revoke"));
    ui.click("Revoke");
    ui.wait_for_text("Invite revoked.", 20);
    ui.wait_for_text("— revoked", 20);
    let second = InviteLink::parse(&second).expect("link");
    let refused = ui.block_on(async {
        Client::join(
            &tmp.path().join("dave"),
            PASS,
            &second,
            "dave",
            node.connector(),
            |_| {},
        )
        .await
    });
    assert!(refused.is_err(), "a revoked invite still worked");

    // Removing carol from the box asks first, then she cannot log in.
    ui.click("Remove from the box");
    ui.wait_for_text("Remove carol from the box?", 10);
    ui.click("Keep");
    ui.wait_until("nothing removed", 10, |ui| {
        !ui.sees_containing("Remove carol from the box?")
    });
    ui.click("Remove from the box");
    ui.click("Remove carol");
    ui.wait_for_text("carol was removed from the box.", 20);
    ui.wait_until("carol gone from the members", 20, |ui| !ui.sees("carol"));
    let carol = Arc::new(carol);
    let err = ui.block_on(async {
        carol.logout().await.ok();
        carol.rooms().await.expect_err("a removed member logs in")
    });
    assert_eq!(
        err.code(),
        Some(onionchat_proto::wire::ErrorCode::Forbidden)
    );
}

#[test]
fn a_group_with_a_removed_member() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (mut ann, friends) = owner_with_friends(tmp.path(), &node, &["bob", "carol"]);
    let (bob, carol) = (friends[0].clone(), friends[1].clone());

    ann.click("New group");
    ann.type_into("group-names", "bob, carol");
    ann.click("Create group");
    ann.wait_for_text("Group: bob, carol", 30);
    let group = ann.home().current_room().expect("the new group is open");
    ann.type_into("composer", "hello group");
    ann.enter_in("composer");
    ann.wait_until("the message shown", 20, |ui| ui.sees("hello group"));
    let got = ann.block_on(async { carol.history_all(group, 0).await.expect("carol reads") });
    assert_eq!(onionchat_tests::texts(&got), vec!["hello group"]);

    ann.click("Members");
    ann.type_into("member-names", "carol");
    ann.click("Remove");
    // The members list and the room's title follow the signed roster.
    ann.wait_for_text("Group: bob", 30);
    ann.wait_until("carol gone from the title", 30, |ui| {
        !ui.sees("Group: bob, carol")
    });
    // The removal done, the chat is back.
    ann.wait_until("the chat open again", 30, |ui| {
        ui.interact(|s| s.find(iced::widget::Id::new("composer")).is_ok())
    });
    ann.type_into("composer", "after carol left");
    ann.enter_in("composer");
    ann.wait_until("the message shown", 20, |ui| ui.sees("after carol left"));

    ann.block_on(async {
        assert_eq!(
            onionchat_tests::texts(&bob.history_all(group, 0).await.expect("bob reads")),
            vec!["hello group", "after carol left"]
        );
        let err = carol
            .history_all(group, 0)
            .await
            .expect_err("carol was removed");
        assert_eq!(
            err.code(),
            Some(onionchat_proto::wire::ErrorCode::Forbidden)
        );
    });
}

#[test]
fn files_go_with_progress_can_be_cancelled_and_are_saved_whole() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (mut ann, friends) = owner_with_friends(tmp.path(), &node, &["bob"]);
    let bob = friends[0].clone();

    ann.wait_for_text("○ bob", 20);
    ann.click_containing("bob");
    ann.wait_for_text("No messages yet. Say hello!", 20);
    let room = ann.home().current_room().expect("chat open");

    // A big file, cancelled as soon as it is under way: nothing arrives.
    let big = tmp.path().join("holiday.mov");
    onionchat_tests::make_file(&big, 64 * 1024 * 1024, 1);
    ann.type_into("file-path", big.to_str().expect("utf-8"));
    ann.click("Send file");
    ann.wait_until("the upload under way", 30, |ui| {
        ui.progress.iter().any(|(done, _)| *done > 0)
    });
    ann.click("Cancel");
    ann.wait_for_text("Transfer cancelled.", 60);
    ann.click("✕");

    // A smaller one goes through, with progress up to the whole size.
    ann.progress.clear();
    let report = tmp.path().join("report.pdf");
    onionchat_tests::make_file(&report, 3 * 1024 * 1024 + 17, 2);
    ann.type_into("file-path", report.to_str().expect("utf-8"));
    ann.click("Send file");
    ann.wait_for_text("Sent report.pdf.", 60);
    let size = 3 * 1024 * 1024 + 17;
    assert_eq!(
        ann.progress.last(),
        Some(&(size, size)),
        "{:?}",
        ann.progress
    );
    assert!(
        ann.progress.len() > 1,
        "one progress report: {:?}",
        ann.progress
    );
    ann.wait_for_text("📎 report.pdf (3.1 MB)", 20);

    // bob saw exactly one file message: the cancelled upload left nothing.
    let files = ann.block_on(async {
        let items = bob.history_all(room, 0).await.expect("bob reads");
        items
            .into_iter()
            .filter_map(|i| match i {
                onionchat_client::Incoming::Message(m) => match m.content {
                    onionchat_proto::wire::MessageContent::File { name, .. } => Some(name),
                    _ => None,
                },
                _ => None,
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(files, vec!["report.pdf".to_string()]);

    // Saving it (here ann saves her own upload) writes the whole file.
    ann.click("Save");
    ann.wait_for_text("Saved to", 60);
    let saved = tmp.path().join("ann/downloads/report.pdf");
    assert_eq!(
        onionchat_tests::sha256_file(&saved),
        onionchat_tests::sha256_file(&report)
    );
    // Dropped on the window, a file goes to the open chat.
    let dropped = tmp.path().join("dropped.png");
    onionchat_tests::make_file(&dropped, 20_000, 3);
    ann.send(onionchat_desktop::Message::Dropped(dropped.clone()));
    ann.wait_for_text("Sent dropped.png.", 60);
    ann.wait_for_text("📎 dropped.png (20.0 KB)", 20);
    // A photo kind the app does not clean goes as it is, and the window
    // says so instead of a plain "Sent".
    let webp = tmp.path().join("holiday.webp");
    let mut bytes = b"RIFF\x10\x27\0\0WEBPVP8 ".to_vec();
    bytes.extend_from_slice(&[9; 10_000]);
    std::fs::write(&webp, bytes).expect("write");
    ann.send(onionchat_desktop::Message::Dropped(webp));
    ann.wait_for_text("holiday.webp went as it is", 60);
    assert!(ann.sees_containing("this is a WebP picture"));
    assert!(!ann.sees("Sent holiday.webp."));
}

#[test]
fn a_changed_key_blocks_sending_until_the_user_looks_at_it() {
    use onionchat_tests::proxy::{HostileNode, swap_key};

    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    // ann reaches her box through someone who can swap keys (her profile's
    // address is the proxy's); bob talks to the box directly.
    let setup = Ui::new(options(&tmp.path().join("ann")));
    let (proxy, bob, mallory) = setup.block_on(async {
        let proxy = HostileNode::start(node.addr.clone()).await;
        let owner = InviteLink::parse(node.owner_invite.as_deref().expect("invite")).expect("link");
        let via_proxy = InviteLink {
            address: proxy.addr.clone(),
            ..owner
        };
        let ann = Client::join(
            &tmp.path().join("ann/profiles/ann"),
            PASS,
            &via_proxy,
            "ann",
            proxy.connector(),
            |_| {},
        )
        .await
        .expect("ann joins");
        let inv = ann.create_invite(None, None).await.expect("invite");
        let bob = onionchat_tests::join(
            &node,
            &tmp.path().join("bob"),
            "bob",
            &InviteLink {
                address: node.addr.clone(),
                ..ann.invite_link(&inv.code)
            }
            .to_string(),
        )
        .await;
        let req = ann.send_friend_request("bob").await.expect("request");
        bob.accept_friend_request(&req).await.expect("accept");
        let mallory = onionchat_proto::crypto::IdentityKey::generate().expect("keygen");
        (proxy, bob, mallory)
    });
    let mut ann = setup;
    ann.restart(options(&tmp.path().join("ann")));
    unlock(&mut ann, PASSPHRASE);
    wait_connected(&mut ann);
    ann.wait_for_text("○ bob", 20);
    ann.click_containing("bob");
    ann.wait_for_text("No messages yet. Say hello!", 20);
    let room = ann.home().current_room().expect("chat open");
    ann.type_into("composer", "before");
    ann.enter_in("composer");
    ann.wait_until("sent", 20, |ui| ui.sees("before"));

    // The box starts handing out another key for bob.
    proxy.attack(swap_key("bob", mallory.public().spki_der().to_vec()));
    ann.click("Verify");
    ann.wait_for_text("bob's key changed.", 20);
    ann.click("Close");
    ann.click_containing("bob");
    ann.wait_for_text("⚠ bob's key changed. Sending is paused", 20);
    // There is no composer to send with.
    assert!(ann.interact(|s| s.find(iced::widget::Id::new("composer")).is_err()));
    ann.screenshot("key-changed");

    // Looking at it: the panel says what happened. Accepting takes the key
    // that was shown and compared — by the time the button is pressed the
    // box serves another one (bob's real key), so nothing changes.
    ann.click("⚠ Verify");
    ann.wait_for_text("I checked it with them: accept the new key", 20);
    proxy.honest();
    ann.click("I checked it with them: accept the new key");
    ann.wait_for_text("not the one you compared: nothing changed", 20);
    ann.click("Close");
    // The box serves the key ann trusts again: once the window looks, the
    // warning is gone and ann can write to bob.
    ann.wait_until("the warning gone", 20, |ui| !ui.sees("⚠ Verify"));
    ann.click_containing("bob");
    ann.wait_until("the composer back", 20, |ui| {
        ui.interact(|s| s.find(iced::widget::Id::new("composer")).is_ok())
    });
    ann.type_into("composer", "after");
    ann.enter_in("composer");
    ann.wait_until("sent", 20, |ui| ui.sees("after"));
    let got = ann.block_on(async { bob.history_all(room, 0).await.expect("bob reads") });
    assert_eq!(onionchat_tests::texts(&got), vec!["before", "after"]);
}

#[test]
fn a_box_that_lies_about_who_bob_is_cannot_redirect_the_chat() {
    use onionchat_proto::wire::{Friend, FriendList, UserId};
    use onionchat_tests::proxy::{HostileNode, rewrite};

    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    // ann reaches her box through the attacker; bob and carol directly.
    let setup = Ui::new(options(&tmp.path().join("ann")));
    let (proxy, bob, carol, ab, ac) = setup.block_on(async {
        let proxy = HostileNode::start(node.addr.clone()).await;
        let owner = InviteLink::parse(node.owner_invite.as_deref().expect("invite")).expect("link");
        let ann = Client::join(
            &tmp.path().join("ann/profiles/ann"),
            PASS,
            &InviteLink {
                address: proxy.addr.clone(),
                ..owner
            },
            "ann",
            proxy.connector(),
            |_| {},
        )
        .await
        .expect("ann joins");
        let mut people = Vec::new();
        for name in ["bob", "carol"] {
            let inv = ann.create_invite(None, None).await.expect("invite");
            let friend = onionchat_tests::join(
                &node,
                &tmp.path().join(name),
                name,
                &InviteLink {
                    address: node.addr.clone(),
                    ..ann.invite_link(&inv.code)
                }
                .to_string(),
            )
            .await;
            let req = ann.send_friend_request(name).await.expect("request");
            let room = friend.accept_friend_request(&req).await.expect("accept").id;
            people.push((friend, room));
        }
        // ann's app has looked once, honestly.
        assert_eq!(ann.friends().await.expect("friends").len(), 2);
        ann.save().expect("save");
        let (carol, ac) = people.pop().expect("carol");
        let (bob, ab) = people.pop().expect("bob");
        (proxy, bob, carol, ab, ac)
    });
    // The box swaps bob's and carol's rooms in ann's friend list and adds a
    // "bob" of its own.
    let fake_key = onionchat_proto::crypto::IdentityKey::generate().expect("keygen");
    let fake_spki = fake_key.public().spki_der().to_vec();
    let fake_fp = fake_key.fingerprint();
    proxy.attack(move |method, path, body| {
        if method != "GET" || path != "/v1/friends" {
            return body;
        }
        rewrite::<FriendList>(body, |l| {
            let mut fake = l.friends[0].user.clone();
            fake.username = "bob".into();
            fake.user_id = UserId(9_999);
            fake.public_key = fake_spki.clone();
            fake.fingerprint = fake_fp;
            for f in &mut l.friends {
                f.room_id = if f.room_id == ab { ac } else { ab };
            }
            l.friends.push(Friend {
                user: fake,
                room_id: ab,
            });
        })
    });
    let mut ann = setup;
    ann.restart(options(&tmp.path().join("ann")));
    unlock(&mut ann, PASSPHRASE);
    ann.wait_for_text("○ carol", 20);
    ann.wait_for_text("⚠ Refused: the box presented a different bob", 20);
    assert_eq!(
        ann.texts().iter().filter(|t| t.as_str() == "○ bob").count(),
        1,
        "one bob in the sidebar"
    );
    ann.click_containing("○ bob");
    ann.wait_for_text("not your chat with bob", 20);
    assert_eq!(
        ann.home().current_room(),
        Some(ab),
        "bob's chat is the ann–bob room"
    );
    ann.type_into("composer", "for bob only");
    ann.enter_in("composer");
    ann.wait_until("sent", 20, |ui| ui.sees("for bob only"));
    ann.screenshot("impostor-refused");
    proxy.honest();
    let (to_bob, to_carol) = ann.block_on(async {
        (
            bob.history_all(ab, 0).await.expect("bob reads"),
            carol.history_all(ac, 0).await.expect("carol reads"),
        )
    });
    assert_eq!(onionchat_tests::texts(&to_bob), vec!["for bob only"]);
    assert!(to_carol.is_empty(), "carol read what ann wrote to bob");
}

#[test]
fn scrolling_up_loads_older_history_page_by_page() {
    const N: usize = 260;
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (mut ann, friends) = owner_with_friends(tmp.path(), &node, &["bob"]);
    let bob = friends[0].clone();
    let room = ann.block_on(async {
        let room = bob.direct_room("ann").await.expect("room");
        for i in 1..=N {
            bob.send_text(room, &format!("message {i}"))
                .await
                .expect("send");
        }
        room
    });
    // ann's window receives them live, then she quits; on the next start,
    // what she saw before comes from history, a page at a time.
    ann.wait_for_text(&format!("bob ({N})"), 60);
    ann.restart(options(&tmp.path().join("ann")));
    unlock(&mut ann, PASSPHRASE);
    wait_connected(&mut ann);
    ann.click_containing("bob");
    ann.wait_for_text(&format!("message {N}"), 20);
    let loaded = |ui: &Ui| ui.home().timeline(room).map(|t| t.len()).unwrap_or(0);
    assert!(loaded(&ann) < N, "the whole history loaded at once");
    assert!(!ann.sees("message 1"));

    // Wheel up over the timeline until the first message is there.
    for _ in 0..40 {
        if ann.sees("message 1") {
            break;
        }
        let before = loaded(&ann);
        ann.interact(|s| {
            s.point_at(iced::Point::new(600.0, 300.0));
            s.simulate([iced::Event::Mouse(iced::mouse::Event::WheelScrolled {
                delta: iced::mouse::ScrollDelta::Lines {
                    x: 0.0,
                    y: 10_000.0,
                },
            })]);
        });
        ann.wait_until("an older page", 20, |ui| {
            loaded(ui) > before || ui.home().timeline(room).is_some_and(|t| !t.loading)
        });
    }
    assert_eq!(loaded(&ann), N, "every message, each once");
    assert!(ann.sees("message 1"));
    let texts = ann.texts();
    let drawn = texts.iter().filter(|t| t.starts_with("message ")).count();
    assert!(
        drawn <= onionchat_desktop::screen::chat::WINDOW,
        "{drawn} drawn"
    );
    let pos = |t: &str| texts.iter().position(|x| x == t).expect(t);
    assert!(pos("message 1") < pos("message 2") && pos("message 2") < pos("message 150"));
    // The newest are not drawn now; one click brings them back.
    assert!(!texts.contains(&format!("message {N}")));
    ann.click("↓ Newest messages");
    ann.wait_for_text(&format!("message {N}"), 10);
    assert!(!ann.sees("message 1"));
}

#[test]
fn verifying_a_friend_marks_them_with_a_badge() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (mut ann, friends) = owner_with_friends(tmp.path(), &node, &["bob"]);
    let bob = friends[0].clone();
    ann.wait_for_text("○ bob", 20);
    ann.click("Verify");
    ann.wait_for_text("Verify bob", 20);
    // The same safety number bob's side computes.
    let (_, number, _) = ann.block_on(async { bob.safety_number("ann").await.expect("number") });
    let lines = onionchat_desktop::format::safety_lines(&number);
    for line in &lines {
        assert!(ann.sees(line), "{line} not shown: {:?}", ann.texts());
    }
    ann.click("Copy the number");
    ann.wait_for_text("The safety number copied.", 10);
    ann.click("They match: mark as verified");
    ann.wait_for_text("✔ Verified", 10);
    ann.wait_for_text("bob ✔", 10);
    let me = ann.home().client().clone();
    let bob_id = ann.block_on(async { me.user("bob").await.expect("bob") });
    assert!(bob_id.verified, "the mark is kept in the profile");
}

#[test]
fn a_profile_moves_to_another_computer_and_profiles_switch() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (mut ann, friends) = owner_with_friends(tmp.path(), &node, &["bob"]);
    let export = tmp.path().join("ann.onionchat");
    ann.click("Settings");
    ann.type_into("export-path", export.to_str().expect("utf-8"));
    ann.click("Export profile");
    ann.wait_for_text("Profile exported to", 10);
    assert!(export.is_file());

    // The other computer: import, unlock with the same passphrase.
    let mut other = Ui::new(options(&tmp.path().join("laptop")));
    other.click("Import a profile");
    other.type_into("import-file", export.to_str().expect("utf-8"));
    other.type_into("import-passphrase", "wrong passphrase");
    other.click("Import");
    other.wait_for_text("passphrase does not open this profile", 30);
    other.replace_in("import-passphrase", PASSPHRASE);
    other.click("Import");
    wait_connected(&mut other);
    assert_eq!(other.home().client().username(), "ann");
    other.wait_for_text("○ bob", 20);

    // Switching profile goes back to the list, the profile preselected.
    ann.click("Switch profile");
    ann.wait_until("the profile list", 10, |ui| !ui.signed_in());
    assert!(ann.sees("Your profiles"));
    ann.type_into("unlock-passphrase", PASSPHRASE);
    ann.click("Unlock");
    wait_connected(&mut ann);

    // What ann writes on the laptop is not unread on this computer; what
    // bob writes is.
    let laptop = other.home().client().clone();
    let room = ann.block_on(async { laptop.direct_room("bob").await.expect("room") });
    ann.block_on(async {
        laptop
            .send_text(room, "from the laptop")
            .await
            .expect("send")
    });
    ann.wait_until("the laptop's message arrived", 20, |ui| {
        ui.home().timeline(room).is_some_and(|t| !t.is_empty())
    });
    assert!(!ann.sees_containing("bob (1)"), "{:?}", ann.texts());
    let bob = friends[0].clone();
    ann.block_on(async { bob.send_text(room, "hi ann").await.expect("send") });
    ann.wait_for_text("bob (1)", 20);
}

/// Type `first`, Shift+Enter, `second` and Enter into the composer, in one
/// go (a click between them would move the cursor).
fn two_lines_and_send(ui: &mut Ui, first: &str, second: &str) {
    use iced::keyboard::{self, Key, Modifiers, key::Named};
    let press = |modifiers| common::key_press(Key::Named(Named::Enter), modifiers, Some("\n"));
    ui.interact(|s| {
        s.click(iced::widget::Id::new("composer"))
            .expect("composer");
        s.typewrite(first);
        s.simulate([
            iced::Event::Keyboard(keyboard::Event::ModifiersChanged(Modifiers::SHIFT)),
            press(Modifiers::SHIFT),
            iced::Event::Keyboard(keyboard::Event::ModifiersChanged(Modifiers::empty())),
        ]);
        s.typewrite(second);
    });
    // The composer now holds both lines: Enter sends them as one message.
    ui.interact(|s| {
        s.click(iced::widget::Id::new("composer"))
            .expect("composer");
        s.simulate([press(Modifiers::empty())]);
    });
}

#[test]
fn shift_enter_makes_a_new_line_and_the_jump_box_finds_a_chat() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (mut ann, friends) = owner_with_friends(tmp.path(), &node, &["bob", "carol"]);
    let carol = friends[1].clone();
    ann.wait_for_text("○ carol", 20);

    // Ctrl+K (the app's shortcut) opens the jump box.
    ann.send(onionchat_desktop::Message::Jump);
    ann.type_into("jump", "car");
    ann.enter_in("jump");
    ann.wait_until("carol's chat open", 10, |ui| {
        ui.sees("No messages yet. Say hello!")
    });
    let room = ann.home().current_room().expect("a chat");

    two_lines_and_send(&mut ann, "line one", "line two");
    ann.wait_until("one message of two lines", 20, |ui| {
        ui.sees("line one\nline two")
    });
    let got = ann.block_on(async { carol.history_all(room, 0).await.expect("carol reads") });
    assert_eq!(onionchat_tests::texts(&got), vec!["line one\nline two"]);
}

#[test]
fn transfers_cut_by_a_lost_connection_go_on_when_the_box_is_back() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut node = Node::start(&tmp.path().join("node"), &[]);
    let (mut ann, friends) = owner_with_friends(tmp.path(), &node, &["bob"]);
    let bob = friends[0].clone();
    let src = tmp.path().join("film.mkv");
    onionchat_tests::make_file(&src, 64 * 1024 * 1024, 3);
    let room = ann.block_on(async {
        let room = bob.direct_room("ann").await.expect("room");
        bob.send_file(room, &src, Box::new(|_, _| true))
            .await
            .expect("bob uploads");
        room
    });
    ann.wait_for_text("○ bob", 20);
    ann.click_containing("bob");
    ann.wait_for_text("📎 film.mkv (67.1 MB)", 30);
    assert_eq!(ann.home().current_room(), Some(room));

    // The download is under way when the box goes away (a power cut).
    ann.click("Save");
    ann.wait_until("the download under way", 30, |ui| {
        ui.progress.iter().any(|(done, _)| *done > 0)
    });
    node.kill9();
    ann.wait_for_text("The connection to the box was lost", 60);
    node.start_again();
    // Back: the download goes on from where it stopped, and is whole.
    ann.wait_for_text("Saved to", 120);
    assert!(
        ann.sees_containing("(resumed at"),
        "it started over: {:?}",
        ann.texts()
    );
    let saved = tmp.path().join("ann/downloads/film.mkv");
    assert_eq!(
        onionchat_tests::sha256_file(&saved),
        onionchat_tests::sha256_file(&src)
    );
}
