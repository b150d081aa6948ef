//! What the client core reports (messages, presence, receipts, membership, connection), as the window shows it.

use super::*;

impl Home {
    pub(super) fn on_event(&mut self, ev: ClientEvent) -> (Task<Message>, Outcome) {
        let mut outcome = Outcome::None;
        let task = match ev {
            ClientEvent::Connection(state) => {
                let was = self.link.clone();
                self.link = match state {
                    ConnectionState::Connecting => match &was {
                        Link::Tor(p, w) => Link::Tor(*p, w.clone()),
                        _ => Link::Connecting,
                    },
                    ConnectionState::Connected => Link::Connected,
                    ConnectionState::Disconnected => Link::Offline,
                };
                if state == ConnectionState::Connected && was != Link::Connected {
                    let resume = match self.interrupted.take() {
                        Some(Transfer::Download(room, file)) => self.save_file(room, file),
                        Some(Transfer::Upload(room, path)) => self.upload(room, path),
                        None => Task::none(),
                    };
                    Task::batch([self.load(), resume])
                } else {
                    Task::none()
                }
            }
            ClientEvent::Message(item) => {
                let room = match &item {
                    Incoming::Message(r) => r.room_id,
                    Incoming::Missing { room_id, .. }
                    | Incoming::Rejected { room_id, .. }
                    | Incoming::BeforeYouJoined { room_id, .. } => *room_id,
                };
                let open = self.current_room() == Some(room);
                let notify = match &item {
                    Incoming::Message(r) if r.sender != self.me => Some((
                        r.sender_name.clone(),
                        match &r.content {
                            MessageContent::Text { text } => text.chars().take(120).collect(),
                            MessageContent::File { name, .. } => format!("sent a file: {name}"),
                            other => other.summary().chars().take(120).collect(),
                        },
                    )),
                    _ => None,
                };
                let me = self.me;
                let t = self.timelines.entry(room).or_default();
                let sender = match &item {
                    Incoming::Message(r) => Some(r.sender),
                    _ => None,
                };
                if t.add(item) {
                    if let Some(s) = sender {
                        t.typing.remove(&s);
                    }
                    // What we wrote from another device is not news to us.
                    if !open && sender.is_some_and(|s| s != me) {
                        t.unread += 1;
                    }
                    if let Some((who, body)) = notify {
                        outcome = Outcome::Notify(who, body);
                    }
                }
                if open {
                    self.mark_read(room)
                } else {
                    Task::none()
                }
            }
            ClientEvent::Typing { room_id, user } => {
                if user != self.me {
                    let until = onionchat_proto::now_ms() + 6_000;
                    self.timelines
                        .entry(room_id)
                        .or_default()
                        .typing
                        .insert(user, until);
                }
                Task::none()
            }
            ClientEvent::Presence { user, online } => {
                if online {
                    self.online.insert(user);
                } else {
                    self.online.remove(&user);
                }
                Task::none()
            }
            ClientEvent::Receipt {
                room_id,
                user,
                delivered_seq,
                read_seq,
            } => {
                let t = self.timelines.entry(room_id).or_default();
                t.delivered.insert(user, delivered_seq);
                t.read.insert(user, read_seq);
                Task::none()
            }
            ClientEvent::File(_) | ClientEvent::FileDeleted { .. } => Task::none(),
            ClientEvent::Room(_) | ClientEvent::FriendRequest(_) => self.load(),
            ClientEvent::RoomLeft(room) => {
                if self.current_room() == Some(room) {
                    self.pane = Pane::Welcome;
                }
                self.note(Ok("You were removed from a group.".into()));
                self.load()
            }
            ClientEvent::KeyChanged {
                user,
                username,
                pinned,
                seen,
            } => {
                self.key_changes.insert(
                    user.0,
                    KeyChange {
                        username,
                        pinned,
                        seen,
                    },
                );
                Task::none()
            }
            ClientEvent::Membership { room_id, text } => {
                self.timelines
                    .entry(room_id)
                    .or_default()
                    .notice(text, false);
                Task::none()
            }
            ClientEvent::Security { room_id, what } => {
                match room_id {
                    Some(r) => self
                        .timelines
                        .entry(r)
                        .or_default()
                        .notice(format!("⚠ Refused: {what}"), true),
                    None => self.note(Err(format!("⚠ Refused: {what}"))),
                }
                Task::none()
            }
        };
        (task, outcome)
    }
}
