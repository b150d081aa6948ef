//! Friend requests. Accepting one creates the pair's 1:1 room.

use super::{RoomId, Signed, UserInfo};
use serde::{Deserialize, Serialize};

/// `POST /v1/friends/requests` body.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRequestCreate {
    /// Username to befriend.
    pub to: String,
}

/// Where a friend request stands.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FriendRequestState {
    /// Waiting for the recipient.
    Pending,
    /// Accepted; `room_id` is set.
    Accepted,
    /// Declined by the recipient.
    Declined,
    /// Withdrawn by the sender.
    Cancelled,
}

/// One friend request.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRequest {
    /// Node-assigned id.
    pub id: super::RequestId,
    /// Sender.
    pub from: UserInfo,
    /// Recipient.
    pub to: UserInfo,
    /// Current state.
    pub state: FriendRequestState,
    /// Node time (ms) of creation.
    pub created_at: u64,
    /// The 1:1 room, once accepted.
    pub room_id: Option<RoomId>,
}

/// `GET /v1/friends/requests` answer.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FriendRequestList {
    /// Requests others sent to the caller.
    pub incoming: Vec<FriendRequest>,
    /// Requests the caller sent.
    pub outgoing: Vec<FriendRequest>,
}

/// `POST /v1/friends/requests/{id}/accept` body: the new 1:1 room and its
/// first key, wrapped for both members.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptFriendRequest {
    /// Random id for the new room.
    pub room_id: RoomId,
    /// The room's first roster (kind `direct`, the two friends), signed by
    /// the accepting user.
    pub roster: Signed,
    /// Epoch-1 key grants for exactly the two members, bound to `roster`.
    pub key_grants: Vec<Signed>,
}

/// One friend and the room shared with them.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friend {
    /// The friend.
    pub user: UserInfo,
    /// The 1:1 room.
    pub room_id: RoomId,
}

/// `GET /v1/friends` answer.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FriendList {
    /// Everyone the caller is friends with.
    pub friends: Vec<Friend>,
}
