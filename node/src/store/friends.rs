//! Friend requests and friendships (each friendship has its 1:1 room).

use onionchat_proto::now_ms;
use onionchat_proto::wire::{
    AcceptFriendRequest, ErrorCode, Friend, FriendRequest, FriendRequestState, RequestId, Room,
    RoomId, RoomKind, ServerFrame, UserId,
};
use redb::{ReadableTable, WriteTransaction};

use super::accounts::user_info;
use super::rooms::{CheckedRoster, insert_room, pre_check_grants};
use super::schema::*;
use super::{ReadTables, Store, dec, enc, get_user, next_id};
use crate::error::{Failure, reject};
use crate::hub::Event;

fn pair(a: u64, b: u64) -> (u64, u64) {
    (a.min(b), a.max(b))
}

fn pair_ids(a: u64, b: u64) -> Vec<UserId> {
    let (lo, hi) = pair(a, b);
    vec![UserId(lo), UserId(hi)]
}

pub(super) fn request_info(
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

/// Whether `a` and `b` are friends.
pub(crate) fn are_friends(txn: &WriteTransaction, a: u64, b: u64) -> Result<bool, Failure> {
    Ok(txn.open_table(FRIENDSHIPS)?.get(pair(a, b))?.is_some())
}

impl Store {
    /// Send a friend request from `from` to the user named `to`.
    pub async fn send_friend_request(
        &self,
        from: UserId,
        to: String,
    ) -> Result<FriendRequest, Failure> {
        let (to_id, _) = self.user_by_name(&to)?;
        // Every write that grows the database needs the free-space floor.
        self.space().check(512)?;
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
            let pending = txn
                .open_table(PENDING_PAIRS)?
                .get(pair(from.0, to_id.0))?
                .map(|g| g.value());
            if let Some(existing) = pending {
                let r = load_request(txn, RequestId(existing))?;
                let msg = if r.from == from.0 {
                    "you already sent this person a friend request"
                } else {
                    "this person already sent you a friend request: accept it instead"
                };
                return reject(ErrorCode::Conflict, msg);
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
            txn.open_table(PENDING_PAIRS)?
                .insert(pair(from.0, to_id.0), id)?;
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

    /// Accept a pending request addressed to `user`, creating the 1:1 room
    /// with its first roster (signed by `user`) and epoch-1 grants.
    pub async fn accept_friend_request(
        &self,
        user: UserId,
        id: RequestId,
        body: AcceptFriendRequest,
    ) -> Result<Room, Failure> {
        let payer = self.payer(user);
        let caller = self.user(user)?;
        let roster = CheckedRoster::new(&caller, user, body.room_id, &body.roster)?;
        let grants = pre_check_grants(&caller, &body.key_grants)?;
        // Every write that grows the database needs the free-space floor.
        self.space()
            .check(body.roster.body.len() as u64 + super::rooms::grants_len(&grants))?;
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
            if roster.body.kind != RoomKind::Direct
                || roster.body.member_ids() != pair_ids(req.from, req.to)
            {
                return reject(
                    ErrorCode::Invalid,
                    "the roster of a 1:1 room names exactly the two friends",
                );
            }
            let view = insert_room(txn, payer, roster, None, grants)?;
            req.state = FriendRequestState::Accepted;
            req.room_id = Some(body.room_id.0);
            let info = request_info(txn, id.0, &req)?;
            txn.open_table(FRIEND_REQUESTS)?
                .insert(id.0, enc(&req)?.as_slice())?;
            txn.open_table(FRIENDSHIPS)?
                .insert(pair(req.from, req.to), body.room_id.0)?;
            txn.open_table(PENDING_PAIRS)?
                .remove(pair(req.from, req.to))?;
            let to = view.members.clone();
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
            // Forgotten once closed: a send/cancel loop stores nothing.
            txn.open_table(FRIEND_REQUESTS)?.remove(id.0)?;
            txn.open_table(PENDING_PAIRS)?
                .remove(pair(req.from, req.to))?;
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
}
