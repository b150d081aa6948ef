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

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use onionchat_client::{Client, TcpConnector};
use onionchat_proto::wire::InviteLink;
use onionchat_tests::{PASS, qr_in_png, texts};

/// The emulated box; killed when dropped.
struct Guest {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

fn boot(image: &Path, dir: &Path) -> Guest {
    let kernel = image.with_extension("vmlinuz");
    let initrd = image.with_extension("initrd");
    for f in [image, &kernel, &initrd] {
        assert!(
            f.exists(),
            "{} is missing: run images/build-image",
            f.display()
        );
    }
    // A copy-on-write overlay (the image itself stays as built), as big as
    // a small SD card: the first boot grows the root file system into it.
    let overlay = dir.join("disk.qcow2");
    let ok = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(image)
        .arg(&overlay)
        .arg("8G")
        .status()
        .expect("qemu-img");
    assert!(ok.success(), "qemu-img create failed");
    let port = free_port();
    let append = [
        "root=LABEL=ONIONROOT",
        "rw",
        "console=ttyAMA0",
        "video=Virtual-1:320x240M@60",
        // The text console sets the mode (the screen stays dark without it)
        // but draws nothing the node's picture would have to fight: no
        // cursor, no login prompt on it (the serial console has one).
        "vt.global_cursor_default=0",
        "systemd.mask=getty@tty1.service",
        // The test's switches for the node (systemd passes them on).
        "systemd.setenv=ONIONCHAT_TRANSPORT=tcp",
        "systemd.setenv=ONIONCHAT_LISTEN=0.0.0.0:8480",
        "systemd.setenv=ONIONCHAT_ALLOW_NON_LOOPBACK=true",
        "systemd.setenv=ONIONCHAT_DISPLAY=fb:/dev/fb0",
    ]
    .join(" ");
    let child = Command::new("qemu-system-aarch64")
        .args([
            "-M",
            "virt",
            "-cpu",
            "cortex-a72",
            "-smp",
            "2",
            "-m",
            "1024",
        ])
        .args(["-display", "none", "-monitor", "none"])
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", &append])
        .arg("-drive")
        .arg(format!("file={},if=virtio,format=qcow2", overlay.display()))
        .args(["-device", "virtio-gpu-pci,xres=320,yres=240"])
        .args([
            "-netdev",
            &format!("user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:8480"),
            "-device",
            "virtio-net-pci,netdev=n0,romfile=",
        ])
        .arg("-qmp")
        .arg(format!(
            "unix:{},server,nowait",
            dir.join("qmp.sock").display()
        ))
        .arg("-serial")
        .arg(format!("file:{}", dir.join("console.log").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("qemu.log")).expect("log"),
        ))
        .spawn()
        .expect("qemu-system-aarch64 (apt-get install qemu-system-arm)");
    Guest {
        child,
        dir: dir.to_path_buf(),
        port,
    }
}

impl Guest {
    fn console(&self) -> String {
        std::fs::read_to_string(self.dir.join("console.log")).unwrap_or_default()
    }

    /// Wait until a console line has every one of `words` (systemd colours
    /// and shortens unit names); panics with the console's end.
    async fn wait_console(&self, words: &[&str], secs: u64) -> Duration {
        let start = Instant::now();
        let needle = words.join(" … ");
        loop {
            if self
                .console()
                .lines()
                .any(|l| words.iter().all(|w| l.contains(w)))
            {
                return start.elapsed();
            }
            if start.elapsed() > Duration::from_secs(secs) {
                let c = self.console();
                let tail: Vec<&str> = c.lines().rev().take(30).collect();
                panic!("no {needle:?} on the console in {secs} s; it ends:\n{tail:#?}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// A PNG picture of the emulated screen (QMP `screendump`).
    fn screendump(&self, to: &Path) {
        let sock =
            std::os::unix::net::UnixStream::connect(self.dir.join("qmp.sock")).expect("QMP socket");
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut w = sock.try_clone().expect("clone");
        let mut r = BufReader::new(sock);
        let mut line = String::new();
        r.read_line(&mut line).expect("QMP greeting");
        let mut call = |cmd: String| {
            w.write_all(cmd.as_bytes()).expect("QMP write");
            loop {
                let mut l = String::new();
                r.read_line(&mut l).expect("QMP answer");
                if l.contains("\"return\"") {
                    return;
                }
                assert!(!l.contains("\"error\""), "QMP: {l}");
            }
        };
        call("{\"execute\":\"qmp_capabilities\"}\n".into());
        call(format!(
            "{{\"execute\":\"screendump\",\"arguments\":{{\"filename\":\"{}\",\"format\":\"png\"}}}}\n",
            to.display()
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the appliance image; run images/boot-test"]
async fn the_image_boots_shows_its_owner_invite_and_chats() {
    let image = PathBuf::from(
        std::env::var("ONIONCHAT_BOOT_IMAGE").expect("set ONIONCHAT_BOOT_IMAGE (images/boot-test)"),
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let t0 = Instant::now();
    let guest = boot(&image, tmp.path());
    // systemd prints this once the node has sent READY=1.
    let ready = guest
        .wait_console(&["Started", "onionchat-node.ser"], 900)
        .await;
    eprintln!("boot → node ready: {:.1} s", ready.as_secs_f64());
    // The first boot grew the root file system to the (8 GiB) card.
    guest
        .wait_console(&["Finished", "onionchat-firstbo"], 60)
        .await;

    // The owner invite, read off the emulated screen.
    let shot = tmp.path().join("screen.png");
    let deadline = Instant::now() + Duration::from_secs(120);
    let invite = loop {
        guest.screendump(&shot);
        if let Some(text) = qr_in_png(&shot)
            && let Ok(link) = InviteLink::parse(&text)
        {
            break link;
        }
        assert!(
            Instant::now() < deadline,
            "no invite QR code on the screen (last picture: {})",
            shot.display()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    if let Ok(keep) = std::env::var("ONIONCHAT_BOOT_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("keep the screenshot");
    }
    eprintln!(
        "owner invite decoded from the screen after {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // Clients on the host, through the forwarded port.
    let addr = format!("127.0.0.1:{}", guest.port);
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
    let room = bob.accept_friend_request(req.id).await.expect("accept").id;
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
}
