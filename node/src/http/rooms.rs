//! Rooms: listing, creating, rosters, key grants, new epochs, leaving.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use onionchat_proto::wire::{
    CreateRoom, ErrorCode, LeaveRoom, Rekey, Room, RoomId, RoomKeys, RoomList, RosterChain,
};

use super::{Authed, Cbor, parse_id};
use crate::error::Failure;
use crate::state::AppState;

pub(crate) fn room_id(s: &str) -> Result<RoomId, Failure> {
    parse_id(s, RoomId::from_hex, "room")
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
    crate::presence::introduce(&state, &room.members);
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
    let room = state.store.rekey(auth.user, room_id(&id)?, body).await?;
    // New members may not have shared a room with the others before.
    crate::presence::introduce(&state, &room.members);
    Ok(Cbor(room))
}

pub(super) async fn leave(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    Cbor(body): Cbor<LeaveRoom>,
) -> Result<StatusCode, Failure> {
    state
        .store
        .leave_room(auth.user, room_id(&id)?, body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?after=V` (optional, default 0).
fn after_query(raw: Option<&str>) -> Result<u64, Failure> {
    match raw.unwrap_or("") {
        "" => Ok(0),
        q => q
            .strip_prefix("after=")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Failure::reject(ErrorCode::Malformed, format!("bad query '{q}'"))),
    }
}

pub(super) async fn rosters(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Cbor<RosterChain>, Failure> {
    let after = after_query(q.as_deref())?;
    Ok(Cbor(RosterChain {
        rosters: state.store.rosters_for(auth.user, room_id(&id)?, after)?,
    }))
}
