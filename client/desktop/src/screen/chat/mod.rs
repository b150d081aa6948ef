//! The chat view: one room's [`timeline`] drawn, with its composer, and
//! what can be done to a message ([`bubble`]: reply, react, delete, open
//! a photo).

use iced::widget::{Column, button, column, container, row, scrollable, text, text_editor};
use iced::{Element, Fill};
use jiff::tz::TimeZone;
use onionchat_proto::wire::{FileId, RoomId, UserId};

use crate::{format, style};

mod bubble;
mod timeline;

pub use timeline::{BEFORE_YOU_JOINED, Entry, Timeline};

/// How many messages a history page asks for.
pub const PAGE: u32 = 50;

/// How many entries the chat view draws at most. iced rebuilds the view
/// after every update (a new message, a scroll event), so what it draws
/// must not grow with the history: the view is a window on the timeline
/// that slides as the user scrolls, and the rest stays in memory as data.
pub const WINDOW: usize = 200;

/// How far the window slides per step: half of it, so the line the reader
/// was at lands in the middle of what is drawn.
pub(crate) const SLIDE: usize = WINDOW / 2;

/// How far the sender's signed time may be from the box's before the box's
/// is shown beside it.
pub(crate) const CLOCK_SLACK_MS: u64 = 5 * 60 * 1000;

/// Messages of the chat view.
#[derive(Debug, Clone)]
pub enum Message {
    /// The composer was edited.
    Edit(text_editor::Action),
    /// Enter in the composer, or the Send button.
    Send,
    /// Load the previous page.
    LoadOlder,
    /// The timeline scrolled.
    Scrolled {
        /// Within a few lines of the top.
        near_top: bool,
        /// Within a few lines of the bottom.
        near_bottom: bool,
    },
    /// Jump back to the newest messages.
    Newest,
    /// Save a received file.
    SaveFile(FileId),
    /// Click on a message: show (or hide) what can be done to it.
    Select(u64),
    /// Answer the message at this seq.
    Reply(u64),
    /// Stop answering.
    CancelReply,
    /// Add (or, if ours is there, take back) a reaction.
    React(u64, String),
    /// Hide the message here only.
    DeleteForMe(u64),
    /// Take our message back for everyone.
    DeleteForEveryone(u64),
    /// Open the photo of the message at this seq in the viewer.
    OpenPhoto(u64),
}

/// The message being answered, above the composer.
#[derive(Debug, Clone, PartialEq)]
pub struct Replying {
    /// Its seq.
    pub seq: u64,
    /// Its id.
    pub msg_id: onionchat_proto::wire::MsgId,
    /// Its sender's name.
    pub sender_name: String,
    /// What it says, short.
    pub excerpt: String,
}

/// Everything the chat view needs to draw one room.
pub struct ChatView<'a> {
    /// The room.
    pub room: RoomId,
    /// Its title.
    pub title: String,
    /// Who is in it (verified roster), for the header.
    pub members: String,
    /// The timeline.
    pub timeline: &'a Timeline,
    /// The composer.
    pub composer: &'a text_editor::Content,
    /// Why sending is blocked (a changed key), if it is.
    pub blocked: Option<String>,
    /// Our account.
    pub me: UserId,
    /// Local time zone.
    pub tz: &'a TimeZone,
    /// Names of people typing.
    pub typing: Vec<String>,
    /// A send is in flight.
    pub sending: bool,
    /// The message whose actions are shown.
    pub selected: Option<u64>,
    /// The message being answered.
    pub replying: Option<&'a Replying>,
    /// Our name (to tell our reactions).
    pub my_name: &'a str,
}

impl<'a> ChatView<'a> {
    /// Draw the chat.
    pub fn view(self) -> Element<'a, Message> {
        let today = jiff::Zoned::now().with_time_zone(self.tz.clone()).date();
        let mut lines: Column<'a, Message> = Column::new().spacing(6).padding([8, 16]);
        if self.timeline.hides_older() || self.timeline.older_page_after().is_some() {
            lines = lines.push(
                button(text(if self.timeline.loading {
                    "Loading…"
                } else {
                    "Load older messages"
                }))
                .style(button::text)
                .on_press_maybe((!self.timeline.loading).then_some(Message::LoadOlder)),
            );
        }
        let mut last_day = None;
        for (key, entry) in self.timeline.visible() {
            match entry {
                Entry::Message { time, .. } => {
                    let day = format::day_of(*time, self.tz);
                    if last_day != Some(day) {
                        last_day = Some(day);
                        lines = lines.push(
                            container(
                                text(format::day_label(day, today))
                                    .size(13)
                                    .color(style::QUIET),
                            )
                            .center_x(Fill),
                        );
                    }
                    lines = lines.push(self.bubble(key.0, entry, today));
                }
                Entry::Notice { text: t, warning } => {
                    let color = if *warning {
                        style::DANGER
                    } else {
                        style::QUIET
                    };
                    lines =
                        lines.push(container(text(t.clone()).size(13).color(color)).center_x(Fill));
                }
            }
        }
        if self.timeline.loaded && self.timeline.is_empty() {
            lines = lines.push(
                container(text("No messages yet. Say hello!").color(style::QUIET)).center_x(Fill),
            );
        }
        let history = scrollable(lines)
            .id(format!("timeline-{}", self.room))
            .anchor_bottom()
            .on_scroll(|v| {
                // Anchored to the bottom: the offset counts up from there.
                let room = (v.content_bounds().height - v.bounds().height).max(0.0);
                let from_bottom = v.absolute_offset().y;
                Message::Scrolled {
                    near_top: room - from_bottom < 48.0,
                    near_bottom: from_bottom < 48.0,
                }
            })
            .height(Fill)
            .width(Fill);

        let typing = if self.typing.is_empty() {
            text("")
        } else {
            text(format!("{} typing…", self.typing.join(", ")))
                .size(12)
                .color(style::QUIET)
        };
        let replying = self.replying.map(|r| {
            container(
                row![
                    text(format!("Replying to {}: “{}”", r.sender_name, r.excerpt))
                        .size(13)
                        .width(Fill),
                    button(text("✕").size(13))
                        .style(button::text)
                        .on_press(Message::CancelReply),
                ]
                .align_y(iced::Center),
            )
            .padding([4, 8])
            .style(style::panel(style::QUIET))
        });
        let composer: Element<'a, Message> = match self.blocked {
            Some(why) => container(text(why))
                .padding(10)
                .width(Fill)
                .style(style::panel(style::DANGER))
                .into(),
            None => row![
                text_editor(self.composer)
                    .id("composer")
                    .placeholder("Message — Enter sends, Shift+Enter for a new line")
                    .on_action(Message::Edit)
                    .key_binding(|press| {
                        use iced::keyboard::{Key, key::Named};
                        if press.key == Key::Named(Named::Enter) && !press.modifiers.shift() {
                            Some(text_editor::Binding::Custom(Message::Send))
                        } else {
                            text_editor::Binding::from_key_press(press)
                        }
                    })
                    .height(iced::Shrink),
                button(if self.sending { "Sending…" } else { "Send" })
                    .on_press_maybe((!self.sending).then_some(Message::Send)),
            ]
            .spacing(8)
            .into(),
        };
        column![
            column![
                text(self.title).size(20),
                text(self.members).size(12).color(style::QUIET)
            ]
            .spacing(2),
            history,
            column![].push(replying),
            row![
                typing.width(Fill),
                if self.timeline.hides_newer() {
                    Element::from(
                        button(text("↓ Newest messages").size(13))
                            .style(button::secondary)
                            .on_press(Message::Newest),
                    )
                } else {
                    Element::from(iced::widget::space())
                },
            ],
            composer,
        ]
        .spacing(8)
        .padding(12)
        .into()
    }
}
