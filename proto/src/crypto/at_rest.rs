//! Private keys at rest: PKCS#8 `EncryptedPrivateKeyInfo` with PBES2
//! (scrypt N = 2^14, r = 8, p = 1; AES-256-CBC), the parameters the `pkcs8`
//! crate recommends for OpenSSL 3 compatibility. `openssl pkey -in key.pem
//! -passin pass:…` opens these files.

use rsa::PrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use zeroize::Zeroizing;

use super::{IdentityKey, KeyError};

/// Encrypt `key` under `passphrase` as PEM (`ENCRYPTED PRIVATE KEY`).
pub fn encrypt_pem(key: &IdentityKey, passphrase: &[u8]) -> Result<Zeroizing<String>, KeyError> {
    key.rsa()
        .to_pkcs8_encrypted_pem(passphrase, LineEnding::LF)
        .map_err(|e| KeyError::Encode(e.to_string()))
}

/// Decrypt a PEM made by [`encrypt_pem`] (or by `openssl pkcs8 -topk8 -v2 …`).
pub fn decrypt_pem(pem: &str, passphrase: &[u8]) -> Result<IdentityKey, KeyError> {
    if pem.len() > 16 * 1024 {
        return Err(KeyError::WrongPassphraseOrCorrupt);
    }
    let key = PrivateKey::from_pkcs8_encrypted_pem(pem, passphrase)
        .map_err(|_| KeyError::WrongPassphraseOrCorrupt)?;
    IdentityKey::from_rsa(key)
}

/// Unencrypted PKCS#8 PEM. Only for test vectors and for handing a key to
/// another implementation in tests; never written to disk by the apps.
pub fn plain_pem_for_tests(key: &IdentityKey) -> Result<Zeroizing<String>, KeyError> {
    key.rsa()
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Encode(e.to_string()))
}

/// Parse an unencrypted PKCS#8 PEM (test vectors).
pub fn from_plain_pem(pem: &str) -> Result<IdentityKey, KeyError> {
    let key = PrivateKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Encode(e.to_string()))?;
    IdentityKey::from_rsa(key)
}
