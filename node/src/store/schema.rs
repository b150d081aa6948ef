//! The redb schema: every table, its key and value, and the record types
//! stored as CBOR values. Bump [`SCHEMA_VERSION`] and add a step to
//! [`super::migrate`] when any of this changes.

use onionchat_proto::wire::{FriendRequestState, RoomKind, Signed};
use redb::TableDefinition;
use serde::{Deserialize, Serialize};

/// Version of the layout below.
pub const SCHEMA_VERSION: u64 = 4;

/// Counters and settings: `schema_version`, `next_user_id`, `next_request_id`,
/// `messages_total`, `day:<days since epoch>` (messages that UTC day).
pub const META: TableDefinition<'static, &str, u64> = TableDefinition::new("meta");
/// user id → [`UserRecord`].
pub const USERS: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("users");
/// username → user id (uniqueness).
pub const USERNAMES: TableDefinition<'static, &str, u64> = TableDefinition::new("usernames");
/// key fingerprint → user id (one account per key).
pub const FINGERPRINTS: TableDefinition<'static, [u8; 32], u64> =
    TableDefinition::new("fingerprints");
/// SHA-256 of a session token → [`SessionRecord`].
pub const SESSIONS: TableDefinition<'static, [u8; 32], &[u8]> = TableDefinition::new("sessions");
/// invite code → [`InviteRecord`].
pub const INVITES: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("invites");
/// request id → [`FriendRequestRecord`].
pub const FRIEND_REQUESTS: TableDefinition<'static, u64, &[u8]> =
    TableDefinition::new("friend_requests");
/// (user a, user b) with a < b → the id of their pending friend request
/// (schema 3; so a new request is checked without reading every request).
pub const PENDING_PAIRS: TableDefinition<'static, (u64, u64), u64> =
    TableDefinition::new("pending_pairs");
/// (user a, user b) with a < b → 1:1 room id.
pub const FRIENDSHIPS: TableDefinition<'static, (u64, u64), [u8; 16]> =
    TableDefinition::new("friendships");
/// room id → [`RoomRecord`].
pub const ROOMS: TableDefinition<'static, [u8; 16], &[u8]> = TableDefinition::new("rooms");
/// room id → last message sequence number (hot: updated per message).
pub const ROOM_SEQ: TableDefinition<'static, [u8; 16], u64> = TableDefinition::new("room_seq");
/// (user, room) → () — the rooms a user is in.
pub const MEMBERSHIPS: TableDefinition<'static, (u64, [u8; 16]), ()> =
    TableDefinition::new("memberships");
/// (room, roster version) → CBOR [`Signed`] roster (membership statement).
pub const ROSTERS: TableDefinition<'static, ([u8; 16], u64), &[u8]> =
    TableDefinition::new("rosters");
/// (room, epoch, recipient) → CBOR [`Signed`] key grant.
pub const GRANTS: TableDefinition<'static, ([u8; 16], u32, u64), &[u8]> =
    TableDefinition::new("grants");
/// (room, seq) → CBOR `StoredMessage`.
pub const MESSAGES: TableDefinition<'static, ([u8; 16], u64), &[u8]> =
    TableDefinition::new("messages");
/// (room, msg id) → seq (idempotent sends).
pub const MSG_IDS: TableDefinition<'static, ([u8; 16], [u8; 16]), u64> =
    TableDefinition::new("msg_ids");
/// (room, user) → (delivered seq, read seq).
pub const MARKERS: TableDefinition<'static, ([u8; 16], u64), (u64, u64)> =
    TableDefinition::new("markers");
/// file id → [`FileRecord`].
pub const FILES: TableDefinition<'static, [u8; 16], &[u8]> = TableDefinition::new("files");
/// user id → bytes of completed uploads (quota).
pub const USAGE: TableDefinition<'static, u64, u64> = TableDefinition::new("usage");
/// user id → bytes of their stored messages (quota, with [`USAGE`]).
pub const MSG_USAGE: TableDefinition<'static, u64, u64> = TableDefinition::new("msg_usage");
/// user id → bytes of the rosters and key grants they uploaded (schema 4;
/// quota, with [`USAGE`] and [`MSG_USAGE`]: rooms and re-keys are writes
/// like any other).
pub const ROOM_USAGE: TableDefinition<'static, u64, u64> = TableDefinition::new("room_usage");

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    /// Unique name.
    pub username: String,
    /// SPKI DER.
    #[serde(with = "serde_bytes")]
    pub public_key: Vec<u8>,
    /// SHA-256 of `public_key`.
    pub fingerprint: [u8; 32],
    /// Administers the node.
    pub is_owner: bool,
    /// ms since epoch.
    pub created_at: u64,
    /// When the owner removed the account (it can no longer log in);
    /// absent in records written before removal existed.
    #[serde(default)]
    pub removed_at: Option<u64>,
}

/// A login session (the token itself is never stored, only its hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Owner of the session.
    pub user_id: u64,
    /// ms since epoch.
    pub created_at: u64,
    /// ms since epoch.
    pub expires_at: u64,
}

/// An invite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InviteRecord {
    /// ms since epoch.
    pub created_at: u64,
    /// ms since epoch.
    pub expires_at: u64,
    /// Who redeemed it.
    pub used_by: Option<u64>,
    /// Revoked by the owner.
    pub revoked: bool,
    /// Owner's note.
    pub note: Option<String>,
    /// Redeeming makes the owner.
    pub owner: bool,
}

/// A friend request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FriendRequestRecord {
    /// Sender.
    pub from: u64,
    /// Recipient.
    pub to: u64,
    /// State.
    pub state: FriendRequestState,
    /// ms since epoch.
    pub created_at: u64,
    /// Room once accepted.
    pub room_id: Option<[u8; 16]>,
}

/// A room (its sequence counter lives in [`ROOM_SEQ`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoomRecord {
    /// Direct or group.
    pub kind: RoomKind,
    /// Current members, ascending.
    pub members: Vec<u64>,
    /// Current key epoch.
    pub epoch: u32,
    /// Creator.
    pub created_by: u64,
    /// ms since epoch.
    pub created_at: u64,
    /// Membership changed; sends refused until a new epoch is uploaded.
    pub rekey_required: bool,
    /// Encrypted title.
    #[serde(with = "serde_bytes")]
    pub title: Option<Vec<u8>>,
    /// Version of the latest roster (its bytes are in [`ROSTERS`]).
    pub roster_version: u64,
    /// Hash of the latest roster.
    pub roster_hash: [u8; 32],
}

/// A file's metadata (its bytes live in the blob directory).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRecord {
    /// Room.
    pub room_id: [u8; 16],
    /// Uploader.
    pub uploader: u64,
    /// Exact ciphertext size.
    pub ciphertext_len: u64,
    /// Signed header.
    pub header: Signed,
    /// ms since epoch.
    pub created_at: u64,
    /// All bytes stored durably.
    pub complete: bool,
}
