//! The appliance image boots and works, under emulation (`images/boot-test`).
//!
//! The image's root file system boots in `qemu-system-aarch64 -M virt` with
//! an emulated screen (virtio-gpu → the guest's `/dev/fb0`, the node's
//! `fb:` display). The test waits for systemd to report the node ready,
//! takes a picture of the emulated screen through QEMU's monitor (QMP
//! `screendump`), decodes the owner invite from the QR code on it, and has
//! clients on the host redeem it and exchange messages with the node in the
//! guest through a forwarded TCP port. (The guest cannot reach our private
//! Tor network — its relays live on the host's loopback — so the kernel
//! command line switches the node to TCP; Tor itself is tested on the host.)
//!
//! Needs `ONIONCHAT_BOOT_IMAGE` (made by `images/build-image`, with its
//! `.vmlinuz` and `.initrd` beside it); a plain `cargo test` lists it as
//! ignored.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use onionchat_client::{Client, TcpConnector};
use onionchat_proto::wire::InviteLink;
use onionchat_tests::guest::Guest;
use onionchat_tests::{PASS, texts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the appliance image; run images/boot-test"]
async fn the_image_boots_shows_its_owner_invite_and_chats() {
    let image = PathBuf::from(
        std::env::var("ONIONCHAT_BOOT_IMAGE").expect("set ONIONCHAT_BOOT_IMAGE (images/boot-test)"),
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let t0 = Instant::now();
    let guest = Guest::boot(&image, tmp.path());
    let ready = guest.wait_node_ready(900).await;
    eprintln!("boot → node ready: {:.1} s", ready.as_secs_f64());
    // The first boot grew the root file system to the (8 GiB) card.
    guest
        .wait_console(&["Finished", "onionchat-firstbo"], 60)
        .await;

    // The owner invite, read off the emulated screen.
    let shot = tmp.path().join("screen.png");
    let invite = guest.owner_invite_from_screen(&shot, 120).await;
    if let Ok(keep) = std::env::var("ONIONCHAT_BOOT_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("keep the screenshot");
    }
    eprintln!(
        "owner invite decoded from the screen after {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // Clients on the host, through the forwarded port.
    let addr = guest.address();
    let connector = || Arc::new(TcpConnector::new(addr.clone()));
    let here = InviteLink {
        address: addr.clone(),
        ..invite
    };
    let ann = Arc::new(
        Client::join(
            &tmp.path().join("ann"),
            PASS,
            &here,
            "ann",
            connector(),
            |_| {},
        )
        .await
        .expect("redeem the owner invite from the screen"),
    );
    let inv = ann.create_invite(None, None).await.expect("invite");
    let bob_link = InviteLink {
        address: addr.clone(),
        ..ann.invite_link(&inv.code)
    };
    let bob = Arc::new(
        Client::join(
            &tmp.path().join("bob"),
            PASS,
            &bob_link,
            "bob",
            connector(),
            |_| {},
        )
        .await
        .expect("bob joins"),
    );
    let req = ann.send_friend_request("bob").await.expect("request");
    let room = bob.accept_friend_request(&req).await.expect("accept").id;
    ann.send_text(room, "hello, box on the shelf")
        .await
        .expect("send");
    bob.send_text(room, "hello back").await.expect("send");
    assert_eq!(
        texts(&ann.history_all(room, 0).await.expect("history")),
        ["hello, box on the shelf", "hello back"]
    );
    eprintln!(
        "boot → first message exchanged: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let status = ann.node_status().await.expect("status");
    assert_eq!(status.users, 2);
    if let Some(rss) = status.memory_bytes {
        eprintln!("node RSS in the guest: {:.1} MiB", rss as f64 / 1048576.0);
    }
}
