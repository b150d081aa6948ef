//! Two raw accounts (ann and bob) in a 1:1 room on a node with open
//! registration: for tests that send what a well-behaved client would
//! not, at exact moments (a file announced but never uploaded, two uploads
//! of one file at once, a borrowed message id).

use std::sync::atomic::{AtomicU64, Ordering};

use onionchat_proto::crypto::file_stream::{FileSealer, ciphertext_len};
use onionchat_proto::crypto::{IdentityKey, RoomKey, message};
use onionchat_proto::wire::{
    FileId, FileUploadStart, MessageContent, MsgId, RoomId, SendMessage, UserId, UserInfo,
};

use crate::raw::{self, RawResponse};

/// One raw account.
pub struct Account {
    /// Username.
    pub name: String,
    /// User id.
    pub id: UserId,
    /// Identity key.
    pub key: IdentityKey,
    /// Session token.
    pub token: String,
    counter: AtomicU64,
}

/// ann and bob, friends, with their room and its key (epoch 1).
pub struct Pair {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The requester.
    pub ann: Account,
    /// The accepter.
    pub bob: Account,
    /// Their room.
    pub room: RoomId,
    /// Its key for epoch 1.
    pub key: RoomKey,
}

async fn account(addr: &str, name: &str) -> Account {
    let key = IdentityKey::generate().expect("keygen");
    let r = raw::signup(addr, &key, name, None).await;
    assert_eq!(r.status, 200, "sign-up of {name}: {:?}", r.code());
    let login = raw::signed_login(addr, &key, name).await;
    let r = raw::post_cbor(addr, "/v1/auth/login", None, login).await;
    assert_eq!(r.status, 200, "login of {name}");
    let token = raw::session_token(&r);
    let me: UserInfo =
        onionchat_proto::decode(&raw::get(addr, "/v1/me", Some(&token)).await.body).expect("me");
    Account {
        name: name.into(),
        id: me.user_id,
        key,
        token,
        counter: AtomicU64::new(0),
    }
}

fn enc<T: serde::Serialize>(v: &T) -> Vec<u8> {
    onionchat_proto::encode(v).expect("encode")
}

impl Pair {
    /// Sign both up on `addr` (which must allow open registration) and
    /// make them friends with a 1:1 room.
    pub async fn new(addr: &str) -> Pair {
        let ann = account(addr, "ann").await;
        let bob = account(addr, "bob").await;
        let r = raw::post_cbor(
            addr,
            "/v1/friends/requests",
            Some(&ann.token),
            enc(&onionchat_proto::wire::FriendRequestCreate { to: "bob".into() }),
        )
        .await;
        assert_eq!(r.status, 201, "friend request");
        let req: onionchat_proto::wire::FriendRequest =
            onionchat_proto::decode(&r.body).expect("request");
        let room = RoomId::random();
        let key = RoomKey::generate();
        let (roster, hash) =
            raw::direct_roster(room, (bob.id, "bob", &bob.key), (ann.id, "ann", &ann.key));
        let grant = |to, k: &IdentityKey| {
            onionchat_proto::crypto::room_key::make_grant(
                &bob.key,
                room,
                1,
                hash,
                to,
                k.public(),
                &key,
            )
            .expect("grant")
        };
        let accept = onionchat_proto::wire::AcceptFriendRequest {
            room_id: room,
            roster,
            key_grants: vec![grant(ann.id, &ann.key), grant(bob.id, &bob.key)],
        };
        let r = raw::post_cbor(
            addr,
            &format!("/v1/friends/requests/{}/accept", req.id),
            Some(&bob.token),
            enc(&accept),
        )
        .await;
        assert_eq!(r.status, 200, "accept: {:?}", r.code());
        Pair {
            addr: addr.into(),
            ann,
            bob,
            room,
            key,
        }
    }

    /// A sealed text message from `who` (the next counter of its stream).
    pub fn seal(&self, who: &Account, msg_id: MsgId, text: &str) -> Vec<u8> {
        let counter = who.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let envelope = message::seal(
            &who.key,
            self.room,
            1,
            &self.key,
            msg_id,
            message::Position {
                stream: 1,
                counter,
                roster: crate::raw::ANY_ROSTER,
            },
            onionchat_proto::now_ms(),
            &MessageContent::Text { text: text.into() },
        )
        .expect("seal");
        enc(&SendMessage { envelope })
    }

    /// POST a sealed message body.
    pub async fn post_message(&self, who: &Account, body: Vec<u8>) -> RawResponse {
        raw::post_cbor(
            &self.addr,
            &format!("/v1/rooms/{}/messages", self.room),
            Some(&who.token),
            body,
        )
        .await
    }

    /// Send a text message from `who`.
    pub async fn send(&self, who: &Account, text: &str) -> RawResponse {
        let body = self.seal(who, MsgId::random(), text);
        self.post_message(who, body).await
    }

    /// Announce a file of `len` plaintext bytes from `who`; its id, the
    /// ciphertext to upload, and the node's answer.
    pub async fn announce(&self, who: &Account, len: usize) -> (FileId, Vec<u8>, RawResponse) {
        let id = FileId::random();
        let chunk = onionchat_proto::limits::FILE_CHUNK_SIZE;
        let (header, mut sealer) =
            FileSealer::start(&who.key, self.room, 1, &self.key, id, len as u64, chunk)
                .expect("sealer");
        let mut ct = sealer.push(&vec![7u8; len]).expect("seal");
        ct.extend(sealer.finish().expect("finish"));
        assert_eq!(ct.len() as u64, ciphertext_len(len as u64, chunk));
        let r = raw::post_cbor(
            &self.addr,
            &format!("/v1/rooms/{}/files", self.room),
            Some(&who.token),
            enc(&FileUploadStart { header }),
        )
        .await;
        (id, ct, r)
    }

    /// PUT a file's bytes in one go.
    pub async fn upload(&self, who: &Account, id: FileId, bytes: Vec<u8>) -> RawResponse {
        let auth = format!("Bearer {}", who.token);
        raw::request(
            &self.addr,
            "PUT",
            &format!("/v1/files/{id}"),
            &[("authorization", &auth)],
            bytes,
        )
        .await
    }

    /// A request with `who`'s token and no body.
    pub async fn call(&self, who: &Account, method: &str, path: &str) -> RawResponse {
        let auth = format!("Bearer {}", who.token);
        raw::request(
            &self.addr,
            method,
            path,
            &[("authorization", &auth)],
            vec![],
        )
        .await
    }
}
