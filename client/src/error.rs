//! The client's error type.

use onionchat_proto::wire::{ApiError, ErrorCode, Fingerprint, UserId};

/// Everything that can go wrong in the client core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The node answered with an API error.
    #[error("the node refused: {0}")]
    Api(ApiError),
    /// The node could not be reached or the connection broke.
    #[error("cannot reach the node: {0}")]
    Connect(String),
    /// The node sent something this client does not understand.
    #[error("unexpected answer from the node: {0}")]
    Protocol(String),
    /// A contact's key differs from the one pinned when we first saw them.
    /// Nothing is sent to or accepted from them until this is resolved.
    #[error(
        "the key of {username} (user {user}) changed from {pinned} to {seen}; refusing to use it"
    )]
    KeyChanged {
        /// Account.
        user: UserId,
        /// Name.
        username: String,
        /// Fingerprint we pinned.
        pinned: Fingerprint,
        /// Fingerprint the node now returns.
        seen: Fingerprint,
    },
    /// The node served something about a room that its members did not
    /// sign (a member list, a key, an older state). Nothing was sent.
    #[error("refused what the node said about a room: {0}")]
    Untrusted(String),
    /// A message, grant or file failed verification or decryption.
    #[error("rejected data from the node: {0}")]
    Verify(#[from] onionchat_proto::crypto::OpenError),
    /// Local cryptography failed.
    #[error("encryption failed: {0}")]
    Seal(#[from] onionchat_proto::crypto::SealError),
    /// The profile could not be unlocked: wrong passphrase or damaged files.
    #[error("wrong passphrase, or the profile is damaged")]
    WrongPassphrase,
    /// The profile is missing or already exists.
    #[error("{0}")]
    Profile(String),
    /// Key problems.
    #[error(transparent)]
    Key(#[from] onionchat_proto::crypto::KeyError),
    /// Local file I/O.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Encoding problems.
    #[error(transparent)]
    Codec(#[from] onionchat_proto::CodecError),
    /// A file did not match its announced hash.
    #[error("the downloaded file does not match its SHA-256; it was deleted")]
    HashMismatch,
    /// Something the caller asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// What was asked cannot be done as asked (an empty message, …);
    /// nothing was sent.
    #[error("{0}")]
    Input(String),
    /// A message sent for the members of a roster that does not name us
    /// (before we joined): see `Incoming::BeforeYouJoined`.
    #[error("sent before you were in this group")]
    BeforeYouJoined,
}

impl ClientError {
    /// The API error code, if the node refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api(e) => Some(e.code),
            _ => None,
        }
    }

    /// Wrap an I/O error with context.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClientError {
        let context = context.into();
        move |source| ClientError::Io { context, source }
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, ClientError>;
