//! The short form of the load run (`onionchat_tests::load`; the full one
//! is `onionchat-bench load`, 500 clients for 60 s): clients in rooms of 2
//! to 20 chat while others never read and others vanish mid-frame.

use std::time::Duration;

use onionchat_tests::load::{LoadOptions, node_config, run};
use onionchat_tests::{Node, config_arg};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatters_are_served_while_others_stall_or_vanish() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = config_arg(tmp.path(), node_config());
    let node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let opts = LoadOptions {
        clients: 40,
        slow: 3,
        vanishing: 3,
        duration: Duration::from_secs(6),
        send_every: Duration::from_millis(500),
        key_cache: None,
    };
    let r = run(&node, &opts).await;
    eprintln!("{r:#?}");
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert!(
        r.rooms >= 5 && r.room_sizes.0 >= 2 && r.room_sizes.1 <= 20,
        "{r:#?}"
    );
    assert!(r.sent > 0);
    assert_eq!(r.acked, r.sent, "every message acknowledged");
    assert_eq!(
        r.delivered, r.expected_deliveries,
        "every well-behaved member got every message"
    );
    assert!(r.vanished >= 3, "{r:#?}");
    assert!(
        node.pid()
            .is_some_and(|p| onionchat_tests::rss_kib(p).is_some()),
        "the node is up"
    );
}
