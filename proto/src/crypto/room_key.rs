//! Room keys and key grants.
//!
//! A room key is 32 random bytes (AES-256-GCM). For each epoch, one member
//! makes the key and hands it to every member in a *grant*: the key wrapped
//! with the recipient's RSA key (OAEP), inside a body that names the room,
//! epoch and both parties, signed by the granting member. The signature is
//! what stops a node from slipping its own key into a room: a recipient only
//! accepts a grant signed by someone it knows is a member.

use zeroize::Zeroizing;

use super::identity::RSA_BYTES;
use super::{IdentityKey, OpenError, PublicIdentity, SealError, SignContext};
use crate::PROTOCOL_VERSION;
use crate::codec::{Limits, decode_with};
use crate::wire::{KeyGrantBody, RoomId, RosterHash, Signed, UserId};

/// A 256-bit room key for one epoch. Zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct RoomKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomKey(..)")
    }
}

impl RoomKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        super::fill_random(&mut k[..]);
        RoomKey(k)
    }

    /// From raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        RoomKey(Zeroizing::new(bytes))
    }

    /// From a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(Self::from_bytes(arr))
    }

    /// The raw key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Wrap `key` for `recipient` and sign the grant as `granter`, bound to the
/// roster the epoch is for.
#[allow(clippy::too_many_arguments)]
pub fn make_grant(
    granter: &IdentityKey,
    room_id: RoomId,
    epoch: u32,
    roster: RosterHash,
    recipient: UserId,
    recipient_key: &PublicIdentity,
    key: &RoomKey,
) -> Result<Signed, SealError> {
    let body = KeyGrantBody {
        v: PROTOCOL_VERSION,
        room_id,
        epoch,
        recipient,
        recipient_fp: recipient_key.fingerprint(),
        granter_fp: granter.fingerprint(),
        roster,
        wrapped_key: recipient_key.wrap(key.as_bytes())?,
    };
    granter.sign_body(SignContext::KeyGrant, &body)
}

/// Decode a grant and check its shape (no signature check). The node uses
/// this; clients use [`verify_grant`] or [`open_grant`].
pub fn decode_grant(grant: &Signed) -> Result<KeyGrantBody, OpenError> {
    let body: KeyGrantBody =
        decode_with(&grant.body, Limits::with_max_len(2048)).map_err(|source| {
            OpenError::Malformed {
                what: "key grant",
                source,
            }
        })?;
    if body.v != PROTOCOL_VERSION {
        return Err(OpenError::Version(body.v));
    }
    if body.epoch == 0 {
        return Err(OpenError::Invalid {
            what: "key grant",
            reason: "epoch 0".into(),
        });
    }
    if body.wrapped_key.len() != RSA_BYTES {
        return Err(OpenError::Invalid {
            what: "key grant",
            reason: format!(
                "wrapped key is {} bytes, not {RSA_BYTES}",
                body.wrapped_key.len()
            ),
        });
    }
    Ok(body)
}

/// Decode a grant and verify it was signed by `granter`.
pub fn verify_grant(grant: &Signed, granter: &PublicIdentity) -> Result<KeyGrantBody, OpenError> {
    let body = decode_grant(grant)?;
    if body.granter_fp != granter.fingerprint() {
        return Err(OpenError::SenderMismatch {
            what: "key grant",
            claimed: body.granter_fp,
            actual: granter.fingerprint(),
        });
    }
    granter.verify_signed(SignContext::KeyGrant, grant)?;
    Ok(body)
}

/// Verify a grant addressed to `me` for `room_id` and unwrap its key.
pub fn open_grant(
    me: &IdentityKey,
    grant: &Signed,
    granter: &PublicIdentity,
    room_id: RoomId,
) -> Result<(KeyGrantBody, RoomKey), OpenError> {
    let body = verify_grant(grant, granter)?;
    if body.room_id != room_id {
        return Err(OpenError::WrongRoom {
            expected: room_id,
            found: body.room_id,
        });
    }
    if body.recipient_fp != me.fingerprint() {
        return Err(OpenError::WrongRecipient);
    }
    let raw = me.unwrap_secret(&body.wrapped_key)?;
    let key = RoomKey::from_slice(&raw).ok_or(OpenError::Unwrap)?;
    Ok((body, key))
}
