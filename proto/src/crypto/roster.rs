//! Rosters: who is in a room, as signed statements chained by hash.
//!
//! Every membership change (create, add, remove, leave) is a [`RosterBody`]
//! signed (context `roster`) by the member who made it, naming every member
//! with their key fingerprint and the hash of the roster before it. The
//! rules of who may sign what are here, as pure functions, so the node (which
//! refuses bad statements) and clients (which believe nothing else) apply the
//! same ones:
//!
//! - version 1 (`create`): signed by a member of it; a direct room has
//!   exactly two members and no admins, a group has its creator as the only
//!   admin;
//! - later versions: `prev` is the hash of the roster before, `version` one
//!   more, same room and kind, signed by a member of the previous roster with
//!   the key that roster names; a direct room never changes;
//!   - `add`: an admin adds members, everyone else stays as they were;
//!   - `remove`: an admin removes members (not themselves);
//!   - `leave`: the signer, and only the signer, goes.

use super::{IdentityKey, PublicIdentity, SealError, SignContext, sha256};
use crate::PROTOCOL_VERSION;
use crate::codec::{Limits, decode_with};
use crate::limits::MAX_ROOM_MEMBERS;
use crate::wire::{
    Fingerprint, RoomId, RoomKind, RosterBody, RosterChange, RosterHash, RosterMember, Signed,
    UserId,
};

/// Largest encoded roster body accepted (64 members with long names fit).
pub const MAX_ROSTER_BODY: usize = 16 * 1024;

/// Why a roster was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RosterError {
    /// Not a roster body, or over the size limit.
    #[error("malformed roster: {0}")]
    Malformed(String),
    /// Protocol version not supported.
    #[error("roster has unsupported protocol version {0}")]
    Version(u16),
    /// A field is impossible on its own (duplicates, order, sizes).
    #[error("invalid roster: {0}")]
    Invalid(String),
    /// It does not follow from the roster before it.
    #[error("roster does not follow from the one before: {0}")]
    Chain(String),
    /// The signer had no right to make this change.
    #[error("roster change not allowed: {0}")]
    NotAllowed(String),
    /// The key given for the signer is not the one the roster names.
    #[error("roster is signed with a key other than the one the room names for its signer")]
    WrongKey,
    /// The signature does not verify.
    #[error("roster signature does not verify")]
    BadSignature,
}

/// A roster whose signature and place in the chain were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRoster {
    /// The statement.
    pub body: RosterBody,
    /// Its hash (what the next roster and key grants name).
    pub hash: RosterHash,
    /// The signed bytes as received.
    pub signed: Signed,
}

impl RosterBody {
    /// The entry for `user`, if a member.
    pub fn member(&self, user: UserId) -> Option<&RosterMember> {
        self.members.iter().find(|m| m.user == user)
    }

    /// The member ids, ascending.
    pub fn member_ids(&self) -> Vec<UserId> {
        self.members.iter().map(|m| m.user).collect()
    }

    /// Whether `user` may add and remove members.
    pub fn is_admin(&self, user: UserId) -> bool {
        self.admins.contains(&user)
    }
}

/// The hash that chains rosters and binds key grants:
/// `SHA-256("OnionChat-v1/roster-hash" || 0x00 || body)`.
pub fn roster_hash(roster: &Signed) -> RosterHash {
    let mut data = Vec::with_capacity(25 + roster.body.len());
    data.extend_from_slice(b"OnionChat-v1/roster-hash\0");
    data.extend_from_slice(&roster.body);
    RosterHash(sha256(&data))
}

/// Sign `body` as `signer` (who must be `body.actor`).
pub fn sign_roster(signer: &IdentityKey, body: &RosterBody) -> Result<Signed, SealError> {
    signer.sign_body(SignContext::Roster, body)
}

/// Decode a roster and check the rules that need no other roster.
pub fn decode_roster(roster: &Signed) -> Result<RosterBody, RosterError> {
    let body: RosterBody = decode_with(&roster.body, Limits::with_max_len(MAX_ROSTER_BODY))
        .map_err(|e| RosterError::Malformed(e.to_string()))?;
    if body.v != PROTOCOL_VERSION {
        return Err(RosterError::Version(body.v));
    }
    let invalid = |r: &str| Err(RosterError::Invalid(r.into()));
    if body.version == 0 {
        return invalid("version 0");
    }
    if body.members.len() > MAX_ROOM_MEMBERS {
        return invalid("more members than a room may have");
    }
    if !body.members.windows(2).all(|w| w[0].user < w[1].user) {
        return invalid("members are not in ascending order, or one is listed twice");
    }
    if !body.admins.windows(2).all(|w| w[0] < w[1]) {
        return invalid("admins are not in ascending order, or one is listed twice");
    }
    if body.admins.iter().any(|a| body.member(*a).is_none()) {
        return invalid("an admin is not a member");
    }
    if body
        .members
        .iter()
        .any(|m| crate::wire::validate_username(&m.username).is_err())
    {
        return invalid("a member's username is not valid");
    }
    Ok(body)
}

/// Check that `next` may follow `prev` (`None`: `next` is the first
/// roster). Returns the fingerprint the signer's key must have. Pure rules:
/// the signature is checked by [`verify_roster`].
pub fn check_step(
    prev: Option<&VerifiedRoster>,
    next: &RosterBody,
) -> Result<Fingerprint, RosterError> {
    let not_allowed = |r: &str| Err(RosterError::NotAllowed(r.into()));
    let chain = |r: String| Err(RosterError::Chain(r));
    let Some(prev) = prev else {
        if next.version != 1 || next.prev.is_some() {
            return chain("a first roster has version 1 and no previous roster".into());
        }
        if next.change != RosterChange::Create {
            return chain("a first roster must be a `create`".into());
        }
        let Some(actor) = next.member(next.actor) else {
            return not_allowed("the creator is not a member");
        };
        match next.kind {
            RoomKind::Direct if next.members.len() != 2 || !next.admins.is_empty() => {
                return Err(RosterError::Invalid(
                    "a 1:1 room has exactly two members and no admins".into(),
                ));
            }
            RoomKind::Group if next.members.len() < 2 || next.admins != [next.actor] => {
                return Err(RosterError::Invalid(
                    "a group starts with two or more members and its creator as admin".into(),
                ));
            }
            _ => {}
        }
        return Ok(actor.fp);
    };
    let p = &prev.body;
    if next.room_id != p.room_id || next.kind != p.kind {
        return chain("another room, or another kind of room".into());
    }
    if next.version != p.version + 1 || next.prev != Some(prev.hash) {
        return chain(format!(
            "version {} does not follow version {} by hash",
            next.version, p.version
        ));
    }
    if p.kind == RoomKind::Direct {
        return not_allowed("the members of a 1:1 room never change");
    }
    let Some(actor) = p.member(next.actor) else {
        return not_allowed("signed by someone who is not a member");
    };
    let same = |m: &RosterMember| next.member(m.user) == Some(m);
    match next.change {
        RosterChange::Create => return chain("only a first roster is a `create`".into()),
        RosterChange::Add => {
            if !p.is_admin(next.actor) {
                return not_allowed("only an admin can add members");
            }
            if !p.members.iter().all(same) || next.members.len() <= p.members.len() {
                return not_allowed("an `add` must keep every member as they were and add someone");
            }
            if next.admins != p.admins {
                return not_allowed("an `add` cannot change the admins");
            }
        }
        RosterChange::Remove => {
            if !p.is_admin(next.actor) {
                return not_allowed("only an admin can remove members");
            }
            let kept: Vec<&RosterMember> = p.members.iter().filter(|m| same(m)).collect();
            if kept.len() != next.members.len() || next.members.len() >= p.members.len() {
                return not_allowed("a `remove` may only take members away");
            }
            if next.member(next.actor).is_none() {
                return not_allowed("to leave, sign a `leave`");
            }
            let admins: Vec<UserId> = p
                .admins
                .iter()
                .copied()
                .filter(|a| next.member(*a).is_some())
                .collect();
            if next.admins != admins {
                return not_allowed("a `remove` cannot change the admins");
            }
        }
        RosterChange::Leave => {
            let expected: Vec<&RosterMember> =
                p.members.iter().filter(|m| m.user != next.actor).collect();
            if next.members.iter().collect::<Vec<_>>() != expected {
                return not_allowed("a `leave` takes away its signer and nobody else");
            }
            let admins: Vec<UserId> = p
                .admins
                .iter()
                .copied()
                .filter(|a| *a != next.actor)
                .collect();
            if next.admins != admins {
                return not_allowed("a `leave` cannot change the admins");
            }
        }
    }
    Ok(actor.fp)
}

/// Verify `roster` as the successor of `prev` (or as a first roster), signed
/// by `actor_key`, which must be the key the rosters name for the signer.
pub fn verify_roster(
    roster: &Signed,
    prev: Option<&VerifiedRoster>,
    actor_key: &PublicIdentity,
) -> Result<VerifiedRoster, RosterError> {
    let body = decode_roster(roster)?;
    let expected_fp = check_step(prev, &body)?;
    if body.actor_fp != expected_fp || actor_key.fingerprint() != expected_fp {
        return Err(RosterError::WrongKey);
    }
    actor_key
        .verify_signed(SignContext::Roster, roster)
        .map_err(|_| RosterError::BadSignature)?;
    Ok(VerifiedRoster {
        body,
        hash: roster_hash(roster),
        signed: roster.clone(),
    })
}

/// The body of a first roster.
pub fn first_roster(
    room_id: RoomId,
    kind: RoomKind,
    actor: UserId,
    actor_fp: Fingerprint,
    mut members: Vec<RosterMember>,
    created_at: u64,
) -> RosterBody {
    members.sort_by_key(|m| m.user);
    members.dedup_by_key(|m| m.user);
    RosterBody {
        v: PROTOCOL_VERSION,
        room_id,
        kind,
        version: 1,
        prev: None,
        change: RosterChange::Create,
        actor,
        actor_fp,
        members,
        admins: if kind == RoomKind::Group {
            vec![actor]
        } else {
            vec![]
        },
        created_at,
    }
}

/// The body of the roster after `prev` with `members` (any order) as the
/// new member list; the admins follow the rules of `change`.
pub fn next_roster(
    prev: &VerifiedRoster,
    change: RosterChange,
    actor: UserId,
    actor_fp: Fingerprint,
    mut members: Vec<RosterMember>,
    created_at: u64,
) -> RosterBody {
    members.sort_by_key(|m| m.user);
    members.dedup_by_key(|m| m.user);
    let admins = prev
        .body
        .admins
        .iter()
        .copied()
        .filter(|a| members.iter().any(|m| m.user == *a))
        .collect();
    RosterBody {
        v: PROTOCOL_VERSION,
        room_id: prev.body.room_id,
        kind: prev.body.kind,
        version: prev.body.version + 1,
        prev: Some(prev.hash),
        change,
        actor,
        actor_fp,
        members,
        admins,
        created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn keys() -> &'static [IdentityKey] {
        static K: OnceLock<Vec<IdentityKey>> = OnceLock::new();
        K.get_or_init(|| {
            (0..4)
                .map(|_| IdentityKey::generate().expect("keygen"))
                .collect()
        })
    }

    fn member(i: usize) -> RosterMember {
        RosterMember {
            user: UserId(i as u64 + 1),
            username: ["ann", "bob", "carol", "dave"][i].into(),
            fp: keys()[i].fingerprint(),
        }
    }

    fn sign(i: usize, body: &RosterBody) -> Signed {
        sign_roster(&keys()[i], body).expect("sign")
    }

    fn group() -> VerifiedRoster {
        let body = first_roster(
            RoomId([7; 16]),
            RoomKind::Group,
            UserId(1),
            keys()[0].fingerprint(),
            vec![member(2), member(0), member(1)],
            1,
        );
        verify_roster(&sign(0, &body), None, keys()[0].public()).expect("genesis")
    }

    /// Person `who` (0 = ann …) makes `change` after `prev`, leaving
    /// `members`; signed and checked with their own key.
    fn step(
        prev: &VerifiedRoster,
        change: RosterChange,
        who: usize,
        members: &[usize],
    ) -> Result<VerifiedRoster, RosterError> {
        let body = next_roster(
            prev,
            change,
            UserId(who as u64 + 1),
            keys()[who].fingerprint(),
            members.iter().map(|&i| member(i)).collect(),
            prev.body.version + 1,
        );
        verify_roster(&sign(who, &body), Some(prev), keys()[who].public())
    }

    #[test]
    fn a_chain_of_honest_changes_verifies() {
        let g = group();
        assert_eq!(g.body.member_ids(), vec![UserId(1), UserId(2), UserId(3)]);
        let v2 = step(&g, RosterChange::Add, 0, &[0, 1, 2, 3]).expect("add");
        let v3 = step(&v2, RosterChange::Leave, 1, &[0, 2, 3]).expect("leave");
        let v4 = step(&v3, RosterChange::Remove, 0, &[0, 3]).expect("remove");
        assert_eq!(v4.body.version, 4);
        assert_eq!(v4.body.admins, vec![UserId(1)]);
    }

    #[test]
    fn a_non_admin_cannot_add_or_remove() {
        let g = group();
        for (change, members) in [
            (RosterChange::Add, &[0, 1, 2, 3][..]),
            (RosterChange::Remove, &[0, 1][..]),
        ] {
            let err = step(&g, change, 1, members).expect_err("refused");
            assert!(matches!(err, RosterError::NotAllowed(_)), "{err}");
        }
    }

    #[test]
    fn an_outsider_or_a_wrong_key_cannot_sign() {
        let g = group();
        // dave is not a member.
        let body = next_roster(
            &g,
            RosterChange::Add,
            UserId(4),
            keys()[3].fingerprint(),
            vec![member(0), member(1), member(2), member(3)],
            2,
        );
        let err =
            verify_roster(&sign(3, &body), Some(&g), keys()[3].public()).expect_err("refused");
        assert!(matches!(err, RosterError::NotAllowed(_)), "{err}");
        // ann's change, signed with dave's key.
        let body = next_roster(
            &g,
            RosterChange::Add,
            UserId(1),
            keys()[0].fingerprint(),
            vec![member(0), member(1), member(2), member(3)],
            2,
        );
        let err =
            verify_roster(&sign(3, &body), Some(&g), keys()[3].public()).expect_err("refused");
        assert_eq!(err, RosterError::WrongKey);
        let err =
            verify_roster(&sign(3, &body), Some(&g), keys()[0].public()).expect_err("refused");
        assert_eq!(err, RosterError::BadSignature);
    }

    #[test]
    fn chains_cannot_be_forked_rolled_back_or_key_swapped() {
        let g = group();
        let mut body = next_roster(
            &g,
            RosterChange::Remove,
            UserId(1),
            keys()[0].fingerprint(),
            vec![member(0), member(1)],
            2,
        );
        body.prev = Some(RosterHash([0; 32]));
        let err =
            verify_roster(&sign(0, &body), Some(&g), keys()[0].public()).expect_err("refused");
        assert!(matches!(err, RosterError::Chain(_)), "{err}");
        // The same version again (a rollback to a sibling) is refused.
        let mut body = next_roster(
            &g,
            RosterChange::Remove,
            UserId(1),
            keys()[0].fingerprint(),
            vec![member(0), member(1)],
            2,
        );
        body.version = 1;
        let err =
            verify_roster(&sign(0, &body), Some(&g), keys()[0].public()).expect_err("refused");
        assert!(matches!(err, RosterError::Chain(_)), "{err}");
        // An `add` that also swaps bob's key is refused.
        let mut bob = member(1);
        bob.fp = keys()[3].fingerprint();
        let body = next_roster(
            &g,
            RosterChange::Add,
            UserId(1),
            keys()[0].fingerprint(),
            vec![member(0), bob, member(2), member(3)],
            2,
        );
        let err =
            verify_roster(&sign(0, &body), Some(&g), keys()[0].public()).expect_err("refused");
        assert!(matches!(err, RosterError::NotAllowed(_)), "{err}");
    }

    #[test]
    fn a_leave_removes_only_its_signer_and_direct_rooms_are_fixed() {
        let g = group();
        let body = next_roster(
            &g,
            RosterChange::Leave,
            UserId(2),
            keys()[1].fingerprint(),
            vec![member(0)],
            2,
        );
        let err =
            verify_roster(&sign(1, &body), Some(&g), keys()[1].public()).expect_err("refused");
        assert!(matches!(err, RosterError::NotAllowed(_)), "{err}");
        let direct = first_roster(
            RoomId([8; 16]),
            RoomKind::Direct,
            UserId(2),
            keys()[1].fingerprint(),
            vec![member(0), member(1)],
            1,
        );
        let d = verify_roster(&sign(1, &direct), None, keys()[1].public()).expect("direct");
        let body = next_roster(
            &d,
            RosterChange::Leave,
            UserId(2),
            keys()[1].fingerprint(),
            vec![member(0)],
            2,
        );
        let err =
            verify_roster(&sign(1, &body), Some(&d), keys()[1].public()).expect_err("refused");
        assert!(matches!(err, RosterError::NotAllowed(_)), "{err}");
        let mut three = direct.clone();
        three.members.push(member(2));
        assert!(matches!(
            check_step(None, &three),
            Err(RosterError::Invalid(_))
        ));
    }

    #[test]
    fn garbage_is_an_error() {
        let junk = Signed {
            body: vec![0xa1, 0x61, 0x76, 0x02],
            signature: vec![0; 384],
        };
        assert!(matches!(
            decode_roster(&junk),
            Err(RosterError::Malformed(_))
        ));
    }
}
