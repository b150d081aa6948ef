//! Error bodies for the answers hyper gives by itself.
//!
//! When a request cannot even be parsed (a bad request line or header, a
//! bad `Content-Length`, a TLS hello on the plain port, a URI or header
//! block over hyper's limits), hyper answers 400, 414 or 431 **with no
//! body** and closes, before any of our code runs — and hyper has no hook
//! for those responses. The protocol promises a CBOR `ApiError` on every
//! error, so the connection's byte stream is wrapped: a response head that
//! is one of those automatic answers (one of these statuses, an empty body,
//! and no `Content-Type`, which every response of ours has) is rewritten on
//! its way out into the same status with a CBOR body and `connection:
//! close`. Everything else passes through untouched.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use onionchat_proto::wire::{ApiError, ErrorCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A server-side stream that adds bodies to hyper's automatic errors.
pub struct ErrorBodies<S> {
    inner: S,
    /// A rewritten response still to be written, and how much of it is.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> ErrorBodies<S> {
    /// Wrap a connection's stream.
    pub fn new(inner: S) -> Self {
        ErrorBodies {
            inner,
            pending: None,
        }
    }
}

/// The error a bare automatic answer with `status` stands for.
fn error_for(status: u16) -> Option<ApiError> {
    let (code, message) = match status {
        400 => (
            ErrorCode::Malformed,
            "this is not an HTTP/1.1 request the node can read (request line, a header, or Content-Length)",
        ),
        414 => (ErrorCode::UriTooLong, "the request's path is too long"),
        431 => (
            ErrorCode::HeadersTooLarge,
            "the request's headers are too many or too large",
        ),
        _ => return None,
    };
    Some(ApiError::new(code, message))
}

/// If `head` is one whole automatic error response of hyper's, the same
/// response with a CBOR body; otherwise `None`.
pub fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let rest = head.strip_prefix(b"HTTP/1.1 ")?;
    if !head.ends_with(b"\r\n\r\n") || rest.len() < 3 {
        return None;
    }
    let status: u16 = std::str::from_utf8(&rest[..3]).ok()?.parse().ok()?;
    let error = error_for(status)?;
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.trim_end_matches("\r\n").split("\r\n");
    let status_line = lines.next()?;
    let mut kept = Vec::new();
    let mut empty_body = false;
    for line in lines {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("content-type:") || lower.starts_with("transfer-encoding:") {
            return None;
        }
        if let Some(len) = lower.strip_prefix("content-length:") {
            empty_body = len.trim() == "0";
            continue;
        }
        if lower.starts_with("connection:") {
            continue;
        }
        kept.push(line);
    }
    if !empty_body {
        return None;
    }
    let body = onionchat_proto::encode(&error).ok()?;
    let mut out = format!("{status_line}\r\n");
    for line in kept {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "content-type: application/cbor\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl<S: AsyncWrite + Unpin> ErrorBodies<S> {
    /// Write what is pending; ready once nothing is.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while let Some((bytes, done)) = &mut self.pending {
            if *done == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ErrorBodies<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ErrorBodies<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        // hyper writes a response head in one buffer (this stream is not
        // vectored, so it flattens), so an automatic answer arrives whole.
        if buf.starts_with(b"HTTP/1.1 ")
            && let Some(out) = rewrite(buf)
        {
            this.pending = Some((out, 0));
            // Taken; written by this and the following polls.
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_hypers_bare_error_answers() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sun, 29 Nov 2026 05:00:00 GMT\r\n\r\n";
        let out = rewrite(bare).expect("rewritten");
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(text.contains("content-type: application/cbor\r\n"));
        assert!(text.contains("connection: close\r\n"));
        assert!(text.contains("date: Sun"));
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head end")
            + 4;
        let err: ApiError = onionchat_proto::decode(&out[split..]).expect("cbor body");
        assert_eq!(err.code, ErrorCode::HeadersTooLarge);
        assert_eq!(err.code.http_status(), 431);
        assert!(text.contains(&format!("content-length: {}\r\n", out.len() - split)));

        // Our own responses, bodies, and other statuses pass through.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/cbor\r\ncontent-length: 0\r\n\r\n";
        assert!(rewrite(ours).is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n";
        assert!(rewrite(with_body).is_none());
        assert!(rewrite(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n").is_none());
        assert!(rewrite(b"\x82\x7eHTTP/1.1 400").is_none());
    }
}
