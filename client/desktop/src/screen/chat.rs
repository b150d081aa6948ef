//! One room's timeline (what the window shows of it) and the chat view.
//!
//! The timeline is filled from two sides: pages of history (older
//! messages, loaded on demand) and the live stream (new ones). Both come
//! verified and decrypted from the client core; entries are keyed by the
//! node's seq so a message seen both ways shows once.

use std::collections::{BTreeMap, HashMap};

use iced::widget::{Column, button, column, container, row, scrollable, text, text_editor};
use iced::{Element, Fill, Left, Right};
use jiff::tz::TimeZone;
use onionchat_client::{Incoming, Received};
use onionchat_proto::wire::{FileId, MessageContent, RoomId, UserId};

use crate::{format, style};

/// How many messages a history page asks for.
pub const PAGE: u32 = 50;

/// How many entries the chat view draws at most. iced rebuilds the view
/// after every update (a new message, a scroll event), so what it draws
/// must not grow with the history: the view is a window on the timeline
/// that slides as the user scrolls, and the rest stays in memory as data.
pub const WINDOW: usize = 200;

/// How far the window slides per step: half of it, so the line the reader
/// was at lands in the middle of what is drawn.
const SLIDE: usize = WINDOW / 2;

/// How far the sender's signed time may be from the box's before the box's
/// is shown beside it.
const CLOCK_SLACK_MS: u64 = 5 * 60 * 1000;

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A verified message.
    Message {
        /// Sender.
        sender: UserId,
        /// Sender's name.
        sender_name: String,
        /// When the sender says they sent it (signed; ms).
        time: u64,
        /// The box's time of it, when it differs from the sender's by more
        /// than a few minutes (a hint: a wrong clock, or an old message
        /// served again).
        box_time: Option<u64>,
        /// What it says.
        content: MessageContent,
        /// It arrived after later ones from the same sender.
        late: bool,
    },
    /// Something about the room, in words (a membership change, messages the
    /// node never delivered, a message that failed verification).
    Notice {
        /// What happened.
        text: String,
        /// It is a warning (shown in red).
        warning: bool,
    },
}

/// A room as the window knows it.
#[derive(Debug, Default)]
pub struct Timeline {
    /// Entries by (seq, n): messages at (seq, 0), notices after the entry
    /// they follow.
    entries: BTreeMap<(u64, u32), Entry>,
    /// Lowest seq loaded from history (0 = nothing loaded yet).
    oldest: u64,
    /// History was loaded once.
    pub loaded: bool,
    /// There is older history to load.
    pub has_older: bool,
    /// An older page is on its way.
    pub loading: bool,
    /// Messages that arrived while the room was not open.
    pub unread: u32,
    /// Who is typing, and until when (ms, our clock).
    pub typing: HashMap<UserId, u64>,
    /// Read up to, per member.
    pub read: HashMap<UserId, u64>,
    /// Delivered up to, per member.
    pub delivered: HashMap<UserId, u64>,
    /// End (exclusive index into the entries) of the window drawn; `None`
    /// follows the newest entry.
    window_end: Option<usize>,
}

impl Timeline {
    /// The highest seq shown.
    pub fn last_seq(&self) -> u64 {
        self.entries.keys().next_back().map(|k| k.0).unwrap_or(0)
    }

    /// The lowest seq loaded (0 when nothing is).
    pub fn oldest_seq(&self) -> u64 {
        self.oldest
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The seq after which the next older page starts (`None` if there is
    /// nothing older).
    pub fn older_page_after(&self) -> Option<u64> {
        (self.has_older && self.oldest > 1).then(|| self.oldest.saturating_sub(u64::from(PAGE) + 1))
    }

    fn notice_key(&self, after: u64) -> (u64, u32) {
        let n = self
            .entries
            .range((after, 1)..(after, u32::MAX))
            .next_back()
            .map(|(k, _)| k.1 + 1)
            .unwrap_or(1);
        (after, n)
    }

    /// Add a notice after the newest entry.
    pub fn notice(&mut self, text: String, warning: bool) {
        // The same refusal again (each refresh finds the same lie) is not
        // news: show it once.
        if warning
            && self
                .entries
                .values()
                .any(|e| matches!(e, Entry::Notice { text: t, warning: true } if *t == text))
        {
            return;
        }
        let key = self.notice_key(self.last_seq());
        self.entries.insert(key, Entry::Notice { text, warning });
    }

    /// Add what the core delivered (live or from history). Returns whether a
    /// new message was added.
    pub fn add(&mut self, item: Incoming) -> bool {
        match item {
            Incoming::Message(r) => self.add_message(r),
            Incoming::Missing {
                sender_name,
                count,
                before,
                ..
            } => {
                let s = if count == 1 { "" } else { "s" };
                let text = format!(
                    "{count} message{s} from {sender_name} never arrived: their app was cut off while sending, or the box did not deliver them."
                );
                // Just before the message they should have preceded (an
                // older page's gap sits inside the history), once.
                let after = before.saturating_sub(1);
                let known = self
                    .entries
                    .range((after, 1)..(after, u32::MAX))
                    .any(|(_, e)| matches!(e, Entry::Notice { text: t, .. } if *t == text));
                if !known {
                    let key = self.notice_key(after);
                    self.entries.insert(
                        key,
                        Entry::Notice {
                            text,
                            warning: true,
                        },
                    );
                }
                false
            }
            Incoming::Rejected { seq, reason, .. } => {
                // What was shown at this seq (a copy found to be a replay
                // once an earlier one turned up) gives way to the refusal.
                self.entries.remove(&(seq, 0));
                let key = self.notice_key(seq);
                self.entries.insert(
                    key,
                    Entry::Notice {
                        text: format!("A message was refused: {reason}"),
                        warning: true,
                    },
                );
                false
            }
        }
    }

    fn add_message(&mut self, r: Received) -> bool {
        let key = (r.seq, 0);
        let new = !self.entries.contains_key(&key);
        self.entries.insert(
            key,
            Entry::Message {
                sender: r.sender,
                sender_name: r.sender_name,
                time: r.sent_at,
                box_time: (r.sent_at.abs_diff(r.server_time) > CLOCK_SLACK_MS)
                    .then_some(r.server_time),
                content: r.content,
                late: r.late,
            },
        );
        if self.oldest == 0 || r.seq < self.oldest {
            self.oldest = r.seq;
        }
        new
    }

    /// Add a page of history (older than what is shown, or the first one).
    pub fn add_page(&mut self, items: Vec<Incoming>, after: u64) {
        self.loaded = true;
        self.loading = false;
        let before = self.entries.len();
        for item in items {
            self.add(item);
        }
        // Older entries went in at the front: a window away from the newest
        // shows them (the user scrolled up to ask for them).
        if self.window_end.is_some() || self.entries.len() > WINDOW {
            let added = self.entries.len() - before;
            if added > 0 && before > 0 {
                self.window_end = Some(WINDOW.min(self.entries.len()));
                self.normalize();
            }
        }
        // A page asked for "after N": there is more before it if N > 0.
        self.has_older = after > 0;
        if self.oldest == 0 || after + 1 < self.oldest {
            self.oldest = after + 1;
        }
    }

    /// Entries in display order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// The range of entries the view draws.
    fn window(&self) -> std::ops::Range<usize> {
        let len = self.entries.len();
        let end = self.window_end.unwrap_or(len).min(len);
        end.saturating_sub(WINDOW)..end
    }

    fn normalize(&mut self) {
        if self.window_end.is_some_and(|e| e >= self.entries.len()) {
            self.window_end = None;
        }
    }

    /// Entries drawn, with their keys.
    fn visible(&self) -> impl Iterator<Item = (&(u64, u32), &Entry)> {
        let w = self.window();
        self.entries.iter().skip(w.start).take(w.len())
    }

    /// Whether older entries are in memory but not drawn.
    pub fn hides_older(&self) -> bool {
        self.window().start > 0
    }

    /// Whether newer entries are in memory but not drawn.
    pub fn hides_newer(&self) -> bool {
        self.window_end.is_some()
    }

    /// Slide the window towards older entries; false if it shows the oldest.
    pub fn slide_older(&mut self) -> bool {
        let w = self.window();
        if w.start == 0 {
            return false;
        }
        self.window_end = Some(
            w.end
                .saturating_sub(SLIDE)
                .max(WINDOW.min(self.entries.len())),
        );
        true
    }

    /// Slide the window towards newer entries (back to following the
    /// newest at the end).
    pub fn slide_newer(&mut self) {
        if let Some(e) = self.window_end {
            self.window_end = Some(e + SLIDE);
            self.normalize();
        }
    }

    /// Follow the newest entry again.
    pub fn follow_newest(&mut self) {
        self.window_end = None;
    }

    /// Whether `seq` of ours is read or delivered by someone else.
    fn receipt(&self, seq: u64, me: UserId) -> Option<&'static str> {
        let others = |m: &HashMap<UserId, u64>| m.iter().any(|(u, s)| *u != me && *s >= seq);
        if others(&self.read) {
            Some("read")
        } else if others(&self.delivered) {
            Some("delivered")
        } else {
            None
        }
    }
}

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
                Entry::Message {
                    sender,
                    sender_name,
                    time,
                    box_time,
                    content,
                    late,
                } => {
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
                    if mine && let Some(r) = self.timeline.receipt(key.0, self.me) {
                        meta.push_str(" · ");
                        meta.push_str(r);
                    }
                    let body: Element<'a, Message> = match content {
                        // A long word (a link, a code) breaks instead of
                        // running off the bubble.
                        MessageContent::Text { text: t } => text(t.clone())
                            .wrapping(iced::widget::text::Wrapping::WordOrGlyph)
                            .into(),
                        MessageContent::File {
                            file_id,
                            name,
                            size,
                            ..
                        } => row![
                            text(format!("📎 {name} ({})", format::size(*size)))
                                .wrapping(iced::widget::text::Wrapping::WordOrGlyph),
                            button("Save").on_press(Message::SaveFile(*file_id)),
                        ]
                        .spacing(8)
                        .into(),
                        other => text(other.summary())
                            .wrapping(iced::widget::text::Wrapping::WordOrGlyph)
                            .into(),
                    };
                    let bubble = container(
                        column![text(meta).size(12).color(style::QUIET), body].spacing(2),
                    )
                    .padding([6, 10])
                    .max_width(560)
                    .style(style::bubble(mine));
                    let placed = if mine {
                        container(bubble).align_x(Right).width(Fill)
                    } else {
                        container(bubble).align_x(Left).width(Fill)
                    };
                    lines = lines.push(placed);
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

#[cfg(test)]
mod tests {
    use super::*;
    use onionchat_proto::wire::MsgId;

    fn msg(seq: u64, text: &str) -> Incoming {
        Incoming::Message(Received {
            room_id: RoomId([1; 16]),
            seq,
            server_time: 1_772_452_800_000 + seq,
            sender: UserId(2),
            sender_name: "bob".into(),
            msg_id: MsgId([seq as u8; 16]),
            sent_at: 1_772_452_800_000 + seq,
            epoch: 1,
            stream: 1,
            counter: seq,
            void: Vec::new(),
            late: false,
            content: MessageContent::Text { text: text.into() },
            deleted: None,
        })
    }

    #[test]
    fn a_message_seen_live_and_in_history_shows_once() {
        let mut t = Timeline::default();
        assert!(t.add(msg(7, "hi")));
        assert!(!t.add(msg(7, "hi")));
        t.add_page(vec![msg(6, "before"), msg(7, "hi")], 5);
        assert_eq!(t.len(), 2);
        assert_eq!(t.last_seq(), 7);
        assert_eq!(t.older_page_after(), Some(0));
    }

    #[test]
    fn notices_follow_the_entry_they_came_after() {
        let mut t = Timeline::default();
        t.add(msg(1, "one"));
        t.notice("ann added carol".into(), false);
        t.add(Incoming::Missing {
            room_id: RoomId([1; 16]),
            sender: UserId(2),
            sender_name: "bob".into(),
            count: 2,
            before: 4,
        });
        t.add(msg(4, "four"));
        let texts: Vec<String> = t
            .entries()
            .map(|e| match e {
                Entry::Message {
                    content: MessageContent::Text { text },
                    ..
                } => text.clone(),
                Entry::Notice { text, .. } => text.clone(),
                Entry::Message { .. } => String::new(),
            })
            .collect();
        assert_eq!(texts[0], "one");
        assert_eq!(texts[1], "ann added carol");
        assert!(
            texts[2].starts_with("2 messages from bob never arrived"),
            "{}",
            texts[2]
        );
        assert_eq!(texts[3], "four");
    }

    #[test]
    fn a_gap_in_an_older_page_shows_where_it_is_once() {
        let mut t = Timeline::default();
        t.add(msg(10, "ten"));
        let gap = || Incoming::Missing {
            room_id: RoomId([1; 16]),
            sender: UserId(2),
            sender_name: "bob".into(),
            count: 1,
            before: 5,
        };
        for _ in 0..2 {
            t.add_page(vec![msg(2, "two"), gap(), msg(5, "five")], 0);
        }
        let kinds: Vec<String> = t
            .entries()
            .map(|e| match e {
                Entry::Message {
                    content: MessageContent::Text { text },
                    ..
                } => text.clone(),
                Entry::Notice { .. } => "gap".into(),
                Entry::Message { .. } => String::new(),
            })
            .collect();
        assert_eq!(kinds, ["two", "gap", "five", "ten"]);
    }

    #[test]
    fn the_view_draws_a_window_that_slides_over_a_long_history() {
        let mut t = Timeline::default();
        for seq in 1..=1000 {
            t.add(msg(seq, &format!("m{seq}")));
        }
        let shown = |t: &Timeline| t.visible().map(|(k, _)| k.0).collect::<Vec<_>>();
        // The newest WINDOW entries, following new ones.
        assert_eq!(shown(&t), (801..=1000).collect::<Vec<_>>());
        assert!(t.hides_older() && !t.hides_newer());
        t.add(msg(1001, "new"));
        assert_eq!(shown(&t).last(), Some(&1001));
        // Sliding older, down to the oldest, never drawing more than WINDOW.
        let mut steps = 0;
        while t.slide_older() {
            steps += 1;
            assert!(shown(&t).len() <= WINDOW);
        }
        assert_eq!(steps, 9);
        assert_eq!(shown(&t), (1..=200).collect::<Vec<_>>());
        assert!(t.hides_newer() && !t.hides_older());
        // A new message does not yank the reader away from where they are.
        t.add(msg(1002, "while reading"));
        assert_eq!(shown(&t).first(), Some(&1));
        // And back.
        t.slide_newer();
        assert_eq!(shown(&t), (101..=300).collect::<Vec<_>>());
        t.follow_newest();
        assert_eq!(shown(&t).last(), Some(&1002));
        assert!(!t.hides_newer());
    }

    #[test]
    fn an_older_page_shows_at_the_top_of_the_window() {
        let mut t = Timeline::default();
        t.add_page((451..=700).map(|s| msg(s, "x")).collect(), 450);
        assert_eq!(t.visible().count(), WINDOW);
        while t.slide_older() {}
        assert_eq!(t.visible().next().map(|(k, _)| k.0), Some(451));
        let after = t.older_page_after().expect("more on the node");
        assert_eq!(after, 400);
        t.add_page((401..=450).map(|s| msg(s, "y")).collect(), after);
        let first: Vec<u64> = t.visible().map(|(k, _)| k.0).take(3).collect();
        assert_eq!(first, vec![401, 402, 403]);
        assert_eq!(t.visible().count(), WINDOW);
    }

    #[test]
    fn receipts_count_other_members_only() {
        let mut t = Timeline::default();
        let me = UserId(1);
        t.read.insert(me, 10);
        assert_eq!(t.receipt(5, me), None);
        t.delivered.insert(UserId(2), 5);
        assert_eq!(t.receipt(5, me), Some("delivered"));
        t.read.insert(UserId(2), 6);
        assert_eq!(t.receipt(5, me), Some("read"));
    }
}
