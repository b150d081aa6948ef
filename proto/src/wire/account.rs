//! Sign-up, login and user lookup.

use super::{ChallengeId, Fingerprint, Signed, UserId};
use serde::{Deserialize, Serialize};

/// `GET /v1/info` — public facts about the node (no authentication).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Software version of the node.
    pub version: String,
    /// Protocol version the node speaks.
    pub protocol: u16,
    /// Whether sign-up works without an invite.
    pub open_registration: bool,
    /// This node's id (random, made once): what sign-ups and logins name
    /// when the node is reached over plain TCP (development).
    pub node_id: String,
}

/// The signed body of a sign-up: proves the caller holds the private key.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupBody {
    /// Protocol version.
    pub v: u16,
    /// Requested username (3–32 of `a-z 0-9 _ . -`, starting with a letter).
    pub username: String,
    /// RSA-3072 public key, SubjectPublicKeyInfo DER.
    #[serde(with = "serde_bytes")]
    pub public_key: Vec<u8>,
    /// Invite code; required unless the node allows open registration.
    pub invite: Option<String>,
    /// The node this sign-up is for: its onion address, or `id:` + its
    /// node id over TCP. A signature for one box is worthless at another.
    pub node: String,
}

/// `POST /v1/signup` body: a [`Signed`] [`SignupBody`] (context `signup`).
pub type SignupRequest = Signed;

/// `POST /v1/signup` answer.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupResponse {
    /// The new account.
    pub user: UserInfo,
}

/// `POST /v1/auth/challenge` body.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRequest {
    /// Who wants to log in.
    pub username: String,
}

/// `POST /v1/auth/challenge` answer: sign it within its lifetime.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Single-use id of this challenge.
    pub challenge_id: ChallengeId,
    /// 32 random bytes from the node.
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    /// Node time (ms since the Unix epoch) when it was issued.
    pub issued_at: u64,
    /// Node time after which the challenge is refused.
    pub expires_at: u64,
}

/// The signed body of a login (context `login`).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginBody {
    /// Protocol version.
    pub v: u16,
    /// Who is logging in.
    pub username: String,
    /// From the [`Challenge`].
    pub challenge_id: ChallengeId,
    /// From the [`Challenge`].
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    /// From the [`Challenge`].
    pub issued_at: u64,
    /// The node this login is for (as in [`SignupBody::node`]).
    pub node: String,
}

/// `POST /v1/auth/login` body: a [`Signed`] [`LoginBody`].
pub type LoginRequest = Signed;

/// `POST /v1/auth/login` answer. Its `Debug` form leaves the token out
/// (logs must never carry a credential).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Bearer token (64 hex chars) for `Authorization: Bearer …`.
    pub token: String,
    /// The logged-in user.
    pub user: UserInfo,
    /// Node time (ms) when the token stops working.
    pub expires_at: u64,
}

/// A user as others see them (`GET /v1/users/{username}`, `GET /v1/me`).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Node-assigned id.
    pub user_id: UserId,
    /// Unique username.
    pub username: String,
    /// RSA-3072 public key, SPKI DER. Immutable once registered.
    #[serde(with = "serde_bytes")]
    pub public_key: Vec<u8>,
    /// SHA-256 of `public_key`.
    pub fingerprint: Fingerprint,
    /// Whether this account administers the node.
    pub is_owner: bool,
    /// Node time (ms) of sign-up.
    pub created_at: u64,
    /// The node's owner removed this account: it can no longer log in.
    /// (Rooms keep it in their signed rosters until a member removes it.)
    #[serde(default)]
    pub removed: bool,
}

/// Check a username: 3–32 bytes of `a-z 0-9 _ . -`, starting with a letter.
pub fn validate_username(name: &str) -> Result<(), &'static str> {
    use crate::limits::{MAX_USERNAME, MIN_USERNAME};
    if name.len() < MIN_USERNAME || name.len() > MAX_USERNAME {
        return Err("a username has 3 to 32 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("a username starts with a lowercase letter");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err("a username uses only a-z, 0-9, '_', '.' and '-'");
    }
    Ok(())
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &"<redacted>")
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod username_tests {
    use super::validate_username;

    #[test]
    fn usernames() {
        for ok in ["ann", "bob_1", "c.d-e", "abcdefghijklmnopqrstuvwxyz012345"] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "1abc",
            "Abc",
            "a b",
            "ann!",
            "abcdefghijklmnopqrstuvwxyz0123456",
            "ánn",
        ] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }
}
