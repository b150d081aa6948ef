//! Every class of bad input gets the right status and error code, and
//! nothing that failed validation is stored.

use futures_util::{SinkExt, StreamExt};
use onionchat_proto::crypto::{IdentityKey, RoomKey, SignContext, message};
use onionchat_proto::wire::{
    ClientFrame, ErrorCode, MessageContent, MsgId, RoomId, SendMessage, ServerFrame, SignupBody,
    SignupResponse,
};
use onionchat_proto::{PROTOCOL_VERSION, encode, now_ms};
use onionchat_tests::raw::expect;
use onionchat_tests::raw::{self, RawResponse};
use onionchat_tests::{Node, config_arg as config, join, join_owner};
use tokio_tungstenite::tungstenite::Message;

/// Sign up and log in with a fresh key over raw HTTP.
async fn raw_user(node: &Node, name: &str, invite: Option<String>) -> (IdentityKey, String) {
    let key = IdentityKey::generate().expect("keygen");
    let r = raw::signup(&node.addr, &key, name, invite).await;
    assert_eq!(r.status, 200, "{:?}", r.code());
    let _: SignupResponse = onionchat_proto::decode(&r.body).expect("signup answer");
    let token = login(node, &key, name).await.expect("login");
    (key, token)
}

async fn login(node: &Node, key: &IdentityKey, name: &str) -> Result<String, RawResponse> {
    let bytes = raw::signed_login(&node.addr, key, name).await;
    let r = raw::post_cbor(&node.addr, "/v1/auth/login", None, bytes.clone()).await;
    if r.status != 200 {
        return Err(r);
    }
    // Replaying the same answer must fail: challenges are single use.
    let replay = raw::post_cbor(&node.addr, "/v1/auth/login", None, bytes).await;
    expect(&replay, 401, ErrorCode::ChallengeInvalid);
    Ok(raw::session_token(&r))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_oversized_unknown_and_unauthorized_requests() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let a = &node.addr;

    expect(
        &raw::post_cbor(a, "/v1/signup", None, vec![0u8; 300 * 1024]).await,
        413,
        ErrorCode::TooLarge,
    );
    expect(
        &raw::post_cbor(a, "/v1/auth/challenge", None, vec![0xff, 0x00, 0x13]).await,
        400,
        ErrorCode::Malformed,
    );
    expect(
        &raw::post_cbor(a, "/v1/auth/challenge", None, encode(&42u8).expect("enc")).await,
        400,
        ErrorCode::Malformed,
    );
    expect(
        &raw::request(
            a,
            "POST",
            "/v1/auth/challenge",
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        )
        .await,
        415,
        ErrorCode::UnsupportedMediaType,
    );
    expect(
        &raw::get(a, "/v1/nope", None).await,
        404,
        ErrorCode::NotFound,
    );
    expect(
        &raw::request(a, "DELETE", "/v1/info", &[], vec![]).await,
        405,
        ErrorCode::MethodNotAllowed,
    );
    expect(
        &raw::get(a, "/v1/me", None).await,
        401,
        ErrorCode::Unauthorized,
    );
    expect(
        &raw::get(a, "/v1/me", Some(&"00".repeat(32))).await,
        401,
        ErrorCode::Unauthorized,
    );
    expect(
        &raw::get(a, "/v1/me", Some("not-hex")).await,
        401,
        ErrorCode::Unauthorized,
    );

    // Sign-up refusals.
    let key = IdentityKey::generate().expect("keygen");
    let body = SignupBody {
        v: PROTOCOL_VERSION,
        username: "mallory".into(),
        public_key: key.public().spki_der().to_vec(),
        invite: Some("AAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
        node: raw::node_id(a).await,
    };
    let signed = key.sign_body(SignContext::Signup, &body).expect("sign");
    expect(
        &raw::post_cbor(a, "/v1/signup", None, encode(&signed).expect("enc")).await,
        403,
        ErrorCode::InviteInvalid,
    );
    let mut no_invite = body.clone();
    no_invite.invite = None;
    let signed = key
        .sign_body(SignContext::Signup, &no_invite)
        .expect("sign");
    expect(
        &raw::post_cbor(a, "/v1/signup", None, encode(&signed).expect("enc")).await,
        403,
        ErrorCode::InviteInvalid,
    );
    let mut forged = key.sign_body(SignContext::Signup, &body).expect("sign");
    forged.signature[10] ^= 1;
    expect(
        &raw::post_cbor(a, "/v1/signup", None, encode(&forged).expect("enc")).await,
        400,
        ErrorCode::BadSignature,
    );
    let mut bad_name = body.clone();
    bad_name.username = "Not Valid!".into();
    let signed = key.sign_body(SignContext::Signup, &bad_name).expect("sign");
    expect(
        &raw::post_cbor(a, "/v1/signup", None, encode(&signed).expect("enc")).await,
        400,
        ErrorCode::Invalid,
    );
    let mut bad_key = body.clone();
    bad_key.public_key = vec![1, 2, 3];
    let signed = key.sign_body(SignContext::Signup, &bad_key).expect("sign");
    expect(
        &raw::post_cbor(a, "/v1/signup", None, encode(&signed).expect("enc")).await,
        400,
        ErrorCode::Invalid,
    );

    // Nothing of the above created an account.
    let owner = join_owner(&node, &tmp.path().join("ann")).await;
    assert_eq!(owner.node_status().await.expect("status").users, 1);
    let tok = owner.session_token().expect("token");
    // Unknown ids and malformed ids.
    let room = RoomId::random();
    expect(
        &raw::get(a, &format!("/v1/rooms/{room}/messages"), Some(&tok)).await,
        404,
        ErrorCode::NotFound,
    );
    expect(
        &raw::get(a, "/v1/rooms/xyz/messages", Some(&tok)).await,
        400,
        ErrorCode::Malformed,
    );
    expect(
        &raw::get(a, "/v1/users/nobody", Some(&tok)).await,
        404,
        ErrorCode::NotFound,
    );
    expect(
        &raw::get(a, &format!("/v1/files/{}", "00".repeat(16)), Some(&tok)).await,
        404,
        ErrorCode::NotFound,
    );
    expect(
        &raw::get(
            a,
            &format!("/v1/rooms/{room}/messages?limit=99999"),
            Some(&tok),
        )
        .await,
        400,
        ErrorCode::Invalid,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_epochs_and_nothing_stored_on_failure() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = config(tmp.path(), "open_registration = true\n");
    let node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let a = &node.addr;
    let (ann_key, ann) = raw_user(&node, "ann", None).await;
    let (bob_key, bob) = raw_user(&node, "bob", None).await;
    let (_, _cat) = raw_user(&node, "cat", None).await;

    // Usernames are unique.
    let dup = IdentityKey::generate().expect("keygen");
    let body = SignupBody {
        v: PROTOCOL_VERSION,
        username: "ann".into(),
        public_key: dup.public().spki_der().to_vec(),
        invite: None,
        node: raw::node_id(a).await,
    };
    expect(
        &raw::post_cbor(
            a,
            "/v1/signup",
            None,
            encode(&dup.sign_body(SignContext::Signup, &body).expect("sign")).expect("enc"),
        )
        .await,
        409,
        ErrorCode::UsernameTaken,
    );
    // Login with the wrong key for a name fails.
    let err = login(&node, &dup, "ann").await.expect_err("wrong key");
    expect(&err, 401, ErrorCode::Unauthorized);

    // Friend-request rules.
    let fr = |to: &str| {
        encode(&onionchat_proto::wire::FriendRequestCreate { to: to.into() }).expect("enc")
    };
    expect(
        &raw::post_cbor(a, "/v1/friends/requests", Some(&ann), fr("ann")).await,
        400,
        ErrorCode::Invalid,
    );
    expect(
        &raw::post_cbor(a, "/v1/friends/requests", Some(&ann), fr("zed")).await,
        404,
        ErrorCode::NotFound,
    );
    let r = raw::post_cbor(a, "/v1/friends/requests", Some(&ann), fr("bob")).await;
    assert_eq!(r.status, 201);
    let req: onionchat_proto::wire::FriendRequest =
        onionchat_proto::decode(&r.body).expect("request");
    expect(
        &raw::post_cbor(a, "/v1/friends/requests", Some(&ann), fr("bob")).await,
        409,
        ErrorCode::Conflict,
    );
    expect(
        &raw::post_cbor(a, "/v1/friends/requests", Some(&bob), fr("ann")).await,
        409,
        ErrorCode::Conflict,
    );
    // Only the recipient accepts; grants must be real.
    let early_room = RoomId::random();
    let accept = onionchat_proto::wire::AcceptFriendRequest {
        room_id: early_room,
        roster: raw::direct_roster(
            early_room,
            (onionchat_proto::wire::UserId(2), "bob", &bob_key),
            (onionchat_proto::wire::UserId(1), "ann", &ann_key),
        )
        .0,
        key_grants: vec![],
    };
    expect(
        &raw::post_cbor(
            a,
            &format!("/v1/friends/requests/{}/accept", req.id),
            Some(&ann),
            encode(&accept).expect("enc"),
        )
        .await,
        403,
        ErrorCode::Forbidden,
    );
    expect(
        &raw::post_cbor(
            a,
            &format!("/v1/friends/requests/{}/accept", req.id),
            Some(&bob),
            encode(&accept).expect("enc"),
        )
        .await,
        400,
        ErrorCode::Invalid,
    );

    // A real 1:1 room from properly signed grants.
    let ann_info: onionchat_proto::wire::UserInfo =
        onionchat_proto::decode(&raw::get(a, "/v1/users/ann", Some(&bob)).await.body).expect("ann");
    let bob_info: onionchat_proto::wire::UserInfo =
        onionchat_proto::decode(&raw::get(a, "/v1/users/bob", Some(&bob)).await.body).expect("bob");
    let room_id = RoomId::random();
    let room_key = RoomKey::generate();
    let (roster, hash) = raw::direct_roster(
        room_id,
        (bob_info.user_id, "bob", &bob_key),
        (ann_info.user_id, "ann", &ann_key),
    );
    let grant = |epoch, to, key: &IdentityKey| {
        onionchat_proto::crypto::room_key::make_grant(
            &bob_key,
            room_id,
            epoch,
            hash,
            to,
            key.public(),
            &room_key,
        )
        .expect("grant")
    };
    let grants = vec![
        grant(1, ann_info.user_id, &ann_key),
        grant(1, bob_info.user_id, &bob_key),
    ];
    // A grant for the wrong epoch is refused.
    let wrong_epoch = vec![grant(2, ann_info.user_id, &ann_key), grants[1].clone()];
    let acc = |g: Vec<onionchat_proto::wire::Signed>| {
        encode(&onionchat_proto::wire::AcceptFriendRequest {
            room_id,
            roster: roster.clone(),
            key_grants: g,
        })
        .expect("enc")
    };
    let url = format!("/v1/friends/requests/{}/accept", req.id);
    expect(
        &raw::post_cbor(a, &url, Some(&bob), acc(wrong_epoch)).await,
        409,
        ErrorCode::StaleEpoch,
    );
    assert_eq!(
        raw::post_cbor(a, &url, Some(&bob), acc(grants.clone()))
            .await
            .status,
        200
    );
    expect(
        &raw::post_cbor(a, &url, Some(&bob), acc(grants)).await,
        409,
        ErrorCode::Conflict,
    );
    let text = MessageContent::Text { text: "hi".into() };
    let url = format!("/v1/rooms/{room_id}/messages");
    // A send body: a fresh message from ann for `epoch`.
    let counter = std::sync::atomic::AtomicU64::new(1);
    let ann_says = |epoch: u32| {
        let envelope = message::seal(
            &ann_key,
            room_id,
            epoch,
            &room_key,
            MsgId::random(),
            message::Position {
                stream: 1,
                counter: counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                roster: onionchat_tests::raw::ANY_ROSTER,
            },
            now_ms(),
            &text,
        )
        .expect("seal");
        encode(&SendMessage { envelope }).expect("enc")
    };
    expect(
        &raw::post_cbor(a, &url, Some(&ann), ann_says(2)).await,
        409,
        ErrorCode::StaleEpoch,
    );
    let good = ann_says(1);
    let first = raw::post_cbor(a, &url, Some(&ann), good.clone()).await;
    assert_eq!(first.status, 201);
    let again = raw::post_cbor(a, &url, Some(&ann), good).await;
    assert_eq!(
        again.status, 200,
        "a resend is acknowledged, not stored twice"
    );
    let (a1, a2): (
        onionchat_proto::wire::SendAck,
        onionchat_proto::wire::SendAck,
    ) = (
        onionchat_proto::decode(&first.body).expect("ack"),
        onionchat_proto::decode(&again.body).expect("ack"),
    );
    assert_eq!(
        (a1.seq, a2.seq, a1.duplicate, a2.duplicate),
        (1, 1, false, true)
    );
    // bob posting an envelope signed for ann's key: forbidden.
    expect(
        &raw::post_cbor(a, &url, Some(&bob), ann_says(1)).await,
        403,
        ErrorCode::Forbidden,
    );
    let hist: onionchat_proto::wire::History = onionchat_proto::decode(
        &raw::get(a, &format!("{url}?after=0"), Some(&bob))
            .await
            .body,
    )
    .expect("history");
    assert_eq!(
        hist.messages.len(),
        1,
        "only the one valid message is stored"
    );

    // Messages into a room that does not exist, or with a stale epoch, or
    // for another account's key, are refused and not stored.
    let room = RoomId::random();
    let key = RoomKey::generate();
    let env = message::seal(
        &ann_key,
        room,
        1,
        &key,
        MsgId::random(),
        message::Position {
            stream: 1,
            counter: 1,
            roster: onionchat_tests::raw::ANY_ROSTER,
        },
        now_ms(),
        &MessageContent::Text { text: "x".into() },
    )
    .expect("seal");
    let send = encode(&SendMessage { envelope: env }).expect("enc");
    expect(
        &raw::post_cbor(
            a,
            &format!("/v1/rooms/{room}/messages"),
            Some(&ann),
            send.clone(),
        )
        .await,
        404,
        ErrorCode::NotFound,
    );
    expect(
        &raw::post_cbor(
            a,
            &format!("/v1/rooms/{}/messages", RoomId::random()),
            Some(&ann),
            send,
        )
        .await,
        400,
        ErrorCode::Invalid,
    );
    let junk = encode(&SendMessage {
        envelope: onionchat_proto::wire::Signed {
            body: vec![1, 2, 3],
            signature: vec![],
        },
    })
    .expect("enc");
    expect(
        &raw::post_cbor(a, &format!("/v1/rooms/{room}/messages"), Some(&ann), junk).await,
        400,
        ErrorCode::Malformed,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_epoch_rekey_required_and_rate_limits() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = config(
        tmp.path(),
        "[rate]\nmessages_per_sec = 0.2\nmessage_burst = 6.0\n",
    );
    let node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let ann = join_owner(&node, &tmp.path().join("ann")).await;
    let mut others = Vec::new();
    for name in ["bob", "cat"] {
        let inv = ann.create_invite(None, None).await.expect("invite");
        let c = join(
            &node,
            &tmp.path().join(name),
            name,
            &ann.invite_link(&inv.code).to_string(),
        )
        .await;
        let req = ann.send_friend_request(name).await.expect("request");
        c.accept_friend_request(&req).await.expect("accept");
        others.push(c);
    }
    let group = ann.create_group(&["bob", "cat"]).await.expect("group");
    ann.send_text(group.id, "one").await.expect("send");

    // A message sealed for epoch 2 while the room is at 1.
    let tok = ann.session_token().expect("token");
    let stale_key = IdentityKey::generate().expect("keygen");
    let env = message::seal(
        &stale_key,
        group.id,
        2,
        &RoomKey::generate(),
        MsgId::random(),
        message::Position {
            stream: 1,
            counter: 1,
            roster: onionchat_tests::raw::ANY_ROSTER,
        },
        now_ms(),
        &MessageContent::Text { text: "x".into() },
    )
    .expect("seal");
    // Signed with a key that is not ann's: forbidden before anything else.
    let r = raw::post_cbor(
        &node.addr,
        &format!("/v1/rooms/{}/messages", group.id),
        Some(&tok),
        encode(&SendMessage { envelope: env }).expect("enc"),
    )
    .await;
    expect(&r, 403, ErrorCode::Forbidden);

    // cat leaves: sends are refused until someone re-keys.
    others[1].leave(group.id).await.expect("leave");
    let bob = &others[0];
    let err = bob.history_all(group.id, 0).await.expect("still readable");
    assert_eq!(err.len(), 1);
    let room = bob.room(group.id).await.expect("room");
    assert!(room.rekey_required);
    // The client re-keys by itself and the send goes through at epoch 2.
    let ack = bob
        .send_text(group.id, "two")
        .await
        .expect("send after leave");
    assert_eq!(ack.seq, 2);
    assert_eq!(bob.room(group.id).await.expect("room").epoch, 2);

    // Rate limit: burst of 6 per user, then 429 with rate_limited.
    let mut limited = None;
    for i in 0..10 {
        if let Err(e) = ann.send_text(group.id, &format!("burst {i}")).await {
            limited = Some(e);
            break;
        }
    }
    let e = limited.expect("the burst limit was never hit");
    assert_eq!(e.code(), Some(ErrorCode::RateLimited));
    // Refused messages were not stored: history ends with the accepted ones.
    let hist = bob.history_all(group.id, 0).await.expect("history");
    let n = hist.len() as u64;
    assert_eq!(bob.room(group.id).await.expect("room").last_seq, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_bad_frames_and_slow_consumers() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = config(
        tmp.path(),
        "[rate]\nmessages_per_sec = 100000.0\nmessage_burst = 100000.0\nrequests_per_sec = 100000.0\nrequest_burst = 100000.0\n",
    );
    let node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let (ann, bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;

    // Unauthenticated upgrade is refused with 401.
    let stream = tokio::net::TcpStream::connect(&node.addr)
        .await
        .expect("connect");
    let err = tokio_tungstenite::client_async(format!("ws://{}/v1/ws", node.addr), stream)
        .await
        .expect_err("no token");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 401),
        other => panic!("unexpected {other}"),
    }

    // A malformed frame gets an error frame; an oversized one closes the socket.
    let mut s =
        onionchat_tests::raw::websocket(&node.addr, &bob.session_token().expect("token")).await;
    let hello = s.next().await.expect("frame").expect("ok");
    assert!(matches!(
        onionchat_proto::decode::<ServerFrame>(&hello.into_data()).expect("hello"),
        ServerFrame::Hello { .. }
    ));
    s.send(Message::Binary(vec![0xff, 0xfe].into()))
        .await
        .expect("send");
    let f = s.next().await.expect("frame").expect("ok");
    match onionchat_proto::decode::<ServerFrame>(&f.into_data()).expect("frame") {
        ServerFrame::Error { error, .. } => assert_eq!(error.code, ErrorCode::Malformed),
        other => panic!("unexpected {other:?}"),
    }
    s.send(Message::Binary(
        encode(&ClientFrame::Ping { nonce: 9 }).expect("enc").into(),
    ))
    .await
    .expect("send");
    let f = s.next().await.expect("frame").expect("ok");
    assert_eq!(
        onionchat_proto::decode::<ServerFrame>(&f.into_data()).expect("frame"),
        ServerFrame::Pong { nonce: 9 }
    );
    let _ = s.send(Message::Binary(vec![0u8; 1024 * 1024].into())).await;
    let mut closed = false;
    while let Some(m) = s.next().await {
        match m {
            Ok(Message::Close(_)) | Err(_) => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed, "an oversized frame must close the connection");

    // A consumer that never reads is cut off instead of buffered forever.
    let mut slow =
        onionchat_tests::raw::websocket(&node.addr, &bob.session_token().expect("token")).await;
    let text = "x".repeat(60 * 1024);
    let mut sent = 0;
    for _ in 0..1500 {
        ann.send_text(room, &text).await.expect("send");
        sent += 1;
    }
    // The node lets go of it by itself, while it still reads nothing: no
    // task of the node waits on a peer that does not read.
    let owner_token = ann.session_token().expect("token");
    let mut sessions = u64::MAX;
    for _ in 0..150 {
        let r = onionchat_tests::raw::get(&node.addr, "/v1/admin/status", Some(&owner_token)).await;
        let status: onionchat_proto::wire::NodeStatus =
            onionchat_proto::decode(&r.body).expect("status");
        sessions = status.online_sessions;
        if sessions == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        sessions, 0,
        "the stuck connection is still held by the node"
    );
    let mut frames = 0;
    let mut ended = false;
    while let Ok(Some(m)) =
        tokio::time::timeout(std::time::Duration::from_secs(10), slow.next()).await
    {
        match m {
            // A close frame if it could still be written, else the
            // connection just ends.
            Ok(Message::Close(c)) => {
                assert!(c.is_none_or(|c| u16::from(c.code) == 1008));
                ended = true;
                break;
            }
            Ok(_) => frames += 1,
            Err(_) => {
                ended = true;
                break;
            }
        }
    }
    assert!(ended || frames < sent, "the slow consumer was not cut off");
    assert!(
        frames < sent,
        "the slow consumer got everything: not cut off"
    );

    // Logging out closes the session's live connections.
    let token = bob.session_token().expect("token");
    let mut live = onionchat_tests::raw::websocket(&node.addr, &token).await;
    assert!(matches!(
        onionchat_tests::raw::next_frame(&mut live).await,
        Some(ServerFrame::Hello { .. })
    ));
    bob.logout().await.expect("logout");
    let closed = raw::close_code(&mut live, 10, "a logged-out session").await;
    assert_eq!(closed, Some(1008));
}

/// A client that starts a request and never finishes its headers (a
/// slow-loris) is cut off after `header_timeout_secs`, instead of holding
/// one of the node's connection slots for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = config(tmp.path(), "header_timeout_secs = 2\n");
    let node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let mut s = tokio::net::TcpStream::connect(&node.addr)
        .await
        .expect("connect");
    s.write_all(b"GET /v1/info HTTP/1.1\r\nHost: box\r\n")
        .await
        .expect("write");
    let start = std::time::Instant::now();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the connection was still open after 20 s of unfinished headers"
    );
    assert!(start.elapsed() >= std::time::Duration::from_secs(1));
    // The node still serves everyone else.
    assert_eq!(raw::get(&node.addr, "/v1/info", None).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_can_lock_a_name_out_and_bad_tokens_are_throttled() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let a = &node.addr;
    let ann = join_owner(&node, &tmp.path().join("ann")).await;
    let ann_key = IdentityKey::generate().expect("keygen");

    // Sign-up without a valid invite says so first, whatever the name: an
    // outsider cannot learn which names or keys have accounts.
    let r = raw::signup(a, &ann_key, "ann", None).await;
    expect(&r, 403, ErrorCode::InviteInvalid);
    let r = raw::signup(a, &ann_key, "ann", Some("NOSUCHINVITE".into())).await;
    expect(&r, 403, ErrorCode::InviteInvalid);

    let invite = ann.create_invite(None, None).await.expect("invite");
    let (bob_key, _) = raw_user(&node, "bob", Some(invite.code.clone())).await;
    // bob asks for a challenge and signs it; before he sends the answer,
    // someone hammers his name: 300 challenges, and 100 answers signed
    // with a key that is not his.
    let bobs_answer = raw::signed_login(a, &bob_key, "bob").await;
    let ch = |name: &str| {
        onionchat_proto::encode(&onionchat_proto::wire::ChallengeRequest {
            username: name.into(),
        })
        .expect("enc")
    };
    let mut codes = std::collections::HashMap::new();
    for _ in 0..300 {
        let r = raw::post_cbor(a, "/v1/auth/challenge", None, ch("bob")).await;
        *codes.entry(r.status).or_insert(0) += 1;
    }
    assert_eq!(codes.get(&200), Some(&300), "challenges: {codes:?}");
    let mallory = IdentityKey::generate().expect("keygen");
    for _ in 0..100 {
        let forged = raw::signed_login(a, &mallory, "bob").await;
        let r = raw::post_cbor(a, "/v1/auth/login", None, forged).await;
        expect(&r, 401, ErrorCode::Unauthorized);
    }
    // bob's answer still works, once, and so does a fresh login.
    let r = raw::post_cbor(a, "/v1/auth/login", None, bobs_answer.clone()).await;
    assert_eq!(r.status, 200, "bob logs in after the flood: {:?}", r.code());
    let r = raw::post_cbor(a, "/v1/auth/login", None, bobs_answer).await;
    expect(&r, 401, ErrorCode::ChallengeInvalid);
    login(&node, &bob_key, "bob").await.expect("a fresh login");

    // A flood of made-up names (more than the node-wide sign-up cap) gets
    // challenges that store nothing: ann logs in again for real.
    for i in 0..700 {
        let r = raw::post_cbor(a, "/v1/auth/challenge", None, ch(&format!("nobody{i}"))).await;
        assert_eq!(r.status, 200, "{:?}", r.code());
    }
    ann.logout().await.expect("logout");
    ann.create_invite(None, None)
        .await
        .expect("ann logs in again and works");

    // Sign-ups are limited per name (12 a minute) — guessing invites for
    // one name stops there — and another name signs up.
    let mut limited = 0;
    for _ in 0..20 {
        let r = raw::signup(a, &ann_key, "carol", Some("NOSUCHINVITE".into())).await;
        if r.status == 429 {
            expect(&r, 429, ErrorCode::RateLimited);
            limited += 1;
        }
    }
    assert!(limited >= 5, "sign-ups for one name are limited: {limited}");
    let invite = ann.create_invite(None, None).await.expect("invite");
    raw_user(&node, "dave", Some(invite.code)).await;

    // Guessing tokens: past a node-wide rate, 429 instead of a lookup each.
    let mut codes = std::collections::HashMap::new();
    for i in 0..400 {
        let tok = format!("{:064x}", i);
        let r = raw::get(a, "/v1/me", Some(&tok)).await;
        *codes.entry(r.status).or_insert(0) += 1;
    }
    assert!(
        codes.get(&429).copied().unwrap_or(0) > 100,
        "bad tokens are throttled: {codes:?}"
    );
    assert!(codes.get(&401).copied().unwrap_or(0) > 0, "{codes:?}");
}

/// A body that stops arriving (a message, an upload) fails with `408
/// timeout` and stores nothing; a WebSocket that goes silent is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_and_sockets_that_go_quiet_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = config(
        tmp.path(),
        "open_registration = true\nbody_idle_secs = 2\nws_idle_secs = 2\n",
    );
    let node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let p = onionchat_tests::pair::Pair::new(&node.addr).await;

    // Headers, a few bytes of a message, then silence.
    let answer_after_silence = |head: String, part: Vec<u8>| {
        let addr = node.addr.clone();
        async move {
            let mut s = tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect");
            s.write_all(head.as_bytes()).await.expect("head");
            s.write_all(&part).await.expect("part");
            let mut buf = vec![0u8; 4096];
            let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut buf))
                .await
                .expect("the node still waits for the body")
                .expect("read");
            String::from_utf8_lossy(&buf[..n]).to_string()
        }
    };
    let msg = p.seal(
        &p.ann,
        onionchat_proto::wire::MsgId::random(),
        "never finished",
    );
    let head = format!(
        "POST /v1/rooms/{}/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: application/cbor\r\ncontent-length: {}\r\n\r\n",
        p.room,
        p.ann.token,
        msg.len()
    );
    let answer = answer_after_silence(head, msg[..msg.len() / 2].to_vec()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("application/cbor"),
        "a CBOR error body: {answer}"
    );

    let (id, bytes, r) = p.announce(&p.ann, 200_000).await;
    assert_eq!(r.status, 201);
    let head = format!(
        "PUT /v1/files/{id} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-length: {}\r\n\r\n",
        p.ann.token,
        bytes.len()
    );
    let answer = answer_after_silence(head, bytes[..50_000].to_vec()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // Nothing of either was kept: no message, the file still waits, and
    // no partial upload is left on disk.
    let h = p
        .call(&p.bob, "GET", &format!("/v1/rooms/{}/messages", p.room))
        .await;
    let h: onionchat_proto::wire::History = onionchat_proto::decode(&h.body).expect("history");
    assert!(h.messages.is_empty());
    let tmp_uploads = std::fs::read_dir(node.data_dir.join("blobs").join("tmp"))
        .expect("tmp dir")
        .count();
    assert_eq!(tmp_uploads, 0, "a partial upload was left behind");
    assert_eq!(
        p.upload(&p.ann, id, bytes).await.status,
        200,
        "a retry works"
    );

    // A WebSocket whose client says nothing is closed.
    let mut ws = raw::websocket(&node.addr, &p.bob.token).await;
    let closed = raw::close_code(&mut ws, 20, "a silent client").await;
    assert_eq!(closed, Some(1001));
}

/// Requests hyper refuses before the API sees them still get the
/// protocol's CBOR error body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_requests_get_error_bodies_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let raw_answer = |bytes: Vec<u8>| {
        let addr = node.addr.clone();
        async move {
            let mut s = tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect");
            let _ = s.write_all(&bytes).await;
            let mut out = Vec::new();
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out))
                    .await
                    .expect("the node closes the connection");
            out
        }
    };
    let check = |answer: Vec<u8>, status: u16, code: ErrorCode| {
        let text = String::from_utf8_lossy(&answer).to_string();
        assert!(text.starts_with(&format!("HTTP/1.1 {status}")), "{text}");
        assert!(text.contains("content-type: application/cbor"), "{text}");
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head")
            + 4;
        let err: onionchat_proto::wire::ApiError =
            onionchat_proto::decode(&answer[split..]).expect("CBOR error body");
        assert_eq!((err.code, err.code.http_status()), (code, status));
    };
    // Paths over 8 KiB get 414; heads over 32 KiB (a 100 KB header, a
    // 70 KB path) or with more than 64 headers get 431 (protocol §13).
    let long_uri = format!("GET /v1/{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(10_000));
    check(
        raw_answer(long_uri.into_bytes()).await,
        414,
        ErrorCode::UriTooLong,
    );
    let huge_uri = format!("GET /v1/{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000));
    check(
        raw_answer(huge_uri.into_bytes()).await,
        431,
        ErrorCode::HeadersTooLarge,
    );
    let big_header = format!(
        "GET /v1/info HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "b".repeat(100_000)
    );
    check(
        raw_answer(big_header.into_bytes()).await,
        431,
        ErrorCode::HeadersTooLarge,
    );
    let mut many = String::from("GET /v1/info HTTP/1.1\r\nhost: x\r\n");
    for i in 0..200 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    check(
        raw_answer(many.into_bytes()).await,
        431,
        ErrorCode::HeadersTooLarge,
    );
    let bad_len = "POST /v1/signup HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n";
    check(
        raw_answer(bad_len.as_bytes().to_vec()).await,
        400,
        ErrorCode::Malformed,
    );
    // A TLS ClientHello on the plain port.
    let hello = vec![
        0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
    ];
    check(raw_answer(hello).await, 400, ErrorCode::Malformed);
    // The API's own errors are unchanged, and the node still serves.
    expect(
        &raw::get(&node.addr, "/v1/nope", None).await,
        404,
        ErrorCode::NotFound,
    );
}

/// `read` and `ping` frames share the per-user request budget: a client
/// flooding them gets `rate_limited` error frames, not unbounded work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_read_and_ping_frames_are_rate_limited() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = config(
        tmp.path(),
        "open_registration = true\n[rate]\nrequests_per_sec = 1.0\nrequest_burst = 20.0\n",
    );
    let node = Node::start(&tmp.path().join("node"), &[&cfg]);
    let p = onionchat_tests::pair::Pair::new(&node.addr).await;
    let mut ws = raw::websocket(&node.addr, &p.bob.token).await;
    assert!(matches!(
        raw::next_frame(&mut ws).await,
        Some(ServerFrame::Hello { .. })
    ));
    for nonce in 0..60u64 {
        let frame = if nonce % 2 == 0 {
            ClientFrame::Ping { nonce }
        } else {
            ClientFrame::Read {
                room_id: p.room,
                seq: nonce,
            }
        };
        ws.send(Message::Binary(encode(&frame).expect("enc").into()))
            .await
            .expect("send");
    }
    let (mut pongs, mut limited) = (0, 0);
    while let Ok(Some(frame)) =
        tokio::time::timeout(std::time::Duration::from_secs(3), raw::next_frame(&mut ws)).await
    {
        match frame {
            ServerFrame::Pong { .. } => pongs += 1,
            ServerFrame::Error { error, .. } if error.code == ErrorCode::RateLimited => {
                limited += 1
            }
            _ => {}
        }
    }
    assert!(pongs > 0 && pongs < 30, "{pongs} pongs");
    assert!(limited >= 30, "{limited} frames refused of 60");
}

/// Signed bodies that do not decode are `malformed` wherever they arrive
/// (protocol §2, §12.1), not `invalid`; session tokens are taken only as
/// issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_signed_bodies_are_malformed_and_tokens_are_exact() {
    use onionchat_proto::wire::{CreateRoom, FileUploadStart, Rekey, RoomId, Signed};
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, _bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    let token = ann.session_token().expect("token");
    // A map missing every field, and arrays nested 20 deep.
    let missing = encode(&std::collections::BTreeMap::from([("v", 3u16)])).expect("enc");
    let mut deep = vec![0x81u8; 20];
    deep.push(0x00);
    for body in [missing, deep] {
        let bad = Signed {
            body,
            signature: vec![0; 384],
        };
        let r = raw::post_cbor(
            &node.addr,
            "/v1/rooms",
            Some(&token),
            encode(&CreateRoom {
                room_id: RoomId::random(),
                roster: bad.clone(),
                key_grants: vec![],
                title: None,
            })
            .expect("enc"),
        )
        .await;
        expect(&r, 400, ErrorCode::Malformed);
        let r = raw::post_cbor(
            &node.addr,
            &format!("/v1/rooms/{room}/epochs"),
            Some(&token),
            encode(&Rekey {
                epoch: 2,
                roster: None,
                key_grants: vec![bad.clone()],
            })
            .expect("enc"),
        )
        .await;
        expect(&r, 400, ErrorCode::Malformed);
        let r = raw::post_cbor(
            &node.addr,
            &format!("/v1/rooms/{room}/files"),
            Some(&token),
            encode(&FileUploadStart { header: bad }).expect("enc"),
        )
        .await;
        expect(&r, 400, ErrorCode::Malformed);
    }
    // The token as issued works; in upper case, or with a space, it is
    // another (unknown) token.
    assert_eq!(
        raw::get(&node.addr, "/v1/me", Some(&token)).await.status,
        200
    );
    for other in [token.to_ascii_uppercase(), format!(" {token}")] {
        expect(
            &raw::get(&node.addr, "/v1/me", Some(&other)).await,
            401,
            ErrorCode::Unauthorized,
        );
    }
}
