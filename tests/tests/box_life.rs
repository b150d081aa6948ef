//! The box in a home, under emulation (`images/boot-test --box`): settings from
//! Raspberry Pi Imager or from the card, stopping when asked while Tor is
//! stuck, and updating itself from a signed apt repository — rolling a
//! broken release back.
//!
//! Each test boots the appliance image (`ONIONCHAT_BOOT_IMAGE`, made by
//! `images/build-image`) in `qemu-system-aarch64 -M virt` from a private
//! copy of the card, and looks inside over SSH, which the card's settings
//! turn on for a key made here. A plain `cargo test` lists them as ignored.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use onionchat_client::{Client, TcpConnector};
use onionchat_proto::wire::{InviteLink, RoomId};
use onionchat_tests::card::Card;
use onionchat_tests::guest::{BootOptions, Guest};
use onionchat_tests::{PASS, texts};

fn image() -> PathBuf {
    PathBuf::from(
        std::env::var("ONIONCHAT_BOOT_IMAGE")
            .expect("set ONIONCHAT_BOOT_IMAGE (images/boot-test --box)"),
    )
}

/// A fresh SSH key pair in `dir`: the private key's path and the public line.
fn ssh_key(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("id_ed25519");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "owner@laptop", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(ok.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    (key, public.trim().to_string())
}

/// Fill in `settings` in the card's `onionchat-setup.txt`, as someone
/// who flashed with `dd` would.
fn fill_setup_file(card: &Card, settings: &[(&str, &str)]) {
    let template = String::from_utf8(
        card.read_boot_file("onionchat-setup.txt")
            .expect("the template"),
    )
    .expect("utf-8");
    let mut filled = template.clone();
    for (key, value) in settings {
        let empty = format!("{key} =\n");
        assert!(filled.contains(&empty), "no {key} in the template");
        filled = filled.replace(&empty, &format!("{key} = {value}\n"));
    }
    card.write_boot_file("onionchat-setup.txt", filled.as_bytes());
}

/// The hex spelling of `s`, as wpa_supplicant takes any network name.
fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// What Raspberry Pi Imager (its "OS customisation", systemd flavour)
/// writes to the card's boot partition as `firstrun.sh`: each setting
/// through `imager_custom` when the image has it, a fallback otherwise.
fn imager_firstrun(host: &str, ssh_key: &str, ssid: &str, psk_hex: &str, country: &str) -> String {
    format!(
        r#"#!/bin/bash

set +e

CURRENT_HOSTNAME=`cat /etc/hostname | tr -d " \t\n\r"`
if [ -f /usr/lib/raspberrypi-sys-mods/imager_custom ]; then
   /usr/lib/raspberrypi-sys-mods/imager_custom set_hostname {host}
else
   echo {host} >/etc/hostname
   sed -i "s/127.0.1.1.*$CURRENT_HOSTNAME/127.0.1.1\t{host}/g" /etc/hosts
fi
FIRSTUSER=`getent passwd 1000 | cut -d: -f1`
FIRSTUSERHOME=`getent passwd 1000 | cut -d: -f6`
if [ -f /usr/lib/raspberrypi-sys-mods/imager_custom ]; then
   /usr/lib/raspberrypi-sys-mods/imager_custom enable_ssh -k '{ssh_key}'
else
   install -o "$FIRSTUSER" -m 700 -d "$FIRSTUSERHOME/.ssh"
   install -o "$FIRSTUSER" -m 600 <(printf "{ssh_key}") "$FIRSTUSERHOME/.ssh/authorized_keys"
   echo 'PasswordAuthentication no' >>/etc/ssh/sshd_config
   systemctl enable ssh
fi
if [ -f /usr/lib/userconf-pi/userconf ]; then
   /usr/lib/userconf-pi/userconf 'ann' '$5$yQ3eW1Yc$0bD1Ks5Yb5xZ0wq'
else
   echo "$FIRSTUSER:"'$5$yQ3eW1Yc$0bD1Ks5Yb5xZ0wq' | chpasswd -e
fi
if [ -f /usr/lib/raspberrypi-sys-mods/imager_custom ]; then
   /usr/lib/raspberrypi-sys-mods/imager_custom set_wlan '{ssid}' '{psk_hex}' '{country}'
else
cat >/etc/wpa_supplicant/wpa_supplicant.conf <<'WPAEOF'
country={country}
ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev
ap_scan=1

update_config=1
network={{
	ssid="{ssid}"
	psk={psk_hex}
}}

WPAEOF
   chmod 600 /etc/wpa_supplicant/wpa_supplicant.conf
fi
if [ -f /usr/lib/raspberrypi-sys-mods/imager_custom ]; then
   /usr/lib/raspberrypi-sys-mods/imager_custom set_keymap 'de'
   /usr/lib/raspberrypi-sys-mods/imager_custom set_timezone 'Europe/Berlin'
else
   rm -f /etc/localtime
   echo "Europe/Berlin" >/etc/timezone
   dpkg-reconfigure -f noninteractive tzdata
fi
rm -f /boot/firstrun.sh
sed -i 's| systemd.run.*||g' /boot/cmdline.txt
exit 0
"#
    )
}

/// What Imager appends to the card's `cmdline.txt`.
const IMAGER_CMDLINE: [&str; 3] = [
    "systemd.run=/boot/firstrun.sh",
    "systemd.run_success_action=reboot",
    "systemd.unit=kernel-command-line.target",
];

/// Ann owns the box (its owner invite read off its screen) and has a
/// chat with bob, whom she invited.
async fn household(guest: &Guest, dir: &Path) -> (Client, RoomId) {
    let invite = guest
        .owner_invite_from_screen(&dir.join("screen.png"), 120)
        .await;
    let addr = guest.address();
    let connector = || Arc::new(TcpConnector::new(addr.clone()));
    let here = |link: InviteLink| InviteLink {
        address: addr.clone(),
        ..link
    };
    let ann = Client::join(
        &dir.join("ann"),
        PASS,
        &here(invite),
        "ann",
        connector(),
        |_| {},
    )
    .await
    .expect("ann owns the box");
    let code = ann.create_invite(None, None).await.expect("invite").code;
    let bob = Client::join(
        &dir.join("bob"),
        PASS,
        &here(ann.invite_link(&code)),
        "bob",
        connector(),
        |_| {},
    )
    .await
    .expect("bob joins");
    let request = ann.send_friend_request("bob").await.expect("request");
    let room = bob
        .accept_friend_request(&request)
        .await
        .expect("accept")
        .id;
    (ann, room)
}

/// The Wi-Fi file the box wrote, checked root-only; its text.
fn wifi_config(guest: &Guest, key: &Path) -> String {
    let conf = "/etc/wpa_supplicant/wpa_supplicant-wlan0.conf";
    assert_eq!(
        guest.ssh_ok(key, &format!("stat -c '%a %U %G' {conf}")),
        "600 root root",
        "the Wi-Fi key must be readable by root only"
    );
    assert_eq!(
        guest.ssh_ok(key, "systemctl is-enabled wpa_supplicant@wlan0.service"),
        "enabled"
    );
    let network = guest.ssh_ok(key, "cat /etc/systemd/network/25-wireless.network");
    assert!(
        network.contains("Name=wlan0") && network.contains("DHCP=yes"),
        "{network}"
    );
    guest.ssh_ok(key, &format!("cat {conf}"))
}

/// Updates are on: Debian's through unattended-upgrades, ours by timer.
fn updates_are_on(guest: &Guest, key: &Path) {
    for unit in [
        "apt-daily.timer",
        "apt-daily-upgrade.timer",
        "onionchat-update.timer",
    ] {
        assert_eq!(
            guest.ssh_ok(key, &format!("systemctl is-enabled {unit}")),
            "enabled",
            "{unit}"
        );
    }
    let apt = guest.ssh_ok(key, "apt-config dump APT::Periodic");
    assert!(
        apt.contains("APT::Periodic::Unattended-Upgrade \"1\";"),
        "{apt}"
    );
    assert!(
        guest
            .ssh_ok(key, "cat /etc/apt/sources.list.d/onionchat.sources")
            .contains("Signed-By: /usr/share/keyrings/onionchat-archive-keyring.pgp")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the appliance image; run images/boot-test --box"]
async fn raspberry_pi_imager_settings_take_effect_and_leave_no_secret_on_the_card() {
    let tmp = tempfile::tempdir().expect("tmp");
    let card = Card::copy_of(&image(), tmp.path());
    let (key, public) = ssh_key(tmp.path());
    let ssid = "Home \"Net\" 5G";
    let psk = "8e9e5c1a5d4b0e5d6c1ab1e0f4c3a2b19d8e7f6a5b4c3d2e1f0a9b8c7d6e5f40";
    card.write_boot_file(
        "firstrun.sh",
        imager_firstrun("kitchen-box", &public, ssid, psk, "DE").as_bytes(),
    );
    let cmdline =
        String::from_utf8(card.read_boot_file("cmdline.txt").expect("cmdline.txt")).expect("utf-8");
    card.write_boot_file(
        "cmdline.txt",
        format!("{} {}\n", cmdline.trim_end(), IMAGER_CMDLINE.join(" ")).as_bytes(),
    );

    // Boot 1, as the Pi's firmware would start it from that cmdline.txt:
    // Imager's script runs, then the box reboots.
    let t0 = Instant::now();
    let mut guest = Guest::boot_with(
        &card.image,
        tmp.path(),
        BootOptions {
            kernel_args: IMAGER_CMDLINE.iter().map(|s| s.to_string()).collect(),
            exit_on_reboot: true,
        },
    );
    let took = guest.wait_exit(900).await;
    assert!(
        took.is_some(),
        "Imager's first boot did not end in a reboot; console:\n{}",
        guest.console()
    );
    eprintln!(
        "Imager's first boot → reboot: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    // The card holds no Wi-Fi key any more, and boots normally from now on.
    assert_eq!(guest.boot_file("firstrun.sh"), None, "firstrun.sh stayed");
    let cmdline =
        String::from_utf8(guest.boot_file("cmdline.txt").expect("cmdline.txt")).expect("utf-8");
    assert!(!cmdline.contains("systemd.run"), "{cmdline}");
    assert!(cmdline.contains("root=LABEL=ONIONROOT"), "{cmdline}");

    // Boot 2, the ordinary one.
    guest.power_on();
    let ready = guest.wait_node_ready(900).await;
    eprintln!("second boot → node ready: {:.1} s", ready.as_secs_f64());
    guest.wait_ssh(&key, 120).await;
    assert_eq!(guest.ssh_ok(&key, "hostname"), "kitchen-box");
    assert!(guest.ssh_ok(&key, "cat /etc/hosts").contains("kitchen-box"));
    let wifi = wifi_config(&guest, &key);
    assert!(wifi.contains("country=DE"), "{wifi}");
    assert!(wifi.contains(&format!("ssid={}", hex(ssid))), "{wifi}");
    assert!(wifi.contains(&format!("psk={psk}")), "{wifi}");
    assert_eq!(
        guest.ssh_ok(&key, "readlink /etc/localtime"),
        "/usr/share/zoneinfo/Europe/Berlin"
    );
    // Nothing with the key is left anywhere on the card or in /boot.
    let (found, _, _) = guest.ssh(&key, &format!("grep -rl {psk} /boot"));
    assert_ne!(found, 0, "the Wi-Fi key is still under /boot");
    // Imager's user and password made no account: root with the key only.
    assert_ne!(guest.ssh(&key, "id ann").0, 0);
    let sshd = guest.ssh_ok(&key, "sshd -T");
    assert!(sshd.contains("passwordauthentication no"), "{sshd}");
    updates_are_on(&guest, &key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the appliance image; run images/boot-test --box"]
async fn the_card_file_sets_up_wifi_and_the_box_stops_at_once_with_tor_stuck() {
    let tmp = tempfile::tempdir().expect("tmp");
    let card = Card::copy_of(&image(), tmp.path());
    let (key, public) = ssh_key(tmp.path());
    let passphrase = "correct horse 'battery' staple";
    fill_setup_file(
        &card,
        &[
            ("wifi_name", "Flat 3"),
            ("wifi_password", passphrase),
            ("wifi_country", "gb"),
            ("hostname", "shelf"),
            ("timezone", "Europe/London"),
            ("ssh_key", &public),
        ],
    );

    let guest = Guest::boot(&card.image, tmp.path());
    guest.wait_node_ready(900).await;
    guest.wait_ssh(&key, 120).await;
    assert_eq!(guest.ssh_ok(&key, "hostname"), "shelf");
    let wifi = wifi_config(&guest, &key);
    assert!(wifi.contains("country=GB"), "{wifi}");
    assert!(wifi.contains(&format!("ssid={}", hex("Flat 3"))), "{wifi}");
    // The passphrase became its WPA key; as typed it is nowhere.
    assert!(
        wifi.lines().any(|l| l
            .trim()
            .strip_prefix("psk=")
            .is_some_and(|k| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()))),
        "{wifi}"
    );
    assert!(!wifi.contains("battery"), "{wifi}");
    let on_card = guest.ssh_ok(&key, "cat /boot/firmware/onionchat-setup.txt");
    assert!(!on_card.contains("battery"), "{on_card}");
    assert!(on_card.contains("wifi_name = Flat 3"), "{on_card}");
    assert_eq!(
        guest.ssh_ok(&key, "readlink /etc/localtime"),
        "/usr/share/zoneinfo/Europe/London"
    );
    updates_are_on(&guest, &key);

    // Messages the box acknowledged…
    let (ann, room) = household(&guest, tmp.path()).await;
    for i in 0..5 {
        ann.send_text(room, &format!("note {i}"))
            .await
            .expect("send");
    }

    // …then Tor on a network where it cannot connect (the guest reaches
    // nothing outside the emulator), and `systemctl stop`.
    guest.ssh_ok(
        &key,
        "systemctl set-environment ONIONCHAT_TRANSPORT=onion && systemctl restart onionchat-node",
    );
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    let status = guest.ssh_ok(&key, "onionchat-node status");
    assert!(
        status.contains("Tor:         connecting to Tor"),
        "{status}"
    );
    let ms: u64 = guest
        .ssh_ok(
            &key,
            "s=$(date +%s%N); systemctl stop onionchat-node; echo $(( ($(date +%s%N) - s) / 1000000 ))",
        )
        .parse()
        .expect("milliseconds");
    eprintln!("systemctl stop with Tor stuck: {ms} ms");
    assert!(ms < 5000, "the stop took {ms} ms");
    assert_eq!(
        guest.ssh_ok(
            &key,
            "systemctl show onionchat-node -p Result -p ExecMainStatus --value | paste -sd' '"
        ),
        "success 0",
        "the node must end cleanly, not be killed"
    );
    // Back on TCP: every acknowledged message is there.
    guest.ssh_ok(
        &key,
        "systemctl set-environment ONIONCHAT_TRANSPORT=tcp && systemctl start onionchat-node",
    );
    assert_eq!(
        texts(&ann.history_all(room, 0).await.expect("history")),
        (0..5).map(|i| format!("note {i}")).collect::<Vec<_>>()
    );
}

/// `deb` rebuilt as `version`; `broken` replaces the node with a program
/// that fails at once (a release that cannot start on this box).
fn repack(deb: &Path, version: &str, broken: bool, dir: &Path) -> PathBuf {
    let tree = dir.join(format!("tree-{version}"));
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("dpkg-deb");
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&tree));
    let control = tree.join("DEBIAN/control");
    let text = std::fs::read_to_string(&control).expect("control");
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("Version:") {
                format!("Version: {version}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&control, text).expect("control");
    if broken {
        let node = tree.join("usr/bin/onionchat-node");
        std::fs::write(
            &node,
            "#!/bin/sh\necho 'this build cannot start' >&2\nexit 1\n",
        )
        .expect("node");
    }
    let out = dir.join(format!("onionchat-node_{version}_arm64.deb"));
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "-b"])
        .arg(&tree)
        .arg(&out));
    out
}

/// A signed repository (images/build-repo, the project's key) holding
/// `deb`, served over HTTP on the host's loopback, which the guest reaches
/// as 10.0.2.2 (QEMU's user network).
struct Repo {
    server: std::process::Child,
    port: u16,
}

impl Repo {
    fn serve(deb: &Path, dir: &Path) -> Repo {
        let root = dir.join(format!(
            "repo-{}",
            deb.file_stem().and_then(|s| s.to_str()).unwrap_or("x")
        ));
        let repo_script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/build-repo");
        let out = Command::new(repo_script)
            .arg("--out")
            .arg(&root)
            .arg(deb)
            .output()
            .expect("images/build-repo");
        assert!(
            out.status.success(),
            "build-repo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let server = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(&root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        Repo { server, port }
    }

    /// Point the box at this repository (its key stays the image's).
    fn point(&self, guest: &Guest, key: &Path) {
        guest.ssh_ok(
            key,
            &format!(
                "sed -i 's|^URIs:.*|URIs: http://10.0.2.2:{}/|' /etc/apt/sources.list.d/onionchat.sources",
                self.port
            ),
        );
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// The node's onion address (its key is in the data dir): the node runs
/// over Tor for a moment — the address is known before Tor connects — and
/// goes back to TCP for the test's clients.
fn onion_address(guest: &Guest, key: &Path) -> String {
    guest.ssh_ok(
        key,
        "systemctl set-environment ONIONCHAT_TRANSPORT=onion && systemctl restart onionchat-node",
    );
    let json: serde_json::Value =
        serde_json::from_str(&guest.ssh_ok(key, "onionchat-node status --json")).expect("json");
    guest.ssh_ok(
        key,
        "systemctl set-environment ONIONCHAT_TRANSPORT=tcp && systemctl restart onionchat-node",
    );
    json["onion_address"]
        .as_str()
        .expect("an onion address")
        .to_string()
}

fn installed(guest: &Guest, key: &Path) -> String {
    guest.ssh_ok(key, "dpkg-query -W -f '${Version}' onionchat-node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the appliance image; run images/boot-test --box"]
async fn an_update_keeps_everything_and_a_broken_one_is_rolled_back() {
    let tmp = tempfile::tempdir().expect("tmp");
    let card = Card::copy_of(&image(), tmp.path());
    let (key, public) = ssh_key(tmp.path());
    fill_setup_file(&card, &[("ssh_key", &public)]);
    let guest = Guest::boot(&card.image, tmp.path());
    guest.wait_node_ready(900).await;
    guest.wait_ssh(&key, 120).await;
    let onion = onion_address(&guest, &key);

    let (ann, room) = household(&guest, tmp.path()).await;
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(format!("before the update {i}"));
        ann.send_text(room, &sent[i]).await.expect("send");
    }

    // Version N, and its package as the image keeps it for a way back.
    let n = installed(&guest, &key);
    let current = tmp.path().join("current.deb");
    guest.copy_from(&key, "/var/lib/onionchat-update/current.deb", &current);
    // N+1: the same program under a newer version (what changes in an
    // update is the package, which is what this exercises).
    let next_version = format!("{n}+update1");
    let next = repack(&current, &next_version, false, tmp.path());
    let repo = Repo::serve(&next, tmp.path());
    repo.point(&guest, &key);
    let check = guest.ssh_ok(&key, "onionchat-update --check");
    assert!(
        check.contains(&format!("{next_version} is available")),
        "{check}"
    );
    let t0 = Instant::now();
    let (code, out, err) = guest.ssh(&key, "onionchat-update");
    eprintln!(
        "update {n} → {next_version}: {:.1} s\n{out}\n{err}",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(installed(&guest, &key), next_version);
    let report = guest.ssh_ok(&key, "cat /var/lib/onionchat-update/report");
    assert!(report.contains("outcome=updated"), "{report}");
    assert_eq!(
        texts(&ann.history_all(room, 0).await.expect("history")),
        sent
    );
    sent.push("after the update".into());
    ann.send_text(room, &sent[3]).await.expect("send");
    assert_eq!(
        onion_address(&guest, &key),
        onion,
        "the onion address changed"
    );
    drop(repo);

    // N+2 cannot start: once systemd has failed to start it three times
    // (well before the 3 minutes it may take to be ready), N+1 is back and
    // says so.
    let broken = repack(&current, &format!("{n}+update2"), true, tmp.path());
    let repo = Repo::serve(&broken, tmp.path());
    repo.point(&guest, &key);
    let t0 = Instant::now();
    let (code, out, err) = guest.ssh(&key, "onionchat-update");
    eprintln!(
        "broken update → rolled back: {:.1} s\n{out}\n{err}",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(code, 1, "a rollback is a failed update: {out}\n{err}");
    assert!(
        out.contains("failed to start three times") && out.contains("putting"),
        "{out}"
    );
    assert_eq!(installed(&guest, &key), next_version);
    assert_eq!(
        guest.ssh_ok(&key, "systemctl is-active onionchat-node"),
        "active"
    );
    let status = guest.ssh_ok(&key, "onionchat-node status");
    assert!(
        status.contains(&format!(
            "last update: {n}+update2 did not start, so {next_version} was put back"
        )),
        "{status}"
    );
    assert_eq!(
        texts(&ann.history_all(room, 0).await.expect("history")),
        sent
    );
    // The broken version is not tried again.
    let again = guest.ssh_ok(&key, "onionchat-update");
    assert!(again.contains("did not start here before"), "{again}");
    assert_eq!(installed(&guest, &key), next_version);
}
