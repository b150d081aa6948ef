//! The owner's view of the box: invites (make, show as QR, revoke), members,
//! and the same status the box's own screen shows.

use iced::widget::{button, column, container, qr_code, row, scrollable, text};
use iced::{Element, Fill};
use onionchat_proto::wire::{Invite, NodeStatus};

use crate::{format, style};

/// The owner panel's state.
#[derive(Default)]
pub struct Owner {
    /// The box's status, when loaded.
    pub status: Option<NodeStatus>,
    /// Invites, newest first.
    pub invites: Vec<Invite>,
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
    /// Reload status and invites.
    Refresh,
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
                        "Version {} · up {} h",
                        s.version,
                        s.uptime_secs / 3600
                    )),
                    text(format!("{} members, {} online", s.users, s.online_users)),
                    text(format!(
                        "{} rooms, {} messages ({} today)",
                        s.rooms, s.messages_total, s.messages_today
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
                format!("used by {}", name_of(u))
            } else if inv.owner {
                "owner invite".to_string()
            } else {
                "open".to_string()
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
