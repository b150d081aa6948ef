//! What people do beyond writing: reply, react, delete (for everyone, for
//! me), open a photo in the viewer, name a group, search — the home
//! screen's side of them (state changes and client-core calls).

use super::*;
use iced::widget::{column, image, row};

/// Longest side a photo is shown at in the viewer (a 48-megapixel photo
/// is shrunk to this once, not held at full size).
const VIEWER_SIDE: u32 = 1600;

/// A photo open in the viewer.
#[derive(Debug, Clone)]
pub struct Photo {
    /// The chat it is in.
    pub room: RoomId,
    /// Its file.
    pub file_id: FileId,
    /// Its name.
    pub name: String,
    /// Its size in pixels.
    pub size: (u32, u32),
    /// The picture, shrunk to fit the viewer.
    pub handle: image::Handle,
}

impl Home {
    /// A message of the chat view about one message.
    pub(super) fn on_message_action(&mut self, room: RoomId, m: chat::Message) -> Task<Message> {
        let entry = |home: &Home, seq: u64| -> Option<(MsgId, UserId, String, MessageContent)> {
            match home.timelines.get(&room)?.message(seq)? {
                chat::Entry::Message {
                    msg_id,
                    sender,
                    sender_name,
                    content,
                    ..
                } => Some((*msg_id, *sender, sender_name.clone(), content.clone())),
                chat::Entry::Notice { .. } => None,
            }
        };
        match m {
            chat::Message::Select(seq) => {
                self.selected = if self.selected == Some(seq) {
                    None
                } else {
                    Some(seq)
                };
                Task::none()
            }
            chat::Message::Reply(seq) => {
                self.selected = None;
                if let Some((msg_id, _, sender_name, content)) = entry(self, seq) {
                    self.replying = Some(chat::Replying {
                        seq,
                        msg_id,
                        sender_name,
                        excerpt: onionchat_proto::wire::excerpt_of(&content.summary()),
                    });
                }
                iced::widget::operation::focus("composer")
            }
            chat::Message::CancelReply => {
                self.replying = None;
                Task::none()
            }
            chat::Message::React(seq, emoji) => {
                self.selected = None;
                let Some((msg_id, ..)) = entry(self, seq) else {
                    return Task::none();
                };
                let ours = self
                    .timelines
                    .get(&room)
                    .is_some_and(|t| t.reacted(seq, &self.username, &emoji));
                let c = self.client.clone();
                Task::perform(
                    async move {
                        err(c.react_to(room, msg_id, &emoji, !ours).await).map(|_| String::new())
                    },
                    Message::Acted,
                )
            }
            chat::Message::DeleteForMe(seq) => {
                self.selected = None;
                let Some((msg_id, ..)) = entry(self, seq) else {
                    return Task::none();
                };
                match err(self.client.delete_for_me(room, msg_id)) {
                    Ok(()) => {
                        if let Some(t) = self.timelines.get_mut(&room) {
                            t.hide(seq);
                        }
                        Task::none()
                    }
                    Err(e) => {
                        self.note(Err(e));
                        Task::none()
                    }
                }
            }
            chat::Message::DeleteForEveryone(seq) => {
                self.selected = None;
                let c = self.client.clone();
                Task::perform(
                    async move {
                        // The chat shows it: no note to dismiss.
                        err(c.delete_for_everyone(room, seq).await).map(|_| String::new())
                    },
                    Message::Acted,
                )
            }
            chat::Message::OpenPhoto(seq) => {
                let Some((
                    _,
                    _,
                    _,
                    MessageContent::File {
                        file_id,
                        name,
                        sha256,
                        ..
                    },
                )) = entry(self, seq)
                else {
                    return Task::none();
                };
                let c = self.client.clone();
                Task::perform(
                    async move { load_photo(c, room, file_id, name, sha256).await },
                    Message::PhotoReady,
                )
            }
            _ => Task::none(),
        }
    }

    /// Send what the composer holds as a reply to the message being answered.
    pub(super) fn send_reply(&mut self, room: RoomId, body: String) -> Task<Message> {
        let Some(to) = self.replying.take() else {
            return Task::none();
        };
        let c = self.client.clone();
        Task::perform(
            async move { err(c.reply_to(room, to.msg_id, &to.excerpt, &body).await).map(|ack| ack.seq) },
            move |r| Message::Sent(room, r),
        )
    }

    /// The search pane: what is typed is looked up here at once; Enter
    /// (or opening it) also fetches what the index has not seen yet.
    pub(super) fn search_update(&mut self, m: Message) -> Task<Message> {
        let rooms: Vec<RoomId> = self.overview.rooms.iter().map(|r| r.id).collect();
        match m {
            Message::OpenSearch => {
                self.pane = Pane::Search;
                Task::batch([
                    iced::widget::operation::focus("search"),
                    self.search_task(rooms),
                ])
            }
            Message::SearchQuery(q) => {
                self.search = q;
                if self.search.trim().is_empty() {
                    self.found.clear();
                } else {
                    match err(self.client.search_local(&rooms, &self.search, 200)) {
                        Ok(f) => self.found = f,
                        Err(e) => self.note(Err(e)),
                    }
                }
                Task::none()
            }
            Message::SearchGo => self.search_task(rooms),
            Message::SearchFound(Ok(f)) => {
                if !self.search.trim().is_empty() {
                    self.found = f;
                }
                Task::none()
            }
            Message::SearchFound(Err(e)) => {
                self.note(Err(e));
                Task::none()
            }
            _ => Task::none(),
        }
    }

    fn search_task(&self, rooms: Vec<RoomId>) -> Task<Message> {
        let q = self.search.trim().to_string();
        let c = self.client.clone();
        if q.is_empty() {
            // Catch the index up, so typing finds everything.
            return Task::future(async move {
                if let Err(e) = c.refresh_search_index(&rooms).await {
                    tracing::debug!("search index catch-up: {e}");
                }
            })
            .discard();
        }
        Task::perform(
            async move { err(c.search(&rooms, &q, 200).await) },
            Message::SearchFound,
        )
    }

    /// Rename a group to what is typed in its members pane.
    pub(super) fn rename(&mut self, room: RoomId) -> Task<Message> {
        let name = self.group_name.trim().to_string();
        let c = self.client.clone();
        Task::perform(
            async move {
                err(c.rename_group(room, &name).await)
                    .map(|_| format!("The group is now called “{name}”."))
            },
            Message::Acted,
        )
    }

    /// The search pane.
    pub(super) fn search_view(&self) -> Element<'_, Message> {
        let mut list = column![].spacing(6);
        for f in &self.found {
            list = list.push(
                button(
                    column![
                        text(format!(
                            "{} · {} · {}",
                            self.title(f.room_id),
                            f.sender_name,
                            crate::format::clock(f.sent_at, &self.tz)
                        ))
                        .size(12)
                        .color(style::QUIET),
                        text(f.text.clone()),
                    ]
                    .spacing(2),
                )
                .style(button::text)
                .on_press(Message::OpenRoom(f.room_id)),
            );
        }
        if self.found.is_empty() && !self.search.trim().is_empty() {
            list = list.push(text("Nothing found.").color(style::QUIET));
        }
        panel(
            "Search your chats",
            column![
                text_input("words to find", &self.search)
                    .id("search")
                    .on_input(Message::SearchQuery)
                    .on_submit(Message::SearchGo),
                text("Searched on this computer: the box cannot read your messages.")
                    .size(12)
                    .color(style::QUIET),
                scrollable(list).height(Fill),
            ]
            .spacing(8),
        )
    }

    /// The photo viewer.
    pub(super) fn photo_view<'a>(&'a self, p: &'a Photo) -> Element<'a, Message> {
        column![
            row![
                text(format!("{} — {} × {}", p.name, p.size.0, p.size.1))
                    .size(16)
                    .width(Fill),
                button("Save").on_press(Message::SavePhoto),
                button("Back to the chat")
                    .style(button::secondary)
                    .on_press(Message::OpenRoom(p.room)),
            ]
            .spacing(8)
            .align_y(Center),
            container(image(p.handle.clone()).content_fit(iced::ContentFit::Contain)).center(Fill),
        ]
        .spacing(8)
        .padding(12)
        .into()
    }
}

/// Fetch a photo, check it, decode it (bounded) and shrink it for the
/// viewer. The decrypted file lives in a private temporary file only
/// while it is read.
async fn load_photo(
    c: Arc<Client>,
    room: RoomId,
    file_id: FileId,
    name: String,
    sha256: Vec<u8>,
) -> Result<Box<Photo>, String> {
    let dir = std::env::temp_dir().join(format!("onionchat-photo-{}", FileId::random()));
    onionchat_fs::private_dir(&dir).map_err(|e| format!("Cannot open the photo: {e}"))?;
    let path = dir.join("photo");
    let got = c
        .download_file(file_id, &path, Some(&sha256), Box::new(|_, _| true))
        .await;
    let bytes = got
        .map_err(|e| onionchat_client::words::explain(&e))
        .and_then(|_| std::fs::read(&path).map_err(|e| format!("Cannot read the photo: {e}")));
    let _ = std::fs::remove_dir_all(&dir);
    let bytes = bytes?;
    tokio::task::spawn_blocking(move || {
        let img = onionchat_client::picture::decode(&bytes)
            .map_err(|e| format!("This photo cannot be shown: {e}"))?;
        let size = (img.width(), img.height());
        let img = if size.0 > VIEWER_SIDE || size.1 > VIEWER_SIDE {
            img.thumbnail(VIEWER_SIDE, VIEWER_SIDE)
        } else {
            img
        };
        let rgba = img.to_rgba8();
        Ok(Box::new(Photo {
            room,
            file_id,
            name,
            size,
            handle: image::Handle::from_rgba(rgba.width(), rgba.height(), rgba.into_raw()),
        }))
    })
    .await
    .map_err(|e| e.to_string())?
}
