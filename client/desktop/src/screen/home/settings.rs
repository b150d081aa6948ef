//! The settings page: this profile (export, switch), notifications, the
//! theme, bridges to Tor, and the keyboard shortcuts.

use super::*;
use iced::widget::{checkbox, column, row};

use crate::settings::Settings;

/// The keys the window knows, as the settings page lists them.
pub const SHORTCUTS: [(&str, &str); 5] = [
    ("Enter", "send the message"),
    ("Shift+Enter", "a new line in the message"),
    ("Ctrl+K", "jump to a chat by name"),
    ("Ctrl+F", "search your chats"),
    ("Enter in a field", "does what its button does"),
];

impl Home {
    /// A message of the bridges panel: new bridges reach the running Tor
    /// client at once (no restart; Arti swaps its entrances).
    pub(super) fn bridges_update(&mut self, m: crate::screen::bridges::Message) -> Task<Message> {
        use crate::screen::bridges::Outcome as B;
        match self.bridges.update(m) {
            B::None => Task::none(),
            B::Closed => {
                self.pane = Pane::Welcome;
                Task::none()
            }
            B::Changed(_) => Task::perform(
                session::apply_bridges(self.places.clone()),
                Message::BridgesApplied,
            ),
        }
    }

    pub(super) fn settings_view(&self) -> Element<'_, Message> {
        let mut keys = column![text("Keyboard").size(16)].spacing(4);
        for (key, what) in SHORTCUTS {
            keys = keys.push(row![text(key).width(160), text(what)].spacing(8));
        }
        panel(
            "Settings",
            column![
                text("This profile").size(16),
                text(format!("{} on this computer", self.username)),
                text_input("export to… (a file path)", &self.export_path)
                    .id("export-path")
                    .on_input(Message::ExportPath)
                    .on_submit(Message::Export),
                row![
                    button("Export profile")
                        .style(button::secondary)
                        .on_press(Message::Export),
                    button("Switch profile")
                        .style(button::secondary)
                        .on_press(Message::Lock),
                ]
                .spacing(6),
                text("Notifications").size(16),
                checkbox(self.settings.notifications)
                    .label("Show new messages while the window is in the background")
                    .on_toggle(|on| Message::ChangeSettings(Settings {
                        notifications: on,
                        ..self.settings
                    })),
                text("Look").size(16),
                checkbox(self.settings.dark)
                    .label("Dark theme")
                    .on_toggle(|on| Message::ChangeSettings(Settings {
                        dark: on,
                        ..self.settings
                    })),
                text("Tor").size(16),
                text(self.bridges.in_use()),
                self.bridges.view().map(Message::Bridges),
                keys,
                button("Close")
                    .style(button::secondary)
                    .on_press(Message::CloseSettings),
            ]
            .spacing(8),
        )
    }
}
