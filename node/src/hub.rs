//! Live delivery to connected WebSocket sessions.
//!
//! Each connection has a bounded outgoing queue, bounded twice: in frames
//! and in bytes. A frame is encoded once and shared by every recipient,
//! but a connection that has not sent it yet keeps it alive, so a stalled
//! reader in a busy room would pin up to [`CONN_QUEUE`] frames of up to
//! 160 KiB each (tens of MiB on a box with 512) if only frames were
//! counted. If either bound is reached, the connection is told to close
//! ("slow consumer") instead of buffering more; the client reconnects and
//! catches up from history.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use onionchat_proto::wire::{RoomId, ServerFrame, UserId};
use tokio::sync::{Notify, mpsc};

/// Frames one connection may have queued before it counts as too slow.
pub const CONN_QUEUE: usize = 256;

/// Bytes one connection may have queued before it counts as too slow (a
/// few seconds of a busy room over Tor; a dozen maximum-size messages).
pub const CONN_QUEUE_BYTES: usize = 2 * 1024 * 1024;

/// A frame to publish after a commit.
#[derive(Debug, Clone)]
pub struct Event {
    /// Who receives it (all their connections).
    pub to: Vec<UserId>,
    /// What they receive.
    pub frame: ServerFrame,
    /// A connection that skips it: the one a message was sent on, which
    /// gets the ack instead (it carries the seq, and the sender has the
    /// plaintext). One frame fewer across Tor per message, and the
    /// recipients' copies are the only ones written at commit time.
    pub except: Option<u64>,
}

impl Event {
    /// An event for `to`.
    pub fn new(to: Vec<UserId>, frame: ServerFrame) -> Self {
        Event {
            to,
            frame,
            except: None,
        }
    }

    /// The same event, skipping connection `conn` (a [`Registration::id`]).
    pub fn skipping(mut self, conn: Option<u64>) -> Self {
        self.except = conn;
        self
    }
}

/// What a connection's writer task sends.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Encoded CBOR frame.
    pub bytes: bytes::Bytes,
    /// For message frames: (room, seq), to record delivery once written.
    pub delivers: Option<(RoomId, u64)>,
}

struct Conn {
    id: u64,
    tx: mpsc::Sender<Outgoing>,
    /// Bytes in `tx` not yet taken by the connection's writer.
    queued: Arc<AtomicUsize>,
    kick: Arc<Notify>,
    /// Hash of the session token the connection was opened with.
    session: [u8; 32],
    ended: Arc<Notify>,
}

/// Presence changes the hub reports to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceChange {
    /// The user's first connection opened.
    Online,
    /// The user's last connection closed.
    Offline,
    /// Nothing changed for others.
    None,
}

/// A connection's queue of frames to write, counting the bytes in it.
pub struct Inbox {
    rx: mpsc::Receiver<Outgoing>,
    queued: Arc<AtomicUsize>,
}

impl Inbox {
    /// The next frame (`None` once the hub dropped the connection).
    pub async fn recv(&mut self) -> Option<Outgoing> {
        let out = self.rx.recv().await?;
        self.queued.fetch_sub(out.bytes.len(), Ordering::Relaxed);
        Some(out)
    }

    /// The next frame if one is waiting.
    pub fn try_recv(&mut self) -> Result<Outgoing, mpsc::error::TryRecvError> {
        let out = self.rx.try_recv()?;
        self.queued.fetch_sub(out.bytes.len(), Ordering::Relaxed);
        Ok(out)
    }
}

/// The registry of live connections.
#[derive(Default)]
pub struct Hub {
    conns: Mutex<HashMap<UserId, Vec<Conn>>>,
    next_id: AtomicU64,
    sessions: AtomicU64,
}

/// A registered connection.
pub struct Registration {
    /// Id within the hub.
    pub id: u64,
    /// Frames to write to the socket.
    pub rx: Inbox,
    /// Notified when the connection is too slow and must close.
    pub kick: Arc<Notify>,
    /// Notified when its session ends (logout): the connection must close.
    pub ended: Arc<Notify>,
    /// Whether this made the user come online.
    pub presence: PresenceChange,
}

impl Hub {
    /// Add a connection for `user`, opened with the session whose token
    /// hashes to `session`.
    pub fn register(&self, user: UserId, session: [u8; 32]) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(CONN_QUEUE);
        let queued = Arc::new(AtomicUsize::new(0));
        let kick = Arc::new(Notify::new());
        let ended = Arc::new(Notify::new());
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let list = conns.entry(user).or_default();
        let presence = if list.is_empty() {
            PresenceChange::Online
        } else {
            PresenceChange::None
        };
        list.push(Conn {
            id,
            tx,
            queued: queued.clone(),
            kick: kick.clone(),
            session,
            ended: ended.clone(),
        });
        self.sessions.fetch_add(1, Ordering::Relaxed);
        Registration {
            id,
            rx: Inbox { rx, queued },
            kick,
            ended,
            presence,
        }
    }

    /// Close every connection of `user` (the account was removed).
    pub fn end_user(&self, user: UserId) -> usize {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let list = conns.get(&user).map(Vec::as_slice).unwrap_or_default();
        for conn in list {
            conn.ended.notify_one();
        }
        list.len()
    }

    /// Close every connection of the session whose token hashes to
    /// `session` (it logged out). Returns how many there were.
    pub fn end_session(&self, session: &[u8; 32]) -> usize {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for conn in conns.values().flatten().filter(|c| &c.session == session) {
            conn.ended.notify_one();
            n += 1;
        }
        n
    }

    /// Remove a connection; reports whether the user went offline.
    pub fn unregister(&self, user: UserId, id: u64) -> PresenceChange {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let Some(list) = conns.get_mut(&user) else {
            return PresenceChange::None;
        };
        let before = list.len();
        list.retain(|c| c.id != id);
        if list.len() < before {
            self.sessions.fetch_sub(1, Ordering::Relaxed);
        }
        if list.is_empty() {
            conns.remove(&user);
            PresenceChange::Offline
        } else {
            PresenceChange::None
        }
    }

    /// Whether `user` has a live connection.
    pub fn is_online(&self, user: UserId) -> bool {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        conns.contains_key(&user)
    }

    /// Number of open connections.
    pub fn sessions(&self) -> u64 {
        self.sessions.load(Ordering::Relaxed)
    }

    /// Number of distinct connected users.
    pub fn online_users(&self) -> u64 {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        conns.len() as u64
    }

    /// Deliver events to every connection of their recipients, never blocking.
    pub fn publish(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        for event in events {
            let delivers = match &event.frame {
                ServerFrame::Message(m) => Some((m.room_id, m.seq)),
                _ => None,
            };
            let bytes = match onionchat_proto::encode(&event.frame) {
                Ok(b) => bytes::Bytes::from(b),
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode a frame");
                    continue;
                }
            };
            for user in &event.to {
                for conn in conns.get(user).into_iter().flatten() {
                    if event.except == Some(conn.id) {
                        continue;
                    }
                    let out = Outgoing {
                        bytes: bytes.clone(),
                        delivers,
                    };
                    let queued = conn.queued.fetch_add(bytes.len(), Ordering::Relaxed);
                    if queued + bytes.len() > CONN_QUEUE_BYTES || conn.tx.try_send(out).is_err() {
                        // Full (or closing): too slow to keep up. Close it;
                        // the client resumes from history.
                        conn.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
                        conn.kick.notify_one();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typing(room: RoomId, user: UserId) -> ServerFrame {
        ServerFrame::Typing {
            room_id: room,
            user,
        }
    }

    #[test]
    fn publish_reaches_every_connection_but_the_skipped_one() {
        let hub = Hub::default();
        let (ann, bob) = (UserId(1), UserId(2));
        let mut ann_sending = hub.register(ann, [1; 32]);
        let mut ann_other = hub.register(ann, [1; 32]);
        let mut bob_conn = hub.register(bob, [2; 32]);
        let room = RoomId::random();
        hub.publish(vec![
            Event::new(vec![ann, bob], typing(room, ann)).skipping(Some(ann_sending.id)),
        ]);
        let frame =
            |out: Outgoing| onionchat_proto::decode::<ServerFrame>(&out.bytes).expect("frame");
        assert_eq!(
            frame(ann_other.rx.try_recv().expect("other")),
            typing(room, ann)
        );
        assert_eq!(
            frame(bob_conn.rx.try_recv().expect("bob")),
            typing(room, ann)
        );
        assert!(
            ann_sending.rx.try_recv().is_err(),
            "the sending connection is skipped"
        );
        // Without `skipping`, every connection gets it.
        hub.publish(vec![Event::new(vec![ann], typing(room, bob))]);
        assert_eq!(
            frame(ann_sending.rx.try_recv().expect("sending")),
            typing(room, bob)
        );
        assert_eq!(
            frame(ann_other.rx.try_recv().expect("other")),
            typing(room, bob)
        );
    }

    #[test]
    fn a_reader_that_stops_is_cut_off_by_bytes_before_frames() {
        let hub = Hub::default();
        let (ann, bob) = (UserId(1), UserId(2));
        let mut stalled = hub.register(bob, [2; 32]);
        let mut reading = hub.register(ann, [1; 32]);
        // A long message (60 KiB of text) over and over: far fewer than
        // CONN_QUEUE frames fill CONN_QUEUE_BYTES.
        let long = ServerFrame::Error {
            msg_id: None,
            error: onionchat_proto::wire::ApiError::new(
                onionchat_proto::wire::ErrorCode::Invalid,
                "x".repeat(60 * 1024),
            ),
        };
        let per = onionchat_proto::encode(&long).expect("encode").len();
        let fits = CONN_QUEUE_BYTES / per;
        assert!(fits + 1 < CONN_QUEUE, "the byte bound is the one tested");
        for _ in 0..fits {
            hub.publish(vec![Event::new(vec![bob], long.clone())]);
        }
        assert!(
            !was_kicked(&stalled.kick),
            "not kicked while within its byte budget"
        );
        hub.publish(vec![Event::new(vec![bob, ann], long.clone())]);
        assert!(
            was_kicked(&stalled.kick),
            "kicked once its queue holds more than CONN_QUEUE_BYTES"
        );
        // The one that reads got its copy and is not kicked; taking frames
        // gives budget back.
        assert!(reading.rx.try_recv().is_ok());
        assert!(!was_kicked(&reading.kick));
        let mut drained = 0;
        while stalled.rx.try_recv().is_ok() {
            drained += 1;
        }
        assert_eq!(drained, fits);
        hub.publish(vec![Event::new(vec![bob], long)]);
        assert!(stalled.rx.try_recv().is_ok(), "room again once read");
    }

    /// Whether `kick` was notified (consumes the notification).
    fn was_kicked(kick: &Notify) -> bool {
        let notified = std::pin::pin!(kick.notified());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        notified.poll(&mut cx).is_ready()
    }
}
