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

/// Serve HTTP/1.1 (with WebSocket upgrades) on one stream until it closes
/// or `shutdown` fires, then finish the request in flight.
pub async fn serve_connection<S>(stream: S, app: Router, watcher: Watcher, header_timeout: Duration)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let app = app.clone();
        async move {
            use tower::ServiceExt;
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
        .header_read_timeout(header_timeout);
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
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
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
