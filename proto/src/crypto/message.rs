//! Messages: AES-256-GCM under the room key, then an RSA-PSS signature over
//! the encoded body.
//!
//! AAD (52 + 26 bytes, fixed layout):
//! `"OnionChat-v1/message\0" || v:u16be || room_id:16 || epoch:u32be ||
//! sender_fp:32 || msg_id:16`. So a ciphertext cannot be moved to another
//! room, epoch, sender or message id even by someone holding the room key.
//! The signature (context `message`) covers the whole body: all of the
//! above plus `sent_at`, nonce and ciphertext.

use super::{IdentityKey, OpenError, PublicIdentity, RoomKey, SealError, SignContext};
use crate::PROTOCOL_VERSION;
use crate::codec::{Limits, decode_with, encode};
use crate::limits::MAX_MESSAGE_CIPHERTEXT;
use crate::wire::{Fingerprint, MessageBody, MessageContent, MsgId, RoomId, RosterRef, Signed};

pub use super::aead::TAG_LEN;

/// The AAD bound into a message's ciphertext.
pub fn message_aad(
    v: u16,
    room_id: &RoomId,
    epoch: u32,
    sender_fp: &Fingerprint,
    msg_id: &MsgId,
) -> Vec<u8> {
    let mut aad = Vec::with_capacity(21 + 2 + 16 + 4 + 32 + 16);
    aad.extend_from_slice(b"OnionChat-v1/message\0");
    aad.extend_from_slice(&v.to_be_bytes());
    aad.extend_from_slice(&room_id.0);
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad.extend_from_slice(&sender_fp.0);
    aad.extend_from_slice(&msg_id.0);
    aad
}

pub(crate) use super::aead::{open as gcm_open, seal as gcm_seal};

/// Where a message sits in its sender's sequence: the sender's stream (one
/// per device) and the counter within it for this room, and the latest
/// roster of the room the sender has verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Random per device.
    pub stream: u64,
    /// From 1, one more per new message in the room.
    pub counter: u64,
    /// The sender's latest verified roster of the room.
    pub roster: RosterRef,
}

/// Encrypt `content` for a room and sign it as `sender`.
#[allow(clippy::too_many_arguments)]
pub fn seal(
    sender: &IdentityKey,
    room_id: RoomId,
    epoch: u32,
    key: &RoomKey,
    msg_id: MsgId,
    position: Position,
    sent_at: u64,
    content: &MessageContent,
) -> Result<Signed, SealError> {
    seal_voiding(
        sender,
        room_id,
        epoch,
        key,
        msg_id,
        position,
        &[],
        sent_at,
        content,
    )
}

/// [`seal`], declaring `void` (counters of earlier attempts the sender
/// counts as not sent; see [`MessageBody::void`]).
#[allow(clippy::too_many_arguments)]
pub fn seal_voiding(
    sender: &IdentityKey,
    room_id: RoomId,
    epoch: u32,
    key: &RoomKey,
    msg_id: MsgId,
    position: Position,
    void: &[u64],
    sent_at: u64,
    content: &MessageContent,
) -> Result<Signed, SealError> {
    content.check().map_err(SealError::Content)?;
    let plaintext = zeroize::Zeroizing::new(encode(content)?);
    if plaintext.len() + TAG_LEN > MAX_MESSAGE_CIPHERTEXT {
        return Err(SealError::TooLarge {
            len: plaintext.len(),
            max: MAX_MESSAGE_CIPHERTEXT - TAG_LEN,
        });
    }
    let nonce: [u8; 12] = super::random_array();
    let sender_fp = sender.fingerprint();
    let aad = message_aad(PROTOCOL_VERSION, &room_id, epoch, &sender_fp, &msg_id);
    let ciphertext = gcm_seal(key.as_bytes(), &nonce, &aad, &plaintext)?;
    let body = MessageBody {
        v: PROTOCOL_VERSION,
        room_id,
        epoch,
        sender_fp,
        msg_id,
        sent_at,
        stream: position.stream,
        counter: position.counter,
        roster: position.roster,
        void: void.to_vec(),
        nonce: nonce.to_vec(),
        ciphertext,
    };
    sender.sign_body(SignContext::Message, &body)
}

/// Decode an envelope's body and check its shape (no keys needed). The node
/// runs this on every message before storing it.
pub fn decode(envelope: &Signed) -> Result<MessageBody, OpenError> {
    let body: MessageBody = decode_with(
        &envelope.body,
        Limits::with_max_len(MAX_MESSAGE_CIPHERTEXT + 512),
    )
    .map_err(|source| OpenError::Malformed {
        what: "message",
        source,
    })?;
    if body.v != PROTOCOL_VERSION {
        return Err(OpenError::Version(body.v));
    }
    let invalid = |reason: &str| OpenError::Invalid {
        what: "message",
        reason: reason.into(),
    };
    if body.nonce.len() != 12 {
        return Err(invalid("nonce is not 12 bytes"));
    }
    if body.ciphertext.len() < TAG_LEN || body.ciphertext.len() > MAX_MESSAGE_CIPHERTEXT {
        return Err(invalid("ciphertext length out of range"));
    }
    if body.epoch == 0 {
        return Err(invalid("epoch 0"));
    }
    if body.counter == 0 {
        return Err(invalid("counter 0"));
    }
    if body.roster.version == 0 {
        return Err(invalid("roster version 0"));
    }
    if body.void.len() > crate::limits::MAX_VOID_COUNTERS {
        return Err(invalid("too many void counters"));
    }
    if body.void.iter().any(|&c| c == 0 || c >= body.counter) {
        return Err(invalid("a void counter is not below the counter"));
    }
    if envelope.signature.len() != super::identity::RSA_BYTES {
        return Err(invalid("signature has the wrong length"));
    }
    Ok(body)
}

/// Verify a message received for `room_id` from `sender`: its shape, that
/// it names `sender`'s key, the signature over its exact bytes, and its
/// room. Returns the body, whose signed fields (roster, counter, epoch) can
/// be believed before the room key of its epoch is known.
pub fn verify(
    envelope: &Signed,
    sender: &PublicIdentity,
    room_id: RoomId,
) -> Result<MessageBody, OpenError> {
    let body = decode(envelope)?;
    if body.sender_fp != sender.fingerprint() {
        return Err(OpenError::SenderMismatch {
            what: "message",
            claimed: body.sender_fp,
            actual: sender.fingerprint(),
        });
    }
    sender.verify_signed(SignContext::Message, envelope)?;
    if body.room_id != room_id {
        return Err(OpenError::WrongRoom {
            expected: room_id,
            found: body.room_id,
        });
    }
    Ok(body)
}

/// Decrypt the body of a message [`verify`] accepted, with the room key of
/// its epoch.
pub fn decrypt(body: &MessageBody, key: &RoomKey) -> Result<MessageContent, OpenError> {
    let aad = message_aad(
        body.v,
        &body.room_id,
        body.epoch,
        &body.sender_fp,
        &body.msg_id,
    );
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&body.nonce);
    let plaintext = zeroize::Zeroizing::new(
        gcm_open(key.as_bytes(), &nonce, &aad, &body.ciphertext)
            .ok_or(OpenError::Decrypt { what: "message" })?,
    );
    let content: MessageContent =
        decode_with(&plaintext, Limits::with_max_len(MAX_MESSAGE_CIPHERTEXT)).map_err(
            |source| OpenError::Malformed {
                what: "message content",
                source,
            },
        )?;
    content.check().map_err(|reason| OpenError::Invalid {
        what: "message content",
        reason,
    })?;
    Ok(content)
}

/// Verify, then decrypt, a message received for `room_id` from `sender`.
/// `key_for` returns the room key of an epoch. Nothing is decrypted unless
/// the signature verifies.
pub fn open(
    envelope: &Signed,
    sender: &PublicIdentity,
    room_id: RoomId,
    key_for: impl FnOnce(u32) -> Option<RoomKey>,
) -> Result<(MessageBody, MessageContent), OpenError> {
    let body = verify(envelope, sender, room_id)?;
    let key = key_for(body.epoch).ok_or(OpenError::UnknownEpoch(body.epoch))?;
    let content = decrypt(&body, &key)?;
    Ok((body, content))
}
