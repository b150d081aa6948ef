//! Owner-only endpoints: status, invites and members.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use onionchat_proto::wire::{CreateInvite, ErrorCode, Invite, InviteList, MemberList, NodeStatus};

use super::{Authed, Cbor};
use crate::error::{Failure, reject};
use crate::state::AppState;

/// Longest invite lifetime.
pub const MAX_INVITE_TTL_SECS: u64 = 30 * 24 * 3600;

fn owner(auth: &Authed) -> Result<(), Failure> {
    if auth.record.is_owner {
        Ok(())
    } else {
        reject(ErrorCode::Forbidden, "only the node's owner can do this")
    }
}

pub(super) async fn status(
    State(state): State<AppState>,
    auth: Authed,
) -> Result<Cbor<NodeStatus>, Failure> {
    owner(&auth)?;
    Ok(Cbor(state.status_snapshot()))
}

pub(super) async fn list_invites(
    State(state): State<AppState>,
    auth: Authed,
) -> Result<Cbor<InviteList>, Failure> {
    owner(&auth)?;
    Ok(Cbor(InviteList {
        invites: state.store.list_invites()?,
    }))
}

/// Create an invite with the node's default lifetime unless one is given.
pub(crate) async fn make_invite(state: &AppState, req: CreateInvite) -> Result<Invite, Failure> {
    let ttl = req.ttl_secs.unwrap_or(state.config.invite_ttl_secs);
    if ttl == 0 || ttl > MAX_INVITE_TTL_SECS {
        return reject(
            ErrorCode::Invalid,
            format!(
                "an invite lives 1 second to {} days",
                MAX_INVITE_TTL_SECS / 86400
            ),
        );
    }
    state.store.create_invite(ttl * 1000, req.note, false).await
}

pub(super) async fn create_invite(
    State(state): State<AppState>,
    auth: Authed,
    Cbor(req): Cbor<CreateInvite>,
) -> Result<(StatusCode, Cbor<Invite>), Failure> {
    owner(&auth)?;
    Ok((StatusCode::CREATED, Cbor(make_invite(&state, req).await?)))
}

/// `GET /v1/admin/users`: the box's accounts.
pub(super) async fn list_users(
    State(state): State<AppState>,
    auth: Authed,
) -> Result<Cbor<MemberList>, Failure> {
    owner(&auth)?;
    Ok(Cbor(MemberList {
        members: state.store.list_users()?,
    }))
}

/// `DELETE /v1/admin/users/{id}`: the owner removes an account.
pub(super) async fn remove_user(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, Failure> {
    owner(&auth)?;
    let user: u64 = id
        .parse()
        .map_err(|_| Failure::reject(ErrorCode::Malformed, "user ids are numbers"))?;
    let user = onionchat_proto::wire::UserId(user);
    state.store.remove_account(auth.user, user).await?;
    state.hub.end_user(user);
    // The restricted-discovery key of the invite it came with goes too.
    crate::sweep_access_keys(&state);
    tracing::info!(%user, "account removed by the owner");
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn revoke_invite(
    State(state): State<AppState>,
    auth: Authed,
    Path(code): Path<String>,
) -> Result<Cbor<Invite>, Failure> {
    owner(&auth)?;
    let invite = state.store.revoke_invite(code).await?;
    crate::sweep_access_keys(&state);
    Ok(Cbor(invite))
}
