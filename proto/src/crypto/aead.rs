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
