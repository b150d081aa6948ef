//! Nothing acknowledged is lost: crashes, interrupted uploads, backups.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use onionchat_client::Incoming;
use onionchat_proto::wire::ErrorCode;
use onionchat_tests::{Node, make_file, open, sha256_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = tmp.path().join("node.toml");
    std::fs::write(
        &cfg,
        "[rate]\nmessages_per_sec = 10000.0\nmessage_burst = 10000.0\n",
    )
    .expect("config");
    let mut node = Node::start(
        &tmp.path().join("node"),
        &[&format!("--config={}", cfg.display())],
    );
    let (ann, bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    // Concurrent senders: every acknowledged message must survive SIGKILL.
    let mut tasks = Vec::new();
    for (who, c) in [("a", ann.clone()), ("b", bob.clone())] {
        tasks.push(tokio::spawn(async move {
            let mut acked = 0u64;
            for i in 0..100 {
                c.send_text(room, &format!("{who}{i}")).await.expect("send");
                acked += 1;
            }
            acked
        }));
    }
    let mut acked = 0;
    for t in tasks {
        acked += t.await.expect("task");
    }
    node.kill9();
    node.start_again();
    let hist = bob.history_all(room, 0).await.expect("history");
    assert_eq!(hist.len() as u64, acked);
    let mut seqs: Vec<u64> = hist
        .iter()
        .map(|i| match i {
            Incoming::Message(r) => r.seq,
            Incoming::Rejected { reason, .. } => panic!("{reason}"),
            Incoming::Missing { count, .. } => panic!("{count} messages missing"),
            Incoming::BeforeYouJoined { seq, .. } => panic!("{seq} sent before bob joined"),
        })
        .collect();
    let n = seqs.len() as u64;
    seqs.dedup();
    assert_eq!(
        seqs,
        (1..=n).collect::<Vec<_>>(),
        "sequence numbers have no gaps or repeats"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_uploads_leave_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    let src = tmp.path().join("f.bin");
    make_file(&src, 8 * 1024 * 1024, 3);

    // 1. The client gives up halfway: the node discards the partial upload.
    let err = ann
        .send_file(room, &src, Box::new(|done, _| done < 3 * 1024 * 1024))
        .await
        .expect_err("stopped");
    assert!(
        matches!(
            err,
            onionchat_client::ClientError::Io { .. } | onionchat_client::ClientError::Connect(_)
        ),
        "{err}"
    );

    // 2. The node is killed in the middle of an upload.
    let sent = Arc::new(AtomicU64::new(0));
    let s2 = sent.clone();
    let a2 = ann.clone();
    let src2 = src.clone();
    let upload = tokio::spawn(async move {
        a2.send_file(
            room,
            &src2,
            Box::new(move |done, _| {
                s2.store(done, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(2));
                true
            }),
        )
        .await
    });
    while sent.load(Ordering::SeqCst) < 2 * 1024 * 1024 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    node.kill9();
    assert!(
        upload.await.expect("task").is_err(),
        "the upload cannot have succeeded"
    );
    node.start_again();

    // Nothing visible, no files left behind.
    let blobs = node.data_dir.join("blobs");
    let leftover: Vec<_> = std::fs::read_dir(&blobs)
        .expect("blobs")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .collect();
    assert!(leftover.is_empty(), "orphan blobs: {leftover:?}");
    assert_eq!(
        std::fs::read_dir(blobs.join("tmp")).expect("tmp").count(),
        0
    );
    assert!(
        bob.history_all(room, 0).await.expect("history").is_empty(),
        "no file message was posted"
    );
    assert_eq!(
        ann.node_status().await.expect("status").storage_bytes,
        node_db_bytes(&node)
    );

    // A complete upload after the crash works.
    onionchat_tests::file_round_trip(&ann, &bob, room, &src, &tmp.path().join("out.bin")).await;
}

fn node_db_bytes(node: &Node) -> u64 {
    std::fs::metadata(node.data_dir.join("onionchat.redb"))
        .expect("db")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_running_then_restore() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    for i in 0..20 {
        ann.send_text(room, &format!("m{i}")).await.expect("send");
    }
    let src = tmp.path().join("f.bin");
    make_file(&src, 300_000, 5);
    let (file_id, _) = ann
        .send_file(room, &src, Box::new(|_, _| true))
        .await
        .expect("upload");

    // Backup while the node runs and someone keeps writing.
    let writer = {
        let bob = bob.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                bob.send_text(room, &format!("during {i}"))
                    .await
                    .expect("send during backup");
            }
        })
    };
    let backup = tmp.path().join("box.backup");
    let pass = tmp.path().join("backup-passphrase");
    std::fs::write(&pass, "a good long passphrase\n").expect("passphrase");
    let wrong = tmp.path().join("wrong-passphrase");
    std::fs::write(&wrong, "not the passphrase").expect("passphrase");
    let (backup_s, pass_s) = (backup.to_str().expect("path"), pass.to_str().expect("path"));
    onionchat_tests::node_cmd_ok(
        &node.data_dir,
        &["backup", "--passphrase-file", pass_s, backup_s],
    );
    writer.await.expect("writer");
    node.stop();

    // The backup is the owner's only, and sealed: not one stretch of the
    // stored file, nor the onion service's key material, is in it.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup)
            .expect("backup")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "backup mode {mode:o}");
        let sealed = std::fs::read(&backup).expect("backup");
        let blob = std::fs::read(node.data_dir.join("blobs").join(file_id.to_hex())).expect("blob");
        assert!(
            !sealed.windows(32).any(|w| w == &blob[1000..1032]),
            "stored bytes appear in the backup in the clear"
        );
        let invite_code = onionchat_proto::encode(&"ann").expect("enc");
        assert!(
            !sealed.windows(4).any(|w| w == &invite_code[..]),
            "usernames in the clear"
        );
    }

    // Restore refuses to run over a live node's dir and over existing data.
    let restored = tmp.path().join("restored");
    let run = |args: &[&str]| onionchat_tests::node_cmd(&restored, args);
    // A wrong passphrase restores nothing and says why.
    let out = run(&[
        "restore",
        "--passphrase-file",
        wrong.to_str().expect("path"),
        backup_s,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !restored.join("onionchat.redb").exists(),
        "nothing restored"
    );
    let out = run(&["restore", "--passphrase-file", pass_s, backup_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = run(&["restore", "--passphrase-file", pass_s, backup_s]);
    assert!(
        !again.status.success(),
        "restoring over existing data needs --force"
    );

    let mut node2 = Node::start(&restored, &[]);
    assert!(
        node2.owner_invite.is_none(),
        "the restored node already has its owner"
    );
    let ann2 = open(&node2, &tmp.path().join("ann"));
    let hist = ann2.history_all(room, 0).await.expect("history");
    // The 20 messages and the file message from before the backup are all there
    // (writes during the backup may or may not be in the snapshot).
    assert!(hist.len() >= 21, "{} messages", hist.len());
    let dest = tmp.path().join("restored.bin");
    ann2.download_file(
        file_id,
        &dest,
        Some(&sha256_file(&src)),
        Box::new(|_, _| true),
    )
    .await
    .expect("file restored");
    // Errors still mean what they meant.
    assert_eq!(
        ann2.download_file(
            onionchat_proto::wire::FileId::random(),
            &dest,
            None,
            Box::new(|_, _| true)
        )
        .await
        .expect_err("unknown")
        .code(),
        Some(ErrorCode::NotFound)
    );
    node2.stop();
}
