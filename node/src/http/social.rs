//! Friends and rooms.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use onionchat_proto::wire::{
    AcceptFriendRequest, CreateRoom, FriendList, FriendRequest, FriendRequestCreate,
    FriendRequestList, Rekey, RequestId, Room, RoomId, RoomKeys, RoomList,
};

use super::{Authed, Cbor, parse_id};
use crate::error::Failure;
use crate::state::AppState;

fn request_id(s: &str) -> Result<RequestId, Failure> {
    parse_id(s, |s| s.parse().ok().map(RequestId), "friend request")
}

pub(crate) fn room_id(s: &str) -> Result<RoomId, Failure> {
    parse_id(s, RoomId::from_hex, "room")
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
    Ok(Cbor(
        state
            .store
            .accept_friend_request(auth.user, request_id(&id)?, body)
            .await?,
    ))
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

pub(super) async fn rooms(
    State(state): State<AppState>,
    auth: Authed,
) -> Result<Cbor<RoomList>, Failure> {
    Ok(Cbor(RoomList {
        rooms: state.store.rooms_of(auth.user)?,
    }))
}

pub(super) async fn create_room(
    State(state): State<AppState>,
    auth: Authed,
    Cbor(body): Cbor<CreateRoom>,
) -> Result<(StatusCode, Cbor<Room>), Failure> {
    let room = state.store.create_room(auth.user, body).await?;
    Ok((StatusCode::CREATED, Cbor(room)))
}

pub(super) async fn room(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Cbor<Room>, Failure> {
    Ok(Cbor(state.store.room_for_member(auth.user, room_id(&id)?)?))
}

pub(super) async fn keys(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Cbor<RoomKeys>, Failure> {
    Ok(Cbor(RoomKeys {
        grants: state.store.grants_for(auth.user, room_id(&id)?)?,
    }))
}

pub(super) async fn rekey(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    Cbor(body): Cbor<Rekey>,
) -> Result<Cbor<Room>, Failure> {
    Ok(Cbor(
        state.store.rekey(auth.user, room_id(&id)?, body).await?,
    ))
}

pub(super) async fn leave(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, Failure> {
    state.store.leave_room(auth.user, room_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
