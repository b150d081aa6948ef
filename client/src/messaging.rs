//! Sending, receiving, history and markers.

use hyper::Method;
use onionchat_proto::crypto::message;
use onionchat_proto::now_ms;
use onionchat_proto::wire::{
    ErrorCode, History, MessageContent, MsgId, ReadMarkers, RoomId, RosterRef, SendAck,
    SendMessage, SetReadMarker, Signed, StoredMessage, UserId,
};

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::events::{Incoming, Received};
use crate::seen::Placement;
use crate::trust::Admit;

/// Within one page, put each sender stream's messages in counter order
/// (in the slots they occupy): however the node orders a page, one
/// sender's messages read in the order they were sent.
/// A page with a notice before each message whose sender's previous
/// message in the page has a counter more than one below it: what never
/// arrived in between (a sender's counters rise with the seq, so nothing
/// between two of them can be on another page).
fn gaps_in_page(room_id: RoomId, items: Vec<Incoming>) -> Vec<Incoming> {
    let mut last: std::collections::HashMap<(u64, u64), u64> = Default::default();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Incoming::Message(r) = &item
            && let Some(prev) = last.insert((r.sender.0, r.stream), r.counter)
            && r.counter > prev + 1
        {
            // What the sender declared void is not missing.
            let count = crate::trust::missing_between(prev, r.counter, &r.void);
            if count > 0 {
                out.push(Incoming::Missing {
                    room_id,
                    sender: r.sender,
                    sender_name: r.sender_name.clone(),
                    count,
                    before: r.seq,
                });
            }
        }
        out.push(item);
    }
    out
}

fn in_sender_order(items: &mut [Incoming]) {
    let mut streams: std::collections::BTreeMap<(u64, u64), Vec<usize>> = Default::default();
    for (i, item) in items.iter().enumerate() {
        if let Incoming::Message(r) = item {
            streams.entry((r.sender.0, r.stream)).or_default().push(i);
        }
    }
    for slots in streams.values() {
        let mut msgs: Vec<Incoming> = slots.iter().map(|&i| items[i].clone()).collect();
        msgs.sort_by_key(|m| match m {
            Incoming::Message(r) => r.counter,
            _ => 0,
        });
        for (&i, m) in slots.iter().zip(msgs) {
            if let (Incoming::Message(new), Incoming::Message(old)) = (&m, &items[i]) {
                // Keep the node's seq and time in the slot; the content moves.
                let (seq, server_time) = (old.seq, old.server_time);
                let mut new = new.clone();
                new.seq = seq;
                new.server_time = server_time;
                items[i] = Incoming::Message(new);
            }
        }
    }
}

impl Client {
    /// Encrypt, sign and send `content` to a room; returns once the node has
    /// durably stored it. Re-keys first if the room's membership changed.
    ///
    /// Sends to one room are one at a time: each message takes the next
    /// counter of this device's stream (saved before it leaves), so
    /// receivers see one sender's messages in order and notice any that the
    /// node withholds.
    pub async fn send(&self, room_id: RoomId, content: MessageContent) -> Result<SendAck> {
        let lock = self.send_lock(room_id);
        let _one_at_a_time = lock.lock().await;
        let mut last_err = None;
        for _ in 0..3 {
            let (room, key) = self.ready_room(room_id).await?;
            let roster = self
                .verified_roster(room_id)
                .map(|r| RosterRef {
                    version: r.body.version,
                    hash: r.hash,
                })
                .ok_or_else(|| {
                    ClientError::Untrusted("this room has no verified member list".into())
                })?;
            // A counter is taken (and saved) only for an envelope about to
            // leave, and never given back once it has: whatever the node
            // answers, it may have stored that envelope, and a second one
            // with the same counter would let it pick which one the others
            // see. A refused attempt is an honest gap for them instead.
            // The counters of attempts that may have left without an ack
            // go with it as void, so the others see no gap for them (and
            // refuse them if the node delivers one after all).
            let (position, void) = self.take_counter(room_id)?;
            // A new id too: the node may hold the last attempt under its id.
            let msg_id = MsgId::random();
            let envelope = {
                let p = self.profile();
                message::seal_voiding(
                    &p.identity,
                    room_id,
                    room.epoch,
                    &key,
                    msg_id,
                    message::Position { roster, ..position },
                    &void,
                    now_ms(),
                    &content,
                )?
            };
            let sent = self.send_envelope(room_id, envelope).await;
            self.settle_counter(room_id, position.counter, &void, sent.is_ok());
            match sent {
                Ok(ack) => return Ok(ack),
                // The room moved on under us: look again and seal anew
                // (with the next counter).
                Err(e)
                    if matches!(
                        e.code(),
                        Some(ErrorCode::StaleEpoch | ErrorCode::RekeyRequired)
                    ) =>
                {
                    self.forget_room(room_id);
                    last_err = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| ClientError::Protocol("could not send".into())))
    }

    fn send_lock(&self, room_id: RoomId) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        self.send_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(room_id)
            .or_default()
            .clone()
    }

    /// The next counter of our stream in a room, saved before it is used,
    /// and the counters to declare void with it.
    fn take_counter(&self, room_id: RoomId) -> Result<(message::Position, Vec<u64>)> {
        let mut p = self.profile();
        let stream = p.data.stream;
        let t = p.data.rooms.entry(room_id.to_hex()).or_default();
        t.sent += 1;
        let counter = t.sent;
        let void = t.unsent.clone();
        p.save()?;
        Ok((
            message::Position {
                stream,
                counter,
                roster: RosterRef::default(),
            },
            void,
        ))
    }

    /// After an attempt: stored, its void counters were told (the stored
    /// envelope carries them); not heard stored, its own counter joins the
    /// void list of the next one (at most `MAX_VOID_COUNTERS`, the oldest
    /// go: those show as a gap). Saved with the next counter.
    fn settle_counter(&self, room_id: RoomId, counter: u64, void: &[u64], stored: bool) {
        let mut p = self.profile();
        let t = p.data.rooms.entry(room_id.to_hex()).or_default();
        if stored {
            t.unsent.retain(|c| !void.contains(c));
        } else {
            t.unsent.push(counter);
            let over = t
                .unsent
                .len()
                .saturating_sub(onionchat_proto::limits::MAX_VOID_COUNTERS);
            t.unsent.drain(..over);
        }
    }

    /// Send a text message (not an empty one: only spaces is nothing).
    pub async fn send_text(&self, room_id: RoomId, text: &str) -> Result<SendAck> {
        if text.trim().is_empty() {
            return Err(ClientError::Input(
                "there is nothing to send: the message is empty".into(),
            ));
        }
        self.send(room_id, MessageContent::Text { text: text.into() })
            .await
    }

    /// Send an envelope over the live WebSocket if it is up, else over HTTP.
    /// Both are idempotent on the message id, so a resend after a broken
    /// connection never duplicates.
    async fn send_envelope(&self, room_id: RoomId, envelope: Signed) -> Result<SendAck> {
        if let Some(result) = self.live.send(&envelope).await {
            match result {
                Ok(ack) => return Ok(ack),
                Err(ClientError::Api(e)) => return Err(ClientError::Api(e)),
                // Connection trouble: fall back to HTTP with the same id.
                Err(_) => {}
            }
        }
        self.call(
            Method::POST,
            &format!("/v1/rooms/{room_id}/messages"),
            Some(&SendMessage { envelope }),
        )
        .await
    }

    /// Verify and decrypt one stored message.
    pub async fn open_stored(&self, m: &StoredMessage) -> Incoming {
        match self.try_open(m).await {
            Ok(r) => {
                self.index_message(&r);
                Incoming::Message(r)
            }
            Err(ClientError::BeforeYouJoined) => Incoming::BeforeYouJoined {
                room_id: m.room_id,
                seq: m.seq,
                sender: m.sender,
                sender_name: self.name_of(m.sender),
            },
            Err(e) => Incoming::Rejected {
                room_id: m.room_id,
                seq: m.seq,
                sender: m.sender,
                reason: e.to_string(),
            },
        }
    }

    async fn try_open(&self, m: &StoredMessage) -> Result<Received> {
        // Who signed it, first: a member of a roster we verified, with the
        // key that roster names. One RSA verify; everything signed in the
        // body can be believed from here on.
        let (signer, _) = self.sender_key(m.room_id, m.sender, None).await?;
        if m.erased {
            return self.open_erased(m, &signer);
        }
        let body = message::verify(&m.envelope, &signer, m.room_id)?;
        let cutoff = self
            .profile()
            .data
            .rooms
            .get(&m.room_id.to_hex())
            .and_then(|t| t.removed.get(&m.sender.0).copied());
        if let Some(cutoff) = cutoff
            && m.seq > cutoff
        {
            return Err(ClientError::Untrusted(format!(
                "{} is no longer a member of this room: a message after that is refused",
                self.name_of(m.sender)
            )));
        }
        // What the sender signed about the room's members.
        self.check_named_roster(m.room_id, m.sender, &body.roster)
            .await?;
        // Sent for members we were not among (the roster its sender signed
        // does not name us, and we hold no key of its epoch): nothing to
        // open and nothing wrong — and no trip to the box for a key that
        // was never ours.
        if self.profile().room_key(m.room_id.0, body.epoch).is_none()
            && self.named_roster_lacks_me(m.room_id, &body.roster)
        {
            return Err(ClientError::BeforeYouJoined);
        }
        // Then the key of its epoch, and the sender in the roster that key
        // was made for, with the key that signed.
        let key = self.room_key(m.room_id, body.epoch).await?;
        let in_epoch = self
            .profile()
            .data
            .rooms
            .get(&m.room_id.to_hex())
            .and_then(|t| t.epoch_roster(body.epoch))
            .and_then(|r| r.body.member(m.sender).map(|e| e.fp));
        if in_epoch != Some(body.sender_fp) {
            return Err(ClientError::Untrusted(format!(
                "{} is not in the member list the key of epoch {} was made for",
                self.name_of(m.sender),
                body.epoch
            )));
        }
        let content = message::decrypt(&body, &key)?;
        let (content, deleted) = self.after_open(m, &body, content)?;
        let sender_name = self.name_of(m.sender);
        Ok(Received {
            room_id: m.room_id,
            seq: m.seq,
            server_time: m.server_time,
            sender: m.sender,
            sender_name,
            msg_id: body.msg_id,
            sent_at: body.sent_at,
            epoch: body.epoch,
            stream: body.stream,
            counter: body.counter,
            void: body.void.clone(),
            late: false,
            content,
            deleted,
        })
    }

    /// Whether `named` is a roster of the room we verified that does not
    /// have us in it.
    fn named_roster_lacks_me(
        &self,
        room: RoomId,
        named: &onionchat_proto::wire::RosterRef,
    ) -> bool {
        // (`me` first: it takes the profile's lock itself.)
        let me = self.me();
        self.profile()
            .data
            .rooms
            .get(&room.to_hex())
            .and_then(|t| t.roster(&named.hash))
            .is_some_and(|r| r.body.version == named.version && r.body.member(me).is_none())
    }

    /// Check the roster a member's signed message names against ours:
    /// the same version must be the same roster (else the node forked the
    /// room); a newer one means the node is keeping a change from us
    /// (sending pauses, see `ready_room`); an older one that still has
    /// people we saw removed means the node is keeping that change from the
    /// sender — say so.
    async fn check_named_roster(
        &self,
        room: RoomId,
        sender: UserId,
        named: &onionchat_proto::wire::RosterRef,
    ) -> Result<()> {
        // The usual case, on every message: it names our latest roster.
        let current = self
            .profile()
            .data
            .rooms
            .get(&room.to_hex())
            .is_some_and(|t| {
                t.rosters.len() as u64 == named.version
                    && t.rosters.last().is_some_and(|s| {
                        onionchat_proto::crypto::roster::roster_hash(s) == named.hash
                    })
            });
        if current {
            return Ok(());
        }
        let mut trust = self.trust(room).unwrap_or_default();
        let mut latest = trust.latest().map_or(0, |l| l.body.version);
        if named.version > latest {
            // Perhaps we just have not looked yet.
            match self.room(room).await {
                Ok(_) | Err(ClientError::Untrusted(_)) => {}
                Err(e) => return Err(e),
            }
            trust = self.trust(room).unwrap_or_default();
            latest = trust.latest().map_or(0, |l| l.body.version);
        }
        let who = self.name_of(sender);
        if named.version > latest {
            if named.version > trust.newer_named {
                let mut p = self.profile();
                p.data.rooms.entry(room.to_hex()).or_default().newer_named = named.version;
                p.save()?;
                drop(p);
                self.untrusted(
                    Some(room),
                    format!(
                        "{who} has seen a newer member list of this room (version {}) than the box shows you (version {latest}): sending here is paused until the box shows it",
                        named.version
                    ),
                );
            }
            return Ok(());
        }
        let Some(theirs) = trust
            .rosters
            .get((named.version as usize).wrapping_sub(1))
            .filter(|s| onionchat_proto::crypto::roster::roster_hash(s) == named.hash)
            .and_then(|s| onionchat_proto::crypto::roster::decode_roster(s).ok())
        else {
            return Err(self.untrusted(
                Some(room),
                format!(
                    "a message from {who} names a member list (version {}) that is not the one members signed: the box has split the room",
                    named.version
                ),
            ));
        };
        if named.version < latest
            && trust.behind_warned.get(&sender.0).copied() != Some(named.version)
            && let Some(now) = trust.latest()
        {
            let gone: Vec<String> = theirs
                .members
                .iter()
                .filter(|m| now.body.member(m.user).is_none())
                .map(|m| m.username.clone())
                .collect();
            if !gone.is_empty() {
                let mut p = self.profile();
                p.data
                    .rooms
                    .entry(room.to_hex())
                    .or_default()
                    .behind_warned
                    .insert(sender.0, named.version);
                p.save()?;
                drop(p);
                self.untrusted(
                    Some(room),
                    format!(
                        "{who} has not seen that {} left this room: the box may be keeping the change from {who}",
                        gone.join(", ")
                    ),
                );
            }
        }
        Ok(())
    }

    /// One page of history after `after`, verified, decrypted and checked
    /// like sync (replays refused, gaps between a sender's messages in the
    /// page announced), without moving the cursor.
    pub async fn history(
        &self,
        room_id: RoomId,
        after: u64,
        limit: u32,
    ) -> Result<(Vec<Incoming>, bool)> {
        let (page, more) = self.page(room_id, after, limit).await?;
        Ok((gaps_in_page(room_id, page), more))
    }

    /// A page as [`Client::history`] gives it, without the gap notices
    /// (sync finds those against the vault's streams).
    async fn page(&self, room_id: RoomId, after: u64, limit: u32) -> Result<(Vec<Incoming>, bool)> {
        let h: History = self
            .call::<(), _>(
                Method::GET,
                &format!("/v1/rooms/{room_id}/messages?after={after}&limit={limit}"),
                None,
            )
            .await?;
        let mut out = Vec::with_capacity(h.messages.len());
        let mut expected = after + 1;
        for m in &h.messages {
            if m.room_id != room_id || m.seq < expected {
                return Err(ClientError::Protocol("history out of order".into()));
            }
            expected = m.seq + 1;
            out.push(self.open_stored(m).await);
        }
        // Replays out first (the first copy, by seq, stands), then each
        // sender's messages in their order, then what never arrived.
        self.flag_replays_in_page(room_id, &mut out);
        self.check_placement(room_id, &mut out);
        in_sender_order(&mut out);
        self.saw(room_id, &out);
        Ok((out, h.has_more))
    }

    /// Remember where the messages in `items` were shown (see `seen.rs`).
    fn saw(&self, room_id: RoomId, items: &[Incoming]) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let order = seen.entry(room_id).or_default();
        for item in items {
            if let Incoming::Message(r) = item {
                order.record(r.sender.0, r.stream, r.seq, r.counter);
            }
        }
    }

    /// Hold each message of a page to where its stream's messages were
    /// shown before in this session: a counter shown at another seq is a
    /// replay, even deep in old history; one out of order with what was
    /// shown around it is marked late.
    ///
    /// Scrolling back, the copy shown first may be the later one: then the
    /// copy at the earlier seq stands, and the page also carries a refusal
    /// of the later one (the app replaces what it showed there).
    fn check_placement(&self, room_id: RoomId, items: &mut Vec<Incoming>) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let Some(order) = seen.get_mut(&room_id) else {
            return;
        };
        let mut later_copies = Vec::new();
        for item in items.iter_mut() {
            let Incoming::Message(r) = item else {
                continue;
            };
            match order.place(r.sender.0, r.stream, r.seq, r.counter) {
                Placement::Fits => {}
                Placement::OutOfOrder => r.late = true,
                Placement::Replay { seen_at } if seen_at > r.seq => {
                    order.relocate(r.sender.0, r.stream, r.counter, r.seq);
                    later_copies.push(Incoming::Rejected {
                        room_id,
                        seq: seen_at,
                        sender: r.sender,
                        reason: format!(
                            "replayed: message {} from {} is shown earlier, at #{}",
                            r.counter, r.sender_name, r.seq
                        ),
                    });
                }
                Placement::Replay { seen_at } => {
                    *item = Incoming::Rejected {
                        room_id,
                        seq: r.seq,
                        sender: r.sender,
                        reason: format!(
                            "replayed: message {} from {} was shown before at #{seen_at}",
                            r.counter, r.sender_name
                        ),
                    }
                }
            }
        }
        items.extend(later_copies);
    }

    /// Every page of history — the first one a chat opens with, older
    /// ones, the CLI's — is checked against what each sender's stream has
    /// delivered, without changing it (sync and live delivery do that):
    /// a message shown as new (above the cursor) whose counter was already
    /// delivered is a replay; one placed among what was delivered (at or
    /// below the cursor) with a counter never delivered was slipped into
    /// old history; the same counter twice in a page is a replay.
    fn flag_replays_in_page(&self, room_id: RoomId, items: &mut [Incoming]) {
        let Some(t) = self.trust(room_id) else {
            return;
        };
        let cursor = self.cursor(room_id);
        let mut seen = std::collections::HashSet::new();
        for item in items.iter_mut() {
            let Incoming::Message(r) = item else {
                continue;
            };
            let stream = t
                .streams
                .iter()
                .find(|s| s.sender == r.sender.0 && s.stream == r.stream);
            let delivered = stream.is_some_and(|s| {
                r.counter <= s.max && s.missing.binary_search(&r.counter).is_err()
            });
            let twice = !seen.insert((r.sender.0, r.stream, r.counter));
            let why = if r.seq > cursor && delivered {
                Some("it was delivered before")
            } else if twice {
                Some("it is shown twice in this page")
            } else if r.seq <= cursor && stream.is_some_and(|s| r.counter > s.max) {
                Some("it was never delivered, yet the box shows it among older messages")
            } else {
                None
            };
            if let Some(why) = why {
                *item = Incoming::Rejected {
                    room_id,
                    seq: r.seq,
                    sender: r.sender,
                    reason: format!(
                        "replayed: message {} from {}: {why}",
                        r.counter, r.sender_name
                    ),
                };
            }
        }
    }

    /// Everything after `after` (all pages), checked as one page.
    pub async fn history_all(&self, room_id: RoomId, after: u64) -> Result<Vec<Incoming>> {
        Ok(gaps_in_page(
            room_id,
            self.pages_after(room_id, after).await?,
        ))
    }

    /// Every page after `after`, without gap notices.
    async fn pages_after(&self, room_id: RoomId, mut after: u64) -> Result<Vec<Incoming>> {
        let mut all = Vec::new();
        loop {
            let (page, more) = self
                .page(room_id, after, onionchat_proto::limits::MAX_HISTORY_PAGE)
                .await?;
            if let Some(last) = page.iter().map(Incoming::seq).max() {
                after = last;
            }
            all.extend(page);
            if !more {
                return Ok(all);
            }
        }
    }

    /// The highest seq this profile has delivered to the app in a room.
    pub fn cursor(&self, room_id: RoomId) -> u64 {
        self.profile()
            .data
            .cursors
            .get(&room_id.to_hex())
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn set_cursor(&self, room_id: RoomId, seq: u64, save: bool) -> Result<()> {
        let mut p = self.profile();
        let e = p.data.cursors.entry(room_id.to_hex()).or_insert(0);
        if seq > *e {
            *e = seq;
        }
        if save { p.save() } else { Ok(()) }
    }

    /// New messages since the last sync (advances the cursor), checked for
    /// replays and gaps in each sender's stream.
    pub async fn sync(&self, room_id: RoomId) -> Result<Vec<Incoming>> {
        let after = self.cursor(room_id);
        let new = self.pages_after(room_id, after).await?;
        let last = new.iter().map(Incoming::seq).max();
        let new = self.in_stream_order(room_id, new);
        if let Some(seq) = last {
            self.set_cursor(room_id, seq, true)?;
        }
        Ok(new)
    }

    /// Check new messages against each sender's stream: refuse replays,
    /// announce what never arrived, mark late arrivals. Records what was
    /// delivered (saved with the cursor).
    pub(crate) fn in_stream_order(&self, room_id: RoomId, items: Vec<Incoming>) -> Vec<Incoming> {
        let mut out = Vec::with_capacity(items.len());
        let mut p = self.profile();
        let me = p.data.user_id.unwrap_or(0);
        let t = p.data.rooms.entry(room_id.to_hex()).or_default();
        // Were we there when the room began? Then every stream starts at 1.
        let from_start = t
            .first()
            .is_some_and(|r| r.body.version == 1 && r.body.member(UserId(me)).is_some());
        let mut tell = Vec::new();
        for item in items {
            let Incoming::Message(mut r) = item else {
                out.push(item);
                continue;
            };
            let (admit, forgot) = t.admit(r.sender.0, r.stream, r.counter, from_start, &r.void);
            if forgot && t.told_forgetting.insert(r.sender.0) {
                tell.push(format!(
                    "{}'s messages skip so many numbers (or come from so many devices) that this device no longer keeps track of every gap: a long-missing message from them that turns up now is refused",
                    r.sender_name
                ));
            }
            match admit {
                Admit::New { missing } => {
                    if missing > 0 {
                        out.push(Incoming::Missing {
                            room_id,
                            sender: r.sender,
                            sender_name: r.sender_name.clone(),
                            count: missing,
                            before: r.seq,
                        });
                    }
                    out.push(Incoming::Message(r));
                }
                Admit::Late => {
                    r.late = true;
                    out.push(Incoming::Message(r));
                }
                Admit::Replay => out.push(Incoming::Rejected {
                    room_id,
                    seq: r.seq,
                    sender: r.sender,
                    reason: format!(
                        "replayed: message {} from {} was delivered before",
                        r.counter, r.sender_name
                    ),
                }),
            }
        }
        drop(p);
        // Admitted ones (new or late) only: a replay's place is not taken.
        self.saw(room_id, &out);
        for what in tell {
            self.untrusted(Some(room_id), what);
        }
        out
    }

    /// Mark a room read up to `seq`.
    pub async fn mark_read(&self, room_id: RoomId, seq: u64) -> Result<()> {
        self.call_empty(
            Method::POST,
            &format!("/v1/rooms/{room_id}/read"),
            Some(&SetReadMarker { seq }),
        )
        .await
    }

    /// Delivery and read state of each member.
    pub async fn markers(&self, room_id: RoomId) -> Result<ReadMarkers> {
        self.call::<(), _>(Method::GET, &format!("/v1/rooms/{room_id}/read"), None)
            .await
    }
}
