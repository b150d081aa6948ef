//! The node drives its status display; a broken display never stops it.

use std::time::{Duration, Instant};

use onionchat_tests::{Node, join_owner};

fn png_size(path: &std::path::Path) -> Option<(u32, u32)> {
    let b = std::fs::read(path).ok()?;
    if b.len() < 24 || &b[1..4] != b"PNG" {
        return None;
    }
    Some((
        u32::from_be_bytes(b[16..20].try_into().ok()?),
        u32::from_be_bytes(b[20..24].try_into().ok()?),
    ))
}

/// Wait until the node has drawn its first picture into `screen`.
async fn wait_for_png(screen: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while png_size(screen).is_none() {
        assert!(
            Instant::now() < deadline,
            "the display never showed anything"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The node's last reported error, as the owner sees it in `status`.
async fn last_error(node: &Node, dir: &std::path::Path) -> Option<String> {
    let owner = join_owner(node, dir).await;
    owner.node_status().await.expect("status").last_error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_renders_its_status_to_the_display() {
    let tmp = tempfile::tempdir().expect("tmp");
    let screen = tmp.path().join("screen.png");
    let node = Node::start(
        &tmp.path().join("node"),
        &["--display", &format!("png:{}", screen.display())],
    );
    wait_for_png(&screen).await;
    assert_eq!(png_size(&screen), Some((128, 64)));
    // The screen changes as the node does (pages cycle, users appear).
    let first = std::fs::read(&screen).expect("read");
    let _ann = join_owner(&node, &tmp.path().join("ann")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read(&screen).expect("read") == first {
        assert!(Instant::now() < deadline, "the display never refreshed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // `invite create --show` works through the control socket.
    let out = onionchat_tests::node_cmd_ok(&node.data_dir, &["invite", "create", "--show"]);
    assert!(out.contains("Shown on the box's screen"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_display_never_stops_the_node() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(
        &tmp.path().join("node"),
        &["--display", "ssd1306:/dev/i2c-does-not-exist"],
    );
    let err = last_error(&node, &tmp.path().join("ann")).await;
    assert!(
        err.as_deref().is_some_and(|e| e.contains("display")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colour_display_gets_the_colour_layout_and_bad_buttons_are_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let screen = tmp.path().join("tft.png");
    let node = Node::start(
        &tmp.path().join("node"),
        &[
            "--display",
            &format!("png:{}@320x240", screen.display()),
            "--buttons",
            "/dev/gpiochip-does-not-exist:17",
        ],
    );
    wait_for_png(&screen).await;
    assert_eq!(png_size(&screen), Some((320, 240)));
    // Missing buttons are reported and change nothing else.
    let err = last_error(&node, &tmp.path().join("ann")).await;
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("buttons") && e.contains("gpiochip-does-not-exist")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_shows_the_owner_invite_until_someone_owns_the_box() {
    let tmp = tempfile::tempdir().expect("tmp");
    let screen = tmp.path().join("tft.png");
    let node = Node::start(
        &tmp.path().join("node"),
        &["--display", &format!("png:{}@320x240", screen.display())],
    );
    wait_for_png(&screen).await;
    let invite = node.owner_invite.clone().expect("owner invite");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if onionchat_tests::qr_in_png(&screen).as_deref() == Some(&invite.to_ascii_uppercase()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the owner invite never showed as a QR code"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Redeemed: it leaves the screen.
    let _ann = join_owner(&node, &tmp.path().join("ann")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while onionchat_tests::qr_in_png(&screen).as_deref() == Some(&invite.to_ascii_uppercase()) {
        assert!(
            Instant::now() < deadline,
            "the used owner invite stays on the screen"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
