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

/// What the console says about a framebuffer, for the report.
fn log_has_fb(log: &str) -> String {
    log.lines()
        .find(|l| l.contains("fb0") || l.contains("frame buffer"))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| "the kernel made none".into())
}

/// The card boots the way a Raspberry Pi 3 boots it: QEMU's `raspi3b`
/// machine, with the kernel, initramfs and device tree that the card's own
/// `config.txt` names and its own `cmdline.txt` (QEMU does not run the Pi's
/// GPU firmware, which would read them, so the test reads them instead).
/// The one change to the command line: QEMU's serial port is `ttyAMA0`
/// (the firmware would map `serial0` to it), listed last so that systemd
/// reports there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the appliance image; run images/boot-test --pi"]
async fn the_card_boots_through_its_own_pi_boot_files_on_qemus_raspi3b() {
    use onionchat_tests::card::{boot_partition, read_fat_file};
    use std::process::Command;

    let image = PathBuf::from(
        std::env::var("ONIONCHAT_BOOT_IMAGE").expect("set ONIONCHAT_BOOT_IMAGE (images/boot-test)"),
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let card = onionchat_tests::card::Card::copy_of(&image, tmp.path());
    // An SD card's size is a power of two; QEMU insists.
    let ok = Command::new("qemu-img")
        .args(["resize", "-q", "-f", "raw"])
        .arg(&card.image)
        .arg("2G")
        .status()
        .expect("qemu-img");
    assert!(ok.success());
    let (offset, _) = boot_partition(&card.image);
    let text = |name: &str| {
        String::from_utf8(read_fat_file(&card.image, offset, name).expect(name)).expect("utf-8")
    };
    let extract = |name: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, read_fat_file(&card.image, offset, name).expect(name))
            .expect("write");
        path
    };
    let config = text("config.txt");
    let setting = |key: &str| {
        config
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(|v| v.trim_start_matches(['=', ' ']).trim().to_string())
            .unwrap_or_else(|| panic!("no {key} in config.txt:\n{config}"))
    };
    let kernel = extract(&setting("kernel"));
    // `initramfs FILE followkernel`
    let initrd_name = setting("initramfs");
    let initrd = extract(
        initrd_name
            .split_whitespace()
            .next()
            .expect("initramfs file"),
    );
    let dtb = extract("bcm2837-rpi-3-b.dtb");
    let cmdline = text("cmdline.txt");
    let mut words: Vec<String> = cmdline
        .split_whitespace()
        .filter(|w| !w.starts_with("console="))
        .map(str::to_string)
        .collect();
    words.extend(["console=tty1".into(), "console=ttyAMA0,115200".into()]);
    let append = words.join(" ");
    eprintln!("config.txt: kernel {kernel:?}, initramfs {initrd_name:?}\ncmdline: {append}");

    let console = tmp.path().join("console.log");
    let qmp = tmp.path().join("qmp.sock");
    let t0 = Instant::now();
    let mut qemu = Command::new("qemu-system-aarch64")
        .args(["-M", "raspi3b", "-display", "none", "-monitor", "none"])
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initrd)
        .arg("-dtb")
        .arg(&dtb)
        .args(["-append", &append])
        .arg("-drive")
        .arg(format!("file={},if=sd,format=raw", card.image.display()))
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-qmp")
        .arg(format!("unix:{},server,nowait", qmp.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("qemu.log")).expect("log"))
        .spawn()
        .expect("qemu-system-aarch64");
    let read = || std::fs::read_to_string(&console).unwrap_or_default();
    let mut seen = Vec::new();
    // Each milestone: words one console line has (systemd colours unit
    // names, so they are matched apart).
    let milestones: [(&str, &[&str]); 5] = [
        ("kernel started", &["Booting Linux"]),
        ("root file system found", &["EXT4-fs (mmcblk0p2): mounted"]),
        ("systemd started", &["systemd[1]: systemd"]),
        ("first boot set-up done", &["Finished", "onionchat-firstbo"]),
        ("node ready", &["Started", "onionchat-node.ser"]),
    ];
    let deadline = Instant::now() + std::time::Duration::from_secs(1500);
    while seen.len() < milestones.len() && Instant::now() < deadline {
        let log = read();
        for (what, words) in &milestones[seen.len()..] {
            if log.lines().any(|l| words.iter().all(|w| l.contains(w))) {
                let at = t0.elapsed().as_secs_f64();
                eprintln!("raspi3b: {what} at {at:.0} s");
                seen.push((*what, at));
            } else {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    // What the screen shows: QEMU does not run the VideoCore, so there is
    // no framebuffer unless the kernel makes one; said, not asserted.
    if seen.len() == milestones.len() {
        let shot = tmp.path().join("screen.png");
        onionchat_tests::guest::screendump(&qmp, &shot);
        match onionchat_tests::qr_in_png(&shot) {
            Some(link) => eprintln!("raspi3b: the screen shows the invite ({link:.40}…)"),
            None => eprintln!(
                "raspi3b: no invite on the emulated screen (has the guest a framebuffer? {})",
                log_has_fb(&read())
            ),
        }
        if let Ok(keep) = std::env::var("ONIONCHAT_BOOT_SCREENSHOT") {
            let _ = std::fs::copy(&shot, keep);
        }
    }
    let _ = qemu.kill();
    let _ = qemu.wait();
    let log = read();
    assert_eq!(
        seen.len(),
        milestones.len(),
        "the Pi boot stopped after {seen:?}; the console ends:\n{}",
        log.lines().rev().take(40).collect::<Vec<_>>().join("\n")
    );
}
