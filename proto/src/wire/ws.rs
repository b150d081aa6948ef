//! WebSocket frames (`GET /v1/ws`, binary frames of CBOR).

use super::{
    ApiError, FileId, FileInfo, FriendRequest, MsgId, Room, RoomId, SendAck, StoredMessage, UserId,
};
use serde::{Deserialize, Serialize};

/// Frames a client sends.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Send a message; answered by `ack` (after commit) or `error`.
    Send {
        /// A signed message envelope.
        envelope: super::Signed,
    },
    /// The user is typing in a room.
    Typing {
        /// Room.
        room_id: RoomId,
    },
    /// The user has read up to `seq`.
    Read {
        /// Room.
        room_id: RoomId,
        /// Highest read sequence number.
        seq: u64,
    },
    /// Keep-alive; answered by `pong`.
    Ping {
        /// Echoed back.
        nonce: u64,
    },
}

/// Frames the node sends.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame after the upgrade.
    Hello {
        /// The authenticated user.
        user_id: UserId,
        /// Node time (ms).
        server_time: u64,
    },
    /// A message the client sent is durably stored.
    Ack(SendAck),
    /// A new message in one of the user's rooms (including the user's own).
    Message(StoredMessage),
    /// A frame could not be handled.
    Error {
        /// The message it refers to, if it was a `send`.
        msg_id: Option<MsgId>,
        /// What went wrong.
        error: ApiError,
    },
    /// Someone is typing.
    Typing {
        /// Room.
        room_id: RoomId,
        /// Who.
        user: UserId,
    },
    /// A user sharing a room came online or went offline.
    Presence {
        /// Who.
        user: UserId,
        /// Now online.
        online: bool,
        /// Node time (ms) last seen.
        last_seen: u64,
    },
    /// A member's delivery/read state changed.
    Receipt {
        /// Room.
        room_id: RoomId,
        /// Member.
        user: UserId,
        /// Highest delivered seq.
        delivered_seq: u64,
        /// Highest read seq.
        read_seq: u64,
    },
    /// A file upload finished.
    File(FileInfo),
    /// A file was deleted (by its uploader, or by retention).
    FileDeleted {
        /// Room it was shared in.
        room_id: RoomId,
        /// The file.
        file_id: FileId,
    },
    /// A room was created or its membership/epoch changed.
    Room(Room),
    /// The caller was removed from a room.
    RoomLeft {
        /// Room.
        room_id: RoomId,
    },
    /// A friend request was created or changed.
    FriendRequest(FriendRequest),
    /// Answer to `ping`.
    Pong {
        /// Echoed.
        nonce: u64,
    },
}
