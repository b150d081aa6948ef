//! What the client core tells a UI, as a stream of events.

use onionchat_proto::wire::{
    FileInfo, Fingerprint, FriendRequest, MessageContent, MsgId, Room, RoomId, UserId,
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
    /// What it says.
    pub content: MessageContent,
}

/// A message from history or the live stream: verified, or rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Verified and decrypted.
    Message(Received),
    /// Failed verification or decryption; never shown as a message.
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
}
