//! The appliance under emulation: the image's root file system booted in
//! `qemu-system-aarch64 -M virt` with an emulated screen (virtio-gpu → the
//! guest's `/dev/fb0`, the node's `fb:` display) and the node's port
//! forwarded to the host. Used by the boot test and the power-cut run.
//!
//! The guest cannot reach our private Tor network (its relays live on the
//! host's loopback), so the kernel command line switches the node to TCP;
//! Tor itself is tested on the host.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use onionchat_proto::wire::InviteLink;

/// The emulated box; the emulator is killed when this is dropped.
pub struct Guest {
    child: Child,
    image: PathBuf,
    dir: PathBuf,
    /// Host port forwarded to the node's 8480 in the guest.
    port: u16,
    /// Host port forwarded to the guest's SSH (22); SSH is off unless the
    /// card turned it on.
    ssh_port: u16,
    /// Kernel command line words for the next boot beyond the usual ones
    /// (what the card's `cmdline.txt` would add), and whether a reboot
    /// ends the emulator instead of booting again.
    next_boot: BootOptions,
    /// Boots so far with this card (1 for the first).
    boots: u32,
}

/// ssh and scp into a fresh guest: its host key is new every time, and a
/// question would hang the test.
const SSH_OPTIONS: [&str; 10] = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=20",
    "-o",
    "LogLevel=ERROR",
];

/// What a boot does beyond the usual.
#[derive(Debug, Clone, Default)]
pub struct BootOptions {
    /// Extra kernel command line words.
    pub kernel_args: Vec<String>,
    /// A reboot ends the emulator (QEMU `-no-reboot`), as a real Pi would
    /// read its (possibly changed) `cmdline.txt` again.
    pub exit_on_reboot: bool,
}

impl Drop for Guest {
    fn drop(&mut self) {
        self.cut_power();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

impl Guest {
    /// Boot `image` with a fresh card in `dir`: a copy-on-write overlay (the
    /// image itself stays as built) as big as a small SD card, which the
    /// first boot grows the root file system into.
    pub fn boot(image: &Path, dir: &Path) -> Guest {
        Self::boot_with(image, dir, BootOptions::default())
    }

    /// [`Guest::boot`] with `options` for the first boot.
    pub fn boot_with(image: &Path, dir: &Path, options: BootOptions) -> Guest {
        let kernel = image.with_extension("vmlinuz");
        let initrd = image.with_extension("initrd");
        for f in [image, &kernel, &initrd] {
            assert!(
                f.exists(),
                "{} is missing: run images/build-image",
                f.display()
            );
        }
        std::fs::create_dir_all(dir).expect("the card's directory");
        let overlay = dir.join("disk.qcow2");
        let ok = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
            .arg(image)
            .arg(&overlay)
            .arg("8G")
            .status()
            .expect("qemu-img");
        assert!(ok.success(), "qemu-img create failed");
        let (port, ssh_port) = (free_port(), free_port());
        Guest {
            child: spawn(image, dir, (port, ssh_port), 1, &options),
            image: image.to_path_buf(),
            dir: dir.to_path_buf(),
            port,
            ssh_port,
            boots: 1,
            next_boot: BootOptions::default(),
        }
    }

    /// Pull the plug: SIGKILL the emulator. Whatever the guest had not
    /// written to its disk (its page cache, its disk's queue) is gone.
    pub fn cut_power(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Plug it in again: boot the same card (same forwarded port).
    pub fn power_on(&mut self) {
        self.boots += 1;
        self.child = spawn(
            &self.image,
            &self.dir,
            (self.port, self.ssh_port),
            self.boots,
            &self.next_boot,
        );
    }

    /// Wait up to `secs` for the emulator to end by itself (the guest
    /// rebooted or powered off under [`BootOptions::exit_on_reboot`]).
    pub async fn wait_exit(&mut self, secs: u64) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(secs) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        None
    }

    /// Run `command` in the guest over SSH as root with the private key
    /// `key` (the card must have turned SSH on for its public half).
    /// Returns the exit code and what it printed.
    pub fn ssh(&self, key: &Path, command: &str) -> (i32, String, String) {
        let out = Command::new("ssh")
            .arg("-i")
            .arg(key)
            .args(["-p", &self.ssh_port.to_string()])
            .args(SSH_OPTIONS)
            .args(["root@127.0.0.1", command])
            .stdin(Stdio::null())
            .output()
            .expect("ssh (apt-get install openssh-client)");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
            String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
        )
    }

    /// Copy the guest's file `remote` to `local` over SSH (scp).
    pub fn copy_from(&self, key: &Path, remote: &str, local: &Path) {
        let ok = Command::new("scp")
            .arg("-q")
            .arg("-i")
            .arg(key)
            .args(["-P", &self.ssh_port.to_string()])
            .args(SSH_OPTIONS)
            .arg(format!("root@127.0.0.1:{remote}"))
            .arg(local)
            .status()
            .expect("scp");
        assert!(ok.success(), "scp {remote} failed");
    }

    /// [`Guest::ssh`] that must succeed; its output.
    pub fn ssh_ok(&self, key: &Path, command: &str) -> String {
        let (code, out, err) = self.ssh(key, command);
        assert_eq!(code, 0, "in the guest: {command}\n{out}\n{err}");
        out
    }

    /// Wait up to `secs` for the guest's SSH to let `key` in.
    pub async fn wait_ssh(&self, key: &Path, secs: u64) -> Duration {
        let start = Instant::now();
        loop {
            let (code, _, err) = self.ssh(key, "true");
            if code == 0 {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "SSH did not let the key in within {secs} s: {err}"
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Where the host reaches the node in the guest (the forwarded port).
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The serial console of the current boot.
    pub fn console(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("console-{}.log", self.boots)))
            .unwrap_or_default()
    }

    /// Wait until a console line of the current boot has every one of
    /// `words` (systemd colours and shortens unit names); panics with the
    /// console's end.
    pub async fn wait_console(&self, words: &[&str], secs: u64) -> Duration {
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

    /// Wait for systemd to report the node ready (it has sent READY=1).
    pub async fn wait_node_ready(&self, secs: u64) -> Duration {
        self.wait_console(&["Started", "onionchat-node.ser"], secs)
            .await
    }

    /// A PNG picture of the emulated screen (QMP `screendump`).
    pub fn screendump(&self, to: &Path) {
        screendump(&self.dir.join("qmp.sock"), to);
    }

    /// The owner invite, read off the emulated screen's QR code (waits up
    /// to `secs` for it to appear); the picture stays at `shot`.
    pub async fn owner_invite_from_screen(&self, shot: &Path, secs: u64) -> InviteLink {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            self.screendump(shot);
            if let Some(text) = crate::qr_in_png(shot)
                && let Ok(link) = InviteLink::parse(&text)
            {
                return link;
            }
            assert!(
                Instant::now() < deadline,
                "no invite QR code on the screen (last picture: {})",
                shot.display()
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// A PNG picture of the emulator's screen, through its QMP socket `qmp`
/// (`screendump`).
pub fn screendump(qmp: &Path, to: &Path) {
    let sock = std::os::unix::net::UnixStream::connect(qmp).expect("QMP socket");
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

/// Start the emulator on the card in `dir`, forwarding host `ports` (to
/// the node and to SSH).
fn spawn(image: &Path, dir: &Path, ports: (u16, u16), boot: u32, options: &BootOptions) -> Child {
    let (port, ssh_port) = ports;
    let mut append = [
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
    for a in &options.kernel_args {
        append.push(' ');
        append.push_str(a);
    }
    let qmp = dir.join("qmp.sock");
    let _ = std::fs::remove_file(&qmp);
    let mut qemu = Command::new("qemu-system-aarch64");
    if options.exit_on_reboot {
        qemu.arg("-no-reboot");
    }
    qemu.args([
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
    .arg(image.with_extension("vmlinuz"))
    .arg("-initrd")
    .arg(image.with_extension("initrd"))
    .args(["-append", &append])
    .arg("-drive")
    .arg(format!(
        "file={},if=virtio,format=qcow2",
        dir.join("disk.qcow2").display()
    ))
    .args(["-device", "virtio-gpu-pci,xres=320,yres=240"])
    .args([
        "-netdev",
        &format!(
            "user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:8480,hostfwd=tcp:127.0.0.1:{ssh_port}-:22"
        ),
        "-device",
        "virtio-net-pci,netdev=n0,romfile=",
    ])
    .arg("-qmp")
    .arg(format!("unix:{},server,nowait", qmp.display()))
    .arg("-serial")
    .arg(format!(
        "file:{}",
        dir.join(format!("console-{boot}.log")).display()
    ))
    .stdout(Stdio::null())
    .stderr(Stdio::from(
        std::fs::File::create(dir.join(format!("qemu-{boot}.log"))).expect("log"),
    ))
    .spawn()
    .expect("qemu-system-aarch64 (apt-get install qemu-system-arm)")
}

/// Where the node keeps its data in the image (`DynamicUser=` with
/// `StateDirectory=onionchat`).
const DATA_DIR_IN_GUEST: &str = "/var/lib/private/onionchat";

impl Guest {
    /// Copy the node's data dir off the card (with the emulator stopped):
    /// the root partition is cut out of the disk, its journal replayed with
    /// `e2fsck -p` — what the guest's kernel does when it mounts it — and
    /// the directory read with `debugfs`. An `e2fsck` that cannot repair
    /// the file system is an error.
    pub fn copy_data_dir(&self, dest: &Path) -> Result<(), String> {
        let run = |cmd: &mut Command| cmd.output().map_err(|e| format!("{cmd:?}: {e}"));
        // The root file system is the image's second partition; the first
        // boot grows it, but it starts where it did.
        let table = run(Command::new("sfdisk").arg("-J").arg(&self.image))?;
        let json: serde_json::Value =
            serde_json::from_slice(&table.stdout).map_err(|e| format!("sfdisk -J: {e}"))?;
        let start = json["partitiontable"]["partitions"][1]["start"]
            .as_u64()
            .ok_or("no second partition in the image")?;
        let sector = json["partitiontable"]["sectorsize"].as_u64().unwrap_or(512);
        let root = self.dir.join("root.ext4");
        let _ = std::fs::remove_file(&root);
        let out = run(Command::new("qemu-img")
            .args(["convert", "-O", "raw", "--image-opts"])
            .arg(format!(
                "driver=raw,offset={},file.driver=qcow2,file.file.filename={}",
                start * sector,
                self.dir.join("disk.qcow2").display()
            ))
            .arg(&root))?;
        if !out.status.success() {
            return Err(format!(
                "qemu-img convert: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // 0: clean, 1: fixed (a replayed journal, orphans), ≥ 4: damage left.
        let fsck = run(Command::new("e2fsck").args(["-p", "-f"]).arg(&root))?;
        if fsck.status.code().is_none_or(|c| c >= 4) {
            return Err(format!(
                "e2fsck could not repair the card's file system ({}): {}",
                fsck.status,
                String::from_utf8_lossy(&fsck.stdout)
            ));
        }
        std::fs::create_dir_all(dest).map_err(|e| e.to_string())?;
        let out = run(Command::new("debugfs")
            .arg("-R")
            .arg(format!("rdump {DATA_DIR_IN_GUEST} {}", dest.display()))
            .arg(&root))?;
        let _ = std::fs::remove_file(&root);
        let copied = dest.join("onionchat");
        if !out.status.success() || !copied.is_dir() {
            return Err(format!(
                "debugfs rdump: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }
}

impl Guest {
    /// What the next boot does beyond the usual (by default nothing).
    pub fn set_next_boot(&mut self, options: BootOptions) {
        self.next_boot = options;
    }

    /// `name` on the card's boot partition as the guest left it (with the
    /// emulator stopped): the partition is cut out of the card's overlay
    /// and read with mtools.
    pub fn boot_file(&self, name: &str) -> Option<Vec<u8>> {
        let (offset, size) = crate::card::boot_partition(&self.image);
        let fat = self.dir.join("boot.fat");
        let _ = std::fs::remove_file(&fat);
        let ok = Command::new("qemu-img")
            .args(["convert", "-O", "raw", "--image-opts"])
            .arg(format!(
                "driver=raw,offset={offset},size={size},file.driver=qcow2,file.file.filename={}",
                self.dir.join("disk.qcow2").display()
            ))
            .arg(&fat)
            .status()
            .expect("qemu-img");
        assert!(ok.success(), "cutting the boot partition out failed");
        let bytes = crate::card::read_fat_file(&fat, 0, name);
        let _ = std::fs::remove_file(&fat);
        bytes
    }
}

/// The emulated box as a crash-harness target: its power is cut (the
/// emulator SIGKILLed, the guest's page cache lost) and it boots again.
pub struct PoweredBox {
    /// The running (or stopped) box.
    pub guest: Guest,
    /// Boot → node ready, each boot (s).
    pub boot_secs: Vec<f64>,
}

impl PoweredBox {
    /// Boot a fresh box from `image` in `dir`; returns it and the owner
    /// invite read off its screen.
    pub async fn start(image: &Path, dir: &Path) -> (PoweredBox, InviteLink) {
        let guest = Guest::boot(image, dir);
        let ready = guest.wait_node_ready(900).await;
        let invite = guest
            .owner_invite_from_screen(&dir.join("screen.png"), 120)
            .await;
        let invite = InviteLink {
            address: guest.address(),
            ..invite
        };
        let b = PoweredBox {
            guest,
            boot_secs: vec![ready.as_secs_f64()],
        };
        (b, invite)
    }
}

impl crate::crash::Target for PoweredBox {
    fn connector(&self) -> std::sync::Arc<dyn onionchat_client::Connector> {
        std::sync::Arc::new(onionchat_client::TcpConnector::new(self.guest.address()))
    }

    fn cut(&mut self) {
        self.guest.cut_power();
    }

    async fn restart(&mut self) {
        self.guest.power_on();
        let ready = self.guest.wait_node_ready(900).await;
        self.boot_secs.push(ready.as_secs_f64());
    }

    fn check(&mut self) -> Option<Vec<String>> {
        // No shell in the box; the data dir is checked at the end.
        None
    }

    async fn finish(&mut self) -> Vec<String> {
        // One last cut, then the card's data dir is opened by the node
        // binary here and checked.
        self.guest.cut_power();
        let copy = self.guest.dir.join("card-data");
        if let Err(e) = self.guest.copy_data_dir(&copy) {
            return vec![e];
        }
        let node = crate::Node::start(&copy.join("onionchat"), &[]);
        let problems = crate::crash::store_check(&node.data_dir);
        drop(node);
        problems
    }
}
