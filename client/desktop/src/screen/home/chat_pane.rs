//! The open chat: its messages (composer, paging, saving a file) and how it is drawn with its tools.

use super::*;
use iced::widget::{column, row};

impl Home {
    pub(super) fn on_chat(&mut self, m: chat::Message) -> Task<Message> {
        let Some(room) = self.current_room() else {
            return Task::none();
        };
        match m {
            chat::Message::Edit(action) => {
                let typed = action.is_edit();
                self.composer.perform(action);
                if typed {
                    let c = self.client.clone();
                    return Task::future(async move { c.typing(room).await }).discard();
                }
                Task::none()
            }
            chat::Message::Send => {
                let body = self.composer.text();
                let body = body.trim_end_matches('\n');
                if body.trim().is_empty() || self.sending {
                    return Task::none();
                }
                if let Some(why) = self.blocked(room) {
                    self.note(Err(why));
                    return Task::none();
                }
                let body = body.to_string();
                self.composer = text_editor::Content::new();
                self.sending = true;
                if self.replying.is_some() {
                    return self.send_reply(room, body);
                }
                let c = self.client.clone();
                Task::perform(
                    async move { err(c.send_text(room, &body).await).map(|ack| ack.seq) },
                    move |r| Message::Sent(room, r),
                )
            }
            chat::Message::Newest => {
                if let Some(t) = self.timelines.get_mut(&room) {
                    t.follow_newest();
                }
                Task::none()
            }
            chat::Message::Scrolled {
                near_top: false,
                near_bottom,
            } => match self.timelines.get_mut(&room) {
                Some(t) if near_bottom && t.hides_newer() => {
                    t.slide_newer();
                    keep_place(room)
                }
                _ => Task::none(),
            },
            chat::Message::Scrolled { near_top: true, .. } | chat::Message::LoadOlder => {
                // Older entries already in memory come first; then the node.
                if self
                    .timelines
                    .get_mut(&room)
                    .is_some_and(Timeline::slide_older)
                {
                    return keep_place(room);
                }
                match self
                    .timelines
                    .get(&room)
                    .and_then(Timeline::older_page_after)
                {
                    Some(after) => self.load_history(room, after),
                    None => Task::none(),
                }
            }
            chat::Message::SaveFile(file_id) => self.save_file(room, file_id),
            other => self.on_message_action(room, other),
        }
    }

    /// Add (or remove) the typed names to (from) a group; the core re-keys.
    pub(super) fn change_members(&mut self, room: RoomId, add: bool) -> Task<Message> {
        let names = split_names(&std::mem::take(&mut self.member_names));
        let c = self.client.clone();
        Task::perform(
            async move {
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                if add {
                    err(c.add_members(room, &refs).await)
                } else {
                    err(c.remove_members(room, &refs).await)
                }
            },
            Message::RoomDone,
        )
    }

    pub(super) fn chat_view(&self, room: RoomId) -> Element<'_, Message> {
        let timeline = self.timelines.get(&room).unwrap_or(&self.no_timeline);
        let now = onionchat_proto::now_ms();
        let typing = timeline
            .typing
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(u, _)| self.client.name_of(*u))
            .collect();
        let is_group = self.room(room).is_some_and(|r| r.kind == RoomKind::Group);
        let view = ChatView {
            room,
            title: self.title(room),
            members: self.subtitle(room),
            timeline,
            composer: &self.composer,
            blocked: self.blocked(room),
            me: self.me,
            tz: &self.tz,
            typing,
            sending: self.sending,
            selected: self.selected,
            replying: self.replying.as_ref(),
            my_name: &self.username,
        }
        .view()
        .map(Message::Chat);
        let mut tools = row![
            text_input("Send a file: its path", &self.file_path)
                .id("file-path")
                .on_input(Message::FilePath)
                .on_submit(Message::SendFile),
            button("Send file")
                .on_press_maybe(self.transfer.is_none().then_some(Message::SendFile)),
            button("Choose…")
                .style(button::secondary)
                .on_press_maybe(self.transfer.is_none().then_some(Message::PickFile)),
        ]
        .spacing(8)
        .padding([0, 12]);
        if is_group {
            tools = tools.push(
                button("Members")
                    .style(button::secondary)
                    .on_press(Message::OpenMembers(room)),
            );
        }
        column![view, tools].padding([0, 0]).spacing(4).into()
    }
}
