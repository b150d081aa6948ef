//! End-to-end cryptography.
//!
//! - [`identity`]: RSA-3072 identities, fingerprints, domain-separated
//!   RSA-PSS signatures.
//! - [`at_rest`]: private keys as encrypted PKCS#8 (scrypt + AES-256-CBC).
//! - [`safety`]: safety numbers for comparing keys in person.
//! - [`room_key`]: 256-bit room keys and signed RSA-OAEP key grants.
//! - [`roster`]: signed, chained membership statements and their rules.
//! - [`message`]: sealing (encrypt + sign) and opening (verify + decrypt) messages.
//! - [`file_stream`]: chunked STREAM encryption of files.
//! - [`erase`]: an author's signed request to erase their message.
//!
//! Every byte string that is signed or used as AAD is documented in
//! `docs/protocol.md`.

pub mod aead;
pub mod at_rest;
pub mod erase;
mod error;
pub mod file_stream;
pub mod identity;
pub mod message;
pub mod room_key;
pub mod roster;
pub mod safety;

pub use error::{KeyError, OpenError, SealError};
pub use identity::{IdentityKey, PublicIdentity, SignContext};
pub use room_key::RoomKey;

/// Fill `buf` from the operating system RNG.
///
/// # Panics
/// Only if the OS cannot provide randomness at all, in which case no
/// cryptography is safe and continuing would be worse.
pub fn fill_random(buf: &mut [u8]) {
    #[allow(clippy::expect_used)]
    getrandom::fill(buf).expect("operating system RNG unavailable");
}

/// `N` random bytes from the operating system RNG.
pub fn random_array<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    fill_random(&mut b);
    b
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
