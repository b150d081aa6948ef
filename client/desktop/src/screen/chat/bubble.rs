//! One message as the chat draws it: who and when, the quote of what it
//! answers, what it says (a photo's preview), its reactions, and — when
//! it is clicked — what can be done to it.

use iced::widget::{button, column, container, image, mouse_area, row, text};
use iced::{Element, Fill, Left, Right};
use onionchat_client::Deletion;
use onionchat_proto::wire::MessageContent;

use super::{ChatView, Entry, Message};
use crate::{format, style};

/// The reactions offered on a selected message.
pub const QUICK_REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

/// Longest side a preview is drawn at in the chat.
const PREVIEW_SIDE: f32 = 240.0;

impl<'a> ChatView<'a> {
    /// The message at `seq` (`entry` is an [`Entry::Message`]).
    pub(super) fn bubble(
        &self,
        seq: u64,
        entry: &'a Entry,
        today: jiff::civil::Date,
    ) -> Element<'a, Message> {
        let Entry::Message {
            sender,
            sender_name,
            time,
            box_time,
            content,
            late,
            deleted,
            reactions,
            preview,
            ..
        } = entry
        else {
            return text("").into();
        };
        let mine = *sender == self.me;
        let mut meta = format!("{sender_name} · {}", format::clock(*time, self.tz));
        if let Some(b) = box_time {
            meta.push_str(&format!(
                " (the box says {} {})",
                format::day_label(format::day_of(*b, self.tz), today),
                format::clock(*b, self.tz)
            ));
        }
        if *late {
            meta.push_str(" · arrived late");
        }
        if mine && let Some(r) = self.timeline.receipt(seq, self.me) {
            meta.push_str(" · ");
            meta.push_str(r);
        }
        let mut parts = column![text(meta).size(12).color(style::QUIET)].spacing(4);
        if let Some(d) = deleted {
            let said = match d {
                Deletion::ForMe => "You deleted this message here.".to_string(),
                Deletion::ByAuthor if mine => "You deleted this message.".to_string(),
                Deletion::ByAuthor => format!("{sender_name} deleted this message."),
            };
            parts = parts.push(text(said).color(style::QUIET));
        } else {
            if let MessageContent::Reply { to, excerpt, .. } = content {
                let whose = self
                    .timeline
                    .seq_of(to)
                    .and_then(|s| match self.timeline.message(s) {
                        Some(Entry::Message { sender_name, .. }) => Some(sender_name.as_str()),
                        _ => None,
                    })
                    .unwrap_or("an earlier message");
                let quoted = if excerpt.is_empty() {
                    "↪ a deleted message".to_string()
                } else {
                    format!("↪ {whose}: {excerpt}")
                };
                parts = parts.push(
                    container(text(quoted).size(12).color(style::QUIET))
                        .padding([2, 6])
                        .style(style::panel(style::QUIET)),
                );
            }
            parts = parts.push(self.body(seq, content, preview.as_ref()));
            if !reactions.is_empty() {
                let mut chips = row![].spacing(6);
                for (emoji, who) in reactions {
                    chips = chips.push(
                        container(text(format!("{emoji} {}", who.join(", "))).size(12))
                            .padding([1, 6])
                            .style(style::panel(style::QUIET)),
                    );
                }
                parts = parts.push(chips);
            }
        }
        let bubble = mouse_area(
            container(parts)
                .padding([6, 10])
                .max_width(560)
                .style(style::bubble(mine)),
        )
        .on_press(Message::Select(seq));
        let mut lines = column![bubble].spacing(4);
        if self.selected == Some(seq) {
            lines = lines.push(self.actions(seq, mine, deleted.is_some()));
        }
        let placed = container(lines).width(Fill);
        if mine {
            placed.align_x(Right).into()
        } else {
            placed.align_x(Left).into()
        }
    }

    /// What a message says.
    fn body(
        &self,
        seq: u64,
        content: &'a MessageContent,
        preview: Option<&'a Result<image::Handle, String>>,
    ) -> Element<'a, Message> {
        // A long word (a link, a code) breaks instead of running off.
        let words = |t: &'a str| text(t).wrapping(iced::widget::text::Wrapping::WordOrGlyph);
        match content {
            MessageContent::Text { text: t } | MessageContent::Reply { text: t, .. } => {
                words(t).into()
            }
            MessageContent::File {
                file_id,
                name,
                size,
                preview: sent,
                ..
            } => {
                let caption = row![
                    text(format!(
                        "{} {name} ({})",
                        if sent.is_some() { "📷" } else { "📎" },
                        format::size(*size)
                    ))
                    .wrapping(iced::widget::text::Wrapping::WordOrGlyph),
                    button("Save").on_press(Message::SaveFile(*file_id)),
                ]
                .spacing(8)
                .align_y(iced::Center);
                match (preview, sent) {
                    (Some(Ok(handle)), Some(p)) => {
                        let scale = PREVIEW_SIDE / p.width.max(p.height).max(1) as f32;
                        let (w, h) = (p.width as f32 * scale, p.height as f32 * scale);
                        column![
                            container(
                                button(image(handle.clone()).width(w).height(h))
                                    .padding(0)
                                    .style(button::text)
                                    .on_press(Message::OpenPhoto(seq)),
                            )
                            .id(format!("photo-{seq}")),
                            caption,
                        ]
                        .spacing(4)
                        .into()
                    }
                    (Some(Err(why)), _) => column![
                        container(
                            text(format!("🖼 The preview cannot be shown ({why})."))
                                .size(12)
                                .color(style::QUIET)
                        )
                        .padding(8)
                        .style(style::panel(style::QUIET)),
                        caption,
                    ]
                    .spacing(4)
                    .into(),
                    _ => caption.into(),
                }
            }
            other => words_owned(other.summary()),
        }
    }

    /// What can be done to the selected message.
    fn actions(&self, seq: u64, mine: bool, deleted: bool) -> Element<'a, Message> {
        let mut r = row![].spacing(4).align_y(iced::Center);
        if !deleted {
            r = r.push(
                button(text("Reply").size(13))
                    .style(button::secondary)
                    .on_press(Message::Reply(seq)),
            );
            for emoji in QUICK_REACTIONS {
                let ours = self.timeline.reacted(seq, self.my_name, emoji);
                r = r.push(
                    button(text(emoji).size(13))
                        .style(if ours { button::primary } else { button::text })
                        .on_press(Message::React(seq, emoji.to_string())),
                );
            }
        }
        r = r.push(
            button(text("Delete for me").size(13))
                .style(button::secondary)
                .on_press(Message::DeleteForMe(seq)),
        );
        if mine && !deleted {
            r = r.push(
                button(text("Delete for everyone").size(13))
                    .style(button::danger)
                    .on_press(Message::DeleteForEveryone(seq)),
            );
        }
        r.into()
    }
}

fn words_owned<'a>(s: String) -> Element<'a, Message> {
    text(s)
        .wrapping(iced::widget::text::Wrapping::WordOrGlyph)
        .into()
}
