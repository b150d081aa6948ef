//! Friend requests and friends.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use onionchat_proto::wire::{
    AcceptFriendRequest, FriendList, FriendRequest, FriendRequestCreate, FriendRequestList,
    RequestId, Room,
};

use super::{Authed, Cbor, parse_id};
use crate::error::Failure;
use crate::state::AppState;

fn request_id(s: &str) -> Result<RequestId, Failure> {
    parse_id(s, |s| s.parse().ok().map(RequestId), "friend request")
}

pub(super) async fn friends(
    State(state): State<AppState>,
    auth: Authed,
) -> Result<Cbor<FriendList>, Failure> {
    Ok(Cbor(FriendList {
        friends: state.store.friends(auth.user)?,
    }))
}

pub(super) async fn requests(
    State(state): State<AppState>,
    auth: Authed,
) -> Result<Cbor<FriendRequestList>, Failure> {
    let (incoming, outgoing) = state.store.friend_requests(auth.user)?;
    Ok(Cbor(FriendRequestList { incoming, outgoing }))
}

pub(super) async fn send_request(
    State(state): State<AppState>,
    auth: Authed,
    Cbor(req): Cbor<FriendRequestCreate>,
) -> Result<(StatusCode, Cbor<FriendRequest>), Failure> {
    let fr = state.store.send_friend_request(auth.user, req.to).await?;
    Ok((StatusCode::CREATED, Cbor(fr)))
}

pub(super) async fn accept(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    Cbor(body): Cbor<AcceptFriendRequest>,
) -> Result<Cbor<Room>, Failure> {
    let room = state
        .store
        .accept_friend_request(auth.user, request_id(&id)?, body)
        .await?;
    crate::presence::introduce(&state, &room.members);
    Ok(Cbor(room))
}

pub(super) async fn decline(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Cbor<FriendRequest>, Failure> {
    Ok(Cbor(
        state
            .store
            .close_friend_request(auth.user, request_id(&id)?, true)
            .await?,
    ))
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Cbor<FriendRequest>, Failure> {
    Ok(Cbor(
        state
            .store
            .close_friend_request(auth.user, request_id(&id)?, false)
            .await?,
    ))
}
