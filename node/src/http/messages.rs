//! Sending (HTTP form), history and read markers. The WebSocket `send`
//! frame goes through the same [`send_envelope`].

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use onionchat_proto::limits::MAX_HISTORY_PAGE;
use onionchat_proto::wire::{
    EraseMessage, ErrorCode, History, MessageBody, ReadMarkers, SendAck, SendMessage,
    SetReadMarker, Signed, UserId,
};

use onionchat_proto::crypto::{PublicIdentity, SignContext};

use super::rooms::room_id;
use super::{Authed, Cbor};
use crate::error::{Failure, reject};
use crate::state::AppState;

/// Decode an envelope's body (shape and limits; no signature check yet).
pub(crate) fn decode_envelope(envelope: &Signed) -> Result<MessageBody, Failure> {
    onionchat_proto::crypto::message::decode(envelope).map_err(|e| match e {
        onionchat_proto::crypto::OpenError::Malformed { .. } => {
            Failure::reject(ErrorCode::Malformed, e.to_string())
        }
        _ => Failure::reject(ErrorCode::Invalid, e.to_string()),
    })
}

/// Check and durably store one message whose envelope decoded to `body`;
/// shared by HTTP and WebSocket.
pub(crate) async fn send_envelope(
    state: &AppState,
    user: UserId,
    key: &PublicIdentity,
    body: MessageBody,
    envelope: Signed,
    origin: Option<u64>,
) -> Result<SendAck, Failure> {
    if !state.message_limit.allow(&format!("u{}", user.0)) {
        return reject(
            ErrorCode::RateLimited,
            "you are sending too fast; slow down",
        );
    }
    let fingerprint = key.fingerprint().0;
    // Members must never be handed a message that does not verify: one RSA
    // verify per message, here on the connection's task, not in the writer.
    if body.sender_fp.0 == fingerprint {
        key.verify_signed(SignContext::Message, &envelope)
            .map_err(|e| Failure::reject(ErrorCode::BadSignature, e.to_string()))?;
    }
    state
        .store
        .send_message(user, fingerprint, body, envelope, origin)
        .await
}

pub(super) async fn send(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    Cbor(req): Cbor<SendMessage>,
) -> Result<(StatusCode, Cbor<SendAck>), Failure> {
    let room = room_id(&id)?;
    let body = decode_envelope(&req.envelope)?;
    if body.room_id != room {
        return reject(
            ErrorCode::Invalid,
            "the message is for another room than the URL says",
        );
    }
    let ack = send_envelope(&state, auth.user, &auth.key()?, body, req.envelope, None).await?;
    let status = if ack.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Cbor(ack)))
}

/// `POST /v1/rooms/{id}/erase`: delete for everyone. Only the author, with
/// a request signed by the key the message was signed with.
pub(super) async fn erase(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    Cbor(req): Cbor<EraseMessage>,
) -> Result<StatusCode, Failure> {
    let room = room_id(&id)?;
    let body = onionchat_proto::crypto::erase::decode(&req.erase).map_err(|e| match e {
        onionchat_proto::crypto::OpenError::Malformed { .. } => {
            Failure::reject(ErrorCode::Malformed, e.to_string())
        }
        _ => Failure::reject(ErrorCode::Invalid, e.to_string()),
    })?;
    if body.room_id != room {
        return reject(
            ErrorCode::Invalid,
            "the erase request is for another room than the URL says",
        );
    }
    let key = auth.key()?;
    if body.sender_fp != key.fingerprint() {
        return reject(
            ErrorCode::Forbidden,
            "the erase request is signed for another account's key",
        );
    }
    key.verify_signed(SignContext::Erase, &req.erase)
        .map_err(|e| Failure::reject(ErrorCode::BadSignature, e.to_string()))?;
    state
        .store
        .erase_message(auth.user, body, req.erase)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Parse `after=N&limit=M` (both optional).
fn history_query(raw: Option<&str>) -> Result<(u64, u32), Failure> {
    let (mut after, mut limit) = (0u64, 100u32);
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = || {
            Failure::reject(
                ErrorCode::Malformed,
                format!("bad query parameter '{pair}'"),
            )
        };
        match k {
            "after" => after = v.parse().map_err(|_| bad())?,
            "limit" => limit = v.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }
    }
    if limit == 0 || limit > MAX_HISTORY_PAGE {
        return reject(
            ErrorCode::Invalid,
            format!("limit must be 1..={MAX_HISTORY_PAGE}"),
        );
    }
    Ok((after, limit))
}

pub(super) async fn history(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Cbor<History>, Failure> {
    let room = room_id(&id)?;
    let (after, limit) = history_query(q.as_deref())?;
    let h = state.store.history(auth.user, room, after, limit)?;
    // Fetching history counts as delivery to this member.
    if let Some(last) = h.messages.last() {
        crate::delivery::note_delivered(&state, room, auth.user, last.seq);
    }
    Ok(Cbor(h))
}

pub(super) async fn markers(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Cbor<ReadMarkers>, Failure> {
    crate::delivery::flush(&state).await?;
    Ok(Cbor(state.store.markers(auth.user, room_id(&id)?)?))
}

pub(super) async fn set_read(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    Cbor(req): Cbor<SetReadMarker>,
) -> Result<StatusCode, Failure> {
    let room = room_id(&id)?;
    state.store.room_for_member(auth.user, room)?;
    state
        .store
        .set_markers(vec![(room, auth.user, req.seq, req.seq)])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::history_query;

    #[test]
    fn query_parsing() {
        assert_eq!(history_query(None).expect("default"), (0, 100));
        assert_eq!(
            history_query(Some("after=5&limit=10")).expect("both"),
            (5, 10)
        );
        assert!(history_query(Some("after=x")).is_err());
        assert!(history_query(Some("limit=0")).is_err());
        assert!(history_query(Some("limit=501")).is_err());
        assert!(history_query(Some("evil=1")).is_err());
    }
}
