//! AES-256-GCM with explicit nonces: the one primitive behind messages,
//! file chunks, file keys and the client's local vault.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use super::SealError;

/// Tag length.
pub const TAG_LEN: usize = 16;

/// Encrypt `pt` under `key` with `nonce` and `aad`; returns ciphertext || tag.
pub fn seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], pt: &[u8]) -> Result<Vec<u8>, SealError> {
    let cipher = Aes256Gcm::new(&(*key).into());
    cipher
        .encrypt(&Nonce::from(*nonce), Payload { msg: pt, aad })
        .map_err(|_| SealError::Encrypt)
}

/// Decrypt; `None` if authentication fails.
pub fn open(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    let cipher = Aes256Gcm::new(&(*key).into());
    cipher
        .decrypt(&Nonce::from(*nonce), Payload { msg: ct, aad })
        .ok()
}

/// A keyed AES-256-GCM instance for many operations under one key (file
/// chunks): the key schedule is computed once and output is appended to a
/// caller's buffer without extra copies.
#[derive(Clone)]
pub struct Gcm(Aes256Gcm);

impl Gcm {
    /// Key the cipher.
    pub fn new(key: &[u8; 32]) -> Self {
        Gcm(Aes256Gcm::new(&(*key).into()))
    }

    /// Append `pt` encrypted (ciphertext || tag) to `out`.
    pub fn seal_append(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        pt: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SealError> {
        use aes_gcm::aead::AeadInOut;
        let start = out.len();
        out.extend_from_slice(pt);
        let tag = self
            .0
            .encrypt_inout_detached(&Nonce::from(*nonce), aad, (&mut out[start..]).into())
            .map_err(|_| SealError::Encrypt)?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Append the decryption of `ct` (ciphertext || tag) to `out`; false
    /// (and `out` unchanged) if authentication fails.
    pub fn open_append(&self, nonce: &[u8; 12], aad: &[u8], ct: &[u8], out: &mut Vec<u8>) -> bool {
        use aes_gcm::aead::AeadInOut;
        if ct.len() < TAG_LEN {
            return false;
        }
        let (body, tag) = ct.split_at(ct.len() - TAG_LEN);
        let Ok(tag) = aes_gcm::Tag::try_from(tag) else {
            return false;
        };
        let start = out.len();
        out.extend_from_slice(body);
        if self
            .0
            .decrypt_inout_detached(&Nonce::from(*nonce), aad, (&mut out[start..]).into(), &tag)
            .is_err()
        {
            out.truncate(start);
            return false;
        }
        true
    }
}
