//! A disk that fails under a commit (here: a file-size limit reached while
//! the database grows, the same `write()` error a full or dying SD card
//! gives) must not wedge the node: redb refuses every later write until the
//! database is reopened, so the node stops, exits non-zero for its service
//! manager, and after a restart every acknowledged message is there once,
//! in order.

use std::time::Duration;

use onionchat_tests::{Node, texts, two_friends};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_stops_the_node_and_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().expect("tmp");
    // The node runs with SIGXFSZ ignored, so a write past the limit fails
    // with EFBIG (an I/O error) instead of killing the process.
    let wrapper = tmp.path().join("node-with-fsize-errors");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ntrap '' XFSZ\nexec {} \"$@\"\n",
            onionchat_tests::bin_path("onionchat-node").display()
        ),
    )
    .expect("wrapper");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    let cfg_arg = onionchat_tests::config_arg(
        tmp.path(),
        "[rate]\nmessages_per_sec = 100000.0\nmessage_burst = 100000.0\n\
         requests_per_sec = 100000.0\nrequest_burst = 100000.0\n",
    );
    let data = tmp.path().join("node");
    let mut node = Node::start_through(&wrapper, &data, &[&cfg_arg]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;

    let big = |i: usize| format!("{i:05} {}", "x".repeat(90_000));
    let mut acked = Vec::new();
    for i in 0..10 {
        ann.send_text(room, &big(i))
            .await
            .expect("send before the limit");
        acked.push(big(i));
    }

    // From now on the database file cannot grow.
    let db = data.join("onionchat.redb");
    let size = std::fs::metadata(&db).expect("db").len();
    let pid = node.pid().expect("pid");
    let st = std::process::Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--fsize={size}"))
        .status()
        .expect("prlimit");
    assert!(st.success(), "prlimit failed");

    let mut refused = None;
    for i in 10..3000 {
        match ann.send_text(room, &big(i)).await {
            Ok(_) => acked.push(big(i)),
            Err(e) => {
                refused = Some(e.to_string());
                break;
            }
        }
    }
    let refused = refused.expect("the database never had to grow past its limit");
    let Some(status) = node.wait_exit(60) else {
        let log = std::fs::read_to_string(data.with_extension("log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(12).collect();
        panic!("the node kept running on a failed database ({refused}); log: {tail:#?}");
    };
    assert!(
        !status.success(),
        "a storage failure must end the node with an error status, got {status}"
    );
    let log = std::fs::read_to_string(data.with_extension("log")).expect("log");
    assert!(
        log.contains("storage failed"),
        "the log says why the node stopped: {refused}"
    );

    // What a service manager does: start it again (without the limit).
    node.start_again();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let bob = {
        drop(bob);
        onionchat_tests::open(&node, &tmp.path().join("bob"))
    };
    let got = texts(&bob.history_all(room, 0).await.expect("history"));
    let got: Vec<String> = got.into_iter().filter(|t| t.len() > 1000).collect();
    // Every acknowledged message, once and in order; at most the one whose
    // answer was lost may follow them.
    assert!(
        got.len() == acked.len() || got.len() == acked.len() + 1,
        "acked {} messages, history has {}",
        acked.len(),
        got.len()
    );
    assert_eq!(got[..acked.len()], acked[..], "acked messages changed");
    // And the node takes writes again.
    let ann = {
        drop(ann);
        onionchat_tests::open(&node, &tmp.path().join("ann"))
    };
    ann.send_text(room, "after the restart")
        .await
        .expect("send after restart");
}
