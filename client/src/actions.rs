//! What members do to messages and groups beyond writing: replies,
//! reactions, delete (for everyone and for me), group names, search.
//!
//! Each is a signed, encrypted message in its sender's stream (so a node
//! that withholds one leaves a gap the others see, and one it replays is
//! refused like any replayed message). Delete for everyone also has a part
//! the node acts on: the author's signed erase request, which the node
//! checks and keeps in the message's place (docs/protocol.md §5.1).

use hyper::Method;
use onionchat_proto::crypto::{PublicIdentity, erase, message};
use onionchat_proto::now_ms;
use onionchat_proto::wire::{
    EraseMessage, MessageBody, MessageContent, MsgId, RoomId, RoomKind, SendAck, StoredMessage,
    excerpt_of,
};

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::events::{Deletion, Incoming, Received};
use crate::trust::{GroupName, MAX_ERASED_REMEMBERED};

impl Client {
    /// The verified message at `seq` of a room (what replies, reactions
    /// and deletes name). Refused if it does not verify, or is deleted.
    pub async fn message_at(&self, room_id: RoomId, seq: u64) -> Result<Received> {
        if seq == 0 {
            return Err(ClientError::Input("messages are numbered from 1".into()));
        }
        let (items, _) = self.history(room_id, seq - 1, 1).await?;
        for item in items {
            match item {
                Incoming::Message(r) if r.seq == seq => {
                    if r.deleted.is_some() {
                        return Err(ClientError::Input(format!("message {seq} was deleted")));
                    }
                    return Ok(r);
                }
                Incoming::Rejected { seq: s, reason, .. } if s == seq => {
                    return Err(ClientError::Untrusted(format!(
                        "message {seq} failed verification: {reason}"
                    )));
                }
                _ => {}
            }
        }
        Err(ClientError::Input(format!(
            "there is no message {seq} in this room"
        )))
    }

    /// Answer the message at `seq` with `text`, quoting a short excerpt.
    pub async fn reply(&self, room_id: RoomId, seq: u64, text: &str) -> Result<SendAck> {
        if text.trim().is_empty() {
            return Err(ClientError::Input(
                "there is nothing to send: the reply is empty".into(),
            ));
        }
        let to = self.message_at(room_id, seq).await?;
        self.reply_to(room_id, to.msg_id, &to.content.summary(), text)
            .await
    }

    /// Answer a message the caller already holds (the app's timeline):
    /// its id and what it says (cut to an excerpt here).
    pub async fn reply_to(
        &self,
        room_id: RoomId,
        to: MsgId,
        says: &str,
        text: &str,
    ) -> Result<SendAck> {
        if text.trim().is_empty() {
            return Err(ClientError::Input(
                "there is nothing to send: the reply is empty".into(),
            ));
        }
        let content = MessageContent::Reply {
            to,
            excerpt: excerpt_of(says),
            text: text.into(),
        };
        self.send(room_id, content).await
    }

    /// Add (`on`) or take back an emoji reaction to the message at `seq`.
    pub async fn react(&self, room_id: RoomId, seq: u64, emoji: &str, on: bool) -> Result<SendAck> {
        let to = self.message_at(room_id, seq).await?;
        self.react_to(room_id, to.msg_id, emoji, on).await
    }

    /// [`Client::react`] by message id.
    pub async fn react_to(
        &self,
        room_id: RoomId,
        to: MsgId,
        emoji: &str,
        on: bool,
    ) -> Result<SendAck> {
        let emoji = emoji.trim();
        let content = MessageContent::Reaction {
            to,
            emoji: emoji.into(),
            on,
        };
        content.check().map_err(ClientError::Input)?;
        self.send(room_id, content).await
    }

    /// Delete one of our messages for everyone: the node erases it (its
    /// ciphertext, and its file if it was one) and the others are told in
    /// a signed message of ours. Returns the ack of that message.
    pub async fn delete_for_everyone(&self, room_id: RoomId, seq: u64) -> Result<SendAck> {
        let stored = self.stored_at(room_id, seq).await?;
        if stored.sender != self.me() {
            return Err(ClientError::Input(
                "only your own messages can be deleted for everyone; \"delete for me\" hides others' messages"
                    .into(),
            ));
        }
        if stored.erased {
            return Err(ClientError::Input(format!(
                "message {seq} is already deleted"
            )));
        }
        let mine = self.profile().identity.public().clone();
        let body = message::verify(&stored.envelope, &mine, room_id)?;
        // What it was, to find its file (it is ours: it opens).
        let opened = self.open_stored(&stored).await;
        let request = {
            let p = self.profile();
            erase::sign(&p.identity, &body, seq, now_ms())?
        };
        // Erase first, then tell: a member never sees our "deleted" before
        // the node has dropped the message.
        self.call_empty(
            Method::POST,
            &format!("/v1/rooms/{room_id}/erase"),
            Some(&EraseMessage { erase: request }),
        )
        .await?;
        if let Incoming::Message(Received {
            content: MessageContent::File { file_id, .. },
            ..
        }) = opened
        {
            match self.delete_file(file_id).await {
                Ok(()) => {}
                // Already gone (pruned, deleted before): nothing to do.
                Err(e) if e.code() == Some(onionchat_proto::wire::ErrorCode::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        self.remember_erased(room_id, body.msg_id, self.me().0)?;
        self.send(room_id, MessageContent::Delete { to: body.msg_id })
            .await
    }

    /// Hide a message on this profile only (it stays for the others).
    pub fn delete_for_me(&self, room_id: RoomId, msg_id: MsgId) -> Result<()> {
        let mut p = self.profile();
        p.data
            .rooms
            .entry(room_id.to_hex())
            .or_default()
            .hidden
            .insert(msg_id.0);
        p.save()
    }

    /// Name a group (admins only; the node never sees the name).
    pub async fn rename_group(&self, room_id: RoomId, name: &str) -> Result<SendAck> {
        let name = name.trim();
        let content = MessageContent::Rename { name: name.into() };
        content.check().map_err(ClientError::Input)?;
        let room = self.room(room_id).await?;
        if room.kind != RoomKind::Group {
            return Err(ClientError::Input(
                "a chat between two friends has no name to change".into(),
            ));
        }
        let admin = self
            .verified_roster(room_id)
            .is_some_and(|r| r.body.admins.contains(&self.me()));
        if !admin {
            return Err(ClientError::Input(
                "only an admin of the group can rename it".into(),
            ));
        }
        let ack = self.send(room_id, content).await?;
        // Ours: known now, not only once it comes back from the box.
        let me = self.me().0;
        let mut p = self.profile();
        let t = p.data.rooms.entry(room_id.to_hex()).or_default();
        if t.name.as_ref().is_none_or(|n| n.seq < ack.seq) {
            t.name = Some(GroupName {
                name: name.into(),
                by: me,
                seq: ack.seq,
            });
            p.save()?;
        }
        Ok(ack)
    }

    /// The group's name, as its admins last set it (verified), if any.
    pub fn group_name(&self, room_id: RoomId) -> Option<String> {
        // Without copying the room's whole trust record: the app asks on
        // every frame.
        self.profile()
            .data
            .rooms
            .get(&room_id.to_hex())?
            .name
            .as_ref()
            .map(|n| n.name.clone())
    }

    /// The node's record at `seq` (unverified: the caller checks it).
    async fn stored_at(&self, room_id: RoomId, seq: u64) -> Result<StoredMessage> {
        if seq == 0 {
            return Err(ClientError::Input("messages are numbered from 1".into()));
        }
        let h: onionchat_proto::wire::History = self
            .call::<(), _>(
                Method::GET,
                &format!("/v1/rooms/{room_id}/messages?after={}&limit=1", seq - 1),
                None,
            )
            .await?;
        h.messages
            .into_iter()
            .find(|m| m.seq == seq)
            .ok_or_else(|| ClientError::Input(format!("there is no message {seq} in this room")))
    }

    fn remember_erased(&self, room_id: RoomId, msg_id: MsgId, author: u64) -> Result<()> {
        let mut p = self.profile();
        let t = p.data.rooms.entry(room_id.to_hex()).or_default();
        if t.erased.insert((msg_id.0, author)) {
            while t.erased.len() > MAX_ERASED_REMEMBERED {
                // Ids are random: dropping the smallest forgets an
                // arbitrary one, which is all the bound needs.
                t.erased.pop_first();
            }
            p.save()?;
        }
        Ok(())
    }

    /// A message its author erased: their signed erase request stands in
    /// its place. Verified like a message (the author's key, as the
    /// roster names it); it accounts for the erased message's counter.
    pub(crate) fn open_erased(
        &self,
        m: &StoredMessage,
        author: &PublicIdentity,
    ) -> Result<Received> {
        let e = erase::verify(&m.envelope, author, m.room_id)?;
        if e.seq != m.seq {
            return Err(self.untrusted(
                Some(m.room_id),
                format!(
                    "the box shows {}'s deletion of message {} in the place of message {}",
                    self.name_of(m.sender),
                    e.seq,
                    m.seq
                ),
            ));
        }
        self.remember_erased(m.room_id, e.msg_id, m.sender.0)?;
        Ok(Received {
            room_id: m.room_id,
            seq: m.seq,
            server_time: m.server_time,
            sender: m.sender,
            sender_name: self.name_of(m.sender),
            msg_id: e.msg_id,
            sent_at: e.erased_at,
            epoch: 0,
            stream: e.stream,
            counter: e.counter,
            void: Vec::new(),
            late: false,
            content: MessageContent::Delete { to: e.msg_id },
            deleted: Some(Deletion::ByAuthor),
        })
    }

    /// What a verified, decrypted message does to the room's state, and
    /// what of it is shown: a message its author deleted that the node
    /// serves again is refused; one we hid shows as deleted; a deletion is
    /// remembered; a rename counts only from an admin.
    pub(crate) fn after_open(
        &self,
        m: &StoredMessage,
        body: &MessageBody,
        content: MessageContent,
    ) -> Result<(MessageContent, Option<Deletion>)> {
        // Every opened message passes here: look at the room's record in
        // place, not through a copy of it (rosters and all).
        let reply_to = match &content {
            MessageContent::Reply { to, .. } => Some(*to),
            _ => None,
        };
        let (served_again, hidden, reply_erased, rename_by_admin, name_is_older) = {
            let p = self.profile();
            let t = p.data.rooms.get(&m.room_id.to_hex());
            let erased = |id: &MsgId| {
                t.is_some_and(|t| {
                    t.erased
                        .range((id.0, 0)..=(id.0, u64::MAX))
                        .next()
                        .is_some()
                })
            };
            let admin = matches!(content, MessageContent::Rename { .. })
                && t.and_then(|t| {
                    t.rosters
                        .get((body.roster.version as usize).wrapping_sub(1))
                })
                .and_then(|s| onionchat_proto::crypto::roster::decode_roster(s).ok())
                .is_some_and(|r| r.kind == RoomKind::Group && r.admins.contains(&m.sender));
            (
                t.is_some_and(|t| t.erased.contains(&(body.msg_id.0, m.sender.0))),
                t.is_some_and(|t| t.hidden.contains(&body.msg_id.0)),
                reply_to.as_ref().is_some_and(erased),
                admin,
                t.and_then(|t| t.name.as_ref())
                    .is_none_or(|n| n.seq < m.seq),
            )
        };
        if served_again {
            return Err(self.untrusted(
                Some(m.room_id),
                format!(
                    "{} deleted a message for everyone, and the box served it again (message {}): it stays hidden",
                    self.name_of(m.sender),
                    m.seq
                ),
            ));
        }
        if hidden {
            return Ok((
                MessageContent::Delete { to: body.msg_id },
                Some(Deletion::ForMe),
            ));
        }
        // A reply keeps no excerpt of a message its author took back.
        if reply_erased && let MessageContent::Reply { to, text, .. } = &content {
            let content = MessageContent::Reply {
                to: *to,
                excerpt: String::new(),
                text: text.clone(),
            };
            return Ok((content, None));
        }
        match &content {
            MessageContent::Delete { to } => {
                self.remember_erased(m.room_id, *to, m.sender.0)?;
            }
            MessageContent::Rename { .. } if !rename_by_admin => {
                return Err(self.untrusted(
                    Some(m.room_id),
                    format!(
                        "{} is not an admin of this group: their rename is refused",
                        self.name_of(m.sender)
                    ),
                ));
            }
            MessageContent::Rename { name } if name_is_older => {
                let mut p = self.profile();
                p.data.rooms.entry(m.room_id.to_hex()).or_default().name = Some(GroupName {
                    name: name.clone(),
                    by: m.sender.0,
                    seq: m.seq,
                });
                p.save()?;
            }
            _ => {}
        }
        Ok((content, None))
    }
}
