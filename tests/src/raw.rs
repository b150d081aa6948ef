//! Raw HTTP against the node, for requests a well-behaved client never makes.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use onionchat_proto::wire::{ApiError, ErrorCode};

/// A raw response.
#[derive(Debug)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The machine-readable error code in the body.
    pub fn code(&self) -> Option<ErrorCode> {
        onionchat_proto::decode::<ApiError>(&self.body)
            .ok()
            .map(|e| e.code)
    }
}

/// Assert that `r` is the API error `code` with `status`.
pub fn expect(r: &RawResponse, status: u16, code: ErrorCode) {
    assert_eq!(
        (r.status, r.code()),
        (status, Some(code)),
        "body: {:?}",
        String::from_utf8_lossy(&r.body)
    );
}

/// Wait up to `secs` for the node to close `socket`; the close code it
/// sent (`None`: the connection just ended). Panics, saying `what`, if the
/// socket is still open.
pub async fn close_code(socket: &mut RawSocket, secs: u64, what: &str) -> Option<u16> {
    use futures_util::StreamExt;
    tokio::time::timeout(std::time::Duration::from_secs(secs), async {
        loop {
            match socket.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(c))) => {
                    break c.map(|c| u16::from(c.code));
                }
                Some(Ok(_)) => continue,
                _ => break None,
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: the socket stays open"))
}

/// Send one request on a fresh connection.
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> RawResponse {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let resp = sender.send_request(req).await.expect("send");
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    RawResponse { status, body }
}

/// POST CBOR with an optional bearer token.
pub async fn post_cbor(addr: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> RawResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/cbor")];
    if let Some(a) = auth.as_deref() {
        headers.push(("authorization", a));
    }
    request(addr, "POST", path, &headers, body).await
}

/// GET with an optional bearer token.
pub async fn get(addr: &str, path: &str, token: Option<&str>) -> RawResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![];
    if let Some(a) = auth.as_deref() {
        headers.push(("authorization", a));
    }
    request(addr, "GET", path, &headers, Vec::new()).await
}

/// The id a node at `addr` names itself by (`/v1/info`), which signed
/// sign-ups and logins must name.
pub async fn node_id(addr: &str) -> String {
    let r = get(addr, "/v1/info", None).await;
    onionchat_proto::decode::<onionchat_proto::wire::ServerInfo>(&r.body)
        .expect("server info")
        .node_id
}

/// Sign up `name` with `key` over raw HTTP (`invite` when the node wants one).
pub async fn signup(
    addr: &str,
    key: &onionchat_proto::crypto::IdentityKey,
    name: &str,
    invite: Option<String>,
) -> RawResponse {
    use onionchat_proto::crypto::SignContext;
    let body = onionchat_proto::wire::SignupBody {
        v: onionchat_proto::PROTOCOL_VERSION,
        username: name.into(),
        public_key: key.public().spki_der().to_vec(),
        invite,
        node: node_id(addr).await,
    };
    let signed = key
        .sign_body(SignContext::Signup, &body)
        .expect("sign signup");
    post_cbor(addr, "/v1/signup", None, encode(&signed)).await
}

/// Ask for a login challenge for `name` and answer it with `key`: the
/// body to POST to `/v1/auth/login` (single use).
pub async fn signed_login(
    addr: &str,
    key: &onionchat_proto::crypto::IdentityKey,
    name: &str,
) -> Vec<u8> {
    let node = node_id(addr).await;
    signed_login_naming(addr, key, name, &node).await
}

/// Like [`signed_login`], but the signed body names `node` (which a
/// hostile node would get from its victim for another box).
pub async fn signed_login_naming(
    addr: &str,
    key: &onionchat_proto::crypto::IdentityKey,
    name: &str,
    node: &str,
) -> Vec<u8> {
    use onionchat_proto::crypto::SignContext;
    use onionchat_proto::wire::{Challenge, ChallengeRequest, LoginBody};
    let req = ChallengeRequest {
        username: name.into(),
    };
    let r = post_cbor(addr, "/v1/auth/challenge", None, encode(&req)).await;
    let ch: Challenge = onionchat_proto::decode(&r.body).expect("challenge");
    let body = LoginBody {
        v: onionchat_proto::PROTOCOL_VERSION,
        username: name.into(),
        challenge_id: ch.challenge_id,
        nonce: ch.nonce,
        issued_at: ch.issued_at,
        node: node.into(),
    };
    encode(
        &key.sign_body(SignContext::Login, &body)
            .expect("sign login"),
    )
}

/// The session token from a `/v1/auth/login` answer.
pub fn session_token(r: &RawResponse) -> String {
    onionchat_proto::decode::<onionchat_proto::wire::Session>(&r.body)
        .expect("session")
        .token
}

fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    onionchat_proto::encode(v).expect("encode")
}

/// A raw WebSocket session on the node's loopback listener, with `token`.
pub type RawSocket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Open `/v1/ws` as the holder of `token`.
pub async fn websocket(addr: &str, token: &str) -> RawSocket {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    websocket_over(stream, addr, token).await
}

/// Open `/v1/ws` over `stream`, already connected to `addr` (a socket with
/// options of its own, e.g. a small receive window).
pub async fn websocket_over(stream: tokio::net::TcpStream, addr: &str, token: &str) -> RawSocket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}/v1/ws")
        .into_client_request()
        .expect("req");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("hdr"),
    );
    tokio_tungstenite::client_async(req, stream)
        .await
        .expect("upgrade")
        .0
}

/// The next binary frame on `socket`, decoded (`None` when it closes).
pub async fn next_frame(socket: &mut RawSocket) -> Option<onionchat_proto::wire::ServerFrame> {
    use futures_util::StreamExt;
    loop {
        match socket.next().await? {
            Ok(tokio_tungstenite::tungstenite::Message::Binary(b)) => {
                return Some(onionchat_proto::decode(&b).expect("server frame"));
            }
            Ok(tokio_tungstenite::tungstenite::Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// One party of a raw 1:1 room: account, name, key.
pub type Party<'a> = (
    onionchat_proto::wire::UserId,
    &'a str,
    &'a onionchat_proto::crypto::IdentityKey,
);

/// The first roster of a 1:1 room, signed by `accepter` (who accepts the
/// friend request), and its hash (what grants are bound to).
pub fn direct_roster(
    room: onionchat_proto::wire::RoomId,
    accepter: Party<'_>,
    other: Party<'_>,
) -> (
    onionchat_proto::wire::Signed,
    onionchat_proto::wire::RosterHash,
) {
    use onionchat_proto::crypto::roster::{first_roster, roster_hash, sign_roster};
    use onionchat_proto::wire::{RoomKind, RosterMember};
    let member = |(user, name, key): Party<'_>| RosterMember {
        user,
        username: name.into(),
        fp: key.fingerprint(),
    };
    let body = first_roster(
        room,
        RoomKind::Direct,
        accepter.0,
        accepter.2.fingerprint(),
        vec![member(accepter), member(other)],
        onionchat_proto::now_ms(),
    );
    let signed = sign_roster(accepter.2, &body).expect("sign roster");
    let hash = roster_hash(&signed);
    (signed, hash)
}

/// A placeholder roster reference, for messages made by hand for the node
/// (which stores it unread).
pub const ANY_ROSTER: onionchat_proto::wire::RosterRef = onionchat_proto::wire::RosterRef {
    version: 1,
    hash: onionchat_proto::wire::RosterHash([7; 32]),
};

/// A `send` frame for `room`, signed by `key` as counter `counter` of
/// stream 1, with `len` bytes standing in for the ciphertext (the node
/// verifies the signature, as it must, and cannot read the contents).
pub fn send_frame(
    key: &onionchat_proto::crypto::IdentityKey,
    room: onionchat_proto::wire::RoomId,
    counter: u64,
    len: usize,
) -> (onionchat_proto::wire::MsgId, Vec<u8>) {
    use onionchat_proto::wire::{ClientFrame, MessageBody, MsgId};
    let msg_id = MsgId::random();
    let body = MessageBody {
        v: onionchat_proto::PROTOCOL_VERSION,
        room_id: room,
        epoch: 1,
        sender_fp: key.fingerprint(),
        msg_id,
        sent_at: 0,
        stream: 1,
        counter,
        roster: ANY_ROSTER,
        void: Vec::new(),
        nonce: onionchat_proto::crypto::random_array::<12>().to_vec(),
        ciphertext: vec![0x42; len],
    };
    let envelope = key
        .sign_body(onionchat_proto::crypto::SignContext::Message, &body)
        .expect("sign");
    (msg_id, encode(&ClientFrame::Send { envelope }))
}

/// `accepter` (holding `token`) accepts friend request `request` from
/// `other` with a fresh 1:1 room: the first roster signed by the accepter
/// and epoch-1 grants for both. The room as the node returns it.
pub async fn accept_direct(
    addr: &str,
    token: &str,
    request: onionchat_proto::wire::RequestId,
    accepter: Party<'_>,
    other: Party<'_>,
) -> onionchat_proto::wire::Room {
    use onionchat_proto::crypto::{RoomKey, room_key::make_grant};
    use onionchat_proto::wire::{AcceptFriendRequest, RoomId};
    let room_id = RoomId::random();
    let key = RoomKey::generate();
    let (roster, hash) = direct_roster(room_id, accepter, other);
    let key_grants = [accepter, other]
        .iter()
        .map(|(user, _, k)| {
            make_grant(accepter.2, room_id, 1, hash, *user, k.public(), &key).expect("grant")
        })
        .collect();
    let r = post_cbor(
        addr,
        &format!("/v1/friends/requests/{request}/accept"),
        Some(token),
        encode(&AcceptFriendRequest {
            room_id,
            roster,
            key_grants,
        }),
    )
    .await;
    assert_eq!(r.status, 200, "accept: {:?}", r.code());
    onionchat_proto::decode(&r.body).expect("room")
}

/// A room's stored messages exactly as the node serves them to `who` (the
/// first 500; no client checks in between): what a test compares an
/// attack or an erasure with.
pub async fn history(
    addr: &str,
    who: &onionchat_client::Client,
    room: onionchat_proto::wire::RoomId,
) -> onionchat_proto::wire::History {
    let r = get(
        addr,
        &format!("/v1/rooms/{room}/messages?after=0&limit=500"),
        who.session_token().as_deref(),
    )
    .await;
    onionchat_proto::decode(&r.body).expect("history")
}
