//! The box-side control socket: `onionchat-node invite|status|backup` talk
//! to the running node through a Unix socket in the data dir (the redb file
//! is locked by the node). Access is by file permissions: the socket is
//! 0600 inside a 0700 data dir, so only the node's own user gets in.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::routing::{get, post};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use onionchat_proto::wire::{ApiError, CreateInvite, ErrorCode, Invite, InviteList, NodeStatus};
use serde::{Deserialize, Serialize};

use crate::error::Failure;
use crate::http::Cbor;
use crate::state::AppState;

/// Socket path inside a data dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// `POST /control/backup` body.
#[derive(Serialize, Deserialize)]
pub struct BackupRequest {
    /// Where to write the backup (absolute path on the box).
    pub path: PathBuf,
    /// What the backup is encrypted under.
    pub passphrase: zeroize::Zeroizing<String>,
}

/// `POST /control/backup` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct BackupDone {
    /// Table rows copied.
    pub rows: u64,
    /// Blobs copied.
    pub blobs: u64,
    /// Other files copied.
    pub files: u64,
}

/// An invite plus the link a person pastes or scans.
#[derive(Debug, Serialize, Deserialize)]
pub struct InviteWithLink {
    /// The invite.
    pub invite: Invite,
    /// `onionchat://…` link, if the node knows its address yet.
    pub link: Option<String>,
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/control/status", get(status))
        .route("/control/check", get(check))
        .route("/control/owner-invite", get(owner_invite))
        .route("/control/invites", get(list).post(create))
        .route("/control/invites/{code}/revoke", post(revoke))
        .route("/control/backup", post(backup))
        .route("/control/show-invite", post(show_invite))
        .route("/control/access", get(access_list))
        .route("/control/access/{id}/revoke", post(access_revoke))
        .with_state(state)
}

/// The owner invite while nobody owns the node (`null` after).
async fn owner_invite(
    State(state): State<AppState>,
) -> Result<Cbor<Option<InviteWithLink>>, Failure> {
    let ttl = state.config.invite_ttl_secs.max(30 * 86400) * 1000;
    let invite = state.store.ensure_owner_invite(ttl).await?;
    Ok(Cbor(invite.map(|invite| InviteWithLink {
        link: crate::invite_link(&state, &invite.code),
        invite,
    })))
}

async fn status(State(state): State<AppState>) -> Cbor<NodeStatus> {
    Cbor(state.status_snapshot())
}

/// The store's consistency check (read-only).
async fn check(
    State(state): State<AppState>,
) -> Result<Cbor<crate::store::check::CheckReport>, Failure> {
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || store.check())
        .await
        .map_err(|e| Failure::Internal(format!("check task: {e}")))??;
    Ok(Cbor(report))
}

async fn list(State(state): State<AppState>) -> Result<Cbor<InviteList>, Failure> {
    Ok(Cbor(InviteList {
        invites: state.store.list_invites()?,
    }))
}

async fn create(
    State(state): State<AppState>,
    Cbor(req): Cbor<CreateInvite>,
) -> Result<Cbor<InviteWithLink>, Failure> {
    let invite = crate::http::make_invite_for_control(&state, req).await?;
    let link = crate::invite_link(&state, &invite.code);
    Ok(Cbor(InviteWithLink { invite, link }))
}

/// Restricted-discovery keys (onion transport with restricted discovery).
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessList {
    /// `(key id, invite code it went out with)`.
    pub keys: Vec<(String, Option<String>)>,
}

#[cfg(feature = "onion")]
fn access_keys(state: &AppState) -> Result<crate::tor::access::AccessKeys, Failure> {
    state
        .access
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .ok_or_else(|| {
            Failure::reject(
                ErrorCode::NotFound,
                "this node does not use restricted discovery",
            )
        })
}

async fn access_list(State(state): State<AppState>) -> Result<Cbor<AccessList>, Failure> {
    #[cfg(feature = "onion")]
    {
        let keys = access_keys(&state)?.list()?;
        Ok(Cbor(AccessList {
            keys: keys.into_iter().map(|k| (k.id, k.invite)).collect(),
        }))
    }
    #[cfg(not(feature = "onion"))]
    {
        let _ = state;
        Err(Failure::reject(ErrorCode::NotFound, "built without Tor"))
    }
}

async fn access_revoke(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Cbor<AccessList>, Failure> {
    #[cfg(feature = "onion")]
    {
        let keys = access_keys(&state)?;
        if !keys.revoke(&id)? {
            return Err(Failure::reject(
                ErrorCode::NotFound,
                format!("no access key {id}"),
            ));
        }
        Ok(Cbor(AccessList {
            keys: keys.list()?.into_iter().map(|k| (k.id, k.invite)).collect(),
        }))
    }
    #[cfg(not(feature = "onion"))]
    {
        let _ = (state, id);
        Err(Failure::reject(ErrorCode::NotFound, "built without Tor"))
    }
}

async fn show_invite(
    State(state): State<AppState>,
    Cbor(req): Cbor<InviteWithLink>,
) -> Result<Cbor<InviteWithLink>, Failure> {
    if let Some(link) = &req.link {
        state.status.show_invite(link.clone(), 300);
    }
    Ok(Cbor(req))
}

async fn revoke(
    State(state): State<AppState>,
    UrlPath(code): UrlPath<String>,
) -> Result<Cbor<Invite>, Failure> {
    let invite = state.store.revoke_invite(code).await?;
    crate::sweep_access_keys(&state);
    Ok(Cbor(invite))
}

async fn backup(
    State(state): State<AppState>,
    Cbor(req): Cbor<BackupRequest>,
) -> Result<Cbor<BackupDone>, Failure> {
    let store = state.store.clone();
    let s =
        tokio::task::spawn_blocking(move || store.backup_to(&req.path, req.passphrase.as_bytes()))
            .await
            .map_err(|e| Failure::Internal(e.to_string()))??;
    Ok(Cbor(BackupDone {
        rows: s.rows,
        blobs: s.blobs,
        files: s.files,
    }))
}

/// Listen on the control socket until shutdown.
pub async fn serve(state: AppState) -> std::io::Result<()> {
    let path = socket_path(state.store.data_dir());
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    let app = router(state.clone());
    let shutdown = state.shutdown.clone();
    let listener = std::sync::Arc::new(listener);
    crate::serve::serve_incoming(
        move || {
            let l = listener.clone();
            async move { l.accept().await.ok().map(|(s, _)| s) }
        },
        app,
        shutdown,
        state.config.header_timeout(),
    )
    .await;
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// Errors of a control-socket call.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No node is listening.
    #[error(
        "cannot reach a running node at {path} ({source}); is onionchat-node running with this data dir?"
    )]
    NotRunning {
        /// Socket path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The node refused.
    #[error("the node refused: {0}")]
    Refused(ApiError),
    /// Transport failure.
    #[error("control socket failure: {0}")]
    Io(String),
}

/// Make one CBOR request to the running node's control socket.
pub async fn call<Req: Serialize, Resp: serde::de::DeserializeOwned>(
    data_dir: &Path,
    method: &str,
    path: &str,
    body: Option<&Req>,
) -> Result<Resp, ControlError> {
    let sock = socket_path(data_dir);
    let stream = tokio::net::UnixStream::connect(&sock)
        .await
        .map_err(|source| ControlError::NotRunning {
            path: sock.clone(),
            source,
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ControlError::Io(e.to_string()))?;
    tokio::spawn(conn);
    let bytes = match body {
        Some(b) => onionchat_proto::encode(b).map_err(|e| ControlError::Io(e.to_string()))?,
        None => Vec::new(),
    };
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/cbor")
        .body(Full::new(bytes::Bytes::from(bytes)))
        .map_err(|e| ControlError::Io(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| ControlError::Io(e.to_string()))?;
    let ok = resp.status().is_success();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| ControlError::Io(e.to_string()))?
        .to_bytes();
    if ok {
        onionchat_proto::decode_with(
            &body,
            onionchat_proto::Limits::with_max_len(16 * 1024 * 1024),
        )
        .map_err(|e| ControlError::Io(e.to_string()))
    } else {
        let err = onionchat_proto::decode::<ApiError>(&body).unwrap_or_else(|_| {
            ApiError::new(ErrorCode::Internal, "unreadable error from the node")
        });
        Err(ControlError::Refused(err))
    }
}
