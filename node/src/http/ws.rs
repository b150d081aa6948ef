//! The WebSocket session: live frames out, sends/typing/read markers in.
//!
//! Two tasks per connection. The **writer** owns the socket's sink: it
//! writes hub frames and replies, each write bounded by [`WRITE_TIMEOUT`]
//! and abandoned the moment the connection must close (a peer that stops
//! reading cannot hold the task, a shutdown or a kick is never waited
//! behind a stuck write). The **reader** reads frames and hands them to
//! handlers; it never awaits inside a `select!` arm, so a kick, a logout,
//! session expiry or shutdown is always seen.
//!
//! Back-pressure: every frame read takes one of [`MAX_IN_FLIGHT`] permits
//! before it is handled, and the reply it produces (ack, error, pong)
//! carries that permit until the writer has written it. So at most
//! `MAX_IN_FLIGHT` replies exist, their channel has room for all of them,
//! and posting one can never block — no send waits on the writer while the
//! writer waits on the reader.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use onionchat_proto::limits::MAX_WS_FRAME;
use onionchat_proto::wire::{ApiError, ClientFrame, ErrorCode, ServerFrame, UserId};
use onionchat_proto::{Limits, decode_with, now_ms};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::Authed;
use super::messages::{decode_envelope, send_envelope};
use crate::hub::{Event, Outgoing, PresenceChange};
use crate::state::AppState;

/// Frames one connection may have in hand (being handled, or their reply
/// not yet written); past that the node stops reading the socket, and the
/// rest wait in the kernel's socket buffers. Each costs a task, its decoded
/// envelope and up to 160 KiB of frame: at the node benchmark's 256 senders
/// with 32 each, those were its largest use of memory (heaptrack). 16 keeps
/// group commits full (4,096 in hand at 256 senders, 256 at 16).
const MAX_IN_FLIGHT: usize = 16;
/// Longest one frame may take to write before the peer counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the closing handshake may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn upgrade(
    State(state): State<AppState>,
    auth: Authed,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // axum's own rejection is plain text; every error is `{code, message}`.
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            return crate::error::Failure::reject(
                ErrorCode::Invalid,
                format!("this endpoint takes a WebSocket upgrade: {e}"),
            )
            .into_response();
        }
    };
    let key = match auth.key() {
        Ok(k) => std::sync::Arc::new(k),
        Err(e) => return e.into_response(),
    };
    // Small per-connection buffers: memory stays bounded with many clients.
    // The read buffer is allocated whole for every connection (4 KiB × 512
    // connections instead of 16 KiB: 6 MiB less at the node benchmark's
    // peak); a longer frame grows it only while it is being read.
    ws.max_message_size(MAX_WS_FRAME)
        .max_frame_size(MAX_WS_FRAME)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        // One frame of the largest size beyond the write buffer: a peer that
        // stops reading costs at most this plus its queue (hub.rs).
        .max_write_buffer_size(MAX_WS_FRAME + 32 * 1024)
        .on_upgrade(move |socket| session(state, auth, key, socket))
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

/// A frame answering one the client sent, holding that frame's permit
/// until it is written.
struct Reply {
    out: Outgoing,
    permit: OwnedSemaphorePermit,
}

/// Where handlers post replies. Never blocks: see the module docs.
#[derive(Clone)]
struct Replies(mpsc::Sender<Reply>);

impl Replies {
    fn post(&self, out: Outgoing, permit: OwnedSemaphorePermit) {
        // Room for every permit; an error only means the writer is gone.
        let _ = self.0.try_send(Reply { out, permit });
    }
}

/// A frame read from the socket, waiting for a permit.
enum Inbound {
    Binary(bytes::Bytes),
    Text,
}

/// Why the reader stopped: the close frame to send, if any.
type Closing = Option<(u16, &'static str)>;

async fn session(
    state: AppState,
    auth: Authed,
    key: std::sync::Arc<onionchat_proto::crypto::PublicIdentity>,
    socket: WebSocket,
) {
    let user = auth.user;
    let crate::hub::Registration {
        id: conn,
        rx: hub_rx,
        kick,
        ended,
        presence,
    } = state.hub.register(user, auth.token_hash);
    if presence == PresenceChange::Online {
        crate::presence::announce(&state, user, true);
    }
    crate::presence::tell_who_is_online(&state, user);
    let (sink, mut stream) = socket.split();
    let (reply_tx, reply_rx) = mpsc::channel(MAX_IN_FLIGHT);
    let replies = Replies(reply_tx);
    let (close_tx, close_rx) = oneshot::channel::<Closing>();
    let writer_gone = CancellationToken::new();
    let writer = tokio::spawn(write_loop(
        state.clone(),
        user,
        sink,
        hub_rx,
        reply_rx,
        close_rx,
        writer_gone.clone(),
    ));
    let expires_in = Duration::from_millis(auth.expires_at.saturating_sub(now_ms()));
    let expiry = tokio::time::sleep(expires_in);
    tokio::pin!(expiry);
    // Clients ping every 25 s: a socket silent for longer than `ws_idle`
    // belongs to a client that is gone (a circuit can die without a FIN).
    let ws_idle = state.config.ws_idle();
    let idle = tokio::time::sleep(ws_idle);
    tokio::pin!(idle);

    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut waiting: Option<Inbound> = None;
    let closing: Closing = loop {
        tokio::select! {
            permit = permits.clone().acquire_owned(), if waiting.is_some() => {
                let (Ok(permit), Some(inbound)) = (permit, waiting.take()) else { break None };
                match inbound {
                    Inbound::Binary(bytes) => {
                        handle_frame(&state, user, &key, conn, &bytes, &replies, permit)
                    }
                    Inbound::Text => replies.post(
                        error_frame(None, ApiError::new(ErrorCode::Malformed, "frames are binary CBOR")),
                        permit,
                    ),
                }
            }
            incoming = stream.next(), if waiting.is_none() => {
                idle.as_mut().reset(tokio::time::Instant::now() + ws_idle);
                match incoming {
                Some(Ok(Message::Binary(bytes))) => waiting = Some(Inbound::Binary(bytes)),
                Some(Ok(Message::Text(_))) => waiting = Some(Inbound::Text),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break None,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "websocket read failed");
                    break Some((1009, "frame too large or malformed"));
                }
            }},
            _ = &mut idle => break Some((1001, "nothing heard from the client; reconnect")),
            _ = kick.notified() => {
                break Some((1008, "too slow to keep up; reconnect and resume from history"));
            }
            _ = ended.notified() => break Some((1008, "logged out, or the account was removed")),
            _ = &mut expiry => break Some((1008, "the session expired; log in again")),
            _ = state.shutdown.cancelled() => break Some((1001, "the node is shutting down")),
            _ = writer_gone.cancelled() => break None,
        }
    };
    let _ = close_tx.send(closing);
    let _ = writer.await;
    if state.hub.unregister(user, conn) == PresenceChange::Offline {
        crate::presence::announce(&state, user, false);
    }
}

/// Write hub frames and replies until told to close or the peer fails to
/// take a frame within [`WRITE_TIMEOUT`]. Hub frames go first: a message
/// published before a reply was posted is written before it (the order
/// docs/protocol.md §11 promises for acks).
async fn write_loop(
    state: AppState,
    user: UserId,
    mut sink: SplitSink<WebSocket, Message>,
    mut hub_rx: crate::hub::Inbox,
    mut replies: mpsc::Receiver<Reply>,
    mut close: oneshot::Receiver<Closing>,
    gone: CancellationToken,
) {
    let hello = frame(&ServerFrame::Hello {
        user_id: user,
        server_time: now_ms(),
    });
    let mut next = Some((hello, None));
    loop {
        if let Some((out, permit)) = next.take() {
            let delivers = out.delivers;
            let write = tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Binary(out.bytes)));
            tokio::select! {
                written = write => match written {
                    Ok(Ok(())) => {
                        if let Some((room, seq)) = delivers {
                            crate::delivery::note_delivered(&state, room, user, seq);
                        }
                    }
                    Ok(Err(_)) => break,
                    Err(_) => {
                        tracing::debug!("a websocket peer took no frame for {WRITE_TIMEOUT:?}; closing");
                        break;
                    }
                },
                // Closing mid-write: the half-written frame is abandoned.
                _ = &mut close => break,
            }
            drop(permit);
        }
        next = tokio::select! {
            biased;
            closing = &mut close => {
                if let Ok(Some((code, reason))) = closing {
                    let frame = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(frame)).await;
                }
                break;
            }
            Some(out) = hub_rx.recv() => Some((out, None)),
            Some(r) = replies.recv() => Some((r.out, Some(r.permit))),
            else => break,
        };
    }
    gone.cancel();
}

fn handle_frame(
    state: &AppState,
    user: UserId,
    key: &std::sync::Arc<onionchat_proto::crypto::PublicIdentity>,
    conn: u64,
    bytes: &[u8],
    replies: &Replies,
    permit: OwnedSemaphorePermit,
) {
    state.activity.note();
    let frame_in: ClientFrame = match decode_with(bytes, Limits::with_max_len(MAX_WS_FRAME)) {
        Ok(f) => f,
        Err(e) => {
            replies.post(
                error_frame(None, ApiError::new(ErrorCode::Malformed, e.to_string())),
                permit,
            );
            return;
        }
    };
    // Everything but sends (which have their own per-user message limit)
    // shares the per-user request budget with the HTTP API.
    let limited = || !state.request_limit.allow(&format!("ws{}", user.0));
    match frame_in {
        ClientFrame::Send { envelope } => {
            let body = match decode_envelope(&envelope) {
                Ok(b) => b,
                Err(e) => return replies.post(error_frame(None, e.to_api_error()), permit),
            };
            let msg_id = Some(body.msg_id);
            let state = state.clone();
            let key = key.clone();
            let replies = replies.clone();
            tokio::spawn(async move {
                // This connection gets no copy of its own message: the ack
                // stands for it, and counts as its delivery once written.
                let sent = send_envelope(&state, user, &key, body, envelope, Some(conn)).await;
                let reply = match sent {
                    Ok(ack) => Outgoing {
                        delivers: Some((ack.room_id, ack.seq)),
                        ..frame(&ServerFrame::Ack(ack))
                    },
                    Err(e) => error_frame(msg_id, e.to_api_error()),
                };
                replies.post(reply, permit);
            });
        }
        ClientFrame::Typing { room_id } => {
            if !state.config.typing || limited() {
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
            if limited() {
                let error = ApiError::new(ErrorCode::RateLimited, "too many requests; slow down");
                replies.post(error_frame(None, error), permit);
                return;
            }
            let state = state.clone();
            let replies = replies.clone();
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
                    replies.post(error_frame(None, e.to_api_error()), permit);
                }
            });
        }
        ClientFrame::Ping { nonce } => {
            if limited() {
                let error = ApiError::new(ErrorCode::RateLimited, "too many pings; slow down");
                replies.post(error_frame(None, error), permit);
                return;
            }
            replies.post(frame(&ServerFrame::Pong { nonce }), permit);
        }
    }
}
