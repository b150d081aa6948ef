//! One room's timeline: what the window knows of it, as data.
//!
//! Filled from two sides: pages of history (older messages, loaded on
//! demand) and the live stream (new ones), both verified and decrypted by
//! the client core; entries are keyed by the node's seq so a message seen
//! both ways shows once. Reactions, deletions and renames are not lines
//! of their own: they change the message they name (found by its signed
//! id), or wait for it if it is not loaded yet.

use std::collections::{BTreeMap, HashMap};

use onionchat_client::{Deletion, Incoming, Received};
use onionchat_proto::wire::{MessageContent, MsgId, UserId};

use super::{CLOCK_SLACK_MS, PAGE, SLIDE, WINDOW};

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq)]
// Nearly every entry is a message: boxing it would add an allocation per
// message to spare a few notices some bytes.
#[allow(clippy::large_enum_variant)]
pub enum Entry {
    /// A verified message.
    Message {
        /// Its id (what replies, reactions and deletions name).
        msg_id: MsgId,
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
        /// Deleted (by its author for everyone, or by us here): shown as a
        /// placeholder, never with what it said.
        deleted: Option<Deletion>,
        /// Reactions: emoji → who (names, in the order they reacted).
        reactions: BTreeMap<String, Vec<String>>,
        /// A picture's preview, checked when it arrived (decoded when
        /// drawn); `Err` says why it cannot be shown (a placeholder is
        /// drawn instead).
        preview: Option<Result<iced::widget::image::Handle, String>>,
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
    /// Where each loaded message is (msg id → seq).
    by_id: HashMap<MsgId, u64>,
    /// What names a message not loaded yet (an older page will bring it).
    pending: HashMap<MsgId, Vec<Change>>,
    /// Where the one "sent before you were in this group" notice is (at
    /// the lowest such message loaded).
    before_you_joined: Option<(u64, u32)>,
}

/// What a member added to a group sees in place of the messages sent
/// before: once, not a line per message, and not as a warning.
pub const BEFORE_YOU_JOINED: &str = "Earlier messages were sent before you were in this group: they were locked for its members then, so they cannot be shown here.";

/// A change to a message, by someone.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    /// A reaction added (`true`) or taken back.
    React {
        name: String,
        emoji: String,
        on: bool,
    },
    /// Its author deleted it for everyone.
    Delete { by: UserId },
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
            Incoming::BeforeYouJoined { seq, .. } => {
                if self.before_you_joined.is_none_or(|k| seq < k.0) {
                    if let Some(k) = self.before_you_joined.take() {
                        self.entries.remove(&k);
                    }
                    let key = self.notice_key(seq);
                    self.entries.insert(
                        key,
                        Entry::Notice {
                            text: BEFORE_YOU_JOINED.to_string(),
                            warning: false,
                        },
                    );
                    self.before_you_joined = Some(key);
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
        if self.oldest == 0 || r.seq < self.oldest {
            self.oldest = r.seq;
        }
        // What changes another message is no line of its own.
        if r.deleted.is_none() {
            match &r.content {
                MessageContent::Reaction { to, emoji, on } => {
                    let change = Change::React {
                        name: r.sender_name.clone(),
                        emoji: emoji.clone(),
                        on: *on,
                    };
                    self.apply(*to, change);
                    return false;
                }
                MessageContent::Delete { to } => {
                    self.apply(*to, Change::Delete { by: r.sender });
                    return false;
                }
                MessageContent::Rename { name } => {
                    let text = format!("{} named the group “{name}”", r.sender_name);
                    self.entries.insert(
                        (r.seq, 0),
                        Entry::Notice {
                            text,
                            warning: false,
                        },
                    );
                    return false;
                }
                _ => {}
            }
        }
        let key = (r.seq, 0);
        let new = !self.entries.contains_key(&key);
        let preview = match &r.content {
            MessageContent::File {
                preview: Some(p), ..
            } if r.deleted.is_none() => Some(
                // Checked from its header here; its pixels are decoded only
                // while it is drawn (a chat of a thousand photos holds a
                // thousand small JPEGs, not a thousand bitmaps).
                onionchat_client::picture::check_preview(p)
                    .map(|_| iced::widget::image::Handle::from_bytes(p.bytes.clone()))
                    .map_err(|e| e.to_string()),
            ),
            _ => None,
        };
        self.entries.insert(
            key,
            Entry::Message {
                msg_id: r.msg_id,
                sender: r.sender,
                sender_name: r.sender_name,
                time: r.sent_at,
                box_time: (r.sent_at.abs_diff(r.server_time) > CLOCK_SLACK_MS)
                    .then_some(r.server_time),
                content: r.content,
                late: r.late,
                deleted: r.deleted,
                reactions: BTreeMap::new(),
                preview,
            },
        );
        self.by_id.insert(r.msg_id, r.seq);
        for change in self.pending.remove(&r.msg_id).unwrap_or_default() {
            self.apply(r.msg_id, change);
        }
        new
    }

    /// Apply `change` to the message `to`, or keep it for when it loads.
    fn apply(&mut self, to: MsgId, change: Change) {
        let Some(Entry::Message {
            msg_id,
            sender,
            content,
            deleted,
            reactions,
            preview,
            ..
        }) = self
            .by_id
            .get(&to)
            .and_then(|seq| self.entries.get_mut(&(*seq, 0)))
        else {
            // Bounded like the rest: at most one list per message id a
            // member named, and what waits is dropped with the timeline.
            self.pending.entry(to).or_default().push(change);
            return;
        };
        match change {
            Change::React { name, emoji, on } => {
                let who = reactions.entry(emoji.clone()).or_default();
                who.retain(|n| *n != name);
                if on {
                    who.push(name);
                }
                if who.is_empty() {
                    reactions.remove(&emoji);
                }
            }
            // Only its author can take a message back.
            Change::Delete { by } if by == *sender => {
                *deleted = Some(Deletion::ByAuthor);
                *content = MessageContent::Delete { to: *msg_id };
                reactions.clear();
                *preview = None;
            }
            Change::Delete { .. } => {}
        }
    }

    /// Show the message at `seq` as deleted here (delete for me).
    pub fn hide(&mut self, seq: u64) {
        if let Some(Entry::Message {
            msg_id,
            content,
            deleted,
            reactions,
            preview,
            ..
        }) = self.entries.get_mut(&(seq, 0))
            && deleted.is_none()
        {
            *deleted = Some(Deletion::ForMe);
            *content = MessageContent::Delete { to: *msg_id };
            reactions.clear();
            *preview = None;
        }
    }

    /// The message at `seq` (for replying, reacting, deleting).
    pub fn message(&self, seq: u64) -> Option<&Entry> {
        self.entries.get(&(seq, 0))
    }

    /// The seq of a loaded message.
    pub fn seq_of(&self, msg_id: &MsgId) -> Option<u64> {
        self.by_id.get(msg_id).copied()
    }

    /// Who reacted with what to the message at `seq`.
    pub fn reactions(&self, seq: u64) -> Option<&BTreeMap<String, Vec<String>>> {
        match self.message(seq)? {
            Entry::Message { reactions, .. } => Some(reactions),
            Entry::Notice { .. } => None,
        }
    }

    /// Whether `me` reacted to the message at `seq` with `emoji`.
    pub fn reacted(&self, seq: u64, name: &str, emoji: &str) -> bool {
        self.reactions(seq)
            .and_then(|r| r.get(emoji))
            .is_some_and(|who| who.iter().any(|n| n == name))
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
    pub(super) fn visible(&self) -> impl Iterator<Item = (&(u64, u32), &Entry)> {
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
    pub(super) fn receipt(&self, seq: u64, me: UserId) -> Option<&'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use onionchat_proto::wire::RoomId;

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
    fn what_came_before_a_member_joined_is_one_quiet_notice_at_its_start() {
        let mut t = Timeline::default();
        let before = |seq| Incoming::BeforeYouJoined {
            room_id: RoomId([1; 16]),
            seq,
            sender: UserId(2),
            sender_name: "bob".into(),
        };
        // The newest page first, then an older one, as scrolling up does.
        t.add_page(vec![before(4), before(5), msg(6, "welcome")], 3);
        t.add_page(vec![before(2), before(3)], 1);
        let shown: Vec<(String, bool)> = t
            .entries()
            .map(|e| match e {
                Entry::Notice { text, warning } => (text.clone(), *warning),
                Entry::Message { .. } => ("message".into(), false),
            })
            .collect();
        assert_eq!(
            shown,
            [
                (BEFORE_YOU_JOINED.to_string(), false),
                ("message".to_string(), false)
            ]
        );
        assert_eq!(t.before_you_joined.map(|k| k.0), Some(2));
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

    fn from(seq: u64, sender: u64, name: &str, content: MessageContent) -> Incoming {
        let Incoming::Message(mut r) = msg(seq, "") else {
            unreachable!()
        };
        r.sender = UserId(sender);
        r.sender_name = name.into();
        r.content = content;
        Incoming::Message(r)
    }

    #[test]
    fn reactions_and_deletions_change_the_message_they_name() {
        let mut t = Timeline::default();
        t.add(msg(1, "hi"));
        let first = MsgId([1; 16]);
        let react = |seq, who: u64, name: &str, emoji: &str, on| {
            from(
                seq,
                who,
                name,
                MessageContent::Reaction {
                    to: first,
                    emoji: emoji.into(),
                    on,
                },
            )
        };
        // Reactions are no lines of their own.
        assert!(!t.add(react(2, 1, "ann", "👍", true)));
        t.add(react(3, 3, "cat", "👍", true));
        t.add(react(4, 3, "cat", "❤️", true));
        t.add(react(5, 1, "ann", "👍", false));
        assert_eq!(t.len(), 1);
        let r = t.reactions(1).expect("reactions");
        assert_eq!(r.get("👍"), Some(&vec!["cat".to_string()]));
        assert_eq!(r.get("❤️"), Some(&vec!["cat".to_string()]));
        assert!(t.reacted(1, "cat", "❤️") && !t.reacted(1, "ann", "👍"));
        // Only the author deletes: cat's "delete" of bob's message is nothing.
        t.add(from(6, 3, "cat", MessageContent::Delete { to: first }));
        assert!(matches!(
            t.message(1),
            Some(Entry::Message { deleted: None, .. })
        ));
        t.add(from(7, 2, "bob", MessageContent::Delete { to: first }));
        match t.message(1) {
            Some(Entry::Message {
                deleted,
                content,
                reactions,
                ..
            }) => {
                assert_eq!(*deleted, Some(Deletion::ByAuthor));
                assert_eq!(*content, MessageContent::Delete { to: first });
                assert!(reactions.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn changes_to_a_message_not_loaded_yet_wait_for_it() {
        let mut t = Timeline::default();
        let first = MsgId([1; 16]);
        t.add(from(
            9,
            3,
            "cat",
            MessageContent::Reaction {
                to: first,
                emoji: "😂".into(),
                on: true,
            },
        ));
        // The older page brings the message.
        t.add_page(vec![msg(1, "joke")], 0);
        assert!(t.reacted(1, "cat", "😂"));
    }

    #[test]
    fn a_rename_is_a_notice_and_hiding_forgets_what_it_said() {
        let mut t = Timeline::default();
        t.add(msg(1, "secret"));
        t.add(from(
            2,
            1,
            "ann",
            MessageContent::Rename {
                name: "The Smiths".into(),
            },
        ));
        assert!(t.entries().any(
            |e| matches!(e, Entry::Notice { text, .. } if text == "ann named the group “The Smiths”")
        ));
        t.hide(1);
        match t.message(1) {
            Some(Entry::Message {
                deleted, content, ..
            }) => {
                assert_eq!(*deleted, Some(Deletion::ForMe));
                assert!(!content.summary().contains("secret"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_broken_preview_is_a_placeholder_not_a_crash() {
        let mut t = Timeline::default();
        let preview = onionchat_proto::wire::Preview {
            mime: "image/jpeg".into(),
            width: 10,
            height: 10,
            bytes: vec![0xff, 0xd8, 0xff, 0x00],
            full_width: 10,
            full_height: 10,
        };
        t.add(from(
            1,
            2,
            "bob",
            MessageContent::File {
                file_id: onionchat_proto::wire::FileId([5; 16]),
                name: "x.jpg".into(),
                mime: Some("image/jpeg".into()),
                size: 10,
                sha256: vec![0; 32],
                preview: Some(Box::new(preview)),
            },
        ));
        assert!(matches!(
            t.message(1),
            Some(Entry::Message {
                preview: Some(Err(_)),
                ..
            })
        ));
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
