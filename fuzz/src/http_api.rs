//! The node's whole HTTP API in-process: the real router over a real redb
//! store in a temp dir, with two signed-up members, fed requests built from
//! the fuzzer's bytes (method, route, parameters, who is asking, body).

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use onionchat_node::config::{Config, TransportKind};
use onionchat_proto::crypto::IdentityKey;
use onionchat_proto::wire::{ApiError, SignupBody};
use tower::ServiceExt;

struct Api {
    rt: tokio::runtime::Runtime,
    router: Router,
    /// Session tokens of ann (the owner) and bob.
    tokens: [String; 2],
    /// Values a path parameter can take besides the fuzzer's own.
    known: Vec<String>,
    _dir: tempfile::TempDir,
}

/// Every route, with `{}` where its parameter goes.
const ROUTES: &[&str] = &[
    "/v1/info",
    "/v1/signup",
    "/v1/auth/challenge",
    "/v1/auth/login",
    "/v1/auth/logout",
    "/v1/me",
    "/v1/users/{}",
    "/v1/users/by-id/{}",
    "/v1/friends",
    "/v1/friends/requests",
    "/v1/friends/requests/{}/accept",
    "/v1/friends/requests/{}/decline",
    "/v1/friends/requests/{}/cancel",
    "/v1/rooms",
    "/v1/rooms/{}",
    "/v1/rooms/{}/keys",
    "/v1/rooms/{}/epochs",
    "/v1/rooms/{}/leave",
    "/v1/rooms/{}/rosters",
    "/v1/rooms/{}/messages",
    "/v1/rooms/{}/messages?after=0&limit=5",
    "/v1/rooms/{}/read",
    "/v1/rooms/{}/files",
    "/v1/files/{}",
    "/v1/files/{}/info",
    "/v1/admin/status",
    "/v1/admin/invites",
    "/v1/admin/invites/{}",
    "/v1/admin/users/{}",
    "/v1/ws",
    // Added after the seeds' indices were fixed: keep new routes last.
    "/v1/rooms/{}/erase",
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];

fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            transport: TransportKind::Tcp,
            open_registration: true,
            ..Config::default()
        };
        // The fuzzer is one very busy client: rate limits would hide
        // everything behind `429`.
        let r = &mut config.rate;
        for v in [
            &mut r.messages_per_sec,
            &mut r.message_burst,
            &mut r.requests_per_sec,
            &mut r.request_burst,
            &mut r.auth_per_min,
            &mut r.auth_per_user_per_min,
            &mut r.bad_tokens_per_sec,
        ] {
            *v = 1e12;
        }
        let (router, tokens, known) = rt.block_on(async {
            let state = onionchat_node::open_state(config).expect("node state");
            let store = state.store.clone();
            let mut users = Vec::new();
            let mut tokens = Vec::new();
            for name in ["ann", "bob"] {
                let key = IdentityKey::generate().expect("key");
                let body = SignupBody {
                    v: onionchat_proto::PROTOCOL_VERSION,
                    username: name.into(),
                    public_key: key.public().spki_der().to_vec(),
                    invite: None,
                    node: store.node_id().to_string(),
                };
                let user = store
                    .signup(body, key.fingerprint(), true)
                    .await
                    .expect("signup")
                    .user_id;
                let (token, _, _) = store
                    .create_session(user, 86_400_000)
                    .await
                    .expect("session");
                users.push(user);
                tokens.push(token);
            }
            let request = store
                .send_friend_request(users[0], "bob".into())
                .await
                .expect("friend request");
            let invite = store
                .create_invite(86_400_000, None, false)
                .await
                .expect("invite");
            let known = vec![
                users[0].0.to_string(),
                users[1].0.to_string(),
                "99".into(),
                request.id.to_string(),
                invite.code,
                "bob".into(),
                "00".repeat(16),
                "ff".repeat(16),
                String::new(),
                "..".into(),
                "%00".into(),
            ];
            let router = onionchat_node::http::router(state);
            (router, [tokens[0].clone(), tokens[1].clone()], known)
        });
        Api {
            rt,
            router,
            tokens,
            known,
            _dir: dir,
        }
    })
}

/// One request from the fuzzer's bytes.
pub fn http_api(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let api = api();
    let (head, rest) = data.split_at(4);
    let method = METHODS[usize::from(head[0]) % METHODS.len()];
    // Parameter: a known value, or text from the input up to a 0 byte.
    let (param, body) = match rest.iter().position(|&b| b == 0) {
        Some(end) if head[3] & 1 == 1 => (
            String::from_utf8_lossy(&rest[..end]).into_owned(),
            &rest[end + 1..],
        ),
        _ => (
            api.known[usize::from(head[3] >> 1) % api.known.len()].clone(),
            rest,
        ),
    };
    let uri = if usize::from(head[1]) < ROUTES.len() * 8 {
        ROUTES[usize::from(head[1]) % ROUTES.len()].replace("{}", &param)
    } else {
        format!("/{param}")
    };
    let mut req = Request::builder().method(method).uri(uri.as_str());
    match head[2] % 4 {
        0 => {}
        1 => req = req.header("authorization", format!("Bearer {}", api.tokens[0])),
        2 => req = req.header("authorization", format!("Bearer {}", api.tokens[1])),
        _ => req = req.header("authorization", format!("Bearer {param}")),
    }
    if head[2] & 4 == 0 {
        req = req.header("content-type", "application/cbor");
    }
    let Ok(req) = req.body(Body::from(body.to_vec())) else {
        // Not a request hyper would ever hand the router (bad URI).
        return;
    };
    let (status, bytes) = api.rt.block_on(async {
        let resp = api
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        (status, bytes)
    });
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{method} {uri}: 500 {:?}",
        String::from_utf8_lossy(&bytes)
    );
    // (A HEAD answer has no body, by HTTP's rules.)
    if method != "HEAD" && (status.is_client_error() || status.is_server_error()) {
        let err: ApiError = onionchat_proto::decode(&bytes).unwrap_or_else(|e| {
            panic!(
                "{method} {uri}: {status} without a {{code, message}} body ({e}): {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert_eq!(
            err.code.http_status(),
            status.as_u16(),
            "{method} {uri}: {status} says {:?}",
            err.code
        );
    }
}
