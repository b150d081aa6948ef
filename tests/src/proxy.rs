//! A hostile node: a man-in-the-middle between a client and the real node
//! that, when told to attack, rewrites the node's answers — what whoever
//! controls the box could do. The node behind it stays honest, so a test
//! can compare what the client believed with what really happened.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use onionchat_proto::crypto::identity::fingerprint_of;
use onionchat_proto::wire::UserInfo;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Rewrites one answer: (method, path with query, body) → new body.
pub type Attack = Arc<dyn Fn(&str, &str, Vec<u8>) -> Vec<u8> + Send + Sync>;

/// A running hostile proxy.
pub struct HostileNode {
    /// Address to connect clients to.
    pub addr: String,
    attack: Arc<Mutex<Option<Attack>>>,
    forged: Forged,
    lie: Lie,
}

/// Once: after forwarding a request whose "METHOD path" starts with the
/// key, answer it with this status and body instead of the node's answer.
type Lie = Arc<Mutex<Option<(String, u16, Vec<u8>)>>>;

/// Answers the proxy makes up itself: "METHOD path" → CBOR body (200).
type Forged = Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>;

impl HostileNode {
    /// Proxy to `upstream`, honest until [`HostileNode::attack`].
    pub async fn start(upstream: String) -> HostileNode {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let attack: Arc<Mutex<Option<Attack>>> = Arc::default();
        let forged: Forged = Arc::default();
        let lie: Lie = Arc::default();
        let current = attack.clone();
        let made_up = forged.clone();
        let lying = lie.clone();
        tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                let (upstream, current, made_up, lying) = (
                    upstream.clone(),
                    current.clone(),
                    made_up.clone(),
                    lying.clone(),
                );
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let upstream = upstream.clone();
                            let attack = current.lock().expect("lock").clone();
                            let key = format!(
                                "{} {}",
                                req.method(),
                                req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("")
                            );
                            let fake = made_up.lock().expect("lock").get(&key).cloned();
                            let lie = {
                                let mut l = lying.lock().expect("lock");
                                if l.as_ref()
                                    .is_some_and(|(k, _, _)| key.starts_with(k.as_str()))
                                {
                                    l.take()
                                } else {
                                    None
                                }
                            };
                            let cbor = |status: u16, body: Vec<u8>| {
                                hyper::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/cbor")
                                    .header("content-length", body.len())
                                    .body(Full::new(Bytes::from(body)))
                                    .expect("response")
                            };
                            async move {
                                Ok::<_, Infallible>(match (fake, lie) {
                                    (Some(body), _) => cbor(200, body),
                                    (None, Some((_, status, body))) => {
                                        forward(req, &upstream, attack).await;
                                        cbor(status, body)
                                    }
                                    (None, None) => forward(req, &upstream, attack).await,
                                })
                            }
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        HostileNode {
            addr,
            attack,
            forged,
            lie,
        }
    }

    /// The next request starting with `method path_prefix` reaches the
    /// node (which may store it), but the client is told `status` with
    /// `body`: a box that keeps what it claims to have refused.
    pub fn lie_after_forwarding(
        &self,
        method: &str,
        path_prefix: &str,
        status: u16,
        body: Vec<u8>,
    ) {
        *self.lie.lock().expect("lock") = Some((format!("{method} {path_prefix}"), status, body));
    }

    /// Answer `method path` (with its query) with `body` (200, CBOR)
    /// without asking the node: a room or user only the attacker made.
    pub fn forge(&self, method: &str, path: &str, body: Vec<u8>) {
        self.forged
            .lock()
            .expect("lock")
            .insert(format!("{method} {path}"), body);
    }

    /// From now on, rewrite answers with `f`.
    pub fn attack(&self, f: impl Fn(&str, &str, Vec<u8>) -> Vec<u8> + Send + Sync + 'static) {
        *self.attack.lock().expect("lock") = Some(Arc::new(f));
    }

    /// Stop attacking.
    pub fn honest(&self) {
        *self.attack.lock().expect("lock") = None;
    }

    /// A TCP connector for clients.
    pub fn connector(&self) -> Arc<onionchat_client::TcpConnector> {
        Arc::new(onionchat_client::TcpConnector::new(self.addr.clone()))
    }
}

/// Decode `body` as `T`, change it, encode it again (unchanged if it is not a `T`).
pub fn rewrite<T: DeserializeOwned + Serialize>(body: Vec<u8>, f: impl FnOnce(&mut T)) -> Vec<u8> {
    match onionchat_proto::decode::<T>(&body) {
        Ok(mut v) => {
            f(&mut v);
            onionchat_proto::encode(&v).expect("encode")
        }
        Err(_) => body,
    }
}

/// An attack that serves `fake_key` (SPKI DER) as `victim`'s key in every
/// user record.
pub fn swap_key(
    victim: &str,
    fake_key: Vec<u8>,
) -> impl Fn(&str, &str, Vec<u8>) -> Vec<u8> + Send + Sync + 'static {
    let victim = victim.to_string();
    move |_, _, body| {
        rewrite::<UserInfo>(body, |info| {
            if info.username == victim {
                info.public_key = fake_key.clone();
                info.fingerprint = fingerprint_of(&fake_key);
            }
        })
    }
}

async fn forward(
    req: hyper::Request<hyper::body::Incoming>,
    upstream: &str,
    attack: Option<Attack>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let method = parts.method.to_string();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
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
    if let Some(f) = attack {
        bytes = Bytes::from(f(&method, &path, bytes.to_vec()));
    }
    let mut resp = hyper::Response::from_parts(parts, Full::new(bytes.clone()));
    resp.headers_mut()
        .insert("content-length", bytes.len().into());
    resp
}
