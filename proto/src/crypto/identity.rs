//! RSA-3072 identities: the long-term key of each user.
//!
//! Signatures are RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt over
//! `"OnionChat-v1/" || context || 0x00 || body` — the context keeps a
//! signature made for one purpose (say, a login) from being replayed as
//! another (say, a message). Wrapping is RSA-OAEP with SHA-256 and
//! MGF1-SHA-256, empty label. PKCS#1 v1.5 is never used.
//!
//! Verification — the one RSA operation a node does per message, and a
//! client per message it shows — runs on `ring`'s assembly big-number code,
//! about twice as fast as the portable `rsa` crate here (0.058 against
//! 0.127 ms; docs/benchmark-history.md).
//! Only public data goes through it; keys, signing and wrapping stay on
//! `rsa`. Both implement RFC 8017 PSS with the salt as long as the digest,
//! and the tests sign with one and verify with the other.

use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::sha2::Sha256;
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use serde::Serialize;
use zeroize::Zeroizing;

use super::{KeyError, OpenError, SealError, sha256};
use crate::codec::encode;
use crate::wire::{Fingerprint, Signed};

/// Modulus size of every OnionChat identity key.
pub const RSA_BITS: usize = 3072;
/// Public exponent of every OnionChat identity key.
pub const RSA_EXPONENT: u32 = 65537;
/// Signature and OAEP ciphertext length in bytes.
pub const RSA_BYTES: usize = RSA_BITS / 8;

/// What a signature is for. Part of the signed bytes (domain separation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignContext {
    /// Proof of key possession at sign-up.
    Signup,
    /// Answer to a login challenge.
    Login,
    /// A chat message envelope.
    Message,
    /// A file header.
    FileHeader,
    /// A room-key grant.
    KeyGrant,
    /// A room roster (membership statement).
    Roster,
    /// A request to erase one's own message (delete for everyone).
    Erase,
}

impl SignContext {
    /// The context label as it appears in the signed bytes.
    pub fn label(self) -> &'static str {
        match self {
            SignContext::Signup => "signup",
            SignContext::Login => "login",
            SignContext::Message => "message",
            SignContext::FileHeader => "file-header",
            SignContext::KeyGrant => "key-grant",
            SignContext::Roster => "roster",
            SignContext::Erase => "erase",
        }
    }

    /// The exact bytes that are signed for `body` in this context.
    pub fn signed_bytes(self, body: &[u8]) -> Vec<u8> {
        let label = self.label().as_bytes();
        let mut out = Vec::with_capacity(14 + label.len() + body.len());
        out.extend_from_slice(b"OnionChat-v1/");
        out.extend_from_slice(label);
        out.push(0);
        out.extend_from_slice(body);
        out
    }
}

/// The fingerprint of an SPKI DER public key: its SHA-256.
pub fn fingerprint_of(spki_der: &[u8]) -> Fingerprint {
    Fingerprint(sha256(spki_der))
}

/// Someone's public identity key, checked to be RSA-3072 with e = 65537.
#[derive(Clone)]
pub struct PublicIdentity {
    key: PublicKey,
    /// Modulus, big-endian without leading zeros (for `ring`'s verifier).
    n: Box<[u8]>,
    spki_der: Vec<u8>,
    fingerprint: Fingerprint,
}

impl std::fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicIdentity({})", self.fingerprint)
    }
}

impl PartialEq for PublicIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der == other.spki_der
    }
}
impl Eq for PublicIdentity {}

impl PublicIdentity {
    /// Parse and check an SPKI DER public key. The encoding must be canonical
    /// (re-encoding gives the same bytes), so one key has one fingerprint.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        if der.len() > 1024 {
            return Err(KeyError::InvalidPublicKey("longer than 1024 bytes".into()));
        }
        let key = PublicKey::from_public_key_der(der)
            .map_err(|e| KeyError::InvalidPublicKey(e.to_string()))?;
        Self::from_rsa(key).and_then(|id| {
            if id.spki_der == der {
                Ok(id)
            } else {
                Err(KeyError::InvalidPublicKey("non-canonical DER".into()))
            }
        })
    }

    fn from_rsa(key: PublicKey) -> Result<Self, KeyError> {
        let bits = key.n().bit_width() as usize;
        if bits != RSA_BITS || *key.e_bytes() != RSA_EXPONENT.to_be_bytes()[1..] {
            return Err(KeyError::Unsupported { bits });
        }
        let spki_der = key
            .to_public_key_der()
            .map_err(|e| KeyError::InvalidPublicKey(e.to_string()))?
            .into_vec();
        let fingerprint = fingerprint_of(&spki_der);
        Ok(PublicIdentity {
            n: key.n_bytes(),
            key,
            spki_der,
            fingerprint,
        })
    }

    /// SubjectPublicKeyInfo DER (what goes on the wire).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// SHA-256 of the SPKI DER.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Verify a signature made with [`IdentityKey::sign`] in `ctx`.
    pub fn verify(&self, ctx: SignContext, body: &[u8], signature: &[u8]) -> Result<(), OpenError> {
        if signature.len() != RSA_BYTES {
            return Err(OpenError::BadSignature { what: ctx.label() });
        }
        let public = ring::signature::RsaPublicKeyComponents {
            n: &self.n[..],
            e: &RSA_EXPONENT.to_be_bytes()[1..],
        };
        public
            .verify(
                &ring::signature::RSA_PSS_2048_8192_SHA256,
                &ctx.signed_bytes(body),
                signature,
            )
            .map_err(|_| OpenError::BadSignature { what: ctx.label() })
    }

    /// Verify a [`Signed`] body in `ctx`.
    pub fn verify_signed(&self, ctx: SignContext, signed: &Signed) -> Result<(), OpenError> {
        self.verify(ctx, &signed.body, &signed.signature)
    }

    /// RSA-OAEP-wrap a short secret (a room key) for this identity.
    pub fn wrap(&self, secret: &[u8]) -> Result<Vec<u8>, SealError> {
        self.key
            .oaep_encrypt::<Sha256>(secret)
            .map_err(|e| SealError::Wrap(e.to_string()))
    }
}

/// A user's own identity key pair. The private half never leaves the device
/// unencrypted; the `rsa` crate zeroizes it on drop.
pub struct IdentityKey {
    key: PrivateKey,
    public: PublicIdentity,
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdentityKey({}, private)", self.public.fingerprint)
    }
}

impl IdentityKey {
    /// Generate a fresh RSA-3072 key (takes around a second in release builds).
    pub fn generate() -> Result<Self, KeyError> {
        let key = PrivateKey::new(&mut getrandom::SysRng, RSA_BITS)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_rsa(key)
    }

    /// Wrap an existing RSA private key (checked for size and exponent).
    pub fn from_rsa(key: PrivateKey) -> Result<Self, KeyError> {
        let public = PublicIdentity::from_rsa(key.to_public_key())?;
        Ok(IdentityKey { key, public })
    }

    pub(crate) fn rsa(&self) -> &PrivateKey {
        &self.key
    }

    /// The public half.
    pub fn public(&self) -> &PublicIdentity {
        &self.public
    }

    /// Fingerprint of the public half.
    pub fn fingerprint(&self) -> Fingerprint {
        self.public.fingerprint
    }

    /// RSA-PSS-sign `body` in context `ctx`.
    pub fn sign(&self, ctx: SignContext, body: &[u8]) -> Result<Vec<u8>, SealError> {
        self.key
            .pss_sign::<Sha256>(&ctx.signed_bytes(body))
            .map_err(|e| SealError::Sign(e.to_string()))
    }

    /// Encode `value` as CBOR and sign the encoding.
    pub fn sign_body<T: Serialize>(
        &self,
        ctx: SignContext,
        value: &T,
    ) -> Result<Signed, SealError> {
        let body = encode(value)?;
        let signature = self.sign(ctx, &body)?;
        Ok(Signed { body, signature })
    }

    /// Undo [`PublicIdentity::wrap`].
    pub fn unwrap_secret(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        if wrapped.len() != RSA_BYTES {
            return Err(OpenError::Unwrap);
        }
        self.key
            .oaep_decrypt::<Sha256>(wrapped)
            .map(Zeroizing::new)
            .map_err(|_| OpenError::Unwrap)
    }
}
