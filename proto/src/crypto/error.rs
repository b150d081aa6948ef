//! Error enums of the crypto module: one for keys, one for making
//! ciphertexts, one for checking and opening them.

use crate::codec::CodecError;
use crate::wire::{Fingerprint, RoomId};

/// Problems with keys: generating, parsing, storing, unlocking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key generation failed.
    #[error("RSA key generation failed: {0}")]
    Generate(String),
    /// The public key bytes are not a usable SPKI DER RSA key.
    #[error("invalid public key: {0}")]
    InvalidPublicKey(String),
    /// The key is RSA but not the size/exponent this protocol uses.
    #[error("unsupported RSA key: {bits} bits (need 3072 with e = 65537)")]
    Unsupported {
        /// Modulus size found.
        bits: usize,
    },
    /// The private key file could not be decrypted: wrong passphrase or damaged file.
    #[error("wrong passphrase, or the key file is damaged")]
    WrongPassphraseOrCorrupt,
    /// Encoding a private key failed.
    #[error("could not encode the private key: {0}")]
    Encode(String),
}

/// Problems while encrypting or signing (rare: RNG or size limits).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The RSA private-key operation failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// RSA-OAEP wrapping failed.
    #[error("key wrapping failed: {0}")]
    Wrap(String),
    /// The plaintext is over the protocol's size limit.
    #[error("plaintext is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Actual.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// More file data was given than the header announced, or less.
    #[error("file length mismatch: header says {expected} bytes, got {actual}")]
    LengthMismatch {
        /// From the header.
        expected: u64,
        /// Seen so far.
        actual: u64,
    },
    /// AES-GCM failed (input too long).
    #[error("encryption failed")]
    Encrypt,
    /// The content breaks a bound of the protocol (excerpt, emoji, name
    /// or preview size).
    #[error("{0}")]
    Content(String),
    /// Encoding failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// Why something received could not be accepted. Anything that fails here
/// must not be shown to the user.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The bytes are not the expected structure.
    #[error("malformed {what}: {source}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Why.
        #[source]
        source: CodecError,
    },
    /// A field has an impossible value.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being checked.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// Protocol version not supported.
    #[error("unsupported protocol version {0}")]
    Version(u16),
    /// The signature does not verify under the claimed sender's key.
    #[error("signature on {what} does not verify")]
    BadSignature {
        /// What was signed.
        what: &'static str,
    },
    /// Signed by someone other than who it claims to be from.
    #[error("{what} claims sender {claimed}, but the key given has fingerprint {actual}")]
    SenderMismatch {
        /// What was being checked.
        what: &'static str,
        /// Fingerprint in the body.
        claimed: Fingerprint,
        /// Fingerprint of the key used to verify.
        actual: Fingerprint,
    },
    /// Bound to another room (replay across rooms).
    #[error("for room {found}, expected room {expected}")]
    WrongRoom {
        /// Expected.
        expected: RoomId,
        /// In the body.
        found: RoomId,
    },
    /// Wrapped for someone else.
    #[error("key grant is for another recipient")]
    WrongRecipient,
    /// No room key for this epoch.
    #[error("no room key for epoch {0}")]
    UnknownEpoch(u32),
    /// AES-GCM authentication failed: tampered, wrong key, or wrong AAD.
    #[error("{what} failed authentication (tampered or wrong key)")]
    Decrypt {
        /// What was being decrypted.
        what: &'static str,
    },
    /// RSA-OAEP unwrapping failed.
    #[error("room key could not be unwrapped")]
    Unwrap,
    /// The file stream ended early or has extra data.
    #[error("file stream {0}")]
    Stream(&'static str),
}
