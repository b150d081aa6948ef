//! A man-in-the-middle between a client and the node that, when armed,
//! replaces one user's public key in every user record it relays: what a
//! compromised node (or someone who took over the box) would do.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use onionchat_proto::crypto::identity::fingerprint_of;
use onionchat_proto::wire::UserInfo;

/// A running tampering proxy.
pub struct TamperProxy {
    /// Address to connect clients to.
    pub addr: String,
    /// When set, user records of `victim` carry `fake_key`.
    pub armed: Arc<AtomicBool>,
}

impl TamperProxy {
    /// Proxy to `upstream`, swapping `victim`'s key for `fake_key` (SPKI DER) when armed.
    pub async fn start(upstream: String, victim: String, fake_key: Vec<u8>) -> TamperProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let armed = Arc::new(AtomicBool::new(false));
        let flag = armed.clone();
        tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                let (upstream, victim, fake, flag) = (
                    upstream.clone(),
                    victim.clone(),
                    fake_key.clone(),
                    flag.clone(),
                );
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let (upstream, victim, fake, flag) =
                                (upstream.clone(), victim.clone(), fake.clone(), flag.clone());
                            async move {
                                Ok::<_, Infallible>(
                                    forward(
                                        req,
                                        &upstream,
                                        &victim,
                                        &fake,
                                        flag.load(Ordering::SeqCst),
                                    )
                                    .await,
                                )
                            }
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        TamperProxy { addr, armed }
    }
}

async fn forward(
    req: hyper::Request<hyper::body::Incoming>,
    upstream: &str,
    victim: &str,
    fake: &[u8],
    armed: bool,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let stream = tokio::net::TcpStream::connect(upstream)
        .await
        .expect("upstream");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let out = hyper::Request::from_parts(parts, Full::new(body));
    let resp = sender.send_request(out).await.expect("forward");
    let (parts, body) = resp.into_parts();
    let mut bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if armed
        && let Ok(mut info) = onionchat_proto::decode::<UserInfo>(&bytes)
        && info.username == victim
    {
        info.public_key = fake.to_vec();
        info.fingerprint = fingerprint_of(fake);
        bytes = Bytes::from(onionchat_proto::encode(&info).expect("encode"));
    }
    let mut resp = hyper::Response::from_parts(parts, Full::new(bytes.clone()));
    resp.headers_mut()
        .insert("content-length", bytes.len().into());
    resp
}
