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
        /// For a picture: a small preview made on the sender's device
        /// (re-encoded, so it carries none of the original's metadata),
        /// shown in the conversation before the file is fetched. Absent
        /// for other files.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preview: Option<Box<Preview>>,
    },
    /// A text answering an earlier message of the room.
    Reply {
        /// The `msg_id` of the message answered (signed inside it, so the
        /// node cannot point a reply elsewhere).
        to: MsgId,
        /// A short excerpt of what is answered (at most
        /// [`crate::limits::MAX_EXCERPT`] bytes), shown even when the
        /// original is not loaded.
        excerpt: String,
        /// The answer.
        text: String,
    },
    /// Add or take back an emoji reaction to an earlier message.
    Reaction {
        /// The `msg_id` reacted to.
        to: MsgId,
        /// One emoji (at most [`crate::limits::MAX_REACTION`] bytes).
        emoji: String,
        /// True to add it, false to take it back.
        on: bool,
    },
    /// Delete for everyone: the sender takes back one of their own
    /// messages. Receivers hide it (and refuse it if the node serves it
    /// again); the sender also asks the node to erase it (`EraseBody`).
    Delete {
        /// The `msg_id` taken back (the sender's own).
        to: MsgId,
    },
    /// Name (or rename) a group; only an admin of the room's verified
    /// roster may, and the name is inside the encrypted body, so the node
    /// never sees it.
    Rename {
        /// The new name (1..=[`crate::limits::MAX_ROOM_NAME`] bytes).
        name: String,
    },
}

/// A small picture travelling inside a [`MessageContent::File`].
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// `image/jpeg` or `image/png`.
    pub mime: String,
    /// Width of the preview in pixels.
    pub width: u32,
    /// Height of the preview in pixels.
    pub height: u32,
    /// The encoded preview (at most [`crate::limits::MAX_PREVIEW_BYTES`]).
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
    /// Width of the full picture.
    pub full_width: u32,
    /// Height of the full picture.
    pub full_height: u32,
}

impl MessageContent {
    /// Check what the protocol bounds inside a decrypted body (sizes of
    /// excerpts, emoji, names and previews). Receivers refuse content that
    /// fails, senders never seal it.
    pub fn check(&self) -> Result<(), String> {
        use crate::limits::*;
        match self {
            MessageContent::Text { .. } => Ok(()),
            MessageContent::File {
                sha256, preview, ..
            } => {
                if sha256.len() != 32 {
                    return Err("a file's SHA-256 is not 32 bytes".into());
                }
                if let Some(p) = preview {
                    if p.bytes.len() > MAX_PREVIEW_BYTES {
                        return Err(format!(
                            "a preview is {} bytes, over {MAX_PREVIEW_BYTES}",
                            p.bytes.len()
                        ));
                    }
                    if p.width == 0
                        || p.height == 0
                        || p.width > MAX_PREVIEW_SIDE
                        || p.height > MAX_PREVIEW_SIDE
                    {
                        return Err(format!(
                            "a preview is {}×{} pixels; each side must be 1..={MAX_PREVIEW_SIDE}",
                            p.width, p.height
                        ));
                    }
                    if p.mime != "image/jpeg" && p.mime != "image/png" {
                        return Err(format!("a preview of type {} is not allowed", p.mime));
                    }
                }
                Ok(())
            }
            MessageContent::Reply { excerpt, .. } => {
                if excerpt.len() > MAX_EXCERPT {
                    return Err(format!("a reply's excerpt is over {MAX_EXCERPT} bytes"));
                }
                Ok(())
            }
            MessageContent::Reaction { emoji, .. } => {
                if emoji.is_empty() || emoji.len() > MAX_REACTION {
                    return Err(format!("a reaction must be 1..={MAX_REACTION} bytes"));
                }
                if emoji.chars().any(char::is_control) {
                    return Err("a reaction has a control character".into());
                }
                Ok(())
            }
            MessageContent::Delete { .. } => Ok(()),
            MessageContent::Rename { name } => {
                if name.trim().is_empty() || name.len() > MAX_ROOM_NAME {
                    return Err(format!("a group name must be 1..={MAX_ROOM_NAME} bytes"));
                }
                if name.chars().any(char::is_control) {
                    return Err("a group name has a control character".into());
                }
                Ok(())
            }
        }
    }

    /// A short plain-text line for what a message says (lists, reply
    /// excerpts, notifications, search).
    pub fn summary(&self) -> String {
        match self {
            MessageContent::Text { text } | MessageContent::Reply { text, .. } => text.clone(),
            MessageContent::File { name, preview, .. } => {
                if preview.is_some() {
                    format!("📷 {name}")
                } else {
                    format!("📎 {name}")
                }
            }
            MessageContent::Reaction { emoji, on, .. } => {
                if *on {
                    format!("reacted {emoji}")
                } else {
                    format!("took back {emoji}")
                }
            }
            MessageContent::Delete { .. } => "deleted a message".into(),
            MessageContent::Rename { name } => format!("named the group \"{name}\""),
        }
    }
}

/// The excerpt of `text` a reply carries: its first line, cut on a
/// character boundary at [`crate::limits::MAX_EXCERPT`] bytes (with "…").
pub fn excerpt_of(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let max = crate::limits::MAX_EXCERPT - '…'.len_utf8();
    if line.len() <= crate::limits::MAX_EXCERPT {
        return line.to_string();
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

/// Delete for everyone, as the node sees it: the author's signed request
/// (context `erase`) to drop the ciphertext of one of their messages. The
/// node checks it against the stored envelope and keeps it in the
/// message's place, so members can tell an erased message from one the
/// node dropped on its own.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseBody {
    /// Protocol version.
    pub v: u16,
    /// Room.
    pub room_id: RoomId,
    /// The author's key (the erased message's `sender_fp`).
    pub sender_fp: Fingerprint,
    /// The erased message's seq at the node.
    pub seq: u64,
    /// Its `msg_id`.
    pub msg_id: MsgId,
    /// Its stream and counter: receivers account for the counter as
    /// delivered, so an erased message is never reported missing.
    pub stream: u64,
    /// Its counter in `stream`.
    pub counter: u64,
    /// Author's clock (ms) when erasing; informational.
    pub erased_at: u64,
}

/// `POST /v1/rooms/{id}/erase` body.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseMessage {
    /// A [`Signed`] [`EraseBody`] (context `erase`).
    pub erase: Signed,
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
    /// Exactly what the sender sent; for an erased message, the author's
    /// signed [`EraseBody`] instead.
    pub envelope: Signed,
    /// The author erased it (delete for everyone): `envelope` is their
    /// signed [`EraseBody`], the ciphertext is gone. Absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
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
