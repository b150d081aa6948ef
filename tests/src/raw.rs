//! Raw HTTP against the node, for requests a well-behaved client never makes.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use onionchat_proto::wire::{ApiError, ErrorCode};

/// A raw response.
#[derive(Debug)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The machine-readable error code in the body.
    pub fn code(&self) -> Option<ErrorCode> {
        onionchat_proto::decode::<ApiError>(&self.body)
            .ok()
            .map(|e| e.code)
    }
}

/// Send one request on a fresh connection.
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> RawResponse {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let resp = sender.send_request(req).await.expect("send");
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    RawResponse { status, body }
}

/// POST CBOR with an optional bearer token.
pub async fn post_cbor(addr: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> RawResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/cbor")];
    if let Some(a) = auth.as_deref() {
        headers.push(("authorization", a));
    }
    request(addr, "POST", path, &headers, body).await
}

/// GET with an optional bearer token.
pub async fn get(addr: &str, path: &str, token: Option<&str>) -> RawResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![];
    if let Some(a) = auth.as_deref() {
        headers.push(("authorization", a));
    }
    request(addr, "GET", path, &headers, Vec::new()).await
}
