//! Friends, rooms, rosters, room keys and re-keying.

use hyper::Method;
use onionchat_proto::crypto::RoomKey;
use onionchat_proto::crypto::room_key::{decode_grant, make_grant, open_grant};
use onionchat_proto::crypto::roster::{
    VerifiedRoster, check_step, first_roster, next_roster, roster_hash, sign_roster,
};
use onionchat_proto::now_ms;
use onionchat_proto::wire::{
    AcceptFriendRequest, CreateRoom, ErrorCode, Fingerprint, Friend, FriendList, FriendRequest,
    FriendRequestCreate, FriendRequestList, LeaveRoom, Rekey, RequestId, Room, RoomId, RoomKeys,
    RoomKind, RoomList, RosterBody, RosterChange, RosterHash, RosterMember, Signed, UserId,
    UserInfo,
};

use crate::client::{Client, Known};
use crate::error::{ClientError, Result};
use crate::events::ClientEvent;

impl Client {
    /// Friends and their 1:1 rooms, each checked against the contact book
    /// (see [`Client::friends_checked`]); any friend whose key changed
    /// fails the whole list.
    pub async fn friends(&self) -> Result<Vec<Friend>> {
        let mut out = Vec::new();
        for (f, ok) in self.friends_checked().await? {
            if !ok {
                self.check_user(&f.user)?;
            }
            out.push(f);
        }
        Ok(out)
    }

    /// Friends and their 1:1 rooms for a UI. The node's friend list is an
    /// index, never the truth: each friend must be a contact (or become one
    /// through the 1:1 room they signed after we asked them), and the room
    /// returned is that contact's verified 1:1 room whatever the node
    /// listed. A friend whose key changed is listed with `false` (and a
    /// `KeyChanged` event) so the window can show them with a warning; an
    /// entry that does not hold up (an impostor under a contact's name, a
    /// room that is not the one you share) is left out and reported as a
    /// `Security` event.
    pub async fn friends_checked(&self) -> Result<Vec<(Friend, bool)>> {
        let list: FriendList = self.call::<(), _>(Method::GET, "/v1/friends", None).await?;
        let mut out = Vec::with_capacity(list.friends.len());
        for mut f in list.friends {
            match self.check_friend(&mut f).await {
                Ok(()) => out.push((f, true)),
                Err(ClientError::KeyChanged { .. }) => {
                    if let Some(room) = self.contact_room(f.user.user_id) {
                        f.room_id = room;
                    }
                    out.push((f, false))
                }
                Err(ClientError::Untrusted(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Our verified 1:1 room with a contact.
    pub fn contact_room(&self, user: UserId) -> Option<RoomId> {
        self.profile()
            .data
            .pins
            .get(&user.0)
            .and_then(|p| p.room)
            .map(RoomId)
    }

    /// Check one friend-list entry; on success `f.room_id` is the
    /// contact's own verified 1:1 room.
    async fn check_friend(&self, f: &mut Friend) -> Result<()> {
        let user = f.user.user_id;
        let name = f.user.username.clone();
        if let Known::Stranger(_) = self.check_user(&f.user)? {
            // Someone we asked accepted: their signed 1:1 roster makes them
            // a contact (verifying the room checks that).
            match self.room(f.room_id).await {
                Ok(_) | Err(ClientError::Untrusted(_)) => {}
                Err(e) => return Err(e),
            }
            if self.contact(user).is_none() {
                return Err(self.untrusted(
                    None,
                    format!(
                        "the box lists {name} as your friend, but {name} signed no chat with you: left out"
                    ),
                ));
            }
        }
        match self.contact_room(user) {
            Some(mine) if mine != f.room_id => {
                self.untrusted(
                    Some(mine),
                    format!(
                        "the box listed {name} with a chat that is not your chat with {name}: your chat with {name} stays as it was"
                    ),
                );
                f.room_id = mine;
                Ok(())
            }
            Some(_) => Ok(()),
            None => {
                self.room(f.room_id).await?;
                self.check_direct(f.room_id, user, &name)?;
                let mut p = self.profile();
                if let Some(pin) = p.data.pins.get_mut(&user.0) {
                    pin.room = Some(f.room_id.0);
                }
                p.save()
            }
        }
    }

    /// `room`'s verified roster must be a 1:1 room of exactly us and `user`.
    fn check_direct(&self, room: RoomId, user: UserId, name: &str) -> Result<()> {
        let me = self.me();
        let ok = self.verified_roster(room).is_some_and(|r| {
            r.body.kind == RoomKind::Direct
                && r.body.member(me).is_some()
                && r.body.member(user).is_some()
                && r.body.members.len() == 2
        });
        if ok {
            Ok(())
        } else {
            Err(self.untrusted(
                Some(room),
                format!(
                    "the box listed {name} with a chat that is not a 1:1 chat with {name}: left out"
                ),
            ))
        }
    }

    /// Ask `username` to be friends. Their acceptance — the first roster
    /// of your 1:1 room, signed with their key — is what makes them a
    /// contact.
    pub async fn send_friend_request(&self, username: &str) -> Result<FriendRequest> {
        self.user(username).await?;
        {
            let mut p = self.profile();
            p.data.requested.insert(username.to_string());
            p.save()?;
        }
        self.call(
            Method::POST,
            "/v1/friends/requests",
            Some(&FriendRequestCreate {
                to: username.into(),
            }),
        )
        .await
    }

    /// Pending requests to and from us. Each names us on our side; a
    /// request from someone using a contact's name with another account
    /// or key, or with a name that is not a valid username, is left out
    /// (and reported as a `Security` event): the box cannot pass off a
    /// stranger as "bob" in the request list either.
    pub async fn friend_requests(&self) -> Result<FriendRequestList> {
        let mut list: FriendRequestList = self
            .call::<(), _>(Method::GET, "/v1/friends/requests", None)
            .await?;
        let me = self.me();
        let keep = |r: &FriendRequest, them: &UserInfo, us: &UserInfo| {
            if us.user_id != me || us.username != self.username() {
                self.untrusted(
                    None,
                    format!(
                        "the box showed a friend request that is not for you (request {})",
                        r.id
                    ),
                );
                return false;
            }
            !matches!(
                self.check_user(them),
                Err(ClientError::Untrusted(_)
                    | ClientError::Protocol(_)
                    | ClientError::KeyChanged { .. })
            )
        };
        list.incoming.retain(|r| keep(r, &r.from, &r.to));
        list.outgoing.retain(|r| keep(r, &r.to, &r.from));
        Ok(list)
    }

    /// Make grants of `key` for every member of a verified roster, each
    /// wrapped for the key the roster names (a changed key stops here).
    async fn grants_for(
        &self,
        epoch: u32,
        roster: &VerifiedRoster,
        key: &RoomKey,
    ) -> Result<Vec<Signed>> {
        let room = roster.body.room_id;
        let mut grants = Vec::with_capacity(roster.body.members.len());
        for m in &roster.body.members {
            let their_key = self.member_key(room, m.user, &m.username, m.fp).await?;
            let p = self.profile();
            grants.push(make_grant(
                &p.identity,
                room,
                epoch,
                roster.hash,
                m.user,
                &their_key,
                key,
            )?);
        }
        Ok(grants)
    }

    fn remember_key(
        &self,
        room: RoomId,
        epoch: u32,
        roster: RosterHash,
        key: &RoomKey,
    ) -> Result<()> {
        let mut p = self.profile();
        p.put_room_key(room.0, epoch, *key.as_bytes());
        let t = p.data.rooms.entry(room.to_hex()).or_default();
        t.epochs.insert(epoch, roster.0);
        // Epochs only ever move on through a key we accepted (or made):
        // the node's unsigned word about the epoch never raises the floor.
        t.max_epoch = t.max_epoch.max(epoch);
        p.save()
    }

    /// Drop the key we made for `epoch` if it is still the one kept.
    fn forget_key(&self, room: RoomId, epoch: u32, key: &RoomKey) -> Result<()> {
        let mut p = self.profile();
        let before = p.data.room_keys.len();
        p.data
            .room_keys
            .retain(|e| !(e.room == room.0 && e.epoch == epoch && e.key == *key.as_bytes()));
        if p.data.room_keys.len() == before {
            return Ok(());
        }
        if let Some(t) = p.data.rooms.get_mut(&room.to_hex()) {
            t.epochs.remove(&epoch);
            t.max_epoch = t.epochs.keys().copied().max().unwrap_or(0);
        }
        p.save()
    }

    /// A roster entry for someone we know: ourselves or a contact. Anyone
    /// else is refused: we only vouch for keys we have reason to believe.
    fn known_member(&self, user: UserId) -> Result<RosterMember> {
        let p = self.profile();
        if user.0 == p.data.user_id.unwrap_or(0) {
            return Ok(RosterMember {
                user,
                username: p.data.username.clone(),
                fp: p.identity.fingerprint(),
            });
        }
        if let Some(pin) = p.data.pins.get(&user.0) {
            return Ok(RosterMember {
                user,
                username: pin.username.clone(),
                fp: Fingerprint(pin.fingerprint),
            });
        }
        Err(ClientError::NotFound(format!(
            "user {user} is not one of your contacts"
        )))
    }

    fn sign_roster(&self, body: &RosterBody) -> Result<Signed> {
        Ok(sign_roster(&self.profile().identity, body)?)
    }

    /// Accept the friend request the user saw: make the 1:1 room, its
    /// signed roster and its first key. The sender becomes a contact with
    /// the key shown in `seen`; if the node's pending request with that id
    /// now names anyone else, nothing is accepted.
    pub async fn accept_friend_request(&self, seen: &FriendRequest) -> Result<Room> {
        let id = seen.id;
        let list = self.friend_requests().await?;
        let req = list
            .incoming
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| {
                ClientError::NotFound(format!("no pending friend request {id} for you"))
            })?;
        if req.from != seen.from {
            return Err(self.untrusted(
                None,
                format!(
                    "the box changed who sent the request you accepted ({} became {}): nothing was accepted",
                    seen.from.username, req.from.username
                ),
            ));
        }
        let them = RosterMember {
            user: req.from.user_id,
            username: req.from.username.clone(),
            fp: req.from.fingerprint,
        };
        if let Known::Stranger(key) = self.check_user(&req.from)? {
            self.pin_contact(&them, &key, None)?;
        }
        let room_id = RoomId::random();
        let me = self.known_member(self.me())?;
        let body = first_roster(
            room_id,
            RoomKind::Direct,
            me.user,
            me.fp,
            vec![me.clone(), self.known_member(req.from.user_id)?],
            now_ms(),
        );
        let roster = self.sign_roster(&body)?;
        let verified = VerifiedRoster {
            hash: roster_hash(&roster),
            body,
            signed: roster.clone(),
        };
        let key = RoomKey::generate();
        let grants = self.grants_for(1, &verified, &key).await?;
        // Keep the key before the node has it, so a lost answer loses nothing.
        self.remember_key(room_id, 1, verified.hash, &key)?;
        let room: Room = self
            .call(
                Method::POST,
                &format!("/v1/friends/requests/{id}/accept"),
                Some(&AcceptFriendRequest {
                    room_id,
                    roster,
                    key_grants: grants,
                }),
            )
            .await?;
        let room = self.verify_room(room).await?;
        let mut p = self.profile();
        if let Some(pin) = p.data.pins.get_mut(&them.user.0) {
            pin.room = Some(room_id.0);
        }
        p.save()?;
        Ok(room)
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

    /// Our rooms, each checked against what its members signed (a room
    /// that fails is left out and reported as a `Security` event; one with a
    /// member whose key changed is left out and reported as `KeyChanged` —
    /// the other rooms, and the live session, carry on).
    pub async fn rooms(&self) -> Result<Vec<Room>> {
        let list: RoomList = self.call::<(), _>(Method::GET, "/v1/rooms", None).await?;
        let mut out = Vec::with_capacity(list.rooms.len());
        for room in list.rooms {
            match self.verify_room(room).await {
                Ok(r) => {
                    self.remember_room(&r);
                    out.push(r);
                }
                Err(ClientError::Untrusted(_) | ClientError::KeyChanged { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// One room (fresh from the node, checked against its signed roster).
    pub async fn room(&self, id: RoomId) -> Result<Room> {
        let room: Room = self
            .call::<(), _>(Method::GET, &format!("/v1/rooms/{id}"), None)
            .await?;
        let room = self.verify_room(room).await?;
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

    /// The 1:1 room with a contact: the one whose roster we verified with
    /// them, never just the node's word.
    pub async fn direct_room(&self, username: &str) -> Result<RoomId> {
        if let Some(room) = self
            .contact_named(username)
            .and_then(|c| self.contact_room(c.user_id))
        {
            return Ok(room);
        }
        self.friends_checked().await?;
        self.contact_named(username)
            .and_then(|c| self.contact_room(c.user_id))
            .ok_or_else(|| ClientError::NotFound(format!("you are not friends with {username}")))
    }

    /// A contact's roster entry by name (from the contact book only: the
    /// node is never asked who a name is).
    async fn contact_member(&self, username: &str) -> Result<RosterMember> {
        if self.contact_named(username).is_none() {
            // Perhaps they accepted our request since we last looked.
            self.friends_checked().await?;
        }
        let c = self.contact_named(username).ok_or_else(|| {
            ClientError::NotFound(format!(
                "{username} is not one of your contacts: send them a friend request first"
            ))
        })?;
        self.known_member(c.user_id)
    }

    /// Create a group with contacts (names from the contact book).
    pub async fn create_group(&self, usernames: &[&str]) -> Result<Room> {
        let me = self.known_member(self.me())?;
        let mut members = vec![me.clone()];
        for name in usernames {
            let m = self.contact_member(name).await?;
            if !members.iter().any(|x| x.user == m.user) {
                members.push(m);
            }
        }
        let room_id = RoomId::random();
        let body = first_roster(room_id, RoomKind::Group, me.user, me.fp, members, now_ms());
        let roster = self.sign_roster(&body)?;
        let verified = VerifiedRoster {
            hash: roster_hash(&roster),
            body,
            signed: roster.clone(),
        };
        let key = RoomKey::generate();
        let grants = self.grants_for(1, &verified, &key).await?;
        self.remember_key(room_id, 1, verified.hash, &key)?;
        let room: Room = self
            .call(
                Method::POST,
                "/v1/rooms",
                Some(&CreateRoom {
                    room_id,
                    roster,
                    key_grants: grants,
                    title: None,
                }),
            )
            .await?;
        self.verify_room(room).await
    }

    /// Upload a new epoch: for a new roster (`Some`, add/remove) or for the
    /// members of the latest verified one.
    async fn new_epoch(&self, room_id: RoomId, next: Option<RosterBody>) -> Result<Room> {
        let room = self.room(room_id).await?;
        let current = self.verified_roster(room_id).ok_or_else(|| {
            ClientError::Untrusted("this room has no verified member list".into())
        })?;
        let epoch = room.epoch.checked_add(1).ok_or_else(|| {
            ClientError::Untrusted("the room's key epoch cannot go higher".into())
        })?;
        let (roster, verified) = match next {
            Some(body) => {
                let signed = self.sign_roster(&body)?;
                let v = VerifiedRoster {
                    hash: roster_hash(&signed),
                    body,
                    signed: signed.clone(),
                };
                (Some(signed), v)
            }
            None => (None, current),
        };
        let key = RoomKey::generate();
        let grants = self.grants_for(epoch, &verified, &key).await?;
        self.remember_key(room_id, epoch, verified.hash, &key)?;
        let sent: Result<Room> = self
            .call(
                Method::POST,
                &format!("/v1/rooms/{room_id}/epochs"),
                Some(&Rekey {
                    epoch,
                    roster,
                    key_grants: grants,
                }),
            )
            .await;
        let room = match sent {
            Ok(room) => room,
            // The node refused this epoch (someone re-keyed first, the card
            // is full, …): the key we kept for it must not stand in for the
            // real epoch's key later. (A lost answer keeps it: the node may
            // have taken it.)
            Err(e @ ClientError::Api(_)) => {
                self.forget_key(room_id, epoch, &key)?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let room = self.verify_room(room).await?;
        self.remember_room(&room);
        Ok(room)
    }

    /// A fresh key for the same members (after someone left).
    pub async fn rekey(&self, room_id: RoomId) -> Result<Room> {
        self.new_epoch(room_id, None).await
    }

    /// The next roster of a group with `members`, signed by us.
    async fn changed_roster(
        &self,
        room_id: RoomId,
        change: RosterChange,
        members: Vec<RosterMember>,
    ) -> Result<RosterBody> {
        self.room(room_id).await?;
        let current = self.verified_roster(room_id).ok_or_else(|| {
            ClientError::Untrusted("this room has no verified member list".into())
        })?;
        let me = self.known_member(self.me())?;
        let body = next_roster(&current, change, me.user, me.fp, members, now_ms());
        // Our own rules first: a clear error instead of the node's refusal.
        check_step(Some(&current), &body).map_err(|e| ClientError::Profile(e.to_string()))?;
        Ok(body)
    }

    /// Add contacts (or people this room's verified rosters named) to a group
    /// (new roster, new epoch).
    pub async fn add_members(&self, room_id: RoomId, usernames: &[&str]) -> Result<Room> {
        self.room(room_id).await?;
        let mut members = self
            .verified_roster(room_id)
            .map(|r| r.body.members)
            .unwrap_or_default();
        for n in usernames {
            // A contact, or someone this room's own verified rosters named
            // (a member removed earlier, say).
            let m = match self.contact_member(n).await {
                Ok(m) => m,
                Err(e) => {
                    self.trust(room_id)
                        .and_then(|t| {
                            t.verified().iter().rev().find_map(|r| {
                                r.body.members.iter().find(|m| m.username == *n).cloned()
                            })
                        })
                        .ok_or(e)?
                }
            };
            if !members.iter().any(|x| x.user == m.user) {
                members.push(m);
            }
        }
        let body = self
            .changed_roster(room_id, RosterChange::Add, members)
            .await?;
        let room = self.new_epoch(room_id, Some(body)).await?;
        // The group's name is inside messages sealed under older keys the
        // new members never get: say it again under the new one (we are
        // an admin: only admins add). Not fatal: the members are in.
        if let Some(name) = self.group_name(room_id) {
            let again = onionchat_proto::wire::MessageContent::Rename { name };
            if let Err(e) = self.send(room_id, again).await {
                tracing::warn!("could not tell the new members the group's name: {e}");
            }
        }
        Ok(room)
    }

    /// Remove members from a group (new roster, new epoch they do not get).
    pub async fn remove_members(&self, room_id: RoomId, usernames: &[&str]) -> Result<Room> {
        self.room(room_id).await?;
        let mut members = self
            .verified_roster(room_id)
            .map(|r| r.body.members)
            .unwrap_or_default();
        members.retain(|m| !usernames.contains(&m.username.as_str()));
        let body = self
            .changed_roster(room_id, RosterChange::Remove, members)
            .await?;
        self.new_epoch(room_id, Some(body)).await
    }

    /// Leave a group: a signed `leave`; the others re-key without us.
    pub async fn leave(&self, room_id: RoomId) -> Result<()> {
        self.room(room_id).await?;
        let me = self.me();
        let members = self
            .verified_roster(room_id)
            .map(|r| r.body.members)
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.user != me)
            .collect();
        let body = self
            .changed_roster(room_id, RosterChange::Leave, members)
            .await?;
        let roster = self.sign_roster(&body)?;
        self.call_empty(
            Method::POST,
            &format!("/v1/rooms/{room_id}/leave"),
            Some(&LeaveRoom { roster }),
        )
        .await?;
        self.forget_room(room_id);
        Ok(())
    }

    /// The room key of an epoch: from the vault, or from the node's grants.
    /// A grant counts only if it is bound to a roster we verified, names
    /// us as a member of it, and is signed by a member of it with the key
    /// that roster names.
    pub(crate) async fn room_key(&self, room_id: RoomId, epoch: u32) -> Result<RoomKey> {
        if let Some(k) = self.profile().room_key(room_id.0, epoch) {
            return Ok(RoomKey::from_bytes(k));
        }
        let keys: RoomKeys = self
            .call::<(), _>(Method::GET, &format!("/v1/rooms/{room_id}/keys"), None)
            .await?;
        self.room(room_id).await?;
        let trust = self.trust(room_id).unwrap_or_default();
        let me = self.me();
        for grant in &keys.grants {
            let Ok(body) = decode_grant(grant) else {
                continue;
            };
            if self.profile().room_key(room_id.0, body.epoch).is_some() {
                continue;
            }
            let refused = |why: &str| {
                self.refuse_grant(room_id, body.epoch, why);
            };
            let Some(roster) = trust.roster(&body.roster) else {
                refused("it is bound to a member list no member signed");
                continue;
            };
            if roster
                .body
                .member(me)
                .is_none_or(|m| m.fp != body.recipient_fp)
            {
                refused("it is not for you as a member");
                continue;
            }
            let Some(granter) = roster.body.members.iter().find(|m| m.fp == body.granter_fp) else {
                refused("it was signed by someone who is not a member");
                continue;
            };
            let granter_key = self
                .member_key(room_id, granter.user, &granter.username, granter.fp)
                .await?;
            let opened = {
                let p = self.profile();
                open_grant(&p.identity, grant, &granter_key, room_id)
            };
            match opened {
                Ok((b, key)) => self.remember_key(room_id, b.epoch, b.roster, &key)?,
                Err(e) => refused(&e.to_string()),
            }
        }
        self.profile()
            .room_key(room_id.0, epoch)
            .map(RoomKey::from_bytes)
            .ok_or(ClientError::Verify(
                onionchat_proto::crypto::OpenError::UnknownEpoch(epoch),
            ))
    }

    fn refuse_grant(&self, room: RoomId, epoch: u32, why: &str) {
        let what = format!("a key for epoch {epoch} was refused: {why}");
        tracing::warn!(room = %room, "{what}");
        self.emit(ClientEvent::Security {
            room_id: Some(room),
            what,
        });
    }

    /// Make sure we can send in `room`: re-key if membership changed, and
    /// return the room with the key of its epoch — which must be bound to the
    /// latest roster we verified, so nobody removed (or never added) can
    /// read what we send.
    pub(crate) async fn ready_room(&self, room_id: RoomId) -> Result<(Room, RoomKey)> {
        let mut room = self.room_cached(room_id).await?;
        for _ in 0..3 {
            if room.rekey_required {
                room = match self.rekey(room_id).await {
                    Ok(r) => r,
                    // Someone else re-keyed first.
                    Err(e) if e.code() == Some(ErrorCode::StaleEpoch) => self.room(room_id).await?,
                    Err(e) => return Err(e),
                };
                continue;
            }
            let key = self.room_key(room_id, room.epoch).await?;
            let mut trust = self.trust(room_id).unwrap_or_default();
            if trust
                .latest()
                .is_some_and(|l| trust.newer_named > l.body.version)
            {
                // A member signed that a newer roster exists: look once
                // more, then refuse to seal under what may be a stale key.
                room = self.room(room_id).await?;
                trust = self.trust(room_id).unwrap_or_default();
                if let Some(l) = trust.latest()
                    && trust.newer_named > l.body.version
                {
                    return Err(self.untrusted(
                        Some(room_id),
                        format!(
                            "a member has seen a newer member list of this room (version {}) than the box shows you (version {}): sending is paused so nobody removed can read it",
                            trust.newer_named, l.body.version
                        ),
                    ));
                }
                continue;
            }
            let latest = trust.latest().map(|l| l.hash.0);
            if latest.is_some() && trust.epochs.get(&room.epoch).copied() == latest {
                return Ok((room, key));
            }
            // An `add` or `remove` reaches the node together with the new
            // epoch for it (§4.2): a node that shows the newest such roster
            // with a key made before it is showing an old epoch.
            if let Some(l) = trust.latest()
                && matches!(l.body.change, RosterChange::Add | RosterChange::Remove)
                && !room.rekey_required
            {
                return Err(self.untrusted(
                    Some(room_id),
                    format!(
                        "the node showed key epoch {} of this room, made before its latest member change (version {}): a rollback",
                        room.epoch, l.body.version
                    ),
                ));
            }
            // The epoch's key was made for an older member list: make one
            // for the members we verified.
            room = match self.rekey(room_id).await {
                Ok(r) => r,
                Err(e) if e.code() == Some(ErrorCode::StaleEpoch) => self.room(room_id).await?,
                Err(e) => return Err(e),
            };
        }
        Err(ClientError::Protocol(
            "the room kept changing while preparing to send; try again".into(),
        ))
    }
}
