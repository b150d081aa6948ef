//! The sidebar: connection, the box, requests, friends and groups, the jump box.

use super::*;
use iced::widget::{column, row};

impl Home {
    /// Rooms whose title contains the jump box's text.
    pub(super) fn jump_matches(&self) -> Vec<(RoomId, String)> {
        let q = self.jump.trim().to_lowercase();
        self.overview
            .rooms
            .iter()
            .map(|r| (r.id, self.title(r.id)))
            .filter(|(_, t)| t.to_lowercase().contains(&q))
            .collect()
    }

    pub(super) fn sidebar(&self) -> Element<'_, Message> {
        let (label, tint) = match &self.link {
            Link::Tor(p, _) => (format!("Starting Tor… {p}%"), style::PENDING),
            Link::Connecting => ("Connecting to your box…".to_string(), style::PENDING),
            Link::Connected => ("● Connected".to_string(), style::GOOD),
            Link::Offline => ("Offline — retrying".to_string(), style::DANGER),
        };
        let mut status = row![text(label).color(tint).width(Fill)].align_y(Center);
        if self.link == Link::Offline {
            status = status.push(
                button("Retry")
                    .style(button::secondary)
                    .on_press(Message::Retry),
            );
        }
        let mut c = column![
            text(if self.username == self.profile {
                self.username.clone()
            } else {
                format!("{} (profile {})", self.username, self.profile)
            })
            .size(16),
            status,
        ]
        .spacing(6)
        .padding(10);
        if let Link::Tor(p, what) = &self.link {
            c = c.push(iced::widget::progress_bar(0.0..=100.0, f32::from(*p)));
            c = c.push(text(what.clone()).size(11).color(style::QUIET));
            c = c.push(
                button("Tor is blocked here?")
                    .style(button::secondary)
                    .on_press(Message::OpenSettings),
            );
        }
        if self.owner.is_some() {
            c = c.push(
                button("Your box")
                    .style(button::secondary)
                    .width(Fill)
                    .on_press(Message::OpenOwner),
            );
        }
        if !self.overview.incoming.is_empty() {
            c = c.push(text("Friend requests").size(14));
            for r in &self.overview.incoming {
                c = c.push(
                    column![
                        text(format!("{} wants to be friends", r.from.username)),
                        row![
                            button("Accept").on_press(Message::Accept(Box::new(r.clone()))),
                            button("Decline")
                                .style(button::secondary)
                                .on_press(Message::Decline(r.id)),
                        ]
                        .spacing(6),
                    ]
                    .spacing(4),
                );
            }
        }
        for r in &self.overview.outgoing {
            c = c.push(
                text(format!("Waiting for {} to accept", r.to.username))
                    .size(12)
                    .color(style::QUIET),
            );
        }
        c = c.push(text("Friends").size(14));
        if self.loaded && self.overview.friends.is_empty() {
            c = c.push(text("No friends yet.").size(12).color(style::QUIET));
        }
        for (f, key_ok) in &self.overview.friends {
            let id = f.user.user_id;
            let online = self.online.contains(&id);
            let verified = self.client.contact(id).is_some_and(|c| c.verified);
            let changed = !key_ok || self.key_changes.contains_key(&id.0);
            let unread = self
                .timelines
                .get(&f.room_id)
                .map(|t| t.unread)
                .unwrap_or(0);
            let mut name = String::new();
            name.push_str(if online { "● " } else { "○ " });
            name.push_str(&f.user.username);
            if verified {
                name.push_str(" ✔");
            }
            if unread > 0 {
                name.push_str(&format!(" ({unread})"));
            }
            let mut r = row![
                button(text(name))
                    .style(if self.current_room() == Some(f.room_id) {
                        button::primary
                    } else {
                        button::text
                    })
                    .width(Fill)
                    .on_press(Message::OpenRoom(f.room_id)),
            ]
            .align_y(Center);
            r = r.push(
                button(text(if changed { "⚠ Verify" } else { "Verify" }).size(12))
                    .style(if changed {
                        button::danger
                    } else {
                        button::text
                    })
                    .on_press(Message::OpenVerify(f.user.username.clone())),
            );
            c = c.push(r);
        }
        c = c.push(text("Groups").size(14));
        for r in self
            .overview
            .rooms
            .iter()
            .filter(|r| r.kind == RoomKind::Group)
        {
            let unread = self.timelines.get(&r.id).map(|t| t.unread).unwrap_or(0);
            let mut title = self.title(r.id);
            if unread > 0 {
                title.push_str(&format!(" ({unread})"));
            }
            c = c.push(
                button(text(title))
                    .style(if self.current_room() == Some(r.id) {
                        button::primary
                    } else {
                        button::text
                    })
                    .width(Fill)
                    .on_press(Message::OpenRoom(r.id)),
            );
        }
        c = c.push(
            row![
                button("Add a friend")
                    .style(button::secondary)
                    .on_press(Message::OpenAddFriend),
                button("New group")
                    .style(button::secondary)
                    .on_press(Message::OpenNewGroup),
            ]
            .spacing(6),
        );
        c = c.push(
            row![
                button("Search")
                    .style(button::secondary)
                    .on_press(Message::OpenSearch),
                button("Settings")
                    .style(button::secondary)
                    .on_press(Message::OpenSettings),
            ]
            .spacing(6),
        );
        scrollable(c).into()
    }
}
