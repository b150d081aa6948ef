//! Delete for everyone, the part the node acts on: the author signs an
//! [`EraseBody`] (context `erase`) naming one of their stored messages by
//! seq, id, stream and counter. The node checks it against the stored
//! envelope, drops the ciphertext and keeps this statement in its place;
//! members check the same signature, so a node can neither erase a message
//! its author did not take back nor pass off a dropped message as erased.

use super::{IdentityKey, OpenError, PublicIdentity, SealError, SignContext};
use crate::PROTOCOL_VERSION;
use crate::codec::{Limits, decode_with};
use crate::wire::{EraseBody, MessageBody, RoomId, Signed};

/// Largest encoded [`EraseBody`] (it is a few fixed-size fields).
const MAX_ERASE_BODY: usize = 512;

/// Sign a request to erase `message` (a body the author sealed), stored at
/// `seq`.
pub fn sign(
    author: &IdentityKey,
    message: &MessageBody,
    seq: u64,
    now: u64,
) -> Result<Signed, SealError> {
    let body = EraseBody {
        v: PROTOCOL_VERSION,
        room_id: message.room_id,
        sender_fp: author.fingerprint(),
        seq,
        msg_id: message.msg_id,
        stream: message.stream,
        counter: message.counter,
        erased_at: now,
    };
    author.sign_body(SignContext::Erase, &body)
}

/// Decode an erase request and check its shape (no keys needed).
pub fn decode(signed: &Signed) -> Result<EraseBody, OpenError> {
    let body: EraseBody =
        decode_with(&signed.body, Limits::with_max_len(MAX_ERASE_BODY)).map_err(|source| {
            OpenError::Malformed {
                what: "erase request",
                source,
            }
        })?;
    if body.v != PROTOCOL_VERSION {
        return Err(OpenError::Version(body.v));
    }
    let invalid = |reason: &str| OpenError::Invalid {
        what: "erase request",
        reason: reason.into(),
    };
    if body.seq == 0 || body.counter == 0 {
        return Err(invalid("seq and counter start at 1"));
    }
    if signed.signature.len() != super::identity::RSA_BYTES {
        return Err(invalid("signature has the wrong length"));
    }
    Ok(body)
}

/// Verify an erase request for `room_id` signed by `author`.
pub fn verify(
    signed: &Signed,
    author: &PublicIdentity,
    room_id: RoomId,
) -> Result<EraseBody, OpenError> {
    let body = decode(signed)?;
    if body.sender_fp != author.fingerprint() {
        return Err(OpenError::SenderMismatch {
            what: "erase request",
            claimed: body.sender_fp,
            actual: author.fingerprint(),
        });
    }
    author.verify_signed(SignContext::Erase, signed)?;
    if body.room_id != room_id {
        return Err(OpenError::WrongRoom {
            expected: room_id,
            found: body.room_id,
        });
    }
    Ok(body)
}

/// Does `erase` name exactly this stored message (`message` at `seq`)?
pub fn names(erase: &EraseBody, message: &MessageBody, seq: u64) -> bool {
    erase.room_id == message.room_id
        && erase.sender_fp == message.sender_fp
        && erase.seq == seq
        && erase.msg_id == message.msg_id
        && erase.stream == message.stream
        && erase.counter == message.counter
}
