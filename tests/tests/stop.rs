//! The node stops when asked, whatever Tor is doing: with Tor stuck (its
//! directory authorities unreachable, as on a filtered network) SIGTERM
//! ends it with status 0, and what was acknowledged before is served again
//! after the restart.

use std::process::Command;
use std::time::Instant;

use onionchat_client::{Client, Incoming};
use onionchat_proto::wire::MessageContent;
use onionchat_tests::{Node, PASS, dead_network, two_friends};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_node_while_tor_is_stuck_and_nothing_acknowledged_is_lost() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("node");
    let mut node = Node::start(&data, &[]);
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    let said: Vec<String> = (1..=5).map(|i| format!("before the stop {i}")).collect();
    for t in &said {
        ann.send_text(room, t).await.expect("acknowledged");
    }
    bob.save().expect("save");
    drop((ann, bob));
    node.stop();

    // The same box on a network where Tor cannot get anywhere.
    let mut stuck = Node::start_onion(&data, &dead_network(tmp.path()), &[]);
    // Let Arti get properly stuck waiting for a directory.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let pid = stuck.pid().expect("pid");
    let asked = Instant::now();
    let sent = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(sent.success());
    // Before: it printed that it was shutting down and then waited for Tor
    // for good. 30 s is only how long this test is willing to wait.
    let status = stuck
        .wait_exit(30)
        .expect("the node did not stop after SIGTERM while Tor was stuck");
    eprintln!("stopped {:?} after SIGTERM", asked.elapsed());
    assert!(status.success(), "exit status {status:?}");

    // Started again, it serves everything that was acknowledged.
    let node = Node::start(&data, &[]);
    let conn = node.connector();
    let bob = Client::open(&tmp.path().join("bob"), PASS, move |_| Ok(conn)).expect("bob");
    let texts: Vec<String> = bob
        .history_all(room, 0)
        .await
        .expect("history")
        .into_iter()
        .filter_map(|i| match i {
            Incoming::Message(r) => match r.content {
                MessageContent::Text { text } => Some(text),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(texts, said);
}
