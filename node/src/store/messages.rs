//! Messages: durable sends with per-room sequence numbers, history, and
//! delivery/read markers.

use std::collections::HashMap;

use onionchat_proto::now_ms;
use onionchat_proto::wire::{
    EraseBody, ErrorCode, History, MemberState, MessageBody, ReadMarkers, RoomId, SendAck,
    ServerFrame, Signed, StoredMessage, UserId,
};
use redb::{ReadableTable, WriteTransaction};

use super::rooms::load_room;
use super::schema::*;
use super::{Store, dec, enc};
use crate::error::{Failure, reject};
use crate::hub::Event;

/// UTC day number of a timestamp (ms).
pub fn day_of(ms: u64) -> u64 {
    ms / 86_400_000
}

fn bump_counters(txn: &WriteTransaction, now: u64) -> Result<(), Failure> {
    let mut meta = txn.open_table(META)?;
    let total = meta.get("messages_total")?.map(|g| g.value()).unwrap_or(0);
    meta.insert("messages_total", total + 1)?;
    let key = format!("day:{}", day_of(now));
    let today = meta.get(key.as_str())?.map(|g| g.value()).unwrap_or(0);
    meta.insert(key.as_str(), today + 1)?;
    meta.insert("last_message_at", now)?;
    Ok(())
}

impl Store {
    /// Store a message whose envelope shape was checked (`body` is its
    /// decoded body). Returns after the commit is durable. Resending a
    /// message id returns the original ack with `duplicate = true`.
    pub async fn send_message(
        &self,
        user: UserId,
        user_fp: [u8; 32],
        body: MessageBody,
        envelope: Signed,
        origin: Option<u64>,
    ) -> Result<SendAck, Failure> {
        let quota = self.user_quota();
        self.space().check(envelope.body.len() as u64)?;
        self.write(move |txn| {
            let room_id = body.room_id;
            let room = load_room(txn, room_id)?;
            if !room.members.contains(&user.0) {
                return reject(ErrorCode::Forbidden, "you are not a member of this room");
            }
            if body.sender_fp.0 != user_fp {
                return reject(
                    ErrorCode::Forbidden,
                    "the message is signed for another account's key",
                );
            }
            if let Some(seq) = txn
                .open_table(MSG_IDS)?
                .get((room_id.0, body.msg_id.0))?
                .map(|g| g.value())
            {
                let stored: StoredMessage = match txn.open_table(MESSAGES)?.get((room_id.0, seq))? {
                    Some(g) => dec(g.value())?,
                    None => {
                        return Err(Failure::Internal("message index points at nothing".into()));
                    }
                };
                // A resend is the same message from the same member; a
                // message id taken by someone else (or reused for other
                // content) is refused, not silently answered with another
                // member's message.
                if stored.sender != user {
                    return reject(
                        ErrorCode::Conflict,
                        "another member's message has this message id; pick a new random one",
                    );
                }
                if stored.erased {
                    return reject(
                        ErrorCode::Conflict,
                        "this message was deleted for everyone; it cannot be sent again",
                    );
                }
                if stored.envelope.body != envelope.body {
                    return reject(
                        ErrorCode::Conflict,
                        "you sent different content under this message id before",
                    );
                }
                let ack = SendAck {
                    room_id,
                    msg_id: body.msg_id,
                    seq,
                    server_time: stored.server_time,
                    duplicate: true,
                };
                return Ok((ack, vec![]));
            }
            super::rooms::check_epoch(&room, body.epoch, "message")?;
            let mut seqs = txn.open_table(ROOM_SEQ)?;
            let seq = seqs.get(room_id.0)?.map(|g| g.value()).unwrap_or(0) + 1;
            let now = now_ms();
            let stored = StoredMessage {
                room_id,
                seq,
                server_time: now,
                sender: user,
                envelope,
                erased: false,
            };
            let bytes = enc(&stored)?;
            // Messages count against their sender's quota with files.
            let size = bytes.len() as u64;
            super::quota::charge(txn, MSG_USAGE, user.0, size, quota)?;
            seqs.insert(room_id.0, seq)?;
            drop(seqs);
            txn.open_table(MESSAGES)?
                .insert((room_id.0, seq), bytes.as_slice())?;
            txn.open_table(MSG_IDS)?
                .insert((room_id.0, body.msg_id.0), seq)?;
            bump_counters(txn, now)?;
            let ack = SendAck {
                room_id,
                msg_id: body.msg_id,
                seq,
                server_time: now,
                duplicate: false,
            };
            let to = room.members.iter().copied().map(UserId).collect();
            let event = Event::new(to, ServerFrame::Message(stored)).skipping(origin);
            Ok((ack, vec![event]))
        })
        .await
    }

    /// Delete for everyone: replace the author's message at `erase.seq`
    /// with their signed erase request (checked by the caller: signature,
    /// room, signer = `user`), dropping its ciphertext in the same durable
    /// commit. Erasing an erased message again changes nothing.
    pub async fn erase_message(
        &self,
        user: UserId,
        erase: EraseBody,
        signed: Signed,
    ) -> Result<(), Failure> {
        let quota = self.user_quota();
        self.write(move |txn| {
            let room_id = erase.room_id;
            let room = load_room(txn, room_id)?;
            if !room.members.contains(&user.0) {
                return reject(ErrorCode::Forbidden, "you are not a member of this room");
            }
            let old = match txn.open_table(MESSAGES)?.get((room_id.0, erase.seq))? {
                Some(g) => g.value().to_vec(),
                None => {
                    return reject(
                        ErrorCode::NotFound,
                        format!("there is no message {} in this room", erase.seq),
                    );
                }
            };
            let stored: StoredMessage = dec(&old)?;
            if stored.sender != user {
                return reject(
                    ErrorCode::Forbidden,
                    "only its author can delete a message for everyone",
                );
            }
            if stored.erased {
                return Ok(((), vec![]));
            }
            let body = onionchat_proto::crypto::message::decode(&stored.envelope)
                .map_err(|e| Failure::Internal(format!("stored message does not decode: {e}")))?;
            if !onionchat_proto::crypto::erase::names(&erase, &body, erase.seq) {
                return reject(
                    ErrorCode::Invalid,
                    "the erase request does not name the message stored at that seq",
                );
            }
            let tombstone = enc(&StoredMessage {
                envelope: signed,
                erased: true,
                ..stored
            })?;
            // The message's bytes stop counting against its author; the
            // erase request (a few hundred bytes) counts instead.
            super::quota::take(txn, MSG_USAGE, user.0, old.len() as u64)?;
            super::quota::charge(txn, MSG_USAGE, user.0, tombstone.len() as u64, quota)?;
            txn.open_table(MESSAGES)?
                .insert((room_id.0, erase.seq), tombstone.as_slice())?;
            Ok(((), vec![]))
        })
        .await
    }

    /// Messages after `after`, at most `limit`, for a member.
    pub fn history(
        &self,
        user: UserId,
        room_id: RoomId,
        after: u64,
        limit: u32,
    ) -> Result<History, Failure> {
        self.room_for_member(user, room_id)?;
        let r = self.read()?;
        let t = r.open_table(MESSAGES)?;
        let mut messages = Vec::new();
        let mut has_more = false;
        let mut bytes = 0usize;
        for entry in t.range((room_id.0, after.saturating_add(1))..=(room_id.0, u64::MAX))? {
            let (_, v) = entry?;
            let size = v.value().len();
            if messages.len() as u32 >= limit
                || (!messages.is_empty()
                    && bytes + size > onionchat_proto::limits::MAX_HISTORY_BYTES)
            {
                has_more = true;
                break;
            }
            bytes += size;
            messages.push(dec(v.value())?);
        }
        Ok(History {
            room_id,
            messages,
            has_more,
        })
    }

    /// Raise read (and delivered) markers; returns the events to announce.
    pub async fn set_markers(
        &self,
        updates: Vec<(RoomId, UserId, u64, u64)>,
    ) -> Result<(), Failure> {
        self.write(move |txn| {
            let mut changed: HashMap<[u8; 16], Vec<(u64, u64, u64)>> = HashMap::new();
            let mut rooms: HashMap<[u8; 16], RoomRecord> = HashMap::new();
            for (room_id, user, delivered, read) in updates {
                let room = match rooms.get(&room_id.0) {
                    Some(r) => r.clone(),
                    None => match load_room(txn, room_id) {
                        Ok(r) => {
                            rooms.insert(room_id.0, r.clone());
                            r
                        }
                        Err(Failure::Rejected(_)) => continue,
                        Err(e) => return Err(e),
                    },
                };
                if !room.members.contains(&user.0) {
                    continue;
                }
                let last = txn
                    .open_table(ROOM_SEQ)?
                    .get(room_id.0)?
                    .map(|g| g.value())
                    .unwrap_or(0);
                let mut markers = txn.open_table(MARKERS)?;
                let (old_d, old_r) = markers
                    .get((room_id.0, user.0))?
                    .map(|g| g.value())
                    .unwrap_or((0, 0));
                let new_r = old_r.max(read.min(last));
                let new_d = old_d.max(delivered.min(last)).max(new_r);
                if (new_d, new_r) != (old_d, old_r) {
                    markers.insert((room_id.0, user.0), (new_d, new_r))?;
                    changed
                        .entry(room_id.0)
                        .or_default()
                        .push((user.0, new_d, new_r));
                }
            }
            let mut events = Vec::new();
            for (room, list) in changed {
                let to: Vec<UserId> = rooms[&room].members.iter().copied().map(UserId).collect();
                for (user, d, r) in list {
                    events.push(Event::new(
                        to.clone(),
                        ServerFrame::Receipt {
                            room_id: RoomId(room),
                            user: UserId(user),
                            delivered_seq: d,
                            read_seq: r,
                        },
                    ));
                }
            }
            Ok(((), events))
        })
        .await
    }

    /// Delivery and read state of every member, for a member.
    pub fn markers(&self, user: UserId, room_id: RoomId) -> Result<ReadMarkers, Failure> {
        let room = self.room_for_member(user, room_id)?;
        let r = self.read()?;
        let t = r.open_table(MARKERS)?;
        let mut members = Vec::new();
        for m in room.members {
            let (d, rd) = t
                .get((room_id.0, m.0))?
                .map(|g| g.value())
                .unwrap_or((0, 0));
            members.push(MemberState {
                user: m,
                delivered_seq: d,
                read_seq: rd,
            });
        }
        Ok(ReadMarkers { room_id, members })
    }

    /// (total, today, last message time) for the status model.
    pub fn message_counters(&self) -> Result<(u64, u64, Option<u64>), Failure> {
        let r = self.read()?;
        let meta = r.open_table(META)?;
        let total = meta.get("messages_total")?.map(|g| g.value()).unwrap_or(0);
        let key = format!("day:{}", day_of(now_ms()));
        let today = meta.get(key.as_str())?.map(|g| g.value()).unwrap_or(0);
        let last = meta.get("last_message_at")?.map(|g| g.value());
        Ok((total, today, last))
    }

    /// Number of rooms.
    pub fn room_count(&self) -> Result<u64, Failure> {
        use redb::ReadableTableMetadata;
        Ok(self.read()?.open_table(ROOMS)?.len()?)
    }

    /// Delete messages older than `cutoff_ms` (retention). Returns how many.
    ///
    /// In slices of [`RETENTION_SLICE`]: the expired messages are found in a
    /// read snapshot and deleted a slice per commit, so a first sweep over
    /// years of history neither holds the writer nor builds one huge
    /// transaction.
    pub async fn prune_messages(&self, cutoff_ms: u64) -> Result<u64, Failure> {
        let mut removed = 0u64;
        loop {
            let doomed = self.expired_messages(cutoff_ms, RETENTION_SLICE)?;
            let n = doomed.len();
            if n == 0 {
                return Ok(removed);
            }
            self.write(move |txn| {
                let mut t = txn.open_table(MESSAGES)?;
                let mut ids = txn.open_table(MSG_IDS)?;
                let mut freed: std::collections::HashMap<u64, u64> = Default::default();
                for (key, msg_id, sender, size) in doomed {
                    t.remove(key)?;
                    if let Some(id) = msg_id {
                        ids.remove((key.0, id))?;
                    }
                    *freed.entry(sender).or_default() += size;
                }
                drop((t, ids));
                for (user, size) in freed {
                    super::quota::take(txn, MSG_USAGE, user, size)?;
                }
                Ok(((), vec![]))
            })
            .await?;
            removed += n as u64;
            if n < RETENTION_SLICE {
                return Ok(removed);
            }
        }
    }

    /// Up to `max` messages older than `cutoff_ms`: each room's oldest
    /// first (seqs and server times rise together within a room), with
    /// their msg id, sender and stored size.
    #[allow(clippy::type_complexity)]
    fn expired_messages(
        &self,
        cutoff_ms: u64,
        max: usize,
    ) -> Result<Vec<(([u8; 16], u64), Option<[u8; 16]>, u64, u64)>, Failure> {
        let r = self.read()?;
        let rooms = r.open_table(ROOM_SEQ)?;
        let messages = r.open_table(MESSAGES)?;
        let mut out = Vec::new();
        for room in rooms.iter()? {
            let room = room?.0.value();
            for entry in messages.range((room, 0)..=(room, u64::MAX))? {
                let (k, v) = entry?;
                let m: StoredMessage = dec(v.value())?;
                if m.server_time >= cutoff_ms {
                    break;
                }
                let msg_id = onionchat_proto::crypto::message::decode(&m.envelope)
                    .ok()
                    .map(|b| b.msg_id.0);
                out.push((k.value(), msg_id, m.sender.0, v.value().len() as u64));
                if out.len() >= max {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

/// Messages deleted per commit by retention.
pub const RETENTION_SLICE: usize = 1000;
