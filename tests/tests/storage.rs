//! What a member can do to the box's storage, and what it must not: the
//! quota holds from the moment a file is announced, one file cannot be
//! uploaded twice at once, uploaders can delete, a nearly full disk
//! refuses new data but keeps reads going, message ids cannot be borrowed,
//! and history pages stay small whatever is in them.

use std::path::Path;
use std::time::Duration;

use onionchat_proto::wire::{ErrorCode, History, MsgId, SendAck, ServerFrame};
use onionchat_tests::Node;
use onionchat_tests::pair::Pair;
use onionchat_tests::raw::{self, expect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(dir: &Path, toml: &str) -> String {
    onionchat_tests::config_arg(dir, &format!("open_registration = true\n{toml}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_counts_announced_files_and_uploaders_can_delete() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = config(tmp.path(), "user_quota_bytes = 300000\n");
    let mut node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let p = Pair::new(&node.addr).await;

    // Announced, never uploaded: it still counts, so a second one that
    // would pass the quota is refused before any byte is sent.
    let (first, _, r) = p.announce(&p.ann, 200_000).await;
    assert_eq!(r.status, 201);
    let (_, _, r) = p.announce(&p.ann, 200_000).await;
    expect(&r, 413, ErrorCode::QuotaExceeded);

    // Only the uploader deletes; deleting frees the quota.
    let path = format!("/v1/files/{first}");
    expect(
        &p.call(&p.bob, "DELETE", &path).await,
        403,
        ErrorCode::Forbidden,
    );
    assert_eq!(p.call(&p.ann, "DELETE", &path).await.status, 204);
    expect(
        &p.call(&p.ann, "DELETE", &path).await,
        404,
        ErrorCode::NotFound,
    );
    let (second, bytes, r) = p.announce(&p.ann, 200_000).await;
    assert_eq!(r.status, 201, "{:?}", r.code());
    assert_eq!(p.upload(&p.ann, second, bytes.clone()).await.status, 200);
    let got = p.call(&p.bob, "GET", &format!("/v1/files/{second}")).await;
    assert_eq!((got.status, got.body.len()), (200, bytes.len()));

    // A finished file: bob hears that it went, and it is gone.
    let mut ws = raw::websocket(&node.addr, &p.bob.token).await;
    assert!(matches!(
        raw::next_frame(&mut ws).await,
        Some(ServerFrame::Hello { .. })
    ));
    let path = format!("/v1/files/{second}");
    assert_eq!(p.call(&p.ann, "DELETE", &path).await.status, 204);
    let frame = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match raw::next_frame(&mut ws).await {
                Some(ServerFrame::FileDeleted { file_id, room_id }) => break (file_id, room_id),
                Some(_) => continue,
                None => panic!("socket closed"),
            }
        }
    })
    .await
    .expect("file_deleted frame");
    assert_eq!(frame, (second, p.room));
    expect(
        &p.call(&p.bob, "GET", &path).await,
        404,
        ErrorCode::NotFound,
    );
    let blobs: Vec<_> = std::fs::read_dir(node.data_dir.join("blobs"))
        .expect("blobs")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .collect();
    assert!(blobs.is_empty(), "the blob is gone too: {blobs:?}");

    // An announcement left unfinished is dropped on restart and its
    // reservation with it (usage is recounted from what is there).
    let (_, _, r) = p.announce(&p.ann, 250_000).await;
    assert_eq!(r.status, 201);
    let (_, _, r) = p.announce(&p.ann, 250_000).await;
    expect(&r, 413, ErrorCode::QuotaExceeded);
    node.restart();
    let p = Pair {
        addr: node.addr.clone(),
        ..p
    };
    let (_, _, r) = p.announce(&p.ann, 250_000).await;
    assert_eq!(r.status, 201, "the unfinished reservation was released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_upload_of_a_file_in_flight_is_refused_and_harms_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[&config(tmp.path(), "")]);
    let p = Pair::new(&node.addr).await;
    let (id, bytes, r) = p.announce(&p.ann, 300_000).await;
    assert_eq!(r.status, 201);

    // The first upload sends half its bytes and pauses.
    let mut slow = tokio::net::TcpStream::connect(&node.addr)
        .await
        .expect("connect");
    let head = format!(
        "PUT /v1/files/{id} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n\
         content-length: {}\r\n\r\n",
        node.addr,
        p.ann.token,
        bytes.len()
    );
    slow.write_all(head.as_bytes()).await.expect("head");
    let half = bytes.len() / 2;
    slow.write_all(&bytes[..half]).await.expect("half");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A second upload of the same file meanwhile is refused.
    expect(
        &p.upload(&p.ann, id, bytes.clone()).await,
        409,
        ErrorCode::Conflict,
    );
    expect(
        &p.call(&p.ann, "DELETE", &format!("/v1/files/{id}")).await,
        409,
        ErrorCode::Conflict,
    );

    // The first one finishes and the file is whole.
    slow.write_all(&bytes[half..]).await.expect("rest");
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut answer))
        .await
        .expect("answer in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let got = p.call(&p.bob, "GET", &format!("/v1/files/{id}")).await;
    assert_eq!(got.status, 200);
    assert!(got.body == bytes, "the stored file is the uploaded one");
    // And now it is complete, another upload is a conflict, not a replacement.
    expect(&p.upload(&p.ann, id, bytes).await, 409, ErrorCode::Conflict);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nearly_full_disk_refuses_new_data_and_keeps_reads_going() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("node");
    let node = Node::start(&data, &[&config(tmp.path(), "")]);
    let p = Pair::new(&node.addr).await;
    assert_eq!(p.send(&p.ann, "before").await.status, 201);
    drop(node);

    // The same box, now with less free space than its reserve (a reserve
    // larger than any disk stands in for a full card).
    let cfg = config(tmp.path(), "min_free_mb = 1000000000\n");
    let node = Node::start(&data, &[&cfg]);
    let p = Pair {
        addr: node.addr.clone(),
        ..p
    };
    let r = p.send(&p.ann, "after").await;
    expect(&r, 507, ErrorCode::StorageFull);
    let (_, _, r) = p.announce(&p.ann, 1000).await;
    expect(&r, 507, ErrorCode::StorageFull);
    // Reading and logging in go on.
    let h = p
        .call(&p.bob, "GET", &format!("/v1/rooms/{}/messages", p.room))
        .await;
    assert_eq!(h.status, 200);
    let h: History = onionchat_proto::decode(&h.body).expect("history");
    assert_eq!(h.messages.len(), 1, "the refused message was not stored");
    let login = raw::signed_login(&node.addr, &p.bob.key, "bob").await;
    assert_eq!(
        raw::post_cbor(&node.addr, "/v1/auth/login", None, login)
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_id_belongs_to_its_sender_and_its_content() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[&config(tmp.path(), "")]);
    let p = Pair::new(&node.addr).await;
    let id = MsgId::random();
    let body = p.seal(&p.ann, id, "ann's message");
    let r = p.post_message(&p.ann, body.clone()).await;
    assert_eq!(r.status, 201);
    let first: SendAck = onionchat_proto::decode(&r.body).expect("ack");
    // The same message again: the original ack, flagged.
    let again: SendAck =
        onionchat_proto::decode(&p.post_message(&p.ann, body).await.body).expect("ack");
    assert!(again.duplicate && again.seq == first.seq);
    // Bob borrowing ann's id is refused, not told "duplicate" of her message.
    let r = p.post_message(&p.bob, p.seal(&p.bob, id, "bob's")).await;
    expect(&r, 409, ErrorCode::Conflict);
    // Ann reusing her id for other content is refused too.
    let r = p.post_message(&p.ann, p.seal(&p.ann, id, "other")).await;
    expect(&r, 409, ErrorCode::Conflict);
    let h = p
        .call(&p.bob, "GET", &format!("/v1/rooms/{}/messages", p.room))
        .await;
    let h: History = onionchat_proto::decode(&h.body).expect("history");
    assert_eq!(h.messages.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_are_capped_in_bytes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = config(
        tmp.path(),
        "[rate]\nmessages_per_sec = 1000.0\nmessage_burst = 1000.0\n",
    );
    let node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let p = Pair::new(&node.addr).await;
    let big = "m".repeat(100_000);
    for _ in 0..40 {
        assert_eq!(p.send(&p.ann, &big).await.status, 201);
    }
    let cap = onionchat_proto::limits::MAX_HISTORY_BYTES;
    let (mut after, mut seen, mut pages) = (0, 0, 0);
    loop {
        let r = p
            .call(
                &p.bob,
                "GET",
                &format!("/v1/rooms/{}/messages?after={after}&limit=500", p.room),
            )
            .await;
        assert_eq!(r.status, 200);
        assert!(
            r.body.len() <= cap + 4096,
            "a page of {} bytes (cap {cap})",
            r.body.len()
        );
        let h: History =
            onionchat_proto::decode_with(&r.body, onionchat_proto::Limits::with_max_len(cap * 2))
                .expect("history");
        assert!(!h.messages.is_empty());
        seen += h.messages.len();
        after = h.messages.last().map(|m| m.seq).expect("last");
        pages += 1;
        if !h.has_more {
            break;
        }
    }
    assert_eq!(seen, 40);
    assert!(pages >= 2, "40 × 100 kB cannot fit one page");
}
