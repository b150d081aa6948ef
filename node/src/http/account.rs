//! Sign-up, login, logout and user lookup.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use onionchat_proto::crypto::identity::fingerprint_of;
use onionchat_proto::crypto::{PublicIdentity, SignContext};
use onionchat_proto::wire::{
    Challenge, ChallengeId, ChallengeRequest, ErrorCode, LoginBody, ServerInfo, Session, Signed,
    SignupBody, SignupResponse, UserInfo,
};
use onionchat_proto::{Limits, PROTOCOL_VERSION, decode_with, now_ms};

use super::{Authed, Cbor};
use crate::error::{Failure, reject};
use crate::state::{AppState, PendingChallenge};
use crate::store::accounts::user_info;

/// How long a login challenge may be answered.
const CHALLENGE_TTL_MS: u64 = 120_000;
/// Outstanding challenges per account (the oldest goes first): the table
/// is bounded by the number of accounts, and nobody fills it for others.
const MAX_CHALLENGES_PER_USER: usize = 8;
/// Outstanding challenges for names without an account, all together.
const MAX_CHALLENGES_UNKNOWN: usize = 1_000;

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

/// Sign-up, challenge and login for `username`: limited per username
/// (so hammering one name locks out only that name), and — for names with
/// no account (sign-ups, and guesses) — by a loose node-wide cap, which a
/// flood of made-up names can use up without touching anyone's login.
/// Returns whether the name has an account.
fn auth_allowed(state: &AppState, username: &str) -> Result<bool, Failure> {
    let key = format!("u:{}", username.to_lowercase());
    if !state.auth_user_limit.allow(&key) {
        return reject(
            ErrorCode::RateLimited,
            "too many sign-up or login attempts for this name; wait a minute",
        );
    }
    let known = state.store.user_by_name(username).is_ok();
    if !known && !state.auth_limit.allow("auth") {
        return reject(
            ErrorCode::RateLimited,
            "too many sign-up or login attempts on this node; wait a minute",
        );
    }
    Ok(known)
}

pub(super) async fn signup(
    State(state): State<AppState>,
    Cbor(req): Cbor<Signed>,
) -> Result<Cbor<SignupResponse>, Failure> {
    let body: SignupBody = decode_with(&req.body, Limits::with_max_len(4096))
        .map_err(|e| Failure::reject(ErrorCode::Malformed, e.to_string()))?;
    auth_allowed(&state, &body.username)?;
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
    let known = auth_allowed(&state, &req.username)?;
    let now = now_ms();
    let id = ChallengeId::random();
    let nonce = onionchat_proto::crypto::random_array::<32>().to_vec();
    let pending = PendingChallenge {
        known,
        username: req.username,
        nonce: nonce.clone(),
        issued_at: now,
        expires_at: now + CHALLENGE_TTL_MS,
    };
    // At most a few outstanding challenges per account, and one small pool
    // for names without one (answered like a wrong key, so outsiders learn
    // nothing): the table cannot be filled, and nobody's flood pushes out
    // a member's login.
    {
        let mut map = state.challenges.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, c| c.expires_at >= now);
        let cap = if known {
            MAX_CHALLENGES_PER_USER
        } else {
            MAX_CHALLENGES_UNKNOWN
        };
        // The same pool: this account's challenges, or every unknown name's.
        let same = |c: &PendingChallenge| {
            if known {
                c.username == pending.username
            } else {
                !c.known
            }
        };
        let mut theirs: Vec<(u64, ChallengeId)> = map
            .iter()
            .filter(|(_, c)| same(c))
            .map(|(id, c)| (c.issued_at, *id))
            .collect();
        theirs.sort();
        let over = (theirs.len() + 1).saturating_sub(cap);
        for (_, old) in theirs.iter().take(over) {
            map.remove(old);
        }
        map.insert(id, pending);
    }
    Ok(Cbor(Challenge {
        challenge_id: id,
        nonce,
        issued_at: now,
        expires_at: now + CHALLENGE_TTL_MS,
    }))
}

pub(super) async fn login(
    State(state): State<AppState>,
    Cbor(req): Cbor<Signed>,
) -> Result<Cbor<Session>, Failure> {
    let body: LoginBody = decode_with(&req.body, Limits::with_max_len(1024))
        .map_err(|e| Failure::reject(ErrorCode::Malformed, e.to_string()))?;
    auth_allowed(&state, &body.username)?;
    // Single use: removed whether or not the signature checks out.
    let pending = state
        .challenges
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&body.challenge_id);
    let Some(pending) = pending else {
        return reject(
            ErrorCode::ChallengeInvalid,
            "unknown or already used challenge; ask for a new one",
        );
    };
    if pending.expires_at < now_ms() {
        return reject(
            ErrorCode::ChallengeInvalid,
            "the challenge expired; ask for a new one",
        );
    }
    if pending.username != body.username
        || pending.nonce != body.nonce
        || pending.issued_at != body.issued_at
        || body.v != PROTOCOL_VERSION
    {
        return reject(
            ErrorCode::ChallengeInvalid,
            "the answer does not match the challenge",
        );
    }
    let (user_id, rec) = state
        .store
        .user_by_name(&body.username)
        .map_err(|_| Failure::reject(ErrorCode::Unauthorized, "unknown user or wrong key"))?;
    let key = PublicIdentity::from_spki_der(&rec.public_key)
        .map_err(|e| Failure::Internal(e.to_string()))?;
    key.verify_signed(SignContext::Login, &req)
        .map_err(|_| Failure::reject(ErrorCode::Unauthorized, "unknown user or wrong key"))?;
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
