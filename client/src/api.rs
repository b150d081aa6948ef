//! HTTP/1.1 to the node over any [`Connector`]: one kept-alive connection
//! for API calls (Tor circuits are expensive to build), fresh connections
//! for bulk file transfers.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use onionchat_proto::wire::{ApiError, ErrorCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ClientError, Result};
use crate::transport::Connector;

/// Request body type.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// Largest API response read into memory.
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// A full body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// The HTTP side of the API.
pub struct Api {
    connector: Arc<dyn Connector>,
    conn: tokio::sync::Mutex<Option<SendRequest<Body>>>,
    token: std::sync::Mutex<Option<String>>,
}

async fn handshake(connector: &dyn Connector) -> Result<SendRequest<Body>> {
    let stream = connector
        .connect()
        .await
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Turn an error response into a [`ClientError`].
pub async fn error_from(resp: Response<hyper::body::Incoming>) -> ClientError {
    let status = resp.status();
    match Limited::new(resp.into_body(), 64 * 1024).collect().await {
        Ok(b) => match onionchat_proto::decode::<ApiError>(&b.to_bytes()) {
            Ok(e) => ClientError::Api(e),
            Err(_) => ClientError::Protocol(format!("HTTP {status} without an error body")),
        },
        Err(e) => ClientError::Connect(e.to_string()),
    }
}

impl Api {
    /// An API client for the node behind `connector`.
    pub fn new(connector: Arc<dyn Connector>) -> Self {
        Api {
            connector,
            conn: tokio::sync::Mutex::new(None),
            token: std::sync::Mutex::new(None),
        }
    }

    /// The connector (for WebSocket and file transfers).
    pub fn connector(&self) -> &Arc<dyn Connector> {
        &self.connector
    }

    /// Use this session token from now on.
    pub fn set_token(&self, token: Option<String>) {
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = token;
    }

    /// The current session token.
    pub fn token(&self) -> Option<String> {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Forget the kept-alive connection (after a network change).
    pub async fn reset(&self) {
        *self.conn.lock().await = None;
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> Result<Request<Body>> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.connector.authority());
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        if let Some(t) = self.token() {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b.body(body)
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Send a request on the kept-alive connection (reconnecting if it was
    /// closed before the request went out).
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response<hyper::body::Incoming>> {
        let mut guard = self.conn.lock().await;
        for attempt in 0..2 {
            if guard.as_ref().is_none_or(|s| s.is_closed()) {
                *guard = Some(handshake(self.connector.as_ref()).await?);
            }
            let Some(sender) = guard.as_mut() else {
                continue;
            };
            if sender.ready().await.is_err() {
                *guard = None;
                continue;
            }
            let (ct, b) = match &body {
                Some(bytes) => (Some("application/cbor"), full(bytes.clone())),
                None => (None, full(Bytes::new())),
            };
            let req = self.build(method.clone(), path, ct, b)?;
            match sender.send_request(req).await {
                Ok(resp) => return Ok(resp),
                // The request may have been cut off before the node saw it
                // (idle connection closed): retry once on a new connection.
                Err(e) if attempt == 0 && (e.is_canceled() || e.is_closed()) => *guard = None,
                Err(e) => {
                    *guard = None;
                    return Err(ClientError::Connect(e.to_string()));
                }
            }
        }
        Err(ClientError::Connect(
            "the connection to the node keeps closing".into(),
        ))
    }

    /// A CBOR request with a CBOR answer.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Req>,
    ) -> Result<Resp> {
        let bytes = body.map(onionchat_proto::encode).transpose()?;
        let resp = self.send(method, path, bytes).await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let bytes = Limited::new(resp.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| ClientError::Connect(e.to_string()))?
            .to_bytes();
        onionchat_proto::decode_with(&bytes, onionchat_proto::Limits::with_max_len(MAX_RESPONSE))
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// A request whose answer has no body (204).
    pub async fn call_empty<Req: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Req>,
    ) -> Result<()> {
        let bytes = body.map(onionchat_proto::encode).transpose()?;
        let resp = self.send(method, path, bytes).await?;
        if resp.status() == StatusCode::NO_CONTENT || resp.status().is_success() {
            return Ok(());
        }
        Err(error_from(resp).await)
    }

    /// GET.
    pub async fn get<Resp: DeserializeOwned>(&self, path: &str) -> Result<Resp> {
        self.call::<(), Resp>(Method::GET, path, None).await
    }

    /// POST with a CBOR body.
    pub async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// A request on its own new connection (file transfers), so it does not
    /// hold up API calls.
    pub async fn send_dedicated(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Body,
    ) -> Result<Response<hyper::body::Incoming>> {
        let mut sender = handshake(self.connector.as_ref()).await?;
        let mut req = self.build(method, path, Some("application/octet-stream"), body)?;
        for (k, v) in headers {
            let name = hyper::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            let value = hyper::header::HeaderValue::from_str(v)
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            req.headers_mut().insert(name, value);
        }
        sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Connect(e.to_string()))
    }
}

/// Whether an error means "log in again".
pub fn is_unauthorized(e: &ClientError) -> bool {
    e.code() == Some(ErrorCode::Unauthorized)
}
