//! The live session: one WebSocket, kept up with backoff, resuming every
//! room from its cursor so nothing is missed or shown twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use onionchat_proto::limits::MAX_WS_FRAME;
use onionchat_proto::wire::{
    ClientFrame, MsgId, RoomId, SendAck, ServerFrame, Signed, StoredMessage,
};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::events::{ClientEvent, ConnectionState};

/// Sends waiting for their ack, by message id.
type Pending = Arc<Mutex<HashMap<MsgId, Waiting>>>;

/// A send waiting for its ack.
struct Waiting {
    ack: oneshot::Sender<Result<SendAck>>,
    /// Kept to deliver the message to ourselves when the ack comes: the
    /// node sends no copy of it back on the connection it came in on.
    envelope: Signed,
}

struct LiveTx {
    frames: mpsc::Sender<ClientFrame>,
    pending: Pending,
}

/// The client's handle on its live connection (if any).
#[derive(Default)]
pub struct LiveLink {
    inner: Mutex<Option<LiveTx>>,
}

impl LiveLink {
    fn set(&self, tx: Option<LiveTx>) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = tx;
    }

    /// Whether a live connection is up.
    pub fn is_up(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Send over the WebSocket and wait for the ack; `None` if not connected.
    pub(crate) async fn send(&self, envelope: &Signed) -> Option<Result<SendAck>> {
        let msg_id = onionchat_proto::crypto::message::decode(envelope)
            .ok()?
            .msg_id;
        let (frames, rx) = {
            let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let tx = guard.as_ref()?;
            let (ack_tx, ack_rx) = oneshot::channel();
            tx.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(
                msg_id,
                Waiting {
                    ack: ack_tx,
                    envelope: envelope.clone(),
                },
            );
            (tx.frames.clone(), ack_rx)
        };
        if frames
            .send(ClientFrame::Send {
                envelope: envelope.clone(),
            })
            .await
            .is_err()
        {
            return Some(Err(ClientError::Connect("live connection closed".into())));
        }
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(r)) => Some(r),
            _ => Some(Err(ClientError::Connect(
                "no acknowledgement over the live connection".into(),
            ))),
        }
    }
}

/// A running live session; stops when dropped.
pub struct LiveHandle {
    task: tokio::task::JoinHandle<()>,
    client: Arc<Client>,
}

impl Drop for LiveHandle {
    fn drop(&mut self) {
        self.task.abort();
        self.client.live.set(None);
        // Keep the sync cursors: the next start resumes from them.
        if let Err(e) = self.client.save() {
            tracing::warn!(error = %e, "could not save the profile");
        }
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Client {
    /// Start the live session (WebSocket with automatic reconnect). Events
    /// arrive on [`Client::subscribe`].
    pub fn start_live(self: &Arc<Self>) -> LiveHandle {
        let client = self.clone();
        let handle_client = self.clone();
        let task = tokio::spawn(async move {
            let mut backoff = Duration::from_millis(250);
            loop {
                client.emit(ClientEvent::Connection(ConnectionState::Connecting));
                if let Err(e) = client.live_once(&mut backoff).await {
                    tracing::debug!(error = %e, "live connection ended");
                }
                client.live.set(None);
                let _ = client.save();
                client.emit(ClientEvent::Connection(ConnectionState::Disconnected));
                let jitter = Duration::from_millis(u64::from(
                    onionchat_proto::crypto::random_array::<1>()[0],
                ));
                tokio::time::sleep(backoff + jitter).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        });
        LiveHandle {
            task,
            client: handle_client,
        }
    }

    /// Deliver what we missed in a room (history after the cursor).
    async fn catch_up(&self, room_id: RoomId) -> Result<()> {
        for item in self.sync(room_id).await? {
            self.emit(ClientEvent::Message(item));
        }
        Ok(())
    }

    async fn on_message(&self, m: StoredMessage) -> Result<()> {
        let cursor = self.cursor(m.room_id);
        if m.seq <= cursor {
            return Ok(()); // already delivered
        }
        if m.seq > cursor + 1 {
            return self.catch_up(m.room_id).await; // a gap: fill it from history
        }
        let item = self.open_stored(&m).await;
        let items = self.in_stream_order(m.room_id, vec![item]);
        self.set_cursor(m.room_id, m.seq, false)?;
        for item in items {
            self.emit(ClientEvent::Message(item));
        }
        Ok(())
    }

    async fn live_once(&self, backoff: &mut Duration) -> Result<()> {
        if self.api.token().is_none() {
            self.login().await?;
        }
        let stream = self
            .api
            .connector()
            .connect()
            .await
            .map_err(|e| ClientError::Connect(e.to_string()))?;
        let mut req = format!("ws://{}/v1/ws", self.api.connector().authority())
            .into_client_request()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let token = self.api.token().unwrap_or_default();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .map_err(|_| ClientError::Protocol("bad token".into()))?,
        );
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_WS_FRAME))
            .max_frame_size(Some(MAX_WS_FRAME));
        let (ws, _) =
            match tokio_tungstenite::client_async_with_config(req, stream, Some(config)).await {
                Ok(x) => x,
                Err(tokio_tungstenite::tungstenite::Error::Http(resp)) if resp.status() == 401 => {
                    self.api.set_token(None);
                    return Err(ClientError::Connect("session expired".into()));
                }
                Err(e) => return Err(ClientError::Connect(e.to_string())),
            };
        *backoff = Duration::from_millis(250);
        let (mut sink, mut stream) = ws.split();
        let (frames_tx, mut frames_rx) = mpsc::channel::<ClientFrame>(256);
        let pending: Pending = Arc::default();
        self.live.set(Some(LiveTx {
            frames: frames_tx,
            pending: pending.clone(),
        }));
        self.emit(ClientEvent::Connection(ConnectionState::Connected));
        // Resume every room from its cursor before handling live frames
        // (they wait in the socket; older ones are skipped by seq).
        for room in self.rooms().await? {
            self.catch_up(room.id).await?;
        }
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        // Any frame from the node (pongs included) shows it is there.
        let mut last_heard = tokio::time::Instant::now();
        let mut save_tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_saved: Option<zeroize::Zeroizing<Vec<u8>>> = None;
        let mut saver: Option<tokio::task::JoinHandle<()>> = None;
        let mut nonce = 0u64;
        loop {
            tokio::select! {
                incoming = stream.next() => {
                    let bytes = match incoming {
                        Some(Ok(Message::Binary(b))) => b,
                        Some(Ok(Message::Close(_))) | None => return Ok(()),
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Err(ClientError::Connect(e.to_string())),
                    };
                    last_heard = tokio::time::Instant::now();
                    let frame: ServerFrame = onionchat_proto::decode_with(&bytes, onionchat_proto::Limits::with_max_len(MAX_WS_FRAME))
                        .map_err(|e| ClientError::Protocol(e.to_string()))?;
                    self.on_frame(frame, &pending).await?;
                }
                out = frames_rx.recv() => {
                    let Some(out) = out else { return Ok(()) };
                    let bytes = onionchat_proto::encode(&out)?;
                    write_frame(&mut sink, bytes).await?;
                }
                _ = keepalive.tick() => {
                    if node_went_quiet(last_heard.elapsed()) {
                        // A dead circuit can look open for minutes: reconnect.
                        return Err(ClientError::Connect(format!(
                            "the node has not answered for {} s; reconnecting",
                            last_heard.elapsed().as_secs()
                        )));
                    }
                    nonce += 1;
                    let bytes = onionchat_proto::encode(&ClientFrame::Ping { nonce })?;
                    write_frame(&mut sink, bytes).await?;
                }
                _ = save_tick.tick() => {
                    // Persist cursors (and anything else that changed) once
                    // a second, only when something did, and off this loop:
                    // an fsync must not hold up frames or sends.
                    let state = zeroize::Zeroizing::new(onionchat_proto::encode(&self.profile().data)?);
                    let idle = saver.as_ref().is_none_or(|h: &tokio::task::JoinHandle<()>| h.is_finished());
                    if idle && last_saved.as_ref().map(|v| v.as_slice()) != Some(state.as_slice()) {
                        let snapshot = self.profile().snapshot()?;
                        last_saved = Some(state);
                        saver = Some(tokio::task::spawn_blocking(move || {
                            if let Err(e) = snapshot.write() {
                                tracing::warn!(error = %e, "cannot save the profile");
                            }
                        }));
                    }
                }
            }
        }
    }

    async fn on_frame(&self, frame: ServerFrame, pending: &Pending) -> Result<()> {
        let waiting = |id: MsgId| {
            pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id)
        };
        match frame {
            ServerFrame::Message(m) => self.on_message(m).await?,
            ServerFrame::Ack(ack) => {
                if let Some(w) = waiting(ack.msg_id) {
                    // Our own message, delivered from the ack exactly as a
                    // copy from the node would be (verified, decrypted, in
                    // seq order), before `send` returns.
                    let own = StoredMessage {
                        room_id: ack.room_id,
                        seq: ack.seq,
                        server_time: ack.server_time,
                        sender: self.me(),
                        envelope: w.envelope,
                        erased: false,
                    };
                    let delivered = self.on_message(own).await;
                    let _ = w.ack.send(Ok(ack));
                    delivered?;
                }
            }
            ServerFrame::Error {
                msg_id: Some(id),
                error,
            } => {
                if let Some(w) = waiting(id) {
                    let _ = w.ack.send(Err(ClientError::Api(error)));
                }
            }
            ServerFrame::Error {
                msg_id: None,
                error,
            } => tracing::warn!(error = %error, "the node reported an error"),
            ServerFrame::Typing { room_id, user } => {
                self.emit(ClientEvent::Typing { room_id, user })
            }
            ServerFrame::Presence { user, online, .. } => {
                self.emit(ClientEvent::Presence { user, online })
            }
            ServerFrame::Receipt {
                room_id,
                user,
                delivered_seq,
                read_seq,
            } => self.emit(ClientEvent::Receipt {
                room_id,
                user,
                delivered_seq,
                read_seq,
            }),
            ServerFrame::File(info) => self.emit(ClientEvent::File(info)),
            ServerFrame::FileDeleted { room_id, file_id } => {
                self.emit(ClientEvent::FileDeleted { room_id, file_id })
            }
            ServerFrame::Room(room) => {
                let id = room.id;
                match self.verify_room(room).await {
                    Ok(room) => {
                        self.remember_room(&room);
                        self.emit(ClientEvent::Room(room));
                        self.catch_up(id).await?;
                    }
                    // Refused and reported (a `Security` event); the room
                    // stays as we last verified it.
                    Err(ClientError::Untrusted(_)) => self.forget_room(id),
                    Err(e) => return Err(e),
                }
            }
            ServerFrame::RoomLeft { room_id } => {
                self.forget_room(room_id);
                self.emit(ClientEvent::RoomLeft(room_id));
            }
            ServerFrame::FriendRequest(r) => self.emit(ClientEvent::FriendRequest(r)),
            ServerFrame::Hello { .. } | ServerFrame::Pong { .. } => {}
        }
        Ok(())
    }

    /// Tell room members we are typing (live connection only).
    pub async fn typing(&self, room_id: RoomId) {
        let frames = self
            .live
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|t| t.frames.clone());
        if let Some(f) = frames {
            let _ = f.send(ClientFrame::Typing { room_id }).await;
        }
    }
}

/// How often the live connection pings the node.
const KEEPALIVE: Duration = Duration::from_secs(25);
/// How long the node may take to answer a ping (over Tor).
const PONG_WAIT: Duration = Duration::from_secs(20);
/// Longest one frame may take to leave.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a connection that has heard nothing for `silent` is dead: a
/// ping went out at least one keepalive ago and no pong (nor anything else)
/// came back in time.
fn node_went_quiet(silent: Duration) -> bool {
    silent > KEEPALIVE + PONG_WAIT
}

/// Write one frame, giving up (as a connection error) after
/// [`WRITE_TIMEOUT`] so a stalled circuit cannot hold the loop.
async fn write_frame<S>(sink: &mut S, bytes: Vec<u8>) -> Result<()>
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    match tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Binary(bytes.into()))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ClientError::Connect(e.to_string())),
        Err(_) => Err(ClientError::Connect(
            "the node took no data for 30 s; reconnecting".into(),
        )),
    }
}

#[cfg(test)]
mod keepalive_tests {
    use super::*;

    #[test]
    fn a_node_that_stops_answering_pings_counts_as_gone() {
        // Just pinged, or answered within the wait: alive.
        assert!(!node_went_quiet(Duration::ZERO));
        assert!(!node_went_quiet(KEEPALIVE + PONG_WAIT));
        // A whole keepalive and the pong wait without a word: dead.
        assert!(node_went_quiet(
            KEEPALIVE + PONG_WAIT + Duration::from_secs(1)
        ));
        // Checked at each keepalive tick, a dead connection is noticed
        // within two ticks of going quiet.
        assert!(node_went_quiet(KEEPALIVE * 2));
    }
}
