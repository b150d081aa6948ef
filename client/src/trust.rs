//! What this client has verified, kept in the vault: each room's chain of
//! signed rosters, which roster each epoch's key was granted for, where each
//! sender's messages are up to, and the group members we know only because
//! someone signed them into a roster. Pure data and rules, no I/O: the
//! [`Client`](crate::Client) fills it from what the node serves.

use std::collections::BTreeMap;

use onionchat_proto::crypto::roster::{VerifiedRoster, decode_roster, roster_hash};
use onionchat_proto::wire::{RosterHash, RosterMember, Signed, UserId};

use serde::{Deserialize, Serialize};

/// A stored roster, decoded (its signature and chain were checked when it
/// was stored).
fn open(s: &Signed) -> Option<VerifiedRoster> {
    Some(VerifiedRoster {
        body: decode_roster(s).ok()?,
        hash: roster_hash(s),
        signed: s.clone(),
    })
}

/// A group member known through a room's roster, not as a contact: who
/// signed them into that room. Kept per room — what one room's roster
/// says about a person is never used in another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Introduction {
    /// Their username as the roster names them.
    pub username: String,
    /// The key fingerprint the roster names.
    pub fingerprint: [u8; 32],
    /// Who signed them into the roster.
    pub introduced_by: u64,
    /// The room.
    pub room: [u8; 16],
}

/// Where one sender's stream is up to in one room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StreamState {
    /// Sender account.
    pub sender: u64,
    /// Their stream (device).
    pub stream: u64,
    /// Highest counter delivered.
    pub max: u64,
    /// Counters below `max` not seen yet (reported missing), ascending.
    pub missing: Vec<u64>,
    /// When this stream was last used (the room's tick), to forget the
    /// least recently used stream first.
    #[serde(default)]
    pub used: u64,
}

/// Missing counters remembered per stream, in all (not per message): past
/// it the oldest are forgotten, and a message that fills one of them later
/// is refused like a replay. A member who skips counters on purpose can
/// grow what this device keeps by at most this much per stream.
pub const MAX_MISSING_PER_STREAM: usize = 256;

/// Streams (devices) remembered per sender in a room: past it the least
/// recently used one is forgotten.
pub const MAX_STREAMS_PER_SENDER: usize = 8;

/// What to do with a message at `counter` in its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Next in order; `missing` messages before it never arrived.
    New {
        /// How many were skipped.
        missing: u64,
    },
    /// Fills a gap reported earlier (the node delivered it late).
    Late,
    /// Seen before: a replay.
    Replay,
}

impl StreamState {
    /// Decide about `counter` and record it. `from_start`: this stream's
    /// first message should be counter 1 (we were there from its start).
    /// `void`: counters the message says its sender counts as not sent —
    /// never missing, and refused as replays if they turn up.
    pub fn admit(&mut self, counter: u64, from_start: bool, void: &[u64]) -> Admit {
        self.missing.retain(|c| !void.contains(c));
        if self.max == 0 && !from_start {
            self.max = counter;
            return Admit::New { missing: 0 };
        }
        if counter > self.max {
            let missing = missing_between(self.max, counter, void);
            let skipped = ((self.max + 1)..counter)
                .rev()
                .filter(|c| !void.contains(c));
            let mut remembered: Vec<u64> = skipped.take(MAX_MISSING_PER_STREAM).collect();
            remembered.reverse();
            self.missing.extend(remembered);
            if self.missing.len() > MAX_MISSING_PER_STREAM {
                let over = self.missing.len() - MAX_MISSING_PER_STREAM;
                self.missing.drain(..over);
            }
            self.max = counter;
            return Admit::New { missing };
        }
        match self.missing.binary_search(&counter) {
            Ok(i) => {
                self.missing.remove(i);
                Admit::Late
            }
            Err(_) => Admit::Replay,
        }
    }
}

/// How many counters between `after` and `before` (both excluded) never
/// arrived, not counting those the sender declared `void`.
pub(crate) fn missing_between(after: u64, before: u64, void: &[u64]) -> u64 {
    let voided = void
        .iter()
        .filter(|&&c| c > after && c < before)
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64;
    before.saturating_sub(after + 1).saturating_sub(voided)
}

/// Everything verified about one room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RoomTrust {
    /// Verified rosters, ascending by version, from the first one on.
    pub rosters: Vec<Signed>,
    /// Epoch → hash of the roster its key was granted for.
    pub epochs: BTreeMap<u32, [u8; 32]>,
    /// The highest epoch the node has shown us (it may never go back).
    pub max_epoch: u32,
    /// Our stream's last used counter in this room.
    pub sent: u64,
    /// Our counters whose envelopes may have left without the node saying
    /// it stored them: declared void with the next message.
    #[serde(default)]
    pub unsent: Vec<u64>,
    /// Senders' streams.
    pub streams: Vec<StreamState>,
    /// Members a verified roster took out (removed or left) → the room's
    /// last seq when we learned it: later messages from them are refused.
    #[serde(default)]
    pub removed: BTreeMap<u64, u64>,
    /// The highest roster version a member's signed message named: above
    /// our latest verified roster, the node is keeping a change from us.
    #[serde(default)]
    pub newer_named: u64,
    /// Sender → the roster version we last warned about them being behind.
    #[serde(default)]
    pub behind_warned: BTreeMap<u64, u64>,
    /// Counts stream uses (for forgetting the least recently used).
    #[serde(default)]
    pub tick: u64,
    /// Senders we told that not every gap of theirs is remembered.
    #[serde(default)]
    pub told_forgetting: std::collections::BTreeSet<u64>,
    /// The group's name: the latest rename (by seq) an admin signed.
    #[serde(default)]
    pub name: Option<GroupName>,
    /// Messages their authors deleted for everyone, as (msg id, author):
    /// if the node serves one again, it is refused and the user told.
    /// Keyed by both, so a member's "delete" naming someone else's message
    /// neither deletes it nor hides the author's own deletion.
    #[serde(default)]
    pub erased: std::collections::BTreeSet<([u8; 16], u64)>,
    /// Messages this member deleted for themselves only.
    #[serde(default)]
    pub hidden: std::collections::BTreeSet<[u8; 16]>,
}

/// A group's name as an admin set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupName {
    /// The name.
    pub name: String,
    /// The admin who set it.
    pub by: u64,
    /// The seq of the rename message (a later one wins).
    pub seq: u64,
}

/// Most deleted-message ids remembered per room (the oldest are forgotten
/// first: a member who deletes thousands of messages cannot grow another
/// member's profile without bound).
pub const MAX_ERASED_REMEMBERED: usize = 10_000;

impl RoomTrust {
    /// The verified rosters, decoded (they were checked when stored).
    pub fn verified(&self) -> Vec<VerifiedRoster> {
        self.rosters.iter().filter_map(open).collect()
    }

    /// The latest verified roster (decodes only that one: this is on the
    /// send path).
    pub fn latest(&self) -> Option<VerifiedRoster> {
        self.rosters.last().and_then(open)
    }

    /// The room's first roster, if we verified the chain from its start.
    pub fn first(&self) -> Option<VerifiedRoster> {
        self.rosters.first().and_then(open)
    }

    /// The verified roster with this hash.
    pub fn roster(&self, hash: &RosterHash) -> Option<VerifiedRoster> {
        self.rosters
            .iter()
            .find(|s| roster_hash(s) == *hash)
            .and_then(open)
    }

    /// The newest roster entry for `user`, if any verified roster has them.
    pub fn member(&self, user: UserId) -> Option<RosterMember> {
        self.rosters
            .iter()
            .rev()
            .filter_map(|s| decode_roster(s).ok())
            .find_map(|b| b.member(user).cloned())
    }

    /// Who signed `user` into this room (the actor of the first verified
    /// roster naming them), and as whom.
    pub fn introduction(&self, room: [u8; 16], user: UserId) -> Option<Introduction> {
        let mut prev: Option<onionchat_proto::wire::RosterBody> = None;
        for s in &self.rosters {
            let b = decode_roster(s).ok()?;
            if let Some(m) = b.member(user)
                && prev.as_ref().is_none_or(|p| p.member(user).is_none())
            {
                return Some(Introduction {
                    username: m.username.clone(),
                    fingerprint: m.fp.0,
                    introduced_by: b.actor.0,
                    room,
                });
            }
            prev = Some(b);
        }
        None
    }

    /// The roster an epoch's key was accepted for.
    pub fn epoch_roster(&self, epoch: u32) -> Option<VerifiedRoster> {
        self.roster(&RosterHash(*self.epochs.get(&epoch)?))
    }

    /// Decide about `counter` in `sender`'s `stream` and record it, within
    /// the caps: returns what to do with the message and whether something
    /// was forgotten to stay within them (a gap, or an old stream).
    pub fn admit(
        &mut self,
        sender: u64,
        stream: u64,
        counter: u64,
        from_start: bool,
        void: &[u64],
    ) -> (Admit, bool) {
        self.tick += 1;
        let tick = self.tick;
        let mut forgot = false;
        let i = match self
            .streams
            .iter()
            .position(|s| s.sender == sender && s.stream == stream)
        {
            Some(i) => i,
            None => {
                let theirs = self.streams.iter().filter(|s| s.sender == sender).count();
                if theirs >= MAX_STREAMS_PER_SENDER
                    && let Some(oldest) = self
                        .streams
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.sender == sender)
                        .min_by_key(|(_, s)| s.used)
                        .map(|(i, _)| i)
                {
                    self.streams.swap_remove(oldest);
                    forgot = true;
                }
                self.streams.push(StreamState {
                    sender,
                    stream,
                    ..StreamState::default()
                });
                self.streams.len() - 1
            }
        };
        let s = &mut self.streams[i];
        s.used = tick;
        let before = s.missing.len() as u64;
        let admit = s.admit(counter, from_start, void);
        if let Admit::New { missing } = admit
            && before + missing > s.missing.len() as u64
        {
            forgot = true;
        }
        (admit, forgot)
    }
}

/// Trust state of every room (hex room id → state) and introductions.
pub type Rooms = BTreeMap<String, RoomTrust>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_gaps_late_and_replays() {
        let mut s = StreamState::default();
        assert_eq!(s.admit(1, true, &[]), Admit::New { missing: 0 });
        assert_eq!(s.admit(2, true, &[]), Admit::New { missing: 0 });
        assert_eq!(s.admit(2, true, &[]), Admit::Replay);
        assert_eq!(s.admit(5, true, &[]), Admit::New { missing: 2 });
        assert_eq!(s.missing, vec![3, 4]);
        assert_eq!(s.admit(4, true, &[]), Admit::Late);
        assert_eq!(s.admit(4, true, &[]), Admit::Replay);
        assert_eq!(s.admit(1, true, &[]), Admit::Replay);
        assert_eq!(s.missing, vec![3]);
    }

    #[test]
    fn counters_the_sender_voided_are_not_missing_and_never_taken() {
        let mut s = StreamState::default();
        assert_eq!(s.admit(1, true, &[]), Admit::New { missing: 0 });
        // Counters 2 and 3 were attempts the sender counts as not sent;
        // 4 never arrived.
        assert_eq!(s.admit(5, true, &[2, 3, 3]), Admit::New { missing: 1 });
        assert_eq!(s.missing, vec![4]);
        assert_eq!(s.admit(2, true, &[]), Admit::Replay);
        // A later message voids 4 too: it is no longer missing, and
        // refused if it turns up.
        assert_eq!(s.admit(6, true, &[4]), Admit::New { missing: 0 });
        assert!(s.missing.is_empty());
        assert_eq!(s.admit(4, true, &[]), Admit::Replay);
    }

    #[test]
    fn a_stream_seen_from_its_start_must_begin_at_one() {
        let mut s = StreamState::default();
        assert_eq!(s.admit(3, true, &[]), Admit::New { missing: 2 });
        let mut joined_late = StreamState::default();
        assert_eq!(joined_late.admit(40, false, &[]), Admit::New { missing: 0 });
        assert_eq!(joined_late.admit(41, false, &[]), Admit::New { missing: 0 });
        assert_eq!(joined_late.admit(40, false, &[]), Admit::Replay);
    }

    #[test]
    fn huge_gaps_are_counted_but_bounded_in_memory() {
        let mut s = StreamState::default();
        assert_eq!(
            s.admit(1_000_000, true, &[]),
            Admit::New { missing: 999_999 }
        );
        assert_eq!(s.missing.len(), MAX_MISSING_PER_STREAM);
    }

    #[test]
    fn a_member_skipping_counters_on_purpose_cannot_grow_the_state() {
        // The attack: counters 1, 1026, 2051, … — each leaves a gap.
        let mut t = RoomTrust::default();
        let mut told = false;
        for i in 0..10_000u64 {
            let (a, forgot) = t.admit(7, 1, 1 + i * 1025, true, &[]);
            assert!(matches!(a, Admit::New { .. }));
            told |= forgot;
        }
        assert!(told, "the user is told that gaps are forgotten");
        assert_eq!(t.streams.len(), 1);
        assert_eq!(t.streams[0].missing.len(), MAX_MISSING_PER_STREAM);
        // The newest gaps are the ones kept; a forgotten one is a replay.
        let max = t.streams[0].max;
        assert_eq!(t.admit(7, 1, max - 1, true, &[]).0, Admit::Late);
        assert_eq!(t.admit(7, 1, 2, true, &[]).0, Admit::Replay);
    }

    #[test]
    fn a_member_inventing_streams_cannot_grow_the_state() {
        let mut t = RoomTrust::default();
        let mut told = false;
        for stream in 0..10_000u64 {
            told |= t.admit(7, stream, 1000, true, &[]).1;
        }
        assert!(told);
        assert_eq!(t.streams.len(), MAX_STREAMS_PER_SENDER);
        // Another sender's streams are not pushed out by it.
        let mut t2 = RoomTrust::default();
        t2.admit(8, 42, 1, true, &[]);
        for stream in 0..100u64 {
            t2.admit(7, stream, 1, true, &[]);
        }
        assert!(t2.streams.iter().any(|s| s.sender == 8 && s.stream == 42));
        // The vault after the flood stays small.
        let bytes = onionchat_proto::encode(&t).expect("encode").len()
            + onionchat_proto::encode(&t2).expect("encode").len();
        assert!(bytes < 64 * 1024, "{bytes} bytes");
    }
}
