//! Extractors: CBOR bodies with limits, and bearer-token sessions.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use onionchat_proto::limits::MAX_API_BODY;
use onionchat_proto::wire::{ErrorCode, UserId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Failure, reject};
use crate::state::AppState;
use crate::store::accounts::token_hash;
use crate::store::schema::UserRecord;

/// A CBOR request body (decoded with size and depth limits) or response.
pub struct Cbor<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Cbor<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Failure> {
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/cbor") {
            return reject(
                ErrorCode::UnsupportedMediaType,
                "send the body as application/cbor",
            );
        }
        if let Some(len) = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            && len > MAX_API_BODY
        {
            return reject(
                ErrorCode::TooLarge,
                format!("bodies are at most {MAX_API_BODY} bytes"),
            );
        }
        let limited = http_body_util::Limited::new(req.into_body(), MAX_API_BODY);
        let bytes = match http_body_util::BodyExt::collect(limited).await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return reject(
                    ErrorCode::TooLarge,
                    format!("bodies are at most {MAX_API_BODY} bytes"),
                );
            }
            Err(e) => return Err(super::body_error(e.as_ref(), "request body")),
        };
        onionchat_proto::decode(&bytes)
            .map(Cbor)
            .map_err(|e| Failure::reject(ErrorCode::Malformed, e.to_string()))
    }
}

impl<T: Serialize> IntoResponse for Cbor<T> {
    fn into_response(self) -> Response {
        match onionchat_proto::encode(&self.0) {
            Ok(body) => ([(CONTENT_TYPE, "application/cbor")], body).into_response(),
            Err(e) => Failure::Internal(e.to_string()).into_response(),
        }
    }
}

/// An authenticated request: a valid, unexpired bearer token.
pub struct Authed {
    /// The account.
    pub user: UserId,
    /// Its stored record.
    pub record: UserRecord,
    /// Hash of the token (for logout).
    pub token_hash: [u8; 32],
    /// When the session expires (ms); a WebSocket closes then.
    pub expires_at: u64,
}

impl Authed {
    /// The account's public key (what its messages and headers must verify
    /// under).
    pub fn key(&self) -> Result<onionchat_proto::crypto::PublicIdentity, Failure> {
        onionchat_proto::crypto::PublicIdentity::from_spki_der(&self.record.public_key)
            .map_err(|e| Failure::Internal(format!("stored key unreadable: {e}")))
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(token) = header.strip_prefix("Bearer ") else {
            return reject(
                ErrorCode::Unauthorized,
                "log in first (Authorization: Bearer <token>)",
            );
        };
        // Unknown tokens cost a lookup each and come from nobody we know:
        // past a node-wide rate they get 429 before any work is done.
        let bad_token = |state: &AppState, code, message: &str| {
            if state.bad_token_limit.allow("bad-token") {
                reject(code, message)
            } else {
                reject(
                    ErrorCode::RateLimited,
                    "too many requests with invalid sessions; slow down",
                )
            }
        };
        let Some(hash) = token_hash(token) else {
            return bad_token(state, ErrorCode::Unauthorized, "malformed session token");
        };
        let Some((user, expires_at)) = state.store.session_user(&hash)? else {
            return bad_token(
                state,
                ErrorCode::Unauthorized,
                "session expired or logged out; log in again",
            );
        };
        // Per account, not per session: more logins buy no more requests.
        if !state.request_limit.allow(&format!("u{}", user.0)) {
            return reject(ErrorCode::RateLimited, "too many requests; slow down");
        }
        let record = state.store.user(user)?;
        // Sessions of a removed account are deleted with it; one that
        // survived anyway still opens nothing.
        if record.removed_at.is_some() {
            return reject(ErrorCode::Unauthorized, "this account was removed");
        }
        Ok(Authed {
            user,
            record,
            token_hash: hash,
            expires_at,
        })
    }
}
