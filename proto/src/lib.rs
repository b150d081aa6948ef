//! # onionchat-proto
//!
//! Everything that crosses the wire between an OnionChat client and node, and
//! the end-to-end cryptography both sides agree on. This crate does no I/O:
//! it is plain types ([`wire`]), one codec ([`codec`], CBOR via `serde_cbor`)
//! and pure functions over keys and bytes ([`crypto`]).
//!
//! The normative description of the protocol is `docs/protocol.md`; test
//! vectors live in `tests/vectors/` and are cross-checked against an
//! independent implementation (Python's `cryptography`).

pub mod codec;
pub mod crypto;
pub mod limits;
pub mod wire;

pub use codec::{CodecError, Limits, decode, decode_with, encode};

/// Protocol version carried in every signed body and in the AAD.
pub const PROTOCOL_VERSION: u16 = 3;

/// Current time as milliseconds since the Unix epoch (0 if the clock is
/// before 1970, which only happens on a badly set clock).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
