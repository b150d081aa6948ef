//! Rooms: signed rosters (who is in a room), membership, and room-key grants.
//!
//! The node keeps what members signed and checks it by the same rules
//! clients do (`onionchat_proto::crypto::roster`): a room's members are
//! always those of its latest roster, each change is signed by a member
//! allowed to make it and chained to the roster before, and every grant of
//! an epoch is bound to the roster it is for. RSA checks of what the caller
//! signed run before the write, outside the single writer.

use std::collections::BTreeSet;

use onionchat_proto::crypto::room_key::verify_grant;
use onionchat_proto::crypto::roster::{VerifiedRoster, check_step, decode_roster, roster_hash};
use onionchat_proto::crypto::{OpenError, PublicIdentity, SignContext};
use onionchat_proto::now_ms;
use onionchat_proto::wire::{
    CreateRoom, ErrorCode, KeyGrantBody, LeaveRoom, Rekey, Room, RoomId, RoomKind, RosterBody,
    RosterChange, RosterHash, ServerFrame, Signed, UserId,
};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::friends::are_friends;
use super::schema::*;
use super::{Store, dec, enc, get_user};
use crate::error::{Failure, reject};
use crate::hub::Event;

/// Public view of a room.
pub fn room_info(id: [u8; 16], rec: &RoomRecord, last_seq: u64, roster: Signed) -> Room {
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
        roster,
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

fn roster_bytes(
    t: &impl ReadableTable<([u8; 16], u64), &'static [u8]>,
    room: RoomId,
    version: u64,
) -> Result<Signed, Failure> {
    match t.get((room.0, version))? {
        Some(g) => dec(g.value()),
        None => Err(Failure::Internal(format!(
            "room {room} has no roster version {version}"
        ))),
    }
}

/// The latest roster of a room, as stored (its signature was checked when
/// it was stored).
fn latest_roster(
    txn: &WriteTransaction,
    room: RoomId,
    rec: &RoomRecord,
) -> Result<VerifiedRoster, Failure> {
    let signed = roster_bytes(&txn.open_table(ROSTERS)?, room, rec.roster_version)?;
    let body = decode_roster(&signed).map_err(|e| Failure::Internal(e.to_string()))?;
    Ok(VerifiedRoster {
        body,
        hash: RosterHash(rec.roster_hash),
        signed,
    })
}

fn room_view_read(r: &ReadTransaction, room: RoomId, rec: &RoomRecord) -> Result<Room, Failure> {
    let roster = roster_bytes(&r.open_table(ROSTERS)?, room, rec.roster_version)?;
    let seq = r
        .open_table(ROOM_SEQ)?
        .get(room.0)?
        .map(|g| g.value())
        .unwrap_or(0);
    Ok(room_info(room.0, rec, seq, roster))
}

fn caller_key(caller: &UserRecord) -> Result<PublicIdentity, Failure> {
    PublicIdentity::from_spki_der(&caller.public_key)
        .map_err(|e| Failure::Internal(format!("stored key unreadable: {e}")))
}

/// A roster the caller signed: decoded, about the right room, naming the
/// caller as its signer, and signed with the caller's key. Where it fits
/// in the room's chain is checked inside the write ([`CheckedRoster::fits`]).
pub(crate) struct CheckedRoster {
    pub(crate) body: RosterBody,
    signed: Signed,
    hash: RosterHash,
    caller_fp: [u8; 32],
}

impl CheckedRoster {
    pub(crate) fn new(
        caller: &UserRecord,
        user: UserId,
        room: RoomId,
        signed: &Signed,
    ) -> Result<CheckedRoster, Failure> {
        let body = decode_roster(signed).map_err(|e| {
            // A body that does not decode is the wrong shape (§2), like a
            // message's; one that decodes but breaks a rule is invalid.
            let code = match e {
                onionchat_proto::crypto::roster::RosterError::Malformed(_) => ErrorCode::Malformed,
                _ => ErrorCode::Invalid,
            };
            Failure::reject(code, e.to_string())
        })?;
        if body.room_id != room {
            return reject(ErrorCode::Invalid, "the roster is for another room");
        }
        if body.actor != user || body.actor_fp.0 != caller.fingerprint {
            return reject(
                ErrorCode::Forbidden,
                "a roster you upload must be signed by you",
            );
        }
        caller_key(caller)?
            .verify_signed(SignContext::Roster, signed)
            .map_err(|e| Failure::reject(ErrorCode::BadSignature, e.to_string()))?;
        Ok(CheckedRoster {
            body,
            hash: roster_hash(signed),
            signed: signed.clone(),
            caller_fp: caller.fingerprint,
        })
    }

    /// Check it follows `prev` by the roster rules and that every member it
    /// names is the registered account with that key and name.
    fn fits(&self, txn: &WriteTransaction, prev: Option<&VerifiedRoster>) -> Result<(), Failure> {
        let fp = check_step(prev, &self.body).map_err(|e| {
            let code = match e {
                onionchat_proto::crypto::roster::RosterError::NotAllowed(_) => ErrorCode::Forbidden,
                onionchat_proto::crypto::roster::RosterError::Chain(_) => ErrorCode::StaleEpoch,
                _ => ErrorCode::Invalid,
            };
            Failure::reject(code, e.to_string())
        })?;
        if fp.0 != self.caller_fp {
            return reject(
                ErrorCode::Forbidden,
                "the room names another key for you than your account's",
            );
        }
        for m in &self.body.members {
            let rec = get_user(txn, m.user)?;
            if rec.fingerprint != m.fp.0 || rec.username != m.username {
                return reject(
                    ErrorCode::Invalid,
                    format!(
                        "the roster names user {} with a key or name that is not theirs",
                        m.user
                    ),
                );
            }
        }
        Ok(())
    }

    fn verified(self) -> VerifiedRoster {
        VerifiedRoster {
            body: self.body,
            hash: self.hash,
            signed: self.signed,
        }
    }
}

/// Grants the caller signed, with their signatures checked: (body, CBOR).
pub(crate) type CheckedGrants = Vec<(KeyGrantBody, Vec<u8>)>;

/// Verify each grant's signature under the caller's key (before the write).
pub(crate) fn pre_check_grants(
    caller: &UserRecord,
    grants: &[Signed],
) -> Result<CheckedGrants, Failure> {
    let key = caller_key(caller)?;
    grants
        .iter()
        .map(|g| {
            let body = verify_grant(g, &key).map_err(|e| match e {
                OpenError::BadSignature { .. } | OpenError::SenderMismatch { .. } => {
                    Failure::reject(ErrorCode::BadSignature, e.to_string())
                }
                OpenError::Malformed { .. } => Failure::reject(ErrorCode::Malformed, e.to_string()),
                _ => Failure::reject(ErrorCode::Invalid, e.to_string()),
            })?;
            Ok((body, onionchat_proto::encode(g)?))
        })
        .collect()
}

/// Bytes the checked grants take.
pub(crate) fn grants_len(grants: &CheckedGrants) -> u64 {
    grants.iter().map(|(_, b)| b.len() as u64).sum()
}

/// Check that `grants` are exactly one grant per member of `roster` for
/// (`room`, `epoch`), each bound to the roster and wrapped for the key the
/// roster names. Writes nothing (see [`put_grants`]).
fn check_grants(
    room: RoomId,
    epoch: u32,
    roster: &VerifiedRoster,
    grants: &CheckedGrants,
) -> Result<(), Failure> {
    let members = &roster.body.members;
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
    for (body, _) in grants {
        if body.room_id != room {
            return reject(ErrorCode::Invalid, "a key grant names another room");
        }
        if body.epoch != epoch {
            return reject(
                ErrorCode::StaleEpoch,
                format!("a key grant is for epoch {}, expected {epoch}", body.epoch),
            );
        }
        if body.roster != roster.hash {
            return reject(
                ErrorCode::Invalid,
                "a key grant is bound to another roster than the room's",
            );
        }
        let Some(member) = roster.body.member(body.recipient) else {
            return reject(
                ErrorCode::Invalid,
                "a key grant is for someone who is not a member",
            );
        };
        if !seen.insert(body.recipient) {
            return reject(ErrorCode::Invalid, "two key grants for one member");
        }
        if member.fp != body.recipient_fp {
            return reject(
                ErrorCode::Invalid,
                "a key grant is wrapped for a key that is not the member's",
            );
        }
    }
    Ok(())
}

/// Store grants [`check_grants`] accepted.
fn put_grants(
    txn: &WriteTransaction,
    room: RoomId,
    epoch: u32,
    grants: CheckedGrants,
) -> Result<(), Failure> {
    let mut t = txn.open_table(GRANTS)?;
    for (body, bytes) in grants {
        t.insert((room.0, epoch, body.recipient.0), bytes.as_slice())?;
    }
    Ok(())
}

/// Who a write's rosters and key grants are charged to, and their quota.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Payer {
    /// The uploader (the signer of what is stored).
    pub(crate) user: UserId,
    /// Their quota in bytes (files, messages, rosters and grants together).
    pub(crate) quota: u64,
}

impl Payer {
    /// Charge a roster (if any) and grants to the uploader's quota. Call it
    /// after every check and before the first write: it refuses (writing
    /// nothing) when the quota has no room.
    fn charge(
        &self,
        txn: &WriteTransaction,
        roster: Option<&VerifiedRoster>,
        grants: &CheckedGrants,
    ) -> Result<(), Failure> {
        let roster_len = match roster {
            Some(r) => enc(&r.signed)?.len() as u64,
            None => 0,
        };
        super::quota::charge(
            txn,
            ROOM_USAGE,
            self.user.0,
            roster_len + grants_len(grants),
            self.quota,
        )
    }
}

/// Store a new room with its first roster and epoch-1 grants; returns its view.
pub(crate) fn insert_room(
    txn: &WriteTransaction,
    creator: Payer,
    roster: CheckedRoster,
    title: Option<Vec<u8>>,
    grants: CheckedGrants,
) -> Result<Room, Failure> {
    let room_id = roster.body.room_id;
    if txn.open_table(ROOMS)?.get(room_id.0)?.is_some() {
        return reject(
            ErrorCode::Conflict,
            "a room with this id exists; pick another random id",
        );
    }
    roster.fits(txn, None)?;
    let roster = roster.verified();
    check_grants(room_id, 1, &roster, &grants)?;
    creator.charge(txn, Some(&roster), &grants)?;
    put_grants(txn, room_id, 1, grants)?;
    let rec = RoomRecord {
        kind: roster.body.kind,
        members: roster.body.members.iter().map(|m| m.user.0).collect(),
        epoch: 1,
        created_by: creator.user.0,
        created_at: now_ms(),
        rekey_required: false,
        title,
        roster_version: 1,
        roster_hash: roster.hash.0,
    };
    txn.open_table(ROOMS)?
        .insert(room_id.0, enc(&rec)?.as_slice())?;
    txn.open_table(ROOM_SEQ)?.insert(room_id.0, 0)?;
    txn.open_table(ROSTERS)?
        .insert((room_id.0, 1), enc(&roster.signed)?.as_slice())?;
    let mut ms = txn.open_table(MEMBERSHIPS)?;
    for m in &rec.members {
        ms.insert((*m, room_id.0), ())?;
    }
    drop(ms);
    Ok(room_info(room_id.0, &rec, 0, roster.signed))
}

/// Make `roster` the room's latest and its members the room's members.
/// Returns who was removed.
fn apply_roster(
    txn: &WriteTransaction,
    room_id: RoomId,
    room: &mut RoomRecord,
    roster: &VerifiedRoster,
) -> Result<Vec<UserId>, Failure> {
    let old: BTreeSet<u64> = room.members.iter().copied().collect();
    let new: BTreeSet<u64> = roster.body.members.iter().map(|m| m.user.0).collect();
    let removed: Vec<UserId> = old.difference(&new).copied().map(UserId).collect();
    let mut ms = txn.open_table(MEMBERSHIPS)?;
    for r in &removed {
        ms.remove((r.0, room_id.0))?;
    }
    for a in new.difference(&old) {
        ms.insert((*a, room_id.0), ())?;
    }
    drop(ms);
    txn.open_table(ROSTERS)?.insert(
        (room_id.0, roster.body.version),
        enc(&roster.signed)?.as_slice(),
    )?;
    room.members = new.into_iter().collect();
    room.roster_version = roster.body.version;
    room.roster_hash = roster.hash.0;
    Ok(removed)
}

fn must_be_member(room: &RoomRecord, user: UserId) -> Result<(), Failure> {
    if room.members.contains(&user.0) {
        Ok(())
    } else {
        reject(ErrorCode::Forbidden, "you are not a member of this room")
    }
}

impl Store {
    /// Create a group room from its first roster (signed by the creator).
    pub async fn create_room(&self, user: UserId, body: CreateRoom) -> Result<Room, Failure> {
        let payer = self.payer(user);
        if body.title.as_ref().is_some_and(|t| t.len() > 1024) {
            return reject(ErrorCode::TooLarge, "a room title has at most 1024 bytes");
        }
        let caller = self.user(user)?;
        let roster = CheckedRoster::new(&caller, user, body.room_id, &body.roster)?;
        if roster.body.kind != RoomKind::Group {
            return reject(
                ErrorCode::Invalid,
                "1:1 rooms are made by accepting a friend request",
            );
        }
        let grants = pre_check_grants(&caller, &body.key_grants)?;
        // Every write that grows the database needs the free-space floor.
        self.space()
            .check(body.roster.body.len() as u64 + grants_len(&grants))?;
        self.write(move |txn| {
            for m in roster.body.members.iter().filter(|m| m.user != user) {
                get_user(txn, m.user)?;
                if !are_friends(txn, user.0, m.user.0)? {
                    return reject(
                        ErrorCode::Forbidden,
                        format!("{} is not your friend", m.username),
                    );
                }
            }
            let view = insert_room(txn, payer, roster, body.title, grants)?;
            Ok((
                view.clone(),
                vec![Event::new(view.members.clone(), ServerFrame::Room(view))],
            ))
        })
        .await
    }

    /// Upload a new epoch, with a new roster (add/remove) or for the same
    /// members.
    pub async fn rekey(&self, user: UserId, room_id: RoomId, body: Rekey) -> Result<Room, Failure> {
        let payer = self.payer(user);
        let caller = self.user(user)?;
        let roster = match &body.roster {
            Some(r) => Some(CheckedRoster::new(&caller, user, room_id, r)?),
            None => None,
        };
        if let Some(r) = &roster
            && !matches!(r.body.change, RosterChange::Add | RosterChange::Remove)
        {
            return reject(
                ErrorCode::Invalid,
                "a new epoch's roster adds or removes members; to leave, use leave",
            );
        }
        let grants = pre_check_grants(&caller, &body.key_grants)?;
        // Every write that grows the database needs the free-space floor.
        self.space()
            .check(body.roster.as_ref().map_or(0, |r| r.body.len() as u64) + grants_len(&grants))?;
        self.write(move |txn| {
            let mut room = load_room(txn, room_id)?;
            must_be_member(&room, user)?;
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
            let current = latest_roster(txn, room_id, &room)?;
            let (roster, removed) = match roster {
                Some(next) => {
                    next.fits(txn, Some(&current))?;
                    let added: Vec<u64> = next
                        .body
                        .members
                        .iter()
                        .map(|m| m.user.0)
                        .filter(|m| !room.members.contains(m))
                        .collect();
                    for a in added {
                        if !are_friends(txn, user.0, a)? {
                            return reject(
                                ErrorCode::Forbidden,
                                format!("user {a} is not your friend"),
                            );
                        }
                    }
                    let next = next.verified();
                    check_grants(room_id, body.epoch, &next, &grants)?;
                    payer.charge(txn, Some(&next), &grants)?;
                    let removed = apply_roster(txn, room_id, &mut room, &next)?;
                    (next, removed)
                }
                None => {
                    check_grants(room_id, body.epoch, &current, &grants)?;
                    payer.charge(txn, None, &grants)?;
                    (current, vec![])
                }
            };
            put_grants(txn, room_id, body.epoch, grants)?;
            room.epoch = body.epoch;
            room.rekey_required = false;
            txn.open_table(ROOMS)?
                .insert(room_id.0, enc(&room)?.as_slice())?;
            let view = room_info(room_id.0, &room, last_seq(txn, room_id)?, roster.signed);
            let mut events = vec![Event::new(
                view.members.clone(),
                ServerFrame::Room(view.clone()),
            )];
            if !removed.is_empty() {
                events.push(Event::new(removed, ServerFrame::RoomLeft { room_id }));
            }
            Ok((view, events))
        })
        .await
    }

    /// Leave a group room with a signed `leave` roster. The remaining
    /// members must upload a new epoch before anyone can send again.
    pub async fn leave_room(
        &self,
        user: UserId,
        room_id: RoomId,
        body: LeaveRoom,
    ) -> Result<(), Failure> {
        let payer = self.payer(user);
        let caller = self.user(user)?;
        let roster = CheckedRoster::new(&caller, user, room_id, &body.roster)?;
        if roster.body.change != RosterChange::Leave {
            return reject(ErrorCode::Invalid, "leaving takes a `leave` roster");
        }
        // Every write that grows the database needs the free-space floor.
        self.space().check(body.roster.body.len() as u64)?;
        self.write(move |txn| {
            let mut room = load_room(txn, room_id)?;
            must_be_member(&room, user)?;
            if room.kind == RoomKind::Direct {
                return reject(ErrorCode::Forbidden, "you cannot leave a 1:1 room");
            }
            let current = latest_roster(txn, room_id, &room)?;
            roster.fits(txn, Some(&current))?;
            let roster = roster.verified();
            payer.charge(txn, Some(&roster), &Vec::new())?;
            apply_roster(txn, room_id, &mut room, &roster)?;
            room.rekey_required = !room.members.is_empty();
            txn.open_table(ROOMS)?
                .insert(room_id.0, enc(&room)?.as_slice())?;
            let view = room_info(room_id.0, &room, last_seq(txn, room_id)?, roster.signed);
            let events = vec![
                Event::new(vec![user], ServerFrame::RoomLeft { room_id }),
                Event::new(view.members.clone(), ServerFrame::Room(view)),
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
        let mut out = Vec::new();
        for entry in ms.range((user.0, [0u8; 16])..=(user.0, [0xffu8; 16]))? {
            let (k, _) = entry?;
            let id = k.value().1;
            if let Some(g) = rooms.get(id)? {
                out.push(room_view_read(&r, RoomId(id), &dec(g.value())?)?);
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
        room_view_read(&r, room_id, &rec)
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

    /// The room's rosters after version `after`, ascending, for a member.
    pub fn rosters_for(
        &self,
        user: UserId,
        room_id: RoomId,
        after: u64,
    ) -> Result<Vec<Signed>, Failure> {
        self.room_for_member(user, room_id)?;
        let r = self.read()?;
        let mut out = Vec::new();
        for entry in r
            .open_table(ROSTERS)?
            .range((room_id.0, after.saturating_add(1))..=(room_id.0, u64::MAX))?
        {
            let (_, v) = entry?;
            out.push(dec(v.value())?);
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
