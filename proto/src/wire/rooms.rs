//! Rooms (1:1 and groups), membership, and room-key grants.

use super::{Fingerprint, RoomId, Signed, UserId};
use serde::{Deserialize, Serialize};

/// 1:1 rooms come from friend requests; groups are created explicitly.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// Two friends; membership never changes.
    Direct,
    /// Three or more members (or fewer after people leave).
    Group,
}

/// A room as its members see it.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// Client-chosen random id.
    pub id: RoomId,
    /// Direct or group.
    pub kind: RoomKind,
    /// Current members, ascending.
    pub members: Vec<UserId>,
    /// Current key epoch (starts at 1).
    pub epoch: u32,
    /// Who created it (may change members of a group).
    pub created_by: UserId,
    /// Node time (ms) of creation.
    pub created_at: u64,
    /// Membership changed without a new key: sends are refused until a
    /// member uploads epoch `epoch + 1` for `members`.
    pub rekey_required: bool,
    /// Highest message sequence number so far (0 = none).
    pub last_seq: u64,
    /// Optional title, encrypted by clients (opaque to the node).
    #[serde(with = "serde_bytes")]
    pub title: Option<Vec<u8>>,
}

/// The signed body of a key grant (context `key-grant`): the room key of one
/// epoch, RSA-OAEP-wrapped for one recipient, signed by the member who made it.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGrantBody {
    /// Protocol version.
    pub v: u16,
    /// Room the key belongs to.
    pub room_id: RoomId,
    /// Epoch the key belongs to.
    pub epoch: u32,
    /// Recipient account.
    pub recipient: UserId,
    /// Fingerprint of the key it is wrapped for.
    pub recipient_fp: Fingerprint,
    /// Fingerprint of the granting member (the signer).
    pub granter_fp: Fingerprint,
    /// RSA-OAEP(SHA-256, MGF1-SHA-256) of the 32-byte room key.
    #[serde(with = "serde_bytes")]
    pub wrapped_key: Vec<u8>,
}

/// `POST /v1/rooms` body.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoom {
    /// Random id for the new room.
    pub room_id: RoomId,
    /// All members including the creator (each must be the creator's friend).
    pub members: Vec<UserId>,
    /// Epoch-1 grants covering exactly `members`.
    pub key_grants: Vec<Signed>,
    /// Optional encrypted title.
    #[serde(with = "serde_bytes")]
    pub title: Option<Vec<u8>>,
}

/// `POST /v1/rooms/{id}/epochs` body: a new epoch, optionally with a new
/// member list (add/remove). Grants must cover exactly `members`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rekey {
    /// Must be the room's epoch + 1.
    pub epoch: u32,
    /// The member list from this epoch on.
    pub members: Vec<UserId>,
    /// One grant per member.
    pub key_grants: Vec<Signed>,
}

/// `GET /v1/rooms` answer.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RoomList {
    /// Rooms the caller is a member of.
    pub rooms: Vec<Room>,
}

/// `GET /v1/rooms/{id}/keys` answer: every grant addressed to the caller.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RoomKeys {
    /// Grants, ascending by epoch.
    pub grants: Vec<Signed>,
}
