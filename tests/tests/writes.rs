//! How requests and frames leave the client: each HTTP request (head and
//! body) and each WebSocket frame must reach the transport stream as one
//! write followed by one flush.
//!
//! Why it matters: over Tor, the stream turns writes into cells, and C tor
//! relays keep Nagle's algorithm on. A request that leaves in two pieces can
//! have its second piece held by a relay until the next relay's delayed ACK
//! (40 ms on Linux) — once per hop that splits it (docs/benchmark-history.md, Tor).
//!
//! The client runs against the real node binary over real TCP sockets; the
//! connector only records what the client hands the socket.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use onionchat_client::Client;
use onionchat_client::transport::{BoxStream, ConnectFuture, Connector, TcpConnector};
use onionchat_tests::{Node, PASS};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One call the client made on a stream.
#[derive(Debug, Clone)]
enum Op {
    Write(Vec<u8>),
    Flush,
}

/// Every stream's calls, by connection number.
type Log = Arc<Mutex<Vec<(usize, Op)>>>;

/// A real TCP connector whose streams note every write and flush.
struct Recording {
    inner: TcpConnector,
    log: Log,
    next: Arc<Mutex<usize>>,
}

struct Recorded {
    inner: BoxStream,
    id: usize,
    log: Log,
}

impl Connector for Recording {
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(async move {
            let inner = self.inner.connect().await?;
            let id = {
                let mut n = self.next.lock().expect("lock");
                *n += 1;
                *n
            };
            Ok(Box::new(Recorded {
                inner,
                id,
                log: self.log.clone(),
            }) as BoxStream)
        })
    }

    fn authority(&self) -> String {
        self.inner.authority()
    }
}

impl AsyncRead for Recorded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Recorded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            let op = Op::Write(buf[..*n].to_vec());
            self.log.lock().expect("lock").push((self.id, op));
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = &r {
            self.log.lock().expect("lock").push((self.id, Op::Flush));
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The length of the whole HTTP request at the start of `bytes` (head and
/// `Content-Length` body), or None if the head is not complete.
fn http_request_len(bytes: &[u8]) -> Option<usize> {
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&bytes[..head_end]).ok()?;
    let body = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    Some(head_end + body)
}

/// (opcode, whole frame length) of the WebSocket frame at the start of
/// `bytes`, or None if its header is not complete.
fn ws_frame(bytes: &[u8]) -> Option<(u8, usize)> {
    let (b0, b1) = (*bytes.first()?, *bytes.get(1)?);
    let (mut header, len) = match b1 & 0x7f {
        126 => (
            4,
            u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?) as usize,
        ),
        127 => (
            10,
            u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?) as usize,
        ),
        n => (2, n as usize),
    };
    if b1 & 0x80 != 0 {
        header += 4; // the client's mask
    }
    Some((b0 & 0x0f, header + len))
}

/// Each connection's writes, each followed by its flush, as
/// `(connection, bytes)`; panics if two writes come without a flush between.
fn writes_each_flushed(log: &[(usize, Op)]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut unflushed: std::collections::HashMap<usize, Vec<u8>> = Default::default();
    for (id, op) in log {
        match op {
            Op::Write(b) => {
                if let Some(prev) = unflushed.insert(*id, b.clone()) {
                    panic!(
                        "connection {id}: a write of {} bytes followed a write of {} bytes \
                         without a flush between (one message in two writes)",
                        b.len(),
                        prev.len()
                    );
                }
            }
            Op::Flush => {
                if let Some(b) = unflushed.remove(id) {
                    out.push((*id, b));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_and_frame_is_one_write_and_one_flush() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, room) = onionchat_tests::two_friends(&node, tmp.path()).await;
    drop(ann);

    // ann again, through the recording connector.
    let log: Log = Arc::default();
    let conn = Arc::new(Recording {
        inner: TcpConnector::new(node.addr.clone()),
        log: log.clone(),
        next: Arc::default(),
    });
    let ann = Arc::new(
        Client::open(&tmp.path().join("ann"), PASS, move |_| {
            Ok(conn as Arc<dyn Connector>)
        })
        .expect("open"),
    );

    // Over HTTP (no live session): a long text, so that the body is larger
    // than a Tor cell and than the head.
    let long = "x".repeat(3000);
    ann.send_text(room, &long).await.expect("http send");
    ann.send_text(room, "short").await.expect("http send");
    // Live: the WebSocket.
    let mut events = ann.subscribe();
    let _live = ann.start_live();
    onionchat_tests::wait_connected(&mut events, 30).await;
    let mut bob_events = bob.subscribe();
    let _bob_live = bob.start_live();
    onionchat_tests::wait_connected(&mut bob_events, 30).await;
    ann.send_text(room, &long).await.expect("live send");
    ann.send_text(room, "live short").await.expect("live send");
    onionchat_tests::wait_text(&mut bob_events, 30, "live short").await;
    // Let the sender's last acks and flushes land.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(events);

    let log = log.lock().expect("lock").clone();
    let writes = writes_each_flushed(&log);
    let (mut requests, mut posts, mut frames, mut binary_frames) = (0, 0, 0, 0);
    let mut upgraded = std::collections::HashSet::new();
    for (id, bytes) in &writes {
        if upgraded.contains(id) {
            let (opcode, len) = ws_frame(bytes).expect("a frame header");
            assert_eq!(
                len,
                bytes.len(),
                "connection {id}: a write is not exactly one WebSocket frame (opcode {opcode})"
            );
            frames += 1;
            if opcode == 2 && len > 3000 {
                binary_frames += 1;
            }
        } else {
            let len = http_request_len(bytes).unwrap_or_else(|| {
                panic!(
                    "connection {id}: a write without a whole request head: {:?}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
                )
            });
            assert_eq!(
                len,
                bytes.len(),
                "connection {id}: a request's head and body left in different writes"
            );
            requests += 1;
            let head = String::from_utf8_lossy(bytes).to_ascii_lowercase();
            if head.starts_with("post ") && bytes.len() > 3000 {
                posts += 1;
            }
            if head.contains("upgrade: websocket") {
                upgraded.insert(*id);
            }
        }
    }
    // The log really saw what this test is about.
    assert!(posts >= 1, "no long POST recorded ({requests} requests)");
    assert!(!upgraded.is_empty(), "no WebSocket upgrade recorded");
    assert!(
        binary_frames >= 1,
        "no long message frame recorded ({frames} frames)"
    );
}

/// The checks above catch a split request: head and body in two writes
/// before one flush, or a head written and flushed without its body.
#[test]
#[should_panic(expected = "without a flush between")]
fn two_writes_before_a_flush_are_caught() {
    let log = vec![
        (
            1,
            Op::Write(b"POST /v1/x HTTP/1.1\r\ncontent-length: 3\r\n\r\n".to_vec()),
        ),
        (1, Op::Write(b"abc".to_vec())),
        (1, Op::Flush),
    ];
    writes_each_flushed(&log);
}

#[test]
fn a_head_without_its_body_is_caught() {
    let head = b"POST /v1/x HTTP/1.1\r\nContent-Length: 3\r\n\r\n".to_vec();
    assert_eq!(http_request_len(&head), Some(head.len() + 3));
    let mut whole = head.clone();
    whole.extend_from_slice(b"abc");
    assert_eq!(http_request_len(&whole), Some(whole.len()));
    // A masked binary frame with a 2-byte payload: 2 + 4 + 2 bytes.
    assert_eq!(ws_frame(&[0x82, 0x82, 1, 2, 3, 4, 9, 9]), Some((2, 8)));
    assert_eq!(ws_frame(&[0x82, 0xfe, 0x01, 0x00]), Some((2, 4 + 4 + 256)));
}
