//! A full card, for real: the node runs on a small tmpfs the test mounts.
//! The card fills twice — once behind the node's back while a file is
//! arriving (a real ENOSPC in the middle of a write), once with the
//! members' own files up to the free-space floor — and each time clients
//! get `storage_full`, reads go on, nothing stored is damaged, and new data
//! is taken again as soon as space comes back, by the same process.
//!
//! Mounting needs root (or passwordless sudo); CI runs as root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use onionchat_client::{Client, ClientError};
use onionchat_proto::wire::{ErrorCode, FileId, MessageContent, RoomId};
use onionchat_tests::{Node, config_arg, make_file, sha256_file, two_friends};

/// A tmpfs of `mib` MiB at `path`, owned by this user; unmounted on drop.
struct Tmpfs {
    path: PathBuf,
    sudo: bool,
}

impl Tmpfs {
    fn mount(path: &Path, mib: u64) -> Tmpfs {
        std::fs::create_dir_all(path).expect("mount point");
        let id = |flag: &str| {
            let out = Command::new("id").arg(flag).output().expect("id");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let sudo = id("-u") != "0";
        let opts = format!("size={mib}m,mode=0700,uid={},gid={}", id("-u"), id("-g"));
        let mut cmd = if sudo {
            let mut c = Command::new("sudo");
            c.args(["-n", "mount"]);
            c
        } else {
            Command::new("mount")
        };
        let out = cmd
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs and needs root or passwordless sudo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            path: path.to_path_buf(),
            sudo,
        }
    }

    /// Bytes an unprivileged writer may still use.
    fn available(&self) -> u64 {
        available(&self.path)
    }
}

/// Bytes available on the filesystem holding `path`.
fn available(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df output")
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let mut cmd = if self.sudo {
            let mut c = Command::new("sudo");
            c.args(["-n", "umount", "-l"]);
            c
        } else {
            let mut c = Command::new("umount");
            c.arg("-l");
            c
        };
        let _ = cmd.arg(&self.path).status();
    }
}

/// Fill the filesystem at `dir` until about `leave` bytes are available,
/// fast (the upload it races keeps writing meanwhile).
fn fill(dir: &Path, leave: u64) -> PathBuf {
    use std::io::Write;
    let path = dir.join("ballast");
    let mut f = std::fs::File::create(&path).expect("ballast");
    let chunk = vec![0xA5u8; 1024 * 1024];
    loop {
        let avail = available(dir);
        if avail <= leave + 64 * 1024 {
            return path;
        }
        let mut todo = avail - leave;
        while todo > 0 {
            let n = todo.min(chunk.len() as u64) as usize;
            if f.write_all(&chunk[..n]).is_err() {
                // The upload took the rest meanwhile: full is full.
                return path;
            }
            todo -= n as u64;
        }
    }
}

/// Retry `send` until it is accepted (space is measured at most once a
/// second), for up to 10 s.
async fn send_eventually(c: &Client, room: RoomId, text: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.send_text(room, text).await {
            Ok(ack) => return ack.seq,
            Err(e) if e.code() == Some(ErrorCode::StorageFull) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("{text} was not taken once space came back: {e}"),
        }
    }
}

fn is_full(e: &ClientError) -> bool {
    e.code() == Some(ErrorCode::StorageFull)
}

/// Everything stored before is still there and whole.
async fn assert_intact(
    c: &Client,
    room: RoomId,
    texts: &[String],
    file: (FileId, &[u8]),
    scratch: &Path,
) {
    let items = c
        .history_all(room, 0)
        .await
        .expect("history reads on a full disk");
    let got: Vec<String> = onionchat_tests::texts(&items);
    for t in texts {
        assert!(got.contains(t), "{t} is gone");
    }
    let dest = scratch.join(format!("check-{}", file.0));
    let _ = std::fs::remove_file(&dest);
    c.download_file(file.0, &dest, Some(file.1), Box::new(|_, _| true))
        .await
        .expect("downloads work on a full disk");
    assert_eq!(sha256_file(&dest), file.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_card_refuses_new_data_keeps_reads_and_recovers_without_a_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let disk = Tmpfs::mount(&tmp.path().join("card"), 64);
    let cfg = config_arg(
        tmp.path(),
        "min_free_mb = 8\nmin_free_percent = 0\nuser_quota_bytes = 1000000000\n\
         [rate]\nmessages_per_sec = 1000.0\nmessage_burst = 1000.0\n",
    );
    // The data dir is the card itself (the node's log goes beside it).
    let mut node = Node::start(&disk.path, &[&cfg]);
    let pid = node.pid().expect("pid");
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    // Things that wait to be done when the card fills: a group bob will
    // leave, a friend request cat will accept, an invite dan will use.
    let group = ann.create_group(&["bob"]).await.expect("group").id;
    let inv = ann.create_invite(None, None).await.expect("invite");
    let cat = onionchat_tests::join(
        &node,
        &tmp.path().join("cat"),
        "cat",
        &ann.invite_link(&inv.code).to_string(),
    )
    .await;
    let to_cat = ann.send_friend_request("cat").await.expect("request");
    let for_dan = ann.create_invite(None, None).await.expect("invite");

    // What the household has before the card fills.
    let mut texts = Vec::new();
    for i in 0..20 {
        let t = format!("before {i}");
        ann.send_text(room, &t).await.expect("send");
        texts.push(t);
    }
    let photo = tmp.path().join("photo.jpg");
    make_file(&photo, 2 * 1024 * 1024, 7);
    let photo_sha = sha256_file(&photo);
    let (photo_id, _) = ann
        .send_file(room, &photo, Box::new(|_, _| true))
        .await
        .expect("photo");

    // 1. Something else fills the card while bob's video is arriving: the
    //    write fails with ENOSPC mid-file. He is told the card is full, the
    //    partial file goes, and the node stays up.
    let video = tmp.path().join("video.mp4");
    make_file(&video, 12 * 1024 * 1024, 8);
    let parts = disk.path.join("blobs").join("tmp");
    let filler = {
        let disk_path = disk.path.clone();
        let parts = parts.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let arriving = std::fs::read_dir(&parts)
                    .map(|d| {
                        d.flatten()
                            .any(|e| e.file_name().to_string_lossy().ends_with(".part"))
                    })
                    .unwrap_or(false);
                if arriving {
                    break;
                }
                assert!(Instant::now() < deadline, "the upload never started");
                std::thread::sleep(Duration::from_millis(2));
            }
            // Leave 2 MiB: less than the rest of the video, more than a
            // login or a read marker needs.
            fill(&disk_path, 2 * 1024 * 1024)
        })
    };
    let err = bob
        .send_file(room, &video, Box::new(|_, _| true))
        .await
        .expect_err("the card filled under the upload");
    let ballast = filler.join().expect("filler");
    assert!(is_full(&err), "{err}");
    assert_eq!(
        std::fs::read_dir(&parts).expect("tmp dir").count(),
        0,
        "the partial upload was removed"
    );
    let err = ann
        .send_text(room, "while full")
        .await
        .expect_err("below the floor");
    assert!(is_full(&err), "{err}");
    // So is every other write that grows the card (protocol §13): a new
    // group, a re-key, a leave, a friend request, accepting one, an
    // invite, a sign-up.
    for (what, err) in [
        ("group", ann.create_group(&["bob"]).await.map(|_| ())),
        ("re-key", ann.rekey(room).await.map(|_| ())),
        ("leave", bob.leave(group).await),
        (
            "friend request",
            bob.send_friend_request("cat").await.map(|_| ()),
        ),
        (
            "accept",
            cat.accept_friend_request(&to_cat).await.map(|_| ()),
        ),
        ("invite", ann.create_invite(None, None).await.map(|_| ())),
    ] {
        let err = err.expect_err(what);
        assert!(is_full(&err), "{what}: {err}");
    }
    let dan = onionchat_proto::crypto::IdentityKey::generate().expect("key");
    let r = onionchat_tests::raw::signup(&node.addr, &dan, "dan", Some(for_dan.code.clone())).await;
    onionchat_tests::raw::expect(&r, 507, ErrorCode::StorageFull);
    // None of them happened.
    assert!(
        bob.rooms()
            .await
            .expect("rooms")
            .iter()
            .any(|r| r.id == group)
    );
    assert!(ann.friends().await.expect("friends").len() == 1);
    // Reads and logins go on.
    assert_intact(&bob, room, &texts, (photo_id, &photo_sha), tmp.path()).await;
    bob.login().await.expect("login on a full card");

    // 2. The owner removes what filled the card: the same node takes new
    //    messages and files again.
    std::fs::remove_file(&ballast).expect("free the card");
    let t = "space is back".to_string();
    send_eventually(&ann, room, &t).await;
    texts.push(t);
    let (video_id, _) = bob
        .send_file(room, &video, Box::new(|_, _| true))
        .await
        .expect("the video goes through now");
    assert_eq!(node.pid(), Some(pid), "no restart");

    // 3. The members' own files reach the floor: a file that would go
    //    below it is refused before the card is really full, while small
    //    messages that still fit above the floor go on.
    let clip = tmp.path().join("clip.bin");
    make_file(&clip, 4 * 1024 * 1024, 9);
    let mut clips = Vec::new();
    let refused = loop {
        match bob.send_file(room, &clip, Box::new(|_, _| true)).await {
            Ok((id, _)) => clips.push(id),
            Err(e) => break e,
        }
        assert!(clips.len() < 20, "the floor never stopped uploads");
    };
    assert!(is_full(&refused), "{refused}");
    assert!(!clips.is_empty());
    assert!(
        disk.available() >= 8 * 1024 * 1024,
        "the floor kept its reserve: {} bytes free",
        disk.available()
    );
    let t = "a few bytes still fit".to_string();
    ann.send_text(room, &t).await.expect("above the floor");
    texts.push(t);
    assert_intact(&ann, room, &texts, (photo_id, &photo_sha), tmp.path()).await;

    // 4. bob deletes his video and clips: files go through again.
    bob.delete_file(video_id).await.expect("delete video");
    for id in clips {
        bob.delete_file(id).await.expect("delete clip");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match bob.send_file(room, &clip, Box::new(|_, _| true)).await {
            Ok(_) => break,
            Err(e) if is_full(&e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("the clip was not taken after the deletions: {e}"),
        }
    }
    let t = "room again".to_string();
    send_eventually(&bob, room, &t).await;
    texts.push(t);
    assert_eq!(node.pid(), Some(pid), "no restart");
    assert_intact(&bob, room, &texts, (photo_id, &photo_sha), tmp.path()).await;

    // The store agrees with itself, and survives a clean restart.
    let check = onionchat_tests::node_cmd_ok(&disk.path, &["check"]);
    assert!(check.trim_end().ends_with("\nhealthy"), "{check}");
    node.restart();
    assert_intact(&ann, room, &texts, (photo_id, &photo_sha), tmp.path()).await;
    let check = onionchat_tests::node_cmd_ok(&disk.path, &["check"]);
    assert!(check.trim_end().ends_with("\nhealthy"), "{check}");
    // The history shows bob's deletions as plain file messages: no text
    // was lost among them.
    let items = ann.history_all(room, 0).await.expect("history");
    let files = items
        .iter()
        .filter(|i| {
            matches!(
                i,
                onionchat_client::Incoming::Message(r)
                    if matches!(r.content, MessageContent::File { .. })
            )
        })
        .count();
    assert!(files >= 2, "photo and video messages: {files}");
}
