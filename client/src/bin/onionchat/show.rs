//! How messages look on the terminal and in `--json`.

use std::io::Write;

use onionchat_client::{Deletion, Incoming, Received, words};
use onionchat_proto::wire::{MessageContent, MsgId};
use serde_json::json;

/// Print a line; a closed stdout (e.g. `| head`) is not an error worth a panic.
macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// A message as JSON: its place, sender, id (what replies and reactions
/// name) and what it says.
pub fn message_json(r: &Received) -> serde_json::Value {
    let content = match &r.content {
        _ if r.deleted.is_some() => json!({"type": "deleted", "by": match r.deleted {
            Some(Deletion::ForMe) => "me",
            _ => "author",
        }}),
        MessageContent::Text { text } => json!({"type": "text", "text": text}),
        MessageContent::File {
            file_id,
            name,
            size,
            sha256,
            mime,
            preview,
        } => {
            json!({"type": "file", "file_id": file_id.to_hex(), "name": name, "size": size, "sha256": hex::encode(sha256), "mime": mime,
                "preview": preview.as_ref().map(|p| json!({"mime": p.mime, "width": p.width, "height": p.height, "bytes": p.bytes.len(), "full_width": p.full_width, "full_height": p.full_height}))})
        }
        MessageContent::Reply { to, excerpt, text } => {
            json!({"type": "reply", "to": to.to_hex(), "excerpt": excerpt, "text": text})
        }
        MessageContent::Reaction { to, emoji, on } => {
            json!({"type": "reaction", "to": to.to_hex(), "emoji": emoji, "on": on})
        }
        MessageContent::Delete { to } => json!({"type": "delete", "to": to.to_hex()}),
        MessageContent::Rename { name } => json!({"type": "rename", "name": name}),
    };
    json!({"room": r.room_id.to_hex(), "seq": r.seq, "msg_id": r.msg_id.to_hex(), "from": r.sender_name, "sent_at": r.sent_at, "server_time": r.server_time, "content": content})
}

/// Text from other people, made safe for a terminal: control characters
/// (escape sequences could rewrite the screen or fake a line from someone
/// else) and bidirectional overrides (which reorder what is shown) become
/// visible `\u{…}` escapes. Newlines and tabs stay.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let hidden = (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if hidden {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Message ids already printed, with their numbers.
#[derive(Default)]
pub struct Shown(std::collections::HashMap<MsgId, u64>);

/// One line per message, in words.
/// `shown` maps the ids of messages printed so far to their numbers, so a
/// reaction or a deletion names the message as the user sees it: [3].
pub fn print_incoming(json_out: bool, item: &Incoming, shown: &mut Shown) {
    if let Incoming::Message(r) = item {
        shown.0.insert(r.msg_id, r.seq);
    }
    let at = |to: &MsgId| match shown.0.get(to) {
        Some(seq) => format!("message [{seq}]"),
        None => "an earlier message".to_string(),
    };
    match item {
        Incoming::Message(r) if json_out => out!("{}", message_json(r)),
        Incoming::Message(r) if r.deleted.is_some() => out!(
            "[{}] {} {}: (deleted{})",
            r.seq,
            words::local_time(r.sent_at),
            r.sender_name,
            if r.deleted == Some(Deletion::ForMe) {
                " for me"
            } else {
                " by its author"
            }
        ),
        Incoming::Message(r) => match &r.content {
            MessageContent::Reply { excerpt, text, .. } => out!(
                "[{}] {} {} ↪ {}: {}",
                r.seq,
                words::local_time(r.sent_at),
                r.sender_name,
                if excerpt.is_empty() {
                    "(a deleted message)".to_string()
                } else {
                    format!("“{}”", clean(excerpt))
                },
                clean(text)
            ),
            MessageContent::Reaction { emoji, on, to } => out!(
                "[{}] {} {} {} {} to {}",
                r.seq,
                words::local_time(r.sent_at),
                r.sender_name,
                if *on { "reacted" } else { "took back" },
                clean(emoji),
                at(to)
            ),
            MessageContent::Delete { to } => out!(
                "[{}] {} {} deleted {} for everyone",
                r.seq,
                words::local_time(r.sent_at),
                r.sender_name,
                at(to)
            ),
            MessageContent::Rename { name } => out!(
                "[{}] {} {} named the group “{}”",
                r.seq,
                words::local_time(r.sent_at),
                r.sender_name,
                clean(name)
            ),
            MessageContent::Text { text } => {
                out!(
                    "[{}] {} {}: {}",
                    r.seq,
                    words::local_time(r.sent_at),
                    r.sender_name,
                    clean(text)
                )
            }
            MessageContent::File {
                file_id,
                name,
                size,
                preview,
                ..
            } => out!(
                "[{}] {} {} sent {}: {} ({}; get it with: onionchat file get {} {})",
                r.seq,
                words::local_time(r.sent_at),
                r.sender_name,
                match preview {
                    Some(p) => format!("a photo ({} × {})", p.full_width, p.full_height),
                    None => "a file".to_string(),
                },
                clean(name),
                words::size(*size),
                r.room_id,
                file_id
            ),
        },
        Incoming::Missing {
            sender_name, count, ..
        } => {
            if json_out {
                out!("{}", json!({"missing": count, "sender": sender_name}));
            } else {
                let what = if *count == 1 {
                    "1 message".to_string()
                } else {
                    format!("{count} messages")
                };
                out!(
                    "⚠ {what} from {sender_name} never arrived (their app was cut off while sending, or the box withheld them)"
                );
            }
        }
        Incoming::BeforeYouJoined {
            seq, sender_name, ..
        } => {
            if json_out {
                out!(
                    "{}",
                    json!({"seq": seq, "before_you_joined": true, "sender": sender_name})
                );
            } else {
                out!(
                    "[{seq}] · {sender_name} wrote this before you were in the group (locked for its members then)"
                );
            }
        }
        Incoming::Rejected {
            seq,
            sender,
            reason,
            ..
        } => {
            if json_out {
                out!(
                    "{}",
                    json!({"seq": seq, "rejected": reason, "sender": sender.0})
                );
            } else {
                out!(
                    "[{seq}] ⚠ a message from user {sender} failed verification and is hidden: {reason}"
                );
            }
        }
    }
}
