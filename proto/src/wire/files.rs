//! Encrypted files: a signed header, then the chunked ciphertext stream.

use super::{FileId, Fingerprint, RoomId, Signed, UserId};
use serde::{Deserialize, Serialize};

/// The signed header of a file (context `file-header`).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHeaderBody {
    /// Protocol version.
    pub v: u16,
    /// Room it is shared in.
    pub room_id: RoomId,
    /// Room-key epoch used to wrap the file key.
    pub epoch: u32,
    /// Uploader's key fingerprint.
    pub sender_fp: Fingerprint,
    /// Uploader-chosen id.
    pub file_id: FileId,
    /// Plaintext bytes per chunk (the last may be shorter).
    pub chunk_size: u32,
    /// Total plaintext length.
    pub plaintext_len: u64,
    /// 7-byte STREAM nonce prefix.
    #[serde(with = "serde_bytes")]
    pub nonce_prefix: Vec<u8>,
    /// Nonce used to wrap the file key under the room key.
    #[serde(with = "serde_bytes")]
    pub key_nonce: Vec<u8>,
    /// AES-256-GCM(room key) of the 32-byte file key (48 bytes).
    #[serde(with = "serde_bytes")]
    pub wrapped_file_key: Vec<u8>,
}

/// `POST /v1/rooms/{id}/files` body: announce an upload.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUploadStart {
    /// A [`Signed`] [`FileHeaderBody`].
    pub header: Signed,
}

/// A file as the node describes it.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Id.
    pub file_id: FileId,
    /// Room.
    pub room_id: RoomId,
    /// Uploader.
    pub uploader: UserId,
    /// Exact ciphertext length the upload must have.
    pub ciphertext_len: u64,
    /// The signed header, as uploaded.
    pub header: Signed,
    /// Node time (ms) of the announcement.
    pub created_at: u64,
    /// True once all bytes are stored durably.
    pub complete: bool,
}
