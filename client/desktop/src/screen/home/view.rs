//! The window: the sidebar beside the pane that is up.

use super::*;
use iced::widget::{column, row};

impl Home {
    /// Draw the window.
    pub fn view(&self) -> Element<'_, Message> {
        let main: Element<'_, Message> = match &self.pane {
            Pane::Welcome => container(
                column![
                    text(format!("Hello, {}.", self.username)).size(24),
                    text("Pick a friend or a group on the left, or add a friend.")
                        .color(style::QUIET),
                    text("Ctrl+K jumps to a chat.").size(12).color(style::QUIET),
                ]
                .spacing(8),
            )
            .center(Fill)
            .into(),
            Pane::Chat(room) => self.chat_view(*room),
            Pane::Verify(v) => v.view().map(Message::Verify),
            Pane::Owner => match &self.owner {
                Some(o) => o.view(|u| self.client.name_of(u)).map(Message::Owner),
                None => text("Loading…").into(),
            },
            Pane::AddFriend => one_field_form(
                "Add a friend",
                "Their name on this box:",
                ("name", "friend-name", &self.friend_name),
                Message::FriendName,
                ("Send friend request", Message::SendRequest),
            ),
            Pane::NewGroup => one_field_form(
                "New group",
                "Friends to add (names, separated by commas):",
                ("bob, carol", "group-names", &self.group_names),
                Message::GroupNames,
                ("Create group", Message::CreateGroup),
            ),
            Pane::Members(room) => {
                let room = *room;
                let mut names = column![].spacing(2);
                for n in self.member_names(room) {
                    names = names.push(text(n));
                }
                panel(
                    "Members",
                    column![
                        names,
                        text_input("names, separated by commas", &self.member_names)
                            .id("member-names")
                            .on_input(Message::MemberNames),
                        row![
                            button("Add").on_press(Message::AddMembers(room)),
                            button("Remove")
                                .style(button::danger)
                                .on_press(Message::RemoveMembers(room)),
                            button("Leave the group")
                                .style(button::secondary)
                                .on_press(Message::Leave(room)),
                            button("Back to the chat")
                                .style(button::text)
                                .on_press(Message::OpenRoom(room)),
                        ]
                        .spacing(8),
                        text("Removing someone gives the group a new key they do not get.")
                            .size(12)
                            .color(style::QUIET),
                        text("Group name").size(14),
                        row![
                            text_input("a name for the group", &self.group_name)
                                .id("group-name")
                                .on_input(Message::GroupName)
                                .on_submit(Message::RenameGroup(room)),
                            button("Rename").on_press(Message::RenameGroup(room)),
                        ]
                        .spacing(8),
                        text("Only admins can rename the group. The box never sees the name.")
                            .size(12)
                            .color(style::QUIET),
                    ]
                    .spacing(8),
                )
            }
            Pane::Settings => self.settings_view(),
            Pane::Search => self.search_view(),
            Pane::Photo(p) => self.photo_view(p),
            Pane::Jump => {
                let mut list = column![].spacing(4);
                for (room, title) in self.jump_matches() {
                    list = list.push(
                        button(text(title))
                            .style(button::text)
                            .on_press(Message::OpenRoom(room)),
                    );
                }
                panel(
                    "Jump to a chat",
                    column![
                        text_input("name", &self.jump)
                            .id("jump")
                            .on_input(Message::JumpQuery)
                            .on_submit(Message::JumpGo),
                        list,
                    ]
                    .spacing(8),
                )
            }
        };
        let mut right = column![].spacing(0);
        if let Some(note) = &self.note {
            let (t, tint) = match note {
                Ok(t) => (t.clone(), style::GOOD),
                Err(t) => (t.clone(), style::DANGER),
            };
            right = right.push(
                container(
                    row![
                        text(t).width(Fill),
                        button("✕").style(button::text).on_press(Message::Dismiss)
                    ]
                    .align_y(Center),
                )
                .padding(8)
                .style(style::panel(tint)),
            );
        }
        if let Some((done, total)) = self.transfer {
            right = right.push(
                column![
                    row![
                        text(format!(
                            "Transferring… {} of {}",
                            crate::format::size(done),
                            crate::format::size(total)
                        ))
                        .width(Fill),
                        button("Cancel")
                            .style(button::secondary)
                            .on_press(Message::CancelTransfer),
                    ]
                    .align_y(Center),
                    iced::widget::progress_bar(0.0..=total.max(1) as f32, done as f32),
                ]
                .padding(8),
            );
        }
        right = right.push(main);
        row![
            container(self.sidebar())
                .width(260)
                .height(Fill)
                .style(style::sidebar),
            container(right).width(Fill).height(Fill),
        ]
        .into()
    }
}
