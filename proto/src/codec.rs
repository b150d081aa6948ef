//! The one place that knows the wire encoding is CBOR.
//!
//! Every decode first checks the size and runs a structural pass over the
//! bytes ([`check_structure`]) that bounds nesting depth and rejects
//! constructs we never emit (indefinite lengths, tags), and only then hands
//! the bytes to `serde_cbor`. Nothing here panics on any input.

use serde::{Serialize, de::DeserializeOwned};

use crate::limits::{MAX_API_BODY, MAX_CBOR_DEPTH};

/// Bounds applied to one decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_len: usize,
    /// Deepest accepted nesting of arrays and maps.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_len: MAX_API_BODY,
            max_depth: MAX_CBOR_DEPTH,
        }
    }
}

impl Limits {
    /// Default depth with a different size cap.
    pub fn with_max_len(max_len: usize) -> Self {
        Limits {
            max_len,
            ..Limits::default()
        }
    }
}

/// Why bytes could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The input is larger than the limit for this kind of data.
    #[error("input is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Actual length.
        len: usize,
        /// Limit that applied.
        max: usize,
    },
    /// Arrays/maps nest deeper than allowed.
    #[error("CBOR nests deeper than {max} levels")]
    TooDeep {
        /// Limit that applied.
        max: usize,
    },
    /// Not well-formed CBOR, or a construct this protocol never uses.
    #[error("malformed CBOR at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// Well-formed CBOR that does not have the expected shape.
    #[error("CBOR is not a valid {what}: {source}")]
    Schema {
        /// Rust type that was expected.
        what: &'static str,
        /// What the CBOR library said.
        #[source]
        source: CborError,
    },
    /// A value could not be serialized (should not happen for our types).
    #[error("could not encode {what}: {source}")]
    Encode {
        /// Rust type being encoded.
        what: &'static str,
        /// What the CBOR library said.
        #[source]
        source: CborError,
    },
}

/// The CBOR library's own error, kept opaque: which library reads CBOR
/// (today `serde_cbor`, unmaintained; see deny.toml) is not part of this
/// crate's API, so replacing it breaks no caller.
#[derive(Debug)]
pub struct CborError(serde_cbor::Error);

impl std::fmt::Display for CborError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for CborError {}

/// Encode a value as CBOR.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    serde_cbor::to_vec(value).map_err(|e| CodecError::Encode {
        what: std::any::type_name::<T>(),
        source: CborError(e),
    })
}

/// Decode CBOR with the default [`Limits`] (API body size, depth 16).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    decode_with(bytes, Limits::default())
}

/// Decode CBOR with explicit limits.
pub fn decode_with<T: DeserializeOwned>(bytes: &[u8], limits: Limits) -> Result<T, CodecError> {
    if bytes.len() > limits.max_len {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            max: limits.max_len,
        });
    }
    check_structure(bytes, limits.max_depth)?;
    serde_cbor::from_slice(bytes).map_err(|e| CodecError::Schema {
        what: std::any::type_name::<T>(),
        source: CborError(e),
    })
}

/// Walk one CBOR data item covering all of `bytes`, without allocating per
/// item, and check it is well formed, uses only definite lengths and no
/// tags, and nests at most `max_depth` deep.
pub fn check_structure(bytes: &[u8], max_depth: usize) -> Result<(), CodecError> {
    // Each stack entry is the number of items still expected in an open
    // array or map (maps count keys and values separately).
    let mut stack: Vec<u64> = Vec::new();
    let mut pos = 0usize;
    let malformed = |offset, reason| CodecError::Malformed { offset, reason };
    loop {
        let start = pos;
        let Some(&initial) = bytes.get(pos) else {
            return Err(malformed(pos, "unexpected end of input"));
        };
        pos += 1;
        let major = initial >> 5;
        let info = initial & 0x1f;
        let arg: u64 = match info {
            0..=23 => u64::from(info),
            24..=27 => {
                let n = 1usize << (info - 24);
                let Some(raw) = bytes.get(pos..pos + n) else {
                    return Err(malformed(start, "truncated argument"));
                };
                pos += n;
                raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
            }
            31 => return Err(malformed(start, "indefinite lengths are not used")),
            _ => return Err(malformed(start, "reserved additional information")),
        };
        match major {
            0 | 1 => {}
            2 | 3 => {
                let len = usize::try_from(arg).map_err(|_| malformed(start, "string too long"))?;
                if bytes.len().saturating_sub(pos) < len {
                    return Err(malformed(start, "string runs past the end"));
                }
                pos += len;
                if major == 3 && std::str::from_utf8(&bytes[pos - len..pos]).is_err() {
                    return Err(malformed(start, "text string is not UTF-8"));
                }
            }
            4 | 5 => {
                let items = if major == 5 {
                    arg.checked_mul(2)
                        .ok_or_else(|| malformed(start, "map too long"))?
                } else {
                    arg
                };
                // Every item takes at least one byte: reject impossible counts early.
                if items > (bytes.len() - pos) as u64 {
                    return Err(malformed(start, "container longer than the input"));
                }
                if items > 0 {
                    if stack.len() >= max_depth {
                        return Err(CodecError::TooDeep { max: max_depth });
                    }
                    stack.push(items);
                    continue;
                }
            }
            6 => return Err(malformed(start, "tags are not used")),
            _ => {
                // major 7: simple values and floats
                match info {
                    20..=23 | 25..=27 => {}
                    _ => return Err(malformed(start, "unsupported simple value")),
                }
            }
        }
        // One item finished: pop every container it completes.
        loop {
            match stack.last_mut() {
                None => {
                    return if pos == bytes.len() {
                        Ok(())
                    } else {
                        Err(malformed(pos, "trailing bytes after the item"))
                    };
                }
                Some(remaining) => {
                    *remaining -= 1;
                    if *remaining == 0 {
                        stack.pop();
                    } else {
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_what_serde_cbor_writes() {
        let v = (1u8, "two", vec![3u64, 4], Some(5i64), -6i32, 1.5f64, true);
        let bytes = encode(&v).expect("encode");
        check_structure(&bytes, 4).expect("well formed");
        let back: (u8, String, Vec<u64>, Option<i64>, i32, f64, bool) =
            decode(&bytes).expect("decode");
        assert_eq!(back.1, "two");
        assert_eq!(back.2, vec![3, 4]);
    }

    #[test]
    fn depth_is_bounded() {
        let nested: Vec<Vec<Vec<Vec<u8>>>> = vec![vec![vec![vec![1]]]];
        let bytes = encode(&nested).expect("encode");
        assert!(check_structure(&bytes, 4).is_ok());
        assert!(matches!(
            check_structure(&bytes, 3),
            Err(CodecError::TooDeep { max: 3 })
        ));
        // 10,000 nested arrays must fail cleanly, not overflow the stack.
        let mut deep = vec![0x81u8; 10_000];
        deep.push(0x00);
        assert!(matches!(
            decode::<serde_cbor::Value>(&deep),
            Err(CodecError::TooDeep { .. })
        ));
    }

    #[test]
    fn size_is_bounded() {
        let bytes = encode(&vec![0u8; 100]).expect("encode");
        assert!(matches!(
            decode_with::<Vec<u8>>(&bytes, Limits::with_max_len(50)),
            Err(CodecError::TooLarge { max: 50, .. })
        ));
    }

    #[test]
    fn rejects_constructs_we_never_emit() {
        // indefinite-length array, a tag, trailing bytes, a huge declared length
        for bad in [
            &[0x9f, 0x01, 0xff][..],
            &[0xc1, 0x01],
            &[0x01, 0x01],
            &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x62, 0xff, 0xfe],
            &[],
        ] {
            assert!(
                matches!(
                    decode::<serde_cbor::Value>(bad),
                    Err(CodecError::Malformed { .. })
                ),
                "{bad:02x?} was accepted"
            );
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<serde_cbor::Value>(&bytes);
            let _ = check_structure(&bytes, 16);
        }

        #[test]
        fn structure_check_agrees_with_serde_on_valid_values(
            v in proptest::collection::vec((any::<u64>(), ".*", proptest::collection::vec(any::<u8>(), 0..40)), 0..20)
        ) {
            let bytes = encode(&v).expect("encode");
            prop_assert!(check_structure(&bytes, 16).is_ok());
        }
    }
}
