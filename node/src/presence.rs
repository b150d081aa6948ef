//! Who is online, told to the people who share a room with them: when
//! someone's first connection opens or last one closes, when a connection
//! opens (who is online already), and when people start sharing a room
//! (a friend request accepted, a group made or grown).
//!
//! Presence is only ever sent to users who share a room, and only when
//! `presence` is on in the node's config.

use onionchat_proto::now_ms;
use onionchat_proto::wire::{ServerFrame, UserId};

use crate::hub::Event;
use crate::state::AppState;

fn frame(user: UserId, online: bool, now: u64) -> ServerFrame {
    ServerFrame::Presence {
        user,
        online,
        last_seen: now,
    }
}

/// `user` came online (first connection) or went offline (last one closed).
pub fn announce(state: &AppState, user: UserId, online: bool) {
    if !state.config.presence {
        return;
    }
    match state.store.contacts_of(user) {
        Ok(to) => state
            .hub
            .publish(vec![Event::new(to, frame(user, online, now_ms()))]),
        Err(e) => tracing::warn!(error = %e, "presence lookup failed"),
    }
}

/// A new connection of `user` learns which of their contacts are online
/// now; later changes follow as they happen.
pub fn tell_who_is_online(state: &AppState, user: UserId) {
    if !state.config.presence {
        return;
    }
    match state.store.contacts_of(user) {
        Ok(contacts) => {
            let now = now_ms();
            let events: Vec<Event> = contacts
                .into_iter()
                .filter(|c| *c != user && state.hub.is_online(*c))
                .map(|c| Event::new(vec![user], frame(c, true, now)))
                .collect();
            if !events.is_empty() {
                state.hub.publish(events);
            }
        }
        Err(e) => tracing::warn!(error = %e, "presence lookup failed"),
    }
}

/// `members` now share a room: each online one is announced to the others
/// (who may not have known each other before).
pub fn introduce(state: &AppState, members: &[UserId]) {
    if !state.config.presence {
        return;
    }
    let now = now_ms();
    let events: Vec<Event> = members
        .iter()
        .filter(|m| state.hub.is_online(**m))
        .map(|m| {
            let others = members.iter().copied().filter(|o| o != m).collect();
            Event::new(others, frame(*m, true, now))
        })
        .collect();
    if !events.is_empty() {
        state.hub.publish(events);
    }
}
