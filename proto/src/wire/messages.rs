//! Messages: the signed envelope, what the node stores, history and markers.

use super::{FileId, Fingerprint, MsgId, RoomId, RosterHash, Signed, UserId};
use serde::{Deserialize, Serialize};

/// The signed body of a message (context `message`). The node checks its
/// shape, room, epoch and sender; only members with the room key can read it.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageBody {
    /// Protocol version.
    pub v: u16,
    /// Room it is for.
    pub room_id: RoomId,
    /// Key epoch used.
    pub epoch: u32,
    /// Sender's key fingerprint.
    pub sender_fp: Fingerprint,
    /// Sender-chosen id; resending the same id never duplicates.
    pub msg_id: MsgId,
    /// Sender's clock (ms) when written; informational.
    pub sent_at: u64,
    /// The sender's send stream (random per device): counters count per
    /// (room, sender, stream), so two computers sharing an account never
    /// collide.
    pub stream: u64,
    /// Per (room, sender, stream) counter, from 1, one more per new message
    /// (a resend keeps it): receivers refuse replays and see gaps.
    pub counter: u64,
    /// The latest roster of the room the sender had verified when sending
    /// (protocol 3): a receiver who knows a newer one sees that the sender
    /// is behind ("bob has not seen that mallory was removed"), and a
    /// sender who sees a newer one named by others stops sealing under an
    /// epoch that a removed member may hold.
    pub roster: RosterRef,
    /// Counters of this stream that the sender's earlier attempts used
    /// without hearing that the node stored them (at most
    /// [`crate::limits::MAX_VOID_COUNTERS`], each below `counter`): the
    /// sender never uses them again and counts those attempts as not sent,
    /// so receivers do not report them missing, and refuse them if the node
    /// delivers one later. Absent when empty (protocol 3 bodies without it
    /// are unchanged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub void: Vec<u64>,
    /// AES-GCM nonce (12 bytes).
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    /// AES-256-GCM ciphertext + tag of a CBOR [`MessageContent`].
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

/// Names one roster of a room: its version and hash.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RosterRef {
    /// Roster version (1 for the first).
    pub version: u64,
    /// Its hash (§4.1).
    pub hash: RosterHash,
}

/// What a message says, once decrypted (never seen by the node).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageContent {
    /// A text message.
    Text {
        /// UTF-8 text.
        text: String,
    },
    /// A file was shared; fetch it with `GET /v1/files/{file_id}`.
    File {
        /// The uploaded file.
        file_id: FileId,
        /// Original file name.
        name: String,
        /// MIME type, if known.
        mime: Option<String>,
        /// Plaintext size in bytes.
        size: u64,
        /// SHA-256 of the plaintext.
        #[serde(with = "serde_bytes")]
        sha256: Vec<u8>,
    },
}

/// A message as stored and relayed by the node.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Room.
    pub room_id: RoomId,
    /// Per-room sequence number, from 1, without gaps.
    pub seq: u64,
    /// Node time (ms) of the durable commit.
    pub server_time: u64,
    /// Authenticated sender.
    pub sender: UserId,
    /// Exactly what the sender sent.
    pub envelope: Signed,
}

/// `POST /v1/rooms/{id}/messages` body (the WebSocket `send` frame carries the same).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    /// A [`Signed`] [`MessageBody`].
    pub envelope: Signed,
}

/// Sent only after the message is durably committed.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendAck {
    /// Room.
    pub room_id: RoomId,
    /// The sender's id for the message.
    pub msg_id: MsgId,
    /// Assigned sequence number.
    pub seq: u64,
    /// Node time (ms) of the commit.
    pub server_time: u64,
    /// True if this id was already stored (a resend); nothing new was stored.
    pub duplicate: bool,
}

/// `GET /v1/rooms/{id}/messages?after=SEQ&limit=N` answer.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Room.
    pub room_id: RoomId,
    /// Messages with `seq > after`, ascending, at most `limit`.
    pub messages: Vec<StoredMessage>,
    /// More messages follow the last one returned.
    pub has_more: bool,
}

/// `POST /v1/rooms/{id}/read` body.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetReadMarker {
    /// Highest sequence number the caller has read.
    pub seq: u64,
}

/// One member's delivery and read state in a room.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberState {
    /// Member.
    pub user: UserId,
    /// Highest seq delivered to one of the member's devices.
    pub delivered_seq: u64,
    /// Highest seq the member marked read.
    pub read_seq: u64,
}

/// `GET /v1/rooms/{id}/read` answer.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarkers {
    /// Room.
    pub room_id: RoomId,
    /// One entry per current member.
    pub members: Vec<MemberState>,
}
