//! Store tests against a real redb file in a temp dir.

use std::sync::Arc;

use onionchat_proto::crypto::room_key::make_grant;
use onionchat_proto::crypto::roster::{first_roster, roster_hash, sign_roster};
use onionchat_proto::crypto::{IdentityKey, RoomKey, message};
use onionchat_proto::wire::{
    AcceptFriendRequest, MessageContent, MsgId, RoomId, RoomKind, RosterMember, SignupBody, UserId,
};

/// A fresh position for each sealed test message (the node does not check
/// counters; receivers do).
fn at() -> message::Position {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    message::Position {
        stream: 1,
        counter: N.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        roster: onionchat_proto::wire::RosterRef {
            version: 1,
            hash: onionchat_proto::wire::RosterHash([7; 32]),
        },
    }
}

use super::Store;
use crate::hub::Hub;

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, Arc::new(Hub::default())).expect("open store")
}

/// Open the store in `dir` again once the dropped one's writer thread has
/// drained and released the file.
async fn reopen(dir: &std::path::Path) -> Store {
    for _ in 0..100 {
        if let Ok(s) = Store::open(dir, Arc::new(Hub::default())) {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the store in {} was not released", dir.display())
}

async fn signup(store: &Store, key: &IdentityKey, name: &str) -> UserId {
    let body = SignupBody {
        v: onionchat_proto::PROTOCOL_VERSION,
        username: name.into(),
        public_key: key.public().spki_der().to_vec(),
        invite: None,
        node: store.node_id().to_string(),
    };
    store
        .signup(body, key.fingerprint(), true)
        .await
        .expect("signup")
        .user_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = open(tmp.path());
    let before = store.write_stats();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.create_invite(60_000, Some(format!("n{i}")), false).await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("invite");
    }
    let after = store.write_stats();
    assert_eq!(after.writes - before.writes, 300);
    assert!(
        after.commits - before.commits < 300,
        "group commit batched nothing: {after:?}"
    );
    assert_eq!(store.list_invites().expect("list").len(), 300);
    // Everything is still there after reopening the file (once the writer
    // thread has drained and released it).
    drop(store);
    let store = reopen(tmp.path()).await;
    assert_eq!(store.list_invites().expect("list").len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_sends_and_retention() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = open(tmp.path());
    let (ka, kb) = (
        IdentityKey::generate().expect("key"),
        IdentityKey::generate().expect("key"),
    );
    let a = signup(&store, &ka, "ann").await;
    let b = signup(&store, &kb, "bob").await;
    let req = store
        .send_friend_request(a, "bob".into())
        .await
        .expect("request");
    let key = RoomKey::generate();
    let (room_id, roster, grants) = direct_room_for((a, &ka), (b, &kb), &key);
    store
        .accept_friend_request(
            b,
            req.id,
            AcceptFriendRequest {
                room_id,
                roster,
                key_grants: grants,
            },
        )
        .await
        .expect("accept");
    let text = MessageContent::Text { text: "hi".into() };
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let env =
            message::seal(&ka, room_id, 1, &key, MsgId::random(), at(), 0, &text).expect("seal");
        let body = message::decode(&env).expect("decode");
        seqs.push(
            store
                .send_message(a, ka.fingerprint().0, body, env, None)
                .await
                .expect("send")
                .seq,
        );
    }
    assert_eq!(seqs, vec![1, 2, 3]);
    let ok = store.check().expect("check");
    assert!(ok.is_healthy(), "{ok:?}");
    assert_eq!((ok.rooms, ok.messages), (1, 3));
    // A hole in the middle of a room is found (a copy of message 2 is put
    // back afterwards).
    let txn = store.db.begin_write().expect("txn");
    let two = txn
        .open_table(super::schema::MESSAGES)
        .expect("table")
        .remove((room_id.0, 2))
        .expect("remove")
        .expect("present")
        .value()
        .to_vec();
    txn.commit().expect("commit");
    let holed = store.check().expect("check");
    // The hole, and the sender's usage that no longer adds up to what is
    // stored.
    assert_eq!(holed.problems.len(), 2, "{holed:?}");
    assert!(
        holed.problems[0].contains("message 3 follows 1"),
        "{holed:?}"
    );
    assert!(
        holed.problems[1].contains("message quota usage"),
        "{holed:?}"
    );
    let txn = store.db.begin_write().expect("txn");
    txn.open_table(super::schema::MESSAGES)
        .expect("table")
        .insert((room_id.0, 2), two.as_slice())
        .expect("insert");
    txn.commit().expect("commit");
    let env = message::seal(&ka, room_id, 1, &key, MsgId::random(), at(), 0, &text).expect("seal");
    let body = message::decode(&env).expect("decode");
    let first = store
        .send_message(a, ka.fingerprint().0, body.clone(), env.clone(), None)
        .await
        .expect("send");
    let again = store
        .send_message(a, ka.fingerprint().0, body, env, None)
        .await
        .expect("resend");
    assert_eq!((first.seq, again.seq, again.duplicate), (4, 4, true));
    assert_eq!(
        store
            .history(b, room_id, 0, 100)
            .expect("history")
            .messages
            .len(),
        4
    );
    // Retention: everything older than the cutoff goes; the counter stays.
    let removed = store
        .prune_messages(onionchat_proto::now_ms() + 1000)
        .await
        .expect("prune");
    assert_eq!(removed, 4);
    // Retention leaves the counter: the check accepts a run that was cut at
    // its start, with nothing stored.
    let after_prune = store.check().expect("check");
    assert!(after_prune.is_healthy(), "{after_prune:?}");
    assert_eq!(after_prune.messages, 0);
    assert!(
        store
            .history(b, room_id, 0, 100)
            .expect("history")
            .messages
            .is_empty()
    );
    assert_eq!(store.message_counters().expect("counters").0, 4);

    // Files: announcing reserves quota, retention removes record, quota
    // and blob, and the usage on reopening equals the files present.
    store.set_user_quota(1 << 30);
    let limits = super::files::FileLimits {
        max_file_bytes: 1 << 30,
    };
    let mut announced = Vec::new();
    for len in [1000u64, 5000] {
        let id = onionchat_proto::wire::FileId::random();
        let (header, _) = onionchat_proto::crypto::file_stream::FileSealer::start(
            &ka, room_id, 1, &key, id, len, 65536,
        )
        .expect("sealer");
        let info = store
            .announce_file(a, ka.public(), room_id, header, limits)
            .await
            .expect("announce");
        announced.push((id, info.ciphertext_len));
    }
    let reserved: u64 = announced.iter().map(|(_, l)| l).sum();
    assert_eq!(store.blob_bytes().expect("usage"), reserved);
    // The first one finishes (its blob in place, then the record).
    let (done, done_len) = announced[0];
    std::fs::write(store.blob_path(done), vec![0u8; done_len as usize]).expect("blob");
    store.complete_file(a, done).await.expect("complete");
    // Reopened: the unfinished one is dropped, usage recounted.
    drop(store);
    let store = reopen(tmp.path()).await;
    assert_eq!(store.blob_bytes().expect("usage"), done_len);
    // The consistency check sees a healthy store, then each kind of damage.
    let healthy = store.check().expect("check");
    assert!(healthy.is_healthy(), "{healthy:?}");
    assert_eq!(
        (healthy.rooms, healthy.files, healthy.file_bytes),
        (1, 1, done_len)
    );
    let orphan = store.blob_dir().join("00112233445566778899aabbccddeeff");
    std::fs::write(&orphan, b"left behind").expect("orphan");
    let blob = std::fs::read(store.blob_path(done)).expect("blob");
    std::fs::write(store.blob_path(done), &blob[..10]).expect("truncate");
    let damaged = store.check().expect("check");
    assert_eq!(damaged.problems.len(), 2, "{damaged:?}");
    assert!(damaged.problems.iter().any(|p| p.contains("orphan")));
    assert!(
        damaged
            .problems
            .iter()
            .any(|p| p.contains("blob has 10 bytes"))
    );
    std::fs::remove_file(&orphan).expect("rm orphan");
    std::fs::write(store.blob_path(done), &blob).expect("restore");
    // Retention takes the finished file: record, usage and blob.
    let removed = store
        .prune_files(onionchat_proto::now_ms() + 1000)
        .await
        .expect("prune files");
    assert_eq!(removed, 1);
    assert_eq!(store.blob_bytes().expect("usage"), 0);
    assert!(!store.blob_path(done).exists());
    assert!(store.file_for(a, done).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_requests_are_indexed_and_a_schema_2_database_gets_the_index() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = open(tmp.path());
    let (ka, kb) = (
        IdentityKey::generate().expect("key"),
        IdentityKey::generate().expect("key"),
    );
    let a = signup(&store, &ka, "ann").await;
    signup(&store, &kb, "bob").await;
    store
        .send_friend_request(a, "bob".into())
        .await
        .expect("request");
    drop(store);
    // Make it a schema-2 database: no index table, version 2.
    let db = loop {
        match redb::Database::create(super::db_path(tmp.path())) {
            Ok(db) => break db,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    };
    let w = db.begin_write().expect("write");
    assert!(
        w.delete_table(super::schema::PENDING_PAIRS)
            .expect("delete")
    );
    w.open_table(super::schema::META)
        .expect("meta")
        .insert("schema_version", 2)
        .expect("version");
    w.commit().expect("commit");
    drop(db);
    // Reopened, it is migrated: the pending request is found again.
    let store = open(tmp.path());
    let err = store
        .send_friend_request(a, "bob".into())
        .await
        .expect_err("duplicate");
    assert_eq!(
        err.to_api_error().code,
        onionchat_proto::wire::ErrorCode::Conflict
    );
    let b = store.user_by_name("bob").expect("bob").0;
    let err = store
        .send_friend_request(b, "ann".into())
        .await
        .expect_err("the other way round");
    assert!(err.to_api_error().message.contains("accept it instead"));
}

/// The 1:1 room ann and bob would get when bob accepts: its id, bob's
/// first roster and a grant for each (all signed by bob).
fn direct_room_for(
    (a, ka): (UserId, &IdentityKey),
    (b, kb): (UserId, &IdentityKey),
    key: &RoomKey,
) -> (
    RoomId,
    onionchat_proto::wire::Signed,
    Vec<onionchat_proto::wire::Signed>,
) {
    let room_id = RoomId::random();
    let member = |user, username: &str, k: &IdentityKey| RosterMember {
        user,
        username: username.into(),
        fp: k.fingerprint(),
    };
    let roster = first_roster(
        room_id,
        RoomKind::Direct,
        b,
        kb.fingerprint(),
        vec![member(a, "ann", ka), member(b, "bob", kb)],
        0,
    );
    let roster = sign_roster(kb, &roster).expect("roster");
    let hash = roster_hash(&roster);
    let grants = vec![
        make_grant(kb, room_id, 1, hash, a, ka.public(), key).expect("grant"),
        make_grant(kb, room_id, 1, hash, b, kb.public(), key).expect("grant"),
    ];
    (room_id, roster, grants)
}

fn rows<K: redb::Key + 'static, V: redb::Value + 'static>(
    store: &Store,
    table: redb::TableDefinition<'static, K, V>,
) -> u64 {
    use redb::ReadableTableMetadata;
    store
        .read()
        .expect("read")
        .open_table(table)
        .expect("table")
        .len()
        .expect("len")
}

/// Friend requests that are closed are forgotten (a send/cancel loop
/// stores nothing); a grant set that is refused stores none of its grants;
/// rosters and grants count against their uploader's quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_writes_are_charged_and_refusals_store_nothing() {
    use super::schema::{FRIEND_REQUESTS, GRANTS, ROOM_USAGE, ROSTERS};
    use onionchat_proto::wire::ErrorCode;
    let code = |e: crate::error::Failure| e.to_api_error().code;
    let tmp = tempfile::tempdir().expect("tmp");
    let store = open(tmp.path());
    let (ka, kb) = (
        IdentityKey::generate().expect("key"),
        IdentityKey::generate().expect("key"),
    );
    let a = signup(&store, &ka, "ann").await;
    let b = signup(&store, &kb, "bob").await;

    for _ in 0..50 {
        let r = store
            .send_friend_request(a, "bob".into())
            .await
            .expect("request");
        let closed = store
            .close_friend_request(a, r.id, false)
            .await
            .expect("cancel");
        assert_eq!(
            closed.state,
            onionchat_proto::wire::FriendRequestState::Cancelled
        );
        let again = store.close_friend_request(a, r.id, false).await;
        assert_eq!(again.map_err(code).err(), Some(ErrorCode::NotFound));
    }
    assert_eq!(rows(&store, FRIEND_REQUESTS), 0, "closed requests are gone");

    let req = store
        .send_friend_request(a, "bob".into())
        .await
        .expect("request");
    let accept = |room: (RoomId, _, Vec<_>)| AcceptFriendRequest {
        room_id: room.0,
        roster: room.1,
        key_grants: room.2,
    };
    // Two grants for bob (the second in place of ann's): refused, and the
    // first of them was not left behind.
    let (id, roster, mut grants) = direct_room_for((a, &ka), (b, &kb), &RoomKey::generate());
    grants[0] = grants[1].clone();
    let err = store
        .accept_friend_request(b, req.id, accept((id, roster, grants)))
        .await
        .expect_err("two grants for one member");
    assert_eq!(code(err), ErrorCode::Invalid);
    assert_eq!(
        rows(&store, GRANTS),
        0,
        "no grant of a refused set is stored"
    );

    // A quota one byte short of the room: refused, nothing stored.
    let room = direct_room_for((a, &ka), (b, &kb), &RoomKey::generate());
    let size = (onionchat_proto::encode(&room.1).expect("enc").len()
        + room
            .2
            .iter()
            .map(|g| onionchat_proto::encode(g).expect("enc").len())
            .sum::<usize>()) as u64;
    store.set_user_quota(size - 1);
    let err = store
        .accept_friend_request(b, req.id, accept(room.clone()))
        .await
        .expect_err("over quota");
    assert_eq!(code(err), ErrorCode::QuotaExceeded);
    assert_eq!(rows(&store, GRANTS) + rows(&store, ROSTERS), 0);
    assert_eq!(rows(&store, ROOM_USAGE), 0);

    // Exactly enough: stored and charged to bob, who signed it all.
    store.set_user_quota(size);
    store
        .accept_friend_request(b, req.id, accept(room))
        .await
        .expect("accept");
    let r = store.read().expect("read");
    let usage = r.open_table(ROOM_USAGE).expect("usage");
    assert_eq!(usage.get(b.0).expect("get").map(|g| g.value()), Some(size));
    assert_eq!(usage.get(a.0).expect("get").map(|g| g.value()), None);
    assert!(store.check().expect("check").is_healthy());
}

/// A schema-3 store (no room usage table, message usage out of date) is
/// brought to schema 4 with both counted from what is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_3_database_gets_its_usage_counted() {
    use super::schema::{META, MSG_USAGE, ROOM_USAGE};
    let tmp = tempfile::tempdir().expect("tmp");
    let store = open(tmp.path());
    let (ka, kb) = (
        IdentityKey::generate().expect("key"),
        IdentityKey::generate().expect("key"),
    );
    let a = signup(&store, &ka, "ann").await;
    let b = signup(&store, &kb, "bob").await;
    let req = store
        .send_friend_request(a, "bob".into())
        .await
        .expect("request");
    let (room_id, roster, key_grants) = direct_room_for((a, &ka), (b, &kb), &RoomKey::generate());
    store
        .accept_friend_request(
            b,
            req.id,
            AcceptFriendRequest {
                room_id,
                roster,
                key_grants,
            },
        )
        .await
        .expect("accept");
    assert!(store.check().expect("check").is_healthy());
    drop(store);
    let db = loop {
        match redb::Database::create(super::db_path(tmp.path())) {
            Ok(db) => break db,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    };
    let w = db.begin_write().expect("write");
    assert!(w.delete_table(ROOM_USAGE).expect("delete"));
    w.open_table(MSG_USAGE)
        .expect("msg usage")
        .insert(a.0, 12_345)
        .expect("wrong count");
    w.open_table(META)
        .expect("meta")
        .insert("schema_version", 3)
        .expect("version");
    w.commit().expect("commit");
    drop(db);
    let store = open(tmp.path());
    let report = store.check().expect("check");
    assert!(report.is_healthy(), "{:?}", report.problems);
    assert_eq!(rows(&store, ROOM_USAGE), 1, "bob's room is counted");
}
