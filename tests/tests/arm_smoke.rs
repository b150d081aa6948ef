//! The node built for a Raspberry Pi (aarch64), run under qemu-user,
//! serving real clients on loopback: sign-up, a friendship, a message each
//! way, and the box-side status command.
//!
//! `scripts/test` builds the aarch64 node (`cross/build
//! aarch64-unknown-linux-gnu --debug`) and runs this with
//! `ONIONCHAT_NODE_CMD="qemu-aarch64-static -L /usr/aarch64-linux-gnu
//! <binary>"`; a plain `cargo test` lists it as ignored (it needs that
//! binary), never as passed. The full ARM suites: `cross/test-arm`.

use onionchat_tests::{Node, node_cmd_ok, texts, two_friends};

/// (qemu program, ELF machine number) of the boards we build for.
const ARCHES: [(&str, u16); 2] = [("qemu-aarch64", 183), ("qemu-arm", 40)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the ARM node; scripts/test runs it with ONIONCHAT_NODE_CMD set"]
async fn the_arm_node_serves_clients_under_emulation() {
    let spec = std::env::var("ONIONCHAT_NODE_CMD")
        .expect("set ONIONCHAT_NODE_CMD to `qemu-aarch64-static -L … onionchat-node`");
    let qemu = spec.split_whitespace().next().expect("program");
    let binary = spec.split_whitespace().last().expect("binary");
    let (emulator, machine) = ARCHES
        .into_iter()
        .find(|(q, _)| qemu.contains(q))
        .expect("ONIONCHAT_NODE_CMD starts with qemu-aarch64 or qemu-arm");
    let elf = std::fs::read(binary).expect("read the node binary");
    assert_eq!(&elf[..4], b"\x7fELF", "{binary} is not an ELF file");
    assert_eq!(
        u16::from_le_bytes([elf[18], elf[19]]),
        machine,
        "{binary} is not a binary for {emulator}"
    );

    let tmp = tempfile::tempdir().expect("tmp");
    let mut node = Node::start(&tmp.path().join("node"), &[]);
    let pid = node.pid().expect("pid");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("exe");
    assert!(
        exe.to_string_lossy().contains(emulator),
        "the node runs as {} — not under qemu",
        exe.display()
    );
    let (ann, bob, room) = two_friends(&node, tmp.path()).await;
    ann.send_text(room, "hello from x86").await.expect("send");
    bob.send_text(room, "hello from the pi's node")
        .await
        .expect("send");
    assert_eq!(
        texts(&ann.history_all(room, 0).await.expect("history")),
        ["hello from x86", "hello from the pi's node"]
    );
    let status = node_cmd_ok(&node.data_dir, &["status"]);
    assert!(status.contains("users:"), "{status}");
    node.stop();
}
