//! Friend requests, rooms, membership and room-key grants.

use std::collections::BTreeSet;

use onionchat_proto::crypto::PublicIdentity;
use onionchat_proto::crypto::room_key::verify_grant;
use onionchat_proto::limits::MAX_ROOM_MEMBERS;
use onionchat_proto::now_ms;
use onionchat_proto::wire::{
    AcceptFriendRequest, CreateRoom, ErrorCode, Friend, FriendRequest, FriendRequestState, Rekey,
    RequestId, Room, RoomId, RoomKind, ServerFrame, Signed, UserId,
};
use redb::{ReadableTable, WriteTransaction};

use super::accounts::user_info;
use super::schema::*;
use super::{ReadTables, Store, dec, enc, get_user, next_id};
use crate::error::{Failure, reject};
use crate::hub::Event;

/// Public view of a room.
pub fn room_info(id: [u8; 16], rec: &RoomRecord, last_seq: u64) -> Room {
    Room {
        id: RoomId(id),
        kind: rec.kind,
        members: rec.members.iter().copied().map(UserId).collect(),
        epoch: rec.epoch,
        created_by: UserId(rec.created_by),
        created_at: rec.created_at,
        rekey_required: rec.rekey_required,
        last_seq,
        title: rec.title.clone(),
    }
}

fn pair(a: u64, b: u64) -> (u64, u64) {
    (a.min(b), a.max(b))
}

fn request_info(
    txn: &impl ReadTables,
    id: u64,
    rec: &FriendRequestRecord,
) -> Result<FriendRequest, Failure> {
    Ok(FriendRequest {
        id: RequestId(id),
        from: user_info(rec.from, &get_user(txn, UserId(rec.from))?),
        to: user_info(rec.to, &get_user(txn, UserId(rec.to))?),
        state: rec.state,
        created_at: rec.created_at,
        room_id: rec.room_id.map(RoomId),
    })
}

fn load_request(txn: &WriteTransaction, id: RequestId) -> Result<FriendRequestRecord, Failure> {
    match txn.open_table(FRIEND_REQUESTS)?.get(id.0)? {
        Some(g) => dec(g.value()),
        None => reject(ErrorCode::NotFound, "no such friend request"),
    }
}

pub(crate) fn load_room(txn: &WriteTransaction, id: RoomId) -> Result<RoomRecord, Failure> {
    match txn.open_table(ROOMS)?.get(id.0)? {
        Some(g) => dec(g.value()),
        None => reject(ErrorCode::NotFound, "no such room"),
    }
}

fn last_seq(txn: &WriteTransaction, id: RoomId) -> Result<u64, Failure> {
    Ok(txn
        .open_table(ROOM_SEQ)?
        .get(id.0)?
        .map(|g| g.value())
        .unwrap_or(0))
}

fn are_friends(txn: &WriteTransaction, a: u64, b: u64) -> Result<bool, Failure> {
    Ok(txn.open_table(FRIENDSHIPS)?.get(pair(a, b))?.is_some())
}

/// Check that `grants` are exactly one valid grant per member of `members`
/// for (`room`, `epoch`), each signed by `granter`. Returns (recipient, CBOR grant).
fn check_grants(
    txn: &WriteTransaction,
    room: RoomId,
    epoch: u32,
    members: &BTreeSet<u64>,
    granter: &UserRecord,
    grants: &[Signed],
) -> Result<Vec<(u64, Vec<u8>)>, Failure> {
    let granter_key = PublicIdentity::from_spki_der(&granter.public_key)
        .map_err(|e| Failure::Internal(format!("stored key unreadable: {e}")))?;
    if grants.len() != members.len() {
        return reject(
            ErrorCode::Invalid,
            format!(
                "{} key grants for {} members: need exactly one per member",
                grants.len(),
                members.len()
            ),
        );
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(grants.len());
    for g in grants {
        let body = verify_grant(g, &granter_key).map_err(|e| match e {
            onionchat_proto::crypto::OpenError::BadSignature { .. } => {
                Failure::reject(ErrorCode::BadSignature, e.to_string())
            }
            _ => Failure::reject(ErrorCode::Invalid, e.to_string()),
        })?;
        if body.room_id != room {
            return reject(ErrorCode::Invalid, "a key grant names another room");
        }
        if body.epoch != epoch {
            return reject(
                ErrorCode::StaleEpoch,
                format!("a key grant is for epoch {}, expected {epoch}", body.epoch),
            );
        }
        if !members.contains(&body.recipient.0) || !seen.insert(body.recipient.0) {
            return reject(
                ErrorCode::Invalid,
                "key grants must cover exactly the members, once each",
            );
        }
        let recipient = get_user(txn, body.recipient)?;
        if recipient.fingerprint != body.recipient_fp.0 {
            return reject(
                ErrorCode::Invalid,
                "a key grant is wrapped for a key that is not the member's",
            );
        }
        out.push((body.recipient.0, onionchat_proto::encode(g)?));
    }
    Ok(out)
}

fn store_grants(
    txn: &WriteTransaction,
    room: RoomId,
    epoch: u32,
    grants: Vec<(u64, Vec<u8>)>,
) -> Result<(), Failure> {
    let mut t = txn.open_table(GRANTS)?;
    for (user, bytes) in grants {
        t.insert((room.0, epoch, user), bytes.as_slice())?;
    }
    Ok(())
}

fn members_of(rec: &RoomRecord) -> Vec<UserId> {
    rec.members.iter().copied().map(UserId).collect()
}

fn validate_member_list(members: &[UserId]) -> Result<BTreeSet<u64>, Failure> {
    let set: BTreeSet<u64> = members.iter().map(|m| m.0).collect();
    if set.len() != members.len() {
        return reject(ErrorCode::Invalid, "a member is listed twice");
    }
    if set.len() > MAX_ROOM_MEMBERS {
        return reject(
            ErrorCode::Invalid,
            format!("a room has at most {MAX_ROOM_MEMBERS} members"),
        );
    }
    Ok(set)
}

impl Store {
    /// Send a friend request from `from` to the user named `to`.
    pub async fn send_friend_request(
        &self,
        from: UserId,
        to: String,
    ) -> Result<FriendRequest, Failure> {
        let (to_id, _) = self.user_by_name(&to)?;
        self.write(move |txn| {
            if to_id == from {
                return reject(ErrorCode::Invalid, "you cannot befriend yourself");
            }
            if are_friends(txn, from.0, to_id.0)? {
                return reject(
                    ErrorCode::Conflict,
                    format!("you are already friends with {to}"),
                );
            }
            for entry in txn.open_table(FRIEND_REQUESTS)?.iter()? {
                let (_, v) = entry?;
                let r: FriendRequestRecord = dec(v.value())?;
                if r.state == FriendRequestState::Pending
                    && pair(r.from, r.to) == pair(from.0, to_id.0)
                {
                    let msg = if r.from == from.0 {
                        "you already sent this person a friend request"
                    } else {
                        "this person already sent you a friend request: accept it instead"
                    };
                    return reject(ErrorCode::Conflict, msg);
                }
            }
            let id = next_id(txn, "next_request_id")?;
            let rec = FriendRequestRecord {
                from: from.0,
                to: to_id.0,
                state: FriendRequestState::Pending,
                created_at: now_ms(),
                room_id: None,
            };
            let info = request_info(txn, id, &rec)?;
            txn.open_table(FRIEND_REQUESTS)?
                .insert(id, enc(&rec)?.as_slice())?;
            let ev = Event::new(vec![from, to_id], ServerFrame::FriendRequest(info.clone()));
            Ok((info, vec![ev]))
        })
        .await
    }

    /// Pending requests to and from `user`.
    pub fn friend_requests(
        &self,
        user: UserId,
    ) -> Result<(Vec<FriendRequest>, Vec<FriendRequest>), Failure> {
        let r = self.read()?;
        let (mut incoming, mut outgoing) = (Vec::new(), Vec::new());
        for entry in r.open_table(FRIEND_REQUESTS)?.iter()? {
            let (k, v) = entry?;
            let rec: FriendRequestRecord = dec(v.value())?;
            if rec.state != FriendRequestState::Pending {
                continue;
            }
            if rec.to == user.0 {
                incoming.push(request_info(&r, k.value(), &rec)?);
            } else if rec.from == user.0 {
                outgoing.push(request_info(&r, k.value(), &rec)?);
            }
        }
        Ok((incoming, outgoing))
    }

    /// Accept a pending request addressed to `user`, creating the 1:1 room.
    pub async fn accept_friend_request(
        &self,
        user: UserId,
        id: RequestId,
        body: AcceptFriendRequest,
    ) -> Result<Room, Failure> {
        self.write(move |txn| {
            let mut req = load_request(txn, id)?;
            if req.to != user.0 {
                return reject(
                    ErrorCode::Forbidden,
                    "only the recipient can accept a friend request",
                );
            }
            if req.state != FriendRequestState::Pending {
                return reject(
                    ErrorCode::Conflict,
                    "this friend request is no longer pending",
                );
            }
            if txn.open_table(ROOMS)?.get(body.room_id.0)?.is_some() {
                return reject(
                    ErrorCode::Conflict,
                    "a room with this id exists; pick another random id",
                );
            }
            let me = get_user(txn, user)?;
            let members: BTreeSet<u64> = [req.from, req.to].into_iter().collect();
            let grants = check_grants(txn, body.room_id, 1, &members, &me, &body.key_grants)?;
            let now = now_ms();
            let room = RoomRecord {
                kind: RoomKind::Direct,
                members: members.iter().copied().collect(),
                epoch: 1,
                created_by: user.0,
                created_at: now,
                rekey_required: false,
                title: None,
            };
            req.state = FriendRequestState::Accepted;
            req.room_id = Some(body.room_id.0);
            let info = request_info(txn, id.0, &req)?;
            txn.open_table(FRIEND_REQUESTS)?
                .insert(id.0, enc(&req)?.as_slice())?;
            txn.open_table(ROOMS)?
                .insert(body.room_id.0, enc(&room)?.as_slice())?;
            txn.open_table(ROOM_SEQ)?.insert(body.room_id.0, 0)?;
            txn.open_table(FRIENDSHIPS)?
                .insert(pair(req.from, req.to), body.room_id.0)?;
            let mut ms = txn.open_table(MEMBERSHIPS)?;
            for m in &room.members {
                ms.insert((*m, body.room_id.0), ())?;
            }
            drop(ms);
            store_grants(txn, body.room_id, 1, grants)?;
            let view = room_info(body.room_id.0, &room, 0);
            let to = members_of(&room);
            let events = vec![
                Event::new(to.clone(), ServerFrame::FriendRequest(info)),
                Event::new(to, ServerFrame::Room(view.clone())),
            ];
            Ok((view, events))
        })
        .await
    }

    /// Decline (recipient) or cancel (sender) a pending request.
    pub async fn close_friend_request(
        &self,
        user: UserId,
        id: RequestId,
        decline: bool,
    ) -> Result<FriendRequest, Failure> {
        self.write(move |txn| {
            let mut req = load_request(txn, id)?;
            let allowed = if decline {
                req.to == user.0
            } else {
                req.from == user.0
            };
            if !allowed {
                let who = if decline {
                    "recipient can decline"
                } else {
                    "sender can cancel"
                };
                return reject(
                    ErrorCode::Forbidden,
                    format!("only the {who} a friend request"),
                );
            }
            if req.state != FriendRequestState::Pending {
                return reject(
                    ErrorCode::Conflict,
                    "this friend request is no longer pending",
                );
            }
            req.state = if decline {
                FriendRequestState::Declined
            } else {
                FriendRequestState::Cancelled
            };
            let info = request_info(txn, id.0, &req)?;
            txn.open_table(FRIEND_REQUESTS)?
                .insert(id.0, enc(&req)?.as_slice())?;
            let ev = Event::new(
                vec![UserId(req.from), UserId(req.to)],
                ServerFrame::FriendRequest(info.clone()),
            );
            Ok((info, vec![ev]))
        })
        .await
    }

    /// `user`'s friends and their 1:1 rooms.
    pub fn friends(&self, user: UserId) -> Result<Vec<Friend>, Failure> {
        let r = self.read()?;
        let mut out = Vec::new();
        for entry in r.open_table(FRIENDSHIPS)?.iter()? {
            let (k, v) = entry?;
            let (a, b) = k.value();
            let other = if a == user.0 {
                b
            } else if b == user.0 {
                a
            } else {
                continue;
            };
            out.push(Friend {
                user: user_info(other, &get_user(&r, UserId(other))?),
                room_id: RoomId(v.value()),
            });
        }
        Ok(out)
    }

    /// Create a group room.
    pub async fn create_room(&self, user: UserId, body: CreateRoom) -> Result<Room, Failure> {
        let members = validate_member_list(&body.members)?;
        if !members.contains(&user.0) {
            return reject(ErrorCode::Invalid, "the creator must be a member");
        }
        if members.len() < 2 {
            return reject(
                ErrorCode::Invalid,
                "a group needs at least one other member",
            );
        }
        if body.title.as_ref().is_some_and(|t| t.len() > 1024) {
            return reject(ErrorCode::TooLarge, "a room title has at most 1024 bytes");
        }
        self.write(move |txn| {
            if txn.open_table(ROOMS)?.get(body.room_id.0)?.is_some() {
                return reject(
                    ErrorCode::Conflict,
                    "a room with this id exists; pick another random id",
                );
            }
            for m in members.iter().filter(|m| **m != user.0) {
                get_user(txn, UserId(*m))?;
                if !are_friends(txn, user.0, *m)? {
                    return reject(ErrorCode::Forbidden, format!("user {m} is not your friend"));
                }
            }
            let me = get_user(txn, user)?;
            let grants = check_grants(txn, body.room_id, 1, &members, &me, &body.key_grants)?;
            let room = RoomRecord {
                kind: RoomKind::Group,
                members: members.iter().copied().collect(),
                epoch: 1,
                created_by: user.0,
                created_at: now_ms(),
                rekey_required: false,
                title: body.title.clone(),
            };
            txn.open_table(ROOMS)?
                .insert(body.room_id.0, enc(&room)?.as_slice())?;
            txn.open_table(ROOM_SEQ)?.insert(body.room_id.0, 0)?;
            let mut ms = txn.open_table(MEMBERSHIPS)?;
            for m in &room.members {
                ms.insert((*m, body.room_id.0), ())?;
            }
            drop(ms);
            store_grants(txn, body.room_id, 1, grants)?;
            let view = room_info(body.room_id.0, &room, 0);
            Ok((
                view.clone(),
                vec![Event::new(members_of(&room), ServerFrame::Room(view))],
            ))
        })
        .await
    }

    /// Upload a new epoch, possibly with a new member list.
    pub async fn rekey(&self, user: UserId, room_id: RoomId, body: Rekey) -> Result<Room, Failure> {
        let new_members = validate_member_list(&body.members)?;
        self.write(move |txn| {
            let mut room = load_room(txn, room_id)?;
            let old: BTreeSet<u64> = room.members.iter().copied().collect();
            if !old.contains(&user.0) {
                return reject(ErrorCode::Forbidden, "you are not a member of this room");
            }
            if body.epoch != room.epoch + 1 {
                return reject(
                    ErrorCode::StaleEpoch,
                    format!(
                        "the room is at epoch {}; upload epoch {}",
                        room.epoch,
                        room.epoch + 1
                    ),
                );
            }
            if new_members != old {
                if room.kind == RoomKind::Direct {
                    return reject(
                        ErrorCode::Forbidden,
                        "the members of a 1:1 room cannot change",
                    );
                }
                if room.created_by != user.0 {
                    return reject(
                        ErrorCode::Forbidden,
                        "only the room's creator can add or remove members",
                    );
                }
                if !new_members.contains(&user.0) {
                    return reject(ErrorCode::Invalid, "to leave a room, use leave");
                }
                for added in new_members.difference(&old) {
                    get_user(txn, UserId(*added))?;
                    if !are_friends(txn, user.0, *added)? {
                        return reject(
                            ErrorCode::Forbidden,
                            format!("user {added} is not your friend"),
                        );
                    }
                }
            }
            if new_members.is_empty() {
                return reject(ErrorCode::Invalid, "a room needs members");
            }
            let me = get_user(txn, user)?;
            let grants = check_grants(
                txn,
                room_id,
                body.epoch,
                &new_members,
                &me,
                &body.key_grants,
            )?;
            let removed: Vec<UserId> = old.difference(&new_members).copied().map(UserId).collect();
            let mut ms = txn.open_table(MEMBERSHIPS)?;
            for r in &removed {
                ms.remove((r.0, room_id.0))?;
            }
            for a in new_members.difference(&old) {
                ms.insert((*a, room_id.0), ())?;
            }
            drop(ms);
            room.members = new_members.iter().copied().collect();
            room.epoch = body.epoch;
            room.rekey_required = false;
            txn.open_table(ROOMS)?
                .insert(room_id.0, enc(&room)?.as_slice())?;
            store_grants(txn, room_id, body.epoch, grants)?;
            let view = room_info(room_id.0, &room, last_seq(txn, room_id)?);
            let mut events = vec![Event::new(
                members_of(&room),
                ServerFrame::Room(view.clone()),
            )];
            if !removed.is_empty() {
                events.push(Event::new(removed, ServerFrame::RoomLeft { room_id }));
            }
            Ok((view, events))
        })
        .await
    }

    /// Leave a group room. The remaining members must upload a new epoch
    /// before anyone can send again.
    pub async fn leave_room(&self, user: UserId, room_id: RoomId) -> Result<(), Failure> {
        self.write(move |txn| {
            let mut room = load_room(txn, room_id)?;
            if !room.members.contains(&user.0) {
                return reject(ErrorCode::Forbidden, "you are not a member of this room");
            }
            if room.kind == RoomKind::Direct {
                return reject(ErrorCode::Forbidden, "you cannot leave a 1:1 room");
            }
            room.members.retain(|m| *m != user.0);
            room.rekey_required = !room.members.is_empty();
            txn.open_table(MEMBERSHIPS)?.remove((user.0, room_id.0))?;
            txn.open_table(ROOMS)?
                .insert(room_id.0, enc(&room)?.as_slice())?;
            let view = room_info(room_id.0, &room, last_seq(txn, room_id)?);
            let events = vec![
                Event::new(vec![user], ServerFrame::RoomLeft { room_id }),
                Event::new(members_of(&room), ServerFrame::Room(view)),
            ];
            Ok(((), events))
        })
        .await
    }

    /// Rooms `user` is a member of.
    pub fn rooms_of(&self, user: UserId) -> Result<Vec<Room>, Failure> {
        let r = self.read()?;
        let ms = r.open_table(MEMBERSHIPS)?;
        let rooms = r.open_table(ROOMS)?;
        let seqs = r.open_table(ROOM_SEQ)?;
        let mut out = Vec::new();
        for entry in ms.range((user.0, [0u8; 16])..=(user.0, [0xffu8; 16]))? {
            let (k, _) = entry?;
            let id = k.value().1;
            if let Some(g) = rooms.get(id)? {
                let seq = seqs.get(id)?.map(|g| g.value()).unwrap_or(0);
                out.push(room_info(id, &dec(g.value())?, seq));
            }
        }
        Ok(out)
    }

    /// One room, if `user` is a member.
    pub fn room_for_member(&self, user: UserId, room_id: RoomId) -> Result<Room, Failure> {
        let r = self.read()?;
        let rec = super::get_room_read(&r, room_id)?;
        if !rec.members.contains(&user.0) {
            return reject(ErrorCode::Forbidden, "you are not a member of this room");
        }
        let seq = r
            .open_table(ROOM_SEQ)?
            .get(room_id.0)?
            .map(|g| g.value())
            .unwrap_or(0);
        Ok(room_info(room_id.0, &rec, seq))
    }

    /// Every key grant addressed to `user` in a room they are a member of.
    pub fn grants_for(&self, user: UserId, room_id: RoomId) -> Result<Vec<Signed>, Failure> {
        self.room_for_member(user, room_id)?;
        let r = self.read()?;
        let mut out = Vec::new();
        for entry in r
            .open_table(GRANTS)?
            .range((room_id.0, 0u32, 0u64)..=(room_id.0, u32::MAX, u64::MAX))?
        {
            let (k, v) = entry?;
            if k.value().2 == user.0 {
                out.push(dec(v.value())?);
            }
        }
        Ok(out)
    }
}

/// Content (a message or a file) may only be added under the room's
/// current key: not while a member change waits for a new key, and not
/// under an old epoch (the client then fetches the room and re-seals).
pub(crate) fn check_epoch(room: &RoomRecord, epoch: u32, what: &str) -> Result<(), Failure> {
    if room.rekey_required {
        return reject(
            ErrorCode::RekeyRequired,
            "membership changed: upload a new room key first",
        );
    }
    if epoch != room.epoch {
        return reject(
            ErrorCode::StaleEpoch,
            format!(
                "the {what} uses epoch {epoch}, the room is at epoch {}",
                room.epoch
            ),
        );
    }
    Ok(())
}
