//! `onionchat reply`, `react`, `delete`, `search` and `rooms rename`:
//! what people do to messages beyond writing them. Messages are named by
//! the number `history` shows in brackets.

use std::io::Write;

use onionchat_client::Client;
use serde_json::json;

use super::show::clean;
use super::{Cli, resolve_room};

macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

fn sent(json_out: bool, what: &str, ack: &onionchat_proto::wire::SendAck) {
    if json_out {
        out!(
            "{}",
            json!({"seq": ack.seq, "server_time": ack.server_time})
        );
    } else {
        out!("{what} (#{})", ack.seq);
    }
}

/// `onionchat reply ROOM SEQ TEXT`.
pub async fn reply(
    cli: &Cli,
    json_out: bool,
    room: &str,
    seq: u64,
    text: &str,
) -> anyhow::Result<()> {
    let c = cli.open()?;
    let ack = c.reply(resolve_room(&c, room).await?, seq, text).await?;
    sent(json_out, "Replied", &ack);
    Ok(())
}

/// `onionchat react ROOM SEQ EMOJI [--remove]`.
pub async fn react(
    cli: &Cli,
    json_out: bool,
    room: &str,
    seq: u64,
    emoji: &str,
    remove: bool,
) -> anyhow::Result<()> {
    let c = cli.open()?;
    let ack = c
        .react(resolve_room(&c, room).await?, seq, emoji, !remove)
        .await?;
    sent(
        json_out,
        if remove {
            "Reaction taken back"
        } else {
            "Reacted"
        },
        &ack,
    );
    Ok(())
}

/// `onionchat delete ROOM SEQ [--for-me]`.
pub async fn delete(
    cli: &Cli,
    json_out: bool,
    room: &str,
    seq: u64,
    for_me: bool,
) -> anyhow::Result<()> {
    let c = cli.open()?;
    let room = resolve_room(&c, room).await?;
    if for_me {
        let m = c.message_at(room, seq).await?;
        c.delete_for_me(room, m.msg_id)?;
        if json_out {
            out!("{}", json!({"deleted": seq, "for": "me"}));
        } else {
            out!("Deleted message {seq} for you (the others still have it)");
        }
        return Ok(());
    }
    let ack = c.delete_for_everyone(room, seq).await?;
    if json_out {
        out!(
            "{}",
            json!({"deleted": seq, "for": "everyone", "seq": ack.seq})
        );
    } else {
        out!(
            "Deleted message {seq} for everyone: the box erased it (#{})",
            ack.seq
        );
    }
    Ok(())
}

/// `onionchat rooms rename ROOM NAME`.
pub async fn rename(cli: &Cli, json_out: bool, room: &str, name: &str) -> anyhow::Result<()> {
    let c = cli.open()?;
    let ack = c.rename_group(resolve_room(&c, room).await?, name).await?;
    sent(
        json_out,
        &format!("The group is now called “{}”", clean(name.trim())),
        &ack,
    );
    Ok(())
}

/// `onionchat search QUERY [--room ROOM]`.
pub async fn search(
    cli: &Cli,
    json_out: bool,
    query: &str,
    room: Option<&str>,
    limit: usize,
) -> anyhow::Result<()> {
    let c = cli.open()?;
    let rooms = match room {
        Some(r) => vec![resolve_room(&c, r).await?],
        None => c.rooms().await?.into_iter().map(|r| r.id).collect(),
    };
    let found = c.search(&rooms, query, limit).await?;
    if json_out {
        let list = found
            .iter()
            .map(|f| {
                json!({"room": f.room_id.to_hex(), "seq": f.seq, "msg_id": f.msg_id.to_hex(), "from": f.sender_name, "sent_at": f.sent_at, "text": f.text})
            })
            .collect();
        out!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    if found.is_empty() {
        out!("Nothing found for “{}”", clean(query));
    }
    for r in &found {
        out!(
            "{}  [{}] {} {}: {}",
            chat_title(&c, r.room_id),
            r.seq,
            onionchat_client::words::local_time(r.sent_at),
            r.sender_name,
            clean(&r.text)
        );
    }
    Ok(())
}

/// A group's name, else the room id.
fn chat_title(c: &Client, room: onionchat_proto::wire::RoomId) -> String {
    c.group_name(room)
        .map(|n| clean(&n))
        .unwrap_or_else(|| room.to_hex())
}
