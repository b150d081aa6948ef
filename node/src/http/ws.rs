//! The WebSocket session: live frames out, sends/typing/read markers in.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use onionchat_proto::limits::MAX_WS_FRAME;
use onionchat_proto::wire::{ApiError, ClientFrame, ErrorCode, ServerFrame, UserId};
use onionchat_proto::{Limits, decode_with, now_ms};
use tokio::sync::{Semaphore, mpsc};

use super::Authed;
use super::messages::send_envelope;
use crate::hub::{Event, Outgoing, PresenceChange};
use crate::state::AppState;

/// Sends one connection may have waiting for their commit; past that the
/// node stops reading the socket (back-pressure, bounded memory).
const MAX_IN_FLIGHT: usize = 32;

pub(super) async fn upgrade(
    State(state): State<AppState>,
    auth: Authed,
    ws: WebSocketUpgrade,
) -> Response {
    let key = match auth.key() {
        Ok(k) => std::sync::Arc::new(k),
        Err(e) => return e.into_response(),
    };
    // Small per-connection buffers: memory stays bounded with many clients.
    ws.max_message_size(MAX_WS_FRAME)
        .max_frame_size(MAX_WS_FRAME)
        .read_buffer_size(16 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(MAX_WS_FRAME * 4)
        .on_upgrade(move |socket| session(state, auth.user, key, socket))
}

fn frame(f: &ServerFrame) -> Outgoing {
    Outgoing {
        bytes: bytes::Bytes::from(onionchat_proto::encode(f).unwrap_or_default()),
        delivers: None,
    }
}

fn error_frame(msg_id: Option<onionchat_proto::wire::MsgId>, error: ApiError) -> Outgoing {
    frame(&ServerFrame::Error { msg_id, error })
}

async fn announce_presence(state: &AppState, user: UserId, online: bool) {
    if !state.config.presence {
        return;
    }
    match state.store.contacts_of(user) {
        Ok(to) => state.hub.publish(vec![Event::new(
            to,
            ServerFrame::Presence {
                user,
                online,
                last_seen: now_ms(),
            },
        )]),
        Err(e) => tracing::warn!(error = %e, "presence lookup failed"),
    }
}

async fn session(
    state: AppState,
    user: UserId,
    key: std::sync::Arc<onionchat_proto::crypto::PublicIdentity>,
    socket: WebSocket,
) {
    let mut reg = state.hub.register(user);
    if reg.presence == PresenceChange::Online {
        announce_presence(&state, user, true).await;
    }
    let (mut sink, mut stream) = socket.split();
    let hello = frame(&ServerFrame::Hello {
        user_id: user,
        server_time: now_ms(),
    });
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut close: Option<(u16, &'static str)> = None;
    if sink.send(Message::Binary(hello.bytes)).await.is_ok() {
        loop {
            tokio::select! {
                out = reg.rx.recv() => {
                    let Some(out) = out else { break };
                    if sink.send(Message::Binary(out.bytes)).await.is_err() {
                        break;
                    }
                    if let Some((room, seq)) = out.delivers {
                        crate::delivery::note_delivered(&state, room, user, seq);
                    }
                }
                incoming = stream.next() => match incoming {
                    Some(Ok(Message::Binary(bytes))) => {
                        // Wait for a permit before reading on: back-pressure.
                        let Ok(permit) = permits.clone().acquire_owned().await else { break };
                        handle_frame(&state, user, &key, reg.id, &bytes, reg.tx.clone(), permit).await;
                    }
                    Some(Ok(Message::Text(_))) => {
                        let _ = reg.tx.try_send(error_frame(None, ApiError::new(ErrorCode::Malformed, "frames are binary CBOR")));
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "websocket read failed");
                        close = Some((1009, "frame too large or malformed"));
                        break;
                    }
                },
                _ = reg.kick.notified() => {
                    close = Some((1008, "too slow to keep up; reconnect and resume from history"));
                    break;
                }
                _ = state.shutdown.cancelled() => {
                    close = Some((1001, "the node is shutting down"));
                    break;
                }
            }
        }
    }
    if let Some((code, reason)) = close {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    if state.hub.unregister(user, reg.id) == PresenceChange::Offline {
        announce_presence(&state, user, false).await;
    }
}

async fn handle_frame(
    state: &AppState,
    user: UserId,
    key: &std::sync::Arc<onionchat_proto::crypto::PublicIdentity>,
    conn: u64,
    bytes: &[u8],
    tx: mpsc::Sender<Outgoing>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let frame_in: ClientFrame = match decode_with(bytes, Limits::with_max_len(MAX_WS_FRAME)) {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.try_send(error_frame(
                None,
                ApiError::new(ErrorCode::Malformed, e.to_string()),
            ));
            return;
        }
    };
    match frame_in {
        ClientFrame::Send { envelope } => {
            let msg_id = onionchat_proto::crypto::message::decode(&envelope)
                .ok()
                .map(|b| b.msg_id);
            let state = state.clone();
            let key = key.clone();
            tokio::spawn(async move {
                // This connection gets no copy of its own message: the ack
                // stands for it, and counts as its delivery once written.
                let reply = match send_envelope(&state, user, &key, envelope, Some(conn)).await {
                    Ok(ack) => Outgoing {
                        delivers: Some((ack.room_id, ack.seq)),
                        ..frame(&ServerFrame::Ack(ack))
                    },
                    Err(e) => error_frame(msg_id, e.to_api_error()),
                };
                let _ = tx.send(reply).await;
                drop(permit);
            });
        }
        ClientFrame::Typing { room_id } => {
            if !state.config.typing || !state.request_limit.allow(&format!("typing{}", user.0)) {
                return;
            }
            if let Ok(room) = state.store.room_for_member(user, room_id) {
                let to = room.members.into_iter().filter(|m| *m != user).collect();
                state
                    .hub
                    .publish(vec![Event::new(to, ServerFrame::Typing { room_id, user })]);
            }
        }
        ClientFrame::Read { room_id, seq } => {
            let state = state.clone();
            tokio::spawn(async move {
                let result = match state.store.room_for_member(user, room_id) {
                    Ok(_) => {
                        state
                            .store
                            .set_markers(vec![(room_id, user, seq, seq)])
                            .await
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    let _ = tx.send(error_frame(None, e.to_api_error())).await;
                }
                drop(permit);
            });
        }
        ClientFrame::Ping { nonce } => {
            let _ = tx.try_send(frame(&ServerFrame::Pong { nonce }));
        }
    }
}
