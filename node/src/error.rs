//! The node's error type: either a refusal the client caused (with an API
//! error code) or a failure of the node itself (storage, I/O).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onionchat_proto::wire::{ApiError, ErrorCode};

/// Why a request was not carried out. Nothing is stored in either case.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The request was refused; tell the client why.
    #[error("{0}")]
    Rejected(ApiError),
    /// The node failed (storage, I/O). Logged; the client sees `internal`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Failure {
    /// Refuse with `code` and a human-readable message.
    pub fn reject(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure::Rejected(ApiError::new(code, message))
    }

    /// The API error a client should see.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            Failure::Rejected(e) => e.clone(),
            Failure::Internal(_) => {
                ApiError::new(ErrorCode::Internal, "the node failed; nothing was stored")
            }
        }
    }
}

/// Shorthand for `Err(Failure::reject(..))`.
pub fn reject<T>(code: ErrorCode, message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::reject(code, message))
}

macro_rules! internal_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure::Internal(format!("{}: {e}", stringify!($t)))
            }
        }
    )*};
}
internal_from!(
    redb::Error,
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError,
    std::io::Error,
    onionchat_proto::CodecError
);

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
        if let Failure::Internal(msg) = &self {
            tracing::error!(error = %msg, "request failed inside the node");
        }
        api_error_response(&self.to_api_error())
    }
}
