//! What the client core tells a UI, as a stream of events.

use onionchat_proto::wire::{
    FileId, FileInfo, Fingerprint, FriendRequest, MessageContent, MsgId, Room, RoomId, UserId,
};

/// A verified, decrypted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Room.
    pub room_id: RoomId,
    /// Per-room sequence number.
    pub seq: u64,
    /// Node time (ms) of the commit.
    pub server_time: u64,
    /// Sender.
    pub sender: UserId,
    /// Sender's username (from the pinned key).
    pub sender_name: String,
    /// Sender's message id.
    pub msg_id: MsgId,
    /// Sender's clock (ms).
    pub sent_at: u64,
    /// Key epoch.
    pub epoch: u32,
    /// The sender's device stream and the message's counter in it.
    pub stream: u64,
    /// Counter within the sender's stream (what orders one sender's
    /// messages; the node's `seq` does not).
    pub counter: u64,
    /// Counters of this stream the sender counts as not sent (their
    /// earlier attempts; see `MessageBody::void`).
    pub void: Vec<u64>,
    /// It filled a gap reported earlier: show it in its place by `counter`.
    pub late: bool,
    /// What it says. For a deleted message, `Delete { to: msg_id }` (its
    /// own id): what it said is gone.
    pub content: MessageContent,
    /// Deleted: by its author for everyone, or by this member for
    /// themselves. Shown as a placeholder, never with what it said.
    pub deleted: Option<Deletion>,
}

/// How a message was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// Its author deleted it for everyone (signed; the node erased it).
    ByAuthor,
    /// This member deleted it on their own devices only.
    ForMe,
}

/// A message from history or the live stream: verified, or rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Verified and decrypted.
    Message(Received),
    /// Messages of a sender that the node never delivered (their counter
    /// skipped ahead): "2 messages from ann are missing".
    Missing {
        /// Room.
        room_id: RoomId,
        /// Sender.
        sender: UserId,
        /// Sender's username.
        sender_name: String,
        /// How many.
        count: u64,
        /// The seq of the message they should have come before.
        before: u64,
    },
    /// A genuine message (its signature checked) sent for the members of
    /// a roster that does not name this member — before they were added,
    /// or while they were out of the group. Its key was never theirs to
    /// have: not a refusal, nothing is wrong; a UI says so once, quietly.
    /// (The roster is the one its sender signed, verified in the chain:
    /// the box cannot pass a message sent to us off as one of these.)
    BeforeYouJoined {
        /// Room.
        room_id: RoomId,
        /// Seq.
        seq: u64,
        /// Sender.
        sender: UserId,
        /// Sender's username.
        sender_name: String,
    },
    /// Failed verification or decryption, or a replay; never shown as a
    /// message.
    Rejected {
        /// Room.
        room_id: RoomId,
        /// Seq.
        seq: u64,
        /// Claimed sender.
        sender: UserId,
        /// Why.
        reason: String,
    },
}

/// Connection state of the live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Trying to connect.
    Connecting,
    /// Live.
    Connected,
    /// Lost; retrying after a delay.
    Disconnected,
}

/// Everything a UI may want to react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A new message (or a rejected one).
    Message(Incoming),
    /// Someone is typing.
    Typing {
        /// Room.
        room_id: RoomId,
        /// Who.
        user: UserId,
    },
    /// A contact came online or went offline.
    Presence {
        /// Who.
        user: UserId,
        /// Online now.
        online: bool,
    },
    /// Delivery/read state changed.
    Receipt {
        /// Room.
        room_id: RoomId,
        /// Member.
        user: UserId,
        /// Delivered up to.
        delivered_seq: u64,
        /// Read up to.
        read_seq: u64,
    },
    /// A file finished uploading.
    File(FileInfo),
    /// A file was deleted from the node (by its uploader or by retention).
    FileDeleted {
        /// Room it was shared in.
        room_id: RoomId,
        /// The file.
        file_id: FileId,
    },
    /// A room appeared or changed.
    Room(Room),
    /// We were removed from a room.
    RoomLeft(RoomId),
    /// A friend request appeared or changed.
    FriendRequest(FriendRequest),
    /// A contact's key changed: stop trusting them until verified.
    KeyChanged {
        /// Account.
        user: UserId,
        /// Name.
        username: String,
        /// Pinned fingerprint.
        pinned: Fingerprint,
        /// New fingerprint from the node.
        seen: Fingerprint,
    },
    /// The live connection changed state.
    Connection(ConnectionState),
    /// A verified membership change ("ann added carol", "bob left").
    Membership {
        /// Room.
        room_id: RoomId,
        /// What happened, in words.
        text: String,
    },
    /// The node tried something members did not sign (an unsigned member,
    /// a planted key, a rollback); it was refused.
    Security {
        /// Room, if about one.
        room_id: Option<RoomId>,
        /// What was refused, in words.
        what: String,
    },
}

impl Incoming {
    /// The room's seq of the item (0 for a missing-messages notice).
    pub fn seq(&self) -> u64 {
        match self {
            Incoming::Message(r) => r.seq,
            Incoming::Rejected { seq, .. } | Incoming::BeforeYouJoined { seq, .. } => *seq,
            Incoming::Missing { .. } => 0,
        }
    }
}
