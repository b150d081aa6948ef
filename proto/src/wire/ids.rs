//! Identifiers. Numeric ids are assigned by the node; 16-byte ids are chosen
//! at random by the client that creates the thing (so they can be bound into
//! signatures and AAD before the node has seen them).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! byte_id {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[cfg_attr(test, derive(proptest_derive::Arbitrary))]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;
            /// A fresh random id from the operating system RNG.
            pub fn random() -> Self {
                let mut b = [0u8; $len];
                crate::crypto::fill_random(&mut b);
                $name(b)
            }
            /// Lower-case hex form (used in URLs).
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            /// Parse the hex form.
            pub fn from_hex(s: &str) -> Option<Self> {
                let mut b = [0u8; $len];
                hex::decode_to_slice(s, &mut b).ok()?;
                Some($name(b))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let b = serde_bytes::ByteArray::<$len>::deserialize(d)?;
                Ok($name(b.into_array()))
            }
        }
    };
}

byte_id!(
    /// SHA-256 of a user's SPKI DER public key.
    Fingerprint,
    32
);
byte_id!(
    /// Hash of a signed room roster (see [`crate::crypto::roster::roster_hash`]):
    /// what chains rosters together and binds key grants to a member list.
    RosterHash,
    32
);
byte_id!(
    /// A room, chosen at random by the client that creates it.
    RoomId,
    16
);
byte_id!(
    /// A message, chosen at random by its sender; the node deduplicates on it.
    MsgId,
    16
);
byte_id!(
    /// A file, chosen at random by its uploader.
    FileId,
    16
);
byte_id!(
    /// A login challenge, chosen by the node.
    ChallengeId,
    16
);

macro_rules! num_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[cfg_attr(test, derive(proptest_derive::Arbitrary))]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

num_id!(
    /// A user account, assigned by the node (1 is the owner).
    UserId
);
num_id!(
    /// A friend request, assigned by the node.
    RequestId
);
