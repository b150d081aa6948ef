//! Files: streamed, chunked AES-256-GCM (the STREAM construction), so a
//! file of any size is encrypted and decrypted with one chunk in memory.
//!
//! - A random 32-byte *file key* encrypts the chunks. It travels in the
//!   signed header, AES-GCM-wrapped under the room key with AAD
//!   `"OnionChat-v1/file-key\0" || room_id:16 || epoch:u32be || file_id:16`.
//! - Chunk `i` (from 0) of `chunk_size` plaintext bytes (the last may be
//!   shorter, and an empty file is one empty last chunk) is sealed with
//!   nonce `prefix:7 || i:u32be || last:u8` (`last` = 1 only for the final
//!   chunk) and AAD `"OnionChat-v1/file-chunk\0" || file_id:16`.
//! - The header (context `file-header`) fixes `plaintext_len`, hence the
//!   chunk count: truncation, extension, reordering and swapping chunks
//!   between files are all detected.

use zeroize::Zeroizing;

use super::aead::Gcm;
use super::message::{TAG_LEN, gcm_open, gcm_seal};
use super::{IdentityKey, OpenError, PublicIdentity, RoomKey, SealError, SignContext};
use crate::PROTOCOL_VERSION;
use crate::codec::{Limits, decode_with};
use crate::wire::{FileHeaderBody, FileId, RoomId, Signed};

/// Smallest and largest chunk size accepted.
pub const CHUNK_SIZE_RANGE: std::ops::RangeInclusive<u32> = 1024..=(1024 * 1024);

/// Number of chunks for a plaintext length.
pub fn chunk_count(plaintext_len: u64, chunk_size: u32) -> u64 {
    plaintext_len.div_ceil(u64::from(chunk_size)).max(1)
}

/// Exact ciphertext length for a plaintext length.
pub fn ciphertext_len(plaintext_len: u64, chunk_size: u32) -> u64 {
    plaintext_len + TAG_LEN as u64 * chunk_count(plaintext_len, chunk_size)
}

fn file_key_aad(room_id: &RoomId, epoch: u32, file_id: &FileId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(22 + 36);
    aad.extend_from_slice(b"OnionChat-v1/file-key\0");
    aad.extend_from_slice(&room_id.0);
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad.extend_from_slice(&file_id.0);
    aad
}

fn chunk_aad(file_id: &FileId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(24 + 16);
    aad.extend_from_slice(b"OnionChat-v1/file-chunk\0");
    aad.extend_from_slice(&file_id.0);
    aad
}

fn chunk_nonce(prefix: &[u8; 7], index: u64, last: bool) -> Result<[u8; 12], ()> {
    let index = u32::try_from(index).map_err(|_| ())?;
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Ok(n)
}

/// Encrypts a file chunk by chunk. Feed it with [`FileSealer::push`], end
/// with [`FileSealer::finish`].
pub struct FileSealer {
    cipher: Gcm,
    prefix: [u8; 7],
    aad: Vec<u8>,
    chunk_size: usize,
    plaintext_len: u64,
    consumed: u64,
    index: u64,
    buf: Zeroizing<Vec<u8>>,
}

impl FileSealer {
    /// Make the signed header and a sealer for `plaintext_len` bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        sender: &IdentityKey,
        room_id: RoomId,
        epoch: u32,
        room_key: &RoomKey,
        file_id: FileId,
        plaintext_len: u64,
        chunk_size: u32,
    ) -> Result<(Signed, FileSealer), SealError> {
        if !CHUNK_SIZE_RANGE.contains(&chunk_size) {
            return Err(SealError::TooLarge {
                len: chunk_size as usize,
                max: *CHUNK_SIZE_RANGE.end() as usize,
            });
        }
        if chunk_count(plaintext_len, chunk_size) > u64::from(u32::MAX) {
            return Err(SealError::TooLarge {
                len: usize::MAX,
                max: usize::MAX,
            });
        }
        let file_key = Zeroizing::new(super::random_array::<32>());
        let prefix: [u8; 7] = super::random_array();
        let key_nonce: [u8; 12] = super::random_array();
        let wrapped_file_key = gcm_seal(
            room_key.as_bytes(),
            &key_nonce,
            &file_key_aad(&room_id, epoch, &file_id),
            &file_key[..],
        )?;
        let body = FileHeaderBody {
            v: PROTOCOL_VERSION,
            room_id,
            epoch,
            sender_fp: sender.fingerprint(),
            file_id,
            chunk_size,
            plaintext_len,
            nonce_prefix: prefix.to_vec(),
            key_nonce: key_nonce.to_vec(),
            wrapped_file_key,
        };
        let header = sender.sign_body(SignContext::FileHeader, &body)?;
        Ok((
            header,
            FileSealer {
                cipher: Gcm::new(&file_key),
                prefix,
                aad: chunk_aad(&file_id),
                chunk_size: chunk_size as usize,
                plaintext_len,
                consumed: 0,
                index: 0,
                buf: Zeroizing::new(Vec::with_capacity(chunk_size as usize)),
            },
        ))
    }

    fn seal_chunk(&mut self, chunk: &[u8], last: bool, out: &mut Vec<u8>) -> Result<(), SealError> {
        let nonce = chunk_nonce(&self.prefix, self.index, last).map_err(|_| SealError::Encrypt)?;
        self.cipher.seal_append(&nonce, &self.aad, chunk, out)?;
        self.index += 1;
        Ok(())
    }

    /// Add plaintext; returns the ciphertext of every chunk completed.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<u8>, SealError> {
        self.consumed += data.len() as u64;
        if self.consumed > self.plaintext_len {
            return Err(SealError::LengthMismatch {
                expected: self.plaintext_len,
                actual: self.consumed,
            });
        }
        let more_to_come = self.consumed < self.plaintext_len;
        let mut out = Vec::with_capacity(data.len() + TAG_LEN * (data.len() / self.chunk_size + 1));
        let mut input = data;
        // Complete a partly filled chunk first.
        if !self.buf.is_empty() {
            let take = (self.chunk_size - self.buf.len()).min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            // A full chunk is final only if no more data can follow it.
            if self.buf.len() == self.chunk_size && (!input.is_empty() || more_to_come) {
                let chunk = std::mem::take(&mut *self.buf);
                self.seal_chunk(&chunk, false, &mut out)?;
                *self.buf = chunk;
                self.buf.clear();
            }
        }
        // Whole chunks straight from the input, without buffering.
        if self.buf.is_empty() {
            while input.len() > self.chunk_size || (input.len() == self.chunk_size && more_to_come)
            {
                let (chunk, rest) = input.split_at(self.chunk_size);
                self.seal_chunk(chunk, false, &mut out)?;
                input = rest;
            }
        }
        self.buf.extend_from_slice(input);
        Ok(out)
    }

    /// Seal the final chunk. Fails if fewer bytes came than announced.
    pub fn finish(mut self) -> Result<Vec<u8>, SealError> {
        if self.consumed != self.plaintext_len {
            return Err(SealError::LengthMismatch {
                expected: self.plaintext_len,
                actual: self.consumed,
            });
        }
        let chunk = Zeroizing::new(std::mem::take(&mut *self.buf));
        let mut out = Vec::with_capacity(chunk.len() + TAG_LEN);
        self.seal_chunk(&chunk, true, &mut out)?;
        Ok(out)
    }
}

/// Check a file header's shape (no signature check); the node runs this.
pub fn decode_header(header: &Signed) -> Result<FileHeaderBody, OpenError> {
    let body: FileHeaderBody =
        decode_with(&header.body, Limits::with_max_len(1024)).map_err(|source| {
            OpenError::Malformed {
                what: "file header",
                source,
            }
        })?;
    if body.v != PROTOCOL_VERSION {
        return Err(OpenError::Version(body.v));
    }
    let invalid = |reason: &str| OpenError::Invalid {
        what: "file header",
        reason: reason.into(),
    };
    if !CHUNK_SIZE_RANGE.contains(&body.chunk_size) {
        return Err(invalid("chunk size out of range"));
    }
    if chunk_count(body.plaintext_len, body.chunk_size) > u64::from(u32::MAX) {
        return Err(invalid("too many chunks"));
    }
    if body.nonce_prefix.len() != 7 || body.key_nonce.len() != 12 {
        return Err(invalid("nonce lengths"));
    }
    if body.wrapped_file_key.len() != 32 + TAG_LEN {
        return Err(invalid("wrapped file key length"));
    }
    if body.epoch == 0 {
        return Err(invalid("epoch 0"));
    }
    Ok(body)
}

/// Decrypts a file stream, verifying the header first. A clone continues
/// from the same place (a reader can try a stretch and go back).
#[derive(Clone)]
pub struct FileOpener {
    cipher: Gcm,
    prefix: [u8; 7],
    aad: Vec<u8>,
    chunk_ct_len: usize,
    chunks: u64,
    /// Plaintext bytes the final chunk must carry (from the signed header).
    final_len: usize,
    index: u64,
    buf: Vec<u8>,
}

impl FileOpener {
    /// Verify `header` as signed by `sender` for `room_id`, unwrap the file
    /// key with the room key of its epoch, and get ready to decrypt from
    /// chunk 0.
    pub fn start(
        header: &Signed,
        sender: &PublicIdentity,
        room_id: RoomId,
        key_for: impl FnOnce(u32) -> Option<RoomKey>,
    ) -> Result<(FileHeaderBody, FileOpener), OpenError> {
        let body = decode_header(header)?;
        if body.sender_fp != sender.fingerprint() {
            return Err(OpenError::SenderMismatch {
                what: "file header",
                claimed: body.sender_fp,
                actual: sender.fingerprint(),
            });
        }
        sender.verify_signed(SignContext::FileHeader, header)?;
        if body.room_id != room_id {
            return Err(OpenError::WrongRoom {
                expected: room_id,
                found: body.room_id,
            });
        }
        let room_key = key_for(body.epoch).ok_or(OpenError::UnknownEpoch(body.epoch))?;
        let mut key_nonce = [0u8; 12];
        key_nonce.copy_from_slice(&body.key_nonce);
        let raw = Zeroizing::new(
            gcm_open(
                room_key.as_bytes(),
                &key_nonce,
                &file_key_aad(&body.room_id, body.epoch, &body.file_id),
                &body.wrapped_file_key,
            )
            .ok_or(OpenError::Decrypt { what: "file key" })?,
        );
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&raw);
        let mut prefix = [0u8; 7];
        prefix.copy_from_slice(&body.nonce_prefix);
        let opener = FileOpener {
            cipher: Gcm::new(&key),
            prefix,
            aad: chunk_aad(&body.file_id),
            chunk_ct_len: body.chunk_size as usize + TAG_LEN,
            chunks: chunk_count(body.plaintext_len, body.chunk_size),
            final_len: (body.plaintext_len
                - (chunk_count(body.plaintext_len, body.chunk_size) - 1)
                    * u64::from(body.chunk_size)) as usize,
            index: 0,
            buf: Vec::new(),
        };
        Ok((body, opener))
    }

    /// Resume at chunk `index` (the ciphertext offset is `index * (chunk_size + 16)`).
    pub fn resume_at_chunk(&mut self, index: u64) -> Result<(), OpenError> {
        if index >= self.chunks || !self.buf.is_empty() {
            return Err(OpenError::Stream("cannot resume there"));
        }
        self.index = index;
        Ok(())
    }

    fn open_chunk(&mut self, ct: &[u8], last: bool, out: &mut Vec<u8>) -> Result<(), OpenError> {
        let nonce = chunk_nonce(&self.prefix, self.index, last)
            .map_err(|_| OpenError::Stream("too long"))?;
        if !self.cipher.open_append(&nonce, &self.aad, ct, out) {
            return Err(OpenError::Decrypt { what: "file chunk" });
        }
        self.index += 1;
        Ok(())
    }

    /// Add ciphertext; returns the plaintext of every (authenticated) chunk
    /// completed, except the final one, which [`FileOpener::finish`] returns.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<u8>, OpenError> {
        let mut out = Vec::with_capacity(data.len());
        let mut input = data;
        while self.index + 1 < self.chunks {
            if !self.buf.is_empty() {
                let take = (self.chunk_ct_len - self.buf.len()).min(input.len());
                self.buf.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.buf.len() < self.chunk_ct_len {
                    break;
                }
                let chunk = std::mem::take(&mut self.buf);
                self.open_chunk(&chunk, false, &mut out)?;
                self.buf = chunk;
                self.buf.clear();
            } else if input.len() >= self.chunk_ct_len {
                let (chunk, rest) = input.split_at(self.chunk_ct_len);
                self.open_chunk(chunk, false, &mut out)?;
                input = rest;
            } else {
                break;
            }
        }
        self.buf.extend_from_slice(input);
        if self.index + 1 >= self.chunks && self.buf.len() > self.chunk_ct_len {
            return Err(OpenError::Stream("has data past the final chunk"));
        }
        Ok(out)
    }

    /// Open the final chunk. Fails if the stream was cut short.
    pub fn finish(mut self) -> Result<Vec<u8>, OpenError> {
        if self.index + 1 != self.chunks {
            return Err(OpenError::Stream("ended before the final chunk"));
        }
        let chunk = std::mem::take(&mut self.buf);
        if chunk.len() < TAG_LEN {
            return Err(OpenError::Stream("ended before the final chunk"));
        }
        // The signed header fixes the length; a sender's final chunk that
        // is shorter or longer than it says is refused, not believed.
        if chunk.len() - TAG_LEN != self.final_len {
            return Err(OpenError::Stream(
                "the final chunk's length differs from the signed header",
            ));
        }
        let mut out = Vec::with_capacity(chunk.len());
        self.open_chunk(&chunk, true, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod final_chunk_tests {
    use super::*;
    use crate::crypto::{IdentityKey, RoomKey};

    #[test]
    fn a_final_chunk_that_disagrees_with_the_header_is_refused() {
        let sender = IdentityKey::generate().expect("key");
        let room = RoomId([1; 16]);
        let key = RoomKey::generate();
        let open = |header: &Signed, ct: &[u8]| {
            let k = key.clone();
            let (_, mut opener) =
                FileOpener::start(header, sender.public(), room, move |_| Some(k)).expect("start");
            let mut out = opener.push(ct)?;
            out.extend(opener.finish()?);
            Ok::<_, OpenError>(out)
        };
        let seal = |claimed: u64, actual: usize| {
            let (header, mut sealer) =
                FileSealer::start(&sender, room, 1, &key, FileId([2; 16]), claimed, 1024)
                    .expect("sealer");
            // A lying sender: its own code skips the sealer's length checks.
            sealer.plaintext_len = actual as u64;
            let mut ct = sealer.push(&vec![5u8; actual]).expect("push");
            ct.extend(sealer.finish().expect("finish"));
            (header, ct)
        };
        let (header, ct) = seal(3000, 3000);
        assert_eq!(open(&header, &ct).expect("honest").len(), 3000);
        // Header says 3000, the final chunk carries 900 instead of 952.
        let (header, ct) = seal(3000, 2948);
        assert!(open(&header, &ct).is_err(), "a shorter file than signed");
        // Header says 2948, the final chunk carries 952 instead of 900.
        let (header, ct) = seal(2948, 3000);
        assert!(open(&header, &ct).is_err(), "a longer file than signed");
    }
}
