//! Sending, receiving, history and markers.

use hyper::Method;
use onionchat_proto::crypto::message;
use onionchat_proto::now_ms;
use onionchat_proto::wire::{
    ErrorCode, History, MessageContent, MsgId, ReadMarkers, RoomId, SendAck, SendMessage,
    SetReadMarker, Signed, StoredMessage,
};

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::events::{Incoming, Received};

impl Client {
    /// Encrypt, sign and send `content` to a room; returns once the node has
    /// durably stored it. Re-keys first if the room's membership changed.
    pub async fn send(&self, room_id: RoomId, content: MessageContent) -> Result<SendAck> {
        let msg_id = MsgId::random();
        let mut last_err = None;
        for _ in 0..3 {
            let room = self.ready_room(room_id).await?;
            let key = self.room_key(room_id, room.epoch).await?;
            let envelope = {
                let p = self.profile();
                message::seal(
                    &p.identity,
                    room_id,
                    room.epoch,
                    &key,
                    msg_id,
                    now_ms(),
                    &content,
                )?
            };
            match self.send_envelope(room_id, envelope).await {
                Ok(ack) => return Ok(ack),
                // The room moved on under us: look again and re-seal.
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

    /// Send a text message.
    pub async fn send_text(&self, room_id: RoomId, text: &str) -> Result<SendAck> {
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
            Ok(r) => Incoming::Message(r),
            Err(e) => Incoming::Rejected {
                room_id: m.room_id,
                seq: m.seq,
                sender: m.sender,
                reason: e.to_string(),
            },
        }
    }

    async fn try_open(&self, m: &StoredMessage) -> Result<Received> {
        let sender_key = self.key_of(m.sender, false).await?;
        let body = message::decode(&m.envelope)?;
        if body.room_id != m.room_id {
            return Err(ClientError::Verify(
                onionchat_proto::crypto::OpenError::WrongRoom {
                    expected: m.room_id,
                    found: body.room_id,
                },
            ));
        }
        let key = self.room_key(m.room_id, body.epoch).await?;
        let (body, content) =
            message::open(&m.envelope, &sender_key, m.room_id, move |_| Some(key))?;
        let sender_name = if m.sender == self.me() {
            self.username()
        } else {
            self.contact(m.sender)
                .map(|c| c.username)
                .unwrap_or_else(|| format!("user {}", m.sender))
        };
        Ok(Received {
            room_id: m.room_id,
            seq: m.seq,
            server_time: m.server_time,
            sender: m.sender,
            sender_name,
            msg_id: body.msg_id,
            sent_at: body.sent_at,
            epoch: body.epoch,
            content,
        })
    }

    /// One page of history after `after`, verified and decrypted.
    pub async fn history(
        &self,
        room_id: RoomId,
        after: u64,
        limit: u32,
    ) -> Result<(Vec<Incoming>, bool)> {
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
        Ok((out, h.has_more))
    }

    /// Everything after `after` (all pages).
    pub async fn history_all(&self, room_id: RoomId, mut after: u64) -> Result<Vec<Incoming>> {
        let mut all = Vec::new();
        loop {
            let (page, more) = self
                .history(room_id, after, onionchat_proto::limits::MAX_HISTORY_PAGE)
                .await?;
            if let Some(last) = page.last() {
                after = match last {
                    Incoming::Message(r) => r.seq,
                    Incoming::Rejected { seq, .. } => *seq,
                };
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

    /// New messages since the last sync (advances the cursor).
    pub async fn sync(&self, room_id: RoomId) -> Result<Vec<Incoming>> {
        let after = self.cursor(room_id);
        let new = self.history_all(room_id, after).await?;
        if let Some(last) = new.last() {
            let seq = match last {
                Incoming::Message(r) => r.seq,
                Incoming::Rejected { seq, .. } => *seq,
            };
            self.set_cursor(room_id, seq, true)?;
        }
        Ok(new)
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
