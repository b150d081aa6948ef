//! Delivery receipts: connection writers note what reached a device; a
//! background task writes the highest seq per (room, member) in one batch
//! every second, so receipts cost nothing per message.

use std::time::Duration;

use onionchat_proto::wire::{RoomId, UserId};

use crate::error::Failure;
use crate::state::AppState;

/// Record that `user` got messages up to `seq` in `room`.
pub fn note_delivered(state: &AppState, room: RoomId, user: UserId, seq: u64) {
    let mut map = state.delivered.lock().unwrap_or_else(|p| p.into_inner());
    let e = map.entry((room, user)).or_insert(0);
    *e = (*e).max(seq);
}

/// Write pending delivery markers now.
pub async fn flush(state: &AppState) -> Result<(), Failure> {
    let pending: Vec<_> = {
        let mut map = state.delivered.lock().unwrap_or_else(|p| p.into_inner());
        map.drain().collect()
    };
    if pending.is_empty() {
        return Ok(());
    }
    let updates = pending
        .into_iter()
        .map(|((room, user), seq)| (room, user, seq, 0))
        .collect();
    state.store.set_markers(updates).await
}

/// Flush once a second until shutdown.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = state.shutdown.cancelled() => {
                let _ = flush(&state).await;
                return;
            }
        }
        if let Err(e) = flush(&state).await {
            tracing::warn!(error = %e, "could not record delivery receipts");
        }
    }
}
