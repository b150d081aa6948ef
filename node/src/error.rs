//! The node's error type: either a refusal the client caused (with an API
//! error code) or a failure of the node itself (storage, I/O).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onionchat_proto::wire::{ApiError, ErrorCode};

/// Why a request was not carried out. Nothing is stored in any case.
///
/// The variants keep the kind of a failure (with its source) so callers can
/// tell a refusal from a broken disk: the storage writer stops the node on
/// [`Failure::is_fatal_storage`] errors (see `store/writer.rs`).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The request was refused; tell the client why.
    #[error("{0}")]
    Rejected(ApiError),
    /// The database failed (I/O, corruption, a closed database).
    #[error("storage failed: {0}")]
    Storage(#[source] redb::Error),
    /// A file operation (blobs, uploads) failed.
    #[error("file I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// A stored record could not be encoded or decoded.
    #[error("a stored record is unreadable: {0}")]
    Record(#[from] onionchat_proto::CodecError),
    /// The node stopped serving writes after a storage failure; it is
    /// restarting. Clients see `unavailable` and retry.
    #[error("the storage writer has stopped")]
    WriterStopped,
    /// Any other failure of the node itself. Logged; the client sees `internal`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Failure {
    /// Refuse with `code` and a human-readable message.
    pub fn reject(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure::Rejected(ApiError::new(code, message))
    }

    /// Whether this is the node's fault rather than the client's.
    pub fn is_internal(&self) -> bool {
        !matches!(self, Failure::Rejected(_))
    }

    /// A storage failure after which redb refuses every later write
    /// (`PreviousIo`) until the database is reopened: the disk failed
    /// under a commit.
    pub fn is_fatal_storage(&self) -> bool {
        matches!(
            self,
            Failure::Storage(redb::Error::Io(_) | redb::Error::PreviousIo)
        )
    }

    /// The API error a client should see.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            Failure::Rejected(e) => e.clone(),
            Failure::WriterStopped => ApiError::new(
                ErrorCode::Unavailable,
                "the node is restarting after a storage failure; nothing was stored, try again shortly",
            ),
            // The disk filled between the free-space check and the write
            // (a file's bytes, say, while something else used the card):
            // the same answer as the floor's, and the node carries on.
            Failure::Io(e) if e.kind() == std::io::ErrorKind::StorageFull => ApiError::new(
                ErrorCode::StorageFull,
                "the box's storage is full; nothing was stored — ask its owner to free space",
            ),
            _ => ApiError::new(ErrorCode::Internal, "the node failed; nothing was stored"),
        }
    }
}

/// Shorthand for `Err(Failure::reject(..))`.
pub fn reject<T>(code: ErrorCode, message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::reject(code, message))
}

/// Every redb error type folds into [`Failure::Storage`], keeping its kind.
macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure::Storage(redb::Error::from(e))
            }
        }
    )*};
}
storage_from!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError
);

impl From<redb::Error> for Failure {
    fn from(e: redb::Error) -> Self {
        Failure::Storage(e)
    }
}

/// Render an API error as a CBOR response with the matching status.
pub fn api_error_response(err: &ApiError) -> Response {
    let status =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = onionchat_proto::encode(err).unwrap_or_default();
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/cbor")],
        body,
    )
        .into_response()
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if self.is_internal() {
            tracing::error!(error = %self, "request failed inside the node");
        }
        api_error_response(&self.to_api_error())
    }
}
