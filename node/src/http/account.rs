//! Sign-up, login, logout and user lookup.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use onionchat_proto::crypto::identity::fingerprint_of;
use onionchat_proto::crypto::{PublicIdentity, SignContext};
use onionchat_proto::wire::{
    Challenge, ChallengeRequest, ErrorCode, LoginBody, ServerInfo, Session, Signed, SignupBody,
    SignupResponse, UserInfo,
};
use onionchat_proto::{Limits, PROTOCOL_VERSION, decode_with, now_ms};

use super::{Authed, Cbor};
use crate::error::{Failure, reject};
use crate::state::AppState;
use crate::store::accounts::user_info;

pub(super) async fn info(State(state): State<AppState>) -> Cbor<ServerInfo> {
    Cbor(ServerInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        protocol: PROTOCOL_VERSION,
        open_registration: state.config.open_registration,
        node_id: state.store.node_id().to_string(),
    })
}

/// Whether a signed sign-up or login names this node: its id, or its
/// onion address. Signatures made for another box are refused here.
fn names_this_node(state: &AppState, node: &str) -> bool {
    node == state.store.node_id()
        || state
            .status
            .onion_address()
            .or_else(|| state.config.onion_address.clone())
            .is_some_and(|a| a.eq_ignore_ascii_case(node))
}

/// Sign-ups for `username`: limited per name and, loosely, node-wide (a
/// flood of made-up names). Logins are not limited here: challenges are
/// stateless (see `challenge.rs`) and a login that fails costs one
/// signature check, so limiting them would only let a stranger lock a
/// name out.
fn signup_allowed(state: &AppState, username: &str) -> Result<(), Failure> {
    let key = format!("signup:{}", username.to_lowercase());
    if !state.auth_user_limit.allow(&key) {
        return reject(
            ErrorCode::RateLimited,
            "too many sign-up attempts for this name; wait a minute",
        );
    }
    if !state.auth_limit.allow("auth") {
        return reject(
            ErrorCode::RateLimited,
            "too many sign-up attempts on this node; wait a minute",
        );
    }
    Ok(())
}

pub(super) async fn signup(
    State(state): State<AppState>,
    Cbor(req): Cbor<Signed>,
) -> Result<Cbor<SignupResponse>, Failure> {
    let body: SignupBody = decode_with(&req.body, Limits::with_max_len(4096))
        .map_err(|e| Failure::reject(ErrorCode::Malformed, e.to_string()))?;
    signup_allowed(&state, &body.username)?;
    if body.v != PROTOCOL_VERSION {
        return reject(
            ErrorCode::Invalid,
            format!("protocol version {} is not supported", body.v),
        );
    }
    let key = PublicIdentity::from_spki_der(&body.public_key)
        .map_err(|e| Failure::reject(ErrorCode::Invalid, e.to_string()))?;
    key.verify_signed(SignContext::Signup, &req)
        .map_err(|e| Failure::reject(ErrorCode::BadSignature, e.to_string()))?;
    if !names_this_node(&state, &body.node) {
        return reject(
            ErrorCode::Invalid,
            "this sign-up was signed for another node",
        );
    }
    let user = state
        .store
        .signup(
            body,
            fingerprint_of(key.spki_der()),
            state.config.open_registration,
        )
        .await?;
    tracing::info!(user = %user.user_id, owner = user.is_owner, "new account");
    if user.is_owner {
        // The owner invite is used: off the screen with it.
        state.status.hide_invite();
    }
    Ok(Cbor(SignupResponse { user }))
}

pub(super) async fn challenge(
    State(state): State<AppState>,
    Cbor(req): Cbor<ChallengeRequest>,
) -> Result<Cbor<Challenge>, Failure> {
    if req.username.len() > onionchat_proto::limits::MAX_USERNAME {
        return reject(ErrorCode::Invalid, "username too long");
    }
    // Nothing is stored and nothing is limited: asking for challenges for
    // someone's name, however often, does not stand in their way.
    Ok(Cbor(state.challenges.issue(&req.username, now_ms())))
}

pub(super) async fn login(
    State(state): State<AppState>,
    Cbor(req): Cbor<Signed>,
) -> Result<Cbor<Session>, Failure> {
    let body: LoginBody = decode_with(&req.body, Limits::with_max_len(1024))
        .map_err(|e| Failure::reject(ErrorCode::Malformed, e.to_string()))?;
    if body.v != PROTOCOL_VERSION {
        return reject(
            ErrorCode::ChallengeInvalid,
            format!("protocol version {} is not supported", body.v),
        );
    }
    let now = now_ms();
    state.challenges.check(&body, now)?;
    let (user_id, rec) = state
        .store
        .user_by_name(&body.username)
        .map_err(|_| Failure::reject(ErrorCode::Unauthorized, "unknown user or wrong key"))?;
    let key = PublicIdentity::from_spki_der(&rec.public_key)
        .map_err(|e| Failure::Internal(e.to_string()))?;
    key.verify_signed(SignContext::Login, &req)
        .map_err(|_| Failure::reject(ErrorCode::Unauthorized, "unknown user or wrong key"))?;
    // The key is proven: from here on only the account itself is counted.
    let key = format!("login:{}", body.username.to_lowercase());
    if !state.auth_user_limit.allow(&key) {
        return reject(
            ErrorCode::RateLimited,
            "too many logins for this account; wait a minute",
        );
    }
    if !state.challenges.spend(&body, now) {
        return reject(
            ErrorCode::ChallengeInvalid,
            "this challenge was already used; ask for a new one",
        );
    }
    if rec.removed_at.is_some() {
        return reject(ErrorCode::Forbidden, "the box's owner removed this account");
    }
    if !names_this_node(&state, &body.node) {
        return reject(
            ErrorCode::Unauthorized,
            "this login was signed for another node",
        );
    }
    let ttl = state.config.session_ttl_secs.saturating_mul(1000);
    let (token, expires_at, ended) = state.store.create_session(user_id, ttl).await?;
    for hash in &ended {
        state.hub.end_session(hash);
    }
    Ok(Cbor(Session {
        token,
        user: user_info(user_id.0, &rec),
        expires_at,
    }))
}

pub(super) async fn logout(
    State(state): State<AppState>,
    auth: Authed,
) -> Result<StatusCode, Failure> {
    state.store.delete_session(auth.token_hash).await?;
    // Its live connections end with it.
    state.hub.end_session(&auth.token_hash);
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn me(auth: Authed) -> Cbor<UserInfo> {
    Cbor(user_info(auth.user.0, &auth.record))
}

pub(super) async fn user(
    State(state): State<AppState>,
    _auth: Authed,
    Path(name): Path<String>,
) -> Result<Cbor<UserInfo>, Failure> {
    let (id, rec) = state.store.user_by_name(&name)?;
    Ok(Cbor(user_info(id.0, &rec)))
}

pub(super) async fn user_by_id(
    State(state): State<AppState>,
    _auth: Authed,
    Path(id): Path<String>,
) -> Result<Cbor<UserInfo>, Failure> {
    let id: u64 = id
        .parse()
        .map_err(|_| Failure::reject(ErrorCode::Malformed, "user ids are numbers"))?;
    let rec = state.store.user(onionchat_proto::wire::UserId(id))?;
    Ok(Cbor(user_info(id, &rec)))
}
