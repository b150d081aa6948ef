//! Login challenges that nobody can use up.
//!
//! A challenge is not stored when it is issued: its nonce is an HMAC, under
//! a key that lives only in this process, of the challenge id, the time it
//! was issued and the username. The node checks an answer by recomputing
//! the HMAC, so asking for challenges — for any name, at any rate — grows
//! no table and pushes out nobody's pending login: someone hammering
//! "bob" cannot stop bob from logging in. What is stored is the id of each
//! challenge a *valid signature* answered, until it expires, so an answer
//! works once; only the account's own key can add to that set.
//!
//! A restart forgets the key, which only means that challenges issued
//! before it are refused (the client asks for a new one).

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, KeyInit, Mac};
use onionchat_proto::wire::{Challenge, ChallengeId, ErrorCode, LoginBody};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Failure;

/// How long a login challenge may be answered.
pub const CHALLENGE_TTL_MS: u64 = 120_000;
/// How far ahead of the node's clock an `issued_at` may be (none are: the
/// node wrote it; this only keeps clock steps from refusing a fresh one).
const FUTURE_SLACK_MS: u64 = 5_000;

/// Issues and checks login challenges.
pub struct Challenges {
    key: Zeroizing<[u8; 32]>,
    /// Challenges answered with a valid signature, until they expire.
    spent: Mutex<HashMap<ChallengeId, u64>>,
}

impl Default for Challenges {
    fn default() -> Self {
        Challenges {
            key: Zeroizing::new(onionchat_proto::crypto::random_array::<32>()),
            spent: Mutex::default(),
        }
    }
}

impl Challenges {
    fn mac(&self, id: &ChallengeId, issued_at: u64, username: &str) -> Hmac<Sha256> {
        // A key of any length is accepted by HMAC.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"onionchat login challenge\0");
        mac.update(&id.0);
        mac.update(&issued_at.to_be_bytes());
        mac.update(username.as_bytes());
        mac
    }

    /// A fresh challenge for `username` at time `now` (ms).
    pub fn issue(&self, username: &str, now: u64) -> Challenge {
        let challenge_id = ChallengeId::random();
        let nonce = self
            .mac(&challenge_id, now, username)
            .finalize()
            .into_bytes()
            .to_vec();
        Challenge {
            challenge_id,
            nonce,
            issued_at: now,
            expires_at: now + CHALLENGE_TTL_MS,
        }
    }

    /// Whether `body` answers a challenge this node issued for its
    /// username, still valid at `now` and not yet spent. The signature is
    /// the caller's to check; then [`Challenges::spend`].
    pub fn check(&self, body: &LoginBody, now: u64) -> Result<(), Failure> {
        let genuine = self
            .mac(&body.challenge_id, body.issued_at, &body.username)
            .verify_slice(&body.nonce)
            .is_ok();
        if !genuine || body.issued_at > now + FUTURE_SLACK_MS {
            return Err(Failure::reject(
                ErrorCode::ChallengeInvalid,
                "the answer does not match a challenge from this node; ask for a new one",
            ));
        }
        if body.issued_at + CHALLENGE_TTL_MS < now {
            return Err(Failure::reject(
                ErrorCode::ChallengeInvalid,
                "the challenge expired; ask for a new one",
            ));
        }
        if self.lock().contains_key(&body.challenge_id) {
            return Err(Failure::reject(
                ErrorCode::ChallengeInvalid,
                "this challenge was already used; ask for a new one",
            ));
        }
        Ok(())
    }

    /// Mark a checked, correctly signed answer as used. `false` when a
    /// concurrent login spent it first.
    pub fn spend(&self, body: &LoginBody, now: u64) -> bool {
        let mut spent = self.lock();
        spent.retain(|_, expires| *expires >= now);
        spent
            .insert(body.challenge_id, body.issued_at + CHALLENGE_TTL_MS)
            .is_none()
    }

    /// How many answered challenges are remembered (for tests and status).
    pub fn spent_len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ChallengeId, u64>> {
        self.spent.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(c: &Challenge, username: &str) -> LoginBody {
        LoginBody {
            v: onionchat_proto::PROTOCOL_VERSION,
            username: username.into(),
            challenge_id: c.challenge_id,
            nonce: c.nonce.clone(),
            issued_at: c.issued_at,
            node: "n".into(),
        }
    }

    fn code(r: Result<(), Failure>) -> Option<ErrorCode> {
        match r {
            Err(Failure::Rejected(e)) => Some(e.code),
            _ => None,
        }
    }

    #[test]
    fn an_answer_is_good_once_for_its_name_and_time() {
        let ch = Challenges::default();
        let c = ch.issue("bob", 1_000);
        let ok = answer(&c, "bob");
        assert!(ch.check(&ok, 2_000).is_ok());

        // Another name, another time, another nonce or id: refused.
        let mut other = answer(&c, "Bob");
        assert_eq!(
            code(ch.check(&other, 2_000)),
            Some(ErrorCode::ChallengeInvalid)
        );
        other = answer(&c, "bob");
        other.issued_at += 1;
        assert_eq!(
            code(ch.check(&other, 2_000)),
            Some(ErrorCode::ChallengeInvalid)
        );
        other = answer(&c, "bob");
        other.nonce[0] ^= 1;
        assert_eq!(
            code(ch.check(&other, 2_000)),
            Some(ErrorCode::ChallengeInvalid)
        );
        other = answer(&c, "bob");
        other.challenge_id = ChallengeId::random();
        assert_eq!(
            code(ch.check(&other, 2_000)),
            Some(ErrorCode::ChallengeInvalid)
        );
        other = answer(&c, "bob");
        other.nonce.clear();
        assert_eq!(
            code(ch.check(&other, 2_000)),
            Some(ErrorCode::ChallengeInvalid)
        );

        // Too late.
        assert_eq!(
            code(ch.check(&ok, 1_000 + CHALLENGE_TTL_MS + 1)),
            Some(ErrorCode::ChallengeInvalid)
        );

        // Once spent, never again; expired entries are dropped.
        assert!(ch.spend(&ok, 2_000));
        assert!(!ch.spend(&ok, 2_000));
        assert_eq!(
            code(ch.check(&ok, 2_000)),
            Some(ErrorCode::ChallengeInvalid)
        );
        let later = ch.issue("bob", 500_000);
        assert!(ch.spend(&answer(&later, "bob"), 500_000));
        assert_eq!(ch.spent_len(), 1, "the expired entry was dropped");
    }

    #[test]
    fn another_node_process_does_not_accept_them() {
        let a = Challenges::default();
        let b = Challenges::default();
        let c = a.issue("bob", 1_000);
        assert_eq!(
            code(b.check(&answer(&c, "bob"), 2_000)),
            Some(ErrorCode::ChallengeInvalid)
        );
    }

    #[test]
    fn issuing_stores_nothing() {
        let ch = Challenges::default();
        for i in 0..10_000 {
            ch.issue("bob", i);
        }
        assert_eq!(ch.spent_len(), 0);
    }
}
