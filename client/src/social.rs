//! Friends, rooms, room keys and re-keying.

use hyper::Method;
use onionchat_proto::crypto::RoomKey;
use onionchat_proto::crypto::room_key::{decode_grant, make_grant, open_grant};
use onionchat_proto::wire::{
    AcceptFriendRequest, CreateRoom, ErrorCode, Friend, FriendList, FriendRequest,
    FriendRequestCreate, FriendRequestList, Rekey, RequestId, Room, RoomId, RoomKeys, RoomList,
    Signed, UserId,
};

use crate::client::Client;
use crate::error::{ClientError, Result};

impl Client {
    /// Friends and their 1:1 rooms.
    pub async fn friends(&self) -> Result<Vec<Friend>> {
        let list: FriendList = self.call::<(), _>(Method::GET, "/v1/friends", None).await?;
        for f in &list.friends {
            self.check_pin(&f.user)?;
        }
        Ok(list.friends)
    }

    /// Ask `username` to be friends.
    pub async fn send_friend_request(&self, username: &str) -> Result<FriendRequest> {
        self.user(username).await?;
        self.call(
            Method::POST,
            "/v1/friends/requests",
            Some(&FriendRequestCreate {
                to: username.into(),
            }),
        )
        .await
    }

    /// Pending requests to and from us.
    pub async fn friend_requests(&self) -> Result<FriendRequestList> {
        self.call::<(), _>(Method::GET, "/v1/friends/requests", None)
            .await
    }

    /// Make grants of `key` for every member (keys fetched and checked
    /// against pins first: a changed key stops here with `KeyChanged`).
    async fn grants_for(
        &self,
        room: RoomId,
        epoch: u32,
        members: &[UserId],
        key: &RoomKey,
    ) -> Result<Vec<Signed>> {
        let mut grants = Vec::with_capacity(members.len());
        for m in members {
            let their_key = self.key_of(*m, true).await?;
            let p = self.profile();
            grants.push(make_grant(&p.identity, room, epoch, *m, &their_key, key)?);
        }
        Ok(grants)
    }

    fn remember_key(&self, room: RoomId, epoch: u32, key: &RoomKey) -> Result<()> {
        let mut p = self.profile();
        p.put_room_key(room.0, epoch, *key.as_bytes());
        p.save()
    }

    /// Accept a friend request: make the 1:1 room and its first key.
    pub async fn accept_friend_request(&self, id: RequestId) -> Result<Room> {
        let list = self.friend_requests().await?;
        let req = list
            .incoming
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| {
                ClientError::NotFound(format!("no pending friend request {id} for you"))
            })?;
        self.check_pin(&req.from)?;
        let room_id = RoomId::random();
        let key = RoomKey::generate();
        let grants = self
            .grants_for(room_id, 1, &[self.me(), req.from.user_id], &key)
            .await?;
        // Keep the key before the node has it, so a lost answer loses nothing.
        self.remember_key(room_id, 1, &key)?;
        self.call(
            Method::POST,
            &format!("/v1/friends/requests/{id}/accept"),
            Some(&AcceptFriendRequest {
                room_id,
                key_grants: grants,
            }),
        )
        .await
    }

    /// Decline a request sent to us.
    pub async fn decline_friend_request(&self, id: RequestId) -> Result<FriendRequest> {
        self.call::<(), _>(
            Method::POST,
            &format!("/v1/friends/requests/{id}/decline"),
            None,
        )
        .await
    }

    /// Withdraw a request we sent.
    pub async fn cancel_friend_request(&self, id: RequestId) -> Result<FriendRequest> {
        self.call::<(), _>(
            Method::POST,
            &format!("/v1/friends/requests/{id}/cancel"),
            None,
        )
        .await
    }

    /// Our rooms.
    pub async fn rooms(&self) -> Result<Vec<Room>> {
        let list: RoomList = self.call::<(), _>(Method::GET, "/v1/rooms", None).await?;
        Ok(list.rooms)
    }

    /// One room (fresh from the node).
    pub async fn room(&self, id: RoomId) -> Result<Room> {
        let room: Room = self
            .call::<(), _>(Method::GET, &format!("/v1/rooms/{id}"), None)
            .await?;
        self.remember_room(&room);
        Ok(room)
    }

    pub(crate) fn remember_room(&self, room: &Room) {
        self.rooms_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(room.id, room.clone());
    }

    pub(crate) fn forget_room(&self, id: RoomId) {
        self.rooms_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// The room as last seen (from the node if never seen).
    pub(crate) async fn room_cached(&self, id: RoomId) -> Result<Room> {
        let seen = self
            .rooms_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned();
        match seen {
            Some(r) => Ok(r),
            None => self.room(id).await,
        }
    }

    /// The 1:1 room with a friend.
    pub async fn direct_room(&self, username: &str) -> Result<RoomId> {
        let c = self.user(username).await?;
        self.friends()
            .await?
            .into_iter()
            .find(|f| f.user.user_id == c.user_id)
            .map(|f| f.room_id)
            .ok_or_else(|| ClientError::NotFound(format!("you are not friends with {username}")))
    }

    /// Create a group with friends.
    pub async fn create_group(&self, usernames: &[&str]) -> Result<Room> {
        let mut members = vec![self.me()];
        for name in usernames {
            let c = self.user(name).await?;
            if !members.contains(&c.user_id) {
                members.push(c.user_id);
            }
        }
        let room_id = RoomId::random();
        let key = RoomKey::generate();
        let grants = self.grants_for(room_id, 1, &members, &key).await?;
        self.remember_key(room_id, 1, &key)?;
        self.call(
            Method::POST,
            "/v1/rooms",
            Some(&CreateRoom {
                room_id,
                members,
                key_grants: grants,
                title: None,
            }),
        )
        .await
    }

    /// Upload a new epoch for `members` (re-key; add/remove members).
    pub async fn set_members(&self, room_id: RoomId, members: Vec<UserId>) -> Result<Room> {
        let room = self.room(room_id).await?;
        let epoch = room.epoch + 1;
        let key = RoomKey::generate();
        let grants = self.grants_for(room_id, epoch, &members, &key).await?;
        self.remember_key(room_id, epoch, &key)?;
        self.call(
            Method::POST,
            &format!("/v1/rooms/{room_id}/epochs"),
            Some(&Rekey {
                epoch,
                members,
                key_grants: grants,
            }),
        )
        .await
    }

    /// A fresh key for the same members (after someone left).
    pub async fn rekey(&self, room_id: RoomId) -> Result<Room> {
        let room = self.room(room_id).await?;
        self.set_members(room_id, room.members).await
    }

    /// Add friends to a group (new epoch).
    pub async fn add_members(&self, room_id: RoomId, usernames: &[&str]) -> Result<Room> {
        let mut members = self.room(room_id).await?.members;
        for n in usernames {
            let c = self.user(n).await?;
            if !members.contains(&c.user_id) {
                members.push(c.user_id);
            }
        }
        self.set_members(room_id, members).await
    }

    /// Remove members from a group (new epoch they do not get).
    pub async fn remove_members(&self, room_id: RoomId, usernames: &[&str]) -> Result<Room> {
        let mut members = self.room(room_id).await?.members;
        for n in usernames {
            let c = self.user(n).await?;
            members.retain(|m| *m != c.user_id);
        }
        self.set_members(room_id, members).await
    }

    /// Leave a group.
    pub async fn leave(&self, room_id: RoomId) -> Result<()> {
        self.call_empty::<()>(Method::POST, &format!("/v1/rooms/{room_id}/leave"), None)
            .await
    }

    /// The room key of an epoch: from the vault, or from the node's grants
    /// (each verified: signed by a room member whose key we trust).
    pub(crate) async fn room_key(&self, room_id: RoomId, epoch: u32) -> Result<RoomKey> {
        if let Some(k) = self.profile().room_key(room_id.0, epoch) {
            return Ok(RoomKey::from_bytes(k));
        }
        let keys: RoomKeys = self
            .call::<(), _>(Method::GET, &format!("/v1/rooms/{room_id}/keys"), None)
            .await?;
        let room = self.room(room_id).await?;
        for grant in &keys.grants {
            let Ok(body) = decode_grant(grant) else {
                continue;
            };
            if self.profile().room_key(room_id.0, body.epoch).is_some() {
                continue;
            }
            // The granter must be someone we know by key: a current member,
            // or (for old epochs) a pinned contact.
            let granter = self.granter_key(&room, body.granter_fp).await?;
            let Some(granter) = granter else {
                tracing::warn!(room = %room_id, epoch = body.epoch, "key grant from an unknown key ignored");
                continue;
            };
            let opened = {
                let p = self.profile();
                open_grant(&p.identity, grant, &granter, room_id)
            };
            match opened {
                Ok((b, key)) => self.remember_key(room_id, b.epoch, &key)?,
                Err(e) => tracing::warn!(room = %room_id, error = %e, "key grant rejected"),
            }
        }
        self.profile()
            .room_key(room_id.0, epoch)
            .map(RoomKey::from_bytes)
            .ok_or(ClientError::Verify(
                onionchat_proto::crypto::OpenError::UnknownEpoch(epoch),
            ))
    }

    async fn granter_key(
        &self,
        room: &Room,
        fp: onionchat_proto::wire::Fingerprint,
    ) -> Result<Option<onionchat_proto::crypto::PublicIdentity>> {
        if fp == self.fingerprint() {
            return Ok(Some(self.profile().identity.public().clone()));
        }
        for m in &room.members {
            let k = self.key_of(*m, false).await?;
            if k.fingerprint() == fp {
                return Ok(Some(k));
            }
        }
        let pinned = {
            let p = self.profile();
            p.data
                .pins
                .values()
                .find(|pin| pin.fingerprint == fp.0)
                .map(|pin| pin.spki_der.clone())
        };
        Ok(match pinned {
            Some(der) => Some(onionchat_proto::crypto::PublicIdentity::from_spki_der(
                &der,
            )?),
            None => None,
        })
    }

    /// Make sure we can send in `room`: if membership changed, upload a new key.
    pub(crate) async fn ready_room(&self, room_id: RoomId) -> Result<Room> {
        let room = self.room_cached(room_id).await?;
        if room.rekey_required {
            match self.rekey(room_id).await {
                Ok(r) => return Ok(r),
                // Someone else re-keyed first.
                Err(e) if e.code() == Some(ErrorCode::StaleEpoch) => {
                    return self.room(room_id).await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(room)
    }
}
