//! One way to serve the API on any byte stream: TCP now, Arti onion-service
//! streams and the local control socket use the same function.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Most connections served at once per listener (more wait to be accepted).
pub const MAX_CONNECTIONS: usize = 4096;

/// How long a client may take to send a request's headers — from when the
/// connection is ready for the next request. A slow (or stuck, or hostile)
/// client cannot hold one of the connection slots longer than this.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest request head (request line and headers) the node reads.
pub const MAX_REQUEST_HEAD: usize = 32 * 1024;
/// The longest path (with its query) the node reads: `414` past it.
pub const MAX_REQUEST_URI: usize = 8 * 1024;
/// The most header lines a request may have.
pub const MAX_REQUEST_HEADERS: usize = 64;

/// Serve HTTP/1.1 (with WebSocket upgrades) on one stream until it closes
/// or `shutdown` fires, then finish the request in flight.
pub async fn serve_connection<S>(stream: S, app: Router, watcher: Watcher, header_timeout: Duration)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let app = app.clone();
        async move {
            use axum::response::IntoResponse;
            use tower::ServiceExt;
            if req.uri().path_and_query().map_or(0, |p| p.as_str().len()) > MAX_REQUEST_URI {
                // Like hyper's own refusals, it ends the connection: what
                // follows on it is not worth reading.
                let mut resp = crate::error::Failure::reject(
                    onionchat_proto::wire::ErrorCode::UriTooLong,
                    "the request's path is too long",
                )
                .into_response();
                resp.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
                return Ok::<_, Infallible>(resp);
            }
            Ok::<_, Infallible>(
                app.oneshot(req.map(axum::body::Body::new))
                    .await
                    .unwrap_or_else(|e| match e {}),
            )
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        // A request head (line and headers) over 32 KiB, or with more than
        // 64 header lines, gets 431 (protocol §13): nothing we serve needs
        // more, and hyper would otherwise buffer up to 400 KiB of it.
        .max_buf_size(MAX_REQUEST_HEAD)
        .max_headers(MAX_REQUEST_HEADERS);
    // hyper's own answers to unreadable requests get CBOR error bodies.
    let stream = crate::http::raw_errors::ErrorBodies::new(stream);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let conn = watcher.watch(conn.into_owned());
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Accept loop for any listener-like source of streams.
pub async fn serve_incoming<S, F, Fut>(
    mut accept: F,
    app: Router,
    shutdown: CancellationToken,
    header_timeout: Duration,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<S>>,
{
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.cancelled() => break,
        };
        let stream = tokio::select! {
            s = accept() => match s { Some(s) => s, None => break },
            _ = shutdown.cancelled() => break,
        };
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            serve_connection(stream, app, watcher, header_timeout).await;
            drop(permit);
        });
    }
    // Stop accepting; let in-flight requests finish (bounded wait).
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), graceful.shutdown()).await;
}

/// Serve on a TCP listener.
pub async fn serve_tcp(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    header_timeout: Duration,
) {
    let listener = Arc::new(listener);
    serve_incoming(
        move || {
            let listener = listener.clone();
            async move {
                loop {
                    match listener.accept().await {
                        Ok((s, _)) => {
                            let _ = s.set_nodelay(true);
                            return Some(s);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                    }
                }
            }
        },
        app,
        shutdown,
        header_timeout,
    )
    .await;
}
