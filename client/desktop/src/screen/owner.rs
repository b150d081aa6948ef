//! The owner's view of the box: invites (make, show as QR, revoke), members
//! (and removing one), and the same status the box's own screen shows.

use iced::widget::{button, column, container, qr_code, row, scrollable, text};
use iced::{Element, Fill};
use onionchat_proto::wire::{Invite, NodeStatus, UserInfo};

use crate::{format, style};
use onionchat_client::words;

/// The owner panel's state.
#[derive(Default)]
pub struct Owner {
    /// The box's status, when loaded.
    pub status: Option<NodeStatus>,
    /// Invites, newest first.
    pub invites: Vec<Invite>,
    /// The box's accounts.
    pub members: Vec<UserInfo>,
    /// A member the owner asked to remove, waiting for "yes".
    pub confirm_remove: Option<String>,
    /// The invite just made: its link and QR code.
    pub fresh: Option<(String, qr_code::Data)>,
    /// A request is in flight.
    pub busy: bool,
}

/// Messages of the owner panel.
#[derive(Debug, Clone)]
pub enum Message {
    /// Make a new invite.
    MakeInvite,
    /// Revoke invite `code`.
    Revoke(String),
    /// Ask to remove a member from the box.
    AskRemove(String),
    /// Yes, remove them.
    Remove(String),
    /// No, keep them.
    Keep,
    /// Reload status and invites.
    Refresh,
    /// Copy the new invite's link.
    CopyLink(String),
    /// Close the panel.
    Close,
}

impl Owner {
    /// Show a new invite link as text and QR code.
    pub fn show_invite(&mut self, link: String) {
        self.fresh = qr_code::Data::new(link.as_bytes())
            .ok()
            .map(|qr| (link, qr));
    }

    /// Draw it; `name_of` names the accounts that used invites.
    pub fn view(
        &self,
        name_of: impl Fn(onionchat_proto::wire::UserId) -> String,
    ) -> Element<'_, Message> {
        let mut c = column![text("Your box").size(20)].spacing(12);
        if let Some(s) = &self.status {
            let free = s
                .disk_free_bytes
                .map(format::size)
                .unwrap_or_else(|| "unknown".into());
            c = c.push(
                column![
                    text(format!(
                        "Version {} · running for {}",
                        s.version,
                        words::duration(s.uptime_secs.saturating_mul(1000))
                    )),
                    text(format!(
                        "{}, {} online",
                        words::count(s.users, "member", "members"),
                        s.online_users
                    )),
                    text(format!(
                        "{}, {} ({} today)",
                        words::count(s.rooms, "room", "rooms"),
                        words::count(s.messages_total, "message", "messages"),
                        s.messages_today
                    )),
                    text(format!(
                        "Stored {} · free {}",
                        format::size(s.storage_bytes),
                        free
                    )),
                ]
                .spacing(2),
            );
        }
        let mut people = column![text("Members").size(16)].spacing(4);
        for m in &self.members {
            let mut r = row![
                text(if m.is_owner {
                    format!("{} (owner)", m.username)
                } else {
                    m.username.clone()
                })
                .width(Fill)
            ]
            .spacing(8);
            if !m.is_owner {
                r = r.push(
                    button("Remove from the box")
                        .style(button::secondary)
                        .on_press(Message::AskRemove(m.username.clone())),
                );
            }
            people = people.push(r);
        }
        if let Some(name) = &self.confirm_remove {
            people = people.push(
                container(
                    column![
                        text(format!(
                            "Remove {name} from the box? They can no longer log in or reach it; the groups they are in keep them until a group admin removes them."
                        )),
                        row![
                            button(text(format!("Remove {name}")))
                                .style(button::danger)
                                .on_press(Message::Remove(name.clone())),
                            button("Keep").style(button::secondary).on_press(Message::Keep),
                        ]
                        .spacing(8),
                    ]
                    .spacing(6),
                )
                .padding(10)
                .style(style::panel(style::DANGER)),
            );
        }
        c = c.push(people);
        c = c.push(
            row![
                button("Make an invite")
                    .on_press_maybe((!self.busy).then_some(Message::MakeInvite)),
                button("Refresh")
                    .style(button::secondary)
                    .on_press(Message::Refresh),
            ]
            .spacing(8),
        );
        if let Some((link, qr)) = &self.fresh {
            c = c.push(
                container(
                    column![
                        text("New invite — give it to one person. It works once."),
                        qr_code(qr).cell_size(4),
                        text(link.clone()).size(12).font(iced::Font::MONOSPACE),
                        button("Copy the link").on_press(Message::CopyLink(link.clone())),
                    ]
                    .spacing(8),
                )
                .padding(12)
                .style(style::panel(style::GOOD)),
            );
        }
        let mut list = column![text("Invites").size(16)].spacing(4);
        for inv in &self.invites {
            let state = if inv.revoked {
                "revoked".to_string()
            } else if let Some(u) = inv.used_by {
                let name = self
                    .members
                    .iter()
                    .find(|m| m.user_id == u)
                    .map(|m| m.username.clone())
                    .unwrap_or_else(|| name_of(u));
                format!("used by {name}")
            } else if inv.expires_at <= onionchat_proto::now_ms() {
                "expired".to_string()
            } else {
                let until = format!(
                    "works until {} (in {})",
                    words::local_time(inv.expires_at),
                    words::duration(inv.expires_at.saturating_sub(onionchat_proto::now_ms()))
                );
                if inv.owner {
                    format!("owner invite, {until}")
                } else {
                    until
                }
            };
            let mut r = row![text(format!("{} — {state}", &inv.code)).width(Fill)].spacing(8);
            if !inv.revoked && inv.used_by.is_none() {
                r = r.push(
                    button("Revoke")
                        .style(button::danger)
                        .on_press(Message::Revoke(inv.code.clone())),
                );
            }
            list = list.push(r);
        }
        c = c.push(list);
        c = c.push(
            button("Close")
                .style(button::secondary)
                .on_press(Message::Close),
        );
        scrollable(container(c).padding(16).width(Fill)).into()
    }
}
