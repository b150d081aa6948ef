//! Machine-readable API errors.

use serde::{Deserialize, Serialize};

/// Every error the node can answer with. The HTTP status is fixed per code.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// Body is not valid CBOR or not the expected shape (400).
    Malformed,
    /// A field has a value outside its allowed range or format (400).
    Invalid,
    /// A signature did not verify (400).
    BadSignature,
    /// No or an unknown/expired session token (401).
    Unauthorized,
    /// Login challenge unknown, used, or stale (401).
    ChallengeInvalid,
    /// Authenticated but not allowed: not a member, not the owner (403).
    Forbidden,
    /// Invite unknown, used, revoked or expired (403).
    InviteInvalid,
    /// No such user, room, request, file or route (404).
    NotFound,
    /// Wrong HTTP method for this route (405).
    MethodNotAllowed,
    /// The request (its body) or connection went quiet for too long (408).
    Timeout,
    /// State conflict: duplicate, already handled, already exists (409).
    Conflict,
    /// Username already registered (409).
    UsernameTaken,
    /// Message or key grant for an epoch that is not the room's current one (409).
    StaleEpoch,
    /// The room's membership changed; a member must upload a new epoch first (409).
    RekeyRequired,
    /// Body or frame over the size limit (413).
    TooLarge,
    /// The request's path is too long (414).
    UriTooLong,
    /// Too many or too large request headers (431).
    HeadersTooLarge,
    /// Per-user storage quota exhausted (413).
    QuotaExceeded,
    /// The box's disk is nearly full: uploads and new messages are refused
    /// until space is freed; reads go on (507).
    StorageFull,
    /// Content-Type is not `application/cbor` (415).
    UnsupportedMediaType,
    /// Range header cannot be satisfied (416).
    RangeNotSatisfiable,
    /// Too many requests; retry later (429).
    RateLimited,
    /// The node failed; nothing was stored (500).
    Internal,
    /// The node is shutting down or overloaded (503).
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status that goes with this code.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            Malformed | Invalid | BadSignature => 400,
            Unauthorized | ChallengeInvalid => 401,
            Forbidden | InviteInvalid => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            Timeout => 408,
            Conflict | UsernameTaken | StaleEpoch | RekeyRequired => 409,
            TooLarge | QuotaExceeded => 413,
            UriTooLong => 414,
            HeadersTooLarge => 431,
            UnsupportedMediaType => 415,
            RangeNotSatisfiable => 416,
            RateLimited => 429,
            StorageFull => 507,
            Internal => 500,
            Unavailable => 503,
        }
    }

    /// The snake_case name as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Malformed => "malformed",
            Invalid => "invalid",
            BadSignature => "bad_signature",
            Unauthorized => "unauthorized",
            ChallengeInvalid => "challenge_invalid",
            Forbidden => "forbidden",
            InviteInvalid => "invite_invalid",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            Timeout => "timeout",
            Conflict => "conflict",
            UsernameTaken => "username_taken",
            StaleEpoch => "stale_epoch",
            RekeyRequired => "rekey_required",
            TooLarge => "too_large",
            UriTooLong => "uri_too_long",
            HeadersTooLarge => "headers_too_large",
            QuotaExceeded => "quota_exceeded",
            StorageFull => "storage_full",
            UnsupportedMediaType => "unsupported_media_type",
            RangeNotSatisfiable => "range_not_satisfiable",
            RateLimited => "rate_limited",
            Internal => "internal",
            Unavailable => "unavailable",
        }
    }
}

/// The body of every error response and of WebSocket `error` frames.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people (English, one sentence).
    pub message: String,
}

impl ApiError {
    /// Build an error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}
