//! Who is in a room, believed only from rosters members signed.
//!
//! The node serves each room with its latest signed roster; this module
//! checks it against the chain this client verified before (fetching and
//! verifying any newer rosters), refuses anything that does not follow —
//! an unsigned member, a roster signed by someone without the right, an
//! older roster or epoch, a key other than the one a roster names — and
//! remembers what it verified in the vault. Keys of group members who are
//! not contacts come from the node but must match the fingerprint a member
//! signed into the roster; they are never pinned on first sight.

use hyper::Method;
use onionchat_proto::crypto::PublicIdentity;
use onionchat_proto::crypto::roster::{
    VerifiedRoster, check_step, decode_roster, roster_hash, verify_roster,
};
use onionchat_proto::wire::{
    Fingerprint, Room, RoomId, RosterBody, RosterChain, RosterChange, UserId, UserInfo,
};

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::events::ClientEvent;
use crate::trust::{Introduction, RoomTrust};

/// One verified membership change, for showing in the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipChange {
    /// Roster version.
    pub version: u64,
    /// Who made it.
    pub actor: UserId,
    /// What changed.
    pub change: RosterChange,
    /// In words: "ann added carol".
    pub text: String,
}

/// "ann, bob and carol".
fn names(list: &[&str]) -> String {
    match list {
        [] => "nobody".into(),
        [one] => (*one).into(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Describe the change from `prev` to `body` in words.
pub fn describe(prev: Option<&RosterBody>, body: &RosterBody) -> String {
    let name_of = |b: &RosterBody, u: UserId| {
        b.member(u)
            .map(|m| m.username.clone())
            .unwrap_or_else(|| format!("user {u}"))
    };
    let actor = match prev {
        Some(p) => name_of(p, body.actor),
        None => name_of(body, body.actor),
    };
    let others = |a: &RosterBody, b: Option<&RosterBody>| -> Vec<String> {
        a.members
            .iter()
            .filter(|m| m.user != body.actor && b.is_none_or(|b| b.member(m.user).is_none()))
            .map(|m| m.username.clone())
            .collect()
    };
    let list = |v: Vec<String>| names(&v.iter().map(String::as_str).collect::<Vec<_>>());
    match (body.change, prev) {
        (RosterChange::Create, _) => {
            format!("{actor} created the room with {}", list(others(body, None)))
        }
        (RosterChange::Add, Some(p)) => format!("{actor} added {}", list(others(body, Some(p)))),
        (RosterChange::Remove, Some(p)) => {
            format!("{actor} removed {}", list(others(p, Some(body))))
        }
        (RosterChange::Leave, _) => format!("{actor} left"),
        (_, None) => format!("{actor} changed the members"),
    }
}

impl Client {
    fn refuse(&self, room: Option<RoomId>, what: String) -> ClientError {
        self.untrusted(room, what)
    }

    /// What this client verified about a room.
    pub(crate) fn trust(&self, room: RoomId) -> Option<RoomTrust> {
        self.profile().data.rooms.get(&room.to_hex()).cloned()
    }

    /// The latest roster of a room this client verified.
    pub fn verified_roster(&self, room: RoomId) -> Option<VerifiedRoster> {
        self.trust(room)?.latest()
    }

    /// Every verified membership change of a room, oldest first.
    pub fn membership_log(&self, room: RoomId) -> Vec<MembershipChange> {
        let Some(t) = self.trust(room) else {
            return vec![];
        };
        let chain = t.verified();
        chain
            .iter()
            .enumerate()
            .map(|(i, r)| MembershipChange {
                version: r.body.version,
                actor: r.body.actor,
                change: r.body.change,
                text: describe(i.checked_sub(1).map(|j| &chain[j].body), &r.body),
            })
            .collect()
    }

    /// A member of `room` known only through its rosters (not a contact):
    /// who signed them into that room.
    pub fn introduction(&self, room: RoomId, user: UserId) -> Option<Introduction> {
        if self.contact(user).is_some() {
            return None;
        }
        self.trust(room)?.introduction(room.0, user)
    }

    /// The key of `user` as a verified roster names it (fingerprint `fp`).
    /// Ours, a contact's pinned key (which must be the same), or the node's
    /// answer checked against `fp` — never pinned.
    pub(crate) async fn member_key(
        &self,
        room: RoomId,
        user: UserId,
        username: &str,
        fp: Fingerprint,
    ) -> Result<PublicIdentity> {
        {
            let p = self.profile();
            if user.0 == p.data.user_id.unwrap_or(0) {
                if p.identity.fingerprint() != fp {
                    drop(p);
                    return Err(self.refuse(
                        Some(room),
                        "the room names a key for you that is not yours".into(),
                    ));
                }
                return Ok(p.identity.public().clone());
            }
            if let Some((id, _)) = p.data.pin_named(username)
                && id != user.0
            {
                drop(p);
                return Err(self.impostor(username));
            }
            if let Some(pin) = p.data.pins.get(&user.0) {
                if pin.username != username {
                    let known = pin.username.clone();
                    drop(p);
                    return Err(self.refuse(
                        Some(room),
                        format!("the room names {known} as {username:?}"),
                    ));
                }
                if pin.fingerprint != fp.0 {
                    let name = pin.username.clone();
                    drop(p);
                    return Err(self.refuse(
                        Some(room),
                        format!("the room names a key for {name} that is not the one you know"),
                    ));
                }
                return Ok(PublicIdentity::from_spki_der(&pin.spki_der)?);
            }
        }
        let info: UserInfo = self
            .call::<(), _>(Method::GET, &format!("/v1/users/by-id/{}", user.0), None)
            .await?;
        let key = PublicIdentity::from_spki_der(&info.public_key)?;
        if info.user_id != user || key.fingerprint() != fp {
            return Err(self.refuse(
                Some(room),
                format!(
                    "the node sent a key for {username} that is not the one signed into the room"
                ),
            ));
        }
        Ok(key)
    }

    /// The key to verify a message from `user` in `room` under `epoch`
    /// (`None`: any roster we verified) with: they must be a member of the roster that epoch's key was
    /// accepted for, and the key is the one that roster names (a contact's
    /// pinned key must be that same key). Before the epoch's key is known
    /// (a grant the node has not shown us), the latest verified roster
    /// that has them stands in — enough to check a signature, never to
    /// decrypt.
    pub(crate) async fn sender_key(
        &self,
        room: RoomId,
        user: UserId,
        epoch: Option<u32>,
    ) -> Result<(PublicIdentity, Fingerprint)> {
        if self.trust(room).is_none() {
            self.room(room).await?;
        }
        let trust = self.trust(room).unwrap_or_default();
        let entry = match epoch.and_then(|e| trust.epoch_roster(e).map(|r| (e, r))) {
            Some((epoch, r)) => r.body.member(user).cloned().ok_or_else(|| {
                ClientError::Untrusted(format!(
                    "{} is not in the member list the key of epoch {epoch} was made for",
                    self.name_of(user)
                ))
            })?,
            None => trust.member(user).ok_or_else(|| {
                ClientError::Untrusted(format!(
                    "user {user} is in no member list of this room that members signed"
                ))
            })?,
        };
        let key = self
            .member_key(room, user, &entry.username, entry.fp)
            .await?;
        Ok((key, entry.fp))
    }

    /// Check the node's view of a room against what members signed, and
    /// remember what was verified. Returns the room with its members as the
    /// verified roster names them.
    pub(crate) async fn verify_room(&self, room: Room) -> Result<Room> {
        let r = room.id;
        let served = decode_roster(&room.roster)
            .map_err(|e| self.refuse(Some(r), format!("the room's roster is invalid: {e}")))?;
        let served_hash = roster_hash(&room.roster);
        let known = self.trust(r).unwrap_or_default();
        let latest = known.latest();
        if served.room_id != r {
            return Err(self.refuse(Some(r), "the roster is for another room".into()));
        }
        if room.epoch < known.max_epoch {
            return Err(self.refuse(
                Some(r),
                format!(
                    "the node showed key epoch {} of this room after epoch {}: a rollback",
                    room.epoch, known.max_epoch
                ),
            ));
        }
        let mut new = Vec::new();
        match &latest {
            Some(l) if served.version < l.body.version => {
                return Err(self.refuse(
                    Some(r),
                    format!(
                        "the node showed an older member list of this room (version {}, you have seen {}): a rollback",
                        served.version, l.body.version
                    ),
                ));
            }
            Some(l) if served.version == l.body.version => {
                if served_hash != l.hash {
                    return Err(self.refuse(
                        Some(r),
                        "the node showed a member list that differs from the one members signed"
                            .into(),
                    ));
                }
            }
            _ => {
                let after = latest.as_ref().map_or(0, |l| l.body.version);
                let chain: RosterChain = self
                    .call::<(), _>(
                        Method::GET,
                        &format!("/v1/rooms/{r}/rosters?after={after}"),
                        None,
                    )
                    .await?;
                let mut prev = latest.clone();
                for signed in &chain.rosters {
                    let v = self.verify_step(r, prev.as_ref(), signed).await?;
                    prev = Some(v.clone());
                    new.push(v);
                }
                if prev.as_ref().map(|p| p.hash) != Some(served_hash) {
                    return Err(self.refuse(
                        Some(r),
                        "the node's member list is not the end of the chain members signed".into(),
                    ));
                }
            }
        }
        for v in &new {
            self.check_roster_names(r, &v.body)?;
        }
        let verified_latest = new.last().cloned().or(latest.clone());
        let Some(current) = verified_latest else {
            return Err(self.refuse(Some(r), "the room has no signed member list".into()));
        };
        if latest.is_none() {
            self.check_anchor(r, &new).await?;
        }
        if current.body.member_ids() != room.members || current.body.kind != room.kind {
            return Err(self.refuse(
                Some(r),
                "the node's member list does not match the one members signed".into(),
            ));
        }
        if current.body.member(self.me()).is_none() {
            return Err(self.refuse(
                Some(r),
                "the node lists you in a room whose signed member list does not".into(),
            ));
        }
        self.remember_rosters(r, latest.as_ref(), &new, room.last_seq)?;
        Ok(room)
    }

    /// Every member a roster names must agree with the contact book: a
    /// contact's name belongs to that contact's account and key, and a
    /// contact's account to that name — so the box cannot slip a second
    /// "carol" into a room, even signed by a member it fooled.
    fn check_roster_names(&self, room: RoomId, body: &RosterBody) -> Result<()> {
        let p = self.profile();
        let me = p.data.user_id.unwrap_or(0);
        for m in &body.members {
            let mine = m.user.0 == me || m.username == p.data.username;
            if mine {
                if m.user.0 != me
                    || m.username != p.data.username
                    || m.fp != p.identity.fingerprint()
                {
                    drop(p);
                    return Err(self.refuse(
                        Some(room),
                        "the room's member list names someone else as you".into(),
                    ));
                }
                continue;
            }
            let by_name = p
                .data
                .pin_named(&m.username)
                .map(|(id, pin)| (id, pin.fingerprint));
            let by_id = p
                .data
                .pins
                .get(&m.user.0)
                .map(|pin| (pin.username.clone(), pin.fingerprint));
            let clash = match (by_name, by_id) {
                (Some((id, fp)), _) => id != m.user.0 || fp != m.fp.0,
                (None, Some(_)) => true,
                (None, None) => false,
            };
            if clash {
                let name = m.username.clone();
                drop(p);
                return Err(self.refuse(
                    Some(room),
                    format!(
                        "the room's member list names a different {name} (another account or key than the {name} you know)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Verify one roster as the successor of `prev`.
    async fn verify_step(
        &self,
        room: RoomId,
        prev: Option<&VerifiedRoster>,
        signed: &onionchat_proto::wire::Signed,
    ) -> Result<VerifiedRoster> {
        let bad = |e: String| format!("a member list of this room was refused: {e}");
        let body =
            decode_roster(signed).map_err(|e| self.refuse(Some(room), bad(e.to_string())))?;
        let fp =
            check_step(prev, &body).map_err(|e| self.refuse(Some(room), bad(e.to_string())))?;
        let name = prev
            .and_then(|p| p.body.member(body.actor))
            .or(body.member(body.actor))
            .map(|m| m.username.clone())
            .unwrap_or_default();
        let key = self.member_key(room, body.actor, &name, fp).await?;
        verify_roster(signed, prev, &key).map_err(|e| self.refuse(Some(room), bad(e.to_string())))
    }

    /// The first roster we are in must come from us or a contact: that is
    /// what ties the chain to someone we know. One exception makes a
    /// contact: the first roster of a 1:1 room with us, signed by someone
    /// we sent a friend request to — their acceptance, signed with their
    /// key (a name the contact book already gives another key is refused).
    async fn check_anchor(&self, room: RoomId, chain: &[VerifiedRoster]) -> Result<()> {
        let me = self.me();
        let Some(entry) = chain.iter().find(|v| v.body.member(me).is_some()) else {
            return Err(self.refuse(
                Some(room),
                "you are in none of this room's member lists".into(),
            ));
        };
        let actor = entry.body.actor;
        let known = || actor == me || self.profile().data.pins.contains_key(&actor.0);
        if known() {
            return Ok(());
        }
        if entry.body.kind == onionchat_proto::wire::RoomKind::Group {
            // A friend who accepted our request since we last looked is a
            // contact we have not learnt yet: look (1:1 rooms never come
            // back here, so this does not recurse further).
            Box::pin(self.friends_checked()).await?;
            if known() {
                return Ok(());
            }
        }
        let accepted =
            entry.body.version == 1 && entry.body.kind == onionchat_proto::wire::RoomKind::Direct;
        if let (true, Some(them)) = (accepted, entry.body.member(actor).cloned())
            && self.profile().data.requested.contains(&them.username)
        {
            let key = self
                .member_key(room, them.user, &them.username, them.fp)
                .await?;
            self.pin_contact(&them, &key, Some(room))?;
            return Ok(());
        }
        Err(self.refuse(
            Some(room),
            format!("you were put in this room by user {actor}, who is not one of your contacts"),
        ))
    }

    /// Add what was just verified to the vault: applied to the entry as it
    /// is now (other tasks update the same room's counters meanwhile), each
    /// roster once, in version order.
    fn remember_rosters(
        &self,
        room: RoomId,
        latest: Option<&VerifiedRoster>,
        new: &[VerifiedRoster],
        last_seq: u64,
    ) -> Result<()> {
        let mut events = Vec::new();
        {
            let mut p = self.profile();
            let cursor = p.data.cursors.get(&room.to_hex()).copied().unwrap_or(0);
            let t = p.data.rooms.entry(room.to_hex()).or_default();
            let mut changed = false;
            let mut prev = latest.map(|l| l.body.clone());
            for v in new {
                // Rosters are kept from version 1 on: version n sits at n - 1.
                if t.rosters.len() as u64 == v.body.version - 1 {
                    t.rosters.push(v.signed.clone());
                    changed = true;
                    if latest.is_some() {
                        events.push(describe(prev.as_ref(), &v.body));
                    }
                    // Whoever this change took out may post no more: what
                    // they sent before it is already stored (the node
                    // refuses non-members), so up to the room's last seq.
                    if let Some(p) = &prev {
                        for m in &p.members {
                            if v.body.member(m.user).is_none() {
                                t.removed.entry(m.user.0).or_insert(last_seq.max(cursor));
                            }
                        }
                    }
                    for m in &v.body.members {
                        t.removed.remove(&m.user.0);
                    }
                }
                prev = Some(v.body.clone());
            }
            if changed {
                p.save()?;
            }
        }
        for text in events {
            self.emit(ClientEvent::Membership {
                room_id: room,
                text,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onionchat_proto::wire::{RoomKind, RosterMember};

    fn body(change: RosterChange, actor: u64, members: &[(u64, &str)]) -> RosterBody {
        RosterBody {
            v: 2,
            room_id: RoomId([1; 16]),
            kind: RoomKind::Group,
            version: 1,
            prev: None,
            change,
            actor: UserId(actor),
            actor_fp: Fingerprint([0; 32]),
            members: members
                .iter()
                .map(|(u, n)| RosterMember {
                    user: UserId(*u),
                    username: (*n).into(),
                    fp: Fingerprint([0; 32]),
                })
                .collect(),
            admins: vec![UserId(1)],
            created_at: 0,
        }
    }

    #[test]
    fn changes_read_as_sentences() {
        let g = body(
            RosterChange::Create,
            1,
            &[(1, "ann"), (2, "bob"), (3, "carol")],
        );
        assert_eq!(
            describe(None, &g),
            "ann created the room with bob and carol"
        );
        let add = body(
            RosterChange::Add,
            1,
            &[(1, "ann"), (2, "bob"), (3, "carol"), (4, "dave")],
        );
        assert_eq!(describe(Some(&g), &add), "ann added dave");
        let rm = body(RosterChange::Remove, 1, &[(1, "ann"), (4, "dave")]);
        assert_eq!(describe(Some(&add), &rm), "ann removed bob and carol");
        let leave = body(RosterChange::Leave, 4, &[(1, "ann")]);
        assert_eq!(describe(Some(&rm), &leave), "dave left");
    }
}
