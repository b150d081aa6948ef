//! Rooms (1:1 and groups), membership, and room-key grants.

use super::{Fingerprint, RoomId, RosterHash, Signed, UserId};
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

/// What a roster statement changes.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RosterChange {
    /// The room's first roster.
    Create,
    /// An admin added members.
    Add,
    /// An admin removed members.
    Remove,
    /// The signer left.
    Leave,
}

/// One member as a roster names them: the key is part of the signed
/// statement, so nobody can swap it afterwards.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterMember {
    /// Account.
    pub user: UserId,
    /// Username at the time (for display: "introduced by …").
    pub username: String,
    /// Fingerprint of the member's identity key.
    pub fp: Fingerprint,
}

/// The signed body of a roster (context `roster`): who is in a room after
/// one membership change, signed by the member who made the change and
/// chained to the roster before it. Clients believe membership only from a
/// verified chain of these, never from the node's word.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterBody {
    /// Protocol version.
    pub v: u16,
    /// The room.
    pub room_id: RoomId,
    /// Direct (fixed at creation) or group.
    pub kind: RoomKind,
    /// 1 for the first roster, one more per change.
    pub version: u64,
    /// Hash of the previous roster (`None` only for version 1).
    pub prev: Option<RosterHash>,
    /// What changed.
    pub change: RosterChange,
    /// The signer (the member who made the change).
    pub actor: UserId,
    /// The signer's key fingerprint.
    pub actor_fp: Fingerprint,
    /// Every member after the change, ascending by user id.
    pub members: Vec<RosterMember>,
    /// Members who may add and remove others (the creator of a group).
    pub admins: Vec<UserId>,
    /// Signer's clock, ms (informational).
    pub created_at: u64,
}

/// `GET /v1/rooms/{id}/rosters?after=V` answer: the room's rosters with
/// `version > V`, ascending.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RosterChain {
    /// Signed rosters, ascending by version.
    pub rosters: Vec<Signed>,
}

/// `POST /v1/rooms/{id}/leave` body: the leave statement.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveRoom {
    /// A roster with change `leave`, signed by the caller.
    pub roster: Signed,
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
    /// The latest signed roster. `members` is the node's copy of it;
    /// clients trust only the roster (and its chain).
    pub roster: Signed,
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
    /// The roster this epoch's key is for: the recipient and the granter
    /// must both be members of it.
    pub roster: RosterHash,
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
    /// The first roster (kind `group`, change `create`), signed by the
    /// creator; its members must be the creator and their friends.
    pub roster: Signed,
    /// Epoch-1 grants covering exactly the roster's members.
    pub key_grants: Vec<Signed>,
    /// Optional encrypted title.
    #[serde(with = "serde_bytes")]
    pub title: Option<Vec<u8>>,
}

/// `POST /v1/rooms/{id}/epochs` body: a new epoch, optionally with a new
/// roster (add/remove). Grants must cover exactly the members of the
/// roster in force (the new one if given) and be bound to it.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rekey {
    /// Must be the room's epoch + 1.
    pub epoch: u32,
    /// A new roster (change `add` or `remove`), or `None` to re-key the
    /// same members.
    pub roster: Option<Signed>,
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
